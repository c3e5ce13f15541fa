"""Signing in and out, changing one's own password, the home redirect and the health check."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from sqlalchemy import select

from review.db import User
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
from review.web import (
    AnyViewer,
    DbSession,
    PostedForm,
    audit,
    audit_by,
    now,
    printable,
    render,
    state,
)

__all__ = ["HOME", "router"]

router = APIRouter()

#: Where each role lands after signing in.
HOME = {"quality_lead": "/queue", "scrutiny": "/scrutiny", "admin": "/admin/users"}

# Verifying against this when the name is unknown keeps the answer time the same, so the
# timing does not tell an attacker which names exist.
_DUMMY_HASH = hash_password("not-a-real-password-used-only-for-timing")


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never `//host` or a full URL (open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/healthz")
def healthz() -> Response:
    """For the load balancer and systemd: up or not, and nothing else (no session, no data)."""
    return PlainTextResponse("ok")


def _login_page(
    request: Request, next_path: str, name: str = "", error: str | None = None, status: int = 200
) -> Response:
    return render(request, "login.html", {"next": next_path, "error": error, "name": name}, status)


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    return _login_page(request, _safe_next(next))


@router.post("/login")
def login(request: Request, form: PostedForm, db: DbSession) -> Response:
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
        response = _login_page(request, next_path, name, error, 429)
        response.headers["retry-after"] = str(wait_s)
        return response
    user = db.scalar(select(User).where(User.name == name))
    try:
        ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    except HashBusy as exc:
        raise HTTPException(503, str(exc)) from exc
    if user is None or not user.active or not ok:
        audit(db, request, name, "", "login_failed", name)
        return _login_page(request, next_path, name, "The user name or password is not right.", 400)
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
def logout(request: Request, viewer: AnyViewer, _form: PostedForm, db: DbSession) -> Response:
    audit_by(db, request, viewer, "logout", viewer.name)
    end_session(db, state(request).session_id)
    state(request).clear_session = True
    return RedirectResponse("/login", 303)


def _password_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    context = {"error": error, "min_length": MIN_PASSWORD_LENGTH}
    return render(request, "account_password.html", context, status)


@router.get("/account/password")
def password_page(request: Request, viewer: AnyViewer) -> Response:
    return _password_page(request)


@router.post("/account/password")
def change_password(
    request: Request, viewer: AnyViewer, form: PostedForm, db: DbSession
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
        audit_by(db, request, viewer, "login_throttled", viewer.name, "password")
        return _password_page(request, f"Too many attempts. Wait {wait_s} seconds.", 429)
    if not verify_password(user.password_hash, current):
        audit_by(db, request, viewer, "password_change_failed", viewer.name)
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
    audit_by(db, request, viewer, "password_changed", viewer.name)
    state(request).new_session_id = start_session(
        db, user.id, now(request), state(request).client, None
    )
    return RedirectResponse(HOME[user.role], 303)


@router.get("/")
def home(viewer: AnyViewer) -> Response:
    return RedirectResponse(HOME[viewer.role], 303)
