"""Redacting a turn's text: each personal-data span becomes its tag, e.g. `[POSTCODE]`."""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.redact.spans import PRIORITY, PIISpan

__all__ = ["redact_text"]


def redact_text(text: str, spans: Iterable[PIISpan | tuple[str, int, int]]) -> str:
    """`text` with each span replaced by `[TYPE]` (e.g. `[POSTCODE]`).

    Spans are PIISpans or (type, start, end) tuples of this text. Overlapping spans become one,
    tagged with the type of the longest of them.
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
    merged: list[tuple[int, int, dict[str, int]]] = []  # start, end, {type: longest length}
    for start, end, kind in items:
        if merged and start < merged[-1][1]:
            first, last, kinds = merged[-1]
            kinds[kind] = max(kinds.get(kind, 0), end - start)
            merged[-1] = (first, max(last, end), kinds)
        else:
            merged.append((start, end, {kind: end - start}))
    out = []
    pos = 0
    for start, end, kinds in merged:
        kind = max(kinds, key=lambda k: (kinds[k], -PRIORITY.get(k.upper(), 99)))
        out.append(text[pos:start])
        out.append(f"[{kind.upper()}]")
        pos = end
    out.append(text[pos:])
    return "".join(out)
