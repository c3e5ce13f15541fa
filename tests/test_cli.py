"""The `callqa` command line, run as a user would (typer's CliRunner on the real app)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import SAMPLE_CALLS
from typer.testing import CliRunner

from callqa.cli import app

runner = CliRunner()
NIGHT = "2025-03-31"


@pytest.fixture(scope="module")
def sampled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("out")
    result = runner.invoke(
        app, ["sample", "--calls", str(SAMPLE_CALLS), "--out", str(out), "--date", NIGHT]
    )
    assert result.exit_code == 0, result.output
    return out, result.output


def test_sample_writes_the_manifest_and_says_where(sampled: tuple[Path, str]) -> None:
    out, output = sampled
    manifest = pd.read_parquet(out / "samples")
    assert len(manifest) > 0 and manifest["call_id"].is_unique
    assert f"samples/call_date={NIGHT}/part-0.parquet" in output
    assert "generated one and saved it to" in output
    random = manifest[manifest["sample_kind"] == "random"]
    assert (random["weight"] * random["inclusion_prob"]).round(9).eq(1).all()


def test_sample_is_reproducible(sampled: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = sampled
    key = (out / ".callqa" / "caller_hash.key").read_text().strip()
    again = tmp_path / "again"
    result = runner.invoke(
        app,
        ["sample", "--calls", str(SAMPLE_CALLS), "--out", str(again), "--date", NIGHT],
        env={"CALLQA_CALLER_HASH_KEY": key},
    )
    assert result.exit_code == 0, result.output
    first = pd.read_parquet(out / "samples").drop(columns="run_id")
    second = pd.read_parquet(again / "samples").drop(columns="run_id")
    pd.testing.assert_frame_equal(first, second)


def test_no_clear_caller_number_in_anything_written(sampled: tuple[Path, str]) -> None:
    out, output = sampled
    log = pd.read_csv(SAMPLE_CALLS, dtype=str, keep_default_na=False)
    numbers = {re.sub(r"\D", "", n) for n in log["caller_number"]}
    national = {n[-10:] for n in numbers if len(n) >= 10}
    assert national
    written = output
    for file in out.rglob("*"):
        if file.is_file() and file.suffix == ".parquet":
            written += pd.read_parquet(file).to_csv()
        elif file.is_file():
            written += file.read_text(errors="replace")
    digits = re.sub(r"\D", "", written)
    leaked = [n for n in national if n in digits]
    assert not leaked


def test_fatal_error_exits_non_zero_with_what_to_fix(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["sample", "--calls", str(tmp_path / "none.csv"), "--out", str(tmp_path), "--date", NIGHT],
    )
    assert result.exit_code != 0
    assert "call log not found" in str(result.exception) or "call log not found" in result.output


def test_bad_date_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["sample", "--calls", str(SAMPLE_CALLS), "--out", str(tmp_path), "--date", "31/03"]
    )
    assert result.exit_code == 2
    assert "use YYYY-MM-DD" in result.output


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("nightly", "sample", "scrutiny-sample", "report", "transcribe", "tag", "sql"):
        assert command in result.output
