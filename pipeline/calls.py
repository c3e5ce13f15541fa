"""Read and validate a call log, or build one from a folder of recordings.

The call log is the contract in docs/design.md: one row per call, recorded or not. Reading is
vectorised (pyarrow CSV + compute), so a month of a large council's calls loads in seconds.

A bad row is rejected with its row number (as a spreadsheet shows it: the header is row 1)
and the reason; the rest go on. A file with no usable rows is a `CallLogError`.

Caller numbers are normalised to E.164 and HMAC-SHA256 hashed here, at the edge
(pipeline/callers.py): the clear number never leaves this module, not in the returned table,
rejections or error messages. Each field is cleaned and parsed by pipeline/callfields.py.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.callers import hash_caller_numbers
from pipeline.callfields import (
    TEXT,
    Reasons,
    as_series,
    as_string,
    clean_codes,
    clean_text,
    is_codes,
    is_text,
    map_values,
    parse_duration,
    parse_started_at,
    true_rows,
)
from pipeline.errors import CallLogError

__all__ = [
    "CALL_LOG_COLUMNS",
    "REQUIRED_COLUMNS",
    "CallLog",
    "RejectedRow",
    "calls_from_filenames",
    "read_call_log",
]

#: The input contract (docs/design.md "Call log"), in order.
CALL_LOG_COLUMNS = (
    "call_id",
    "started_at",
    "duration_s",
    "agent_id",
    "team",
    "queue",
    "caller_number",
    "direction",
    "recording",
    "channel_layout",
)
REQUIRED_COLUMNS = ("call_id", "started_at", "agent_id", "queue")

AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".wma")

_DIRECTION_ALIASES = {
    "inbound": "inbound",
    "in": "inbound",
    "outbound": "outbound",
    "out": "outbound",
}
_LAYOUT_ALIASES = {
    "agent_left": "agent_left",
    "agent-left": "agent_left",
    "agent_right": "agent_right",
    "agent-right": "agent_right",
    "mono": "mono",
}
_DATE = pd.ArrowDtype(pa.date32())
#: Columns with few distinct values, dictionary-encoded from the read on: ten million rows
#: hold each agent, team or queue name once plus a small code per row, and reach pandas as
#: categoricals.
_CATEGORICAL = ("agent_id", "team", "queue", "direction", "channel_layout")
_CODES = pa.dictionary(pa.int32(), pa.string())
# Wide enough for the odd 1 MB notes field an export may carry.
_BLOCK_SIZE = 1 << 25


@dataclass(frozen=True)
class RejectedRow:
    """A call-log row that was left out, and why."""

    row: int
    call_id: str | None
    reason: str

    def __str__(self) -> str:
        who = f" (call_id {self.call_id!r})" if self.call_id else ""
        return f"row {self.row}{who}: {self.reason}"


@dataclass
class CallLog:
    """A validated call log.

    `calls` has one row per call and these columns: call_id, started_at (UTC), call_date (local
    calendar date), duration_s, agent_id, team, queue, caller_hash (hex HMAC-SHA256 of the E.164
    number, categorical; null when withheld, empty or not a phone number), direction, recording (null when
    not recorded), channel_layout, row (the source row number, for messages).
    """

    calls: pd.DataFrame
    rejected: list[RejectedRow] = field(default_factory=list)
    source: str = ""


def read_call_log(
    path: Path,
    *,
    caller_hash_key: bytes,
    timezone: str = "Europe/London",
    default_layout: str = "agent_left",
) -> CallLog:
    """Read a CSV (UTF-8, UTF-8 with BOM, UTF-16 or Windows-1252) or Parquet call log."""
    path = Path(path)
    if not path.is_file():
        raise CallLogError(f"{path}: call log not found. Give the path of a CSV or Parquet export.")
    if path.suffix.lower() in (".parquet", ".pq"):
        tables, physical, skipped = [_read_parquet(path)], None, []
    else:
        table, physical, skipped = _read_csv(path)
        tables = [table]
        del table
    return _validate(
        tables, physical, str(path), caller_hash_key, timezone, default_layout, skipped
    )


def calls_from_filenames(
    folder: Path,
    pattern: str,
    *,
    caller_hash_key: bytes = b"",
    timezone: str = "Europe/London",
    default_layout: str = "agent_left",
    default_queue: str = "unknown",
) -> CallLog:
    """Build a call log from recording file names when the phone system gives no log.

    `pattern` is a regex with named groups matched against each file name (without folder),
    e.g. ``(?P<call_id>.+)_AGENT_(?P<agent_id>[^_]+)_DT_(?P<started_at>[\\dT-]+)_(?P<channel_layout>Mono|Stereo)``.
    Groups named after call-log columns fill them; `started_at` may use dashes in the time
    (``2025-02-19T06-01-22``). `call_id` defaults to the file stem, `queue` to `default_queue`,
    a `channel_layout` of ``Stereo`` to `default_layout`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CallLogError(f"{folder}: recordings folder not found.")
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise CallLogError(f"--filename-pattern is not a valid regular expression: {exc}") from exc
    unknown = set(regex.groupindex) - set(CALL_LOG_COLUMNS)
    if unknown:
        raise CallLogError(
            f"--filename-pattern has groups {sorted(unknown)} that are not call-log columns; "
            f"use any of {', '.join(CALL_LOG_COLUMNS)}."
        )
    rows: dict[str, list[str | None]] = {c: [] for c in CALL_LOG_COLUMNS}
    for file in sorted(folder.rglob("*")):
        if not file.is_file() or file.suffix.lower() not in AUDIO_SUFFIXES:
            continue
        match = regex.search(file.name)
        if match is None:
            continue
        found = match.groupdict()
        found.setdefault("call_id", file.stem)
        found.setdefault("queue", default_queue)
        found["recording"] = file.relative_to(folder).as_posix()
        when = found.get("started_at") or ""
        found["started_at"] = re.sub(r"T(\d{2})-(\d{2})-(\d{2})", r"T\1:\2:\3", when)
        if (found.get("channel_layout") or "").lower() == "stereo":
            found["channel_layout"] = default_layout
        for column in CALL_LOG_COLUMNS:
            rows[column].append(found.get(column))
    if not rows["call_id"]:
        raise CallLogError(
            f"{folder}: no audio file name matches --filename-pattern {pattern!r}. "
            "Check the pattern against one file name."
        )
    table = pa.table({c: pa.array(v, TEXT) for c, v in rows.items()})
    return _validate([table], None, str(folder), caller_hash_key, timezone, default_layout)


# -- reading -------------------------------------------------------------------------------


def _read_csv(path: Path) -> tuple[pa.Table, list[int] | None, list[RejectedRow]]:
    head = path.read_bytes()[:4096]
    if not head.strip():
        raise CallLogError(f"{path}: the file is empty. Export the call log with a header row.")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ["utf-16"]
    else:
        encodings = ["utf-8", "cp1252", "latin-1"]
    delimiter = _sniff_delimiter(head)
    last_error: Exception | None = None
    for encoding in encodings:
        try:
            return _read_csv_as(path, encoding, delimiter)
        except pa.ArrowInvalid as exc:
            last_error = exc
            if "UTF8" not in str(exc) and "UTF-8" not in str(exc) and "decode" not in str(exc):
                break
        except UnicodeDecodeError as exc:
            last_error = exc
    raise CallLogError(
        f"{path}: cannot read this as a CSV call log ({last_error}). "
        "Export it as CSV (UTF-8 or Windows-1252) with a header row."
    )


def _read_csv_as(
    path: Path, encoding: str, delimiter: str
) -> tuple[pa.Table, list[int] | None, list[RejectedRow]]:
    invalid: list[pacsv.InvalidRow] = []

    def skip(row: pacsv.InvalidRow) -> str:
        invalid.append(row)
        return "skip"

    names = _header_names(path, encoding, delimiter)

    def read(use_threads: bool) -> pa.Table:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                encoding=encoding, block_size=_BLOCK_SIZE, use_threads=use_threads
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=skip
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: _CODES if _column_key(n) in _CATEGORICAL else TEXT for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    table = read(use_threads=True)
    if not invalid:
        return table, None, []
    # Row numbers of skipped rows are only known when reading on one thread.
    invalid.clear()
    table = read(use_threads=False)
    rejected = [
        RejectedRow(
            row.number or -1,
            None,
            f"has {row.actual_columns} fields where the header has {row.expected_columns}",
        )
        for row in invalid
    ]
    bad = {r.row for r in rejected}
    total = table.num_rows + len(invalid)
    physical = [n for n in range(2, total + 2) if n not in bad]
    return table, physical + [-1] * (table.num_rows - len(physical)), rejected


def _header_names(path: Path, encoding: str, delimiter: str) -> list[str]:
    with path.open(encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as fh:
        return next(csv.reader(fh, delimiter=delimiter), [])


def _sniff_delimiter(head: bytes) -> str:
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        head = head.removeprefix(bom)
    first = head.replace(b"\x00", b"").split(b"\n", 1)[0]
    counts = {d: first.count(d.encode()) for d in (",", ";", "\t", "|")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _read_parquet(path: Path) -> pa.Table:
    columns = {}
    try:
        names = [n for n in pq.read_schema(path).names if _column_key(n) in CALL_LOG_COLUMNS]
        # Column by column, so only one column is ever held in two types at once.
        for name in names:
            key = _column_key(name)
            categorical = [name] if key in _CATEGORICAL else None
            column = pq.read_table(path, columns=[name], read_dictionary=categorical).column(0)
            if pa.types.is_timestamp(column.type) or pa.types.is_floating(column.type):
                columns[name] = column
            elif pa.types.is_integer(column.type) and key == "duration_s":
                columns[name] = pc.cast(column, pa.float64())
            elif categorical and is_codes(column.type):
                columns[name] = column
            else:
                columns[name] = pc.cast(column, TEXT)
    except (pa.ArrowException, OSError) as exc:
        raise CallLogError(f"{path}: cannot read this Parquet file ({exc}).") from exc
    return pa.table(columns)


# -- validation ----------------------------------------------------------------------------


def _column_key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().strip("\ufeff").lower())


def _validate(
    tables: list[pa.Table],
    physical_rows: list[int] | None,
    source: str,
    key: bytes,
    timezone: str,
    default_layout: str,
    skipped: list[RejectedRow] | None = None,
) -> CallLog:
    # `tables` holds the only reference to the raw table: taking it out lets each raw column be
    # freed once validated, which is what keeps a 10-million-row log within memory.
    raw, n = _by_column_key(tables.pop(), source)
    _check_has_rows(n, source, skipped)
    rows = pa.array(np.arange(2, n + 2) if physical_rows is None else physical_rows, pa.int64())
    columns, reasons, has_duplicates = _check_columns(raw, n, key, timezone, default_layout)
    raw.clear()
    bad = reasons.rows()
    rejected = [
        *(skipped or []),
        *(
            RejectedRow(int(r), None if c is None else str(c)[:80], t)
            for r, c, t in zip(
                pc.take(rows, bad).to_pylist(),
                pc.take(columns["call_id"], bad).to_pylist(),
                reasons.texts(bad),
                strict=True,
            )
        ),
    ]
    columns["row"] = rows
    del rows
    keep = reasons.kept() if len(bad) else None
    del reasons
    frame = _frame(columns, keep)
    if has_duplicates:
        frame = _drop_duplicates(frame, rejected)
    rejected.sort(key=lambda r: r.row)

    if frame.empty:
        detail = "; ".join(str(r) for r in rejected[:5])
        raise CallLogError(
            f"{source}: no usable rows ({len(rejected)} rejected). First problems: {detail}"
        )
    # Arrow keeps freed buffers for reuse; a 10-million-row log would otherwise hold gigabytes.
    pa.default_memory_pool().release_unused()
    return CallLog(calls=frame, rejected=rejected, source=source)


def _by_column_key(table: pa.Table, source: str) -> tuple[dict[str, pa.ChunkedArray], int]:
    """The call-log columns of `table` by their contract name (the first of each), and its rows.

    A missing required column is a `CallLogError` that lists what the file has.
    """
    found: dict[str, pa.ChunkedArray] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        column_key = _column_key(name)
        if column_key in CALL_LOG_COLUMNS and column_key not in found:
            found[column_key] = column
    missing = [c for c in REQUIRED_COLUMNS if c not in found]
    if missing:
        shown = ", ".join(repr(name) for name in table.column_names[:12]) or "none"
        raise CallLogError(
            f"{source}: missing required column(s) {', '.join(missing)}. Found: {shown}. "
            f"The call log needs {', '.join(REQUIRED_COLUMNS)} (see README, 'Call log columns')."
        )
    return found, table.num_rows


def _check_has_rows(n: int, source: str, skipped: list[RejectedRow] | None) -> None:
    if n == 0 and skipped:
        detail = "; ".join(str(r) for r in skipped[:5])
        raise CallLogError(
            f"{source}: no usable rows ({len(skipped)} rejected). First problems: {detail}"
        )
    if n == 0:
        raise CallLogError(f"{source}: the call log has a header but no rows.")


class _Checked(NamedTuple):
    """Every column of `CallLog.calls` but `row`, parsed, and why each bad row is rejected."""

    columns: dict[str, pa.Array | pa.ChunkedArray]
    reasons: Reasons
    #: Whether a call_id may repeat (exact when False).
    has_duplicates: bool


def _check_columns(
    raw: dict[str, pa.ChunkedArray], n: int, key: bytes, timezone: str, default_layout: str
) -> _Checked:
    """Clean and parse each raw column, taking it out of `raw` as soon as it is replaced."""

    def text(name: str) -> pa.ChunkedArray | pa.Array:
        column = raw.pop(name, None)
        if column is None:
            column = pa.nulls(n, pa.string())
        if name in _CATEGORICAL:
            return clean_codes(column)
        return clean_text(column) if is_text(column.type) else column

    reasons = Reasons(n)
    call_id = text("call_id")
    reasons.add(true_rows(pc.is_null(call_id)), "call_id is empty")
    # Hashes first: spares an exact check of ten million ids when none repeats.
    has_duplicates = _may_repeat(call_id)
    agent_id = text("agent_id")
    reasons.add(true_rows(pc.is_null(agent_id)), "agent_id is empty")
    queue = text("queue")
    reasons.add(true_rows(pc.is_null(queue)), "queue is empty")

    started_utc = parse_started_at(text("started_at"), timezone, reasons)
    duration = parse_duration(text("duration_s"), reasons)
    recording = text("recording")
    reasons.add(
        true_rows(pc.and_(pc.is_null(duration), pc.is_null(recording))),
        "duration_s is empty and the call has no recording: give the duration in seconds",
    )
    direction = map_values(
        text("direction"),
        _DIRECTION_ALIASES,
        default="inbound",
        reasons=reasons,
        message=("direction ", " is not inbound or outbound"),
    )
    layout = map_values(
        text("channel_layout"),
        _LAYOUT_ALIASES,
        default=default_layout,
        reasons=reasons,
        message=("channel_layout ", " is not agent_left, agent_right or mono"),
    )
    numbers = raw.pop("caller_number", None)
    # Not cleaned like the other text: normalising the distinct numbers trims them anyway.
    caller_hash = hash_caller_numbers(pa.nulls(n, pa.string()) if numbers is None else numbers, key)
    del numbers
    columns = {
        "call_id": call_id,
        "started_at": started_utc,
        "call_date": _local_dates(started_utc, timezone),
        "duration_s": duration,
        "agent_id": agent_id,
        "team": text("team"),
        "queue": queue,
        "caller_hash": caller_hash,
        "direction": direction,
        "recording": recording,
        "channel_layout": layout,
    }
    return _Checked(columns, reasons, has_duplicates)


def _frame(columns: dict[str, pa.Array | pa.ChunkedArray], keep: pa.Array | None) -> pd.DataFrame:
    """`columns` as a frame of the rows in `keep` (all when None), emptying `columns`."""
    return pd.DataFrame(
        {
            # One column at a time, so a large log never holds two filtered copies of itself.
            name: _as_column(
                pc.filter(columns.pop(name), keep) if keep is not None else columns.pop(name)
            )
            for name in list(columns)
        },
        # The columns are new and used nowhere else: a copy would only double them for a moment.
        copy=False,
    )


def _drop_duplicates(frame: pd.DataFrame, rejected: list[RejectedRow]) -> pd.DataFrame:
    """`frame` without repeats of a call_id (the first row stays); each repeat is rejected."""
    duplicate = frame["call_id"].duplicated(keep="first").to_numpy()
    if not duplicate.any():
        return frame
    first_rows = frame[~duplicate].set_index("call_id")["row"]
    for row, cid in zip(frame["row"][duplicate], frame["call_id"][duplicate], strict=True):
        first = int(first_rows[cid])
        rejected.append(RejectedRow(int(row), cid, f"duplicate call_id: also on row {first}"))
    return frame[~duplicate].reset_index(drop=True)


# -- small helpers -------------------------------------------------------------------------


def _may_repeat(values: pa.ChunkedArray | pa.Array) -> bool:
    """Whether a non-null value may occur twice; exact when False, the usual answer.

    Compares DuckDB's 64-bit hash of each value (80 MB for ten million call ids) where an exact
    distinct count keeps a hash table of the strings themselves (~700 MB).
    """
    with duckdb.connect() as con:
        con.register("ids", pa.table({"id": values}))
        hashes = con.execute("SELECT hash(id) AS h FROM ids WHERE id IS NOT NULL").fetchnumpy()
    ordered = np.sort(hashes["h"])
    return bool((ordered[1:] == ordered[:-1]).any())


def _local_dates(utc: pa.Array | pa.ChunkedArray, timezone: str) -> pa.Array | pa.ChunkedArray:
    """The local calendar date of each UTC timestamp."""
    local = pc.local_timestamp(utc.cast(pa.timestamp(utc.type.unit, tz=timezone)))
    return local.cast(pa.date32())


def _as_column(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    """A pandas column over the Arrow data: strings stay in Arrow, repetitive text categorical."""
    if pa.types.is_dictionary(values.type):
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        return _as_categorical(values)
    if is_text(values.type):
        return as_string(values)
    if pa.types.is_timestamp(values.type):
        return as_series(values).astype("datetime64[ns, UTC]")
    if pa.types.is_date32(values.type):
        return pd.Series(values, dtype=_DATE)
    return as_series(values)


def _as_categorical(values: pa.DictionaryArray) -> pd.Series:
    codes = pc.fill_null(values.indices, -1).to_numpy(zero_copy_only=False)
    categories = pd.Index(pd.arrays.ArrowStringArray(pa.chunked_array([values.dictionary])))
    return pd.Series(pd.Categorical.from_codes(codes, categories=categories))
