"""Storage limitation: purge personal data past its keeping period, and log what went.

UK GDPR Article 5(1)(e) says personal data is kept no longer than needed. callqa keeps four
kinds for a set number of days (Settings `keep_*_days`; 0 keeps that kind for ever):

    restricted/call_date=D/      unredacted turns           a partition goes when D < cutoff
    restricted/.cache/*.json     the transcript cache       an entry goes when written < cutoff
    review notes                 reviewers' free text       emptied (review/retention.py)
    audit rows                   the review app's audit log deleted   (review/retention.py)

where `cutoff = today - keep_days`. `today` is a parameter, not the clock: the nightly flow
passes the day after the night it screens, so re-running an old night never purges that night's
own output, and tests control it like any other date. Scorecards, redacted transcripts, samples
and census are statistics and are kept; `callqa subject-access --erase` (pipeline/rights.py)
is what removes one caller's personal data from them.

Every purge appends one row per place to `<out>/purges/` (`tables.PURGES`): counts and dates,
never content, numbers or hashes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from pipeline import store, tables
from pipeline.errors import StoreError

__all__ = [
    "CACHE_DIR",
    "Purged",
    "cutoff_of",
    "purge_expired",
    "purge_restricted",
    "purge_transcript_cache",
    "record_purges",
]

#: The transcript cache, relative to `--out` (flows/nightly.py writes it there): it holds
#: unredacted text, so it lives inside restricted/ (one place to protect); readers of the table
#: skip dot-folders.
CACHE_DIR = Path("restricted") / ".cache"


@dataclass(frozen=True)
class Purged:
    """What one purge removed from one place: counts and dates, never content.

    `what` names the place (`restricted`, `transcript_cache`, `review_notes`, `audit_log`, or for
    an erasure the table); `cutoff` is the first date kept (None for an erasure or when the
    place is kept for ever); `oldest`/`newest` are the dates of what went.
    """

    what: str
    files: int = 0
    rows: int = 0
    kept_days: int | None = None
    cutoff: date | None = None
    oldest: date | None = None
    newest: date | None = None


def cutoff_of(today: date, keep_days: int) -> date | None:
    """The first date kept when `keep_days` are kept back from `today`; None keeps everything."""
    if keep_days <= 0:
        return None
    return today - timedelta(days=keep_days)


def purge_restricted(out: Path, *, today: date, keep_days: int) -> Purged:
    """Delete `restricted/` partitions for nights before the cutoff (whole folders)."""
    cutoff = cutoff_of(today, keep_days)
    if cutoff is None:
        return Purged("restricted", kept_days=keep_days)
    gone = [d for d in store.partition_dates(out, tables.RESTRICTED) if d < cutoff]
    rows = 0
    for night in gone:
        folder = store.partition_folder(out, tables.RESTRICTED, night)
        try:
            rows += sum(pq.ParquetFile(f).metadata.num_rows for f in folder.glob("*.parquet"))
            shutil.rmtree(folder)
        except OSError as exc:
            raise StoreError(
                f"cannot purge {folder} ({exc.strerror or exc}): fix the folder's permissions; "
                "unredacted transcripts past their keeping period are still there"
            ) from exc
    return Purged(
        "restricted",
        files=len(gone),
        rows=rows,
        kept_days=keep_days,
        cutoff=cutoff,
        oldest=min(gone, default=None),
        newest=max(gone, default=None),
    )


def purge_transcript_cache(out: Path, *, today: date, keep_days: int) -> Purged:
    """Delete transcript cache entries written before the cutoff.

    An entry is keyed by the audio's hash, not by call or night, so its age is the day it was
    written (its modification time, UTC). A purged entry only costs a re-transcription if that
    night is ever screened again.
    """
    cutoff = cutoff_of(today, keep_days)
    if cutoff is None:
        return Purged("transcript_cache", kept_days=keep_days)
    folder = Path(out) / CACHE_DIR
    days: list[date] = []
    for entry in folder.glob("*.json") if folder.is_dir() else []:
        try:
            written = datetime.fromtimestamp(entry.stat().st_mtime, UTC).date()
            if written < cutoff:
                entry.unlink()
                days.append(written)
        except FileNotFoundError:
            continue  # a concurrent purge got there first
        except OSError as exc:
            raise StoreError(
                f"cannot purge {entry} ({exc.strerror or exc}): fix the folder's permissions"
            ) from exc
    return Purged(
        "transcript_cache",
        files=len(days),
        rows=len(days),
        kept_days=keep_days,
        cutoff=cutoff,
        oldest=min(days, default=None),
        newest=max(days, default=None),
    )


def record_purges(
    out: Path,
    purged: Sequence[Purged],
    *,
    day: date,
    kind: str,
    run_id: str,
    reference: str | None = None,
    purged_at: datetime | None = None,
) -> Path:
    """Append `purged` to `<out>/purges/call_date=<day>/` (read, add, replace atomically)."""
    when = purged_at or datetime.now(UTC)
    rows = [
        {
            "purged_at": when,
            "run_id": run_id,
            "kind": kind,
            "what": p.what,
            "kept_days": p.kept_days,
            "cutoff": p.cutoff,
            "files": p.files,
            "rows": p.rows,
            "oldest": p.oldest,
            "newest": p.newest,
            "reference": reference,
        }
        for p in purged
    ]
    earlier = store.read_table(out, tables.PURGES, start=day, end=day).drop(
        columns=tables.PARTITION_KEY
    )
    frame = pd.concat([earlier, pd.DataFrame(rows, columns=earlier.columns)], ignore_index=True)
    return store.write_partition(out, tables.PURGES, day, frame)


def purge_expired(
    out: Path,
    *,
    today: date,
    keep_restricted_days: int,
    keep_transcript_cache_days: int,
    run_id: str,
    review: Callable[[date], list[Purged]] | None = None,
) -> list[Purged]:
    """Purge everything past its keeping period and log it; returns what was purged.

    `review` purges the review database's notes and audit rows (review/retention.py builds it;
    pipeline/ does not import the web app). Every place gets a log row, zero counts included, so
    the log shows the purge ran each night.
    """
    purged = [
        purge_restricted(out, today=today, keep_days=keep_restricted_days),
        purge_transcript_cache(out, today=today, keep_days=keep_transcript_cache_days),
    ]
    if review is not None:
        purged += review(today)
    record_purges(out, purged, day=today, kind="retention", run_id=run_id)
    return purged
