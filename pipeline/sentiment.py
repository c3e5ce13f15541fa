"""How the caller sounded: VADER sentiment per caller turn, and per call overall and by third.

VADER (vaderSentiment 3.3.2) is a lexicon and rules built for short conversational text: it
reads negation ("not happy"), intensifiers ("really annoyed"), "but" and capitals, needs no
model weights (its lexicon ships in the wheel) and scores a turn in well under a millisecond,
so it adds nothing measurable to a night. Its `compound` score runs from -1 (most negative)
to +1 (most positive); 0 is neutral or no sentiment words at all.

Only the caller's turns are scored (the agent's scripted politeness would swamp the caller),
and turns from a mono recording that could not be attributed (`unknown`) are left out. The
call's opening and closing thirds are thirds of its time (a turn belongs to the third its
midpoint falls in), or of its turns when the turns carry no times, so a quality lead can see
whether calls end better than they start.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.tagging.tags import TurnText

__all__ = ["CallerSentiment", "TurnSentiment", "caller_sentiment", "compound"]

_CALLER = "caller"


@dataclass(frozen=True)
class TurnSentiment:
    """One caller turn's VADER compound score; `turn` indexes the call's turns."""

    turn: int
    compound: float


@dataclass(frozen=True)
class CallerSentiment:
    """The caller's sentiment in one call: per turn, the mean overall and in each third.

    A mean is None when the caller said nothing (with words) in that part of the call.
    """

    turns: list[TurnSentiment] = field(default_factory=list)
    overall: float | None = None
    opening: float | None = None
    closing: float | None = None


@functools.lru_cache(maxsize=1)
def _analyzer() -> Any:
    # Reads the lexicon from the installed package once per process (about 7,500 entries).
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def compound(text: str) -> float:
    """VADER's compound score of one piece of text, from -1 to +1."""
    return float(_analyzer().polarity_scores(text)["compound"])


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _positions(turns: Sequence[TurnText]) -> list[float]:
    """Where each turn's middle falls in the call, from 0 (start) to 1 (end)."""
    spans: list[tuple[float, float]] = []
    for t in turns:
        start, end = getattr(t, "start_s", None), getattr(t, "end_s", None)
        if not isinstance(start, int | float) or not isinstance(end, int | float):
            break
        spans.append((float(start), float(end)))
    if turns and len(spans) == len(turns):
        first, last = min(s for s, _ in spans), max(e for _, e in spans)
        if last > first:
            return [((s + e) / 2 - first) / (last - first) for s, e in spans]
    # No usable times (e.g. `callqa tag` input): thirds of the turns instead.
    return [(i + 0.5) / len(turns) for i in range(len(turns))]


def caller_sentiment(turns: Sequence[TurnText]) -> CallerSentiment:
    """Score the caller's turns of one call and average them overall and per third.

    Turns with no words are skipped: an empty turn is silence, not neutrality.
    """
    positions = _positions(turns)
    scored = [
        (TurnSentiment(i, compound(t.text)), positions[i])
        for i, t in enumerate(turns)
        if t.speaker == _CALLER and t.text.strip()
    ]
    return CallerSentiment(
        turns=[s for s, _ in scored],
        overall=_mean([s.compound for s, _ in scored]),
        opening=_mean([s.compound for s, where in scored if where < 1 / 3]),
        closing=_mean([s.compound for s, where in scored if where >= 2 / 3]),
    )
