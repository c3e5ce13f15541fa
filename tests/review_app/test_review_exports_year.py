"""A year of calls (20,000, benchmarks/exports.py's writer) downloaded from the review queue as
CSV and Excel: each file opens in pandas and openpyxl with every flagged call, formulas guarded."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(120)


def _exports_module():  # type: ignore[no-untyped-def]
    # Loaded by path: benchmarks/ is not a package, and its review.py would shadow the app.
    spec = importlib.util.spec_from_file_location(
        "callqa_exports_benchmark", ROOT / "benchmarks" / "exports.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["callqa_exports_benchmark"] = module
    spec.loader.exec_module(module)
    return module


def test_a_year_of_calls_downloads_whole(tmp_path: Path) -> None:
    exports = _exports_module()
    out = tmp_path / "out"
    # 20 nights rather than 365: the rows are what matter here, and each night is a file write.
    flagged = exports.build_year(out, 20_000, days=20)
    cards = pd.read_parquet(out / "scorecards")
    assert len(cards) == 20_000
    assert flagged == int(cards["needs_review"].sum()) > 5_000
    result = exports.measure(out, tmp_path / "state", flagged, repeats=1)
    # measure() read each file back with pandas and openpyxl and checked these against the
    # Parquet; here the figures it reports are checked against the Parquet once more.
    assert result["queue_rows"] == flagged
    assert (
        result["formula_cells_guarded"]
        == int(cards[cards["needs_review"]]["call_id"].str.startswith("=").sum())
        > 0
    )
    assert result["agents_rows"] == cards["agent_id"].nunique()
