"""Dates said with a month name ("14th March 1982", "march the fourteenth eighty two"): kept
as dates of birth after a cue; a month and year alone is a card's expiry date."""

from __future__ import annotations

from pipeline.redact.candidates import Cand, cued
from pipeline.redact.rules import Rules
from pipeline.redact.tokens import ORDINAL_DIGITS_RE, Turn
from pipeline.redact.validators import valid_date

__all__ = ["word_dates"]


def _day(turn: Turn, rules: Rules, i: int) -> tuple[int, int] | None:
    """A day of the month at token i: (day, next token)."""
    toks = turn.toks
    if i >= len(toks):
        return None
    low = toks[i].low
    if low == "the":
        return _day(turn, rules, i + 1)
    m = ORDINAL_DIGITS_RE.match(low)
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


def _year(turn: Turn, i: int) -> tuple[int, int] | None:
    """A year at token i (after "of", "in" or a comma): (year, next token)."""
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


def _month(turn: Turn, rules: Rules, i: int) -> tuple[int, int] | None:
    """A month at token i (after "of", "the" or a comma): (month, next token)."""
    toks = turn.toks
    while i < len(toks) and toks[i].low in ("of", "the", ","):
        i += 1
    if i < len(toks) and toks[i].low in rules.months:
        return rules.months[toks[i].low], i + 1
    # "the fourth of the seventh": a month said as an ordinal
    if i < len(toks) and toks[i - 1].low == "the" and rules.ordinals.get(toks[i].low, 13) <= 12:
        return rules.ordinals[toks[i].low], i + 1
    return None


def word_dates(turn: Turn, rules: Rules) -> list[Cand]:
    """Dates with a month name ("14th March 1982", "march the fourteenth eighty two"), and
    numeric ones ("14/03/1982" is a run), kept only as dates of birth after a cue."""
    out: list[Cand] = []
    toks = turn.toks
    i = 0
    while i < len(toks):
        found: tuple[int, int] | None = None  # (first token, next token)
        day = _day(turn, rules, i)
        if day is not None:
            month = _month(turn, rules, day[1])
            if month is not None and valid_date(day[0], month[0], None):
                year = _year(turn, month[1])
                found = (i, year[1] if year else month[1])
        if found is None and toks[i].low in rules.months:
            day = _day(turn, rules, i + 1)
            if day is not None and valid_date(day[0], rules.months[toks[i].low], None):
                year = _year(turn, day[1])
                found = (i, year[1] if year else day[1])
            elif (year := _year(turn, i + 1)) is not None:
                # "march 2027": a card's expiry date, never a date of birth
                cues = (("card_extra", "PAYMENT_CARD"),)
                end = toks[year[1] - 1].end
                out.append(cued(turn, rules, i, toks[i].start, end, cues))
                i = year[1]
                continue
        if found is None:
            i += 1
            continue
        first, nxt = found
        if toks[first].low == "the":
            first += 1
        cues = (("date_of_birth", "DATE_OF_BIRTH"),)
        out.append(cued(turn, rules, first, toks[first].start, toks[nxt - 1].end, cues))
        i = nxt
    return out
