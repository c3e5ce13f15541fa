"""The labelled corpus the learned tagger trains and is measured on.

`eval/corpus/` holds calls written by several independent authors from briefs
(`eval/corpus/briefs/`), labelled by hand to docs/labelling.md; `authors.yaml` gives each
author's split. Splits go by author, so no author's habits leak from train into dev or test.
docs/evaluation.md says how each split may be used.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.tagging.tags import TextTurn
from pipeline.vocabulary import DEFAULT_MODELS_DIR, Vocabulary, load_vocabulary

__all__ = [
    "LABEL_KEYS",
    "LabelledCall",
    "problems",
    "read_corpus",
    "read_lines",
]

SPEAKERS = {"agent", "caller", "unknown"}
STYLES = {"clean", "asr"}
#: The `callqa tag` fields a reviewer labels.
LABEL_KEYS = (
    "contact_reasons",
    "primary_reason",
    "avoidable",
    "avoidable_category",
    "complaint",
    "transferred",
    "qa",
    "vulnerability",
)


@dataclass(frozen=True)
class LabelledCall:
    """One call with a reviewer's labels; a label left out is unknown (not trained on)."""

    id: str
    split: str  # train | dev | test (or where else it came from)
    source: str  # the author, or `review`
    style: str  # clean | asr
    turns: tuple[TextTurn, ...]
    labels: Mapping[str, Any]
    note: str = ""  # the author's reasoning where the labelling guide left a case open


def problems(call: Any, vocab: Vocabulary) -> list[str]:
    """What is wrong with one labelled call (empty when nothing is)."""
    if not isinstance(call, dict):
        return ["not a JSON object"]
    found: list[str] = []
    for key in ("id", "style", "turns", "contact_reasons", "primary_reason", "qa"):
        if key not in call:
            found.append(f"missing {key!r}")
    if found:
        return found
    if call["style"] not in STYLES:
        found.append(f"style {call['style']!r} is not one of {sorted(STYLES)}")
    turns = call["turns"]
    if not isinstance(turns, list) or not turns:
        found.append("turns must be a non-empty list")
    else:
        for i, turn in enumerate(turns):
            if not isinstance(turn, dict) or turn.get("speaker") not in SPEAKERS:
                found.append(f"turn {i}: speaker must be one of {sorted(SPEAKERS)}")
            elif not isinstance(turn.get("text"), str) or not turn["text"].strip():
                found.append(f"turn {i}: empty text")
    reasons = call["contact_reasons"]
    if not isinstance(reasons, list) or not reasons:
        found.append("contact_reasons must be a non-empty list")
    else:
        found += [f"unknown reason {r!r}" for r in reasons if r not in vocab.reason_ids]
        if call["primary_reason"] not in reasons:
            found.append("primary_reason must be one of contact_reasons")
    avoidable, category = call.get("avoidable"), call.get("avoidable_category")
    if not isinstance(avoidable, bool):
        found.append("avoidable must be true or false")
    elif avoidable and category not in vocab.category_ids:
        found.append(f"avoidable call needs a category from {sorted(vocab.category_ids)}")
    elif not avoidable and category is not None:
        found.append("avoidable_category must be null when avoidable is false")
    for flag in ("complaint", "transferred"):
        if not isinstance(call.get(flag), bool):
            found.append(f"{flag} must be true or false")
    qa = call["qa"]
    if not isinstance(qa, dict) or set(qa) != set(vocab.check_ids):
        found.append(f"qa must have exactly {list(vocab.check_ids)}")
    elif not all(isinstance(v, bool) for v in qa.values()):
        found.append("qa values must be true or false")
    vulnerability = call.get("vulnerability", [])
    if not isinstance(vulnerability, list):
        found.append("vulnerability must be a list")
    else:
        found += [
            f"unknown vulnerability {v!r}"
            for v in vulnerability
            if v not in vocab.vulnerability_ids
        ]
    return found


def read_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object or the JSON error) for each non-blank line."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                yield number, error


def authors(corpus_dir: Path) -> dict[str, dict[str, Any]]:
    """Author -> {split, brief, files}, from authors.yaml."""
    data = yaml.safe_load((corpus_dir / "authors.yaml").read_text(encoding="utf-8"))
    return dict(data["authors"])


def read_corpus(
    corpus_dir: Path, models_dir: Path = DEFAULT_MODELS_DIR
) -> tuple[list[LabelledCall], list[str]]:
    """Every well-formed call with its author's split, and a message per malformed line.

    An author's calls are `calls/<author>/*.jsonl`, or the `files` authors.yaml lists.
    Labels a call leaves out (older sets have no `vulnerability`) stay unknown.
    """
    vocab = load_vocabulary(models_dir)
    calls: list[LabelledCall] = []
    wrong_lines: list[str] = []
    seen: set[str] = set()
    for author, entry in authors(corpus_dir).items():
        files = [corpus_dir / f for f in entry.get("files", [])] or sorted(
            (corpus_dir / "calls" / author).glob("*.jsonl")
        )
        for path in files:
            for number, call in read_lines(path):
                wrong = [str(call)] if isinstance(call, Exception) else problems(call, vocab)
                if not wrong and call["id"] in seen:
                    wrong = [f"duplicate id {call['id']!r}"]
                if wrong:
                    wrong_lines.append(f"{path}:{number}: {'; '.join(wrong)}")
                    continue
                seen.add(call["id"])
                turns = tuple(TextTurn(t["speaker"], t["text"]) for t in call["turns"])
                labels = {key: call[key] for key in LABEL_KEYS if key in call}
                calls.append(
                    LabelledCall(
                        call["id"],
                        entry["split"],
                        author,
                        call["style"],
                        turns,
                        labels,
                        str(call.get("note") or ""),
                    )
                )
    return calls, wrong_lines
