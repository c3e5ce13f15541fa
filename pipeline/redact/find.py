"""Finding personal data: the analyzer run over one turn's `Doc` (the turns before it as
context) or over a whole transcript, overlaps settled so spans never overlap."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from presidio_analyzer import AnalyzerEngine, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.tokens import Doc

from pipeline.redact.analyzer import rules_of
from pipeline.redact.spans import PII_TYPES, PRIORITY, PIISpan

__all__ = ["find_pii", "find_pii_turns"]

_ENTITIES = [t.upper() for t in PII_TYPES]


def find_pii(
    analyzer: AnalyzerEngine, doc: Doc, *, turn: int = 0, previous: Sequence[str] = ()
) -> list[PIISpan]:
    """Personal data in one turn, from the spaCy `doc` already made of it (no second pass).

    `previous` holds the texts of the turns before it, in order (only the last few are read):
    the agent's question gives a bare answer its type ("and the account number?" "four oh
    one..."). Spans do not overlap and come in text order, with `turn` set on each.
    """
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
        context=list(previous[-rules_of(analyzer).topic_turns :]) or None,
    )
    return [PIISpan(e.lower(), turn, s, en) for e, s, en in _non_overlapping(results)]


def _non_overlapping(results: Iterable[RecognizerResult]) -> list[tuple[str, int, int]]:
    """Higher score, then the stronger type, then the longer span wins any overlap."""
    ranked = sorted(
        results, key=lambda r: (-r.score, PRIORITY.get(r.entity_type, 99), r.start - r.end)
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
