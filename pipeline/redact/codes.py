"""Structured data in a turn: each run of code-like units (pipeline/redact/tokens.py) is tried
as a card, phone, NI number, postcode, reference, then any number a cue may claim; with the
e-mails and dates this makes every structured candidate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from stdnum import luhn

from pipeline.redact import validators
from pipeline.redact.candidates import SURE, Cand, Cues, cued, is_amount
from pipeline.redact.dates import word_dates
from pipeline.redact.emails import dotted_emails, emails
from pipeline.redact.rules import Rules
from pipeline.redact.tokens import Turn, Unit

__all__ = ["structured"]

# A code that is not a valid postcode is one after these cues: "and the postcode?" "HW3, A-R-D".
_POSTCODE_CUES = (("postcode", "POSTCODE"), ("address", "POSTCODE"))


def structured(turn: Turn, rules: Rules) -> list[Cand]:
    """Every structured candidate of a turn; the digits of an e-mail are not a code."""
    out: list[Cand] = []
    out.extend(emails(turn, rules))
    taken = [(c.start, c.end) for c in out]
    out.extend(dotted_emails(turn, rules, taken))
    for run in turn.runs:
        out.extend(_run_candidates(_Run(turn, rules, run, taken)))
    out.extend(word_dates(turn, rules))
    return out


@dataclass
class _Run:
    """One run of units being read: a unit claimed by a check is settled for the later ones."""

    turn: Turn
    rules: Rules
    units: list[Unit]
    taken: list[tuple[int, int]]
    claimed: list[bool] = field(init=False)

    def __post_init__(self) -> None:
        self.claimed = [any(s <= u.start < e for s, e in self.taken) for u in self.units]

    def values(self, i: int, j: int) -> list[str]:
        return [u.value for u in self.units[i:j]]

    def span(self, i: int, j: int) -> tuple[int, int]:
        return self.units[i].start, self.units[j - 1].end

    def sure(self, entity: str, i: int, j: int) -> Cand:
        return Cand(entity, *self.span(i, j), SURE)

    def cued(self, i: int, j: int, cues: Cues) -> Cand:
        return cued(self.turn, self.rules, self.units[i].first, *self.span(i, j), cues)

    def is_amount(self, i: int, j: int) -> bool:
        return is_amount(self.turn, self.units[i].first, self.units[j - 1].last)


#: A check of units i..j (end exclusive) and their compact value: a candidate, True to claim
#: the units without one (the council's own phone lines), or None/False to pass.
_Check = Callable[[_Run, int, int, str], Cand | bool | None]


def _scan(run: _Run, check: _Check, max_units: int) -> list[Cand]:
    """The longest unclaimed stretch from each unit that `check` accepts, claimed in turn."""
    out: list[Cand] = []
    n = len(run.units)
    for i in range(n):
        if run.claimed[i]:
            continue
        for j in range(min(n, i + max_units), i, -1):
            if any(run.claimed[i:j]):
                continue
            result = check(run, i, j, "".join(run.values(i, j)))
            if result:
                run.claimed[i:j] = [True] * (j - i)
                if isinstance(result, Cand):
                    out.append(result)
                break
    return out


def _card(run: _Run, i: int, j: int, s: str) -> Cand | None:
    if s.isdigit() and len(s) in (15, 16) and s[0] in "3456" and luhn.is_valid(s):
        return run.sure("PAYMENT_CARD", i, j)
    if s.isdigit() and 13 <= len(s) <= 19 and s[0] in "3456":
        # a misheard digit breaks Luhn: after a card cue the number is still a card number
        return run.cued(i, j, (("card", "PAYMENT_CARD"), ("reference", "ACCOUNT_REFERENCE")))
    return None


def _phone(run: _Run, i: int, j: int, s: str) -> Cand | bool:
    kind = validators.phone(s, run.rules)
    if not kind and not s.isdigit() and sum(c.isdigit() for c in s) >= 7:
        kind = validators.phone(validators.misheard_number(s, run.rules), run.rules)
    if kind == "personal":
        return run.sure("PHONE_NUMBER", i, j)
    return kind == "service"  # claimed, not redacted: the council's own lines


def _nino(run: _Run, i: int, j: int, s: str) -> Cand | None:
    kind = validators.nino(s)
    if kind == "full":
        return run.sure("NI_NUMBER", i, j)
    if j < len(run.units) and run.units[j].kind in ("num", "alnum"):
        return None  # the start of a longer code ("H R 2025118"), not an NI number
    if kind == "shape":
        return run.cued(i, j, (("national_insurance", "NI_NUMBER"),))
    if kind == "bare":
        cues = (("national_insurance", "NI_NUMBER"), ("reference", "ACCOUNT_REFERENCE"))
        return run.cued(i, j, cues)
    return None


def _postcode(run: _Run, i: int, j: int, s: str) -> Cand | None:
    if 5 <= len(s) <= 7 and validators.POSTCODE_RE.match(s):
        return run.sure("POSTCODE", i, j)
    return None


def _reference(run: _Run, i: int, j: int, s: str) -> Cand | None:
    first = run.units[i]
    if run.turn.text[first.start : first.end] in ("a", "i"):
        return None  # "it's a 4003...": an article, not the code's first letter
    if s.isdigit() or not validators.reference_shape(s) or run.is_amount(i, j):
        return None
    cues: Cues = (("reference", "ACCOUNT_REFERENCE"),)
    if validators.postcode_part(s):  # "HWH 16D" after "and your postcode?" is a misheard postcode
        cues = _POSTCODE_CUES[:1] + cues + _POSTCODE_CUES[1:]
    if validators.phone_part(validators.misheard_number(s, run.rules)):
        cues += (("phone", "PHONE_NUMBER"),)  # "L2O, 79460": 020 7946 0, cut short
    return run.cued(i, j, cues)


def _numbers(run: _Run, i: int, j: int, s: str) -> Cand | None:
    """Digits that are personal only after a cue: dates, bank details, references, phones."""
    if not s.isdigit() or run.is_amount(i, j):
        return None
    cues: Cues = ()
    if validators.digit_date(s) or validators.split_date(run.values(i, j)):
        cues += (("date_of_birth", "DATE_OF_BIRTH"),)
    if len(s) == 6:
        cues += (("bank", "BANK_ACCOUNT"),)
    if len(s) in (7, 8):
        cues += (("bank_only", "BANK_ACCOUNT"),)
    if len(s) in (3, 4):
        cues += (("card_extra", "PAYMENT_CARD"),)
    if validators.reference_shape(s):
        cues += (("reference", "ACCOUNT_REFERENCE"),)
    if validators.phone_part(s):
        cues += (("phone", "PHONE_NUMBER"),)
    return run.cued(i, j, cues) if cues else None


def _postcode_part(run: _Run, i: int, j: int, s: str) -> Cand | None:
    if not validators.postcode_part(s) or run.is_amount(i, j):
        return None
    text = run.turn.text
    if any(u.kind == "letters?" and not text[u.start : u.end].isupper() for u in run.units[i:j]):
        return None  # "Ravi Air 22 Tanner's Lane": a word, not the letters of a postcode
    return run.cued(i, j, _POSTCODE_CUES)


# In this order, each with the most units it may span: a unit one check claims is settled.
_CHECKS: tuple[tuple[_Check, int], ...] = (
    (_card, 19),
    (_phone, 14),
    (_nino, 9),
    (_postcode, 7),
    (_reference, 16),
    (_numbers, 19),
    (_postcode_part, 8),
)


def _run_candidates(run: _Run) -> list[Cand]:
    return [cand for check, max_units in _CHECKS for cand in _scan(run, check, max_units)]
