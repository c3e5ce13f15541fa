"""What every page shares: who is asking, the CSRF check, the audit log, rendering."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import insert
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from pipeline.report.pages import template_environment
from review import labels
from review.data import OutputStore
from review.db import ROLES, AuditEntry, utcnow, write_turn
from review.security import RequestState, check_csrf
from review.sessions import LiveSession, load_session

__all__ = [
    "AdminViewer",
    "AnyViewer",
    "CSRFRefused",
    "DbSession",
    "LeadViewer",
    "LoginRequired",
    "MemberViewer",
    "PostedForm",
    "Viewer",
    "audit",
    "audit_by",
    "csrf_form",
    "current_session",
    "fmt_duration",
    "fmt_time",
    "get_db",
    "in_scope",
    "make_templates",
    "now",
    "paged",
    "printable",
    "render",
    "require",
    "state",
    "store",
    "today",
]

_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Viewer:
    """The signed-in user, detached from the database session."""

    id: int
    name: str
    role: str
    scope: tuple[str, ...] = ()
    session: str = ""  # the session's id hash: listen tokens are bound to it


class LoginRequired(Exception):
    """Raised by `require()` for anonymous requests; answered with a redirect to /login."""


def fmt_time(seconds: object) -> str:
    """12.4 -> "0:12"; the label on transcript timestamps."""
    if not isinstance(seconds, int | float) or math.isnan(seconds):
        return ""
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def fmt_duration(seconds: object) -> str:
    """254 -> "4 min 14 s"."""
    if not isinstance(seconds, int | float) or math.isnan(seconds):
        return "Unknown"
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60} s" if whole >= 60 else f"{whole} s"


def _pct(value: object, digits: int = 0) -> str:
    if not isinstance(value, int | float) or math.isnan(value):
        return "–"
    return f"{value * 100:.{digits}f}%"


def make_templates() -> jinja2.Environment:
    env = template_environment(_TEMPLATES)
    env.globals.update(
        label=labels.label,
        flag_label=labels.flag_label,
        tag_label=labels.tag_label,
        describe_tag=labels.describe_tag,
        QA_CHECKS=labels.QA_CHECKS,
        CONTACT_REASONS=labels.CONTACT_REASONS,
        AVOIDABLE_CATEGORIES=labels.AVOIDABLE_CATEGORIES,
    )
    env.filters.update(time=fmt_time, duration=fmt_duration, pct=_pct)
    return env


def state(request: Request) -> RequestState:
    """What the security middleware read from this request (cookies, client address)."""
    return request.scope["callqa"]


def now(request: Request) -> datetime:
    """The app's clock: a parameter of the app, so tests can move time without patching."""
    return request.app.state.clock()


def today(request: Request) -> str:
    """The app's date as YYYY-MM-DD (download names, a form's default date)."""
    return now(request).date().isoformat()


def store(request: Request) -> OutputStore:
    return request.app.state.store


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as db:
        yield db


#: A route's database session (a parameter annotated so).
DbSession = Annotated[Session, Depends(get_db)]


def current_session(request: Request, db: Session) -> LiveSession | None:
    """This request's live session (looked up once per request), or None."""
    if not hasattr(request.state, "session"):
        live = load_session(db, state(request).session_id, now(request))
        if live is None and state(request).session_id:
            state(request).clear_session = True  # an ended session's cookie is dropped
        request.state.session = live
        if live is not None:
            state(request).csrf = live.csrf
    return request.state.session


def _viewer(request: Request, db: Session) -> Viewer | None:
    live = current_session(request, db)
    if live is None:
        return None
    scope = tuple(s for s in live.scope.split(",") if s)
    return Viewer(
        id=live.user_id, name=live.name, role=live.role, scope=scope, session=live.id_hash
    )


def require(*roles: str) -> Callable[..., Viewer]:
    """A dependency: the signed-in user when their role is one of `roles`, else 403."""

    def dependency(request: Request, db: DbSession) -> Viewer:
        viewer = _viewer(request, db)
        if viewer is None:
            raise LoginRequired()
        request.state.viewer = viewer  # set first, so a refusal is audited under their name
        if viewer.role not in roles:
            raise HTTPException(403, "Your role does not give you access to this page.")
        return viewer

    return dependency


#: A route's signed-in user, of the roles the page is for.
AnyViewer = Annotated[Viewer, Depends(require(*ROLES))]
LeadViewer = Annotated[Viewer, Depends(require("quality_lead"))]
MemberViewer = Annotated[Viewer, Depends(require("scrutiny"))]
AdminViewer = Annotated[Viewer, Depends(require("admin"))]


class CSRFRefused(HTTPException):
    """A form without this session's token: refused (403) and audited as `csrf_failed`."""


async def csrf_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matches: the signed-in session's token when the
    route has a signed-in user, else the browser's anonymous sign-in token; 403 otherwise."""
    form = await request.form()
    live = getattr(request.state, "session", None)
    expected = live.csrf if live is not None else state(request).pre_token
    if not check_csrf(expected, form.get("csrf_token")):
        raise CSRFRefused(
            403,
            "This form has expired or did not come from this site. Go back, reload, and try again.",
        )
    return form


#: A route's posted form, once its CSRF token is checked.
PostedForm = Annotated[FormData, Depends(csrf_form)]


def paged(total: int, page: int, size: int) -> tuple[int, int]:
    """(page, pages) of a list of `total` rows, `size` a page: the page asked for, kept
    between 1 and the last page (there is always one page, if empty)."""
    pages = max(1, math.ceil(total / size))
    return min(max(page, 1), pages), pages


def in_scope(viewer: Viewer, row: Mapping[str, object]) -> bool:
    """Whether a quality lead's scope (queues or teams) includes this call; no scope = all."""
    if not viewer.scope:
        return True
    for item in viewer.scope:
        kind, _, value = item.partition(":")
        if kind in ("queue", "team") and row.get(kind) == value:
            return True
    return False


def audit(
    db: Session,
    request: Request,
    user_name: str,
    role: str,
    action: str,
    target: str = "",
    detail: str = "",
) -> None:
    """Record one audited event and commit it at once (it must survive a later error)."""
    # A Core INSERT: page views are audited on every request, and the ORM's unit of work
    # would cost more than the row.
    with write_turn(db):
        _insert_audit(db, request, user_name, role, action, target, detail)


def audit_by(
    db: Session, request: Request, viewer: Viewer, action: str, target: str = "", detail: str = ""
) -> None:
    """`audit` of what the signed-in `viewer` did."""
    audit(db, request, viewer.name, viewer.role, action, target, detail)


def _insert_audit(
    db: Session, request: Request, user_name: str, role: str, action: str, target: str, detail: str
) -> None:
    db.execute(
        insert(AuditEntry).values(
            at=utcnow(),
            user_name=printable(user_name, 100),
            role=role,
            action=action,
            target=printable(target, 300),
            ip=printable(state(request).client, 64),
            detail=printable(detail, 2000),
        )
    )
    db.commit()


def printable(text: str, limit: int) -> str:
    """What an attacker typed, fit for the log: control characters (NUL, which PostgreSQL
    refuses, and line breaks, which would forge entries in an export) shown as `?`."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    env: jinja2.Environment = request.app.state.templates
    viewer = getattr(request.state, "viewer", None)
    html = env.get_template(template).render(
        request=request,
        viewer=viewer,
        csrf_token=state(request).csrf or state(request).pre_token,
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)
