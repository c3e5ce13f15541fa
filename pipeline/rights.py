"""People's rights over callqa's output: subject access (UK GDPR Art. 15) and erasure (Art. 17).

callqa never keeps a caller's number, only its keyed hash (`caller_hash`: the E.164 number,
HMAC-SHA256 with the caller-hash key, pipeline/calls.py). A request is answered by hashing the
number the same way with the same key (`caller_hash`) and following the hash:

    census/, samples/        rows with that caller_hash        -> the caller's call ids
    scorecards/, transcripts/, restricted/, failures/          rows of those call ids
    restricted/.cache/       cache entries of those calls' recordings
    scrutiny packs           pages and silenced audio of those calls (pack.parquet)
    reviews/reviews.parquet  the review app's export of verdicts on those calls
    reports/<month>/frequent_callers.parquet                   the caller's "Caller n" row

(`review/retention.py` adds the review database's rows; the CLI joins the two.)

Erasure removes what is the caller's own (what they said, their voice, the link to their
number) and keeps what is statistics, so the monthly estimates do not move:

    restricted/, transcripts/   the caller's calls' turns deleted
    scorecards/                 `evidence` (quoted turns) emptied, `recording` cleared; the tags,
                                weights, scores and flags stay
    samples/, census/           `caller_hash` cleared (the call no longer links to the number),
                                and samples/ `recording`; weights, strata, repeat marks stay
    failures/                   `recording` cleared
    transcript cache            entries deleted
    packs                       silenced audio deleted, page replaced by a notice
    reviews/reviews.parquet     kept: verdicts only (notes never leave the review database)

Each place erased gets a row in `<out>/purges/` (kind `erasure`, counts and dates, the
council's case reference; never the number or its hash).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from pipeline import repeats, store, tables
from pipeline.callers import hash_caller_numbers
from pipeline.errors import CallQAError
from pipeline.files import atomic_write_bytes
from pipeline.months import month_bounds
from pipeline.retention import CACHE_DIR, Purged, record_purges

__all__ = [
    "ERASED_PAGE",
    "Holding",
    "SubjectData",
    "caller_hash",
    "erase_subject",
    "find_subject",
]

#: What a scrutiny pack page of an erased call says instead of the call.
ERASED_PAGE = (
    "<!doctype html><meta charset='utf-8'><title>Removed</title>"
    "<p>This call was removed at the caller's request.</p>"
)
#: Tables whose rows are keyed by call id (the caller's calls are found in census/samples).
_PER_CALL = (tables.SCORECARDS, tables.TRANSCRIPTS, tables.RESTRICTED, tables.FAILURES)


def caller_hash(number: str, key: bytes) -> str:
    """The caller_hash the call-log reader wrote for `number` (any UK format) with `key`."""
    value = hash_caller_numbers(pa.array([number], pa.string()), key).to_pylist()[0]
    if value is None:
        # Never echo the number: this message may end up in a ticket or a log.
        raise CallQAError(
            "that is not a phone number callqa would have hashed (withheld, empty or not a "
            "valid number): check the digits"
        )
    return str(value)


@dataclass(frozen=True)
class Holding:
    """One place holding one of the caller's calls: `rows` rows (or 1 file) at `path`."""

    place: str
    call_id: str
    call_date: date | None
    rows: int
    path: str


@dataclass
class SubjectData:
    """The caller's calls (`calls`: call_id, call_date, started_at, queue, direction, recorded,
    sampled, recording) and every place holding them."""

    calls: pd.DataFrame
    holdings: list[Holding] = field(default_factory=list)
    #: Months whose frequent_callers.parquet lists the caller (re-run `callqa report` after
    #: an erasure to drop them).
    report_months: list[str] = field(default_factory=list)

    @property
    def call_ids(self) -> list[str]:
        return sorted(self.calls["call_id"].astype(str))


def _calls_of(out: Path, hashed: str) -> pd.DataFrame:
    where = ds.field("caller_hash") == hashed
    census = store.read_table(out, tables.CENSUS, where=where)
    samples = store.read_table(out, tables.SAMPLES, where=where)
    columns = ["call_id", "call_date", "started_at", "queue", "direction"]
    calls = pd.concat([census[columns], samples[columns]]).drop_duplicates("call_id")
    calls["recorded"] = calls["call_id"].isin(census.loc[census["recorded"], "call_id"]) | calls[
        "call_id"
    ].isin(samples["call_id"])
    calls["sampled"] = calls["call_id"].isin(samples["call_id"])
    recordings = samples.set_index("call_id")["recording"]
    calls["recording"] = calls["call_id"].map(recordings)
    return calls.sort_values(["call_date", "started_at", "call_id"]).reset_index(drop=True)


def _cache_matches(out: Path, recordings: Sequence[tuple[str, str]]) -> list[tuple[str, Path]]:
    """(call_id, cache file) of each cache entry made from one of `recordings`.

    An entry is keyed by the audio's hash, so it is matched by the recording path it was made
    from (`file`, absolute), whose last parts are the call log's relative path.
    """
    folder = Path(out) / CACHE_DIR
    wanted = {tuple(Path(rel).parts): call_id for call_id, rel in recordings if rel}
    if not wanted or not folder.is_dir():
        return []
    found = []
    for entry in sorted(folder.glob("*.json")):
        try:
            source = Path(json.loads(entry.read_text(encoding="utf-8")).get("file", ""))
        except (OSError, ValueError, AttributeError):
            continue  # a damaged entry holds nothing readable; the retention purge removes it
        for parts, call_id in wanted.items():
            if source.parts[-len(parts) :] == parts:
                found.append((call_id, entry))
    return found


def _frequent_callers_file(out: Path, month: str) -> Path:
    return Path(out) / "reports" / month / f"{tables.FREQUENT_CALLERS.name}.parquet"


def _report_months(out: Path, hashed: str, calls: pd.DataFrame) -> list[str]:
    months = sorted({f"{d:%Y-%m}" for d in calls["call_date"]})
    listed = []
    for month in months:
        if not _frequent_callers_file(out, month).exists():
            continue
        start, end = month_bounds(month)
        census = store.read_table(out, tables.CENSUS, start=start, end=end)
        table = repeats.frequent_callers(census, month)
        if (table["caller_hash"] == hashed).any():
            listed.append(month)
    return listed


def find_subject(out: Path, hashed: str, *, packs: Sequence[Path] = ()) -> SubjectData:
    """Every call of the caller with hash `hashed` and every output holding one of them.

    `packs` are scrutiny pack folders to search (the CLI adds those the review database lists).
    """
    out = Path(out)
    calls = _calls_of(out, hashed)
    found = SubjectData(calls)
    if calls.empty:
        return found
    ids = found.call_ids
    first, last = min(calls["call_date"]), max(calls["call_date"])
    for table in (tables.CENSUS, tables.SAMPLES):
        rows = store.read_table(out, table, where=ds.field("caller_hash") == hashed)
        found.holdings += _holdings(out, table, rows)
    for table in _PER_CALL:
        rows = store.read_table(
            out, table, start=first, end=last, where=ds.field("call_id").isin(ids)
        )
        found.holdings += _holdings(out, table, rows)
    recordings = _recordings(out, calls, first, last)
    dates = dict(zip(calls["call_id"], calls["call_date"], strict=True))
    for call_id, entry in _cache_matches(out, recordings):
        found.holdings.append(
            Holding("transcript_cache", call_id, dates.get(call_id), 1, str(entry))
        )
    for pack in packs:
        manifest = store.read_file(Path(pack) / tables.PACK_FILE, tables.SCRUTINY_PACK)
        for row in manifest[manifest["call_id"].isin(ids)].itertuples():
            found.holdings.append(
                Holding("pack", row.call_id, dates.get(row.call_id), 1, str(Path(pack) / row.page))
            )
    exported = out / "reviews" / "reviews.parquet"
    if exported.is_file():
        # The review app's export of verdicts (review/export.py): statistics, kept on erasure;
        # listed because its rows are about the caller's calls.
        verdicts = pd.read_parquet(exported, columns=["call_id"])
        for call_id, n in verdicts[verdicts["call_id"].isin(ids)].value_counts("call_id").items():
            found.holdings.append(
                Holding("reviews_export", str(call_id), dates.get(call_id), int(n), str(exported))
            )
    found.report_months = _report_months(out, hashed, calls)
    for month in found.report_months:
        path = _frequent_callers_file(out, month)
        found.holdings.append(Holding("frequent_callers", "", None, 1, str(path)))
    return found


def _recordings(out: Path, calls: pd.DataFrame, first: date, last: date) -> list[tuple[str, str]]:
    """(call_id, recording path) of the caller's calls, from samples and scorecards."""
    cards = store.read_table(
        out,
        tables.SCORECARDS,
        start=first,
        end=last,
        where=ds.field("call_id").isin(calls["call_id"].tolist()),
    )
    pairs = {(c, r) for c, r in zip(calls["call_id"], calls["recording"], strict=True) if r}
    pairs |= {(c, r) for c, r in zip(cards["call_id"], cards["recording"], strict=True) if r}
    return sorted(pairs)


def _holdings(out: Path, table: tables.TableSpec, rows: pd.DataFrame) -> list[Holding]:
    if rows.empty:
        return []
    counts = rows.groupby(["call_id", "call_date"], sort=True).size()
    return [
        Holding(
            table.name, str(call_id), night, int(n), str(store.partition_folder(out, table, night))
        )
        for (call_id, night), n in counts.items()
    ]


def _rewrite(
    out: Path, table: tables.TableSpec, ids: set[str], nights: set[date], change: str
) -> Purged:
    """Rewrite each of `nights`' partitions of `table` with the caller's rows changed:
    `change` is `delete` (drop them), or the columns to clear, comma-separated."""
    rows_changed = 0
    touched: list[date] = []
    for night in sorted(nights):
        frame = store.read_table(out, table, start=night, end=night)
        mine = frame["call_id"].isin(ids)
        if not mine.any():
            continue
        if change == "delete":
            frame = frame[~mine]
        else:
            for column in change.split(","):
                # Lists can't go through .loc; a comprehension clears lists and scalars alike.
                empty: list[object] | None = [] if column == "evidence" else None
                frame[column] = [
                    empty if m else v for m, v in zip(mine, frame[column], strict=True)
                ]
        store.write_partition(out, table, night, frame)
        rows_changed += int(mine.sum())
        touched.append(night)
    return Purged(
        table.name,
        files=len(touched),
        rows=rows_changed,
        oldest=min(touched, default=None),
        newest=max(touched, default=None),
    )


def erase_subject(
    out: Path,
    found: SubjectData,
    *,
    today: date,
    run_id: str,
    reference: str | None = None,
    also: Sequence[Purged] = (),
) -> list[Purged]:
    """Remove the caller's personal data from every place `found` lists; log and return it.

    Statistics stay (the module documentation says exactly what is kept). The link to the
    number (census/ and samples/ `caller_hash`) is cleared last, so an erasure stopped half-way
    (a full disk) is finished by running it again. `also` (the review database's share) is
    logged with the rest.
    """
    out = Path(out)
    ids = set(found.call_ids)
    nights: dict[str, set[date]] = {}
    for h in found.holdings:
        if h.call_date is not None:
            nights.setdefault(h.place, set()).add(h.call_date)
    cache = [h for h in found.holdings if h.place == "transcript_cache"]
    for h in cache:
        Path(h.path).unlink(missing_ok=True)
    pages = [h for h in found.holdings if h.place == "pack"]
    for h in pages:
        _erase_pack_page(Path(h.path), h.call_id)
    steps = (
        (tables.RESTRICTED, "delete"),
        (tables.TRANSCRIPTS, "delete"),
        (tables.SCORECARDS, "evidence,recording"),
        (tables.FAILURES, "recording"),
        (tables.SAMPLES, "caller_hash,recording"),
        (tables.CENSUS, "caller_hash"),
    )
    purged = [_dated("transcript_cache", cache), _dated("pack", pages)]
    purged += [_rewrite(out, t, ids, nights.get(t.name, set()), c) for t, c in steps]
    purged += list(also)
    record_purges(out, purged, day=today, kind="erasure", run_id=run_id, reference=reference)
    return purged


def _dated(place: str, holdings: Sequence[Holding]) -> Purged:
    days = [h.call_date for h in holdings if h.call_date is not None]
    return Purged(
        place,
        files=len(holdings),
        rows=len(holdings),
        oldest=min(days, default=None),
        newest=max(days, default=None),
    )


def _erase_pack_page(page: Path, call_id: str) -> None:
    """Replace a pack page with a notice, delete its silenced audio, and clear the audio in
    pack.parquet (the index keeps its row: the tags in plain words are statistics)."""
    pack = page.parent
    manifest = store.read_file(pack / tables.PACK_FILE, tables.SCRUTINY_PACK)
    mine = manifest["call_id"] == call_id
    for audio in manifest.loc[mine, "audio"].dropna():
        (pack / str(audio)).unlink(missing_ok=True)
    manifest.loc[mine, "audio"] = None
    store.write_file(pack / tables.PACK_FILE, tables.SCRUTINY_PACK, manifest)
    atomic_write_bytes(page, ERASED_PAGE.encode("utf-8"))
