"""Reviews fed back to the Parquet output, and human-machine agreement per tag.

`<out>/reviews/reviews.parquet`: one row per (call, tag) of the newest review of each call:
`call_id, call_date, reviewer, reviewed_at, reviewed, tag, machine_value, agree,
corrected_primary_reason, corrected_avoidable_category`. Reviewers' free-text notes stay in the
database: they may name people. `<out>/reviews/agreement.parquet` is `agreement(out_dir)`.
Read each file on its own (the two tables have different columns).

The monthly report calls `agreement(out_dir, month="YYYY-MM")`.
"""

from __future__ import annotations

import math
import os
import tempfile
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from review.data import OutputStore
from review.db import Review

__all__ = ["AGREEMENT_COLUMNS", "REVIEW_COLUMNS", "agreement", "export_reviews"]

REVIEW_COLUMNS = [
    "call_id",
    "call_date",
    "reviewer",
    "reviewed_at",
    "reviewed",
    "tag",
    "machine_value",
    "agree",
    "corrected_primary_reason",
    "corrected_avoidable_category",
]
AGREEMENT_COLUMNS = ["tag", "n_reviewed", "n_agree", "agreement", "ci_low", "ci_high"]


def _write_atomic(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _utc(moment: datetime) -> pd.Timestamp:
    """SQLite hands back naive datetimes (always written as UTC); PostgreSQL aware ones."""
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _wilson(agree: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval: sensible for the small counts a month of reviews gives."""
    if n == 0:
        return math.nan, math.nan
    p = agree / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def export_reviews(db: Session, store: OutputStore) -> Path:
    """Write the newest review of every call, and the agreement table, under `<out>/reviews/`."""
    latest: dict[str, Review] = {}
    for review in db.scalars(select(Review).order_by(Review.created_at, Review.id)):
        latest[review.call_id] = review
    rows = []
    for review in latest.values():
        call = store.call(review.call_id) or {}
        for tag in review.tags:
            rows.append(
                {
                    "call_id": review.call_id,
                    "call_date": call.get("call_date"),
                    "reviewer": review.reviewer,
                    "reviewed_at": _utc(review.created_at),
                    "reviewed": review.reviewed,
                    "tag": tag.tag,
                    "machine_value": tag.machine_value,
                    "agree": tag.agree,
                    "corrected_primary_reason": review.corrected_primary_reason,
                    "corrected_avoidable_category": review.corrected_avoidable_category,
                }
            )
    df = pd.DataFrame(rows, columns=REVIEW_COLUMNS)
    df = df.astype(
        {
            "call_id": "string",
            "call_date": "string",
            "reviewer": "string",
            "tag": "string",
            "machine_value": "string",
            "corrected_primary_reason": "string",
            "corrected_avoidable_category": "string",
            "reviewed": "bool",
            "agree": "bool",
        }
    )
    df["reviewed_at"] = pd.to_datetime(df["reviewed_at"], utc=True)
    folder = store.out_dir / "reviews"
    _write_atomic(df, folder / "reviews.parquet")
    _write_atomic(_agreement(df[df["reviewed"]]), folder / "agreement.parquet")
    return folder


def _agreement(reviews: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for tag, group in reviews.groupby("tag", sort=True):
        n = len(group)
        agree = int(group["agree"].sum())
        low, high = _wilson(agree, n)
        rows.append(
            {
                "tag": str(tag),
                "n_reviewed": n,
                "n_agree": agree,
                "agreement": agree / n,
                "ci_low": low,
                "ci_high": high,
            }
        )
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def agreement(out_dir: Path, month: str | None = None) -> pd.DataFrame:
    """Share of reviewed tags the reviewers agreed with, per tag, with a 95% interval.

    Only reviews marked reviewed count. `month` ("YYYY-MM") keeps calls of that month.
    An empty frame (same columns) when nothing has been reviewed.
    """
    path = out_dir / "reviews" / "reviews.parquet"
    if not path.is_file():
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    reviews = pd.read_parquet(path)
    reviews = reviews[reviews["reviewed"]]
    if month is not None:
        reviews = reviews[reviews["call_date"].fillna("").str.startswith(month)]
    return _agreement(reviews)
