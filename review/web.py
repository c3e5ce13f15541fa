"""What every page shares: who is asking, the CSRF check, the audit log, rendering."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from review import labels
from review.data import OutputStore
from review.db import AuditEntry, User
from review.security import SessionData, check_csrf

__all__ = [
    "LoginRequired",
    "Viewer",
    "audit",
    "csrf_form",
    "fmt_duration",
    "fmt_time",
    "get_db",
    "make_templates",
    "render",
    "require",
    "session_data",
    "store",
]

_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Viewer:
    """The signed-in user, detached from the database session."""

    id: int
    name: str
    role: str


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
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # templates ship with the package: no stat() per page
    )
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


def session_data(request: Request) -> SessionData:
    return request.scope["session_data"]


def store(request: Request) -> OutputStore:
    return request.app.state.store


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as db:
        yield db


def _viewer(request: Request, db: Session) -> Viewer | None:
    user_id = session_data(request).user_id
    if user_id is None:
        return None
    user = db.get(User, user_id)
    if user is None or not user.active:
        return None
    return Viewer(id=user.id, name=user.name, role=user.role)


def require(*roles: str) -> Callable[..., Viewer]:
    """A dependency: the signed-in user when their role is one of `roles`, else 403."""

    def dependency(request: Request, db: Annotated[Session, Depends(get_db)]) -> Viewer:
        viewer = _viewer(request, db)
        if viewer is None:
            raise LoginRequired()
        if viewer.role not in roles:
            raise HTTPException(403, "Your role does not give you access to this page.")
        request.state.viewer = viewer
        return viewer

    return dependency


async def csrf_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matches the session's; 403 otherwise."""
    form = await request.form()
    if not check_csrf(session_data(request), form.get("csrf_token")):
        raise HTTPException(
            403,
            "This form has expired or did not come from this site. Go back, reload, and try again.",
        )
    return form


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
    db.add(
        AuditEntry(
            user_name=user_name,
            role=role,
            action=action,
            target=target[:300],
            ip=request.client.host if request.client else "",
            detail=detail,
        )
    )
    db.commit()


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    env: jinja2.Environment = request.app.state.templates
    viewer = getattr(request.state, "viewer", None)
    html = env.get_template(template).render(
        request=request,
        viewer=viewer,
        csrf_token=session_data(request).csrf,
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)
