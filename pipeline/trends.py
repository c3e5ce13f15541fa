"""Every monthly estimate across months: what the report's trend section and the review app's
Trends page draw (with pipeline/charts.py).

Each month's `reports/YYYY-MM/estimates.parquet` holds that month's whole-month estimates; a
trend lines them up over consecutive calendar months. A month without a report, or a metric
without an estimate that month, is a gap, never a zero. Only the rates as tagged are used: the
rate corrected for tagging errors exists only in months with reviews, and would mix two
measures in one line. Light on purpose (pandas only): the review app imports it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.charts import ChartPoint, Scale, estimate_table, trend_chart
from pipeline.correction import METHOD as CORRECTION_METHOD

__all__ = [
    "SENTIMENT_PARTS",
    "TREND_MONTHS",
    "TREND_SECTIONS",
    "TrendChart",
    "TrendTable",
    "month_label",
    "report_months",
    "trend_charts",
    "trend_points",
    "trend_table",
]

#: Calendar months a trend covers at most, up to its newest: two years stay readable.
TREND_MONTHS = 24

#: The trend sections in page order: a title and its metrics, where a name ending in ":" stands
#: for every metric with that prefix (in the order the estimates tables list them).
TREND_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Avoidable contact", ("avoidable_rate", "avoidable_category:")),
    (
        "Complaints, transfers and repeat callers",
        ("complaint_rate", "transferred_rate", "repeat_caller_rate"),
    ),
    ("Why people called", ("reason:",)),
    ("Call quality checks", ("qa:",)),
    ("The council's own flags", ("tags:",)),
    (
        "How callers sounded",
        ("mean:caller_sentiment", "mean:caller_sentiment_opening", "mean:caller_sentiment_closing"),
    ),
)
#: The caller's sentiment means, by the part of the call they cover.
SENTIMENT_PARTS = {
    "mean:caller_sentiment_opening": "Opening third of the call",
    "mean:caller_sentiment_closing": "Closing third of the call",
    "mean:caller_sentiment": "Whole call",
}
#: Shares of a mix (one per reason or category): those never above zero are left out.
_SHARES = ("reason:", "avoidable_category:")
_MONTH = re.compile(r"\d{4}-\d{2}")
_COLUMNS = ["metric", "month", "estimate", "ci_low", "ci_high", "n_sampled"]


@dataclass(frozen=True)
class TrendTable:
    """The whole-month estimates of consecutive calendar months, oldest first.

    `rows` holds metric, month, estimate, ci_low, ci_high and n_sampled, in the estimates
    tables' metric order; a month or metric without an estimate has no row: a gap.
    """

    months: tuple[str, ...]
    rows: pd.DataFrame

    def sections(self) -> list[tuple[str, list[str]]]:
        """`TREND_SECTIONS` with the metrics that have something to show, empty ones left out."""
        order = list(dict.fromkeys(self.rows["metric"]))
        shown = []
        for title, names in TREND_SECTIONS:
            metrics = [
                m
                for name in names
                for m in (
                    [m for m in order if m.startswith(name)] if name.endswith(":") else [name]
                )
                if m in order
            ]
            keep = [m for m in metrics if not m.startswith(_SHARES) or self._above_zero(m)]
            if keep:
                shown.append((title, keep))
        return shown

    def _above_zero(self, metric: str) -> bool:
        return bool((self.rows.loc[self.rows["metric"] == metric, "estimate"] > 0).any())


def month_label(month: str) -> str:
    """ "2025-03" -> "Mar 2025"."""
    return pd.Period(month, freq="M").strftime("%b %Y")


def trend_table(
    estimates: Mapping[str, pd.DataFrame], *, until: str | None = None, limit: int = TREND_MONTHS
) -> TrendTable:
    """Months' estimates tables (month -> table) as one `TrendTable` over the calendar months
    from the first to the newest (or `until`), at most the newest `limit` of them."""
    months = sorted(m for m in estimates if _MONTH.fullmatch(m) and (until is None or m <= until))
    if not months:
        return TrendTable((), pd.DataFrame(columns=_COLUMNS))
    last = pd.Period(months[-1], freq="M")
    first = max(pd.Period(months[0], freq="M"), last - (limit - 1))
    calendar = tuple(str(p) for p in pd.period_range(first, last, freq="M"))
    frames = []
    # Newest first, so the metric order (first appearance) is the newest table's.
    for month in reversed(calendar):
        frame = estimates.get(month)
        if frame is None or frame.empty:
            continue
        whole = frame[(frame["group"] == "all") & (frame["method"] != CORRECTION_METHOD)]
        frames.append(whole.assign(month=month)[_COLUMNS])
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=_COLUMNS)
    rows = rows.dropna(subset=["estimate"]).drop_duplicates(["metric", "month"], keep="first")
    return TrendTable(calendar, rows.reset_index(drop=True))


def trend_points(trends: TrendTable, metric: str) -> list[ChartPoint]:
    """One point per month of `trends` for `metric`, labelled "Mar 2025"; a gap has no
    estimate."""
    found = trends.rows[trends.rows["metric"] == metric].set_index("month")
    points = []
    for month in trends.months:
        if month not in found.index:
            points.append(ChartPoint(month_label(month), None))
            continue
        row = found.loc[month]
        points.append(
            ChartPoint(
                month_label(month),
                float(row["estimate"]),
                float(row["ci_low"]),
                float(row["ci_high"]),
                None if pd.isna(row["n_sampled"]) else int(row["n_sampled"]),
            )
        )
    return points


@dataclass(frozen=True)
class TrendChart:
    """One measure across the months: its name, the chart (SVG) and the table that follows it."""

    metric: str
    name: str
    svg: str
    table: str


def trend_charts(
    trends: TrendTable, name_of: Callable[[str], str], *, table_class: str = ""
) -> list[tuple[str, list[TrendChart]]]:
    """Each section of `trends` with a chart and a table per measure: what the report and the
    review app's Trends page show. `name_of` names a measure other than the caller's sentiment."""
    sections = []
    for number, (title, metrics) in enumerate(trends.sections()):
        charts = []
        for index, metric in enumerate(metrics):
            points = trend_points(trends, metric)
            scale: Scale = "score" if metric.startswith("mean:") else "percent"
            name = (
                f"Caller sentiment, {SENTIMENT_PARTS[metric].lower()}"
                if metric in SENTIMENT_PARTS
                else name_of(metric)
            )
            caption = f"{name}, by month"
            svg = trend_chart(
                points, title=caption, chart_id=f"trend-{number}-{index}", scale=scale
            )
            table = estimate_table(points, caption=caption, scale=scale, table_class=table_class)
            charts.append(TrendChart(metric, name, svg, table))
        sections.append((title, charts))
    return sections


def report_months(out: Path, first: str, last: str) -> list[str]:
    """Months from `first` to `last` (YYYY-MM) with an estimates table under `<out>/reports/`."""
    found = (p.parent.name for p in (Path(out) / "reports").glob("*/estimates.parquet"))
    return sorted(m for m in found if _MONTH.fullmatch(m) and first <= m <= last)
