"""What quality leads' reviews say a call's tags really were.

`<out>/reviews/reviews.parquet` (written by the review app, review/export.py) has one row per
(call, tag) of each call's newest review: the machine's value, whether the lead agreed, and the
corrected primary reason or avoidable category. These labels train the learned layer
(pipeline/training.py) and correct the monthly estimates for the tagger's errors
(pipeline/correction.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.tagging import QA_CHECKS

__all__ = ["labels_from_review", "reviewed_labels"]


def labels_from_review(rows: pd.DataFrame) -> dict[str, Any]:
    """A reviewed call's labels: the machine's value where the lead agreed, else the correction."""
    verdict = {row.tag: (str(row.machine_value), bool(row.agree)) for row in rows.itertuples()}
    first = rows.iloc[0]
    labels: dict[str, Any] = {}

    def boolean(tag: str) -> bool | None:
        if tag not in verdict:
            return None
        value, agree = verdict[tag]
        return (value == "True") == agree

    if "primary_reason" in verdict:
        value, agree = verdict["primary_reason"]
        corrected = first.corrected_primary_reason
        labels["primary_reason"] = value if agree else (corrected if pd.notna(corrected) else None)
        if labels["primary_reason"] is None:
            del labels["primary_reason"]
    avoidable = boolean("avoidable")
    if avoidable is not None:
        labels["avoidable"] = avoidable
        value, agree = verdict.get("avoidable_category", ("None", True))
        corrected = first.corrected_avoidable_category
        category = value if agree else (corrected if pd.notna(corrected) else None)
        labels["avoidable_category"] = category if avoidable and category != "None" else None
        if avoidable and labels["avoidable_category"] is None:
            del labels["avoidable"], labels["avoidable_category"]  # avoidable, but why unknown
    for flag in ("complaint", "transferred"):
        if (value := boolean(flag)) is not None:
            labels[flag] = value
    checks = {check: boolean(check) for check in QA_CHECKS}
    if all(value is not None for value in checks.values()):
        labels["qa"] = checks
    return labels


def reviewed_labels(out_dir: Path) -> dict[str, dict[str, Any]]:
    """call_id -> labels, for every call whose newest review was completed."""
    path = Path(out_dir) / "reviews" / "reviews.parquet"
    if not path.exists():
        return {}
    reviews = pd.read_parquet(path)
    reviews = reviews[reviews["reviewed"]]
    return {
        str(call_id): labels
        for call_id, rows in reviews.groupby("call_id", sort=True)
        if (labels := labels_from_review(rows))
    }
