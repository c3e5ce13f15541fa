"""After a night, no personal data outside restricted/, and the caller-hash key nowhere.

The shared hostile night (tests/hardening/night.py) screens real sample calls that hold every
personal-data type, then a scrutiny pack and the month's report are made from it. Every file
it leaves outside `restricted/` (Parquet decoded cell by cell, HTML, CSV, JSON, anything else
as bytes), the pack, the runs' console output, and Prefect's own home (its SQLite database as
bytes and as text columns: flow-run logs, artifacts, parameters, states) are searched for
every personal-data value in every sample script's labels and every caller number of the
call log. Values are normalised the way they could be written: numbers by their digits
(with any spacing, or spoken: "twenty, forty, sixty"), e-mails and postcodes lower-case
without spaces ("H W two, five L T" too), names and addresses as words.
"""

from __future__ import annotations

import re
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import SAMPLE_SCRIPTS

from pipeline.calls import AUDIO_SUFFIXES
from pipeline.config import CALLER_HASH_KEY_FILE

_SEP = r"[\s\-./()]{0,3}"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
#: Prefect's clock times: seconds and microseconds like "19.880803" read as a date of birth.
_CLOCK = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?")


@dataclass(frozen=True)
class Needle:
    kind: str
    value: str
    pattern: re.Pattern[str]
    squashed: bool  # search the text with its whitespace removed


def _digits(value: str) -> re.Pattern[str]:
    body = _SEP.join(re.escape(d) for d in value)
    return re.compile(rf"(?<!\d){body}(?!\d)")


def needles(caller_numbers: list[str]) -> list[Needle]:
    import yaml

    found: list[Needle] = []
    seen: set[tuple[str, str]] = set()

    def add(kind: str, value: str) -> None:
        value = value.strip()
        if not value or (kind, value) in seen:
            return
        seen.add((kind, value))
        digits = re.sub(r"\D", "", value)
        if kind == "date_of_birth":
            year, month, day = value.split("-")
            for form in (year + month + day, day + month + year):
                found.append(Needle(kind, value, _digits(form), False))
        elif kind in ("email", "postcode", "ni_number") or (
            kind == "account_reference" and not value.isdigit()
        ):
            squashed = re.sub(r"\s+", "", value.lower())
            found.append(Needle(kind, value, re.compile(re.escape(squashed)), True))
        elif digits and len(digits) >= 0.6 * len(re.sub(r"\s", "", value)):
            if digits.startswith("44"):
                digits = "0" + digits[2:]
            found.append(Needle(kind, value, _digits(digits), False))
            if digits.startswith("0"):  # the same number in international form
                found.append(Needle(kind, value, _digits("44" + digits[1:]), False))
        else:
            words = r"\s+".join(re.escape(w) for w in value.lower().replace(",", " ").split())
            found.append(Needle(kind, value, re.compile(rf"\b{words}\b"), False))

    for path in sorted(SAMPLE_SCRIPTS.glob("*.yaml")):
        script = yaml.safe_load(path.read_text())
        for span in (script.get("labels") or {}).get("pii") or []:
            add(span["type"], str(span["value"]))
        add("caller_number", str(script["caller_number"]))
    for number in caller_numbers:
        add("caller_number", number)
    return found


def _any(patterns: list[re.Pattern[str]]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns))


def hits(text: str, all_needles: list[Needle]) -> list[tuple[str, str]]:
    """The needles found in `text`: one pass per form, per-needle only when something matched."""
    # Prefect's ids are UUIDs: a group like "...2040-60..." is not a sort code.
    text = _CLOCK.sub(" ", _UUID.sub(" ", text))
    found = []
    for squashed in (False, True):
        mine = [n for n in all_needles if n.squashed == squashed]
        haystack = text.lower()
        if squashed:
            haystack = re.sub(r"\s+", "", haystack)
        if mine and _any([n.pattern for n in mine]).search(haystack):
            found += [(n.kind, n.value) for n in mine if n.pattern.search(haystack)]
    return found


_SPOKEN = {
    "zero": "0", "oh": "0", "nought": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
    "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15",
    "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19", "twenty": "20",
    "thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70",
    "eighty": "80", "ninety": "90", "at": "@", "dot": ".",
}  # fmt: skip


def spoken(text: str) -> str:
    """A cell as written digits and letters run together: "H W two, five L T" -> "hw25lt",
    "double seven" -> "77", "twenty, forty, sixty" -> "204060"."""
    words = re.findall(r"[a-z0-9@.]+", text.lower())
    out: list[str] = []
    for i, word in enumerate(words):
        if word == "double" and i + 1 < len(words) and words[i + 1] in _SPOKEN:
            out.append(_SPOKEN[words[i + 1]])
        else:
            out.append(_SPOKEN.get(word, word))
    return "".join(out)


def _parquet_text(path: Path) -> str:
    """Column names, metadata and cells; then each cell in its spoken-digit form, `|` between
    cells so no number or postcode is assembled from two neighbouring cells."""
    table = pq.read_table(path)
    parts = [" ".join(table.column_names), str(table.schema.metadata or "")]
    for column in table.columns:
        values = [str(v) for v in column.to_pylist() if v is not None]
        parts.extend(values)
        parts.append("|".join(spoken(v) for v in values))
    return "\n".join(parts)


def texts(root: Path, *, skip: str | None = None) -> Iterator[tuple[str, str]]:
    """(where, text) for every file under `root`, Parquet decoded, the rest as bytes."""
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        if skip and skip in path.relative_to(root).parts:
            continue
        if path.suffix == ".parquet":
            yield str(path), _parquet_text(path)
            continue
        if path.suffix in AUDIO_SUFFIXES:
            continue  # silenced audio: its words are checked in the transcripts, not its bytes
        data = path.read_bytes()
        # Text runs of the bytes (as `strings` finds them), in both likely encodings.
        runs = re.findall(rb"[\x20-\x7e\t\n\r]{4,}", data)
        yield str(path), b"\n".join(runs).decode("ascii") + "\n" + data.decode("utf-8", "ignore")


def prefect_texts(database: Path) -> Iterator[tuple[str, str]]:
    """Every text cell of every table of Prefect's database (logs, artifacts, parameters...)."""
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            rows = con.execute(f'SELECT * FROM "{table}"').fetchall()
            cells = [str(c) for row in rows for c in row if isinstance(c, str | bytes)]
            yield f"{database}:{table}", "\n".join(cells)
    finally:
        con.close()


@pytest.fixture(scope="module")
def night(hardening_night):  # type: ignore[no-untyped-def]
    assert hardening_night.run.returncode == 0, hardening_night.run.stderr[-3000:]
    return hardening_night


@pytest.fixture(scope="module")
def pii(night) -> list[Needle]:  # type: ignore[no-untyped-def]
    return needles(night.world.caller_numbers)


def test_the_scan_would_see_personal_data(night, pii: list[Needle]) -> None:  # type: ignore[no-untyped-def]
    """The unredacted copy in restricted/ holds the values: the scan is not blind."""
    restricted = "\n".join(t for _, t in texts(night.run.out / "restricted"))
    kinds = {kind for kind, _ in hits(restricted, pii)}
    assert {"person_name", "address"} <= kinds and len(kinds) >= 4, kinds


def test_no_personal_data_outside_restricted(night, pii: list[Needle]) -> None:  # type: ignore[no-untyped-def]
    found = {
        where: hits(text, pii)
        for where, text in texts(night.run.out, skip="restricted")
        if hits(text, pii)
    }
    assert found == {}


def test_no_personal_data_in_the_scrutiny_pack_and_report(night, pii: list[Needle]) -> None:  # type: ignore[no-untyped-def]
    assert night.after.returncode == 0, night.after.stderr[-3000:]
    assert (night.pack / "index.csv").exists()
    assert list((night.run.out / "reports").rglob("*.html"))
    found = {where: hits(text, pii) for where, text in texts(night.pack) if hits(text, pii)}
    assert found == {}


def test_no_personal_data_in_console_output(night, pii: list[Needle]) -> None:  # type: ignore[no-untyped-def]
    for run in (night.run, night.after):
        assert hits(run.stdout + run.stderr, pii) == []


def test_no_personal_data_in_prefect_database_logs_and_artifacts(night, pii: list[Needle]) -> None:  # type: ignore[no-untyped-def]
    tables = dict(prefect_texts(night.prefect_database))
    # The scan covers the flow-run logs and the night's artifact.
    assert "nightly-screening-summary" in tables[f"{night.prefect_database}:artifact"]
    assert "Finished in state" in tables[f"{night.prefect_database}:log"]
    found = {where: hits(text, pii) for where, text in tables.items() if hits(text, pii)}
    found |= {
        where: hits(text, pii) for where, text in texts(night.prefect_home) if hits(text, pii)
    }
    assert found == {}


def test_caller_hash_key_is_private_and_never_written_elsewhere(night) -> None:  # type: ignore[no-untyped-def]
    key_file = night.run.out / CALLER_HASH_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) >= 32
    places = [
        *texts(night.run.out),
        *texts(night.pack),
        *texts(night.prefect_home),
        *prefect_texts(night.prefect_database),
        ("night console", night.run.stdout + night.run.stderr),
        ("pack console", night.after.stdout + night.after.stderr),
    ]
    leaks = [where for where, text in places if key in text and where != str(key_file)]
    assert leaks == []
