"""pipeline/store.py on real Parquet in tmp_path (and real tmpfs mounts for full/read-only disks)."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipeline import store
from pipeline.errors import StoreError
from pipeline.files import atomic_write_bytes

NIGHT = date(2025, 3, 31)


def _failures(n: int, tag: str = "x") -> list[dict[str, object]]:
    return [
        {
            "call_id": f"C{i:03d}",
            "stage": tag,
            "reason": "unreadable",
            "recording": None,
            "run_id": "r1",
        }
        for i in range(n)
    ]


def test_partition_layout_and_round_trip(tmp_path: Path) -> None:
    path = store.write_partition(tmp_path, store.FAILURES, NIGHT, _failures(3))
    assert path == tmp_path / "failures" / "call_date=2025-03-31" / "part-0.parquet"
    # The key lives only in the folder name, so every common reader agrees on the table.
    assert "call_date" not in pd.read_parquet(path).columns
    whole = pd.read_parquet(tmp_path / "failures")
    assert len(whole) == 3
    assert {str(d) for d in whole["call_date"]} == {"2025-03-31"}
    back = store.read_table(tmp_path, "failures")
    assert list(back.columns) == store.FAILURES.columns
    assert set(back["call_date"]) == {NIGHT}
    sql = f"SELECT count(*) FROM read_parquet('{tmp_path}/failures/*/*.parquet', hive_partitioning=true)"
    assert duckdb.sql(sql).fetchall() == [(3,)]


def test_rerun_replaces_partition_and_never_duplicates(tmp_path: Path) -> None:
    other = date(2025, 3, 30)
    store.write_partition(tmp_path, "failures", other, _failures(2))
    store.write_partition(tmp_path, "failures", NIGHT, _failures(3))
    store.write_partition(tmp_path, "failures", NIGHT, _failures(1, "y"))
    back = store.read_table(tmp_path, "failures")
    assert len(back) == 3
    assert list(back[back["call_date"] == NIGHT]["stage"]) == ["y"]
    # Zero rows clear a date rather than leaving the old rows behind.
    store.write_partition(tmp_path, "failures", NIGHT, [])
    assert len(store.read_table(tmp_path, "failures")) == 2
    assert store.partition_dates(tmp_path, "failures") == [other, NIGHT]
    # No temporary files are left for a reader to trip over.
    assert not [p for p in (tmp_path / "failures").rglob("*") if p.name.startswith(".")]


def test_a_killed_writers_temporary_file_is_swept_once_stale(tmp_path: Path) -> None:
    target = store.write_partition(tmp_path, "failures", NIGHT, _failures(1))
    stale = target.parent / f".{target.name}.{'a' * 32}.tmp"
    busy = target.parent / f".{target.name}.{'b' * 32}.tmp"
    stale.write_bytes(b"PAR1 half a file")
    busy.write_bytes(b"PAR1 another run still writing")
    two_hours_ago = stale.stat().st_mtime - 2 * 3600
    os.utime(stale, (two_hours_ago, two_hours_ago))
    store.write_partition(tmp_path, "failures", NIGHT, _failures(2))
    assert not stale.exists()
    assert busy.exists()
    assert len(store.read_table(tmp_path, "failures")) == 2


def test_atomic_write_bytes_replaces_the_whole_file(tmp_path: Path) -> None:
    page = tmp_path / "pack" / "call-1.html"
    atomic_write_bytes(page, b"<p>a long first version</p>")
    atomic_write_bytes(page, b"<p>short</p>")
    assert page.read_bytes() == b"<p>short</p>"
    assert [p.name for p in page.parent.iterdir()] == ["call-1.html"]


def test_read_filters_dates_and_missing_table_is_empty(tmp_path: Path) -> None:
    for day in (1, 2, 3):
        store.write_partition(tmp_path, "failures", date(2025, 3, day), _failures(day))
    got = store.read_table(tmp_path, "failures", start=date(2025, 3, 2), end=date(2025, 3, 2))
    assert len(got) == 2
    empty = store.read_table(tmp_path, "scorecards")
    assert empty.empty and list(empty.columns) == store.SCORECARDS.columns


def test_scorecard_columns_cover_design_contract() -> None:
    design = [
        "call_id",
        "call_date",
        "agent_id",
        "team",
        "queue",
        "duration_s",
        "sample_kind",
        "stratum",
        "inclusion_prob",
        "weight",
        "transcript_confidence",
        "contact_reasons",
        "primary_reason",
        "avoidable",
        "avoidable_category",
        "repeat_caller",
        "prior_calls_window",
        "greeting",
        "agent_named",
        "id_check",
        "anything_else_offered",
        "closing",
        "complaint",
        "transferred",
        "talk_ratio_agent",
        "silence_ratio",
        "overtalk_s",
        "pii_redactions",
        "qa_score",
        "flags",
        "needs_review",
        "run_id",
        "pipeline_version",
    ]
    assert store.SCORECARDS.columns[: len(design)] == design
    assert store.TRANSCRIPTS.columns == [
        "call_id",
        "call_date",
        "turn",
        "speaker",
        "start_s",
        "end_s",
        "text",
        "confidence",
    ]
    assert store.ESTIMATES.columns[:8] == [
        "metric",
        "group",
        "estimate",
        "ci_low",
        "ci_high",
        "n_sampled",
        "population",
        "method",
    ]


def test_schema_mismatch_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="missing"):
        store.write_partition(tmp_path, "failures", NIGHT, [{"call_id": "a"}])
    with pytest.raises(StoreError, match="partition"):
        store.write_partition(
            tmp_path, "failures", NIGHT, [{**_failures(1)[0], "call_date": date(2025, 1, 1)}]
        )


def test_out_under_a_file_says_what_to_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="not a folder"):
        store.write_partition(blocker, "failures", NIGHT, _failures(1))


def _mount(target: Path, options: str) -> None:
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    target.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root)")


def test_disk_full_is_a_store_error_and_keeps_the_old_partition(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    _mount(disk, "size=64k")
    try:
        store.write_partition(disk, "failures", NIGHT, _failures(2))
        huge = [{**r, "reason": os.urandom(60_000).hex()} for r in _failures(5)]
        with pytest.raises(StoreError, match="disk full"):
            store.write_partition(disk, "failures", NIGHT, huge)
        assert len(store.read_table(disk, "failures")) == 2
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_read_only_disk_is_a_store_error(tmp_path: Path) -> None:
    disk = tmp_path / "ro"
    _mount(disk, "ro,size=64k")
    try:
        with pytest.raises(StoreError, match="read-only"):
            store.write_partition(disk, "failures", NIGHT, _failures(1))
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_unpartitioned_file_round_trip(tmp_path: Path) -> None:
    row = {
        "metric": "avoidable_rate",
        "group": "all",
        "estimate": 0.2,
        "ci_low": 0.1,
        "ci_high": 0.3,
        "n_sampled": 40,
        "population": 900,
        "method": "taylor",
        "month": "2025-03",
        "previous_estimate": None,
        "change": None,
        "n_reviewed": None,
    }
    path = store.write_file(
        tmp_path / "reports" / "2025-03" / "estimates.parquet", "estimates", [row]
    )
    back = store.read_file(path, "estimates")
    assert back.iloc[0]["metric"] == "avoidable_rate" and len(back) == 1


def test_scorecard_evidence_and_pack_manifest_schemas(tmp_path: Path) -> None:
    evidence = store.SCORECARDS.schema.field("evidence").type
    assert evidence.value_type.names == ["tag", "turn", "text"]
    assert str(evidence.value_type.field("turn").type) == "int32"
    rows = [
        {"call_id": "C001", "page": "call-001.html", "audio": "call-001.opus"},
        {"call_id": "C002", "page": "call-002.html", "audio": None},
    ]
    path = store.write_file(tmp_path / "pack" / store.PACK_FILE, store.SCRUTINY_PACK, rows)
    back = store.read_file(path, store.SCRUTINY_PACK)
    assert list(back.columns) == ["call_id", "page", "audio"]
    assert back["call_id"].tolist() == ["C001", "C002"] and pd.isna(back["audio"].iloc[1])


def test_sql_over_the_output_and_safe_csv_cells(tmp_path: Path) -> None:
    store.write_partition(tmp_path, "failures", NIGHT, _failures(3))
    store.write_partition(tmp_path, "failures", date(2025, 3, 30), _failures(1))
    got = store.query_output(
        tmp_path, "SELECT call_date, count(*) AS n FROM failures GROUP BY 1 ORDER BY 1"
    )
    assert got["n"].tolist() == [1, 3]
    with pytest.raises(StoreError, match="SQL failed"):
        store.query_output(tmp_path, "SELECT * FROM nowhere")
    assert [store.safe_csv_cell(v) for v in ("=SUM(A1)", "+1", "-2", "@x", "ok", 5)] == [
        "'=SUM(A1)",
        "'+1",
        "'-2",
        "'@x",
        "ok",
        5,
    ]
