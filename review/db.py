"""The review database: users, scrutiny packs, reviews and the audit log.

SQLite under `<out>/.callqa/` by default, a council's PostgreSQL with `--db`. The schema is
owned by the Alembic migrations in `review/migrations/`; `migrate()` runs them on start, so the
ORM classes here describe what the migrations build and never create tables themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)

__all__ = [
    "ROLES",
    "Assignment",
    "AuditEntry",
    "Base",
    "CoachingEntry",
    "Listen",
    "LoginThrottle",
    "Pack",
    "PackCall",
    "PackGrant",
    "Review",
    "ReviewTag",
    "User",
    "UserSession",
    "default_db_url",
    "make_engine",
    "make_sessionmaker",
    "migrate",
    "utcnow",
    "write_turn",
]

#: The three roles; what each may do is decided in review/auth.py.
ROLES = ("quality_lead", "scrutiny", "admin")

_MIGRATIONS = Path(__file__).parent / "migrations"


def utcnow() -> datetime:
    """Aware UTC now; stored naive-UTC-free because both back ends keep the zone."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: A quality lead's scope: "queue:housing,team:Blue" (calls in any of them); "" = all.
    scope: Mapped[str] = mapped_column(Text, default="")


class Pack(Base):
    """A scrutiny pack: a `scrutiny_sample` folder, or a hand-picked set of call ids."""

    __tablename__ = "packs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    folder: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    calls: Mapped[list[PackCall]] = relationship(cascade="all, delete-orphan")
    grants: Mapped[list[PackGrant]] = relationship(cascade="all, delete-orphan")


class PackCall(Base):
    __tablename__ = "pack_calls"
    pack_id: Mapped[int] = mapped_column(ForeignKey("packs.id"), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: The call's number within its pack (1, 2, ...): what scrutiny URLs carry, not the id.
    number: Mapped[int | None] = mapped_column(Integer, nullable=True)


class PackGrant(Base):
    __tablename__ = "pack_grants"
    pack_id: Mapped[int] = mapped_column(ForeignKey("packs.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Review(Base):
    """One saved review of one call; the newest per call is the current one (history kept)."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(200), index=True)
    reviewer: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    corrected_primary_reason: Mapped[str | None] = mapped_column(String(100), nullable=True)
    corrected_avoidable_category: Mapped[str | None] = mapped_column(String(100), nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    #: What the lead did about a safeguarding call (`labels.SAFEGUARDING_ACTIONS`), and why
    #: when it was nothing (free text, emptied with the notes).
    safeguarding_action: Mapped[str | None] = mapped_column(String(40), nullable=True)
    safeguarding_note: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[ReviewTag]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class ReviewTag(Base):
    """The reviewer's verdict on one machine tag of the call."""

    __tablename__ = "review_tags"
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)
    machine_value: Mapped[str] = mapped_column(String(200))
    agree: Mapped[bool] = mapped_column(Boolean)


class Assignment(Base):
    """The quality lead a call is assigned to (one at a time; unassigned = no row)."""

    __tablename__ = "assignments"
    call_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_by: Mapped[str] = mapped_column(String(100))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CoachingEntry(Base):
    """One coaching conversation with an agent: written by a quality lead, then marked
    acknowledged (with when) once the agent has read and accepted it."""

    __tablename__ = "coaching_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(100), index=True)
    author: Mapped[str] = mapped_column(String(100))
    held_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    discussed: Mapped[str] = mapped_column(Text)
    agreed_actions: Mapped[str] = mapped_column(Text, default="")
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_name: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(20), default="")
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str] = mapped_column(String(300), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class UserSession(Base):
    """A signed-in browser. The cookie holds a random id; only its SHA-256 is stored, so a
    copy of the database signs no one in."""

    __tablename__ = "sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str] = mapped_column(String(64), default="")


class Listen(Base):
    """One listen to one call's audio: a token the call page puts in the player's URL. The
    audio route serves only with a live token of the same session, user and call, and audits
    the token's first use, so every listen is logged once whatever its Range headers say."""

    __tablename__ = "listens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    call_id: Mapped[str] = mapped_column(String(200))
    pack_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    first_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LoginThrottle(Base):
    """Sign-in attempts per key (account, address, or both) and when the next is allowed."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_allowed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


_SQLITE_WRITES = threading.Lock()


@contextmanager
def write_turn(db: Session) -> Iterator[None]:
    """Hold this process's SQLite write turn for a short write and its commit.

    SQLite lets one writer in at a time and makes the others sleep in growing steps (its busy
    handler), which under load turns a few page views writing at once into seconds-long
    tails; threads taking turns on a lock wake as soon as the writer is done. The connection
    is taken first: waiting for a pooled connection while holding the turn would deadlock
    with threads that hold connections and wait for the turn. PostgreSQL needs no turn.
    """
    db.connection()
    if db.get_bind().dialect.name != "sqlite":
        yield
        return
    with _SQLITE_WRITES:
        yield


def default_db_url(out_dir: Path) -> str:
    """SQLite beside the other private state of the output folder."""
    path = out_dir / ".callqa" / "review.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def make_engine(db_url: str) -> Engine:
    """An engine; SQLite gets WAL and a busy timeout so page views and writes overlap."""
    if db_url.startswith("sqlite"):
        engine = create_engine(db_url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(db_url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (a no-op when it is there already)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
