"""What the rulers found in a call's turns: the spans that count (not cancelled by an
`exclude` phrase, said by the rule's speakers in the turns it reads) and the personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from spacy.tokens import Doc

from pipeline.redact import PIISpan
from pipeline.tagging.packs import EXCLUDE, RULERS, Rule, RulePacks

__all__ = ["Hit", "eligible", "eligible_hits", "pii_of"]


@dataclass(frozen=True)
class Hit:
    """One matched span: which ruler and label, where, its words, and the pattern id."""

    key: str
    label: str
    turn: int
    start: int  # token offset in the turn, for ordering
    start_char: int
    end_char: int
    text: str
    rule: str


def _hits(docs: Sequence[Doc]) -> list[Hit]:
    """Matched spans of every turn, minus those an `exclude:` pattern of the same id overlaps."""
    hits = []
    for turn, doc in enumerate(docs):
        for key, _ in RULERS:
            if key not in doc.spans:
                continue
            spans = list(doc.spans[key])
            excluded = [s for s in spans if s.id_.startswith(f"{EXCLUDE}:")]
            for span in spans:
                if span.id_.startswith(f"{EXCLUDE}:"):
                    continue
                if any(
                    x.label_ == span.label_ and x.start < span.end and span.start < x.end
                    for x in excluded
                ):
                    continue
                hits.append(
                    Hit(
                        key,
                        span.label_,
                        turn,
                        span.start,
                        span.start_char,
                        span.end_char,
                        span.text,
                        span.id_,
                    )
                )
    return hits


def eligible(rule: Rule, turn: int, speakers: Sequence[str], window: int | None = None) -> bool:
    """Whether `rule` may fire in `turn`: the right speaker, in the right part of the call.

    `unknown` speakers (mono recordings) count as either side. `start`/`end` count the first
    or last `window` turns of the rule's speakers.
    """
    if speakers[turn] not in rule.speakers and speakers[turn] != "unknown":
        return False
    if rule.position == "any":
        return True
    turns = [i for i, s in enumerate(speakers) if s in rule.speakers or s == "unknown"]
    index = turns.index(turn)
    window = rule.window if window is None else window
    return index < window if rule.position == "start" else index >= len(turns) - window


def eligible_hits(docs: Sequence[Doc], speakers: Sequence[str], packs: RulePacks) -> list[Hit]:
    """The hits whose rule may fire where they were said, in turn and word order."""
    return sorted(
        (h for h in _hits(docs) if eligible(packs.rules[h.key, h.label], h.turn, speakers)),
        key=lambda h: (h.turn, h.start),
    )


def pii_of(docs: Sequence[Doc]) -> list[PIISpan]:
    """The personal-data spans the finder left on each turn's Doc."""
    return [
        PIISpan(str(kind), turn, int(start), int(end))
        for turn, doc in enumerate(docs)
        for kind, start, end in (doc._.callqa_pii or ())
    ]
