"""Read and validate a call log, or build one from a folder of recordings.

The call log is the contract in DESIGN.md: one row per call, recorded or not. Reading is
vectorised (pyarrow CSV + compute), so a month of a large council's calls loads in seconds.

A bad row is rejected with its row number (as a spreadsheet shows it: the header is row 1)
and the reason; the rest go on. A file with no usable rows is a `CallLogError`.

Caller numbers are normalised to E.164 and HMAC-SHA256 hashed here, at the edge: the clear
number never leaves this module, not in the returned table, rejections or error messages.
"""

from __future__ import annotations

import csv
import hmac
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.errors import CallLogError

__all__ = [
    "CALL_LOG_COLUMNS",
    "REQUIRED_COLUMNS",
    "CallLog",
    "RejectedRow",
    "calls_from_filenames",
    "hash_caller_numbers",
    "read_call_log",
]

#: The input contract (DESIGN.md "Call log"), in order.
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

LAYOUTS = ("agent_left", "agent_right", "mono")
DIRECTIONS = ("inbound", "outbound")
AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".wma")

_WITHHELD = ("withheld", "anonymous", "private", "unknown", "restricted", "unavailable", "n/a")
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
_STRING = pd.StringDtype("pyarrow")
# pandas keeps Arrow strings as large_string: reading text that way avoids a copy of every
# column when the table becomes a DataFrame.
_TEXT = pa.large_string()
_DATE = pd.ArrowDtype(pa.date32())
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
    table = pa.table({c: pa.array(v, _TEXT) for c, v in rows.items()})
    return _validate([table], None, str(folder), caller_hash_key, timezone, default_layout)


def hash_caller_numbers(numbers: pa.Array | pa.ChunkedArray, key: bytes) -> pa.DictionaryArray:
    """HMAC-SHA256 (hex) of each UK-normalised number; null for withheld or invalid ones.

    Dictionary-encoded: each distinct hash is stored once, however often the caller rang.
    """
    distinct = pc.unique(numbers).drop_null()
    e164 = _normalise_numbers(distinct)
    unique = pc.unique(e164).drop_null()
    # hmac.digest is the one-shot C implementation: ~1 us a number. Hashing in slices keeps
    # the Python strings of millions of callers from all being alive at once.
    digests = pa.concat_arrays(
        [
            pa.array(
                [hmac.digest(key, n.encode(), "sha256").hex() for n in part.to_pylist()],
                pa.string(),
            )
            for part in _slices(unique, 200_000)
        ]
        or [pa.array([], pa.string())]
    )
    per_distinct = pc.index_in(e164, value_set=unique)
    indices = pc.take(per_distinct, pc.index_in(numbers, value_set=distinct))
    if isinstance(indices, pa.ChunkedArray):
        indices = indices.combine_chunks()
    return pa.DictionaryArray.from_arrays(indices, digests)


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
                column_types={n: _TEXT for n in names},
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
            column = pq.read_table(path, columns=[name]).column(0)
            if pa.types.is_timestamp(column.type) or pa.types.is_floating(column.type):
                columns[name] = column
            elif pa.types.is_integer(column.type) and _column_key(name) == "duration_s":
                columns[name] = pc.cast(column, pa.float64())
            else:
                columns[name] = pc.cast(column, _TEXT)
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
    table = tables.pop()
    n = table.num_rows
    found = table.column_names
    renamed: dict[str, pa.ChunkedArray] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        column_key = _column_key(name)
        if column_key in CALL_LOG_COLUMNS and column_key not in renamed:
            renamed[column_key] = column
    missing = [c for c in REQUIRED_COLUMNS if c not in renamed]
    if missing:
        shown = ", ".join(repr(name) for name in found[:12]) or "none"
        raise CallLogError(
            f"{source}: missing required column(s) {', '.join(missing)}. Found: {shown}. "
            f"The call log needs {', '.join(REQUIRED_COLUMNS)} (see README, 'Call log columns')."
        )
    del table
    if n == 0 and skipped:
        detail = "; ".join(str(r) for r in skipped[:5])
        raise CallLogError(
            f"{source}: no usable rows ({len(skipped)} rejected). First problems: {detail}"
        )
    if n == 0:
        raise CallLogError(f"{source}: the call log has a header but no rows.")

    def text(name: str) -> pa.ChunkedArray | pa.Array:
        if name not in renamed:
            return pa.nulls(n, pa.string())
        column = renamed[name]
        if not _is_text(column.type):
            return column
        # Copy a column only when it needs it: a clean 10-million-row log stays one copy.
        if pc.any(pc.match_substring_regex(column, r"^\s|\s$")).as_py():
            column = pc.utf8_trim_whitespace(column)
        empty = pc.equal(column, "")
        if pc.any(empty).as_py():
            column = pc.if_else(empty, pa.scalar(None, pa.string()), column)
        return column

    rows = pa.array(physical_rows if physical_rows is not None else range(2, n + 2), pa.int64())
    reasons: list[pa.Array] = []

    def reject(mask: pa.Array | pa.ChunkedArray, message: pa.Array | pa.ChunkedArray | str) -> None:
        mask = pc.fill_null(mask, False)
        if isinstance(message, str):
            message = pa.scalar(message, pa.string())
        reasons.append(pc.if_else(mask, message, pa.scalar(None, pa.string())))

    call_id = text("call_id")
    reject(pc.is_null(call_id), "call_id is empty")
    agent_id = text("agent_id")
    reject(pc.is_null(agent_id), "agent_id is empty")
    queue = text("queue")
    reject(pc.is_null(queue), "queue is empty")

    started_utc, started_reason = _parse_started_at(text("started_at"), timezone)
    reasons.append(started_reason)

    duration, duration_reason = _parse_duration(text("duration_s"))
    reasons.append(duration_reason)
    recording = text("recording")
    reject(
        pc.and_(pc.is_null(duration), pc.is_null(recording)),
        "duration_s is empty and the call has no recording: give the duration in seconds",
    )

    direction_raw = pc.utf8_lower(text("direction"))
    direction = _map_values(direction_raw, _DIRECTION_ALIASES, default="inbound")
    reasons.append(
        _quoted(pc.is_null(direction), "direction ", direction_raw, " is not inbound or outbound")
    )
    layout_raw = pc.utf8_lower(text("channel_layout"))
    layout = _map_values(layout_raw, _LAYOUT_ALIASES, default=default_layout)
    reasons.append(
        _quoted(
            pc.is_null(layout),
            "channel_layout ",
            layout_raw,
            " is not agent_left, agent_right or mono",
        )
    )

    reason = _first_reason(reasons, n)
    rejected = [*(skipped or []), *_rejections(call_id, rows, reason)]
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "call_id": call_id,
        "started_at": started_utc,
        "duration_s": duration,
        "agent_id": agent_id,
        "team": text("team"),
        "queue": queue,
        "caller_hash": hash_caller_numbers(text("caller_number"), key),
        "direction": direction,
        "recording": recording,
        "channel_layout": layout,
        "row": rows,
    }
    # Checking uniqueness in Arrow first spares pandas hashing ten million Python strings.
    has_duplicates = pc.count_distinct(call_id).as_py() < n
    del call_id, started_utc, duration, agent_id, queue, direction, recording, layout
    del direction_raw, layout_raw
    renamed.clear()
    good = pc.is_null(reason)
    frame = pd.DataFrame(
        {
            # One column at a time, so a large log never holds two filtered copies of itself.
            name: _as_column(pc.filter(columns.pop(name), good) if rejected else columns.pop(name))
            for name in list(columns)
        }
    )

    duplicate = (
        frame["call_id"].duplicated(keep="first").to_numpy()
        if has_duplicates
        else np.zeros(len(frame), dtype=bool)
    )
    if duplicate.any():
        first_rows = frame[~duplicate].set_index("call_id")["row"]
        for row, cid in zip(frame["row"][duplicate], frame["call_id"][duplicate], strict=True):
            first = int(first_rows[cid])
            rejected.append(RejectedRow(int(row), cid, f"duplicate call_id: also on row {first}"))
        frame = frame[~duplicate].reset_index(drop=True)
    rejected.sort(key=lambda r: r.row)

    if frame.empty:
        detail = "; ".join(str(r) for r in rejected[:5])
        raise CallLogError(
            f"{source}: no usable rows ({len(rejected)} rejected). First problems: {detail}"
        )
    started = pa.array(frame["started_at"].to_numpy(), pa.timestamp("ns", tz=timezone))
    days = pc.local_timestamp(started).cast(pa.date32())
    frame.insert(2, "call_date", pd.Series(days, dtype=_DATE))
    # Arrow keeps freed buffers for reuse; a 10-million-row log would otherwise hold gigabytes.
    pa.default_memory_pool().release_unused()
    return CallLog(calls=frame, rejected=rejected, source=source)


def _parse_started_at(
    values: pa.ChunkedArray | pa.Array, timezone: str
) -> tuple[pa.Array, pa.Array]:
    """UTC timestamps and a reason per unreadable or non-existent local time.

    ISO 8601 with an offset is taken as given; naive ISO 8601 and UK day-first
    (``31/03/2025 09:14``) are local times in `timezone`. Local times that the clocks skip
    (spring) or repeat (autumn) are rejected: guessing would misplace a call by an hour.
    """
    if pa.types.is_timestamp(values.type):
        stamps = pd.Series(_as_series(values))
        if stamps.dt.tz is None:
            return _localise(stamps, timezone, stamps)
        utc = stamps.dt.tz_convert("UTC")
        return pa.array(utc), pa.nulls(len(stamps), pa.string())
    raw = pd.Series(_as_series(values), dtype=_STRING)
    has_offset = raw.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True, na=False)
    day_first = raw.str.match(r"^\d{1,2}/\d{1,2}/\d{4}", na=False)
    parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    if has_offset.any():
        parsed[has_offset] = pd.to_datetime(
            raw[has_offset].astype(object), format="ISO8601", utc=True, errors="coerce"
        )
    naive = ~has_offset & ~day_first & raw.notna()
    local = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if naive.any():
        local[naive] = pd.to_datetime(raw[naive].astype(object), format="ISO8601", errors="coerce")
    if day_first.any():
        uk = raw[day_first].astype(object)
        with_seconds = pd.to_datetime(uk, format="%d/%m/%Y %H:%M:%S", errors="coerce")
        local[day_first] = with_seconds.fillna(
            pd.to_datetime(uk, format="%d/%m/%Y %H:%M", errors="coerce")
        )
    localised, dst_reason = _localise(local, timezone, raw)
    localised_s = pd.Series(_as_series(localised), index=raw.index).astype("datetime64[ns, UTC]")
    parsed = parsed.fillna(localised_s) if has_offset.any() else localised_s
    reason = pd.Series(_as_series(dst_reason), index=raw.index, dtype=_STRING)
    unreadable = parsed.isna() & reason.isna()
    unreadable &= raw.notna()
    if unreadable.any():
        reason[unreadable] = (
            "started_at "
            + _short(raw[unreadable])
            + " is not a date and time: use ISO 8601 (2025-03-31T09:14:05) or 31/03/2025 09:14"
        )
    reason[raw.isna()] = "started_at is empty"
    return pa.array(parsed), pa.array(reason, pa.string())


def _localise(local: pd.Series, timezone: str, raw: pd.Series) -> tuple[pa.Array, pa.Array]:
    utc = local.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    lost = local.notna() & utc.isna()
    reason = pd.Series(pd.NA, index=local.index, dtype=_STRING)
    if lost.any():
        shifted = local[lost].dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
        in_gap = shifted.notna().to_numpy()
        shown = "started_at " + _short(raw[lost].astype(_STRING).fillna(""))
        reason[lost] = shown.where(
            ~in_gap, shown + f" does not exist in {timezone} (the clocks went forward)"
        ).where(
            in_gap,
            shown + f" happened twice in {timezone} (the clocks went back): add the UTC offset",
        )
    return pa.array(utc), pa.array(reason, pa.string())


def _parse_duration(values: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, pa.Array]:
    """Seconds from a number or ``[hh:]mm:ss``; a reason for anything else or negative."""
    if pa.types.is_floating(values.type):
        seconds = pd.Series(_as_series(values), dtype="float64")
        given = seconds.notna()
        shown = seconds
    else:
        raw = pd.Series(_as_series(values), dtype=_STRING)
        numeric = pc.match_substring_regex(values, r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
        only_numbers = pc.if_else(numeric, values, pa.scalar(None, pa.string()))
        seconds = pd.Series(_as_series(pc.cast(only_numbers, pa.float64())), dtype="float64").copy()
        clock = raw.str.fullmatch(r"\d{1,3}:\d{2}(?::\d{2})?", na=False) & seconds.isna()
        if clock.any():
            parts = raw[clock].astype(object).str.split(":")
            padded = parts.map(lambda p: [0] * (3 - len(p)) + [int(x) for x in p])
            seconds[clock] = padded.map(lambda p: p[0] * 3600 + p[1] * 60 + p[2]).astype(float)
        given = raw.notna()
        shown = raw
    bad = given & ~(seconds.ge(0) & seconds.lt(1e7))
    reason = pd.Series(pd.NA, index=seconds.index, dtype=_STRING)
    if bad.any():
        reason[bad] = (
            "duration_s "
            + _short(shown[bad].astype(_STRING))
            + " is not a number of seconds (0 or more)"
        )
    return pa.array(seconds.where(~bad), pa.float64()), pa.array(reason, pa.string())


def _normalise_numbers(distinct: pa.Array) -> pa.Array:
    """E.164 strings for UK numbers in any usual format; null for withheld or invalid.

    Called on the distinct values (callers ring more than once), with a vectorised path for
    ordinary UK numbers and `phonenumbers` for anything else.
    """
    raw = pc.utf8_lower(pc.utf8_trim_whitespace(distinct.cast(pa.string())))
    digits = pc.replace_substring_regex(raw, r"[^0-9+]", "")
    digits = pc.replace_substring_regex(digits, r"^(?:\+|00)44(?:0)?", "0")
    digits = pc.replace_substring_regex(digits, r"^44(\d{10})$", "0\\1")
    fast = pc.match_substring_regex(digits, r"^0[1235789]\d{8,9}$")
    e164 = pc.if_else(
        fast,
        pc.binary_join_element_wise("+44", pc.utf8_slice_codeunits(digits, 1), ""),
        pa.scalar(None, pa.string()),
    )
    slow = pc.and_(pc.invert(fast), pc.invert(pc.is_in(raw, value_set=pa.array(_WITHHELD))))
    slow = pc.and_(slow, pc.greater(pc.utf8_length(digits), 0))
    if not pc.any(slow).as_py():
        return e164
    parsed = [_parse_number(text) for text in pc.filter(raw, slow).to_pylist()]
    return pc.replace_with_mask(e164, slow, pa.array(parsed, pa.string()))


def _parse_number(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, "GB")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# -- small helpers -------------------------------------------------------------------------


def _map_values(
    values: pa.ChunkedArray | pa.Array, aliases: dict[str, str], *, default: str
) -> pa.Array:
    """Each value's canonical form, dictionary-encoded; `default` for empty, null if unknown."""
    targets = sorted(set(aliases.values()))
    code = {target: i for i, target in enumerate(targets)}
    keys = pa.array(list(aliases))
    codes = pa.array([code[a] for a in aliases.values()], pa.int32())
    indices = pc.take(codes, pc.index_in(values, value_set=keys))
    indices = pc.if_else(pc.is_null(values), pa.scalar(code[default], pa.int32()), indices)
    if isinstance(indices, pa.ChunkedArray):
        indices = indices.combine_chunks()
    return pa.DictionaryArray.from_arrays(indices, pa.array(targets, pa.string()))


def _quoted(
    mask: pa.Array | pa.ChunkedArray, prefix: str, values: pa.ChunkedArray | pa.Array, suffix: str
) -> pa.Array:
    """A reason quoting the offending value where `mask` is set, else null."""
    where = _as_series(pc.fill_null(mask, False)).to_numpy(dtype=bool)
    reason = pd.Series(pd.NA, index=range(len(where)), dtype=_STRING)
    if where.any():
        shown = _short(_as_series(values)[where].fillna(""))
        reason[where] = prefix + shown + suffix
    return pa.array(reason, pa.string())


def _short(values: pd.Series) -> pd.Series:
    """Quote a value for a message, cut to 40 characters (fields can be a megabyte)."""
    cut = values.astype(_STRING).str.slice(0, 40)
    return "'" + cut.where(values.str.len() <= 40, cut + "...") + "'"


def _first_reason(reasons: list[pa.Array], n: int) -> pa.Array:
    if not reasons:
        return pa.nulls(n, pa.string())
    combined = reasons[0]
    for more in reasons[1:]:
        combined = pc.coalesce(combined, more)
    return combined


def _rejections(
    call_id: pa.Array | pa.ChunkedArray, rows: pa.Array, reason: pa.Array
) -> list[RejectedRow]:
    bad = pc.indices_nonzero(pc.invert(pc.is_null(reason)))
    if len(bad) == 0:
        return []
    texts = pc.take(reason, bad).to_pylist()
    numbers = pc.take(rows, bad).to_pylist()
    ids = pc.take(call_id, bad).to_pylist()
    return [
        RejectedRow(int(r), None if c is None else str(c)[:80], t)
        for r, c, t in zip(numbers, ids, texts, strict=True)
    ]


def _as_column(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    """A pandas column over the Arrow data: strings stay in Arrow, hashes categorical."""
    if pa.types.is_dictionary(values.type):
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        return _as_categorical(values)
    if _is_text(values.type):
        return _as_string(values)
    if pa.types.is_timestamp(values.type):
        return _as_series(values).astype("datetime64[ns, UTC]")
    return _as_series(values)


def _as_series(values: pa.ChunkedArray | pa.Array | pd.Series) -> pd.Series:
    if isinstance(values, pd.Series):
        return values
    if _is_text(values.type):
        return pd.Series(pd.arrays.ArrowStringArray(_as_chunked(values)), dtype=_STRING)
    return values.to_pandas()


def _as_string(values: pa.ChunkedArray | pa.Array) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(_as_chunked(values)), dtype=_STRING)


def _is_text(data_type: pa.DataType) -> bool:
    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type)


def _slices(values: pa.Array, size: int) -> list[pa.Array]:
    return [values.slice(start, size) for start in range(0, len(values), size)]


def _as_categorical(values: pa.DictionaryArray) -> pd.Series:
    codes = pc.fill_null(values.indices, -1).to_numpy(zero_copy_only=False)
    categories = pd.Index(pd.arrays.ArrowStringArray(pa.chunked_array([values.dictionary])))
    return pd.Series(pd.Categorical.from_codes(codes, categories=categories))


def _as_chunked(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    if isinstance(values, pa.ChunkedArray):
        return values
    return pa.chunked_array([values])
