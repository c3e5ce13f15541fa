"""Hardening soak: bad inputs tried, faults injected, calls lost, duplicates, personal-data hits.

    .venv/bin/python benchmarks/hardening.py [--kills 20] [--seed 0] [--skip-long]
        [--output benchmarks/hardening.json]

Runs the same real things the tests/test_hardening_*.py suite runs, at soak size:
- random call logs (bytes, text, rows) through `read_call_log`: anything but CallLogError counts;
- every bad recording and codec of tests/hardening/audio.py through `transcribe_call`, and a
  two-hour call (unless --skip-long);
- every hostile recording path through `pipeline.recordings.resolve_recording`;
- a full hostile night (`callqa nightly` on tests/hardening/night.py's world), then its output,
  scrutiny pack, console output and Prefect database scanned for every sample PII value;
- `--kills` times: a night SIGKILLed at a random moment, then run again; lost and duplicated
  calls counted against the night's manifest;
- a full disk, a read-only output folder, a missing model and a Prefect API that does not answer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The shared kit lives with the tests; put it first so `hardening` is that package, not this file.
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(1, str(ROOT))

from hardening.audio import (  # noqa: E402
    BAD_RECORDINGS,
    CODECS,
    WORDLESS,
    can_encode,
    encode,
    speech,
)
from hardening.night import (  # noqa: E402
    CRASHING_PATHS,
    HOSTILE_PATHS,
    SAMPLE_RECORDINGS,
    PrefectServer,
    after_night,
    build_world,
    fill,
    kill_after,
    run_night,
    start_night,
)


def calllog_fuzz(n: int, rng: random.Random, folder: Path) -> dict[str, Any]:
    """Random bytes, random text and random rows through the call-log reader."""
    from pipeline.calls import CALL_LOG_COLUMNS, read_call_log
    from pipeline.errors import CallLogError

    pools = {
        "call_id": ["", "C1", "C1", "=HYPERLINK(1)", "x" * 1000],
        "started_at": ["2025-03-31T09:00:00", "2025-03-30T01:30:00", "31/02/2025 10:00", "bad"],
        "duration_s": ["", "60", "-1", "1:02", "nan"],
        "agent_id": ["", "a", "@SUM(1)"],
        "queue": ["", "q", "+cmd"],
        "direction": ["", "inbound", "sideways"],
        "channel_layout": ["", "mono", "quad"],
    }
    tried, crashes, outcomes = 0, [], {"read": 0, "CallLogError": 0}
    for i in range(n):
        kind = i % 3
        if kind == 0:
            data = rng.randbytes(rng.randint(0, 3000))
        elif kind == 1:
            text = "".join(chr(rng.choice([rng.randint(32, 126), rng.randint(0, 0x2FFF)])) for _ in range(rng.randint(0, 800)))  # fmt: skip
            data = (",".join(CALL_LOG_COLUMNS) + "\n" + text).encode("utf-8", "replace")
        else:
            rows = [",".join(CALL_LOG_COLUMNS)]
            for _ in range(rng.randint(1, 30)):
                rows.append(",".join(rng.choice(pools.get(c, ["", "x"])) for c in CALL_LOG_COLUMNS))
            data = "\n".join(rows).encode(rng.choice(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
        path = folder / f"log{i}.csv"
        path.write_bytes(data)
        tried += 1
        try:
            read_call_log(path, caller_hash_key=b"k")
            outcomes["read"] += 1
        except CallLogError:
            outcomes["CallLogError"] += 1
        except Exception as exc:  # the finding this soak looks for
            crashes.append(f"{type(exc).__name__}: {exc}"[:200])
        path.unlink()
    return {"inputs_tried": tried, "outcomes": outcomes, "crashes": len(crashes), "crash_examples": crashes[:5]}  # fmt: skip


def recordings(folder: Path, long_call: bool) -> dict[str, Any]:
    from pipeline.transcribe import transcribe_call

    results: dict[str, Any] = {}
    exceptions = hallucinated = 0
    for name, (build, allowed) in BAD_RECORDINGS.items():
        path = build(SAMPLE_RECORDINGS, folder)
        try:
            t = transcribe_call(path)
            results[name] = {"status": t.status, "reason": t.reason, "expected": sorted(allowed),
                             "words": sum(len(x.text.split()) for x in t.turns)}  # fmt: skip
            if name in WORDLESS and t.turns:
                hallucinated += 1
                results[name]["text"] = [x.text for x in t.turns]
        except Exception as exc:
            exceptions += 1
            results[name] = {"exception": f"{type(exc).__name__}: {exc}"[:200]}
    codecs: dict[str, Any] = {}
    for codec, fmt, suffix, rate, channels in CODECS:
        if not can_encode(codec):
            codecs[codec] = "not available in this FFmpeg"
            continue
        try:
            clip = speech(SAMPLE_RECORDINGS, 5.0, rate=rate)[:channels]
            path = encode(folder / f"codec_{codec}{suffix}", clip, codec=codec, fmt=fmt, rate=rate)
        except Exception as exc:
            codecs[codec] = f"cannot write a test file: {exc}"[:120]
            continue
        t = transcribe_call(path, layout="mono" if channels == 1 else "agent_left")
        codecs[codec] = {"status": t.status, "words": sum(len(x.text.split()) for x in t.turns)}
    long: dict[str, Any] = {"skipped": True}
    if long_call:
        import numpy as np

        rate = 8000
        signal = np.random.default_rng(0).normal(0, 0.001, (2, rate * 7200)).astype(np.float32)
        clip = speech(SAMPLE_RECORDINGS, 6.0)
        signal[:, rate * 3600 : rate * 3600 + clip.shape[1]] = clip
        started = time.monotonic()
        path = encode(folder / "two_hours.opus", signal, codec="libopus", fmt="ogg", bit_rate=6000)
        del signal
        made = time.monotonic() - started
        started = time.monotonic()
        t = transcribe_call(path)
        long = {"status": t.status, "duration_s": t.duration_s, "encode_s": round(made, 1),
                "transcribe_s": round(time.monotonic() - started, 1),
                "turn_starts_s": [x.start_s for x in t.turns]}  # fmt: skip
    tried = len(BAD_RECORDINGS) + sum(isinstance(v, dict) for v in codecs.values())
    return {"inputs_tried": tried + (0 if long.get("skipped") else 1), "exceptions": exceptions,
            "hallucinated_recordings": hallucinated, "bad": results, "codecs": codecs,
            "two_hour_call": long}  # fmt: skip


def paths(folder: Path) -> dict[str, Any]:
    from pipeline.recordings import resolve_recording

    rec = folder / "recordings"
    rec.mkdir()
    (rec / "loop.opus").symlink_to("loop.opus")
    out: dict[str, Any] = {}
    for kind, relative in {**HOSTILE_PATHS, **CRASHING_PATHS}.items():
        try:
            check = resolve_recording(rec, relative.format(outside=folder))
            out[kind] = check.reason
        except Exception as exc:
            out[kind] = f"EXCEPTION {type(exc).__name__}"
    return {"inputs_tried": len(out), "exceptions": sum(str(v).startswith("EXCEPTION") for v in out.values()), "results": out}  # fmt: skip


def exactly_once(out: Path) -> dict[str, int]:
    import pandas as pd

    from pipeline import store

    manifest = set(store.read_table(out, store.SAMPLES)["call_id"])
    both = pd.concat(
        [store.read_table(out, t)["call_id"] for t in (store.SCORECARDS, store.FAILURES)]
    )
    turns = store.read_table(out, store.TRANSCRIPTS)
    return {
        "manifest": len(manifest),
        "lost": len(manifest - set(both)),
        "duplicates": int(both.duplicated().sum())
        + int(turns.duplicated(["call_id", "turn"]).sum()),
    }


def kills(world: Any, env: dict[str, str], n: int, rng: random.Random, folder: Path) -> dict:
    clean = run_night(world, folder / "clean", env, log="small")
    if clean.returncode != 0:
        return {"error": clean.stderr[-2000:]}
    full_s = clean.elapsed_s
    runs = []
    for i in range(n):
        out = folder / f"kill{i}"
        delay = rng.uniform(0.25 * full_s, full_s)
        killed = kill_after(start_night(world, out, env, log="small"), delay)
        stage = [m for m in ("samples", "restricted/.cache", "transcripts", "scorecards") if (out / m).exists()]  # fmt: skip
        again = run_night(world, out, env, log="small")
        counts = exactly_once(out) if again.returncode == 0 else {"rerun_failed": 1}
        runs.append({"kill_after_s": round(delay, 2), "killed": killed, "stage_reached": stage,
                     "rerun_returncode": again.returncode, **counts})  # fmt: skip
        shutil.rmtree(out, ignore_errors=True)
    return {
        "clean_night_s": round(full_s, 1),
        "faults_injected": sum(r["killed"] for r in runs),
        "calls_lost": sum(r.get("lost", 0) for r in runs),
        "duplicates": sum(r.get("duplicates", 0) for r in runs),
        "reruns_failed": sum(r["rerun_returncode"] != 0 for r in runs),
        "runs": runs,
    }


def other_faults(world: Any, env: dict[str, str], folder: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}

    def ends(run: Any) -> dict[str, Any]:
        tail = run.stderr[run.stderr.rfind("callqa:") :] if "callqa:" in run.stderr else ""
        return {"returncode": run.returncode, "elapsed_s": round(run.elapsed_s, 1),
                "message": " ".join(tail.split())[:300] or run.stderr.strip().splitlines()[-1][:300]}  # fmt: skip

    results["missing_model"] = ends(run_night(world, folder / "m", env | {"CALLQA_WHISPER_MODEL": "/nonexistent"}, log="tiny"))  # fmt: skip
    try:
        results["prefect_api_down"] = ends(run_night(world, folder / "p", env | {"PREFECT_API_URL": "http://127.0.0.1:9/api"}, log="tiny", timeout=90))  # fmt: skip
    except subprocess.TimeoutExpired:
        results["prefect_api_down"] = {"hung": True}
    disk = folder / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True).returncode == 0:  # fmt: skip
        try:
            first = run_night(world, disk / "out", env, log="tiny")
            ballast = fill(disk)
            results["disk_full"] = ends(run_night(world, disk / "out", env, log="tiny")) | {"first_returncode": first.returncode}  # fmt: skip
            ballast.unlink()
            subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
            results["read_only"] = ends(run_night(world, disk / "out", env, log="tiny"))
        finally:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)
    else:
        results["disk_full"] = results["read_only"] = "skipped: cannot mount a tmpfs"
    return results


def privacy(world: Any, env: dict[str, str], server: PrefectServer, folder: Path) -> dict:
    from test_hardening_privacy import hits, needles, prefect_texts, texts

    run = run_night(world, folder / "out", env)
    pack = folder / "pack"
    after = after_night(run.out, pack, world.recordings, env)
    pii = needles(world.caller_numbers)
    places = [
        *texts(run.out, skip="restricted"),
        *texts(pack),
        *texts(server.home),
        *prefect_texts(server.database),
        ("console", run.stdout + run.stderr + after.stdout + after.stderr),
    ]
    found = {where: hits(text, pii) for where, text in places}
    found = {k: v for k, v in found.items() if v}
    return {
        "night_returncode": run.returncode,
        "night_s": round(run.elapsed_s, 1),
        "pack_returncode": after.returncode,
        "pii_values_searched": len({(n.kind, n.value) for n in pii}),
        "places_scanned": len(places),
        "pii_hits": sum(len(v) for v in found.values()),
        "hits": found,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calllogs", type=int, default=600)
    parser.add_argument("--skip-long", action="store_true", help="skip the two-hour call")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "hardening.json")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.monotonic()
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "command": " ".join(["benchmarks/hardening.py", *sys.argv[1:]]),
    }
    with tempfile.TemporaryDirectory(prefix="callqa-hardening-") as tmp:
        root = Path(tmp)
        for part in ("logs", "audio", "paths", "world", "kills", "faults", "privacy"):
            (root / part).mkdir()
        print("call logs ...", flush=True)
        report["call_logs"] = calllog_fuzz(args.calllogs, rng, root / "logs")
        print("recordings ...", flush=True)
        report["recordings"] = recordings(root / "audio", not args.skip_long)
        report["paths"] = paths(root / "paths")
        world = build_world(root / "world")
        with PrefectServer(root / "prefect") as server:
            env = server.env()
            print("privacy night ...", flush=True)
            report["privacy"] = privacy(world, env, server, root / "privacy")
            print(f"{args.kills} kills ...", flush=True)
            report["kills"] = kills(world, env, args.kills, rng, root / "kills")
            print("other faults ...", flush=True)
            report["faults"] = other_faults(world, env, root / "faults")
    k, f = report["kills"], report["faults"]
    report["summary"] = {
        "bad_inputs_tried": report["call_logs"]["inputs_tried"]
        + report["recordings"]["inputs_tried"]
        + report["paths"]["inputs_tried"],
        "faults_injected": k.get("faults_injected", 0)
        + sum(isinstance(v, dict) for v in f.values()),
        "calls_lost": k.get("calls_lost"),
        "duplicates": k.get("duplicates"),
        "pii_hits": report["privacy"]["pii_hits"],
        "crashes": report["call_logs"]["crashes"]
        + report["recordings"]["exceptions"]
        + report["paths"]["exceptions"],
        "hallucinated_recordings": report["recordings"]["hallucinated_recordings"],
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(json.dumps(report["summary"], indent=2))


if __name__ == "__main__":
    main()
