"""`callqa tag FILE`: transcripts read from a .json or .jsonl file, one docs/design.md tag
object out per transcript, in file order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spacy.language import Language

from pipeline.errors import CallQAError
from pipeline.tagging.tagger import tag_many
from pipeline.tagging.tags import TextTurn

__all__ = ["tag_file"]

# Transcripts tagged together: enough for `nlp.pipe` to batch, few enough to stream.
_CHUNK = 256


def _read_transcript(obj: Any, where: str) -> tuple[str, list[TextTurn]]:
    if not isinstance(obj, dict) or not isinstance(obj.get("turns"), list):
        raise CallQAError(f"{where}: expected an object with `id` and a list of `turns`")
    turns = []
    for n, turn in enumerate(obj["turns"]):
        if not isinstance(turn, dict) or not isinstance(turn.get("text"), str):
            raise CallQAError(f"{where}: turn {n} needs a `text` string and a `speaker`")
        speaker = turn.get("speaker", "unknown")
        if speaker not in ("agent", "caller", "unknown"):
            raise CallQAError(
                f"{where}: turn {n}: speaker must be agent, caller or unknown, not {speaker!r}"
            )
        turns.append(TextTurn(speaker, turn["text"]))
    return str(obj.get("id", "")), turns


def _read_tag_input(path: Path) -> Iterator[tuple[str, list[TextTurn]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise CallQAError(f"{path}: cannot read: {err.strerror}") from None
    if path.suffix == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as err:
            raise CallQAError(f"{path}: invalid JSON at line {err.lineno}: {err.msg}") from None
        yield _read_transcript(obj, str(path))
        return
    if path.suffix != ".jsonl":
        raise CallQAError(
            f"{path}: expected a .json (one transcript) or .jsonl (one per line) file"
        )
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise CallQAError(f"{path}: line {lineno}: invalid JSON: {err.msg}") from None
        yield _read_transcript(obj, f"{path}: line {lineno}")


def tag_file(path: Path, nlp: Language) -> Iterator[dict[str, Any]]:
    """`callqa tag FILE`: one docs/design.md tag object per transcript, in file order.

    Raises CallQAError naming the file and line of a transcript that cannot be read.
    """
    chunk: list[tuple[str, list[TextTurn]]] = []
    for item in _read_tag_input(Path(path)):
        chunk.append(item)
        if len(chunk) == _CHUNK:
            yield from _tag_chunk(chunk, nlp)
            chunk = []
    yield from _tag_chunk(chunk, nlp)


def _tag_chunk(chunk: list[tuple[str, list[TextTurn]]], nlp: Language) -> Iterator[dict[str, Any]]:
    if chunk:
        for (call_id, _), tags in zip(chunk, tag_many([t for _, t in chunk], nlp), strict=True):
            yield tags.to_json(call_id)
