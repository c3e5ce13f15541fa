"""Tagging calls: one `Doc` per turn through the pipeline, shared by the rules and the
personal-data finder, then the rules' tags and, where the pipeline carries one, the model's.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from spacy.language import Language
from spacy.tokens import Doc

from pipeline.learned import CallView
from pipeline.tagging.components import PREVIOUS_TURNS
from pipeline.tagging.decide import apply_model
from pipeline.tagging.hits import eligible_hits, pii_of
from pipeline.tagging.nlp import learned_of, packs_of
from pipeline.tagging.rules import rule_tags
from pipeline.tagging.tags import SPEAKERS, Tags, TextTurn, TurnText
from pipeline.tagging.views import call_view

__all__ = ["rule_views", "tag_many", "tag_transcript"]


class _HasTurns(Protocol):
    @property
    def turns(self) -> Sequence[TurnText]: ...


def _turns_of(transcript: Sequence[TurnText] | _HasTurns) -> Sequence[TurnText]:
    return transcript.turns if hasattr(transcript, "turns") else transcript  # type: ignore[union-attr,return-value]


def tag_transcript(turns: Sequence[TurnText], nlp: Language) -> Tags:
    """Tags of one transcript, given as turns with `.speaker` and `.text`."""
    return tag_many([turns], nlp)[0]


def tag_many(
    transcripts: Iterable[Sequence[TurnText] | _HasTurns],
    nlp: Language,
    *,
    n_process: int = 1,
    batch_size: int = 256,
) -> list[Tags]:
    """Tags of many transcripts, in order: `nlp.pipe` over all their turns.

    A transcript is a sequence of turns or anything with `.turns` (a `Transcript`). Each
    turn's Doc is shared by the rules and the personal-data analysis. `n_process` > 1 (-1: all
    cores) tags contiguous chunks of transcripts in forked worker processes.
    """
    calls = [[TextTurn(t.speaker, t.text or "") for t in _turns_of(c)] for c in transcripts]
    n_process = (os.cpu_count() or 1) if n_process == -1 else n_process
    if n_process <= 1 or len(calls) < 2 or "fork" not in mp.get_all_start_methods():
        return _tag_calls(calls, nlp, batch_size)
    # Workers return Tags, not Docs: sending Docs back through spaCy's own `n_process`
    # costs more (msgpack, per-Doc registry look-ups) than the tagging itself.
    size = -(-len(calls) // (n_process * 4))
    chunks = [calls[i : i + size] for i in range(0, len(calls), size)]
    context = mp.get_context("fork")
    with context.Pool(n_process, initializer=_start_worker, initargs=(nlp, batch_size)) as pool:
        return [tags for chunk in pool.map(_tag_in_worker, chunks) for tags in chunk]


# A forked worker's pipeline and batch size. Fork hands the pipeline to the worker as it is
# (no pickling), but only through the worker's own globals, set once as it starts.
_worker: tuple[Language, int] | None = None


def _start_worker(nlp: Language, batch_size: int) -> None:
    global _worker
    _worker = (nlp, batch_size)


def _tag_in_worker(calls: list[list[TextTurn]]) -> list[Tags]:
    assert _worker is not None, "only called in workers forked by tag_many"
    nlp, batch_size = _worker
    return _tag_calls(calls, nlp, batch_size)


def _unprocessed_docs(nlp: Language, calls: Sequence[Sequence[TurnText]]) -> Iterator[Doc]:
    for turns in calls:
        previous: list[str] = []
        for turn in turns:
            doc = nlp.make_doc(turn.text or "")
            doc.user_data[PREVIOUS_TURNS] = list(previous)
            previous.append(doc.text)
            yield doc


def rule_views(
    calls: Sequence[Sequence[TurnText]], nlp: Language, batch_size: int = 256
) -> list[tuple[Tags, CallView]]:
    """The rules' tags of each call, and what the learned layer reads of it."""
    packs = packs_of(nlp)
    calls = [[TextTurn(t.speaker, t.text or "") for t in turns] for turns in calls]
    docs = iter(nlp.pipe(_unprocessed_docs(nlp, calls), batch_size=batch_size))
    out = []
    for turns in calls:
        turn_docs = [next(docs) for _ in turns]
        speakers = [turn.speaker if turn.speaker in SPEAKERS else "unknown" for turn in turns]
        texts = [turn.text for turn in turns]
        hits = eligible_hits(turn_docs, speakers, packs)
        pii = pii_of(turn_docs)
        tags = rule_tags(hits, pii, speakers, texts, packs)
        out.append((tags, call_view(hits, pii, speakers, texts, tags)))
    return out


def _tag_calls(calls: Sequence[Sequence[TextTurn]], nlp: Language, batch_size: int) -> list[Tags]:
    pairs = rule_views(calls, nlp, batch_size)
    learned = learned_of(nlp)
    if learned is None:
        return [tags for tags, _ in pairs]
    return apply_model(pairs, *learned, tag_vocabulary=packs_of(nlp).tag_vocabulary)
