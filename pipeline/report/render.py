"""report.html: the month's estimates in plain words, each chart followed by its table.

The figures are laid out here (what goes in which section, in which words and format) and
templates/report.html draws them. Charts are inline SVG (pipeline/charts.py); the page has no
scripts and fetches nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import pandas as pd
from markupsafe import Markup

from pipeline.charts import ChartPoint, bar_chart
from pipeline.correction import METHOD as CORRECTION_METHOD
from pipeline.report.pages import render_page
from pipeline.trends import SENTIMENT_PARTS, TrendTable, month_label, trend_charts

__all__ = ["render_report"]

#: The measures of the headline table, in its order.
_HEADLINE = ["avoidable_rate", "complaint_rate", "transferred_rate", "repeat_caller_rate"]
_NAMES = {
    "avoidable_rate": "Avoidable contact",
    "complaint_rate": "Complaints",
    "transferred_rate": "Transferred",
    "repeat_caller_rate": "Repeat callers",
}


@dataclass(frozen=True)
class Corrected:
    """A rate corrected for the tagger's errors, as written."""

    estimate: str
    interval: str
    reviewed: str


@dataclass(frozen=True)
class EstimateRow:
    """One measure or group of a table, as written; `corrected` where it has a corrected rate."""

    name: str
    estimate: str
    interval: str
    change: str
    n_sampled: str
    corrected: Corrected | None = None


@dataclass(frozen=True)
class EstimateTable:
    """A table of estimates; `with_corrected` adds the corrected rate and reviewed calls."""

    caption: str
    first_header: str
    with_corrected: bool
    rows: tuple[EstimateRow, ...]


@dataclass(frozen=True)
class ChartSection:
    """A section of this month's bars (inline SVG) and the table of their figures."""

    heading: str
    figure: Markup
    table: EstimateTable


@dataclass(frozen=True)
class TrendSection:
    """One section of the trends: its title and each measure's name, chart and table."""

    title: str
    charts: tuple[tuple[str, Markup, Markup], ...]


def _pct(value: float) -> str:
    return "–" if pd.isna(value) else f"{value * 100:.1f}%"


def _change(value: float) -> str:
    return "–" if pd.isna(value) else f"{value * 100:+.1f} pts"


def _score(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:+.2f}"


def _label(metric: str, names: Mapping[str, str]) -> str:
    """A metric's words: the vocabulary's label (`names`), else a fixed one."""
    if metric in names:
        return names[metric]
    _, _, name = metric.partition(":")
    return _NAMES.get(metric, name.replace("_", " ").capitalize() if name else metric)


def _corrected(row: Any) -> Corrected:
    return Corrected(
        _pct(row.estimate), f"{_pct(row.ci_low)} to {_pct(row.ci_high)}", str(int(row.n_reviewed))
    )


def _estimate_row(r: Any, name: str, corrected: pd.DataFrame | None) -> EstimateRow:
    """A row of estimates (a DataFrame row) as written, with its rate from `corrected`
    (indexed by metric) where that has one."""
    return EstimateRow(
        name,
        _pct(r.estimate),
        f"{_pct(r.ci_low)} to {_pct(r.ci_high)}",
        _change(r.change),
        f"{r.n_sampled}",
        _corrected(corrected.loc[r.metric])
        if corrected is not None and r.metric in corrected.index
        else None,
    )


def _estimate_table(
    rows: pd.DataFrame,
    first: Literal["metric", "group"],
    corrected: pd.DataFrame,
    *,
    caption: str,
    names: Mapping[str, str],
) -> EstimateTable:
    """Measures (or one measure's groups) as a table; a measure with a row in `corrected`
    (indexed by metric) has its corrected rate beside it."""
    with_corrected = not corrected.empty and first == "metric"
    rows_out = tuple(
        _estimate_row(
            r,
            _label(r.metric, names) if first == "metric" else str(r.group).split(":", 1)[-1],
            corrected if with_corrected else None,
        )
        for r in rows.itertuples()
    )
    header = "Measure" if first == "metric" else "Group"
    return EstimateTable(caption, header, with_corrected, rows_out)


class _Bars(NamedTuple):
    """A bar chart section: its heading, the chart's title and id, and the rows it draws
    (measures, or `first` "group": one measure's groups)."""

    heading: str
    title: str
    chart_id: str
    rows: pd.DataFrame
    first: Literal["metric", "group"] = "metric"


def _chart_sections(
    estimates: pd.DataFrame,
    overall: pd.DataFrame,
    corrected: pd.DataFrame,
    names: Mapping[str, str],
) -> list[ChartSection]:
    """This month's bar charts, each with its table: reasons, avoidable categories, queues,
    quality checks and the council's own flags; a section without estimates is left out."""

    def pick(prefix: str) -> pd.DataFrame:
        return overall[overall.index.str.startswith(prefix)].reset_index()

    reasons = pick("reason:").sort_values("estimate", ascending=False)
    by_queue = estimates[
        (estimates["metric"] == "avoidable_rate") & estimates["group"].str.startswith("queue:")
    ].sort_values("estimate", ascending=False)
    specs = [
        _Bars(
            "Why people called",
            "Main reason for the call",
            "reasons",
            reasons[reasons["estimate"] > 0],
        ),
        _Bars(
            "Avoidable contact by type (NI14)",
            "Avoidable contact by type, as a share of all calls",
            "categories",
            pick("avoidable_category:"),
        ),
        _Bars(
            "Avoidable contact by phone queue",
            "Avoidable share of each queue's calls",
            "queues",
            by_queue,
            "group",
        ),
        _Bars("Call quality checks", "Calls passing each quality check", "qa", pick("qa:")),
        _Bars(
            "The council's own flags",
            "Calls with each of the council's own flags",
            "tags",
            pick("tags:"),
        ),
    ]
    sections = []
    for heading, title, chart_id, rows, first in specs:
        if rows.empty:
            continue
        table = _estimate_table(rows, first, corrected, caption=title, names=names)
        points = [
            ChartPoint(row.name, float(r.estimate), float(r.ci_low), float(r.ci_high))
            for row, r in zip(table.rows, rows.itertuples(), strict=True)
        ]
        figure = Markup(bar_chart(points, title=title, chart_id=chart_id))
        sections.append(ChartSection(heading, figure, table))
    return sections


def _sentiment_rows(rows: pd.DataFrame) -> tuple[EstimateRow, ...] | None:
    """The caller's mean sentiment by part of the call, on VADER's -1..+1 scale; None when the
    month has no sentiment estimates."""
    if rows.empty:
        return None
    rows = rows.reindex(list(SENTIMENT_PARTS)).dropna(subset=["estimate"])
    return tuple(
        EstimateRow(
            SENTIMENT_PARTS[str(metric)],
            _score(r.estimate),
            f"{_score(r.ci_low)} to {_score(r.ci_high)}",
            _score(r.change),
            str(int(r.n_sampled)),
        )
        for metric, r in rows.iterrows()
    )


def _trend_sections(trends: TrendTable, names: Mapping[str, str]) -> list[TrendSection]:
    return [
        TrendSection(title, tuple((c.name, Markup(c.svg), Markup(c.table)) for c in charts))
        for title, charts in trend_charts(trends, lambda metric: _label(metric, names))
    ]


def render_report(
    *,
    month: str,
    estimates: pd.DataFrame,
    callers: pd.DataFrame,
    nights: int,
    n_random: int,
    n_targeted: int,
    calls_in_log: int,
    trends: TrendTable,
    names: Mapping[str, str],
) -> str:
    """The report page from the month's estimates (with their change from last month), its
    frequent callers and `trends`; `names` are the vocabulary's words for the metrics.
    `calls_in_log` counts inbound calls: the repeat-caller rate's denominator."""
    is_corrected = estimates["method"] == CORRECTION_METHOD
    overall = estimates[(estimates["group"] == "all") & ~is_corrected].set_index("metric")
    corrected = estimates[is_corrected].set_index("metric")
    headline = overall.reindex(_HEADLINE).dropna(subset=["estimate"]).reset_index()
    table = _estimate_table(
        headline, "metric", corrected, caption="Headline measures this month", names=names
    )
    lead = (
        _estimate_row(overall.loc["avoidable_rate"], "", None)
        if "avoidable_rate" in overall.index
        else None
    )
    return render_page(
        "report.html",
        print_title=f"Calls to the council: {month}",
        month=month,
        lead=lead,
        corrected_lead=_corrected(corrected.loc["avoidable_rate"])
        if "avoidable_rate" in corrected.index
        else None,
        headline=table,
        charts=_chart_sections(estimates, overall, corrected, names),
        sentiment=_sentiment_rows(overall[overall.index.str.startswith("mean:")]),
        callers=[
            (str(c.caller), f"{c.calls}", ", ".join(map(str, c.queues)))
            for c in callers.itertuples()
        ],
        trend_span=(month_label(trends.months[0]), month_label(trends.months[-1]))
        if len(trends.months) >= 2
        else None,
        trends=_trend_sections(trends, names) if len(trends.months) >= 2 else [],
        nights=nights,
        n_random=n_random,
        n_targeted=n_targeted,
        calls_in_log=calls_in_log,
    )
