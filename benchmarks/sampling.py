"""Scale benchmark of `callqa sample`: 1M-row CSV and 10M-row Parquet call logs.

Generates realistic call logs in a temporary folder (a month of calls: call ids, naive local
start times, durations, 250 agents in 25 teams, 16 queues, caller numbers in the usual UK
formats with repeat callers and withheld numbers, in/outbound, recording paths), then times, in
separate processes:

- `callqa sample --calls LOG --out DIR --date D`, and
- a bare `pandas.read_csv(LOG)` of the same CSV, in the same run,

and records each one's wall time and peak RSS (the kernel's ru_maxrss of that process, from
os.wait4). Writes benchmarks/sampling.json. Goals (issue 5): 1M CSV <= 4x the bare read_csv and
peak RSS < 2 GB; 10M Parquet completes with peak RSS < 4 GB.

    .venv/bin/python benchmarks/sampling.py                 # both sizes (~10 min on 2 cores)
    .venv/bin/python benchmarks/sampling.py --sizes 1000000 # just the CSV goal
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.tagging import CONTACT_REASONS

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "benchmarks" / "sampling.json"
NIGHT = date(2025, 3, 20)
MONTH_START = np.datetime64("2025-03-01T00:00:00", "s")
DAYS = 31
QUEUES = list(CONTACT_REASONS)
QUEUE_SHARE = np.array([20, 12, 14, 8, 10, 6, 3, 3, 1, 5, 4, 3, 4, 2, 3, 2], dtype=float)
CHUNK = 1_000_000
HASH_KEY = "benchmark-caller-hash-key"


# -- generating logs -----------------------------------------------------------------------------


def _caller_pool(rng: np.random.Generator, size: int) -> pa.Array:
    """`size` distinct caller numbers in the formats exports really contain."""
    mobiles = rng.integers(0, 10**9, size)
    formats = rng.integers(0, 5, size)
    numbers = []
    for digits, kind in zip(mobiles.tolist(), formats.tolist(), strict=True):
        d = f"{digits:09d}"
        if kind == 0:
            numbers.append(f"07{d[:3]} {d[3:]}")
        elif kind == 1:
            numbers.append(f"+447{d}")
        elif kind == 2:
            numbers.append(f"07{d}")
        elif kind == 3:
            numbers.append(f"01{d[:3]} {d[3:]}")  # landline, 01xxx area codes
        else:
            numbers.append(f"0044 7{d[:3]} {d[3:]}")
    return pa.array(numbers, pa.string())


def _chunk(rng: np.random.Generator, first: int, rows: int, callers: pa.Array) -> pa.Table:
    """One slice of the log, rows `first`..`first + rows - 1`, all columns as an export has them."""
    index = pa.array(np.arange(first, first + rows, dtype=np.int64))
    call_id = pc.binary_join_element_wise(
        "C", pc.utf8_lpad(pc.cast(index, pa.string()), 9, "0"), ""
    )
    # Weekdays busier than weekends; 08:00-18:00 local, peaking mid-morning.
    weights = np.array([1.0 if (5 + d) % 7 < 5 else 0.35 for d in range(DAYS)])
    day = rng.choice(DAYS, rows, p=weights / weights.sum())
    seconds = np.clip(rng.normal(11.5 * 3600, 2.6 * 3600, rows), 8 * 3600, 18 * 3600 - 1)
    local = MONTH_START + (day * 86_400 + seconds.astype(np.int64)).astype("timedelta64[s]")
    started_at = pa.array(local, pa.timestamp("s"))
    duration = np.round(rng.lognormal(5.4, 0.75, rows), 1)
    agent = rng.integers(0, 250, rows)
    queue = rng.choice(len(QUEUES), rows, p=QUEUE_SHARE / QUEUE_SHARE.sum())
    # Most callers ring once or twice a month; 2% of calls come from a few frequent callers
    # (pool / 1000 of them, ~40 calls a month each); 6% withheld, 1% empty.
    frequent = rng.random(rows) < 0.02
    caller = np.where(
        frequent, rng.integers(0, len(callers) // 1000, rows), rng.integers(0, len(callers), rows)
    )
    caller_number = pc.take(callers, pa.array(caller))
    withheld = rng.random(rows)
    caller_number = pc.if_else(pa.array(withheld < 0.06), pa.scalar("withheld"), caller_number)
    caller_number = pc.if_else(pa.array(withheld > 0.99), pa.scalar(""), caller_number)
    inbound = rng.random(rows) < 0.88
    recorded = rng.random(rows) < 0.75
    path = pc.binary_join_element_wise(
        pc.strftime(started_at, "%Y/%m/%d/"), call_id, pa.scalar(".opus"), ""
    )
    return pa.table(
        {
            "call_id": call_id,
            "started_at": started_at,
            "duration_s": pa.array(duration),
            "agent_id": pc.binary_join_element_wise(
                "AG", pc.utf8_lpad(pc.cast(pa.array(agent), pa.string()), 3, "0"), ""
            ),
            "team": pc.binary_join_element_wise(
                "team_", pc.cast(pa.array(agent // 10), pa.string()), ""
            ),
            "queue": pc.take(pa.array(QUEUES), pa.array(queue)),
            "caller_number": caller_number,
            "direction": pc.if_else(pa.array(inbound), "inbound", "outbound"),
            "recording": pc.if_else(pa.array(recorded), path, pa.scalar("")),
            "channel_layout": pc.if_else(pa.array(rng.random(rows) < 0.1), "mono", ""),
        }
    )


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write a `rows`-call log to `path` (.csv: ISO local times as text; .parquet: timestamps)."""
    rng = np.random.default_rng(seed)
    callers = _caller_pool(rng, max(1000, rows // 2))
    csv = path.suffix == ".csv"
    writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
    for first in range(0, rows, CHUNK):
        table = _chunk(rng, first, min(CHUNK, rows - first), callers)
        if csv:
            iso = pc.strftime(table.column("started_at"), "%Y-%m-%dT%H:%M:%S")
            table = table.set_column(1, "started_at", iso)
        if writer is None:
            writer = (
                pacsv.CSVWriter(path, table.schema)
                if csv
                else pq.ParquetWriter(path, table.schema, compression="zstd")
            )
        writer.write_table(table)
    assert writer is not None
    writer.close()


# -- measuring -----------------------------------------------------------------------------------


def measure(command: list[str], env: dict[str, str] | None = None) -> dict[str, object]:
    """Wall time and peak RSS of one process (ru_maxrss from wait4 is exact, no polling)."""
    began = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - began
    stdout = process.stdout.read().decode() if process.stdout else ""
    stderr = process.stderr.read().decode() if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    return {
        "command": " ".join(command),
        "exit_code": process.returncode,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "stdout_tail": stdout[-600:],
        "stderr_tail": stderr[-1500:],
    }


def _env(out: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CALLQA_CALLER_HASH_KEY": HASH_KEY,
            "CALLQA_OUT_DIR": str(out),
            "CALLQA_CONFIG": str(out / "none.toml"),
        }
    )
    return env


def sample_command(log: Path, out: Path) -> list[str]:
    callqa = str(Path(sys.executable).parent / "callqa")
    return [callqa, "sample", "--calls", str(log), "--out", str(out), "--date", str(NIGHT)]


def bench(size: int, tmp: Path) -> dict[str, object]:
    suffix = ".csv" if size <= 2_000_000 else ".parquet"
    log = tmp / f"calls_{size}{suffix}"
    began = time.perf_counter()
    generate(log, size)
    result: dict[str, object] = {
        "rows": size,
        "format": suffix[1:],
        "file_mb": round(log.stat().st_size / 2**20, 1),
        "generate_s": round(time.perf_counter() - began, 1),
    }
    out = tmp / f"out_{size}"
    sample = measure(sample_command(log, out), _env(out))
    result["sample"] = sample
    if suffix == ".csv":
        bare = measure(
            [
                sys.executable,
                "-c",
                "import sys, time, pandas as pd; t = time.perf_counter(); "
                "pd.read_csv(sys.argv[1]); print(round(time.perf_counter() - t, 2))",
                str(log),
            ]
        )
        result["bare_read_csv"] = bare
        result["ratio_to_read_csv"] = round(float(sample["wall_s"]) / float(bare["wall_s"]), 2)
        result["goal"] = "total <= 4x bare pandas.read_csv, peak RSS < 2048 MB"
        result["goal_met"] = bool(
            sample["exit_code"] == 0
            and result["ratio_to_read_csv"] <= 4  # type: ignore[operator]
            and float(sample["peak_rss_mb"]) < 2048
        )
    else:
        result["goal"] = "completes with peak RSS < 4096 MB"
        result["goal_met"] = bool(sample["exit_code"] == 0 and float(sample["peak_rss_mb"]) < 4096)
    log.unlink()
    shutil.rmtree(out, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--output", type=Path, default=RESULT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="callqa-bench-") as folder:
        tmp = Path(folder)
        results = [bench(size, tmp) for size in args.sizes]
    import pandas

    report = {
        "benchmark": "callqa sample on generated call logs",
        "night": str(NIGHT),
        "timed": "callqa sample (CLI)",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "pandas": pandas.__version__,
            "pyarrow": pa.__version__,
            "numpy": np.__version__,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "results": results,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
