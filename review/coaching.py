"""What a quality lead needs to coach an agent fairly: each rate with its uncertainty, the
calls behind it, the leads' review notes on those calls, and the coaching log.

An agent's rate rests on the few of their calls that were screened, so it is shown with a 95%
Wilson interval (statsmodels), good at small n and near 0% or 100% where the normal
approximation fails. A rate is **too few calls to judge** when it rests on fewer than
`MIN_CALLS` calls or its interval is wider than `MAX_INTERVAL_WIDTH` (40 percentage points):
the agent's true rate could then be far from the one shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from statsmodels.stats.proportion import proportion_confint

from review.db import CoachingEntry, Review

__all__ = [
    "MAX_INTERVAL_WIDTH",
    "MAX_TEXT",
    "MIN_CALLS",
    "CallNote",
    "Rate",
    "coaching_log",
    "parse_held_on",
    "rate_of",
    "review_notes",
]

#: Fewer calls than this: too few to judge, whatever the interval says.
MIN_CALLS = 10
#: An interval wider than this (a fraction: 0.40 = 40 percentage points) is too wide to judge.
MAX_INTERVAL_WIDTH = 0.40
#: The longest text a coaching entry's field takes, like a review's notes.
MAX_TEXT = 5000


@dataclass(frozen=True)
class Rate:
    """A share of an agent's calls (e.g. checks passed) with its 95% Wilson interval."""

    successes: int
    n: int
    estimate: float
    ci_low: float
    ci_high: float

    @property
    def too_few(self) -> bool:
        """Too few calls to judge: under `MIN_CALLS`, or an interval over 40 points wide."""
        return self.n < MIN_CALLS or self.ci_high - self.ci_low > MAX_INTERVAL_WIDTH

    @property
    def share_text(self) -> str:
        """ "72%": whole percentages, since the interval is wider than any decimal place."""
        return f"{self.estimate:.0%}" if self.n else "No calls"

    @property
    def range_text(self) -> str:
        """ "48%–88%", the 95% interval."""
        return f"{self.ci_low:.0%}–{self.ci_high:.0%}" if self.n else ""

    @property
    def text(self) -> str:
        """ "72% (48%–88%, 11 calls)"."""
        if self.n == 0:
            return "No calls"
        calls = "1 call" if self.n == 1 else f"{self.n} calls"
        return f"{self.share_text} ({self.range_text}, {calls})"


def rate_of(values: Iterable[object]) -> Rate:
    """The share of true values among the known ones (None and NaN are left out)."""
    known = [bool(v) for v in values if v is not None and not pd.isna(v)]
    n, successes = len(known), sum(known)
    if n == 0:
        return Rate(0, 0, float("nan"), float("nan"), float("nan"))
    low, high = proportion_confint(successes, n, alpha=0.05, method="wilson")
    return Rate(successes, n, successes / n, float(low), float(high))


@dataclass(frozen=True)
class CallNote:
    """The notes of the newest review of one call."""

    call_id: str
    call_date: str
    reviewer: str
    written_at: datetime
    notes: str


def review_notes(db: Session, calls: pd.DataFrame) -> list[CallNote]:
    """The notes leads wrote on these calls (the newest review of each, where it has notes),
    newest first."""
    if calls.empty:
        return []
    dates = dict(zip(calls["call_id"].astype(str), calls["call_date"].astype(str), strict=True))
    newest = (
        select(func.max(Review.id)).where(Review.call_id.in_(list(dates))).group_by(Review.call_id)
    )
    rows = db.scalars(
        select(Review)
        .where(Review.id.in_(newest), Review.notes != "")
        .order_by(Review.created_at.desc(), Review.id.desc())
    )
    return [CallNote(r.call_id, dates[r.call_id], r.reviewer, r.created_at, r.notes) for r in rows]


def coaching_log(db: Session, agent_id: str) -> Sequence[CoachingEntry]:
    """The agent's coaching entries, newest conversation first."""
    return db.scalars(
        select(CoachingEntry)
        .where(CoachingEntry.agent_id == agent_id)
        .order_by(CoachingEntry.held_on.desc(), CoachingEntry.id.desc())
    ).all()


def parse_held_on(text: str, today: date) -> date | None:
    """The conversation's date from the form (YYYY-MM-DD), not in the future; None if not."""
    try:
        held = date.fromisoformat(text.strip())
    except ValueError:
        return None
    return held if held <= today else None
