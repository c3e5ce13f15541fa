"""Administrators: users and roles, scrutiny packs and who may read them, the audit log."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipeline.errors import CallQAError
from review.db import ROLES, AuditEntry, Pack, PackGrant, User
from review.security import hash_password, password_problem
from review.sessions import revoke_user
from review.users import MIN_PASSWORD_LENGTH, create_pack, parse_scope, validate_new_user
from review.web import AdminViewer, DbSession, PostedForm, audit_by, paged, render, store

__all__ = ["AUDIT_PAGE_SIZE", "router"]

router = APIRouter(prefix="/admin")

AUDIT_PAGE_SIZE = 100


def _users_page(
    request: Request, db: Session, error: str | None = None, status: int = 200
) -> Response:
    users = db.scalars(select(User).order_by(User.name)).all()
    return render(
        request,
        "admin_users.html",
        {"users": users, "roles": ROLES, "error": error, "min_length": MIN_PASSWORD_LENGTH},
        status,
    )


@router.get("/users")
def users(request: Request, viewer: AdminViewer, db: DbSession) -> Response:
    return _users_page(request, db)


@router.post("/users")
def add_user(request: Request, viewer: AdminViewer, form: PostedForm, db: DbSession) -> Response:
    name = str(form.get("name", "")).strip()
    role = str(form.get("role", ""))
    password = str(form.get("password", ""))
    problem = validate_new_user(name, role, password)
    if problem is None and password != form.get("confirm"):
        problem = "The two passwords are not the same."
    if problem is None:
        db.add(User(name=name, role=role, password_hash=hash_password(password), active=True))
        try:
            db.commit()
        except IntegrityError:
            db.rollback()
            problem = f"A user called {name} already exists."
    if problem:
        return _users_page(request, db, problem, 400)
    audit_by(db, request, viewer, "user_added", name, f"role {role}")
    return RedirectResponse("/admin/users", 303)


@router.post("/users/{user_id}")
def change_user(
    request: Request, user_id: int, viewer: AdminViewer, form: PostedForm, db: DbSession
) -> Response:
    user = db.get(User, user_id)
    if user is None:
        raise HTTPException(404, "No such user.")
    role = str(form.get("role", user.role))
    active = form.get("active") == "on"
    password = str(form.get("password", ""))
    if role not in ROLES:
        return _users_page(request, db, f"Role must be one of: {', '.join(ROLES)}.", 400)
    if user.id == viewer.id and (role != "admin" or not active):
        return _users_page(request, db, "You cannot remove your own administrator access.", 400)
    problem = password_problem(password, user.name) if password else None
    if problem:
        return _users_page(request, db, problem, 400)
    scope_text = form.get("scope")
    try:
        scope = ",".join(parse_scope(str(scope_text))) if scope_text is not None else user.scope
    except CallQAError as exc:
        return _users_page(request, db, str(exc), 400)
    changes = []
    if role != user.role:
        changes.append(f"role {user.role} -> {role}")
        user.role = role
    if active != user.active:
        changes.append("enabled" if active else "disabled")
        user.active = active
    if password:
        changes.append("password reset")
        user.password_hash = hash_password(password)
    if scope != (user.scope or ""):
        changes.append(f"scope {user.scope or 'all'} -> {scope or 'all'}")
        user.scope = scope
    db.commit()
    if changes:
        # A copied cookie must not outlive the change: every session of theirs ends.
        revoke_user(db, user.id)
        audit_by(db, request, viewer, "user_changed", user.name, "; ".join(changes))
    return RedirectResponse("/admin/users", 303)


def _packs_page(
    request: Request, db: Session, error: str | None = None, status: int = 200
) -> Response:
    packs = db.scalars(select(Pack).order_by(Pack.created_at.desc(), Pack.id.desc())).all()
    members = db.scalars(select(User).where(User.role == "scrutiny").order_by(User.name)).all()
    names = {u.id: u.name for u in db.scalars(select(User)).all()}
    return render(
        request,
        "admin_packs.html",
        {
            "packs": packs,
            "members": members,
            "names": names,
            "error": error,
            "packs_dir": request.app.state.packs_dir,
        },
        status,
    )


@router.get("/packs")
def packs(request: Request, viewer: AdminViewer, db: DbSession) -> Response:
    return _packs_page(request, db)


@router.post("/packs")
def add_pack(request: Request, viewer: AdminViewer, form: PostedForm, db: DbSession) -> Response:
    folder_text = str(form.get("folder", "")).strip()
    ids = str(form.get("call_ids", "")).replace(",", "\n").splitlines()
    try:
        pack = create_pack(
            db,
            store(request),
            str(form.get("name", "")),
            folder=folder_text or None,
            call_ids=ids,
            created_by=viewer.name,
            packs_dir=request.app.state.packs_dir,
        )
        db.commit()
    except CallQAError as exc:
        db.rollback()
        return _packs_page(request, db, str(exc), 400)
    audit_by(db, request, viewer, "pack_added", pack.name, f"{len(pack.calls)} calls")
    return RedirectResponse("/admin/packs", 303)


@router.post("/packs/{pack_id}/grants")
def grant(
    request: Request, pack_id: int, viewer: AdminViewer, form: PostedForm, db: DbSession
) -> Response:
    pack = db.get(Pack, pack_id)
    user_id = str(form.get("user_id", ""))
    user = db.get(User, int(user_id)) if user_id.isdigit() else None
    if pack is None:
        raise HTTPException(404, "No such pack.")
    if user is None or user.role != "scrutiny":
        return _packs_page(request, db, "Packs can only be given to scrutiny members.", 400)
    if db.get(PackGrant, (pack.id, user.id)) is None:
        db.add(PackGrant(pack_id=pack.id, user_id=user.id))
        db.commit()
        audit_by(db, request, viewer, "pack_granted", pack.name, f"to {user.name}")
    return RedirectResponse("/admin/packs", 303)


@router.post("/packs/{pack_id}/grants/{user_id}/revoke")
def revoke(
    request: Request,
    pack_id: int,
    user_id: int,
    viewer: AdminViewer,
    _form: PostedForm,
    db: DbSession,
) -> Response:
    grant = db.get(PackGrant, (pack_id, user_id))
    if grant is None:
        raise HTTPException(404, "That member does not have that pack.")
    pack = db.get(Pack, pack_id)
    user = db.get(User, user_id)
    db.delete(grant)
    db.commit()
    audit_by(
        db,
        request,
        viewer,
        "pack_revoked",
        pack.name if pack else str(pack_id),
        f"from {user.name if user else user_id}",
    )
    return RedirectResponse("/admin/packs", 303)


@router.get("/audit")
def audit_log(
    request: Request,
    *,
    user: str = "",
    action: str = "",
    page: int = 1,
    viewer: AdminViewer,
    db: DbSession,
) -> Response:
    query = select(AuditEntry)
    if user:
        query = query.where(AuditEntry.user_name == user)
    if action:
        query = query.where(AuditEntry.action == action)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    page, pages = paged(total, page, AUDIT_PAGE_SIZE)
    entries = db.scalars(
        query.order_by(AuditEntry.id.desc())
        .offset((page - 1) * AUDIT_PAGE_SIZE)
        .limit(AUDIT_PAGE_SIZE)
    ).all()
    actions = db.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)).all()
    return render(
        request,
        "admin_audit.html",
        {
            "entries": entries,
            "total": total,
            "page": page,
            "pages": pages,
            "user": user,
            "action": action,
            "actions": actions,
            "query": {k: v for k, v in (("user", user), ("action", action)) if v},
        },
    )
