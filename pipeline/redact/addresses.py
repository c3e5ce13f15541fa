"""Street addresses: a house or flat number and street words ("forty two acacia avenue", "flat
3, 12 high street"), or what follows an address cue ("i live at"), or answers "the address?"."""

from __future__ import annotations

import re

from pipeline.redact.candidates import CUED, NEEDS_CUE, Cand, Cues, is_amount
from pipeline.redact.names import answer_start, name_like
from pipeline.redact.rules import Rules
from pipeline.redact.tokens import ORDINAL_DIGITS_RE, Turn

__all__ = ["addresses", "answer_address"]

# Words a street name may hold besides name-like ones ("upper st john's road").
_STREET_WORDS = frozenset(
    {
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
    }
)


def _house_number(turn: Turn, rules: Rules, i: int) -> int | None:
    """End token of a house or flat number at token i ("42", "forty two", "12a", "12 b")."""
    toks = turn.toks
    unit = turn.units[i] if i < len(toks) else None
    if unit is None and i < len(toks) and ORDINAL_DIGITS_RE.match(toks[i].low):
        return i + 1  # "56th orchard rise": Whisper's ordinal; needs a street word after it
    if unit is None:
        return None
    value = unit.value
    if not (
        (unit.kind == "num" and len(value) <= 4 and value.isdigit() and int(value) > 0)
        or (unit.kind == "alnum" and re.fullmatch(r"[0-9]{1,4}[A-Z]", value))
    ):
        return None
    end = unit.last
    if (
        end < len(toks)
        and len(toks[end].low) == 1
        and toks[end].low in "abcdef"
        and (end + 1 < len(toks) and name_like(toks[end + 1], rules))
    ):
        end += 1
    return end


def _street_after(turn: Turn, rules: Rules, i: int) -> int | None:
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
        elif not (name_like(toks[j], rules) or low in _STREET_WORDS):
            break
        j += 1
    return best


def _address_at(turn: Turn, rules: Rules, i: int) -> tuple[int, bool] | None:
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
        if end + 1 < len(toks) and toks[end].low == "the" and name_like(toks[end + 1], rules):
            return end + 2, False  # "61 the ridgeway": a street without a street word
        return end, False
    street = _street_after(turn, rules, i)
    if street is not None:
        return street, True
    # a house name before the street: "rose cottage, mill lane", "the old rectory, church lane"
    j = i
    while j < len(toks) and j - i < 4 and (name_like(toks[j], rules) or toks[j].low == "the"):
        j += 1
    if j > i and j < len(toks) and toks[j].low == ",":
        street = _street_after(turn, rules, j + 1)
        if street is not None:
            return street, True
    return None


def addresses(turn: Turn, rules: Rules) -> list[Cand]:
    """House number + street anywhere; after an address cue ("i live at", "at number") a
    street, a house name or a bare number too."""
    toks = turn.toks
    out: list[Cand] = []
    i = 0
    while i < len(toks):
        k = i + 1 if toks[i].low in rules.dwelling_words else i
        got = _address_at(turn, rules, i) if _house_number(turn, rules, k) else None
        if got is not None and got[1]:
            out.append(Cand("ADDRESS", toks[i].start, toks[got[0] - 1].end, CUED))
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
            out.append(Cand("ADDRESS", toks[i].start, toks[got[0] - 1].end, CUED))
    return out


def answer_address(turn: Turn, rules: Rules) -> list[Cand]:
    """An address or a bare house number opening a turn, kept if the previous turn asked."""
    i = answer_start(turn)
    got = _address_at(turn, rules, i)
    if got is None or got[0] <= i or is_amount(turn, i, got[0]):
        return []
    cues: Cues = (
        (("address", "ADDRESS"),)
        if got[1]
        else (("house_number", "ADDRESS"), ("address", "ADDRESS"))
    )
    return [Cand("ADDRESS", turn.toks[i].start, turn.toks[got[0] - 1].end, NEEDS_CUE, cues)]
