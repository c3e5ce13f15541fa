"""Cleaning and parsing call-log fields in Arrow, with a reason for every value refused.

`Reasons` keeps each row's first refusal; the parsers add to it and return the clean column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "TEXT",
    "Reasons",
    "as_series",
    "as_string",
    "clean_codes",
    "clean_text",
    "is_codes",
    "is_text",
    "map_values",
    "parse_duration",
    "parse_started_at",
    "true_rows",
]

# pandas keeps Arrow strings as large_string: reading text that way avoids a copy of every
# column when the table becomes a DataFrame.
TEXT = pa.large_string()
_STRING = pd.StringDtype("pyarrow")


class Reasons:
    """Each row's first rejection reason, kept only for the rows that have one.

    A clean log has none: ten million rows cost a byte each here, not a string column per check.
    """

    def __init__(self, n: int) -> None:
        # The index of the check that rejected each row (-1: kept); there are a dozen checks.
        self._first = np.full(n, -1, dtype=np.int8)
        self._found: list[tuple[np.ndarray, list[str]]] = []

    def add(self, rows: np.ndarray, texts: list[str] | str) -> None:
        """Reject `rows` (ascending) for `texts` (one per row, or one for all), unless an
        earlier check already did."""
        if not len(rows):
            return
        unset = self._first[rows] < 0
        self._first[rows[unset]] = len(self._found)
        self._found.append((rows, [texts] * len(rows) if isinstance(texts, str) else texts))

    def rows(self) -> np.ndarray:
        """The rejected rows, ascending."""
        return np.flatnonzero(self._first >= 0)

    def kept(self) -> pa.Array:
        """A filter mask of the rows no check rejected."""
        return pa.array(self._first < 0)

    def texts(self, rows: np.ndarray) -> list[str]:
        """The reason each of `rows` (from `rows()`) was rejected for."""
        which = self._first[rows]
        out = [""] * len(rows)
        for check, (flagged, texts) in enumerate(self._found):
            mine = np.flatnonzero(which == check)
            at = np.searchsorted(flagged, rows[mine])
            for i, j in zip(mine.tolist(), at.tolist(), strict=True):
                out[i] = texts[j]
        return out


def parse_started_at(
    values: pa.ChunkedArray | pa.Array, timezone: str, reasons: Reasons
) -> pa.Array:
    """UTC timestamps; a reason for each unreadable or non-existent local time.

    ISO 8601 with an offset is taken as given; naive ISO 8601 and UK day-first
    (``31/03/2025 09:14``) are local times in `timezone`. Local times that the clocks skip
    (spring) or repeat (autumn) are rejected: guessing would misplace a call by an hour.
    """
    if pa.types.is_timestamp(values.type):
        stamps = pd.Series(as_series(values))
        reasons.add(np.flatnonzero(stamps.isna().to_numpy(dtype=bool)), "started_at is empty")
        if stamps.dt.tz is None:
            return _localise(stamps, timezone, stamps, reasons)[0]
        return pa.array(stamps.dt.tz_convert("UTC"))
    raw = pd.Series(as_series(values), dtype=_STRING)
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
    localised, lost = _localise(local, timezone, raw, reasons)
    localised_s = pd.Series(as_series(localised), index=raw.index).astype("datetime64[ns, UTC]")
    parsed = parsed.fillna(localised_s) if has_offset.any() else localised_s
    unreadable = (parsed.isna() & raw.notna()).to_numpy(dtype=bool) & ~lost
    if unreadable.any():
        reasons.add(
            np.flatnonzero(unreadable),
            (
                "started_at "
                + _short(raw[unreadable])
                + " is not a date and time: use ISO 8601 (2025-03-31T09:14:05) or 31/03/2025 09:14"
            ).tolist(),
        )
    reasons.add(np.flatnonzero(raw.isna().to_numpy(dtype=bool)), "started_at is empty")
    return pa.array(parsed)


def _localise(
    local: pd.Series, timezone: str, raw: pd.Series, reasons: Reasons
) -> tuple[pa.Array, np.ndarray]:
    """UTC instants of local times, and which ones the clock change skips or repeats."""
    utc = local.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    lost = (local.notna() & utc.isna()).to_numpy(dtype=bool)
    if lost.any():
        shifted = local[lost].dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
        in_gap = shifted.notna().to_numpy()
        shown = "started_at " + _short(raw[lost].astype(_STRING).fillna(""))
        reason = shown.where(
            ~in_gap, shown + f" does not exist in {timezone} (the clocks went forward)"
        ).where(
            in_gap,
            shown + f" happened twice in {timezone} (the clocks went back): add the UTC offset",
        )
        reasons.add(np.flatnonzero(lost), reason.tolist())
    return pa.array(utc), lost


def parse_duration(values: pa.ChunkedArray | pa.Array, reasons: Reasons) -> pa.Array:
    """Seconds from a number or ``[hh:]mm:ss``; a reason for anything else or negative."""
    if pa.types.is_floating(values.type):
        # All in Arrow: a numeric column is ten million floats, not worth a trip through pandas.
        values = values.cast(pa.float64())
        in_range = pc.and_(pc.greater_equal(values, 0.0), pc.less(values, 1e7))
        rows = true_rows(pc.and_(pc.invert(in_range), pc.invert(pc.is_nan(values))))
        if len(rows):
            shown = pd.Series(pc.take(values, rows).to_numpy(zero_copy_only=False))
            reasons.add(
                rows,
                (
                    "duration_s "
                    + _short(shown.astype(_STRING))
                    + " is not a number of seconds (0 or more)"
                ).tolist(),
            )
        # Out of range, NaN and null alike become null.
        return pc.if_else(in_range, values, pa.scalar(None, pa.float64()))
    raw = pd.Series(as_series(values), dtype=_STRING)
    numeric = pc.match_substring_regex(values, r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
    only_numbers = pc.if_else(numeric, values, pa.scalar(None, pa.string()))
    seconds = pd.Series(as_series(pc.cast(only_numbers, pa.float64())), dtype="float64").copy()
    clock = raw.str.fullmatch(r"\d{1,3}:\d{2}(?::\d{2})?", na=False) & seconds.isna()
    if clock.any():
        parts = raw[clock].astype(object).str.split(":")
        padded = parts.map(lambda p: [0] * (3 - len(p)) + [int(x) for x in p])
        seconds[clock] = padded.map(lambda p: p[0] * 3600 + p[1] * 60 + p[2]).astype(float)
    bad = raw.notna() & ~(seconds.ge(0) & seconds.lt(1e7))
    if bad.any():
        reasons.add(
            np.flatnonzero(bad.to_numpy(dtype=bool)),
            (
                "duration_s "
                + _short(raw[bad].astype(_STRING))
                + " is not a number of seconds (0 or more)"
            ).tolist(),
        )
    return pa.array(seconds.where(~bad), pa.float64())


def map_values(
    values: pa.DictionaryArray,
    aliases: dict[str, str],
    *,
    default: str,
    reasons: Reasons,
    message: tuple[str, str],
) -> pa.DictionaryArray:
    """Each value's canonical form, dictionary-encoded; `default` for empty.

    An unknown value is null and its row rejected, quoting it between `message`'s two parts.
    """
    targets = sorted(set(aliases.values()))
    code = {target: i for i, target in enumerate(targets)}
    keys = pa.array(list(aliases))
    codes = pa.array([code[a] for a in aliases.values()], pa.int32())
    lowered = pc.utf8_lower(values.dictionary)
    indices = pc.take(pc.take(codes, pc.index_in(lowered, value_set=keys)), values.indices)
    unknown = true_rows(pc.and_(pc.is_null(indices), pc.is_valid(values.indices)))
    if len(unknown):
        shown = _short(as_string(pc.take(lowered, pc.take(values.indices, unknown))))
        reasons.add(unknown, (message[0] + shown + message[1]).tolist())
    indices = pc.if_else(pc.is_null(values.indices), pa.scalar(code[default], pa.int32()), indices)
    return pa.DictionaryArray.from_arrays(indices, pa.array(targets, pa.string()))


def clean_text(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Trimmed, with empty text as null."""
    # Copy a column only when it needs it: a clean 10-million-row log stays one copy.
    if pc.any(pc.match_substring_regex(column, r"^\s|\s$")).as_py():
        column = pc.utf8_trim_whitespace(column)
    empty = pc.equal(column, "")
    if pc.any(empty).as_py():
        column = pc.if_else(empty, pa.scalar(None, pa.string()), column)
    return column


def clean_codes(column: pa.ChunkedArray | pa.Array) -> pa.DictionaryArray:
    """`clean_text` of a low-cardinality column, as one dictionary array of distinct names.

    Cleaned per distinct name; names that clean to the same text share one code.
    """
    if not is_codes(column.type):
        column = pc.dictionary_encode(pc.cast(column, TEXT))
    if isinstance(column, pa.ChunkedArray):
        # Joins the chunks' dictionaries (one per row group or CSV block) into one.
        column = column.combine_chunks()
    names = pc.dictionary_encode(clean_text(column.dictionary.cast(pa.string())))
    return pa.DictionaryArray.from_arrays(pc.take(names.indices, column.indices), names.dictionary)


def _short(values: pd.Series) -> pd.Series:
    """Quote a value for a message, cut to 40 characters (fields can be a megabyte)."""
    cut = values.astype(_STRING).str.slice(0, 40)
    return "'" + cut.where(values.str.len() <= 40, cut + "...") + "'"


def true_rows(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Positions where `mask` is true (null counts as false)."""
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    return pc.indices_nonzero(pc.fill_null(mask, False)).to_numpy().astype(np.int64)


def as_series(values: pa.ChunkedArray | pa.Array | pd.Series) -> pd.Series:
    """A pandas column over Arrow values, text kept in Arrow (no copy)."""
    if isinstance(values, pd.Series):
        return values
    if is_text(values.type):
        return as_string(values)
    return values.to_pandas()


def as_string(values: pa.ChunkedArray | pa.Array) -> pd.Series:
    """Arrow text as a pandas string column backed by the same buffers."""
    chunked = values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])
    return pd.Series(pd.arrays.ArrowStringArray(chunked), dtype=_STRING)


def is_text(data_type: pa.DataType) -> bool:
    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type)


def is_codes(data_type: pa.DataType) -> bool:
    """Dictionary-encoded text (a categorical column)."""
    return pa.types.is_dictionary(data_type) and is_text(data_type.value_type)
