"""Users and scrutiny packs, for the CLI (`callqa users add`) and the admin pages.

A scrutiny member sees only the packs granted to them. A pack is either a `scrutiny_sample`
output folder (its call ids read from the Parquet inside; its silenced audio served from it)
or a hand-picked set of call ids (redacted transcripts from the nightly output, no audio).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipeline.errors import CallQAError
from review.data import OutputStore
from review.db import (
    ROLES,
    Pack,
    PackCall,
    PackGrant,
    User,
    make_engine,
    make_sessionmaker,
    migrate,
)
from review.security import hash_password

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "add_user",
    "create_pack",
    "grant_pack",
    "validate_new_user",
]

MIN_PASSWORD_LENGTH = 12


def validate_new_user(name: str, role: str, password: str) -> str | None:
    """Why these details cannot make a user, or None when they can."""
    if (
        not name
        or len(name) > 100
        or not name.replace(".", "").replace("_", "").replace("-", "").isalnum()
    ):
        return "User names are 1 to 100 letters, digits, dots, dashes or underscores."
    if role not in ROLES:
        return f"Role must be one of: {', '.join(ROLES)}."
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Passwords must be at least {MIN_PASSWORD_LENGTH} characters long."
    return None


@contextmanager
def _session(db_url: str) -> Iterator[Session]:
    """A session on a migrated database, its engine closed afterwards (the CLI runs once)."""
    engine = make_engine(db_url)
    try:
        migrate(engine)
        with make_sessionmaker(engine)() as db:
            yield db
    finally:
        engine.dispose()


def add_user(db_url: str, name: str, role: str, password: str) -> None:
    """Create a user (argon2-hashed password). Raises CallQAError saying what to fix."""
    problem = validate_new_user(name, role, password)
    if problem:
        raise CallQAError(problem)
    with _session(db_url) as db:
        db.add(User(name=name, role=role, password_hash=hash_password(password), active=True))
        try:
            db.commit()
        except IntegrityError as exc:
            raise CallQAError(f"A user called {name!r} already exists.") from exc


def create_pack(
    db: Session,
    store: OutputStore,
    name: str,
    *,
    folder: Path | None = None,
    call_ids: Iterable[str] = (),
    created_by: str,
) -> Pack:
    """Register a pack from a folder or from call ids; raises CallQAError if it would be empty."""
    ids = {c.strip() for c in call_ids if c.strip()}
    folder_text = None
    if folder is not None:
        if not folder.is_absolute() or not folder.is_dir():
            raise CallQAError(f"{folder} is not a folder on this server (give its full path).")
        folder = folder.resolve()
        data = store.pack(folder)
        ids |= set(data.calls["call_id"]) if "call_id" in data.calls.columns else set()
        ids |= set(data.turns["call_id"]) if "call_id" in data.turns.columns else set()
        ids |= set(data.audio)
        folder_text = str(folder)
    if not name.strip():
        raise CallQAError("Give the pack a name.")
    if not ids:
        raise CallQAError("That pack has no calls: give a scrutiny pack folder or call ids.")
    if db.scalar(select(Pack).where(Pack.name == name.strip())) is not None:
        raise CallQAError(f"A pack called {name.strip()!r} already exists.")
    pack = Pack(name=name.strip(), folder=folder_text, created_by=created_by)
    pack.calls = [PackCall(call_id=c) for c in sorted(ids)]
    db.add(pack)
    db.flush()
    return pack


def grant_pack(db_url: str, user_name: str, pack_name: str) -> None:
    """Give a scrutiny member a pack already registered (CLI counterpart of the admin form)."""
    with _session(db_url) as db:
        user = db.scalar(select(User).where(User.name == user_name))
        pack = db.scalar(select(Pack).where(Pack.name == pack_name))
        if user is None or user.role != "scrutiny":
            raise CallQAError(f"{user_name!r} is not a scrutiny member.")
        if pack is None:
            raise CallQAError(f"There is no pack called {pack_name!r}.")
        if db.get(PackGrant, (pack.id, user.id)) is None:
            db.add(PackGrant(pack_id=pack.id, user_id=user.id))
            db.commit()
