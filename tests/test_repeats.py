"""pipeline/repeats.py: the repeat-caller definition at midnight, month ends and UK clock changes.

Expected counts are worked out by hand from the definition (inbound calls by the same caller in
[t - 7 x 24 h, t), elapsed UTC time) or by a brute-force reference loop, never by the code.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.calls import read_call_log
from pipeline.months import month_bounds
from pipeline.repeats import frequent_callers, mark_repeats

LONDON = "Europe/London"


def _calls(
    rows: list[tuple[str, str, str | None, str]], queue: str = "council_tax"
) -> pd.DataFrame:
    """A calls table shaped like CallLog.calls from (call_id, UTC time, caller_hash, direction)."""
    started = pd.to_datetime([r[1] for r in rows], utc=True)
    local_dates = started.tz_convert(LONDON).date
    return pd.DataFrame(
        {
            "call_id": pd.Series([r[0] for r in rows], dtype="string[pyarrow]"),
            "started_at": started,
            "call_date": pd.Series(local_dates, dtype=pd.ArrowDtype(pa.date32())),
            "queue": pd.Series([queue] * len(rows), dtype="string[pyarrow]"),
            "caller_hash": pd.Series([r[2] for r in rows], dtype="string[pyarrow]"),
            "direction": pd.Series([r[3] for r in rows], dtype="string[pyarrow]"),
        }
    )


def _prior(frame: pd.DataFrame, call_id: str, window_days: int = 7) -> int:
    marked = mark_repeats(frame, window_days=window_days).set_index("call_id")
    return int(marked.loc[call_id, "prior_calls_window"])


def test_window_bounds_inclusive_start_exclusive_end() -> None:
    frame = _calls(
        [
            ("exactly_7d", "2025-05-01T10:00:00Z", "h1", "inbound"),
            ("just_over_7d", "2025-05-01T09:59:59Z", "h1", "inbound"),
            ("same_instant", "2025-05-08T10:00:00Z", "h1", "inbound"),
            ("now", "2025-05-08T10:00:00Z", "h1", "inbound"),
            ("later", "2025-05-08T10:00:01Z", "h1", "inbound"),
        ]
    )
    marked = mark_repeats(frame).set_index("call_id")
    # "now" sees only "exactly_7d": "same_instant" is not strictly before, "later" is after.
    assert marked.loc["now", "prior_calls_window"] == 1
    assert marked.loc["same_instant", "prior_calls_window"] == 1
    # "later" is 1 s past the window of "exactly_7d": it sees the two calls at 10:00:00.
    assert marked.loc["later", "prior_calls_window"] == 2
    assert marked.loc["just_over_7d", "prior_calls_window"] == 0
    assert marked.loc["exactly_7d", "prior_calls_window"] == 1  # just_over_7d is 1 s earlier
    assert marked["repeat_caller"].dtype == bool
    assert marked["repeat_caller"].tolist() == (marked["prior_calls_window"] > 0).tolist()


def test_across_midnight_and_month_end() -> None:
    frame = _calls(
        [
            ("jan31_2350", "2025-01-31T23:50:00Z", "h1", "inbound"),
            ("feb01_0010", "2025-02-01T00:10:00Z", "h1", "inbound"),
            ("jan25_0011", "2025-01-25T00:11:00Z", "h2", "inbound"),
            ("feb01_0010_h2", "2025-02-01T00:10:00Z", "h2", "inbound"),
            ("feb28_2330", "2025-02-28T23:30:00Z", "h3", "inbound"),
            ("mar01_0030", "2025-03-01T00:30:00Z", "h3", "inbound"),
        ]
    )
    marked = mark_repeats(frame).set_index("call_id")
    assert marked.loc["feb01_0010", "prior_calls_window"] == 1  # 20 minutes, next local day
    assert marked.loc["feb01_0010_h2", "prior_calls_window"] == 1  # 6 d 23 h 59 min earlier
    assert marked.loc["mar01_0030", "prior_calls_window"] == 1  # across February's end
    assert marked.loc["jan31_2350", "call_date"] != marked.loc["feb01_0010", "call_date"]


def test_spring_forward_counts_elapsed_hours_not_wall_clock() -> None:
    # Clocks go forward at 01:00 GMT on 30 March 2025. 01:15 GMT on 27 March to 01:45 BST on
    # 3 April looks like 7 days 30 minutes on the wall but is 6 days 23 h 30 min elapsed.
    frame = _calls(
        [
            ("mar27_0115_gmt", "2025-03-27T01:15:00Z", "h1", "inbound"),
            ("apr03_0145_bst", "2025-04-03T00:45:00Z", "h1", "inbound"),
            ("mar27_0030_gmt", "2025-03-27T00:30:00Z", "h2", "inbound"),
            ("apr03_0145_bst_h2", "2025-04-03T00:45:00Z", "h2", "inbound"),
        ]
    )
    assert _prior(frame, "apr03_0145_bst") == 1
    assert _prior(frame, "apr03_0145_bst_h2") == 0  # 7 d 0 h 15 min elapsed


def test_fall_back_counts_elapsed_hours_not_wall_clock() -> None:
    # Clocks go back at 02:00 BST on 26 October 2025. 01:45 BST on 22 October to 01:15 GMT on
    # 29 October looks like 6 days 23 h 30 min on the wall but is 7 days 30 minutes elapsed.
    frame = _calls(
        [
            ("oct22_0145_bst", "2025-10-22T00:45:00Z", "h1", "inbound"),
            ("oct29_0115_gmt", "2025-10-29T01:15:00Z", "h1", "inbound"),
            # The repeated hour: 01:30 BST then 01:10 GMT, 40 minutes later in real time.
            ("oct26_0130_bst", "2025-10-26T00:30:00Z", "h2", "inbound"),
            ("oct26_0110_gmt", "2025-10-26T01:10:00Z", "h2", "inbound"),
        ]
    )
    assert _prior(frame, "oct29_0115_gmt") == 0
    assert _prior(frame, "oct26_0110_gmt") == 1
    assert _prior(frame, "oct26_0130_bst") == 0


def test_dst_through_read_call_log(tmp_path: Path) -> None:
    """Naive local times in a real CSV, read by calls.py, then counted across both changes."""
    log = tmp_path / "calls.csv"
    log.write_text(
        "call_id,started_at,duration_s,agent_id,queue,caller_number,direction,recording\n"
        "a1,2025-03-27T01:15:00,60,A1,council_tax,07700 900123,inbound,\n"
        "a2,2025-04-03T01:45:00,60,A1,council_tax,+44 7700 900123,inbound,\n"
        "b1,2025-10-22T01:45:00,60,A1,council_tax,07700 900456,inbound,\n"
        "b2,2025-10-29T01:15:00,60,A1,council_tax,07700900456,inbound,\n"
        "c1,2025-10-29T01:00:00,60,A1,council_tax,withheld,inbound,\n"
        "c2,2025-10-29T01:05:00,60,A1,council_tax,withheld,inbound,\n",
        encoding="utf-8",
    )
    calls = read_call_log(log, caller_hash_key=b"test-key", timezone=LONDON).calls
    marked = mark_repeats(calls).set_index("call_id")
    assert marked.loc["a2", "prior_calls_window"] == 1
    assert marked.loc["b2", "prior_calls_window"] == 0
    assert not marked.loc[["c1", "c2"], "repeat_caller"].any()  # withheld: never a repeat
    assert marked.loc["a2", "caller_hash"] == marked.loc["a1", "caller_hash"]
    assert not marked["caller_hash"].astype(str).str.contains("7700").any()


def test_withheld_and_outbound() -> None:
    frame = _calls(
        [
            ("w1", "2025-06-02T09:00:00Z", None, "inbound"),
            ("w2", "2025-06-02T10:00:00Z", None, "inbound"),
            ("out", "2025-06-02T11:00:00Z", "h1", "outbound"),
            ("in1", "2025-06-02T12:00:00Z", "h1", "inbound"),
            ("out2", "2025-06-02T13:00:00Z", "h1", "outbound"),
        ]
    )
    marked = mark_repeats(frame).set_index("call_id")
    assert marked.loc["w2", "prior_calls_window"] == 0
    assert marked.loc["in1", "prior_calls_window"] == 0  # the council's call is not contact
    assert marked.loc["out2", "prior_calls_window"] == 1  # but outbound calls get a count


def _reference(frame: pd.DataFrame, window_days: int) -> list[int]:
    """The definition, literally: an O(n^2) loop."""
    window = pd.Timedelta(days=window_days)
    counts = []
    for _, call in frame.iterrows():
        if pd.isna(call["caller_hash"]):
            counts.append(0)
            continue
        counts.append(
            sum(
                1
                for _, other in frame.iterrows()
                if other["direction"] == "inbound"
                and not pd.isna(other["caller_hash"])
                and other["caller_hash"] == call["caller_hash"]
                and call["started_at"] - window <= other["started_at"] < call["started_at"]
            )
        )
    return counts


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 40 * 24 * 4),  # quarter-hours over 40 days
            st.sampled_from(["h1", "h2", "h3", None]),
            st.sampled_from(["inbound", "inbound", "outbound"]),
        ),
        min_size=1,
        max_size=30,
    ),
    st.integers(1, 10),
)
def test_matches_brute_force_definition(
    events: list[tuple[int, str | None, str]], window_days: int
) -> None:
    base = pd.Timestamp("2025-03-20T00:00:00Z")
    rows = [
        (f"c{i}", (base + pd.Timedelta(minutes=15 * q)).isoformat(), who, way)
        for i, (q, who, way) in enumerate(events)
    ]
    frame = _calls(rows)
    marked = mark_repeats(frame, window_days=window_days)
    assert marked["prior_calls_window"].tolist() == _reference(frame, window_days)
    assert len(marked) == len(frame)
    assert marked["call_id"].tolist() == frame["call_id"].tolist()
    # One night only: the same counts for that night's calls.
    night = frame["call_date"].iloc[-1]
    one_night = mark_repeats(frame, window_days=window_days, call_date=night)
    expected = marked[(marked["call_date"] == night).to_numpy(dtype=bool)]
    assert one_night["call_id"].tolist() == expected["call_id"].tolist()
    assert one_night["prior_calls_window"].tolist() == expected["prior_calls_window"].tolist()


def test_frequent_callers_month_table() -> None:
    frame = _calls(
        [
            ("a1", "2025-03-01T00:30:00Z", "hA", "inbound"),
            ("a2", "2025-03-15T12:00:00Z", "hA", "inbound"),
            ("a3", "2025-03-31T22:30:00Z", "hA", "inbound"),  # 23:30 BST: still March locally
            ("b1", "2025-03-02T10:00:00Z", "hB", "inbound"),
            ("b2", "2025-03-03T10:00:00Z", "hB", "inbound"),
            ("b3", "2025-03-04T10:00:00Z", "hB", "outbound"),  # not a call from them
            ("c1", "2025-03-05T10:00:00Z", "hC", "inbound"),
            ("c2", "2025-03-06T10:00:00Z", "hC", "inbound"),
            ("c3", "2025-03-31T23:30:00Z", "hC", "inbound"),  # 00:30 BST on 1 April
            ("w1", "2025-03-07T10:00:00Z", None, "inbound"),
            ("w2", "2025-03-08T10:00:00Z", None, "inbound"),
            ("w3", "2025-03-09T10:00:00Z", None, "inbound"),
        ]
    )
    frame["queue"] = pd.Series(
        ["waste", "council_tax", "waste", *["parking"] * 9], dtype="string[pyarrow]"
    )
    table = frequent_callers(frame, "2025-03", min_calls=3)
    assert table["caller_hash"].tolist() == ["hA"]
    row = table.iloc[0]
    assert row["calls"] == 3
    assert list(row["queues"]) == ["council_tax", "waste"]
    assert row["first_contact"] == pd.Timestamp("2025-03-01T00:30:00Z")
    assert row["last_contact"] == pd.Timestamp("2025-03-31T22:30:00Z")
    two = frequent_callers(frame, "2025-03", min_calls=2)
    assert two["caller_hash"].tolist() == ["hA", "hB", "hC"]
    assert two["calls"].tolist() == [3, 2, 2]
    assert frequent_callers(frame, "2025-04", min_calls=1)["caller_hash"].tolist() == ["hC"]
    with pytest.raises(ValueError, match="2025-03"):
        frequent_callers(frame, "March", min_calls=1)


def test_month_bounds() -> None:
    assert month_bounds("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    assert month_bounds("2025-12") == (date(2025, 12, 1), date(2025, 12, 31))
    with pytest.raises(ValueError, match=r"YYYY-MM.*'2025-13'"):
        month_bounds("2025-13")


def test_large_log_is_vectorised() -> None:
    """500k calls in a couple of seconds: no per-row Python."""
    rng = np.random.default_rng(0)
    n = 500_000
    start = pd.Timestamp("2025-03-01T00:00:00Z").value
    frame = pd.DataFrame(
        {
            "started_at": pd.to_datetime(start + rng.integers(0, 31 * 86_400, n) * 10**9, utc=True),
            "caller_hash": pd.Series(
                rng.integers(0, 100_000, n).astype(str), dtype="string[pyarrow]"
            ),
            "direction": pd.Series(["inbound"] * n, dtype="string[pyarrow]"),
        }
    )
    began = time.perf_counter()
    marked = mark_repeats(frame)
    assert time.perf_counter() - began < 10
    # Each caller rings ~5 times in 31 days, so ~1.1 prior calls in a 7-day window on average.
    assert 0.7 < marked["prior_calls_window"].mean() < 1.3
