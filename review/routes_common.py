"""Signing in and out, the home redirect and the dashboard every role may see."""

from __future__ import annotations

from datetime import UTC, date
from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from pipeline.runs import read_runs, run_health
from pipeline.trends import TREND_MONTHS, month_label, trend_charts, trend_table
from review.db import ROLES, User
from review.export import agreement, reviewer_agreement
from review.labels import label
from review.security import (
    MIN_PASSWORD_LENGTH,
    HashBusy,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from review.sessions import (
    claim_attempt,
    clear_attempts,
    end_session,
    revoke_user,
    start_session,
)
from review.tables import Format, page_action, table_response
from review.web import (
    Viewer,
    audit,
    csrf_form,
    get_db,
    now,
    printable,
    render,
    require,
    state,
    store,
)

__all__ = ["HOME", "router"]

router = APIRouter()

#: Where each role lands after signing in.
HOME = {"quality_lead": "/queue", "scrutiny": "/scrutiny", "admin": "/admin/users"}

# Verifying against this when the name is unknown keeps the answer time the same, so the
# timing does not tell an attacker which names exist.
_DUMMY_HASH = hash_password("not-a-real-password-used-only-for-timing")

_HEADLINES = ("avoidable_rate", "complaint_rate", "transferred_rate", "repeat_caller_rate")
_HEADLINE_LABELS = {
    "avoidable_rate": "Avoidable contact",
    "complaint_rate": "Complaints",
    "transferred_rate": "Transferred calls",
    "repeat_caller_rate": "Repeat callers",
}
_REPORT_CSP = (
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"
)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never `//host` or a full URL (open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/healthz")
def healthz() -> Response:
    """For the load balancer and systemd: up or not, and nothing else (no session, no data)."""
    return PlainTextResponse("ok")


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "error": None, "name": ""})


@router.post("/login")
def login(
    request: Request,
    form: Annotated[FormData, Depends(csrf_form)],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    # No user name has a control character; PostgreSQL refuses NUL in any text it is sent.
    name = printable(str(form.get("name", "")).strip(), 100)
    password = str(form.get("password", ""))[:1024]
    next_path = _safe_next(str(form.get("next", "/")))
    ip = state(request).client
    engine = request.app.state.engine
    wait_s = claim_attempt(engine, name, ip, now(request))
    if wait_s:
        audit(db, request, name, "", "login_throttled", name, f"wait {wait_s} s")
        error = f"Too many attempts. Wait {wait_s} seconds, then try again."
        context = {"next": next_path, "error": error, "name": name}
        response = render(request, "login.html", context, 429)
        response.headers["retry-after"] = str(wait_s)
        return response
    user = db.scalar(select(User).where(User.name == name))
    try:
        ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    except HashBusy as exc:
        raise HTTPException(503, str(exc)) from exc
    if user is None or not user.active or not ok:
        audit(db, request, name, "", "login_failed", name)
        error = "The user name or password is not right."
        return render(request, "login.html", {"next": next_path, "error": error, "name": name}, 400)
    clear_attempts(engine, name, ip, now(request))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.commit()
    audit(db, request, user.name, user.role, "login", user.name)
    state(request).new_session_id = start_session(
        db, user.id, now(request), ip, state(request).session_id
    )
    return RedirectResponse(next_path if next_path != "/" else HOME[user.role], 303)


@router.post("/logout")
def logout(
    request: Request,
    viewer: Annotated[Viewer, Depends(require(*ROLES))],
    _form: Annotated[FormData, Depends(csrf_form)],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    audit(db, request, viewer.name, viewer.role, "logout", viewer.name)
    end_session(db, state(request).session_id)
    state(request).clear_session = True
    return RedirectResponse("/login", 303)


def _password_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    context = {"error": error, "min_length": MIN_PASSWORD_LENGTH}
    return render(request, "account_password.html", context, status)


@router.get("/account/password")
def password_page(
    request: Request, viewer: Annotated[Viewer, Depends(require(*ROLES))]
) -> Response:
    return _password_page(request)


@router.post("/account/password")
def change_password(
    request: Request,
    viewer: Annotated[Viewer, Depends(require(*ROLES))],
    form: Annotated[FormData, Depends(csrf_form)],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    """A user changes their own password: every other session of theirs ends, this one is
    replaced by a new one."""
    user = db.get(User, viewer.id)
    assert user is not None  # require() found them a moment ago
    current = str(form.get("current", ""))[:1024]
    password = str(form.get("password", ""))
    # The current password is a sign-in in all but name: throttled the same way.
    wait_s = claim_attempt(request.app.state.engine, user.name, state(request).client, now(request))
    if wait_s:
        audit(db, request, viewer.name, viewer.role, "login_throttled", viewer.name, "password")
        return _password_page(request, f"Too many attempts. Wait {wait_s} seconds.", 429)
    if not verify_password(user.password_hash, current):
        audit(db, request, viewer.name, viewer.role, "password_change_failed", viewer.name)
        return _password_page(request, "Your current password is not right.", 400)
    clear_attempts(request.app.state.engine, user.name, state(request).client, now(request))
    problem = password_problem(password, user.name)
    if problem is None and password != form.get("confirm"):
        problem = "The two new passwords are not the same."
    if problem is None and verify_password(user.password_hash, password):
        problem = "Choose a password different from your current one."
    if problem:
        return _password_page(request, problem, 400)
    user.password_hash = hash_password(password)
    db.commit()
    revoke_user(db, user.id)
    audit(db, request, viewer.name, viewer.role, "password_changed", viewer.name)
    state(request).new_session_id = start_session(
        db, user.id, now(request), state(request).client, None
    )
    return RedirectResponse(HOME[user.role], 303)


@router.get("/")
def home(viewer: Annotated[Viewer, Depends(require(*ROLES))]) -> Response:
    return RedirectResponse(HOME[viewer.role], 303)


def _bars(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return sorted(rows, key=lambda r: -float(r["estimate"]))  # type: ignore[arg-type]


#: The dashboard's tables in a download: sheet name -> the context key that holds its rows.
_DASHBOARD_TABLES = {
    "Headlines": "headlines",
    "Reasons for contact": "reasons",
    "Avoidable by category": "categories",
    "Quality checks": "checks",
    "Avoidable by queue": "queues",
}
_DASHBOARD_COLUMNS = [
    "label",
    "metric",
    "group",
    "estimate",
    "ci_low",
    "ci_high",
    "n_sampled",
    "population",
]


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


def _shown_month(asked: str, months: list[str]) -> str:
    """The month a page shows: the one asked for if there is a report for it, else the newest."""
    return asked if asked in months else (months[0] if months else "")


@router.get("/dashboard")
def dashboard(
    request: Request,
    *,
    month: str = "",
    fmt: Annotated[Format, Query(alias="format")] = "",
    viewer: Annotated[Viewer, Depends(require(*ROLES))],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    data = store(request)
    months = data.months()
    month = _shown_month(month, months)
    audit(db, request, viewer.name, viewer.role, page_action("dashboard", fmt), month, fmt)
    est = data.estimates(month) if month else None
    context: dict[str, object] = {
        "months": months,
        "month": month,
        "headlines": [],
        "reasons": [],
        "categories": [],
        "checks": [],
        "council_tags": [],
        "queues": [],
        "sampled": None,
        "population": None,
        "has_report": bool(month and data.report_html(month)),
        "agreement": agreement(data.out_dir, month or None).to_dict("records"),
        "reviewer_agreement": reviewer_agreement(data.out_dir, month or None).to_dict("records"),
    }
    if est is not None and not est.empty:
        rows = est.to_dict("records")
        overall = [r for r in rows if r["group"] == "all"]
        by_metric = {r["metric"]: r for r in overall}
        context["headlines"] = [
            {**by_metric[m], "label": _HEADLINE_LABELS[m]} for m in _HEADLINES if m in by_metric
        ]
        if "avoidable_rate" in by_metric:
            context["sampled"] = by_metric["avoidable_rate"].get("n_sampled")
            context["population"] = by_metric["avoidable_rate"].get("population")
        for key, prefix in (
            ("reasons", "reason:"),
            ("categories", "avoidable_category:"),
            ("checks", "qa:"),
            ("council_tags", "tags:"),
        ):
            context[key] = _bars(
                [
                    {**r, "label": label(r["metric"].removeprefix(prefix))}
                    for r in overall
                    if r["metric"].startswith(prefix)
                ]
            )
        context["queues"] = _bars(
            [
                {**r, "label": label(r["group"].removeprefix("queue:"))}
                for r in rows
                if r["metric"] == "avoidable_rate" and str(r["group"]).startswith("queue:")
            ]
        )
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
    request: Request,
    *,
    month: str = "",
    fmt: Annotated[Format, Query(alias="format")] = "",
    viewer: Annotated[Viewer, Depends(require(*ROLES))],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    """The month's full estimates table (`reports/<month>/estimates.parquet`), every row."""
    data = store(request)
    months = data.months()
    month = _shown_month(month, months)
    audit(db, request, viewer.name, viewer.role, page_action("estimates", fmt), month, fmt)
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
def trends(
    request: Request,
    viewer: Annotated[Viewer, Depends(require(*ROLES))],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    """Every whole-month estimate across the months with a report, as charts and tables."""
    data = store(request)
    # Only the newest months a trend can show are read (months() is newest first).
    table = trend_table({m: data.estimates(m) for m in data.months()[:TREND_MONTHS]})
    audit(db, request, viewer.name, viewer.role, "view_trends")
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
def monthly_report(
    request: Request,
    month: str,
    viewer: Annotated[Viewer, Depends(require(*ROLES))],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    """The report's own HTML, sandboxed: its inline styles may run, its scripts may not."""
    path = store(request).report_html(month)
    if path is None:
        raise HTTPException(404, "There is no report for that month yet.")
    audit(db, request, viewer.name, viewer.role, "view_report", month)
    return FileResponse(
        path, media_type="text/html", headers={"content-security-policy": _REPORT_CSP}
    )
