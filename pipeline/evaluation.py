"""How well tags match a reviewer's labels, each figure with a 95% interval.

Accuracies get Wilson intervals (statsmodels); F1 scores, which are not proportions, get a
percentile bootstrap over calls. Labels follow docs/labelling.md and the `callqa tag` fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from statsmodels.stats.proportion import proportion_confint

from pipeline.tagging.tags import QA_CHECKS, SAFEGUARDING, VULNERABILITIES, Tags

__all__ = ["GOALS", "Figure", "score"]

#: The goals of the tagging and vulnerability issues, on the held-out test split.
GOALS: dict[str, float] = {
    "avoidable_f1": 0.85,
    "avoidable_category_accuracy": 0.80,
    "reasons_micro_f1": 0.90,
    "primary_reason_accuracy": 0.90,
    "qa_accuracy": 0.95,
    **{f"qa_{check}_accuracy": 0.95 for check in QA_CHECKS},
    "complaint_accuracy": 0.90,
    "transferred_accuracy": 0.90,
    "vulnerability_micro_f1": 0.80,
    "safeguarding_recall": 0.95,
    "safeguarding_precision": 0.70,
}
_BOOTSTRAP = 1000


@dataclass(frozen=True)
class Figure:
    value: float
    low: float
    high: float
    n: int  # calls (or items) behind it

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.2f}, {self.high:.2f}]"


def _proportion(hits: int, n: int) -> Figure:
    if n == 0:
        return Figure(float("nan"), float("nan"), float("nan"), 0)
    low, high = proportion_confint(hits, n, alpha=0.05, method="wilson")
    return Figure(hits / n, float(low), float(high), n)


def _f1(counts: np.ndarray) -> float:
    tp, fp, fn = counts
    return 2 * tp / (2 * tp + fp + fn) if tp else (1.0 if not fp and not fn else 0.0)


def _f1_figure(per_call: np.ndarray, seed: int) -> Figure:
    """F1 from per-call (tp, fp, fn) rows, with a bootstrap interval over calls."""
    n = len(per_call)
    if n == 0:
        return Figure(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    draws = [_f1(per_call[rng.integers(0, n, n)].sum(axis=0)) for _ in range(_BOOTSTRAP)]
    low, high = np.percentile(draws, [2.5, 97.5])
    return Figure(_f1(per_call.sum(axis=0)), float(low), float(high), n)


def _set_counts(got: set[str], want: set[str]) -> tuple[int, int, int]:
    return len(got & want), len(got - want), len(want - got)


def score(labels: Sequence[Mapping[str, Any]], predicted: Sequence[Tags]) -> dict[str, Figure]:
    """Every figure of GOALS for predictions against labels (vulnerability where labelled)."""
    reasons, avoidable, vulnerable = [], [], []
    hits: dict[str, list[bool]] = {key: [] for key in GOALS if key.endswith("accuracy")}
    safeguarding = {"tp": 0, "fp": 0, "fn": 0}
    for gold, tags in zip(labels, predicted, strict=True):
        reasons.append(_set_counts(set(tags.contact_reasons), set(gold["contact_reasons"])))
        avoidable.append(
            _set_counts({1} if tags.avoidable else set(), {1} if gold["avoidable"] else set())
        )
        hits["primary_reason_accuracy"].append(tags.primary_reason == gold["primary_reason"])
        if gold["avoidable"]:
            hits["avoidable_category_accuracy"].append(
                tags.avoidable_category == gold["avoidable_category"]
            )
        for check in QA_CHECKS:
            right = getattr(tags.qa, check) == gold["qa"][check]
            hits[f"qa_{check}_accuracy"].append(right)
            hits["qa_accuracy"].append(right)
        hits["complaint_accuracy"].append(tags.complaint == gold["complaint"])
        hits["transferred_accuracy"].append(tags.transferred == gold["transferred"])
        if "vulnerability" in gold:
            want = set(gold["vulnerability"]) & set(VULNERABILITIES)
            vulnerable.append(_set_counts(set(tags.vulnerability), want))
            said, truly = tags.safeguarding, bool(want & SAFEGUARDING)
            safeguarding["tp"] += said and truly
            safeguarding["fp"] += said and not truly
            safeguarding["fn"] += truly and not said
    figures = {key: _proportion(sum(v), len(v)) for key, v in hits.items()}
    figures["reasons_micro_f1"] = _f1_figure(np.array(reasons).reshape(-1, 3), seed=1)
    figures["avoidable_f1"] = _f1_figure(np.array(avoidable).reshape(-1, 3), seed=2)
    figures["vulnerability_micro_f1"] = _f1_figure(np.array(vulnerable).reshape(-1, 3), seed=3)
    tp, fp, fn = safeguarding["tp"], safeguarding["fp"], safeguarding["fn"]
    figures["safeguarding_recall"] = _proportion(tp, tp + fn)
    figures["safeguarding_precision"] = _proportion(tp, tp + fp)
    return {key: figures[key] for key in GOALS}
