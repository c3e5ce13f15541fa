"""Server-side sessions, per-listen audio tokens and sign-in throttling, all in the database.

Sessions: a random 256-bit id in the cookie, its SHA-256 in `sessions`. A session ends at sign
out, after `IDLE` without a request, `ABSOLUTE` after sign-in, and when the user's password,
role, scope or active flag changes (`revoke_user`). Signing in always makes a new one.

Listens: the call page makes a token per view; the audio route serves only with a live token
of the same session, user and call, and audits the token's first use (an atomic UPDATE ...
WHERE first_used_at IS NULL), so one listen is one audit row however the player asks.

Throttling: each attempt first claims a slot on three keys (account + address, account,
address) in one transaction. A claim raises the key's count and sets when the next attempt is
allowed: free for the first few, then a delay doubling each time up to a cap. The check and the
count are one UPDATE under the row's write lock, so parallel guesses cannot all read the same
count; an attempt refused for waiting counts nothing, so guessing never locks out the owner.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from review.db import Listen, LoginThrottle, User, UserSession, utcnow, write_turn

__all__ = [
    "ABSOLUTE",
    "IDLE",
    "LISTEN_TTL",
    "THROTTLES",
    "Clock",
    "Throttle",
    "claim_attempt",
    "clear_attempts",
    "end_session",
    "id_hash",
    "issue_listen",
    "load_session",
    "revoke_user",
    "start_session",
    "use_listen",
]

Clock = Callable[[], datetime]

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=8)
#: How long a listen token lives after it was issued or last used (a player seeks, pauses).
LISTEN_TTL = timedelta(minutes=30)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
#: last_seen_at is written at most this often, so page views are not all database writes.
_TOUCH_EVERY = timedelta(seconds=60)


def id_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything here is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# -- sessions ----------------------------------------------------------------------------------


def start_session(db: Session, user_id: int, now: datetime, ip: str, old: str | None) -> str:
    """A new session for `user_id` (the old one of this browser, if any, ends): its raw id."""
    if old:
        db.execute(delete(UserSession).where(UserSession.id_hash == id_hash(old)))
    # Sessions nobody will present again go at each sign-in, so the table holds live ones.
    db.execute(
        delete(UserSession).where(
            (UserSession.last_seen_at < now - IDLE) | (UserSession.created_at < now - ABSOLUTE)
        )
    )
    raw = secrets.token_urlsafe(32)
    db.add(
        UserSession(
            id_hash=id_hash(raw),
            user_id=user_id,
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            ip=ip[:64],
        )
    )
    db.commit()
    return raw


@dataclass(frozen=True)
class LiveSession:
    """A live session and who it belongs to (plain values, read in one query)."""

    id_hash: str
    csrf: str
    user_id: int
    name: str
    role: str
    scope: str


def load_session(db: Session, raw: str | None, now: datetime) -> LiveSession | None:
    """The live session of this cookie value with its active user, or None (an expired one is
    deleted on the way)."""
    if not raw:
        return None
    key = id_hash(raw)
    row = db.execute(
        select(
            UserSession.csrf,
            UserSession.created_at,
            UserSession.last_seen_at,
            User.id,
            User.name,
            User.role,
            User.scope,
            User.active,
        )
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.id_hash == key)
    ).first()
    if row is None:
        return None
    csrf, created, seen, user_id, name, role, scope, active = row
    created, seen = _aware(created), _aware(seen)
    if not active or now - seen > IDLE or now - created > ABSOLUTE or now < created:
        db.execute(delete(UserSession).where(UserSession.id_hash == key))
        db.execute(delete(Listen).where(Listen.session_hash == key))
        db.commit()
        return None
    if now - seen > _TOUCH_EVERY:
        with write_turn(db):
            db.execute(
                update(UserSession).where(UserSession.id_hash == key).values(last_seen_at=now)
            )
            db.commit()
    return LiveSession(key, csrf, user_id, name, role, scope or "")


def end_session(db: Session, raw: str | None) -> None:
    if raw:
        key = id_hash(raw)
        db.execute(delete(UserSession).where(UserSession.id_hash == key))
        db.execute(delete(Listen).where(Listen.session_hash == key))
        db.commit()


def revoke_user(db: Session, user_id: int) -> int:
    """End every session of a user (password, role, scope or active changed); how many."""
    hashes = list(db.scalars(select(UserSession.id_hash).where(UserSession.user_id == user_id)))
    if hashes:
        db.execute(delete(Listen).where(Listen.session_hash.in_(hashes)))
        db.execute(delete(UserSession).where(UserSession.id_hash.in_(hashes)))
    db.commit()
    return len(hashes)


# -- listens -----------------------------------------------------------------------------------


def issue_listen(
    db: Session, session_hash: str, user_id: int, call_id: str, pack_id: int | None, now: datetime
) -> str:
    """A token for one listen of one call's audio by this session."""
    raw = secrets.token_urlsafe(24)
    with write_turn(db):
        db.execute(delete(Listen).where(Listen.expires_at < now - timedelta(days=1)))
        db.add(
            Listen(
                token_hash=id_hash(raw),
                session_hash=session_hash,
                user_id=user_id,
                call_id=call_id,
                pack_id=pack_id,
                created_at=now,
                expires_at=now + LISTEN_TTL,
            )
        )
        db.commit()
    return raw


def use_listen(
    db: Session,
    raw: str,
    session_hash: str,
    user_id: int,
    call_id: str,
    pack_id: int | None,
    now: datetime,
) -> bool | None:
    """None when the token does not open this call for this session now; else whether this is
    its first use (the one to audit)."""
    if not raw or len(raw) > 100:
        return None
    key = id_hash(raw)
    listen = db.get(Listen, key)
    if (
        listen is None
        or listen.session_hash != session_hash
        or listen.user_id != user_id
        or listen.call_id != call_id
        or listen.pack_id != pack_id
        or _aware(listen.expires_at) < now
    ):
        return None
    with write_turn(db):
        first = db.execute(
            update(Listen)
            .where(Listen.token_hash == key, Listen.first_used_at.is_(None))
            .values(first_used_at=now, expires_at=now + LISTEN_TTL)
        ).rowcount
        if not first and _aware(listen.expires_at) - now < LISTEN_TTL - _TOUCH_EVERY:
            db.execute(
                update(Listen).where(Listen.token_hash == key).values(expires_at=now + LISTEN_TTL)
            )
        db.commit()
    return first == 1


# -- sign-in throttling ------------------------------------------------------------------------


@dataclass(frozen=True)
class Throttle:
    """Attempts free in `window`, then a delay of `base_s` doubling per attempt up to `cap_s`."""

    kind: str
    free: int
    base_s: float
    cap_s: float
    window: timedelta = timedelta(minutes=15)

    def delay(self, attempts: int) -> timedelta:
        if attempts < self.free:
            return timedelta(0)
        return timedelta(seconds=min(self.cap_s, self.base_s * 2 ** (attempts - self.free)))


#: Guessing from one address at one account is slowed hard; one account from many addresses
#: gently (its owner waits at most half a minute); one address at many accounts hard.
THROTTLES = (
    Throttle("pair", free=5, base_s=1, cap_s=900),
    Throttle("name", free=10, base_s=1, cap_s=30),
    Throttle("ip", free=20, base_s=1, cap_s=900),
)


def _keys(name: str, ip: str) -> list[tuple[Throttle, str]]:
    values = {"pair": f"{name.lower()}|{ip}", "name": name.lower(), "ip": ip}
    return [(t, f"{t.kind}:{values[t.kind]}"[:300]) for t in THROTTLES]


def _insert_missing(engine: Engine, key: str, now: datetime):  # type: ignore[no-untyped-def]
    # Free until told otherwise: a request that read the clock a moment before this row was
    # made must not find it "not yet allowed".
    values = {"key": key, "attempts": 0, "window_start": now, "next_allowed_at": _EPOCH}
    if engine.dialect.name == "postgresql":
        return postgresql.insert(LoginThrottle).values(**values).on_conflict_do_nothing()
    if engine.dialect.name == "sqlite":
        return sqlite.insert(LoginThrottle).values(**values).on_conflict_do_nothing()
    return insert(LoginThrottle).values(**values)


def claim_attempt(engine: Engine, name: str, ip: str, now: datetime) -> int:
    """Claim one sign-in attempt for `name` from `ip`: 0 when it may go ahead (and is counted),
    else the seconds to wait (nothing counted)."""
    with engine.connect() as conn:
        trans = conn.begin()
        waits: list[float] = []
        for throttle, key in _keys(name, ip):
            conn.execute(_insert_missing(engine, key, now))
            stale = LoginThrottle.window_start < now - throttle.window
            claimed = conn.execute(
                update(LoginThrottle)
                .where(and_(LoginThrottle.key == key, LoginThrottle.next_allowed_at <= now))
                .values(
                    attempts=case((stale, 1), else_=LoginThrottle.attempts + 1),
                    window_start=case((stale, now), else_=LoginThrottle.window_start),
                )
                .returning(LoginThrottle.attempts)
            ).first()
            if claimed is None:
                until = conn.scalar(
                    select(LoginThrottle.next_allowed_at).where(LoginThrottle.key == key)
                )
                waits.append((_aware(until) - now).total_seconds() if until else 1.0)
                continue
            delay = throttle.delay(claimed[0])
            if delay:  # free attempts leave the time alone, so parallel ones are not blocked
                conn.execute(
                    update(LoginThrottle)
                    .where(LoginThrottle.key == key)
                    .values(next_allowed_at=now + delay)
                )
        if waits:
            trans.rollback()
            return max(1, math.ceil(max(waits)))
        if secrets.randbelow(50) == 0:
            # Now and then forget keys quiet for a day, so names an attacker makes up do not
            # pile up for ever.
            conn.execute(
                delete(LoginThrottle).where(
                    LoginThrottle.window_start < now - timedelta(days=1),
                    LoginThrottle.next_allowed_at < now,
                )
            )
        trans.commit()
    return 0


def clear_attempts(engine: Engine, name: str, ip: str, now: datetime) -> None:
    """A right password: forget the account's failures, and give back the address the one
    attempt this sign-in claimed. Never more than that, or a user could wipe their address's
    record of guesses with their own sign-in; and never less, or fifty colleagues behind one
    office address would throttle each other at nine in the morning."""
    keys = {t.kind: key for t, key in _keys(name, ip)}
    with engine.begin() as conn:
        conn.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key.in_([keys["pair"], keys["name"]]))
            .values(attempts=0, window_start=now, next_allowed_at=_EPOCH)
        )
        conn.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == keys["ip"], LoginThrottle.attempts > 0)
            .values(attempts=LoginThrottle.attempts - 1)
        )


def default_clock() -> datetime:
    return utcnow()
