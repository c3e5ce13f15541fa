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

from pipeline import store as pipeline_store
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
from review.security import MIN_PASSWORD_LENGTH, hash_password, password_problem
from review.sessions import revoke_user

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "add_user",
    "create_pack",
    "grant_pack",
    "pack_folder",
    "parse_scope",
    "set_scope",
    "validate_new_user",
]


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
    return password_problem(password, name)


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


def pack_folder(text: str, packs_dir: Path | None, store: OutputStore) -> Path:
    """The folder an admin named, once it is a `callqa scrutiny-sample` pack (its manifest
    there) under the packs root and nowhere near unredacted data; CallQAError otherwise.

    A name is taken under the packs root; a full path must lead there too (after symlinks).
    """
    if packs_dir is None:
        raise CallQAError("No packs folder is configured (set CALLQA_PACKS_DIR).")
    try:
        root = packs_dir.resolve(strict=True)
    except OSError as exc:
        raise CallQAError(f"The packs folder {packs_dir} does not exist.") from exc
    given = Path(text)
    if "\x00" in text or not text.strip():
        raise CallQAError("Give the pack's folder name.")
    try:
        folder = (given if given.is_absolute() else root / given).resolve(strict=True)
    except OSError as exc:
        raise CallQAError(f"There is no folder {text} in the packs folder.") from exc
    if folder == root or not folder.is_relative_to(root) or not folder.is_dir():
        raise CallQAError(f"Packs can only come from folders inside {packs_dir}.")
    # Never anything holding, or held by, unredacted transcripts, keys or original audio.
    private = [store.out_dir / "restricted", store.out_dir / ".callqa"]
    if store.recordings_dir is not None:
        private.append(store.recordings_dir)
    for path in private:
        near = path.resolve()
        if folder.is_relative_to(near) or near.is_relative_to(folder):
            raise CallQAError("That folder holds unredacted data: it cannot be a pack.")
    manifest = folder / pipeline_store.PACK_FILE
    if manifest.is_symlink() or not manifest.is_file():
        raise CallQAError(
            "That folder was not written by callqa scrutiny-sample (no pack.parquet in it)."
        )
    return folder


def create_pack(
    db: Session,
    store: OutputStore,
    name: str,
    *,
    folder: Path | str | None = None,
    call_ids: Iterable[str] = (),
    created_by: str,
    packs_dir: Path | None = None,
) -> Pack:
    """Register a pack from a scrutiny-sample folder under `packs_dir` or from call ids of
    the nightly output; raises CallQAError saying what to fix. Calls are numbered 1, 2, ...
    in page order (a folder) or call-id order: scrutiny URLs carry these numbers."""
    ids = [c.strip() for c in call_ids if c.strip()]
    folder_text = None
    if folder is not None:
        resolved = pack_folder(str(folder), packs_dir, store)
        data = store.pack(resolved)
        ids = list(data.calls["call_id"])
        folder_text = str(resolved)
    else:
        unknown = [c for c in ids if store.call(c) is None]
        if unknown:
            raise CallQAError(f"No screened call has the id {unknown[0]!r}.")
        ids = sorted(set(ids))
    if not name.strip():
        raise CallQAError("Give the pack a name.")
    if not ids:
        raise CallQAError("That pack has no calls: give a scrutiny pack folder or call ids.")
    if db.scalar(select(Pack).where(Pack.name == name.strip())) is not None:
        raise CallQAError(f"A pack called {name.strip()!r} already exists.")
    pack = Pack(name=name.strip(), folder=folder_text, created_by=created_by)
    pack.calls = [PackCall(call_id=c, number=i) for i, c in enumerate(ids, start=1)]
    db.add(pack)
    db.flush()
    return pack


def parse_scope(text: str | Iterable[str]) -> list[str]:
    """`"queue:housing, team:Blue"` -> ["queue:housing", "team:Blue"]; CallQAError otherwise."""
    items = text.replace("\n", ",").split(",") if isinstance(text, str) else list(text)
    out = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        kind, _, value = item.partition(":")
        if kind not in ("queue", "team") or not value.strip() or len(item) > 200:
            raise CallQAError(f"Scope items are queue:NAME or team:NAME, not {item!r}.")
        out.append(f"{kind}:{value.strip()}")
    return sorted(set(out))


def set_scope(db_url: str, user_name: str, scope: str | Iterable[str]) -> None:
    """Limit a quality lead to some queues or teams (empty: all); their sessions end."""
    items = parse_scope(scope)
    with _session(db_url) as db:
        user = db.scalar(select(User).where(User.name == user_name))
        if user is None or user.role != "quality_lead":
            raise CallQAError(f"{user_name!r} is not a quality lead.")
        user.scope = ",".join(items)
        db.commit()
        revoke_user(db, user.id)


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
