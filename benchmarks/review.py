"""Load test of the review web app: concurrent quality leads browsing queue and call pages.

Starts the app under uvicorn in its own process on 127.0.0.1 (loopback only), over a synthetic
nightly output written in docs/design.md's columns (the review tests' builder), signs each virtual
user in, then for `--duration` seconds each user loops: open the queue (a random filter or
page), open a flagged call, sometimes an agent's page, pausing 0.5-1.5 s between pages as a
person would. Every response must be a 200. Sessions are server-side (a database row read on
every request), and every page view is audited, as in production.

Runs once per database: SQLite, and PostgreSQL when Debian's binaries are installed (a
throwaway server is started, as tests/review_app/conftest.py does). Figures of both go to
benchmarks/review.json.

    .venv/bin/python benchmarks/review.py [--users 50] [--duration 60] [--calls 3000]
        [--databases sqlite,postgresql] [--db URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# This file is called review.py: drop its folder from the path so `review` is the app package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT / "tests" / "review_app"))

import pgserver  # noqa: E402
from builder import AGENTS, QUEUES, build_output  # noqa: E402

PASSWORD = "plum tractor gallery 0123"


def _start_server(
    out: Path, recordings: Path, db_url: str, port: int, state: Path
) -> subprocess.Popen:
    code = (
        "import uvicorn; from pathlib import Path; from review.app import create_app; "
        f"uvicorn.run(create_app(Path({str(out)!r}), {db_url!r}, Path({str(recordings)!r}), "
        f"state_dir=Path({str(state)!r})), host='127.0.0.1', port={port}, "
        "log_level='warning', proxy_headers=False)"
    )
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)


async def _wait_ready(base: str, deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    async with httpx.AsyncClient(base_url=base) as client:
        while time.monotonic() < end:
            try:
                if (await client.get("/login")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the review app did not start")


async def _sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = await client.post(
        "/login", data={"csrf_token": token, "name": "bench", "password": PASSWORD}
    )
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in failed: {answer.status_code}")


async def _user(
    client: httpx.AsyncClient,
    rng: random.Random,
    flagged: list[str],
    agents: list[str],
    queues: list[str],
    stop_at: float,
    results: list[tuple[str, float, int]],
) -> None:
    async def get(kind: str, url: str) -> None:
        start = time.perf_counter()
        try:
            status = (await client.get(url)).status_code
        except httpx.HTTPError:
            status = 0
        results.append((kind, time.perf_counter() - start, status))

    while time.monotonic() < stop_at:
        choice = rng.random()
        if choice < 0.4:
            await get("queue", "/queue")
        elif choice < 0.7:
            await get(
                "queue", f"/queue?queue={rng.choice(queues)}&status=all&page={rng.randint(1, 3)}"
            )
        else:
            await get("queue", f"/queue?agent={rng.choice(agents)}")
        await asyncio.sleep(rng.uniform(0.5, 1.5))
        if time.monotonic() >= stop_at:
            break
        await get("call", f"/calls/{rng.choice(flagged)}")
        await asyncio.sleep(rng.uniform(0.5, 1.5))
        if rng.random() < 0.2 and time.monotonic() < stop_at:
            await get("agent", f"/agents/{rng.choice(agents)}")
            await asyncio.sleep(rng.uniform(0.5, 1.5))


def _summary(rows: list[tuple[float, int]], seconds: float) -> dict[str, float | int]:
    times = np.array([t for t, _ in rows]) * 1000
    return {
        "requests": len(rows),
        "errors": sum(1 for _, s in rows if s != 200),
        "requests_per_s": round(len(rows) / seconds, 1),
        "p50_ms": round(float(np.percentile(times, 50)), 1),
        "p95_ms": round(float(np.percentile(times, 95)), 1),
        "p99_ms": round(float(np.percentile(times, 99)), 1),
        "max_ms": round(float(times.max()), 1),
    }


async def _run(args: argparse.Namespace, database: str) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="callqa-bench-"))
    built = build_output(work, n_calls=args.calls, days=31, seed=11, audio=False)
    if args.db:
        return await _measure(args, built, work, args.db)
    if database == "sqlite":
        return await _measure(args, built, work, f"sqlite:///{work / 'review.sqlite'}")
    import psycopg

    # Its own temporary folder: the `postgres` user cannot enter `work` (mode 0700). Durable,
    # as a council's server is: fsync stays on.
    folder = Path(tempfile.mkdtemp(prefix="callqa-bench-pg-"))
    with pgserver.throwaway_postgres(folder, durable=True) as base:
        plain = base.replace("+psycopg", "")
        with psycopg.connect(f"{plain}/postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE bench")
        return await _measure(args, built, work, f"{base}/bench")


async def _measure(
    args: argparse.Namespace, built: Any, work: Path, db_url: str
) -> dict[str, object]:
    from review.users import add_user

    add_user(db_url, "bench", "quality_lead", PASSWORD)
    port = pgserver.free_port()
    server = _start_server(built.out_dir, built.recordings_dir, db_url, port, work / "state")
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(base)
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        clients = [
            httpx.AsyncClient(base_url=base, timeout=10, limits=limits, follow_redirects=False)
            for _ in range(args.users)
        ]
        sem = asyncio.Semaphore(4)

        async def sign_in(c: httpx.AsyncClient) -> None:
            async with sem:
                await _sign_in(c)

        await asyncio.gather(*(sign_in(c) for c in clients))
        # Warm the caches the way the first real visitor would.
        await clients[0].get("/queue")
        results: list[tuple[str, float, int]] = []
        agents = sorted({a for a, _ in AGENTS})
        queues = sorted(QUEUES)
        started = time.monotonic()
        stop_at = started + args.duration
        await asyncio.wait_for(
            asyncio.gather(
                *(
                    _user(c, random.Random(i), built.flagged, agents, queues, stop_at, results)
                    for i, c in enumerate(clients)
                )
            ),
            timeout=args.duration + 60,
        )
        elapsed = time.monotonic() - started
        for c in clients:
            await c.aclose()
    finally:
        server.terminate()
        server.wait(10)
    by_kind = {
        kind: _summary([(t, s) for k, t, s in results if k == kind], elapsed)
        for kind in sorted({k for k, _, _ in results})
    }
    overall = _summary([(t, s) for _, t, s in results], elapsed)
    return {
        "benchmark": "review web app: concurrent quality leads browsing queue and call pages",
        "command": "python benchmarks/review.py " + " ".join(sys.argv[1:]),
        "users": args.users,
        "duration_s": round(elapsed, 1),
        "think_time_s": [0.5, 1.5],
        "database": "postgresql" if db_url.startswith("postgresql") else "sqlite",
        "server": "uvicorn, 1 worker process, loopback",
        "sessions": "server-side (database row per session), every page view audited",
        "calls_in_output": args.calls,
        "flagged_calls": len(built.flagged),
        "overall": overall,
        "by_page": by_kind,
        "pass": overall["errors"] == 0 and overall["p95_ms"] < 300,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--calls", type=int, default=3000)
    default_dbs = "sqlite,postgresql" if pgserver.installed() else "sqlite"
    parser.add_argument(
        "--databases", default=default_dbs, help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument("--db", default=None, help="one database URL instead (overrides)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "review.json")
    args = parser.parse_args()
    databases = ["given"] if args.db else [d.strip() for d in args.databases.split(",")]
    runs = {}
    for database in databases:
        figures = asyncio.run(_run(args, database))
        runs[str(figures["database"])] = figures
        print(json.dumps(figures, indent=2), flush=True)
    result = {"pass": all(bool(r["pass"]) for r in runs.values()), "runs": runs}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    sys.exit(0 if result["pass"] else 1)


if __name__ == "__main__":
    main()
