"""Arrow schemas of every output, atomic partitioned Parquet writes, and reads.

Every column list callqa writes lives here and nowhere else. Tables under `--out` are
hive-partitioned by `call_date`: `<out>/<table>/call_date=YYYY-MM-DD/part-0.parquet`. The key
lives in the folder name only (pandas, pyarrow and DuckDB refuse a key stored in both places),
so `pd.read_parquet(<out>/<table>)` reads a whole table back.

A write is exactly-once per date: the rows go to a hidden temporary file in the partition folder
(readers skip names starting with "."), are fsynced, then `os.replace`d over `part-0.parquet`.
A re-run of a date therefore replaces that date's rows and never duplicates them, and a run
killed half-way leaves either the old partition or the new one, never half of one.
"""

from __future__ import annotations

import errno
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from pipeline.errors import StoreError

__all__ = [
    "CENSUS",
    "ESTIMATES",
    "FAILURES",
    "FREQUENT_CALLERS",
    "PACK_FILE",
    "PARTITION_KEY",
    "PURGES",
    "RESTRICTED",
    "RUNS",
    "SAMPLES",
    "SCORECARDS",
    "SCRUTINY_PACK",
    "TABLES",
    "TRANSCRIPTS",
    "TableSpec",
    "locked_connection",
    "partition_dates",
    "query_output",
    "read_file",
    "read_table",
    "safe_csv_cell",
    "write_file",
    "write_partition",
]

#: The partition column: a folder name, never a column inside the files.
PARTITION_KEY = "call_date"
_PART_FILE = "part-0.parquet"
#: A temporary file untouched this long was left by a killed writer (a write takes seconds).
_STALE_TMP_S = 3600


@dataclass(frozen=True)
class TableSpec:
    """One output table: its folder name under `--out` and its columns in order.

    `schema` includes `call_date` for partitioned tables (where it is read back from the folder
    name); `file_schema` is what is stored inside each Parquet file.
    """

    name: str
    schema: pa.Schema
    partitioned: bool = True

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)

    @property
    def file_schema(self) -> pa.Schema:
        if not self.partitioned:
            return self.schema
        return self.schema.remove(self.schema.get_field_index(PARTITION_KEY))


_STR = pa.string()
_F64 = pa.float64()
_BOOL = pa.bool_()
_I32 = pa.int32()
_DATE = pa.date32()
_TS = pa.timestamp("us", tz="UTC")

#: Why a tag was given (pipeline.tagging.Evidence): the turn index and its words, with personal
#: data already replaced by `[TYPE]`, so the text is as safe to show as `transcripts/`.
_EVIDENCE = pa.struct([("tag", _STR), ("turn", _I32), ("text", _STR)])
#: One caller turn's sentiment (pipeline.sentiment.TurnSentiment): a number, never the words.
_TURN_SENTIMENT = pa.struct([("turn", _I32), ("compound", _F64)])

SCORECARDS = TableSpec(
    "scorecards",
    pa.schema(
        [
            ("call_id", _STR),
            ("call_date", _DATE),
            ("agent_id", _STR),
            ("team", _STR),
            ("queue", _STR),
            ("duration_s", _F64),
            ("sample_kind", _STR),
            ("stratum", _STR),
            ("inclusion_prob", _F64),
            ("weight", _F64),
            ("transcript_confidence", _F64),
            ("contact_reasons", pa.list_(_STR)),
            ("primary_reason", _STR),
            ("avoidable", _BOOL),
            ("avoidable_category", _STR),
            ("repeat_caller", _BOOL),
            ("prior_calls_window", _I32),
            ("greeting", _BOOL),
            ("agent_named", _BOOL),
            ("id_check", _BOOL),
            ("anything_else_offered", _BOOL),
            ("closing", _BOOL),
            ("complaint", _BOOL),
            ("transferred", _BOOL),
            ("talk_ratio_agent", _F64),
            ("silence_ratio", _F64),
            ("overtalk_s", _F64),
            ("pii_redactions", _I32),
            ("qa_score", _F64),
            ("flags", pa.list_(_STR)),
            ("needs_review", _BOOL),
            ("run_id", _STR),
            ("pipeline_version", _STR),
            # Extras beyond DESIGN.md's minimum: the evidence behind each tag and flag, and what a
            # reviewer needs to find and play the call.
            ("evidence", pa.list_(_EVIDENCE)),
            ("started_at", _TS),
            ("direction", _STR),
            ("recording", _STR),
            ("channel_layout", _STR),
            ("longest_silence_s", _F64),
            ("low_confidence", _BOOL),
            ("transcript_status", _STR),
            ("model", _STR),
            # The learned tagger: each tag's calibrated probability, the reviewed tags it was
            # unsure of, and the model's version (models/tagger/model.json).
            ("probabilities", pa.map_(_STR, _F64)),
            ("uncertain", pa.list_(_STR)),
            ("tagger_version", _STR),
            # Why the transcript is not plain "ok": no speech, a recording fault with its
            # figures, or low confidence.
            ("transcript_reason", _STR),
            # Vulnerability ids the tagger found (models/vulnerability.yaml) and whether any is a
            # safeguarding one; the words behind them are `evidence` rows `vulnerability:<id>`.
            ("vulnerability", pa.list_(_STR)),
            ("safeguarding", _BOOL),
            # The caller's VADER sentiment (pipeline/sentiment.py, -1 to +1): per caller turn,
            # and the mean over the call and over its opening and closing thirds.
            ("caller_sentiment_turns", pa.list_(_TURN_SENTIMENT)),
            ("caller_sentiment", _F64),
            ("caller_sentiment_opening", _F64),
            ("caller_sentiment_closing", _F64),
            # Every QA check (DESIGN.md's five, which keep their columns above, and a council's
            # own) -> passed, and each flag family of models/flags.yaml -> the tag ids found:
            # maps, so a council's new ids never change the schema (docs/design.md).
            ("qa_checks", pa.map_(_STR, _BOOL)),
            ("tags", pa.map_(_STR, pa.list_(_STR))),
        ]
    ),
)

#: One row per turn; `text` is redacted.
TRANSCRIPTS = TableSpec(
    "transcripts",
    pa.schema(
        [
            ("call_id", _STR),
            ("call_date", _DATE),
            ("turn", _I32),
            ("speaker", _STR),
            ("start_s", _F64),
            ("end_s", _F64),
            ("text", _STR),
            ("confidence", _F64),
        ]
    ),
)

_WORD = pa.struct([("start_s", _F64), ("end_s", _F64), ("text", _STR), ("probability", _F64)])
_PII = pa.struct([("type", _STR), ("start", _I32), ("end", _I32)])

#: Unredacted turns for quality leads only, with word timings and the personal-data spans found
#: in each turn, so audio can be silenced later without re-running the models.
RESTRICTED = TableSpec(
    "restricted",
    pa.schema(
        [
            *TRANSCRIPTS.schema,
            ("words", pa.list_(_WORD)),
            ("pii", pa.list_(_PII)),
            # How sure the speaker is (1.0 on a stereo channel; mono: pipeline/diarize.py).
            ("speaker_confidence", _F64),
        ]
    ),
)

#: The night's sample manifest: every drawn call, why it was drawn and the design behind it
#: (pipeline.sampling.MANIFEST_COLUMNS, documented there, plus the run that drew it).
SAMPLES = TableSpec(
    "samples",
    pa.schema(
        [
            ("call_id", _STR),
            ("call_date", _DATE),
            ("started_at", _TS),
            ("agent_id", _STR),
            ("team", _STR),
            ("queue", _STR),
            ("duration_s", _F64),
            ("direction", _STR),
            ("recording", _STR),
            ("channel_layout", _STR),
            ("caller_hash", _STR),
            ("repeat_caller", _BOOL),
            ("prior_calls_window", _I32),
            ("sample_kind", _STR),
            ("stratum", _STR),
            ("stratum_population", pa.int64()),
            ("stratum_sample_size", pa.int64()),
            ("inclusion_prob", _F64),
            ("weight", _F64),
            ("reason_picked", _STR),
            ("seed", pa.int64()),
            ("method", _STR),
            ("population", pa.int64()),
            ("run_id", _STR),
        ]
    ),
)

FAILURES = TableSpec(
    "failures",
    pa.schema(
        [
            ("call_id", _STR),
            ("call_date", _DATE),
            ("stage", _STR),
            ("reason", _STR),
            ("recording", _STR),
            ("run_id", _STR),
        ]
    ),
)

#: Every eligible call of a night's log (the census behind the repeat-caller rate), not only the
#: sampled ones. `caller_hash` is the keyed hash from pipeline/calls.py, never a number.
CENSUS = TableSpec(
    "census",
    pa.schema(
        [
            ("call_id", _STR),
            ("call_date", _DATE),
            ("started_at", _TS),
            ("agent_id", _STR),
            ("team", _STR),
            ("queue", _STR),
            ("direction", _STR),
            ("recorded", _BOOL),
            ("caller_hash", _STR),
            ("repeat_caller", _BOOL),
            ("prior_calls_window", _I32),
        ]
    ),
)

#: `reports/YYYY-MM/frequent_callers.parquet`: callers who rang most in the month, pseudonymised.
FREQUENT_CALLERS = TableSpec(
    "frequent_callers",
    pa.schema(
        [
            ("caller", _STR),
            ("calls", pa.int64()),
            ("queues", pa.list_(_STR)),
            ("first_contact", _TS),
            ("last_contact", _TS),
        ]
    ),
    partitioned=False,
)

#: `reports/YYYY-MM/estimates.parquet`: one row per estimate (not partitioned).
ESTIMATES = TableSpec(
    "estimates",
    pa.schema(
        [
            ("metric", _STR),
            ("group", _STR),
            ("estimate", _F64),
            ("ci_low", _F64),
            ("ci_high", _F64),
            ("n_sampled", pa.int64()),
            ("population", pa.int64()),
            ("method", _STR),
            # Extras: the month and the change from the month before, when there is one.
            ("month", _STR),
            ("previous_estimate", _F64),
            ("change", _F64),
            # Corrected rows (method double_sampling): the reviewed calls behind the correction.
            ("n_reviewed", pa.int64()),
        ]
    ),
    partitioned=False,
)

#: `<pack>/pack.parquet`: which call each page and silenced recording of a scrutiny pack is
#: (file names inside the pack), so the review app can serve a pack by call id. The pack's HTML
#: and CSV, which councillors read, never carry a call id; this file is for the review app.
SCRUTINY_PACK = TableSpec(
    "pack",
    pa.schema([("call_id", _STR), ("page", _STR), ("audio", _STR)]),
    partitioned=False,
)
#: The file name of `SCRUTINY_PACK` inside a pack folder.
PACK_FILE = "pack.parquet"

#: `purges/`: what each purge removed (the nightly retention purge and `callqa subject-access
#: --erase`), one row per place purged. Counts and dates only, never content, numbers or hashes,
#: so the log itself can be kept as long as the council needs to show it enforced its periods.
#: `call_date` is the night (or, for an erasure, the day) of the run that purged; `kind` is
#: `retention` or `erasure`; `cutoff` is the first date kept; `files` and `rows` what went.
PURGES = TableSpec(
    "purges",
    pa.schema(
        [
            ("call_date", _DATE),
            ("purged_at", _TS),
            ("run_id", _STR),
            ("kind", _STR),
            ("what", _STR),
            ("kept_days", _I32),
            ("cutoff", _DATE),
            ("files", pa.int64()),
            ("rows", pa.int64()),
            ("oldest", _DATE),
            ("newest", _DATE),
            ("reference", _STR),
        ]
    ),
)

#: `runs/`: one row per run of the nightly screening (a re-run of a night adds a row), so the
#: review app and IT can see how each night went without Prefect: when it ran, its `state`
#: (`completed` or `failed`), the calls `drawn`, `scored` and `failed`, the per-call
#: `failures` counted by stage, and for a failed night the step it stopped at (`error_stage`)
#: and the error's type (`error`). Counts, names of steps and ids only, never call content.
RUNS = TableSpec(
    "runs",
    pa.schema(
        [
            ("call_date", _DATE),
            ("run_id", _STR),
            ("started_at", _TS),
            ("finished_at", _TS),
            ("state", _STR),
            ("drawn", pa.int64()),
            ("scored", pa.int64()),
            ("failed", pa.int64()),
            ("failures", pa.list_(pa.struct([("stage", _STR), ("calls", pa.int64())]))),
            ("error_stage", _STR),
            ("error", _STR),
        ]
    ),
)

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        SCORECARDS,
        TRANSCRIPTS,
        RESTRICTED,
        SAMPLES,
        FAILURES,
        CENSUS,
        ESTIMATES,
        FREQUENT_CALLERS,
        SCRUTINY_PACK,
        PURGES,
        RUNS,
    )
}


def _spec(table: TableSpec | str) -> TableSpec:
    if isinstance(table, TableSpec):
        return table
    try:
        return TABLES[table]
    except KeyError:
        raise StoreError(f"unknown table {table!r}; known: {', '.join(TABLES)}") from None


def _os_error(exc: OSError, path: Path, doing: str) -> StoreError:
    """Translate an OS error into what the operator has to fix."""
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return StoreError(
            f"disk full while {doing} {path}: free some space on that disk "
            "or point --out at a disk with room, then run the same date again"
        )
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StoreError(
            f"cannot write {path}: the output folder is read-only or not writable by this user "
            "(fix its permissions or mount, or point --out elsewhere)"
        )
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return StoreError(
            f"cannot use {path}: part of that path is a file, not a folder "
            "(move the file or point --out elsewhere)"
        )
    return StoreError(f"{doing} {path} failed: {exc.strerror or exc}")


def _to_arrow(rows: pd.DataFrame | Sequence[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows in the table's exact column order and types; a missing or unknown column is an error."""
    if isinstance(rows, pd.DataFrame):
        given = set(rows.columns)
    else:
        given = set().union(*(r.keys() for r in rows)) if rows else set(schema.names)
    missing = [n for n in schema.names if n not in given]
    unknown = sorted(given - set(schema.names))
    if missing or unknown:
        raise StoreError(
            f"rows do not match the schema: missing {missing}, unknown {unknown} "
            "(column lists live in pipeline/store.py)"
        )
    try:
        if isinstance(rows, pd.DataFrame):
            return pa.Table.from_pandas(rows[schema.names], schema=schema, preserve_index=False)
        return pa.Table.from_pylist([dict(r) for r in rows], schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise StoreError(f"rows do not fit the schema: {exc}") from exc


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(table: pa.Table, target: Path) -> None:
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(tmp, "wb") as fh:
                pq.write_table(table, fh, compression="zstd")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        _sweep_stale(target)
    except OSError as exc:
        raise _os_error(exc, target, "writing") from exc


def _sweep_stale(target: Path) -> None:
    """Remove temporary files a killed writer of `target` left behind.

    Only old ones: a writer still at work (another run of the same date) keeps its file fresh.
    """
    cutoff = time.time() - _STALE_TMP_S
    for tmp in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
        except FileNotFoundError:
            pass


def write_partition(
    out: Path,
    table: TableSpec | str,
    call_date: date,
    rows: pd.DataFrame | Sequence[Mapping[str, Any]],
) -> Path:
    """Replace `<out>/<table>/call_date=<date>/` with `rows`, atomically; returns the file.

    `rows` may carry a `call_date` column (it must equal `call_date`; it is not stored). Zero rows
    still write an empty file, so re-running a date that now has nothing clears the old rows.
    """
    spec = _spec(table)
    if not spec.partitioned:
        raise StoreError(f"table {spec.name!r} is not partitioned; use write_file")
    if isinstance(rows, pd.DataFrame):
        if PARTITION_KEY in rows.columns:
            _check_dates(set(rows[PARTITION_KEY]), call_date)
            rows = rows.drop(columns=[PARTITION_KEY])
    else:
        if any(PARTITION_KEY in r for r in rows):
            _check_dates({r.get(PARTITION_KEY) for r in rows}, call_date)
        rows = [{k: v for k, v in r.items() if k != PARTITION_KEY} for r in rows]
    arrow = _to_arrow(rows, spec.file_schema)
    folder = Path(out) / spec.name / f"{PARTITION_KEY}={call_date.isoformat()}"
    target = folder / _PART_FILE
    _atomic_write(arrow, target)
    # Only part-0 belongs to a partition: anything else there is a stale leftover that would
    # otherwise be read back as duplicate rows.
    for other in folder.glob("*.parquet"):
        if other.name != _PART_FILE:
            other.unlink()
    return target


def _check_dates(found: set[Any], call_date: date) -> None:
    wrong = {d for d in found if pd.Timestamp(d).date() != call_date}
    if wrong:
        raise StoreError(f"rows for {sorted(map(str, wrong))} written to partition {call_date}")


def write_file(
    path: Path, table: TableSpec | str, rows: pd.DataFrame | Sequence[Mapping[str, Any]]
) -> Path:
    """Write one unpartitioned table (e.g. a report's estimates) atomically to `path`."""
    spec = _spec(table)
    _atomic_write(_to_arrow(rows, spec.file_schema), Path(path))
    return Path(path)


def _empty(schema: pa.Schema) -> pd.DataFrame:
    return schema.empty_table().to_pandas()


def read_table(
    out: Path,
    table: TableSpec | str,
    *,
    start: date | None = None,
    end: date | None = None,
    where: ds.Expression | None = None,
) -> pd.DataFrame:
    """All rows of a partitioned table, optionally for dates `start`..`end` inclusive and only
    those matching `where` (a pyarrow dataset expression, pushed down into the scan).

    `call_date` comes back as `datetime.date` objects. A table never written reads as an empty
    frame with the right columns.
    """
    spec = _spec(table)
    folder = Path(out) / spec.name
    if not folder.is_dir():
        return _empty(spec.schema)
    try:
        dataset = ds.dataset(
            folder,
            format="parquet",
            schema=spec.schema,
            partitioning=ds.partitioning(pa.schema([(PARTITION_KEY, _DATE)]), flavor="hive"),
        )
        expr = None
        if start is not None:
            expr = ds.field(PARTITION_KEY) >= pa.scalar(start, _DATE)
        if end is not None:
            upper = ds.field(PARTITION_KEY) <= pa.scalar(end, _DATE)
            expr = upper if expr is None else expr & upper
        if where is not None:
            expr = where if expr is None else expr & where
        result = dataset.to_table(filter=expr)
    except OSError as exc:
        raise _os_error(exc, folder, "reading") from exc
    except pa.ArrowInvalid as exc:
        raise StoreError(
            f"cannot read {folder}: {exc} (a file there is not callqa output; move it away)"
        ) from exc
    keys = [k for k in (PARTITION_KEY, "call_id", "turn") if k in spec.schema.names]
    return result.to_pandas().sort_values(keys, kind="stable").reset_index(drop=True)


def read_file(path: Path, table: TableSpec | str) -> pd.DataFrame:
    """One unpartitioned table written by `write_file`; empty if it does not exist."""
    spec = _spec(table)
    if not Path(path).exists():
        return _empty(spec.schema)
    try:
        return pq.read_table(path, schema=spec.schema).to_pandas()
    except OSError as exc:
        raise _os_error(exc, Path(path), "reading") from exc


def partition_dates(out: Path, table: TableSpec | str) -> list[date]:
    """The dates a table has partitions for, oldest first."""
    folder = Path(out) / _spec(table).name
    if not folder.is_dir():
        return []
    found = []
    for child in folder.glob(f"{PARTITION_KEY}=*"):
        if (child / _PART_FILE).exists():
            try:
                found.append(date.fromisoformat(child.name.split("=", 1)[1]))
            except ValueError:
                continue
    return sorted(found)


# -- ad-hoc SQL and CSV --------------------------------------------------------------------


#: What `callqa sql` answers with when a query reaches past its views (restricted/, keys, other
#: files, writes, extensions or settings).
_SQL_LOCKED = (
    "callqa sql only reads the output tables ({tables}): other files (restricted/, the keys), "
    "ATTACH, COPY, EXPORT, INSTALL/LOAD, creating tables and changing settings are switched off"
)


def _sql_views(out: Path) -> dict[str, str]:
    """Each exposed table's view definition, for the tables `out` has files of.

    `restricted` (unredacted transcripts) is left out: it is for quality leads, in the review app.
    """
    views = {}
    for spec in TABLES.values():
        if spec is RESTRICTED or spec is SCRUTINY_PACK:
            continue
        if spec.partitioned:
            if not any((out / spec.name).glob(f"{PARTITION_KEY}=*/*.parquet")):
                continue
            files = out / spec.name / f"{PARTITION_KEY}=*" / "*.parquet"
            source = (
                f"read_parquet('{_sql_text(files)}', hive_partitioning=true, union_by_name=true)"
            )
            views[spec.name] = f"SELECT * FROM {source}"
        else:
            if not any((out / "reports").glob(f"*/{spec.name}.parquet")):
                continue
            files = out / "reports" / "*" / f"{spec.name}.parquet"
            source = f"read_parquet('{_sql_text(files)}', filename=true)"
            views[spec.name] = (
                "SELECT * EXCLUDE (filename"
                + (", month" if "month" in spec.columns else "")
                + "), regexp_extract(filename, 'reports/([0-9-]+)/', 1) AS month FROM "
                + source
            )
    return views


def _sql_folders(out: Path) -> list[Path]:
    """The folders the views read: every exposed partitioned table's and reports/."""
    folders = [out / s.name for s in TABLES.values() if s.partitioned and s is not RESTRICTED]
    return [*folders, out / "reports"]


def locked_connection(out: Path, temp_dir: Path | None = None) -> Any:
    """An in-memory DuckDB with the output's views, then file access off and settings locked.

    Views are bound again at every query, so they keep working through `allowed_directories`
    (the table folders only); everything else on disk, ATTACH, COPY TO, INSTALL/LOAD and secrets
    hit `enable_external_access=false`, and `lock_configuration` stops a query turning it back on.
    DuckDB's spill folder is allowed too, so it is pointed at `temp_dir` (a private empty folder)
    rather than `.tmp/` in the working folder.
    """
    import duckdb

    out = Path(out).resolve()
    con = duckdb.connect(":memory:")
    try:
        for name, definition in _sql_views(out).items():
            con.execute(f"CREATE VIEW {name} AS {definition}")
        if temp_dir is not None:
            con.execute(f"SET temp_directory = '{_sql_text(temp_dir)}'")
        # A trailing `/` makes each a folder prefix: `samples/` does not allow `samples_old/`.
        folders = ", ".join(f"'{_sql_text(f)}/'" for f in _sql_folders(out))
        con.execute(f"SET allowed_directories = [{folders}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


#: Statements that only read. Anything else (COPY, ATTACH, SET, LOAD/INSTALL, PRAGMA, CREATE,
#: EXPORT, CALL) is refused before it runs, so a write into a view's own (allowed) folder, which
#: DuckDB's file lock would let through, never happens.
_READ_ONLY = ("SELECT", "EXPLAIN")


def query_output(out: Path, query: str) -> pd.DataFrame:
    """Run read-only DuckDB SQL over `<out>`: each table is a view of its name (`scorecards`, ...).

    `restricted` (unredacted transcripts) is left out, and the query cannot read it (or the key
    files, or any other file) by name either: see `locked_connection`. `estimates` and
    `frequent_callers` cover every month's report, with a `month` column.
    """
    import tempfile

    import duckdb

    shown = ", ".join(_sql_views(Path(out).resolve())) or "none yet"
    with tempfile.TemporaryDirectory(prefix="callqa-sql-") as spill:
        con = locked_connection(out, Path(spill))
        try:
            kinds = [s.type.name for s in con.extract_statements(query)]
            if any(kind not in _READ_ONLY for kind in kinds):
                raise StoreError(_SQL_LOCKED.format(tables=shown))
            return con.execute(query).df()
        except (duckdb.PermissionException, duckdb.InvalidInputException) as exc:
            if isinstance(exc, duckdb.InvalidInputException) and "locked" not in str(exc):
                raise StoreError(f"SQL failed: {exc} (tables: {shown})") from exc
            # DuckDB's message names the file; ours says why and what is allowed.
            raise StoreError(_SQL_LOCKED.format(tables=shown)) from exc
        except duckdb.Error as exc:
            raise StoreError(f"SQL failed: {exc} (tables: {shown})") from exc
        finally:
            con.close()


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_csv_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula: text starting =, +, -, @ gets a `'`."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
