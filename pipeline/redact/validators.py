"""Shape checks on a compact code ("HA12XY", "07700900461"): UK phone numbers (`phonenumbers`),
NI numbers (HMRC prefix rules), postcodes, dates, references and misheard digits. Card numbers
use `stdnum.luhn` where they are found (pipeline/redact/codes.py)."""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence

import phonenumbers

from pipeline.redact.rules import Rules

__all__ = [
    "POSTCODE_RE",
    "digit_date",
    "misheard_number",
    "nino",
    "phone",
    "phone_part",
    "postcode_part",
    "reference_shape",
    "split_date",
    "valid_date",
]

POSTCODE_RE = re.compile(
    r"^(?:[A-PR-UWYZ][0-9][0-9A-HJKPSTUW]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9ABEHMNPRVWXY]?)"
    r"[0-9][ABD-HJLNP-UW-Z]{2}$"
)
# A postcode half-heard: "HW3 ARD" (8 heard as A), "HWA 6GA", "HW1"; redacted after a cue only.
_POSTCODE_PART_RE = re.compile(r"^(?:[A-Z]{1,3}[0-9]{1,3}[A-Z0-9]{0,3}|[0-9][A-Z]{2})$")
_NINO_RE = re.compile(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}([A-D]?)$")
_NINO_SHAPE_RE = re.compile(r"^[A-Z]{2}[0-9]{6}[A-D]$")
_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})


def phone(s: str, rules: Rules) -> str:
    """ "personal" for a UK phone number a person gives, "service" for a council/freephone
    line (claimed but not redacted), "" for no phone number."""
    if s.startswith("44") and len(s) in (12, 13):
        s = "0" + s[2:]
    elif s.startswith("7") and len(s) == 10:
        s = "0" + s  # a mobile read out without its leading zero
    if not (s.isdigit() and s.startswith("0") and len(s) in (10, 11)):
        return ""
    try:
        number = phonenumbers.parse(s, "GB")
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    # Ofcom's drama ranges (07700 900xxx, 01632 960xxx) are shaped like real numbers but not
    # "valid" to phonenumbers; a UK-shaped number is redacted either way.
    if not (phonenumbers.is_valid_number(number) or (len(s) == 11 and s[1] in "127")):
        return ""
    return "service" if s.startswith(rules.non_personal_phone_prefixes) else "personal"


def nino(s: str) -> str:
    """ "full" for a valid NI number with suffix, "bare" without the suffix letter, "shape"
    for the format with prefix letters HMRC never issues (a specimen or a mishearing), else ""."""
    m = _NINO_RE.match(s)
    if not m or s[:2] in _NINO_BAD_PREFIXES:
        return "shape" if _NINO_SHAPE_RE.match(s) else ""
    return "full" if m.group(1) else "bare"


def valid_date(day: int, month: int, year: int | None) -> bool:
    """A real day of the calendar; without a year, 29 February counts."""
    if not 1 <= month <= 12 or day < 1:
        return False
    y = 2000 if year is None else year
    return day <= calendar.monthrange(y, month)[1]


def digit_date(s: str) -> bool:
    """DDMMYY or DDMMYYYY (dates of birth read out as digits)."""
    if len(s) == 6:
        return valid_date(int(s[:2]), int(s[2:4]), None)
    if len(s) == 8:
        year = int(s[4:])
        return 1900 <= year <= 2030 and valid_date(int(s[:2]), int(s[2:4]), year)
    return False


def split_date(parts: Sequence[str]) -> bool:
    """Day, month and year said or written apart: "12/3/61", "12 3 1961"."""
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return False
    day, month, year = parts
    if len(day) > 2 or len(month) > 2 or len(year) not in (2, 4):
        return False
    if len(year) == 4 and not 1900 <= int(year) <= 2030:
        return False
    return valid_date(int(day), int(month), int(year) if len(year) == 4 else None)


def reference_shape(s: str) -> bool:
    """Council account, booking, claim and case references: mostly digits, maybe letters."""
    digits = sum(c.isdigit() for c in s)
    return 5 <= len(s) <= 16 and (digits >= 4 or (digits >= 2 and len(s) >= 6))


def postcode_part(s: str) -> bool:
    """Half a postcode or a misheard one ("HW3", "6GA", "HW3ARD"): letters and 1-3 digits."""
    return (
        2 <= len(s) <= 8
        and bool(_POSTCODE_PART_RE.match(s))
        and sum(c.isdigit() for c in s) <= 3
        and not s.isdigit()
    )


def phone_part(s: str) -> bool:
    """Part of a UK number (misheard or cut short), a phone number after a phone cue only."""
    return s.isdigit() and s.startswith("0") and 7 <= len(s) <= 12


def misheard_number(s: str, rules: Rules) -> str:
    """Digits Whisper wrote as letters: "oh" as L, "double" as W ("L77 W0 9W0" -> "07700900")."""
    out = []
    k = 0
    while k < len(s):
        c = s[k].lower()
        if c in rules.misheard_doubles and k + 1 < len(s) and s[k + 1].isdigit():
            out.append(s[k + 1] * 2)
            k += 2
            continue
        out.append(rules.misheard_digits.get(c, s[k]))
        k += 1
    return "".join(out)
