"""The monthly figures every role may see: the dashboard, every estimate as a table, the
trends across months and the monthly report itself."""

from __future__ import annotations

from datetime import UTC, date
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from pipeline.runs import read_runs, run_health
from pipeline.store import ESTIMATES
from pipeline.trends import TREND_MONTHS, month_label, trend_charts, trend_table
from review.data import OutputStore
from review.export import agreement, reviewer_agreement
from review.labels import label
from review.tables import FormatQuery, page_action, table_response
from review.web import AnyViewer, DbSession, Viewer, audit_by, now, render, store

__all__ = ["router"]

router = APIRouter()

_HEADLINES = ("avoidable_rate", "complaint_rate", "transferred_rate", "repeat_caller_rate")
_HEADLINE_LABELS = {
    "avoidable_rate": "Avoidable contact",
    "complaint_rate": "Complaints",
    "transferred_rate": "Transferred calls",
    "repeat_caller_rate": "Repeat callers",
}
#: The dashboard's bar charts of whole-month rates: context key -> the metrics' prefix.
_BARS = {
    "reasons": "reason:",
    "categories": "avoidable_category:",
    "checks": "qa:",
    "council_tags": "tags:",
}
#: The dashboard's tables in a download: sheet name -> the context key that holds its rows.
_DASHBOARD_TABLES = {
    "Headlines": "headlines",
    "Reasons for contact": "reasons",
    "Avoidable by category": "categories",
    "Quality checks": "checks",
    "Avoidable by queue": "queues",
}
#: Their columns: the label the dashboard shows, then the estimates' own columns
#: (pipeline/store.py) as far as the population.
_DASHBOARD_COLUMNS = ["label", *ESTIMATES.columns[: ESTIMATES.columns.index("population") + 1]]
_REPORT_CSP = (
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"
)


def _bars(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: -float(r["estimate"]))


def _dashboard_tables(context: dict[str, object]) -> dict[str, pd.DataFrame]:
    """Each table the dashboard draws, in the order and with the labels it shows."""
    return {
        sheet: pd.DataFrame(context[key], columns=_DASHBOARD_COLUMNS)  # type: ignore[call-overload]
        for sheet, key in _DASHBOARD_TABLES.items()
    }


@lru_cache(maxsize=1)
def _nights_zone() -> ZoneInfo:
    """The time zone nights are counted in (the `timezone` setting), read once per process."""
    from pipeline.config import Settings

    return ZoneInfo(Settings().timezone)


def _local_today(request: Request) -> date:
    moment = now(request)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(_nights_zone()).date()


def _month_page(
    request: Request, db: Session, viewer: Viewer, page: str, month: str, fmt: str
) -> tuple[OutputStore, list[str], str]:
    """(the output, its report months, the month shown) of a month's page, audited: the month
    asked for if there is a report for it, else the newest."""
    data = store(request)
    months = data.months()
    month = month if month in months else (months[0] if months else "")
    audit_by(db, request, viewer, page_action(page, fmt), month, fmt)
    return data, months, month


def _figures(estimates: pd.DataFrame) -> dict[str, object]:
    """The dashboard's headlines, bar charts and sample size from a month's estimates."""
    rows = estimates.to_dict("records")
    overall = [r for r in rows if r["group"] == "all"]
    by_metric = {r["metric"]: r for r in overall}
    figures: dict[str, object] = {
        "headlines": [
            {**by_metric[m], "label": _HEADLINE_LABELS[m]} for m in _HEADLINES if m in by_metric
        ],
    }
    if "avoidable_rate" in by_metric:
        figures["sampled"] = by_metric["avoidable_rate"].get("n_sampled")
        figures["population"] = by_metric["avoidable_rate"].get("population")
    for key, prefix in _BARS.items():
        figures[key] = _bars(
            [
                {**r, "label": label(r["metric"].removeprefix(prefix))}
                for r in overall
                if r["metric"].startswith(prefix)
            ]
        )
    figures["queues"] = _bars(
        [
            {**r, "label": label(r["group"].removeprefix("queue:"))}
            for r in rows
            if r["metric"] == "avoidable_rate" and str(r["group"]).startswith("queue:")
        ]
    )
    return figures


@router.get("/dashboard")
def dashboard(
    request: Request, viewer: AnyViewer, db: DbSession, month: str = "", fmt: FormatQuery = ""
) -> Response:
    data, months, month = _month_page(request, db, viewer, "dashboard", month, fmt)
    est = data.estimates(month) if month else None
    context: dict[str, object] = {
        "months": months,
        "month": month,
        "headlines": [],
        **{key: [] for key in _BARS},
        "queues": [],
        "sampled": None,
        "population": None,
        "has_report": bool(month and data.report_html(month)),
        "agreement": agreement(data.out_dir, month or None).to_dict("records"),
        "reviewer_agreement": reviewer_agreement(data.out_dir, month or None).to_dict("records"),
    }
    if est is not None and not est.empty:
        context.update(_figures(est))
    if fmt:
        return table_response(_dashboard_tables(context), f"dashboard-{month}", fmt)
    # How last night's screening went: for the people who act on it, not for councillors.
    context["health"] = (
        None
        if viewer.role == "scrutiny"
        else run_health(read_runs(data.out_dir), _local_today(request))
    )
    return render(request, "dashboard.html", context)


def _metric_label(metric: str) -> str:
    """An estimate's metric in plain English: "reason:council_tax" -> "Reason: Council Tax"."""
    if metric in _HEADLINE_LABELS:
        return _HEADLINE_LABELS[metric]
    kind, _, value = metric.partition(":")
    if not value:
        return label(metric)
    kinds = {"reason": "Reason", "avoidable_category": "Avoidable", "qa": "Quality check"}
    if kind == "tags":
        return label(value)  # "Accessibility: Needs a BSL interpreter"
    return f"{kinds.get(kind, label(kind))}: {label(value)}"


def _group_label(group: str) -> str:
    """ "all" -> "All calls"; "queue:housing" -> "Queue: Housing"; "team:Blue" -> "Team: Blue"."""
    if group == "all":
        return "All calls"
    kind, _, value = group.partition(":")
    return f"{label(kind)}: {label(value) if kind == 'queue' else value}" if value else group


@router.get("/estimates")
def estimates(
    request: Request, viewer: AnyViewer, db: DbSession, month: str = "", fmt: FormatQuery = ""
) -> Response:
    """The month's full estimates table (`reports/<month>/estimates.parquet`), every row."""
    data, months, month = _month_page(request, db, viewer, "estimates", month, fmt)
    table = data.estimates(month) if month else pd.DataFrame()
    if fmt:
        return table_response(table, f"estimates-{month or 'none'}", fmt)
    rows = [
        {
            **r,
            "what": _metric_label(str(r["metric"])),
            "where": _group_label(str(r["group"])),
            "is_mean": str(r["metric"]).startswith("mean:"),
        }
        for r in table.to_dict("records")
    ]
    return render(request, "estimates.html", {"months": months, "month": month, "rows": rows})


def _trend_name(metric: str) -> str:
    """A trend's name: the headline's, else the taxonomy id's label."""
    return _HEADLINE_LABELS.get(metric) or label(metric.partition(":")[2] or metric)


@router.get("/trends")
def trends(request: Request, viewer: AnyViewer, db: DbSession) -> Response:
    """Every whole-month estimate across the months with a report, as charts and tables."""
    data = store(request)
    # Only the newest months a trend can show are read (months() is newest first).
    table = trend_table({m: data.estimates(m) for m in data.months()[:TREND_MONTHS]})
    audit_by(db, request, viewer, "view_trends")
    sections = [
        {
            "title": title,
            "id": f"section-{number}",
            "charts": [
                {
                    "name": c.name,
                    "chart": Markup(c.svg),
                    "table": Markup(c.table),
                    "census": c.metric == "repeat_caller_rate",
                }
                for c in charts
            ],
        }
        for number, (title, charts) in enumerate(
            trend_charts(table, _trend_name, table_class="table table--compact")
        )
    ]
    return render(
        request,
        "trends.html",
        {
            "sections": sections,
            "first": month_label(table.months[0]) if table.months else "",
            "last": month_label(table.months[-1]) if table.months else "",
            "n_months": len(table.months),
        },
    )


@router.get("/dashboard/{month}/report")
def monthly_report(request: Request, month: str, viewer: AnyViewer, db: DbSession) -> Response:
    """The report's own HTML, sandboxed: its inline styles may run, its scripts may not."""
    path = store(request).report_html(month)
    if path is None:
        raise HTTPException(404, "There is no report for that month yet.")
    audit_by(db, request, viewer, "view_report", month)
    return FileResponse(
        path, media_type="text/html", headers={"content-security-policy": _REPORT_CSP}
    )
