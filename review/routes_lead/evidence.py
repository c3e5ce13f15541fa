"""A call's evidence on its page: the scorecard's evidence list, marked in the transcript's
turns, and the vulnerabilities and council flags it backs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from review.data import TurnRow
from review.labels import VULNERABILITIES, label
from review.marks import Segment, mark_spans

__all__ = ["TurnView", "call_evidence", "council_tags", "highlight_turns", "vulnerabilities"]

#: A redaction mark in evidence text, e.g. `[POSTCODE]`.
_REDACTED = re.compile(r"\[[A-Z_]+\]")


@dataclass(frozen=True)
class TurnView:
    """A transcript turn as the call page shows it: its text marked, the tags it is evidence for."""

    turn: TurnRow
    segments: list[Segment]
    tags: list[str]


def call_evidence(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The scorecard's `evidence` list of {tag, turn, text}, when the nightly run wrote one."""
    raw = row.get("evidence")
    if raw is None or isinstance(raw, float):
        return []
    out = []
    for item in raw:
        if isinstance(item, dict) and "tag" in item and "turn" in item:
            out.append(
                {
                    "tag": str(item["tag"]),
                    "turn": int(item["turn"]),
                    "text": str(item.get("text") or ""),
                }
            )
    return out


def _find_evidence(text: str, turn: str) -> tuple[int, int] | None:
    """Where the evidence text is in a turn: as it is (the redacted transcript), else in the
    unredacted one, where a mark between words stands for what it replaced and a mark at
    either end is left unmarked (its extent there is unknown)."""
    needle = text.strip()
    if not needle:
        return None
    at = turn.lower().find(needle.lower())
    if at >= 0:
        return at, at + len(needle)
    core = _REDACTED.sub("\x00", needle).strip("\x00 ")
    if not core.replace("\x00", "").strip():
        return None
    pattern = ".+?".join(re.escape(p) for p in core.split("\x00"))
    found = re.search(pattern, turn, re.IGNORECASE)
    return found.span() if found else None


def highlight_turns(turns: list[TurnRow], evidence: list[dict[str, Any]]) -> list[TurnView]:
    """Split each turn so the evidence text is marked; a turn whose evidence text is not in it
    (the transcript's words differ) is marked whole."""
    views = []
    for t in turns:
        items = [e for e in evidence if e["turn"] == t.turn]
        spans = sorted(_find_evidence(e["text"], t.text) or (0, len(t.text)) for e in items)
        views.append(TurnView(t, mark_spans(t.text, spans), sorted({e["tag"] for e in items})))
    return views


def _turns_of(evidence: list[dict[str, Any]], tag: str) -> list[int]:
    return sorted({e["turn"] for e in evidence if e["tag"] == tag})


def vulnerabilities(row: dict[str, Any], evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The call's vulnerability ids with their labels and the turns that are their evidence."""
    return [
        {
            "id": v,
            "label": VULNERABILITIES.get(v, label(v)),
            "turns": _turns_of(evidence, f"vulnerability:{v}"),
        }
        for v in row.get("vulnerability") or []
    ]


def council_tags(row: dict[str, Any], evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The council's own flags on the call (models/flags.yaml), labelled, with their turns."""
    return [
        {
            "id": f"{family}:{tag}",
            "label": label(f"{family}:{tag}"),
            "turns": _turns_of(evidence, f"tags:{family}:{tag}"),
        }
        for family, ids in (row.get("tags") or {}).items()
        for tag in ids
    ]
