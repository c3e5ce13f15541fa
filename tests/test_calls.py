"""The call-log reader on real files: encodings, every validation message, DST, file names."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from pathlib import Path

import pandas as pd
import pytest

from pipeline.calls import calls_from_filenames, read_call_log
from pipeline.errors import CallLogError

HEADER = (
    "call_id,started_at,duration_s,agent_id,team,queue,caller_number,direction,"
    "recording,channel_layout"
)
GOOD = "G1,2025-03-31T09:14:05,120,agent_a,revenues,council_tax,07700 900123,inbound,,"


def write_log(tmp_path: Path, *rows: str, header: str = HEADER, encoding: str = "utf-8") -> Path:
    path = tmp_path / "calls.csv"
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode(encoding))
    return path


def read(path: Path, key: bytes = b"k"):
    return read_call_log(path, caller_hash_key=key)


def only_rejection(tmp_path: Path, row: str) -> str:
    log = read(write_log(tmp_path, GOOD, row))
    assert len(log.calls) == 1, "the good row must survive a bad one"
    assert [r.row for r in log.rejected] == [3]
    return log.rejected[0].reason


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_each_export_encoding_reads_names_and_times(tmp_path: Path, encoding: str) -> None:
    row = "E1,2025-03-31T10:00:00,30,agent_é,Équipe Brent,council_tax,,inbound,,"
    log = read(write_log(tmp_path, row, encoding=encoding))
    assert log.calls.loc[0, "agent_id"] == "agent_é"
    assert log.calls.loc[0, "team"] == "Équipe Brent"
    assert log.calls.loc[0, "started_at"] == pd.Timestamp("2025-03-31T09:00:00Z")


def test_windows_1252_pound_sign_and_semicolons(tmp_path: Path) -> None:
    header = HEADER.replace(",", ";")
    row = "E2;31/03/2025 10:00;30;agent_b;£ recovery;council_tax;;inbound;;"
    log = read(write_log(tmp_path, row, header=header, encoding="cp1252"))
    assert log.calls.loc[0, "team"] == "£ recovery"


def test_parquet_log_with_typed_columns(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "call_id": ["P1", "P2"],
            "started_at": pd.to_datetime(["2025-03-31 09:00", "2025-03-31 23:30"]),
            "duration_s": [60, 90],
            "agent_id": ["a", "b"],
            "queue": ["parking", "parking"],
            "caller_number": ["+44 7700 900123", "withheld"],
        }
    )
    path = tmp_path / "calls.parquet"
    frame.to_parquet(path)
    log = read(path)
    assert list(log.calls["call_date"]) == [dt.date(2025, 3, 31)] * 2
    assert log.calls["caller_hash"].isna().tolist() == [False, True]


@pytest.mark.parametrize("tz", [None, "UTC"])
def test_parquet_log_with_an_empty_timestamp_rejects_that_row(tmp_path: Path, tz) -> None:  # type: ignore[no-untyped-def]
    stamps = pd.to_datetime(["2025-03-31 09:00", None, "2025-03-31 10:00"])
    frame = pd.DataFrame(
        {
            "call_id": ["P1", "P2", "P3"],
            "started_at": stamps if tz is None else stamps.tz_localize(tz),
            "duration_s": [60, 90, 30],
            "agent_id": ["a", "b", "c"],
            "queue": ["parking"] * 3,
        }
    )
    path = tmp_path / "calls.parquet"
    frame.to_parquet(path)
    log = read(path)
    assert list(log.calls["call_id"]) == ["P1", "P3"]
    assert [(r.row, r.reason) for r in log.rejected] == [(3, "started_at is empty")]


def test_columns_and_types_of_the_table(tmp_path: Path) -> None:
    log = read(write_log(tmp_path, GOOD))
    assert list(log.calls.columns) == [
        "call_id",
        "started_at",
        "call_date",
        "duration_s",
        "agent_id",
        "team",
        "queue",
        "caller_hash",
        "direction",
        "recording",
        "channel_layout",
        "row",
    ]
    first = log.calls.iloc[0]
    assert first["direction"] == "inbound"
    assert first["channel_layout"] == "agent_left"
    assert pd.isna(first["recording"])


def test_caller_numbers_in_any_uk_format_hash_alike(tmp_path: Path) -> None:
    formats = ["07700 900123", "+44 7700 900123", "0044 7700 900123", "+44 (0)7700-900-123"]
    rows = [
        f"N{i},2025-03-31T09:0{i}:00,10,a,,council_tax,{n},inbound,," for i, n in enumerate(formats)
    ]
    log = read(write_log(tmp_path, *rows), key=b"secret")
    assert log.calls["caller_hash"].nunique() == 1
    expected = hmac.new(b"secret", b"+447700900123", hashlib.sha256).hexdigest()
    assert log.calls.loc[0, "caller_hash"] == expected


@pytest.mark.parametrize("number", ["withheld", "Withheld", "", "anonymous", "12345"])
def test_withheld_empty_or_invalid_numbers_have_no_hash(tmp_path: Path, number: str) -> None:
    log = read(write_log(tmp_path, f"W1,2025-03-31T09:00:00,10,a,,parking,{number},inbound,,"))
    assert pd.isna(log.calls.loc[0, "caller_hash"])


def test_clear_number_never_in_the_table_or_messages(tmp_path: Path) -> None:
    rows = [
        "X1,2025-03-31T09:00:00,10,a,,parking,07700 900456,inbound,,",
        "X2,not a date,10,a,,parking,07700 900456,inbound,,",
        "X2,2025-03-31T09:00:00,10,a,,parking,07700 900456,sideways,,",
    ]
    log = read(write_log(tmp_path, *rows))
    written = log.calls.to_csv() + "\n".join(str(r) for r in log.rejected)
    for form in ("07700 900456", "07700900456", "7700900456", "900456"):
        assert form not in written


def test_duration_as_clock_time(tmp_path: Path) -> None:
    log = read(write_log(tmp_path, "D1,2025-03-31T09:00:00,00:04:35,a,,parking,,inbound,,"))
    assert log.calls.loc[0, "duration_s"] == 275.0


def test_duration_may_be_missing_when_recorded(tmp_path: Path) -> None:
    log = read(write_log(tmp_path, "D2,2025-03-31T09:00:00,,a,,parking,,inbound,d2.wav,mono"))
    assert pd.isna(log.calls.loc[0, "duration_s"])
    assert log.calls.loc[0, "recording"] == "d2.wav"
    assert log.calls.loc[0, "channel_layout"] == "mono"


# -- one test per validation message --------------------------------------------------------


def test_rejects_empty_call_id(tmp_path: Path) -> None:
    assert only_rejection(tmp_path, ",2025-03-31T09:00:00,10,a,,parking,,inbound,,") == (
        "call_id is empty"
    )


def test_rejects_empty_agent_id(tmp_path: Path) -> None:
    reason = only_rejection(tmp_path, "R1,2025-03-31T09:00:00,10,,,parking,,inbound,,")
    assert reason == "agent_id is empty"


def test_rejects_empty_queue(tmp_path: Path) -> None:
    reason = only_rejection(tmp_path, "R1,2025-03-31T09:00:00,10,a,,,,inbound,,")
    assert reason == "queue is empty"


def test_rejects_empty_started_at(tmp_path: Path) -> None:
    assert only_rejection(tmp_path, "R1,,10,a,,parking,,inbound,,") == "started_at is empty"


def test_rejects_unreadable_started_at(tmp_path: Path) -> None:
    reason = only_rejection(tmp_path, "R1,next tuesday,10,a,,parking,,inbound,,")
    assert reason.startswith("started_at 'next tuesday' is not a date and time")


def test_rejects_impossible_calendar_date(tmp_path: Path) -> None:
    reason = only_rejection(tmp_path, "R1,31/02/2025 10:00,10,a,,parking,,inbound,,")
    assert "is not a date and time" in reason


def test_rejects_time_skipped_by_spring_clock_change(tmp_path: Path) -> None:
    reason = only_rejection(tmp_path, "R1,2025-03-30T01:30:00,10,a,,parking,,inbound,,")
    assert "does not exist in Europe/London (the clocks went forward)" in reason


def test_rejects_time_repeated_by_autumn_clock_change(tmp_path: Path) -> None:
    reason = only_rejection(tmp_path, "R1,2025-10-26T01:30:00,10,a,,parking,,inbound,,")
    assert "happened twice in Europe/London (the clocks went back)" in reason


def test_rejects_bad_duration(tmp_path: Path) -> None:
    reason = only_rejection(tmp_path, "R1,2025-03-31T09:00:00,-5,a,,parking,,inbound,,")
    assert reason == "duration_s '-5' is not a number of seconds (0 or more)"


def test_rejects_missing_duration_without_recording(tmp_path: Path) -> None:
    reason = only_rejection(tmp_path, "R1,2025-03-31T09:00:00,,a,,parking,,inbound,,")
    assert reason.startswith("duration_s is empty and the call has no recording")


def test_rejects_unknown_direction(tmp_path: Path) -> None:
    reason = only_rejection(tmp_path, "R1,2025-03-31T09:00:00,10,a,,parking,,sideways,,")
    assert reason == "direction 'sideways' is not inbound or outbound"


def test_rejects_unknown_layout(tmp_path: Path) -> None:
    reason = only_rejection(tmp_path, "R1,2025-03-31T09:00:00,10,a,,parking,,inbound,x.wav,stereo")
    assert reason == "channel_layout 'stereo' is not agent_left, agent_right or mono"


def test_rejects_row_with_wrong_number_of_fields(tmp_path: Path) -> None:
    reason = only_rejection(tmp_path, "R1,2025-03-31T09:00:00,10,a,,parking,,inbound,,,surplus")
    assert reason == "has 11 fields where the header has 10"


def test_duplicate_call_id_names_both_rows(tmp_path: Path) -> None:
    log = read(write_log(tmp_path, GOOD, "X,2025-03-31T09:00:00,5,a,,parking,,inbound,,", GOOD))
    assert [(r.row, r.call_id, r.reason) for r in log.rejected] == [
        (4, "G1", "duplicate call_id: also on row 2")
    ]
    assert sorted(log.calls["call_id"]) == ["G1", "X"]


def test_missing_required_columns_is_an_error(tmp_path: Path) -> None:
    path = write_log(tmp_path, "a,b", header="call_id,when")
    with pytest.raises(CallLogError, match="missing required column\\(s\\) started_at, agent_id"):
        read(path)


def test_header_without_rows_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CallLogError, match="has a header but no rows"):
        read(write_log(tmp_path))


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_bytes(b"")
    with pytest.raises(CallLogError, match="the file is empty"):
        read(path)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CallLogError, match="call log not found"):
        read(tmp_path / "nope.csv")


def test_no_usable_rows_is_an_error_listing_problems(tmp_path: Path) -> None:
    path = write_log(tmp_path, "R1,2025-03-31T09:00:00,10,,,parking,,inbound,,")
    with pytest.raises(CallLogError, match=r"no usable rows .*row 2.*agent_id is empty"):
        read(path)


def test_column_names_are_matched_loosely_and_extras_ignored(tmp_path: Path) -> None:
    header = "Call ID,Started At,Duration S,Agent ID,Queue,Notes"
    log = read(write_log(tmp_path, "C1,2025-03-31 09:00:00,10,a,parking,hello", header=header))
    assert log.calls.loc[0, "call_id"] == "C1"
    assert "notes" not in log.calls.columns


# -- time zones ----------------------------------------------------------------------------


def test_dst_boundaries_give_the_right_local_date(tmp_path: Path) -> None:
    rows = [
        "T1,2025-03-30T00:59:59,1,a,,q,,inbound,,",  # GMT, just before the gap
        "T2,2025-03-30T02:00:00,1,a,,q,,inbound,,",  # BST, just after it
        "T3,2025-03-31T00:30:00,1,a,,q,,inbound,,",  # BST: 23:30 UTC the day before
        "T4,2025-10-26T00:59:59,1,a,,q,,inbound,,",  # BST, before the repeated hour
        "T5,2025-10-26T02:00:00,1,a,,q,,inbound,,",  # GMT, after it
        "T6,2025-10-26T01:30:00+01:00,1,a,,q,,inbound,,",  # the repeated hour, made explicit
        "T7,2025-10-26T01:30:00Z,1,a,,q,,inbound,,",
    ]
    log = read(write_log(tmp_path, *rows))
    by_id = log.calls.set_index("call_id")
    utc = {k: str(v) for k, v in by_id["started_at"].items()}
    assert utc == {
        "T1": "2025-03-30 00:59:59+00:00",
        "T2": "2025-03-30 01:00:00+00:00",
        "T3": "2025-03-30 23:30:00+00:00",
        "T4": "2025-10-25 23:59:59+00:00",
        "T5": "2025-10-26 02:00:00+00:00",
        "T6": "2025-10-26 00:30:00+00:00",
        "T7": "2025-10-26 01:30:00+00:00",
    }
    assert by_id.loc["T3", "call_date"] == dt.date(2025, 3, 31)
    assert by_id.loc["T4", "call_date"] == dt.date(2025, 10, 26)


# -- building a log from file names --------------------------------------------------------

PATTERN = (
    r"(?P<call_id>Auto\d+_[0-9A-F]+_\d+)_AGENT_(?P<agent_id>[^_]+)_DT_"
    r"(?P<started_at>[\dT-]+)_(?P<channel_layout>Mono|Stereo)"
)


def test_filename_pattern_builds_a_log(tmp_path: Path) -> None:
    names = [
        "Auto0_0A1B_000_AGENT_ChrisL_DT_2025-02-19T06-01-22_Mono.wav",
        "Auto1_0A1C_001_AGENT_SamP_DT_2025-07-19T06-01-22_Stereo.flac",
        "notes.txt",
        "unrelated.wav",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    log = calls_from_filenames(tmp_path, PATTERN)
    calls = log.calls.set_index("call_id")
    assert list(calls.index) == ["Auto0_0A1B_000", "Auto1_0A1C_001"]
    assert calls.loc["Auto0_0A1B_000", "agent_id"] == "ChrisL"
    assert calls.loc["Auto0_0A1B_000", "channel_layout"] == "mono"
    assert calls.loc["Auto1_0A1C_001", "channel_layout"] == "agent_left"
    assert calls.loc["Auto0_0A1B_000", "started_at"] == pd.Timestamp("2025-02-19T06:01:22Z")
    assert calls.loc["Auto1_0A1C_001", "started_at"] == pd.Timestamp("2025-07-19T05:01:22Z")
    assert calls.loc["Auto0_0A1B_000", "recording"] == names[0]
    assert calls.loc["Auto0_0A1B_000", "queue"] == "unknown"


def test_filename_pattern_with_unknown_group_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CallLogError, match="groups \\['guid'\\]"):
        calls_from_filenames(tmp_path, r"(?P<guid>\w+)")


def test_filename_pattern_that_is_not_a_regex_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CallLogError, match="not a valid regular expression"):
        calls_from_filenames(tmp_path, r"(?P<call_id>")


def test_filename_pattern_matching_nothing_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"")
    with pytest.raises(CallLogError, match="no audio file name matches"):
        calls_from_filenames(tmp_path, PATTERN)
