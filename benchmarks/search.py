"""Transcript search in the review app over a council's year of screened calls.

Writes a year of output with the project's own writers (`pipeline.store.write_partition`):
20,000 calls over 365 nights (about 600,000 turns) in `scorecards/`, `transcripts/` and
`restricted/`, each call's turns drawn from the hand-written calls of eval/corpus/calls (its own
call first, then turns of other calls to a length of 20-40 turns), so the words, names, streets
and phrases are those of real-sounding council calls. Then times a mix of searches through
`review.search.TranscriptSearch.search`, the function the `/search` page calls (single words,
a phrase, a street name, with and without filters and date ranges, restricted text, a lead with
a scope), and a few through the HTTP route with a signed-in quality lead. The baseline, in the
same run, is bare DuckDB on a fresh connection: `count(*)` of the turns whose text ILIKEs each
single word, over the same transcripts (a scan of the text column, no join, no regex, no
sort). The first search of each table, which loads it into the app's memory, is timed apart,
with the process's memory growth. The corpus's text goes to `transcripts/` and `restricted/`
alike (its names and addresses are invented; redacting it would only slow the setup). Figures
go to benchmarks/search.json.

    .venv/bin/python benchmarks/search.py [--calls 20000] [--days 365] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
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
from review.search import SearchQuery, TranscriptSearch  # noqa: E402

GOAL_P95_MS = 500.0
FIRST_DAY = date(2025, 1, 1)
TEAMS = ("Blue", "Green", "Red", "Amber", "Violet")
#: The review app's queues, by the call's main contact reason (the rest go to `general`).
QUEUE_OF = {
    "council_tax": "council_tax",
    "benefits": "benefits",
    "waste_recycling": "waste",
    "housing_repairs": "housing",
    "housing_options": "housing",
    "parking": "parking",
}


def _corpus() -> list[dict[str, Any]]:
    calls = []
    for path in sorted((ROOT / "eval" / "corpus" / "calls").glob("*/*.jsonl")):
        calls.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return calls


def build_year(out: Path, n_calls: int, days: int, seed: int = 11) -> int:
    """Write `n_calls` calls over `days` nights under `out`; returns the number of turns."""
    rng = np.random.default_rng(seed)
    corpus = _corpus()
    pool = {
        s: [t["text"] for c in corpus for t in c["turns"] if t["speaker"] == s]
        for s in ("agent", "caller")
    }
    agents = [(f"A{100 + i}", TEAMS[i % len(TEAMS)]) for i in range(40)]
    names = [f.name for f in store.SCORECARDS.schema]
    per_day = np.bincount(rng.integers(0, days, n_calls), minlength=days)
    n_turns = 0
    for d in range(days):
        night = FIRST_DAY + timedelta(days=d)
        cards: list[dict[str, Any]] = []
        turns: list[dict[str, Any]] = []
        restricted: list[dict[str, Any]] = []
        for i in range(int(per_day[d])):
            base = corpus[int(rng.integers(len(corpus)))]
            call_id = f"C{night:%Y%m%d}-{i:04d}"
            agent_id, team = agents[int(rng.integers(len(agents)))]
            conv = [(t["speaker"], t["text"]) for t in base["turns"]]
            length = int(rng.integers(20, 41))
            while len(conv) < length:
                speaker = "agent" if len(conv) % 2 == 0 else "caller"
                conv.append((speaker, pool[speaker][int(rng.integers(len(pool[speaker])))]))
            start = 0.0
            for n, (speaker, text) in enumerate(conv[:length]):
                end = start + 0.4 * len(text.split()) + 0.5
                row = {
                    "call_id": call_id,
                    "turn": n,
                    "speaker": speaker,
                    "start_s": start,
                    "end_s": end,
                    "text": text,
                    "confidence": 0.85,
                }
                turns.append(row)
                restricted.append({**row, "words": [], "pii": [], "speaker_confidence": 1.0})
                start = end + 0.3
            n_turns += min(length, len(conv))
            flags = [f for f in ("complaint", "avoidable") if base.get(f)]
            card: dict[str, Any] = dict.fromkeys(names)
            card.update(
                call_id=call_id,
                agent_id=agent_id,
                team=team,
                queue=QUEUE_OF.get(base["primary_reason"], "general"),
                duration_s=start,
                contact_reasons=list(base["contact_reasons"]),
                primary_reason=base["primary_reason"],
                avoidable=bool(base.get("avoidable")),
                avoidable_category=base.get("avoidable_category"),
                complaint=bool(base.get("complaint")),
                flags=flags,
                needs_review=bool(flags),
                evidence=[],
                vulnerability=list(base.get("vulnerability") or []),
                # What the nightly run fills on every row, whatever the call.
                transferred=bool(base.get("transferred")),
                repeat_caller=False,
                low_confidence=False,
                safeguarding=bool(base.get("safeguarding")),
                qa_checks={},
                tags={},
            )
            del card["call_date"]
            cards.append(card)
        store.write_partition(out, store.SCORECARDS, night, cards)
        store.write_partition(out, store.TRANSCRIPTS, night, turns)
        store.write_partition(out, store.RESTRICTED, night, restricted)
    return n_turns


def _queries(days: int) -> list[tuple[str, dict[str, Any]]]:
    """(kind, SearchQuery keywords): what a quality lead looks for in a year of calls."""
    last = FIRST_DAY + timedelta(days=days - 1)
    quarter = {"date_from": last - timedelta(days=90), "date_to": last}
    month = {"date_from": last - timedelta(days=30), "date_to": last}
    return [
        ("word", {"text": "ombudsman"}),
        ("word", {"text": "solicitor"}),
        ("word", {"text": "bailiff"}),
        ("word", {"text": "councillor"}),
        ("word", {"text": "solicitor*"}),
        ("common word", {"text": "council"}),
        ("common word", {"text": "council", "page": 40}),
        ("words", {"text": "direct debit cancelled"}),
        ("phrase", {"text": '"the letter said"'}),
        ("phrase", {"text": '"direct debit"'}),
        ("street", {"text": '"Tanner Row"'}),
        ("street", {"text": '"Holme Crescent"'}),
        ("filtered", {"text": "complaint", "queue": "housing"}),
        ("filtered", {"text": "bailiff", "team": "Blue", "speaker": "caller"}),
        ("filtered", {"text": "missed", "tag": "waste_recycling"}),
        ("filtered", {"text": "manager", "tag": "complaint", "agent": "A107"}),
        ("date range", {"text": "ombudsman", **quarter}),
        ("date range", {"text": '"the letter said"', **month}),
        ("date range", {"text": "council", **month}),
        ("scoped lead", {"text": "solicitor", "scope": ("queue:housing", "team:Red")}),
        ("restricted", {"text": '"Tanner Row"', "restricted": True}),
        ("restricted", {"text": "ombudsman", "restricted": True, **quarter}),
    ]


def _ms(values: list[float]) -> dict[str, float]:
    arr = np.array(values) * 1000
    return {
        "n": len(values),
        "p50_ms": round(float(np.percentile(arr, 50)), 1),
        "p95_ms": round(float(np.percentile(arr, 95)), 1),
        "max_ms": round(float(arr.max()), 1),
    }


def _rss_mb() -> float:
    """This process's resident memory now, in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def _bare_counts(out: Path, words: list[str], repeats: int) -> list[float]:
    """Bare DuckDB: count the turns whose text ILIKEs each word, fresh connection."""
    import duckdb

    con = duckdb.connect(":memory:")
    source = str(out / "transcripts" / "call_date=*" / "*.parquet")
    times = []
    for _ in range(repeats):
        for word in words:
            started = time.perf_counter()
            con.execute(
                "SELECT count(*) FROM read_parquet($files, hive_partitioning = true) "
                "WHERE text ILIKE $like",
                {"files": source, "like": f"%{word}%"},
            ).fetchone()
            times.append(time.perf_counter() - started)
    con.close()
    return times


def _http(
    out: Path, state: Path, queries: list[tuple[str, dict[str, Any]]], repeats: int
) -> tuple[float, list[float]]:
    """GET /search for a few queries as a signed-in quality lead (in-process client): the
    first search of the app's life (it loads the transcripts), then the others' times."""
    from fastapi.testclient import TestClient

    from review.app import create_app
    from review.db import User
    from review.security import hash_password

    password = "plum tractor gallery 0123"
    app = create_app(out, f"sqlite:///{state / 'review.sqlite'}", None, state_dir=state)
    with app.state.sessionmaker() as db:
        db.add(
            User(
                name="bench",
                role="quality_lead",
                password_hash=hash_password(password),
                active=True,
            )
        )
        db.commit()
    times: list[float] = []
    first_s = math.nan
    with TestClient(app, follow_redirects=False) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        answer = client.post(
            "/login", data={"csrf_token": token, "name": "bench", "password": password}
        )
        assert answer.status_code == 303, answer.text
        started = time.perf_counter()
        assert client.get("/search", params={"q": "ombudsman"}).status_code == 200
        first_s = time.perf_counter() - started
        for _ in range(repeats):
            for _kind, q in queries:
                params = {"q": q["text"]}
                for key, name in (("date_from", "from"), ("date_to", "to")):
                    if key in q:
                        params[name] = q[key].isoformat()
                for key in ("queue", "team", "agent", "tag", "speaker"):
                    if key in q:
                        params[key] = q[key]
                if q.get("restricted"):
                    params["restricted"] = "1"
                started = time.perf_counter()
                response = client.get("/search", params=params)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.status_code
                assert "<mark>" in response.text, params
    app.state.engine.dispose()
    return first_s, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "search.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="callqa-search-") as tmp:
        out = Path(tmp) / "out"
        started = time.perf_counter()
        n_turns = build_year(out, args.calls, args.days)
        build_s = time.perf_counter() - started
        print(f"wrote {args.calls} calls, {n_turns} turns in {build_s:.0f} s", flush=True)

        searcher = TranscriptSearch(out)
        queries = _queries(args.days)
        # The first search of each kind loads that table into memory: timed on its own.
        rss = [_rss_mb()]
        started = time.perf_counter()
        first = searcher.search(SearchQuery(**queries[0][1]))
        first_s = time.perf_counter() - started
        rss.append(_rss_mb())
        started = time.perf_counter()
        searcher.search(SearchQuery("ombudsman", restricted=True))
        first_restricted_s = time.perf_counter() - started
        rss.append(_rss_mb())
        by_kind: dict[str, list[float]] = {}
        hits: dict[str, int] = {}
        for _ in range(args.repeats):
            for kind, q in queries:
                started = time.perf_counter()
                result = searcher.search(SearchQuery(**q))
                by_kind.setdefault(kind, []).append(time.perf_counter() - started)
                hits[json.dumps(q, default=str)] = result.total
        every = [t for ts in by_kind.values() for t in ts]
        words = [q["text"] for kind, q in queries if kind == "word" and "*" not in q["text"]]
        bare = _bare_counts(out, words, args.repeats)
        http_queries = [queries[i] for i in (0, 8, 10, 13, 17, 20)]
        http_first_s, http = _http(out, Path(tmp), http_queries, args.repeats)

    overall = _ms(every)
    result = {
        "benchmark": "transcript search in the review app (review.search over DuckDB)",
        "command": "python benchmarks/search.py " + " ".join(sys.argv[1:]),
        "calls": args.calls,
        "nights": args.days,
        "turns": n_turns,
        "build_s": round(build_s, 1),
        "first_search_ms": round(first_s * 1000, 1),
        "first_search_hits": first.total,
        "first_restricted_search_ms": round(first_restricted_s * 1000, 1),
        "http_first_search_ms": round(http_first_s * 1000, 1),
        "memory_mb": {
            "transcripts_loaded": round(rss[1] - rss[0]),
            "restricted_loaded": round(rss[2] - rss[1]),
        },
        "search": overall,
        "by_kind": {k: _ms(v) for k, v in by_kind.items()},
        "http_route": _ms(http),
        "bare_duckdb_count_ilike": _ms(bare),
        "ratio_p50_to_bare": round(overall["p50_ms"] / _ms(bare)["p50_ms"], 2),
        "ratio_p95_to_bare": round(overall["p95_ms"] / _ms(bare)["p95_ms"], 2),
        "hits": hits,
        "goal_p95_ms": GOAL_P95_MS,
        "pass": overall["p95_ms"] < GOAL_P95_MS and _ms(http)["p95_ms"] < GOAL_P95_MS,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }
    print(json.dumps({k: v for k, v in result.items() if k != "hits"}, indent=2), flush=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
