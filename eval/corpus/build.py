"""The labelled corpus: every author's calls, checked against the vocabulary, with its split.

Authors write `calls/<author>/batch_NN.jsonl` from `briefs/` (how: `briefs/common.md`);
`authors.yaml` says which split each author's calls belong to.

Usage:
  python eval/corpus/build.py --check FILE...   # report malformed lines, exit 1 if any
  python eval/corpus/build.py                   # counts per split, author and label
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
MODELS = HERE.parent.parent / "models"
SPEAKERS = {"agent", "caller", "unknown"}
STYLES = {"clean", "asr"}


@dataclass(frozen=True)
class Vocabulary:
    reasons: frozenset[str]
    categories: frozenset[str]
    checks: tuple[str, ...]
    vulnerabilities: frozenset[str]


def vocabulary(models_dir: Path = MODELS) -> Vocabulary:
    """The ids a label may use, from the rule packs' YAML (ids only)."""

    def ids(file: str, key: str) -> list[str]:
        data = yaml.safe_load((models_dir / file).read_text(encoding="utf-8"))
        return [entry["id"] for entry in data[key]]

    return Vocabulary(
        reasons=frozenset(ids("taxonomy.yaml", "reasons")),
        categories=frozenset(ids("avoidable.yaml", "categories")),
        checks=tuple(ids("qa_checks.yaml", "checks")),
        vulnerabilities=frozenset(ids("vulnerability.yaml", "vulnerabilities")),
    )


def problems(call: Any, vocab: Vocabulary) -> list[str]:
    """What is wrong with one labelled call (empty when nothing is)."""
    if not isinstance(call, dict):
        return ["not a JSON object"]
    found: list[str] = []
    for key in ("id", "author", "style", "turns", "contact_reasons", "primary_reason", "qa"):
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
        found += [f"unknown reason {r!r}" for r in reasons if r not in vocab.reasons]
        if call["primary_reason"] not in reasons:
            found.append("primary_reason must be one of contact_reasons")
    avoidable, category = call.get("avoidable"), call.get("avoidable_category")
    if not isinstance(avoidable, bool):
        found.append("avoidable must be true or false")
    elif avoidable and category not in vocab.categories:
        found.append(f"avoidable call needs a category from {sorted(vocab.categories)}")
    elif not avoidable and category is not None:
        found.append("avoidable_category must be null when avoidable is false")
    for flag in ("complaint", "transferred"):
        if not isinstance(call.get(flag), bool):
            found.append(f"{flag} must be true or false")
    qa = call["qa"]
    if not isinstance(qa, dict) or set(qa) != set(vocab.checks):
        found.append(f"qa must have exactly {list(vocab.checks)}")
    elif not all(isinstance(v, bool) for v in qa.values()):
        found.append("qa values must be true or false")
    vulnerability = call.get("vulnerability", [])
    if not isinstance(vulnerability, list):
        found.append("vulnerability must be a list")
    else:
        found += [f"unknown vulnerability {v!r}" for v in vulnerability if v not in vocab.vulnerabilities]
    return found


def read_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object or the JSON error) for each non-blank line."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                yield number, error


def authors(corpus_dir: Path = HERE) -> dict[str, str]:
    """Author -> split, from authors.yaml."""
    data = yaml.safe_load((corpus_dir / "authors.yaml").read_text(encoding="utf-8"))
    return {name: entry["split"] for name, entry in data["authors"].items()}


def load_corpus(corpus_dir: Path = HERE, models_dir: Path = MODELS) -> list[dict[str, Any]]:
    """Every well-formed call with its `split`; malformed lines are reported on stderr."""
    vocab = vocabulary(models_dir)
    split_of = authors(corpus_dir)
    calls: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path in sorted((corpus_dir / "calls").glob("*/*.jsonl")):
        author = path.parent.name
        if author not in split_of:
            print(f"{path}: author {author!r} is not in authors.yaml; skipped", file=sys.stderr)
            continue
        for number, call in read_lines(path):
            wrong = [str(call)] if isinstance(call, Exception) else problems(call, vocab)
            if not wrong and call["id"] in seen:
                wrong = [f"duplicate id {call['id']!r}"]
            if wrong:
                print(f"{path}:{number}: {'; '.join(wrong)}", file=sys.stderr)
                continue
            seen.add(call["id"])
            calls.append({**call, "author": author, "split": split_of[author]})
    return calls


def _check(paths: list[Path]) -> int:
    vocab = vocabulary()
    bad = 0
    for path in paths:
        for number, call in read_lines(path):
            wrong = [str(call)] if isinstance(call, Exception) else problems(call, vocab)
            for message in wrong:
                print(f"{path}:{number}: {message}")
            bad += bool(wrong)
    print(f"{bad} malformed line(s)")
    return 1 if bad else 0


def _summary(calls: list[dict[str, Any]]) -> None:
    by_split = Counter(c["split"] for c in calls)
    for split in ("train", "dev", "test"):
        part = [c for c in calls if c["split"] == split]
        print(
            f"{split}: {by_split[split]} calls by {sorted({c['author'] for c in part})}; "
            f"asr {sum(c['style'] == 'asr' for c in part)}, "
            f"avoidable {sum(c['avoidable'] for c in part)}, "
            f"vulnerability {sum(bool(c.get('vulnerability')) for c in part)}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", nargs="+", type=Path, help="check these files only")
    args = parser.parse_args()
    if args.check:
        return _check(args.check)
    _summary(load_corpus())
    return 0


if __name__ == "__main__":
    sys.exit(main())
