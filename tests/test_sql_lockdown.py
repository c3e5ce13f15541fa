"""`callqa sql` cannot reach past its views: no restricted/, no key files, no writes, no settings.

The output is written by the real writers (`callqa sample` on sample_data, `store.write_partition`
for failures and restricted turns, the real caller-hash key file), then each attack is run
through the real command, as a user at a terminal would.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb
import pytest
from conftest import SAMPLE_CALLS
from typer.testing import CliRunner

from callqa.cli import app
from pipeline import store
from pipeline.config import CALLER_HASH_KEY_FILE
from pipeline.errors import StoreError

runner = CliRunner()
NIGHT = date(2025, 3, 31)
#: Words only restricted/ holds: if they come back from a query, restricted/ was read.
SECRET_WORDS = "my name is Jane Smith and I live at 4 Acacia Avenue"
#: The clear message every refused attempt ends with (pipeline/store.py).
LOCKED = "callqa sql only reads the output tables"


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sql") / "out"
    result = runner.invoke(
        app, ["sample", "--calls", str(SAMPLE_CALLS), "--out", str(folder), "--date", "2025-03-31"]
    )
    assert result.exit_code == 0, result.output
    store.write_partition(
        folder,
        store.FAILURES,
        NIGHT,
        [
            {
                "call_id": "C1",
                "stage": "transcribe",
                "reason": "unreadable",
                "recording": "a.wav",
                "run_id": "r",
            }
        ],
    )
    store.write_partition(
        folder,
        store.RESTRICTED,
        NIGHT,
        [
            {
                "call_id": "C1",
                "turn": 0,
                "speaker": "caller",
                "start_s": 0.0,
                "end_s": 2.0,
                "text": SECRET_WORDS,
                "confidence": 0.9,
                "words": [],
                "pii": [],
                "speaker_confidence": 1.0,
            }
        ],
    )
    assert (folder / CALLER_HASH_KEY_FILE).exists()
    return folder


def _sql(out: Path, query: str) -> tuple[int, str]:
    result = runner.invoke(app, ["sql", "--out", str(out), "--csv", query])
    text = result.output + (str(result.exception) if result.exception else "")
    return result.exit_code, text


def test_the_ordinary_views_still_work(out: Path) -> None:
    code, text = _sql(out, "SELECT count(*) AS n FROM samples")
    assert code == 0, text
    got = store.query_output(out, "SELECT count(*) AS n FROM census")
    assert int(got["n"].iloc[0]) > 0
    got = store.query_output(out, "SELECT call_id, stage FROM failures")
    assert got["call_id"].tolist() == ["C1"]
    # SUMMARIZE, DESCRIBE, EXPLAIN and CTEs are reading too.
    for query in (
        "DESCRIBE samples",
        "SUMMARIZE census",
        "EXPLAIN SELECT * FROM samples",
        "WITH s AS (SELECT * FROM samples) SELECT count(*) FROM s",
    ):
        store.query_output(out, query)


def _attacks(out: Path) -> dict[str, str]:
    key = out / CALLER_HASH_KEY_FILE
    part = out / "restricted" / "call_date=2025-03-31" / "part-0.parquet"
    return {
        "read_parquet restricted": f"SELECT text FROM read_parquet('{out}/restricted/*/*.parquet')",
        "restricted by name": f"SELECT text FROM '{part}'",
        "restricted through ..": (
            f"SELECT text FROM read_parquet('{out}/samples/../restricted/*/*.parquet')"
        ),
        "parquet_metadata restricted": f"SELECT * FROM parquet_metadata('{part}')",
        "read_csv key": f"SELECT * FROM read_csv('{key}', header=false)",
        "read_text key": f"SELECT content FROM read_text('{key}')",
        "read_blob key": f"SELECT content FROM read_blob('{key}')",
        "glob output": f"SELECT * FROM glob('{out}/**')",
        "glob restricted": f"SELECT * FROM glob('{out}/restricted/**')",
        "attach": f"ATTACH '{out}/stolen.duckdb' AS stolen",
        "copy to": f"COPY (SELECT * FROM samples) TO '{out.parent}/copied.csv'",
        "copy into a view's folder": (
            f"COPY (SELECT 1 AS x) TO '{out}/samples/call_date=2025-03-31/evil.parquet'"
        ),
        "install": "INSTALL httpfs",
        "load": "LOAD httpfs",
        "load a file": f"LOAD '{out.parent}/evil.duckdb_extension'",
        "set external access": "SET enable_external_access = true",
        "unlock": "SET lock_configuration = false",
        "allowed directories": "SET allowed_directories = ['/']",
        "pragma": "PRAGMA enable_external_access = true",
        "select then copy": (
            f"SELECT 1; COPY (SELECT * FROM samples) TO '{out.parent}/copied2.csv'"
        ),
        "create table": "CREATE TABLE t AS SELECT 1",
        "export": f"EXPORT DATABASE '{out.parent}/exported'",
    }


@pytest.mark.parametrize("attack", list(_attacks(Path("/x"))))
def test_each_escape_fails_with_a_clear_message(out: Path, attack: str) -> None:
    query = _attacks(out)[attack]
    code, text = _sql(out, query)
    assert code != 0, f"{attack} succeeded:\n{text}"
    assert LOCKED in text, text
    assert SECRET_WORDS not in text
    assert (out / CALLER_HASH_KEY_FILE).read_text().strip() not in text
    # Nothing was written anywhere by the refused statement.
    assert not (out.parent / "copied.csv").exists()
    assert not (out.parent / "copied2.csv").exists()
    assert not (out.parent / "exported").exists()
    assert not (out / "stolen.duckdb").exists()
    assert not list((out / "samples").glob("*/evil.parquet"))


def test_the_connection_itself_is_locked(out: Path) -> None:
    """Under the statement check, DuckDB's own lock: file access off, settings frozen."""
    con = store.locked_connection(out)
    try:
        assert con.execute("SELECT count(*) FROM samples").fetchone()[0] > 0
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"SELECT * FROM read_text('{out / CALLER_HASH_KEY_FILE}')")
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"SELECT * FROM read_parquet('{out}/restricted/*/*.parquet')")
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"COPY (SELECT 1) TO '{out.parent}/direct.csv'")
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("SET enable_external_access = true")
    finally:
        con.close()
    assert not (out.parent / "direct.csv").exists()


def test_a_relative_out_folder_works_too(out: Path) -> None:
    cwd = Path.cwd()
    os.chdir(out.parent)
    try:
        got = store.query_output(Path(out.name), "SELECT count(*) AS n FROM samples")
        assert int(got["n"].iloc[0]) > 0
        with pytest.raises(StoreError, match=LOCKED):
            store.query_output(Path(out.name), f"SELECT * FROM read_text('{out.name}/.callqa/*')")
    finally:
        os.chdir(cwd)
