"""The periods a run covers when given none: last night and last month, in the council's
time zone (the `timezone` setting), so a run just after midnight picks the right day."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["last_month", "last_night"]


def _today(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def last_night(timezone: str) -> date:
    """The day before today in `timezone`: the night a nightly run screens by default."""
    return _today(timezone) - timedelta(days=1)


def last_month(timezone: str = "Europe/London") -> str:
    """The month before today's, as YYYY-MM (what the schedule on the 1st reports on)."""
    return (_today(timezone).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
