"""`make run`'s night gives the same Parquet as before the redesign (tests/golden/README.md).

The golden tables were written by the code before the restructuring of issue 19; a change meant
to alter outputs rewrites them with the command in that README, in the same commit.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from callqa.cli import app

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "make_run_night"
HASH_KEY = "golden-night-caller-hash-key-0123456789abcdef"
#: What differs between two runs of the same night: ids, clocks and the checkout's location.
VOLATILE = {"run_id", "purged_at", "finished_at"}
VOLATILE_BY_TABLE = {"runs": {"started_at"}}
_RECORDINGS = re.compile(r"\S*sample_data/recordings")


def _tables(out: Path) -> dict[str, Path]:
    return {
        str(path.relative_to(out)): path
        for path in sorted(out.rglob("*.parquet"))
        if ".cache" not in path.parts
    }


def _stable(table: pa.Table, name: str) -> pa.Table:
    drop = VOLATILE | VOLATILE_BY_TABLE.get(name.split("/", 1)[0], set())
    table = table.drop_columns([c for c in table.column_names if c in drop])
    for i, field in enumerate(table.schema):
        if pa.types.is_string(field.type):
            column = pc.replace_substring_regex(
                table.column(i), _RECORDINGS.pattern, "<recordings>"
            )
            table = table.set_column(i, field, column)
    return table


def _callqa(*args: str) -> None:
    done = CliRunner().invoke(app, list(args))
    assert done.exit_code == 0, done.output


@pytest.mark.timeout(900)
def test_make_run_night_matches_the_golden_tables(
    prefect_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("CALLQA_CALLER_HASH_KEY", HASH_KEY)
    # The two commands of the Makefile's `run` target, on the same inputs.
    _callqa(
        "nightly",
        "--calls",
        "sample_data/calls.csv",
        "--recordings",
        "sample_data/recordings",
        "--out",
        str(out),
        "--date",
        "2025-03-31",
    )
    _callqa("report", "--out", str(out), "--month", "2025-03")

    got, want = _tables(out), _tables(GOLDEN)
    assert sorted(got) == sorted(want)
    for name in want:
        before = _stable(pq.read_table(want[name]), name)
        after = _stable(pq.read_table(got[name]), name)
        assert after.schema == before.schema, name
        assert after.equals(before), f"{name} differs from the golden table"
