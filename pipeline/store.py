"""Atomic partitioned Parquet writes and reads of the tables in pipeline/tables.py, and SQL.

Tables under `--out` are hive-partitioned by `call_date`:
`<out>/<table>/call_date=YYYY-MM-DD/part-0.parquet`. The key lives in the folder name only
(pandas, pyarrow and DuckDB refuse a key stored in both places), so `pd.read_parquet(<out>/<table>)`
reads a whole table back.

A write is exactly-once per date: the rows replace `part-0.parquet` atomically
(pipeline/files.py), so a re-run of a date replaces that date's rows and never duplicates them,
and a run killed half-way leaves either the old partition or the new one, never half of one.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from pipeline.errors import StoreError
from pipeline.files import atomic_write_table, os_error
from pipeline.tables import (
    CENSUS,
    ESTIMATES,
    FAILURES,
    FREQUENT_CALLERS,
    PACK_FILE,
    PARTITION_KEY,
    PURGES,
    RESTRICTED,
    RUNS,
    SAMPLES,
    SCORECARDS,
    SCRUTINY_PACK,
    TABLES,
    TRANSCRIPTS,
    Rows,
    TableSpec,
    table_spec,
)

# The table specs are re-exported for the modules that import them from here.
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
    "partition_folder",
    "query_output",
    "read_file",
    "read_table",
    "safe_csv_cell",
    "write_file",
    "write_partition",
]

_PART_FILE = "part-0.parquet"
_KEY_TYPE = pa.date32()


def write_partition(out: Path, table: TableSpec | str, call_date: date, rows: Rows) -> Path:
    """Replace `<out>/<table>/call_date=<date>/` with `rows`, atomically; returns the file.

    `rows` may carry a `call_date` column (it must equal `call_date`; it is not stored). Zero rows
    still write an empty file, so re-running a date that now has nothing clears the old rows.
    """
    spec = table_spec(table)
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
    arrow = spec.cast(rows)
    folder = partition_folder(out, spec, call_date)
    target = folder / _PART_FILE
    atomic_write_table(arrow, target)
    # Only part-0 belongs to a partition: anything else there is a stale leftover that would
    # otherwise be read back as duplicate rows.
    for other in folder.glob("*.parquet"):
        if other.name != _PART_FILE:
            other.unlink()
    return target


def partition_folder(out: Path, table: TableSpec | str, call_date: date) -> Path:
    """`<out>/<table>/call_date=<date>`: the folder holding one date's rows of `table`."""
    return Path(out) / table_spec(table).name / f"{PARTITION_KEY}={call_date.isoformat()}"


def _check_dates(found: set[Any], call_date: date) -> None:
    wrong = {d for d in found if pd.Timestamp(d).date() != call_date}
    if wrong:
        raise StoreError(f"rows for {sorted(map(str, wrong))} written to partition {call_date}")


def write_file(path: Path, table: TableSpec | str, rows: Rows) -> Path:
    """Write one unpartitioned table (e.g. a report's estimates) atomically to `path`."""
    atomic_write_table(table_spec(table).cast(rows), Path(path))
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
    spec = table_spec(table)
    folder = Path(out) / spec.name
    if not folder.is_dir():
        return _empty(spec.schema)
    try:
        dataset = ds.dataset(
            folder,
            format="parquet",
            schema=spec.schema,
            partitioning=ds.partitioning(pa.schema([(PARTITION_KEY, _KEY_TYPE)]), flavor="hive"),
        )
        expr = None
        if start is not None:
            expr = ds.field(PARTITION_KEY) >= pa.scalar(start, _KEY_TYPE)
        if end is not None:
            upper = ds.field(PARTITION_KEY) <= pa.scalar(end, _KEY_TYPE)
            expr = upper if expr is None else expr & upper
        if where is not None:
            expr = where if expr is None else expr & where
        result = dataset.to_table(filter=expr)
    except OSError as exc:
        raise os_error(exc, folder, "reading") from exc
    except pa.ArrowInvalid as exc:
        raise StoreError(
            f"cannot read {folder}: {exc} (a file there is not callqa output; move it away)"
        ) from exc
    keys = [k for k in (PARTITION_KEY, "call_id", "turn") if k in spec.schema.names]
    return result.to_pandas().sort_values(keys, kind="stable").reset_index(drop=True)


def read_file(path: Path, table: TableSpec | str) -> pd.DataFrame:
    """One unpartitioned table written by `write_file`; empty if it does not exist."""
    spec = table_spec(table)
    if not Path(path).exists():
        return _empty(spec.schema)
    try:
        return pq.read_table(path, schema=spec.schema).to_pandas()
    except OSError as exc:
        raise os_error(exc, Path(path), "reading") from exc


def partition_dates(out: Path, table: TableSpec | str) -> list[date]:
    """The dates a table has partitions for, oldest first."""
    folder = Path(out) / table_spec(table).name
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
