"""Retention and people's rights in the review database, on the tables it already has.

- `purge_review_rows`: the nightly purge's share (pipeline/retention.py): reviewers' free-text
  notes and the coaching log's text older than `keep_review_notes_days` are emptied (the
  verdicts stay: they are the agreement statistics of the monthly report; so do a coaching
  entry's date, author and acknowledgement), audit rows older than `keep_audit_days` are
  deleted.
- `review_holdings`, `erase_review_notes`, `audit_rights_request`: `callqa subject-access`'s
  share (pipeline/rights.py): what the database holds about a caller's calls, emptying the
  notes on them, and the audit row the request leaves.

Nothing here creates or migrates tables: a database the review app never opened is refused with
a message, not silently built.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, inspect, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from pipeline.errors import CallQAError
from pipeline.retention import Purged, cutoff_of
from review.db import AuditEntry, CoachingEntry, Pack, PackCall, Review, default_db_url, make_engine

__all__ = [
    "ReviewHoldings",
    "audit_rights_request",
    "erase_review_notes",
    "purge_review_rows",
    "review_db_for",
    "review_holdings",
    "review_purger",
]

#: Page size of an IN (...) list: well under SQLite's and PostgreSQL's parameter limits.
_CHUNK = 500


def review_db_for(out: Path, db_url: str | None) -> str | None:
    """The review database to purge or search: `db_url`, else the default SQLite file under
    `<out>` when the review app has made one (None when there is no review database)."""
    if db_url:
        return db_url
    url = default_db_url(Path(out))
    return url if Path(url.removeprefix("sqlite:///")).is_file() else None


@contextmanager
def _session(db_url: str) -> Iterator[Session]:
    engine = make_engine(db_url)
    try:
        if not inspect(engine).has_table(AuditEntry.__tablename__):
            raise CallQAError(
                f"{_shown(db_url)} is not a review database (no audit_log table): "
                "give the URL `callqa review --db` uses"
            )
        with Session(engine) as db:
            yield db
    except SQLAlchemyError as exc:
        # The first line only: SQLAlchemy appends the statement and its parameters (call ids).
        reason = str(exc).splitlines()[0][:300]
        raise CallQAError(f"review database {_shown(db_url)}: {reason}") from exc
    finally:
        engine.dispose()


def _shown(db_url: str) -> str:
    """The URL without a password, for messages."""
    head, _, tail = db_url.rpartition("@")
    if not head:
        return db_url
    scheme, _, user = head.partition("://")
    return f"{scheme}://{user.split(':', 1)[0]}@{tail}"


def _at(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)


def _purge(
    db: Session,
    what: str,
    kept_days: int,
    cutoff: date | None,
    when: Any,
    old: Any | None,
    action: Callable[[Any], Any],
) -> Purged:
    """Run `action(old)` on rows dated (by `when`) before `cutoff`; what it did, for the log."""
    if cutoff is None:
        return Purged(what, kept_days=kept_days)
    old = when < _at(cutoff) if old is None else (when < _at(cutoff)) & old
    span = db.execute(select(func.count(), func.min(when), func.max(when)).where(old)).one()
    rows = db.execute(action(old)).rowcount or 0
    return Purged(
        what,
        rows=rows,
        kept_days=kept_days,
        cutoff=cutoff,
        oldest=_day(span[1]),
        newest=_day(span[2]),
    )


def purge_review_rows(
    db_url: str, today: date, *, keep_review_notes_days: int, keep_audit_days: int
) -> list[Purged]:
    """Empty reviewers' and coaches' free text saved before its cutoff (the verdicts, dates and
    acknowledgements stay); delete audit rows before theirs."""
    notes_cutoff = cutoff_of(today, keep_review_notes_days)
    with _session(db_url) as db:
        purged = [
            _purge(
                db,
                "review_notes",
                keep_review_notes_days,
                notes_cutoff,
                Review.created_at,
                (Review.notes != "") | (Review.safeguarding_note != ""),
                lambda old: update(Review).where(old).values(notes="", safeguarding_note=""),
            ),
            _purge(
                db,
                "coaching_notes",
                keep_review_notes_days,
                notes_cutoff,
                CoachingEntry.created_at,
                (CoachingEntry.discussed != "") | (CoachingEntry.agreed_actions != ""),
                lambda old: (
                    update(CoachingEntry).where(old).values(discussed="", agreed_actions="")
                ),
            ),
            _purge(
                db,
                "audit_log",
                keep_audit_days,
                cutoff_of(today, keep_audit_days),
                AuditEntry.at,
                None,
                lambda old: delete(AuditEntry).where(old),
            ),
        ]
        db.commit()
    return purged


def _day(value: datetime | str | None) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite's min()/max() come back as text
        value = datetime.fromisoformat(value)
    return value.date()


def review_purger(
    out: Path, db_url: str | None, *, keep_review_notes_days: int, keep_audit_days: int
) -> Callable[[date], list[Purged]] | None:
    """The review share of the nightly purge, for `pipeline.retention.purge_expired`; None
    when there is no review database to purge."""
    url = review_db_for(out, db_url)
    if url is None:
        return None
    return partial(
        purge_review_rows,
        url,
        keep_review_notes_days=keep_review_notes_days,
        keep_audit_days=keep_audit_days,
    )


@dataclass(frozen=True)
class ReviewHoldings:
    """What the review database holds on a set of calls (counts, plus the audit rows, which
    say who looked at the caller's data: part of a subject access answer)."""

    reviews: int
    reviews_with_notes: int
    pack_calls: list[tuple[str, str, str | None]]  # (call_id, pack name, pack folder)
    audit: list[tuple[datetime, str, str, str]]  # (at, user, action, call_id)


def _chunks(call_ids: Sequence[str]) -> Iterator[list[str]]:
    ids = sorted(set(call_ids))
    for first in range(0, len(ids), _CHUNK):
        yield ids[first : first + _CHUNK]


def review_holdings(db_url: str, call_ids: Sequence[str]) -> ReviewHoldings:
    """Reviews, pack entries and audit rows about `call_ids`."""
    reviews = with_notes = 0
    packs: list[tuple[str, str, str | None]] = []
    audit: list[tuple[datetime, str, str, str]] = []
    with _session(db_url) as db:
        for ids in _chunks(call_ids):
            reviews += db.scalar(select(func.count()).where(Review.call_id.in_(ids))) or 0
            with_notes += (
                db.scalar(select(func.count()).where(Review.call_id.in_(ids), Review.notes != ""))
                or 0
            )
            packs += [
                (c, n, f)
                for c, n, f in db.execute(
                    select(PackCall.call_id, Pack.name, Pack.folder)
                    .join(Pack, Pack.id == PackCall.pack_id)
                    .where(PackCall.call_id.in_(ids))
                )
            ]
            audit += [
                (a, u, act, t)
                for a, u, act, t in db.execute(
                    select(
                        AuditEntry.at, AuditEntry.user_name, AuditEntry.action, AuditEntry.target
                    )
                    .where(AuditEntry.target.in_(ids))
                    .order_by(AuditEntry.at)
                )
            ]
    return ReviewHoldings(reviews, with_notes, sorted(packs), sorted(audit))


def erase_review_notes(db_url: str, call_ids: Sequence[str]) -> int:
    """Empty the free-text notes of every review of `call_ids`; returns the reviews changed.

    The verdicts (agree/disagree, corrected reason) stay: they hold nothing about the caller
    and are the monthly report's agreement figures.
    """
    changed = 0
    with _session(db_url) as db:
        for ids in _chunks(call_ids):
            result = db.execute(
                update(Review)
                .where(
                    Review.call_id.in_(ids),
                    (Review.notes != "") | (Review.safeguarding_note != ""),
                )
                .values(notes="", safeguarding_note="")
            )
            changed += result.rowcount or 0
        db.commit()
    return changed


def _who() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return "cli"


def audit_rights_request(db_url: str, action: str, reference: str, detail: str) -> None:
    """One audit row for a subject access (`subject_access`) or erasure (`subject_erasure`).

    `reference` is the council's case reference (never the number or its hash); `detail`
    holds counts only. The user is the account that ran the command.
    """
    with _session(db_url) as db:
        db.add(
            AuditEntry(
                user_name=_who()[:100],
                role="cli",
                action=action,
                target=reference[:300],
                ip="",
                detail=detail,
            )
        )
        db.commit()
