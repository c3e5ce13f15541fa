"""The month's two tables: every estimate (`store.ESTIMATES`) and the frequent callers.

Estimates come from the month's random sample only (targeted calls are excluded: they were
picked because they looked unusual), one row per (metric, group, method): weighted proportions
for every rate, overall and by queue and team; with reviews, each whole-month rate corrected for
the tagger's errors (pipeline/correction.py); the caller's sentiment (pipeline/sentiment.py:
overall, opening and closing thirds) as `mean:<column>` weighted means over the calls where the
caller spoke. The repeat-caller rate needs no sample: it is counted over every eligible call in
the nights' logs (the census table), so its interval is the point itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats

from pipeline import repeats, store
from pipeline.correction import METHOD as CORRECTION_METHOD
from pipeline.correction import double_sampling
from pipeline.report.cells import list_cell, map_column
from pipeline.report.design import sample_design
from pipeline.report.estimates import (
    CENSUS,
    ProportionEstimate,
    weighted_mean,
    weighted_proportions,
)
from pipeline.vocabulary import Vocabulary, load_vocabulary

__all__ = ["frequent_callers", "monthly_estimates"]

#: Scorecard columns estimated as monthly means (`mean:<column>` in estimates.parquet).
_MEANS = ("caller_sentiment", "caller_sentiment_opening", "caller_sentiment_closing")


def _metrics(frame: pd.DataFrame, vocabulary: Vocabulary) -> dict[str, np.ndarray]:
    """Each rate's value (True/False) per row of `frame`, by metric name."""
    reasons = frame["primary_reason"].astype(str)
    category = frame["avoidable_category"].astype(str)
    found: dict[str, np.ndarray] = {
        "avoidable_rate": frame["avoidable"].fillna(False).to_numpy(bool)
    }
    for cat in vocabulary.category_ids:
        found[f"avoidable_category:{cat}"] = (category == cat).to_numpy()
    for reason in vocabulary.reason_ids:
        found[f"reason:{reason}"] = (reasons == reason).to_numpy()
    checks = map_column(frame, "qa_checks")
    for check in vocabulary.check_ids:
        # docs/design.md's checks keep their own columns; a council's are in the `qa_checks` map.
        found[f"qa:{check}"] = (
            frame[check].fillna(False).to_numpy(bool)
            if check in frame.columns
            else np.array([bool(m.get(check, False)) for m in checks], dtype=bool)
        )
    families = map_column(frame, "tags")
    for family in vocabulary.families:
        for family_tag in family.tags:
            found[f"tags:{family.id}:{family_tag.id}"] = np.array(
                [family_tag.id in list_cell(m.get(family.id)) for m in families], dtype=bool
            )
    found["complaint_rate"] = frame["complaint"].fillna(False).to_numpy(bool)
    found["transferred_rate"] = frame["transferred"].fillna(False).to_numpy(bool)
    return found


def _group_columns(frame: pd.DataFrame) -> dict[str, np.ndarray | None]:
    return {
        "all": None,
        "queue": ("queue:" + frame["queue"].fillna("unknown").astype(str)).to_numpy(),
        "team": ("team:" + frame["team"].fillna("unknown").astype(str)).to_numpy(),
    }


def monthly_estimates(
    scorecards: pd.DataFrame,
    samples: pd.DataFrame,
    census: pd.DataFrame,
    *,
    month: str,
    confidence_level: float = 0.95,
    reviews: Mapping[str, Mapping[str, Any]] | None = None,
    vocabulary: Vocabulary | None = None,
) -> pd.DataFrame:
    """One row per (metric, group, method) in `store.ESTIMATES` columns (without the change).

    With `reviews` (call_id -> a reviewer's labels, `pipeline.reviews.reviewed_labels`), each
    whole-month rate also gets a row corrected for the tagger's errors (`pipeline/correction.py`).
    `vocabulary` says which reasons, categories, checks and flag families to estimate (default:
    the shipped models/).
    """
    design = sample_design(scorecards, samples)
    alpha = 1.0 - confidence_level
    rows: list[dict[str, object]] = []
    if not design.empty:
        groups = _group_columns(design)
        metrics = _metrics(design, load_vocabulary() if vocabulary is None else vocabulary)
        for metric, values in metrics.items():
            for domain in groups.values():
                for found in weighted_proportions(
                    values,
                    design["design_weight"].to_numpy(),
                    design["variance_stratum"].to_numpy(),
                    domain=domain,
                    alpha=alpha,
                ):
                    rows.append({"metric": metric, **_row(found)})
        call_ids = design["call_id"].astype(str).to_numpy()
        rows.extend(_corrected_rows(call_ids, metrics, rows, reviews or {}, alpha))
        rows.extend(_mean_rows(design, alpha))
    rows.extend(_census_rows(census))
    frame = pd.DataFrame(rows, columns=[*store.ESTIMATES.columns[:8], "n_reviewed"])
    frame["month"] = month
    return frame


def _mean_rows(design: pd.DataFrame, alpha: float) -> list[dict[str, object]]:
    """`mean:<column>` rows for the whole month: the caller's sentiment, overall and by third."""
    rows: list[dict[str, object]] = []
    for column in _MEANS:
        if column not in design.columns:
            continue
        values = pd.to_numeric(design[column], errors="coerce").to_numpy(float)
        point, low, high, n, method = weighted_mean(
            values,
            design["design_weight"].to_numpy(),
            design["variance_stratum"].to_numpy(),
            alpha=alpha,
        )
        if n == 0:
            continue
        known = np.isfinite(values)
        rows.append(
            {
                "metric": f"mean:{column}",
                "group": "all",
                "estimate": point,
                "ci_low": low,
                "ci_high": high,
                "n_sampled": n,
                "population": round(float(design["design_weight"].to_numpy()[known].sum())),
                "method": method,
            }
        )
    return rows


def _review_truth(metric: str, labels: Mapping[str, Any]) -> bool | None:
    """What a reviewer's labels say of one metric, or None when they do not say."""
    if metric == "avoidable_rate":
        return labels.get("avoidable")
    if metric.startswith("avoidable_category:"):
        if "avoidable" not in labels:
            return None
        return labels["avoidable"] and labels.get("avoidable_category") == metric.split(":", 1)[1]
    if metric.startswith("reason:"):
        primary = labels.get("primary_reason")
        return None if primary is None else primary == metric.split(":", 1)[1]
    if metric.startswith("qa:"):
        return labels.get("qa", {}).get(metric.split(":", 1)[1])
    return labels.get(metric.removesuffix("_rate"))


def _corrected_rows(
    call_ids: np.ndarray,
    metrics: Mapping[str, np.ndarray],
    rows: Sequence[Mapping[str, object]],
    reviews: Mapping[str, Mapping[str, Any]],
    alpha: float,
) -> list[dict[str, object]]:
    """Each whole-month rate (`metrics`: the tagged values per design row, whose calls are
    `call_ids`) corrected for the tagger's errors on the reviewed random calls."""
    if not reviews:
        return []
    z = float(scipy.stats.norm.ppf(1 - alpha / 2))
    tagged_rows = {r["metric"]: r for r in rows if r["group"] == "all"}
    out = []
    for metric, values in metrics.items():
        row = tagged_rows.get(metric)
        pairs = [
            (bool(tag), truth)
            for call_id, tag in zip(call_ids, values, strict=True)
            if call_id in reviews and (truth := _review_truth(metric, reviews[call_id])) is not None
        ]
        if row is None or not pairs:
            continue
        found = double_sampling(
            float(row["estimate"]),
            (float(row["ci_high"]) - float(row["ci_low"])) / (2 * z),
            np.array([t for t, _ in pairs]),
            np.array([v for _, v in pairs]),
            alpha=alpha,
        )
        if found is not None:
            out.append(
                {
                    **row,
                    "estimate": found.estimate,
                    "ci_low": found.ci_low,
                    "ci_high": found.ci_high,
                    "method": CORRECTION_METHOD,
                    "n_reviewed": found.n_reviewed,
                }
            )
    return out


def _row(found: ProportionEstimate) -> dict[str, object]:
    return {
        "group": found.group,
        "estimate": found.estimate,
        "ci_low": found.ci_low,
        "ci_high": found.ci_high,
        "n_sampled": found.n_sampled,
        "population": found.population,
        "method": found.method,
    }


def _census_rows(census: pd.DataFrame) -> list[dict[str, object]]:
    """The repeat-caller rate over every inbound call of the nights (a count, not a sample)."""
    census = census[census["direction"] == "inbound"].reset_index(drop=True)
    if census.empty:
        return []
    rows = []
    for domain in _group_columns(census).values():
        labels = np.full(len(census), "all") if domain is None else domain
        repeat = census["repeat_caller"].fillna(False).to_numpy(bool)
        for group in sorted(np.unique(labels)):
            mask = labels == group
            rate = float(repeat[mask].mean())
            n = int(mask.sum())
            rows.append(
                {
                    "metric": "repeat_caller_rate",
                    **_row(ProportionEstimate(str(group), rate, rate, rate, n, n, CENSUS)),
                }
            )
    return rows


def frequent_callers(
    census: pd.DataFrame, month: str, *, min_calls: int = repeats.DEFAULT_FREQUENT_MIN_CALLS
) -> pd.DataFrame:
    """`repeats.frequent_callers` over the month's census, pseudonymised ("Caller 1", ...).

    The pseudonym is the rank in this table only, so nothing in it can be matched to a number
    or to another month's table.
    """
    if census.empty:
        return pd.DataFrame(columns=store.FREQUENT_CALLERS.columns)
    table = repeats.frequent_callers(census, month, min_calls=min_calls)
    table.insert(0, "caller", [f"Caller {i + 1}" for i in range(len(table))])
    return table[store.FREQUENT_CALLERS.columns]
