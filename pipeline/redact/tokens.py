"""A turn split into tokens and code-like units: spoken numbers ("double oh" -> "00"), spelled
letters and the runs of them that may be a code, with the cue phrases before a token."""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz

from pipeline.redact.rules import TOKEN_RE, Rules, load_rules

__all__ = ["JOINERS", "ORDINAL_DIGITS_RE", "Tok", "Turn", "Unit", "turn_of"]

#: Punctuation that joins the pieces of a code ("07-00-93", "(020)").
JOINERS = frozenset({"-", ",", "(", ")", "/", "+", "_"})
ORDINAL_DIGITS_RE = re.compile(r"^([0-9]{1,2})(st|nd|rd|th)$")


@dataclass(slots=True)
class Tok:
    start: int
    end: int
    text: str
    low: str


@dataclass(slots=True)
class Unit:
    """Words that read as one piece of a code: digits, letters or both."""

    first: int  # token indexes, end exclusive
    last: int
    start: int  # character offsets in the turn
    end: int
    value: str
    kind: str  # "num" | "letter" | "alnum" | "letters?"


@dataclass
class Turn:
    """A turn's tokens, their space-joined lower-case text and the code-like runs in it."""

    text: str
    toks: list[Tok]
    joined: str
    tok_at: list[int]  # joined-text offset of each token
    units: list[Unit | None]  # per token: the unit it starts, if any
    runs: list[list[Unit]] = field(default_factory=list)

    def tok_index(self, joined_offset: int) -> int:
        """Index of the token starting at or after a joined-text offset."""
        return bisect.bisect_left(self.tok_at, joined_offset)

    def _before(self, first_tok: int, window: int) -> str:
        """The joined text of the `window` tokens before token `first_tok`."""
        lo = self.tok_at[max(0, first_tok - window)] if self.toks else 0
        hi = self.tok_at[first_tok] if first_tok < len(self.toks) else len(self.joined)
        return self.joined[lo:hi]

    def cue_kinds_before(self, rules: Rules, first_tok: int, window: int) -> set[str]:
        """Cue kinds whose phrase ends within `window` tokens before token `first_tok`."""
        segment = self._before(first_tok, window)
        found = {kind for kind, regex in rules.cue_res.items() if regex.search(segment)}
        # topic cues count anywhere in the turn ("into account 6182..., sort code 07-00-93")
        return found | {k for k in rules.topic_cues if rules.cue_res[k].search(self.joined)}

    def fuzzy_cue_kinds_before(
        self, rules: Rules, first_tok: int, kinds: Iterable[str]
    ) -> set[str]:
        """Misheard cues: phrases close to the words just before a value (rapidfuzz)."""
        segment = self._before(first_tok, rules.cue_window)
        if not segment.strip():
            return set()
        found = set()
        for kind in kinds:
            for phrase in rules.cue_phrases.get(kind, ()):
                if len(phrase) >= 6 and fuzz.partial_ratio(phrase, segment) >= rules.fuzzy_score:
                    found.add(kind)
                    break
        return found


def _number_unit(toks: list[Tok], i: int, rules: Rules) -> tuple[str, int] | None:
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
            return str(base), 2
        return rules.digits[low], 1
    return None


def _repeated_unit(toks: list[Tok], i: int, rules: Rules) -> Unit | None:
    """ "double oh", "triple 7", "double a": a repeater word and what it repeats."""
    tok, nxt = toks[i], toks[i + 1]
    times = rules.repeaters[tok.low]
    if nxt.low in rules.digits:
        return Unit(i, i + 2, tok.start, nxt.end, rules.digits[nxt.low] * times, "num")
    if nxt.low.isdigit() and len(nxt.low) == 1:
        return Unit(i, i + 2, tok.start, nxt.end, nxt.low * times, "num")
    if len(nxt.low) == 1 and nxt.low.isalpha():
        return Unit(i, i + 2, tok.start, nxt.end, nxt.low.upper() * times, "letter")
    if nxt.low in rules.letter_names:
        letter = rules.letter_names[nxt.low]
        return Unit(i, i + 2, tok.start, nxt.end, letter * times, "letter")
    return None


def _unit_at(toks: list[Tok], i: int, rules: Rules) -> Unit | None:
    """The code-like unit starting at token i, if any."""
    tok = toks[i]
    low = tok.low
    if low.isdigit():
        return Unit(i, i + 1, tok.start, tok.end, low, "num")
    if low in rules.repeaters and i + 1 < len(toks):
        return _repeated_unit(toks, i, rules)
    if low in rules.digits or low in rules.teens or low in rules.tens:
        parsed = _number_unit(toks, i, rules)
        if parsed is None:
            return None
        value, used = parsed
        return Unit(i, i + used, tok.start, toks[i + used - 1].end, value, "num")
    if len(low) == 1 and low.isalpha():
        return Unit(i, i + 1, tok.start, tok.end, low.upper(), "letter")
    if low in rules.letter_names:
        return Unit(i, i + 1, tok.start, tok.end, rules.letter_names[low], "letter")
    if low.isalnum() and not low.isalpha() and not _ordinal(tok):
        return Unit(i, i + 1, tok.start, tok.end, low.upper(), "alnum")
    if low.isalpha() and len(low) <= 3 and (tok.text.isupper() or low not in rules.not_letters):
        # "HA 1 2XY", "ab 12 34 56 c": a short letter group next to digits
        return Unit(i, i + 1, tok.start, tok.end, low.upper(), "letters?")
    return None


def _tokenise(text: str, rules: Rules) -> Turn:
    toks = [
        Tok(m.start(), m.end(), m.group(), m.group().lower().replace("’", "'"))
        for m in TOKEN_RE.finditer(text)
    ]
    tok_at: list[int] = []
    pos = 0
    for tok in toks:
        tok_at.append(pos)
        pos += len(tok.low) + 1
    joined = " ".join(t.low for t in toks)
    units: list[Unit | None] = [None] * len(toks)
    i = 0
    while i < len(toks):
        unit = _unit_at(toks, i, rules)
        if unit is not None:
            units[unit.first] = unit
            i = unit.last
        else:
            i += 1
    turn = Turn(text, toks, joined, tok_at, units)
    turn.runs = _runs(turn, rules)
    return turn


def _runs(turn: Turn, rules: Rules) -> list[list[Unit]]:
    """Maximal sequences of units with only spaces, joiners or fillers between them."""
    runs: list[list[Unit]] = []
    current: list[Unit] = []
    i = 0
    toks = turn.toks
    while i < len(toks):
        unit = turn.units[i]
        if unit is not None:
            current.append(unit)
            i = unit.last
            continue
        if toks[i].low in JOINERS or toks[i].low in rules.fillers or _letter_dot(toks, i):
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


def _ordinal(tok: Tok) -> bool:
    """ "21st", "4th"; not the inward code "4ST" (capitals, and 4 is "4th")."""
    m = ORDINAL_DIGITS_RE.match(tok.low)
    if m is None or tok.text.isupper():
        return False
    n = int(m.group(1))
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return m.group(2) == suffix


def _letter_dot(toks: list[Tok], i: int) -> bool:
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
def turn_of(text: str, rules_path: Path) -> Turn:
    """`text` tokenised; both recognizers read the same turn, so it is made once."""
    return _tokenise(text, load_rules(rules_path))
