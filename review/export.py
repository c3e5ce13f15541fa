"""Reviews fed back to the Parquet output, and human-machine agreement per tag.

`<out>/reviews/reviews.parquet`: one row per (call, tag) of the newest review of each call:
`call_id, call_date, reviewer, reviewed_at, reviewed, tag, machine_value, agree,
corrected_primary_reason, corrected_avoidable_category, safeguarding_action`. Reviewers'
free-text notes (and safeguarding notes) stay in the database: they may name people.
`<out>/reviews/agreement.parquet` is `agreement(out_dir)`, and
`<out>/reviews/reviewer_agreement.parquet` is `reviewer_agreement(out_dir)`: how often two
quality leads who reviewed the same call agreed, per month and tag, with Cohen's kappa.
Read each file on its own (the tables have different columns).

The monthly report calls `agreement(out_dir, month="YYYY-MM")`.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.files import atomic_write_table
from review.data import OutputStore
from review.db import Review

__all__ = [
    "AGREEMENT_COLUMNS",
    "REVIEWER_AGREEMENT_COLUMNS",
    "REVIEW_COLUMNS",
    "agreement",
    "export_reviews",
    "read_reviews",
    "reviewer_agreement",
]

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
    "safeguarding_action",
]
REVIEWER_AGREEMENT_COLUMNS = ["month", "tag", "n_calls", "n_agree", "agreement", "kappa"]
AGREEMENT_COLUMNS = ["tag", "n_reviewed", "n_agree", "agreement", "ci_low", "ci_high"]


def _write_atomic(df: pd.DataFrame, path: Path) -> None:
    atomic_write_table(pa.Table.from_pandas(df, preserve_index=False), path)


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
    # Each lead's newest finished review of each call, for their agreement with each other.
    finished: dict[tuple[str, str], Review] = {}
    for review in db.scalars(select(Review).order_by(Review.created_at, Review.id)):
        latest[review.call_id] = review
        if review.reviewed:
            finished[(review.call_id, review.reviewer)] = review
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
                    "safeguarding_action": review.safeguarding_action,
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
            "safeguarding_action": "string",
            "reviewed": "bool",
            "agree": "bool",
        }
    )
    df["reviewed_at"] = pd.to_datetime(df["reviewed_at"], utc=True)
    folder = store.out_dir / "reviews"
    _write_atomic(df, folder / "reviews.parquet")
    _write_atomic(_agreement(df[df["reviewed"]]), folder / "agreement.parquet")
    verdicts = [
        {
            "call_id": review.call_id,
            "month": str((store.call(review.call_id) or {}).get("call_date") or "")[:7],
            "reviewer": review.reviewer,
            "reviewed_at": _utc(review.created_at),
            "tag": tag.tag,
            "agree": tag.agree,
        }
        for review in finished.values()
        for tag in review.tags
    ]
    _write_atomic(_reviewer_agreement(verdicts), folder / "reviewer_agreement.parquet")
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


def read_reviews(out_dir: Path) -> pd.DataFrame:
    """`<out>/reviews/reviews.parquet` as written, newest review first; empty (same columns)
    before anything has been reviewed."""
    path = out_dir / "reviews" / "reviews.parquet"
    if not path.is_file():
        return pd.DataFrame(columns=REVIEW_COLUMNS)
    # A file exported before a column existed reads with that column empty.
    reviews = pd.read_parquet(path).reindex(columns=REVIEW_COLUMNS)
    return reviews.sort_values(
        ["reviewed_at", "call_id", "tag"], ascending=[False, True, True], kind="stable"
    ).reset_index(drop=True)


def _kappa(first: list[bool], second: list[bool]) -> float:
    """Cohen's kappa of two leads' verdicts; undefined (NaN) when both gave one same verdict
    throughout, since chance agreement is then certain."""
    if len(set(first) | set(second)) < 2:
        return math.nan
    return float(cohen_kappa_score(first, second))


def _reviewer_agreement(verdicts: list[dict[str, object]]) -> pd.DataFrame:
    """Per month (of the call) and tag: calls two different leads reviewed (the first two to
    finish, when more did), how many of those the two gave the same verdict, and kappa."""
    by_call: dict[str, list[dict[str, object]]] = {}
    for v in verdicts:
        by_call.setdefault(str(v["call_id"]), []).append(v)
    pairs: dict[tuple[str, str], tuple[list[bool], list[bool]]] = {}
    for rows in by_call.values():
        rows.sort(key=lambda r: pd.Timestamp(r["reviewed_at"]))  # type: ignore[arg-type]
        leads = list(dict.fromkeys(str(r["reviewer"]) for r in rows))
        if len(leads) < 2:
            continue
        first = {r["tag"]: bool(r["agree"]) for r in rows if r["reviewer"] == leads[0]}
        second = {r["tag"]: bool(r["agree"]) for r in rows if r["reviewer"] == leads[1]}
        for tag in first.keys() & second.keys():
            a, b = pairs.setdefault((str(rows[0]["month"]), str(tag)), ([], []))
            a.append(first[tag])
            b.append(second[tag])
    out = []
    for (month, tag), (a, b) in sorted(pairs.items()):
        same = sum(x == y for x, y in zip(a, b, strict=True))
        out.append(
            {
                "month": month,
                "tag": tag,
                "n_calls": len(a),
                "n_agree": same,
                "agreement": same / len(a),
                "kappa": _kappa(a, b),
            }
        )
    return pd.DataFrame(out, columns=REVIEWER_AGREEMENT_COLUMNS)


def reviewer_agreement(out_dir: Path, month: str | None = None) -> pd.DataFrame:
    """How often two quality leads agreed on the same call, per month and tag (calibration):
    `n_calls` reviewed by both, `n_agree` given the same verdict, `agreement` and Cohen's
    `kappa` (NaN where undefined). `month` ("YYYY-MM") keeps one month; empty (same columns)
    before any call was reviewed twice."""
    path = out_dir / "reviews" / "reviewer_agreement.parquet"
    if not path.is_file():
        return pd.DataFrame(columns=REVIEWER_AGREEMENT_COLUMNS)
    table = pd.read_parquet(path)
    return table[table["month"] == month] if month is not None else table


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
