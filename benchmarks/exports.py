"""Downloads of the review app's tables over a council's year of screened calls.

Writes a year of scorecards with the project's own writer (`pipeline.store.write_partition`):
20,000 calls over 365 nights, about a third of them flagged for review, some with ids and teams
a spreadsheet would run as formulas. Then a signed-in quality lead downloads the whole review
queue (`/queue?status=all`) as CSV and as Excel, and the agents table, through the HTTP routes
(FastAPI's TestClient, one process); each file is read back with pandas and openpyxl and its
rows checked against the Parquet. The baselines, in the same run, are the queue page itself (the
HTML of its first page, same filters) and bare pandas writing the same rows and columns to CSV
(no formula guard, no list joining); timings are
reported as ratios to them, so they mean the same on a faster or slower machine. Figures go to
benchmarks/exports.json.

    .venv/bin/python benchmarks/exports.py [--calls 20000] [--days 365] [--repeats 3]
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import store  # noqa: E402

FIRST_DAY = date(2025, 1, 1)
QUEUES = ("council_tax", "benefits", "waste", "housing", "parking", "general")
REASONS = ("council_tax", "benefits", "waste_recycling", "housing_repairs", "parking", "other")
TEAMS = ("Blue", "Green", "Red", "Amber", "=1+1")  # the last one a spreadsheet would run
CHECKS = ("greeting", "agent_named", "id_check", "anything_else_offered", "closing")
FLAGS = ("complaint", "avoidable", "low_qa", "repeat_caller")


def build_year(out: Path, n_calls: int = 20_000, days: int = 365, seed: int = 5) -> int:
    """Write `n_calls` scorecards over `days` nights under `out`; returns how many are flagged."""
    rng = np.random.default_rng(seed)
    names = [f.name for f in store.SCORECARDS.schema if f.name != store.PARTITION_KEY]
    per_day = np.bincount(rng.integers(0, days, n_calls), minlength=days)
    flagged = 0
    for d in range(days):
        night = FIRST_DAY + timedelta(days=d)
        cards: list[dict[str, Any]] = []
        for i in range(int(per_day[d])):
            q = int(rng.integers(len(QUEUES)))
            checks = {c: bool(rng.random() > 0.2) for c in CHECKS}
            flags = [f for f in FLAGS if rng.random() < 0.12]
            flagged += bool(flags)
            card: dict[str, Any] = dict.fromkeys(names)
            card.update(
                call_id=f"{'=' if i % 97 == 0 else ''}C{night:%Y%m%d}-{i:04d}",
                agent_id=f"A{100 + int(rng.integers(40))}",
                team=TEAMS[int(rng.integers(len(TEAMS)))],
                queue=QUEUES[q],
                duration_s=float(rng.integers(60, 1200)),
                contact_reasons=[REASONS[q]],
                primary_reason=REASONS[q],
                avoidable="avoidable" in flags,
                complaint="complaint" in flags,
                qa_score=float(20 * sum(checks.values())),
                flags=flags,
                needs_review=bool(flags),
                evidence=[],
                **checks,
                # What the nightly run fills on every row, whatever the call.
                transferred=False,
                repeat_caller="repeat_caller" in flags,
                low_confidence=False,
                vulnerability=[],
                safeguarding=False,
                qa_checks=checks,
                tags={},
            )
            cards.append(card)
        store.write_partition(out, store.SCORECARDS, night, cards)
    return flagged


def _lead_client(out: Path, state: Path) -> Any:
    """A TestClient signed in as a quality lead of an app over `out` (SQLite beside it)."""
    from fastapi.testclient import TestClient

    from review.app import create_app
    from review.db import User
    from review.security import hash_password

    password = "benchmark lead password 2025"
    app = create_app(out, None, None, state_dir=state)
    with app.state.sessionmaker() as db:
        db.add(User(name="lead", role="quality_lead", password_hash=hash_password(password)))
        db.commit()
    client = TestClient(app, follow_redirects=False)
    page = client.get("/login").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed = client.post("/login", data={"csrf_token": token, "name": "lead", "password": password})
    assert signed.status_code == 303, signed.text
    return client


def _timed(fn: Any, repeats: int) -> tuple[float, Any]:
    """Median seconds of `repeats` calls of `fn`, and its last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def measure(out: Path, state: Path, flagged: int, repeats: int) -> dict[str, Any]:
    """Download the year's queue (CSV, Excel) and agents; read each back and check its rows."""
    import openpyxl
    import pandas as pd

    client = _lead_client(out, state)
    page_s, page = _timed(lambda: client.get("/queue?status=all"), repeats)
    assert page.status_code == 200
    csv_s, csv = _timed(lambda: client.get("/queue?status=all&format=csv"), repeats)
    xlsx_s, xlsx = _timed(lambda: client.get("/queue?status=all&format=xlsx"), repeats)
    agents_s, agents = _timed(lambda: client.get("/agents?format=xlsx"), repeats)
    read_csv_s, frame = _timed(lambda: pd.read_csv(io.BytesIO(csv.content)), 1)
    cards = pd.read_parquet(out / "scorecards")
    same = cards[cards["needs_review"]][[c for c in frame.columns if c in cards.columns]]
    bare_s, _ = _timed(lambda: same.to_csv(index=False), repeats)

    read_pandas_s, excel = _timed(lambda: pd.read_excel(io.BytesIO(xlsx.content)), 1)

    def rows_openpyxl() -> int:
        book = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True)
        return sum(1 for _ in book.worksheets[0].iter_rows(values_only=True)) - 1

    read_openpyxl_s, openpyxl_rows = _timed(rows_openpyxl, 1)
    guarded = int(frame["call_id"].str.startswith("'=").sum())
    assert len(frame) == len(excel) == openpyxl_rows == flagged, (len(frame), flagged)
    assert guarded == int(cards[cards["needs_review"]]["call_id"].str.startswith("=").sum())
    assert not frame["team"].str.startswith("=").any()
    n_agents = len(pd.read_excel(io.BytesIO(agents.content)))
    assert n_agents == cards["agent_id"].nunique()
    return {
        "queue_rows": flagged,
        "formula_cells_guarded": guarded,
        "agents_rows": n_agents,
        "csv_bytes": len(csv.content),
        "xlsx_bytes": len(xlsx.content),
        "seconds": {
            "queue_page_html": round(page_s, 3),
            "queue_csv": round(csv_s, 3),
            "queue_xlsx": round(xlsx_s, 3),
            "agents_xlsx": round(agents_s, 3),
            "bare_pandas_to_csv": round(bare_s, 3),
            "read_csv_pandas": round(read_csv_s, 3),
            "read_xlsx_pandas": round(read_pandas_s, 3),
            "read_xlsx_openpyxl": round(read_openpyxl_s, 3),
        },
        "ratios": {
            "queue_csv_over_queue_page": round(csv_s / page_s, 2),
            "queue_xlsx_over_queue_page": round(xlsx_s / page_s, 2),
            "queue_csv_over_bare_pandas_csv": round(csv_s / bare_s, 2),
            "queue_xlsx_over_queue_csv": round(xlsx_s / csv_s, 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="callqa-exports-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        flagged = build_year(root / "out", args.calls, args.days)
        built_s = time.perf_counter() - start
        result = measure(root / "out", root / "state", flagged, args.repeats)
    report = {
        "benchmark": "review app downloads: a year's review queue as CSV and Excel",
        "command": "python benchmarks/exports.py " + " ".join(sys.argv[1:]),
        "calls": args.calls,
        "nights": args.days,
        "repeats": args.repeats,
        "build_year_s": round(built_s, 1),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        **result,
    }
    (ROOT / "benchmarks" / "exports.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
