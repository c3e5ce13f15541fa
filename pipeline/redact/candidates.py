"""A candidate span before Presidio scores it, and the cue that decides a value that needs one
("date of birth", "sort code", "reference" just before it, or in the previous turn)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.redact.rules import Rules
from pipeline.redact.tokens import Turn

__all__ = ["CUED", "NEEDS_CUE", "SURE", "Cand", "Cues", "cued", "is_amount", "resolve"]

# Scores: a validator or an in-turn cue decides (kept); a value still waiting for the previous
# turn's cue stays under the analyzer's threshold unless that cue raises it.
SURE = 1.0
CUED = 0.85
NEEDS_CUE = 0.3

#: Alternatives still waiting for a cue: (cue kind, entity), first match wins.
Cues = tuple[tuple[str, str], ...]


@dataclass
class Cand:
    """A candidate: Presidio entity name, character span in the turn and score."""

    entity: str
    start: int
    end: int
    score: float
    cues: Cues = ()


def resolve(cues: Cues, found: set[str]) -> str | None:
    """The entity of the first alternative whose cue kind was found."""
    for kind, entity in cues:
        if kind in found:
            return entity
    return None


def cued(turn: Turn, rules: Rules, first_tok: int, start: int, end: int, cues: Cues) -> Cand:
    """A value that needs a cue: decided by the words before it, else left for the context."""
    found = turn.cue_kinds_before(rules, first_tok, rules.cue_window)
    entity = resolve(cues, found)
    if entity is None:
        entity = resolve(cues, turn.fuzzy_cue_kinds_before(rules, first_tok, [k for k, _ in cues]))
    if entity is not None:
        return Cand(entity, start, end, CUED)
    return Cand(cues[0][1], start, end, NEEDS_CUE, cues)


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


def is_amount(turn: Turn, first: int, last: int) -> bool:
    """Tokens first..last (end exclusive) are money or a count: "£40", "12 bags"."""
    before = turn.toks[first - 1].low if first > 0 else ""
    after = turn.toks[last].low if last < len(turn.toks) else ""
    return before in ("£", "$") or after in _AMOUNT_AFTER
