"""Signing in and out, the home redirect and the dashboard every role may see."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from review.db import ROLES, AuditEntry, User, utcnow
from review.export import agreement
from review.labels import label
from review.security import hash_password, needs_rehash, verify_password
from review.web import Viewer, audit, csrf_form, get_db, render, require, session_data, store

__all__ = ["HOME", "LOGIN_LIMIT_PER_IP", "LOGIN_LIMIT_PER_NAME", "LOGIN_WINDOW", "router"]

router = APIRouter()

#: Failed sign-ins allowed per user name, and per address, in the window before refusing.
LOGIN_LIMIT_PER_NAME = 5
LOGIN_LIMIT_PER_IP = 20
LOGIN_WINDOW = timedelta(minutes=15)

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


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "error": None, "name": ""})


@router.post("/login")
def login(
    request: Request,
    form: Annotated[FormData, Depends(csrf_form)],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    name = str(form.get("name", "")).strip()[:100]
    password = str(form.get("password", ""))
    next_path = _safe_next(str(form.get("next", "/")))
    ip = request.client.host if request.client else ""
    since = utcnow() - LOGIN_WINDOW
    failures = (
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == "login_failed", AuditEntry.at >= since)
    )
    by_name = db.scalar(failures.where(AuditEntry.target == name)) or 0
    by_ip = db.scalar(failures.where(AuditEntry.ip == ip)) or 0
    if by_name >= LOGIN_LIMIT_PER_NAME or by_ip >= LOGIN_LIMIT_PER_IP:
        audit(db, request, name, "", "login_blocked", name, "too many failed sign-ins")
        error = (
            "Too many failed attempts. Wait 15 minutes, then try again, or ask an administrator."
        )
        return render(request, "login.html", {"next": next_path, "error": error, "name": name}, 429)
    user = db.scalar(select(User).where(User.name == name))
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not user.active or not ok:
        audit(db, request, name, "", "login_failed", name)
        error = "The user name or password is not right."
        return render(request, "login.html", {"next": next_path, "error": error, "name": name}, 400)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit(db, request, user.name, user.role, "login", user.name)
    session_data(request).login(user.id)
    return RedirectResponse(next_path if next_path != "/" else HOME[user.role], 303)


@router.post("/logout")
def logout(
    request: Request,
    viewer: Annotated[Viewer, Depends(require(*ROLES))],
    _form: Annotated[FormData, Depends(csrf_form)],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    audit(db, request, viewer.name, viewer.role, "logout", viewer.name)
    session_data(request).logout()
    return RedirectResponse("/login", 303)


@router.get("/")
def home(viewer: Annotated[Viewer, Depends(require(*ROLES))]) -> Response:
    return RedirectResponse(HOME[viewer.role], 303)


def _bars(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return sorted(rows, key=lambda r: -float(r["estimate"]))  # type: ignore[arg-type]


@router.get("/dashboard")
def dashboard(
    request: Request, *, month: str = "", viewer: Annotated[Viewer, Depends(require(*ROLES))]
) -> Response:
    data = store(request)
    months = data.months()
    month = month if month in months else (months[0] if months else "")
    est = data.estimates(month) if month else None
    context: dict[str, object] = {
        "months": months,
        "month": month,
        "headlines": [],
        "reasons": [],
        "categories": [],
        "checks": [],
        "queues": [],
        "sampled": None,
        "population": None,
        "has_report": bool(month and data.report_html(month)),
        "agreement": agreement(data.out_dir, month or None).to_dict("records"),
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
    return render(request, "dashboard.html", context)


@router.get("/dashboard/{month}/report")
def monthly_report(
    request: Request, month: str, viewer: Annotated[Viewer, Depends(require(*ROLES))]
) -> Response:
    """The report's own HTML, sandboxed: its inline styles may run, its scripts may not."""
    path = store(request).report_html(month)
    if path is None:
        raise HTTPException(404, "There is no report for that month yet.")
    return FileResponse(
        path, media_type="text/html", headers={"content-security-policy": _REPORT_CSP}
    )
