"""How well tags match a reviewer's labels, each figure with a 95% interval.

Accuracies get Wilson intervals (statsmodels); F1 scores, which are not proportions, get a
percentile bootstrap over calls. Every figure is a ratio of per-call counts summed over calls,
so two taggers can be compared on the same calls resampled together (`compare`). Labels follow
docs/labelling.md and the `callqa tag` fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from statsmodels.stats.proportion import proportion_confint

from pipeline.tagging.tags import QA_CHECKS, SAFEGUARDING, VULNERABILITIES, Tags

__all__ = ["GOALS", "Figure", "compare", "score"]

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
_F1_SEEDS = {"reasons_micro_f1": 1, "avoidable_f1": 2, "vulnerability_micro_f1": 3}


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


def _ratio(key: str, sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The figure `key`'s numerator and denominator from counts summed over calls (last axis).

    Accuracies sum (right, counted); the rest (tp, fp, fn).
    """
    if key.endswith("accuracy"):
        return sums[..., 0], sums[..., 1]
    tp, fp, fn = sums[..., 0], sums[..., 1], sums[..., 2]
    if key == "safeguarding_recall":
        return tp, tp + fn
    if key == "safeguarding_precision":
        return tp, tp + fp
    return 2 * tp, 2 * tp + fp + fn


def _value(key: str, sums: np.ndarray) -> np.ndarray:
    """The figure `key` from counts summed over calls, NaN where nothing counts (an F1 with
    nothing to find and nothing found is 1)."""
    num, den = _ratio(key, sums)
    empty = 1.0 if key in _F1_SEEDS else np.nan
    return np.divide(num, den, out=np.full(np.shape(num), empty, dtype=float), where=den > 0)


def _f1_figure(key: str, per_call: np.ndarray) -> Figure:
    """F1 from per-call (tp, fp, fn) rows, with a bootstrap interval over calls."""
    n = len(per_call)
    if n == 0:
        return Figure(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(_F1_SEEDS[key])
    draws = _value(key, per_call[rng.integers(0, n, (_BOOTSTRAP, n))].sum(axis=1))
    low, high = np.percentile(draws, [2.5, 97.5])
    return Figure(float(_value(key, per_call.sum(axis=0))), float(low), float(high), n)


def _set_counts(got: set[str], want: set[str]) -> tuple[int, int, int]:
    return len(got & want), len(got - want), len(want - got)


def _per_call(
    labels: Sequence[Mapping[str, Any]], predicted: Sequence[Tags]
) -> dict[str, np.ndarray]:
    """Each figure's counts, one row per call (zeros where a call does not count)."""
    rows: dict[str, list[tuple[int, ...]]] = {key: [] for key in GOALS}
    for gold, tags in zip(labels, predicted, strict=True):
        rows["reasons_micro_f1"].append(
            _set_counts(set(tags.contact_reasons), set(gold["contact_reasons"]))
        )
        rows["avoidable_f1"].append(
            _set_counts({1} if tags.avoidable else set(), {1} if gold["avoidable"] else set())
        )
        right = {
            "primary_reason_accuracy": (tags.primary_reason == gold["primary_reason"], 1),
            "avoidable_category_accuracy": (
                (tags.avoidable_category == gold["avoidable_category"], 1)
                if gold["avoidable"]
                else (0, 0)
            ),
            "complaint_accuracy": (tags.complaint == gold["complaint"], 1),
            "transferred_accuracy": (tags.transferred == gold["transferred"], 1),
        }
        checks = [getattr(tags.qa, check) == gold["qa"][check] for check in QA_CHECKS]
        right |= {f"qa_{c}_accuracy": (ok, 1) for c, ok in zip(QA_CHECKS, checks, strict=True)}
        right["qa_accuracy"] = (sum(checks), len(checks))
        for key, (hit, counted) in right.items():
            rows[key].append((int(hit), counted))
        want = set(gold.get("vulnerability", ())) & set(VULNERABILITIES)
        labelled = "vulnerability" in gold
        rows["vulnerability_micro_f1"].append(
            _set_counts(set(tags.vulnerability), want) if labelled else (0, 0, 0)
        )
        said, truly = tags.safeguarding, bool(want & SAFEGUARDING)
        counts = (said and truly, said and not truly, truly and not said) if labelled else (0, 0, 0)
        rows["safeguarding_recall"].append(tuple(int(c) for c in counts))
        rows["safeguarding_precision"].append(rows["safeguarding_recall"][-1])
    width = {key: 2 if key.endswith("accuracy") else 3 for key in GOALS}
    return {key: np.array(rows[key], dtype=np.int64).reshape(-1, width[key]) for key in GOALS}


def _labelled(labels: Sequence[Mapping[str, Any]]) -> np.ndarray:
    return np.array(["vulnerability" in gold for gold in labels], dtype=bool)


def score(labels: Sequence[Mapping[str, Any]], predicted: Sequence[Tags]) -> dict[str, Figure]:
    """Every figure of GOALS for predictions against labels (vulnerability where labelled)."""
    per_call = _per_call(labels, predicted)
    figures = {}
    for key, counts in per_call.items():
        if key in _F1_SEEDS:
            labelled = counts if key != "vulnerability_micro_f1" else counts[_labelled(labels)]
            figures[key] = _f1_figure(key, labelled)
        else:
            hits, n = _ratio(key, counts.sum(axis=0))
            figures[key] = _proportion(int(hits), int(n))
    return figures


def compare(
    labels: Sequence[Mapping[str, Any]],
    candidate: Sequence[Tags],
    current: Sequence[Tags],
    draws: int = 2000,
    seed: int = 0,
) -> dict[str, float]:
    """For each figure, the share of paired resamples of the calls in which `candidate` scores
    below `current` (NaN where the figure counts no call).

    Both taggers are scored on the same resampled calls, so what they share cancels and only
    the calls they disagree on move the share: near 0.5 is a difference the calls cannot tell
    from chance, near 1 a candidate that is worse on these calls.
    """
    ours, theirs = _per_call(labels, candidate), _per_call(labels, current)
    n = len(labels)
    # How often each call is drawn in each resample: the same draws for both taggers.
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1 / n), draws) if n else None
    shares = {}
    for key in GOALS:
        if weights is None or not np.isfinite(_value(key, theirs[key].sum(axis=0))):
            shares[key] = float("nan")
            continue
        cand, cur = _value(key, weights @ ours[key]), _value(key, weights @ theirs[key])
        both = np.isfinite(cand) & np.isfinite(cur)
        shares[key] = float(np.mean(cand[both] < cur[both])) if both.any() else float("nan")
    return shares
