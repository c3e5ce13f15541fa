"""A throwaway PostgreSQL server on a free loopback port, for the review tests and benchmark.

Debian's binaries, run as the `postgres` user when started as root (initdb refuses root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def installed() -> bool:
    return (PG_BIN / "initdb").exists() and shutil.which("runuser") is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def throwaway_postgres(folder: Path, *, durable: bool = False) -> Iterator[str]:
    """Start a server in `folder` (its own: the `postgres` user must be able to enter it) and
    yield its base URL (no database). `durable=False` turns fsync off, as tests can afford."""
    as_pg: list[str] = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder.mkdir(parents=True, exist_ok=True)
    if as_pg:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    port = free_port()
    initdb = [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
    subprocess.run([*as_pg, *initdb, "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
    opts = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
    if not durable:
        opts += " -c fsync=off"
    pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data)]
    subprocess.run(
        [*as_pg, *pg_ctl, "-l", str(folder / "log"), "-w", "-o", opts, "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*as_pg, *pg_ctl, "-m", "fast", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)
