"""Text cut into marked and unmarked pieces: a transcript turn's evidence, a search hit's words."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Segment", "mark_spans"]


@dataclass(frozen=True)
class Segment:
    """A piece of text, `marked` where the page highlights it."""

    text: str
    marked: bool


def mark_spans(
    text: str, spans: Iterable[tuple[int, int]], start: int = 0, end: int | None = None
) -> list[Segment]:
    """`text[start:end]` as segments, the (start, end) `spans` in it marked; spans come in
    order, and one that overlaps the one before is marked from where that one ends."""
    stop = len(text) if end is None else end
    segments: list[Segment] = []
    pos = start
    for span_start, span_end in spans:
        span_start, span_end = max(span_start, pos), min(span_end, stop)
        if span_end <= span_start:
            continue
        if span_start > pos:
            segments.append(Segment(text[pos:span_start], False))
        segments.append(Segment(text[span_start:span_end], True))
        pos = span_end
    if pos < stop:
        segments.append(Segment(text[pos:stop], False))
    return segments
