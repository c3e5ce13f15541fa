"""`callqa deploy`: schedules registered with a REAL `prefect server start`, read back via its API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import SAMPLE_CALLS, SAMPLE_RECORDINGS

pytestmark = pytest.mark.timeout(300)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def real_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    """`prefect server start` on a free port with its own PREFECT_HOME; yields the API URL."""
    port = _free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_UI_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    prefect = Path(sys.executable).with_name("prefect")
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "prefect server did not start"
            time.sleep(0.5)
        yield url, tmp_path
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_deploy_registers_both_schedules(real_server) -> None:  # type: ignore[no-untyped-def]
    url, tmp_path = real_server
    out = tmp_path / "out"
    code = (
        "from pathlib import Path; from flows.deploy import apply_deployments;"
        f"print(apply_deployments(Path({str(SAMPLE_CALLS)!r}), Path({str(SAMPLE_RECORDINGS)!r}),"
        f" Path({str(out)!r})))"
    )
    env = {**os.environ, "PREFECT_API_URL": url, "PREFECT_HOME": str(tmp_path / "client")}
    env["CALLQA_SMTP_PASSWORD"] = "relay-secret"  # read by the served process, never stored
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]

    found = httpx.post(f"{url}/deployments/filter", json={}, timeout=30).json()
    by_name = {d["name"]: d for d in found}
    assert set(by_name) == {"nightly", "monthly"}
    expected = {"nightly": "0 2 * * *", "monthly": "0 6 1 * *"}
    for name, cron in expected.items():
        (schedule,) = by_name[name]["schedules"]
        assert schedule["schedule"]["cron"] == cron
        assert schedule["schedule"]["timezone"] == "Europe/London"
        assert schedule["active"]
    nightly = by_name["nightly"]["parameters"]
    assert nightly["out"] == str(out.resolve()) and "date" not in nightly
    assert "caller_hash_key" not in nightly["config"]
    assert "smtp_password" not in nightly["config"] and "relay-secret" not in str(found)
