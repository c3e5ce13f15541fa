"""Repeat callers over the whole call log (recommendation 28: "patterns of repeat calls").

Definition (the one the monthly report and the targeted sample use):

    A call's ``prior_calls_window`` is the number of **inbound** calls from the same
    ``caller_hash`` whose ``started_at`` lies in ``[t - window_days x 24 h, t)``, where ``t`` is
    the call's own ``started_at``. ``repeat_caller`` is ``prior_calls_window > 0``.

- Time is elapsed time on the UTC ``started_at`` (to the millisecond), not local calendar days:
  a 7-day window is always 168 hours, so across the UK clock changes (last Sunday of March and
  of October) it spans 7 days +/- 1 hour of local wall-clock time, and it runs across midnight
  and month ends like any other instant.
- The lower bound is inclusive (a call exactly 7 x 24 h earlier counts); the upper bound is
  exclusive, so a call never counts itself and two calls from one caller in the very same
  millisecond do not count each other.
- Outbound calls are never counted as prior contact (the council rang them), but every call,
  inbound or outbound, recorded or not, gets its own count.
- A null ``caller_hash`` (withheld, empty or invalid number) is never a repeat and never counts
  towards anyone's repeats.

Only hashed callers exist here: calls.py hashes numbers at the edge, and nothing in this module
ever sees or writes a clear number.

The count is vectorised (factorise the hashes, one sort, two binary searches per call), so a
10-million-row log takes seconds and no Python loop runs per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd

from pipeline.errors import CallLogError
from pipeline.months import month_bounds

__all__ = ["DEFAULT_FREQUENT_MIN_CALLS", "check_call_columns", "frequent_callers", "mark_repeats"]

#: Inbound calls in a calendar month that make a caller "frequent" in the monthly table.
DEFAULT_FREQUENT_MIN_CALLS = 3

_NS_PER_DAY = 86_400 * 10**9
_NEEDED = ("started_at", "caller_hash", "direction")


def mark_repeats(
    calls: pd.DataFrame, *, window_days: int = 7, call_date: date | None = None
) -> pd.DataFrame:
    """A copy of `calls` with `repeat_caller` (bool) and `prior_calls_window` (int32) added.

    See the module docstring for the exact definition. `calls` is `CallLog.calls` (or any frame
    with `started_at` (tz-aware), `caller_hash` and `direction`); the whole log should be
    passed, recorded or not, since unrecorded calls are prior contact too.

    With `call_date`, only that local date's calls come back, counted from just the rows that
    can matter (that date's calls and the inbound calls in the window before them): the same
    counts, for a night, at a fraction of the cost on a large log.
    """
    check_call_columns(calls, _NEEDED if call_date is None else (*_NEEDED, "call_date"))
    if window_days < 1:
        raise ValueError(f"window_days must be at least 1, not {window_days}")
    if call_date is None:
        return _mark(calls, window_days)
    on_day = _dates_between(calls["call_date"], call_date, call_date + timedelta(days=1))
    times = pd.to_datetime(calls["started_at"], utc=True)
    day_times = times[on_day]
    if day_times.empty:
        return _mark(calls[on_day], window_days)
    nearby = (
        (times >= day_times.min() - pd.Timedelta(days=window_days)).to_numpy(dtype=bool)
        & (times < day_times.max()).to_numpy(dtype=bool)
        & (calls["direction"] == "inbound").fillna(False).to_numpy(dtype=bool)
    )
    needed = on_day | nearby
    marked = _mark(calls[needed], window_days)
    return marked[on_day[needed]]


def _mark(calls: pd.DataFrame, window_days: int) -> pd.DataFrame:
    codes, _ = pd.factorize(calls["caller_hash"], use_na_sentinel=True)
    times, has_time = _utc_ns(calls["started_at"])
    codes = np.where(has_time, codes, -1)
    inbound = (calls["direction"] == "inbound").fillna(False).to_numpy(dtype=bool)
    prior = _prior_counts(codes, times, inbound, window_days * _NS_PER_DAY)
    out = calls.copy(deep=False)
    out["prior_calls_window"] = prior
    out["repeat_caller"] = prior > 0
    return out


def _prior_counts(
    codes: np.ndarray, times: np.ndarray, is_event: np.ndarray, window_ns: int
) -> np.ndarray:
    """For each row: rows flagged `is_event` with the same code and time in [t - window, t).

    `codes` are integer caller codes (-1 = no caller: count 0, never an event); `times` are
    int64 nanoseconds, compared to the millisecond. One int64 key ``code x span + ms`` sorts by
    caller then time; with the keys sorted once, both binary searches run over sorted queries
    (random-order searches over 10 million rows are ~25x slower: cache misses).
    """
    result = np.zeros(len(codes), dtype=np.int32)
    asked = np.flatnonzero(codes >= 0)
    if not len(asked) or not is_event[asked].any():
        return result
    ms = (times[asked] - times[asked].min()) // 1_000_000
    window_ms = window_ns // 1_000_000
    # A gap of window_ms between callers keeps key - window_ms inside the caller's own range.
    span = int(ms.max()) + window_ms + 1
    if (int(codes.max()) + 1) * span >= 2**62:
        raise CallLogError(
            "the call log spans too long a time for repeat counting: split it by year"
        )
    keys = codes[asked].astype(np.int64) * span + ms
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    event_keys = sorted_keys[is_event[asked][order]]  # a subset of sorted keys stays sorted
    upper = np.searchsorted(event_keys, sorted_keys, side="left")
    lower = np.searchsorted(event_keys, sorted_keys - window_ms, side="left")
    result[asked[order]] = (upper - lower).astype(np.int32)
    return result


def frequent_callers(
    calls: pd.DataFrame, month: str, *, min_calls: int = DEFAULT_FREQUENT_MIN_CALLS
) -> pd.DataFrame:
    """Callers with at least `min_calls` inbound calls in `month` ("YYYY-MM", local dates).

    Columns: caller_hash, calls (int64), queues (sorted list of the queues they rang),
    first_contact and last_contact (UTC `started_at` of their first and last call that month).
    Most frequent first, ties by caller_hash. Withheld numbers (null hash) are left out.
    """
    check_call_columns(calls, (*_NEEDED, "call_date", "queue"))
    first, last = month_bounds(month)
    in_month = (
        _dates_between(calls["call_date"], first, last + timedelta(days=1))
        & (calls["direction"] == "inbound").fillna(False).to_numpy(dtype=bool)
        & calls["caller_hash"].notna().to_numpy(dtype=bool)
    )
    month_calls = calls.loc[in_month, ["caller_hash", "queue", "started_at"]]
    counts = month_calls.groupby("caller_hash", sort=False, observed=True).agg(
        calls=("started_at", "size"),
        first_contact=("started_at", "min"),
        last_contact=("started_at", "max"),
    )
    counts = counts[counts["calls"] >= min_calls]
    frequent = month_calls[month_calls["caller_hash"].isin(counts.index)]
    queues = (
        frequent[["caller_hash", "queue"]]
        .dropna()
        .drop_duplicates()
        .sort_values(["caller_hash", "queue"])
        .groupby("caller_hash", sort=False, observed=True)["queue"]
        .agg(list)
    )
    table = counts.join(queues.rename("queues")).reset_index()
    table["calls"] = table["calls"].astype("int64")
    table["queues"] = table["queues"].apply(lambda q: q if isinstance(q, list) else [])
    table = table.sort_values(["calls", "caller_hash"], ascending=[False, True], kind="stable")
    columns = ["caller_hash", "calls", "queues", "first_contact", "last_contact"]
    return table[columns].reset_index(drop=True)


def _dates_between(values: pd.Series, start: date, end: date) -> np.ndarray:
    """start <= call_date < end for date32, `datetime.date` or datetime64 columns.

    Compared as they are: casting 10 million Arrow dates to datetime64 takes ~25 s.
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        lo, hi = pd.Timestamp(start), pd.Timestamp(end)
        return ((values >= lo) & (values < hi)).to_numpy(dtype=bool)
    return ((values >= start) & (values < end)).fillna(False).to_numpy(dtype=bool)


def _utc_ns(started_at: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """int64 UTC nanoseconds and a has-a-time mask (NaT rows get 0 and False)."""
    stamps = pd.to_datetime(started_at, utc=True)
    has_time = stamps.notna().to_numpy(dtype=bool)
    ns = stamps.to_numpy(dtype="datetime64[ns]").view(np.int64)
    return np.where(has_time, ns, 0), has_time


def check_call_columns(calls: pd.DataFrame, needed: Sequence[str]) -> None:
    """A `CallLogError` naming the `needed` columns that `calls` (`CallLog.calls`) lacks."""
    missing = [c for c in needed if c not in calls.columns]
    if missing:
        raise CallLogError(
            f"the calls table lacks {', '.join(missing)}: pass CallLog.calls from read_call_log"
        )
