"""What tagging takes and gives: turns in, `Tags` out (with `pipeline.redact`'s `PIISpan`),
and the tag ids they use.

The ids are docs/design.md's defaults (`pipeline.vocabulary`); a models folder may add more,
which the tagger reads from its vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from pipeline.redact import PIISpan
from pipeline.vocabulary import DESIGN_IDS, load_vocabulary

#: Contact reason ids; `other` is the fallback and needs no pattern.
CONTACT_REASONS = DESIGN_IDS["reasons"]
#: NI14 avoidable-contact category ids.
AVOIDABLE_CATEGORIES = DESIGN_IDS["categories"]
#: Vulnerability ids (models/vulnerability.yaml); the first five are the safeguarding ones a
#: council must act on.
VULNERABILITIES = DESIGN_IDS["vulnerabilities"]
SAFEGUARDING = frozenset(VULNERABILITIES[:5])
#: Quality checks, in scorecard column order.
QA_CHECKS = DESIGN_IDS["checks"]
#: The yes/no flags of qa_checks.yaml, each a tag field of its own.
FLAGS = ("complaint", "transferred")
#: Yes/no tags a quality lead reviews; one within this margin of its threshold is uncertain.
REVIEWED_TAGS = ("avoidable", *FLAGS, *(f"qa:{check}" for check in QA_CHECKS))
UNCERTAIN_MARGIN = 0.1
#: The speakers a rule may name; `unknown` (a mono recording) counts as either.
SPEAKERS = frozenset({"agent", "caller"})


class TurnText(Protocol):
    """Anything with a speaker and text: `pipeline.transcribe.Turn` fits."""

    @property
    def speaker(self) -> str: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class TextTurn:
    """A turn read from `callqa tag` input."""

    speaker: str
    text: str


@dataclass(frozen=True)
class QAChecks:
    """Which quality checks the agent passed: docs/design.md's five, and any a council added."""

    greeting: bool = False
    agent_named: bool = False
    id_check: bool = False
    anything_else_offered: bool = False
    closing: bool = False
    added: Mapping[str, bool] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, passed: Mapping[str, bool]) -> QAChecks:
        """From check id -> passed, for every check of a vocabulary."""
        return cls(
            **{c: bool(passed.get(c, False)) for c in QA_CHECKS},
            added={c: bool(v) for c, v in passed.items() if c not in QA_CHECKS},
        )

    def passed(self, check: str) -> bool:
        return bool(getattr(self, check)) if check in QA_CHECKS else self.added.get(check, False)

    def as_dict(self) -> dict[str, bool]:
        """Check id -> passed, docs/design.md's five first."""
        return {**{c: bool(getattr(self, c)) for c in QA_CHECKS}, **self.added}


@dataclass(frozen=True)
class Evidence:
    """Why a tag was given: the turn index, the words, and the rule (pattern id) that fired."""

    tag: str
    turn: int
    text: str
    rule: str


@dataclass(frozen=True)
class RedactedTurn:
    speaker: str
    text: str


_QA = TypeVar("_QA")


@dataclass(frozen=True)
class TagLabels(Generic[_QA]):
    """The `callqa tag` fields a reviewer labels: `Tags`, and sample_data's script labels
    (whose `qa` is an object with one attribute per check)."""

    contact_reasons: list[str]
    primary_reason: str
    avoidable: bool
    avoidable_category: str | None
    complaint: bool
    transferred: bool
    qa: _QA


def label_fields(labelled: TagLabels[Any]) -> dict[str, Any]:
    """The `callqa tag` fields a reviewer labels, in docs/design.md's order."""
    return {
        "contact_reasons": list(labelled.contact_reasons),
        "primary_reason": labelled.primary_reason,
        "avoidable": labelled.avoidable,
        "avoidable_category": labelled.avoidable_category,
        "complaint": labelled.complaint,
        "transferred": labelled.transferred,
        "qa": (
            labelled.qa.as_dict()
            if isinstance(labelled.qa, QAChecks)
            else {check: getattr(labelled.qa, check) for check in QA_CHECKS}
        ),
    }


@dataclass(frozen=True)
class Tags(TagLabels[QAChecks]):
    """One call's tags, with why each was given and the call's turns redacted."""

    evidence: list[Evidence] = field(default_factory=list)
    pii: list[PIISpan] = field(default_factory=list)
    redacted_turns: list[RedactedTurn] = field(default_factory=list)
    vulnerability: list[str] = field(default_factory=list)
    safeguarding: bool = False
    # Each tag's calibrated probability (tag names as in `evidence`); empty without a model.
    probabilities: dict[str, float] = field(default_factory=dict)
    # Tags whose probability sits near the threshold: a review teaches the model most there.
    uncertain: list[str] = field(default_factory=list)
    tagger_version: str | None = None
    # A council's own flag families (models/flags.yaml): family id -> the tag ids found.
    tags: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self, id: str) -> dict[str, Any]:  # `id`: the contract's key
        """The `callqa tag` object of docs/design.md, `id` passed through."""
        return {
            "id": id,
            **label_fields(self),
            "vulnerability": list(self.vulnerability),
            "safeguarding": self.safeguarding,
            "probabilities": {tag: round(p, 4) for tag, p in self.probabilities.items()},
            "evidence": [{"tag": e.tag, "turn": e.turn, "text": e.text} for e in self.evidence],
            "pii": [
                {"type": p.type, "turn": p.turn, "start": p.start, "end": p.end} for p in self.pii
            ],
            "redacted_turns": [{"speaker": t.speaker, "text": t.text} for t in self.redacted_turns],
            "tagger_version": self.tagger_version,
            "tags": {family: list(ids) for family, ids in self.tags.items()},
        }


def load_qa_weights(models_dir: Path | None = None) -> dict[str, float]:
    """QA check id -> weight, from `qa_checks.yaml` (every check, a council's own too)."""
    return load_vocabulary(models_dir).qa_weights


def qa_score(qa: QAChecks, weights: Mapping[str, float]) -> float:
    """0-100: the weighted share of QA checks passed."""
    total = sum(weights.values())
    passed = sum(w for check, w in weights.items() if qa.passed(check))
    return round(100.0 * passed / total, 1) if total else 0.0
