"""Calendar months given as "YYYY-MM": their first and last days."""

from __future__ import annotations

from datetime import date, timedelta

__all__ = ["month_bounds"]


def month_bounds(month: str) -> tuple[date, date]:
    """The first and last day of `month` ("YYYY-MM"); a `ValueError` that says so otherwise."""
    try:
        start = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise ValueError(f"month must look like 2025-03 (YYYY-MM), not {month!r}") from None
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, following - timedelta(days=1)
