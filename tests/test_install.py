"""`pip install .` (not editable) into a new virtual environment runs from any folder.

The new environment borrows the dependencies of the running one through a `.pth` file, so the
test installs only callqa itself: the wheel must carry the packages, the rule packs, the tagger
and the app's templates, and find them where it was installed rather than in this checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_FOLDERS = ("callqa", "pipeline", "flows", "review", "models", "sample_data")
_NOT_PACKAGED = shutil.ignore_patterns("__pycache__", "recordings", "candidates")


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with callqa installed from this checkout, not editable."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        venv,
        dict(os.environ),
    ).strip()
    Path(site, "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # A copy, because pip builds in the source folder and would leave build/ in the checkout.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in PACKAGE_FOLDERS:
        shutil.copytree(ROOT / name, source / name, ignore=_NOT_PACKAGED)
    _run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "."],
        source,
        dict(os.environ),
    )
    return venv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(900)
def test_installed_callqa_screens_a_night_and_serves_the_app_from_another_folder(
    installed: Path, prefect_server, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "CALLQA_CALLER_HASH_KEY": "install-test-caller-hash-key-0123456789"}
    env.pop("PYTHONPATH", None)
    env.pop("CALLQA_MODELS_DIR", None)
    python, callqa = installed / "bin" / "python", installed / "bin" / "callqa"

    where = json.loads(
        _run(
            [
                str(python),
                "-c",
                "import json, callqa, callqa_models, pipeline, review;"
                "print(json.dumps([m.__file__ for m in (callqa, callqa_models, pipeline, review)]))",
            ],
            elsewhere,
            env,
        )
    )
    assert all(str(installed) in path and str(ROOT) not in path for path in where)

    _run(
        [
            str(callqa),
            "nightly",
            "--calls",
            str(ROOT / "sample_data" / "calls.csv"),
            "--recordings",
            str(ROOT / "sample_data" / "recordings"),
            "--out",
            "out",
            "--date",
            "2025-03-31",
            "--sample-size",
            "2",
            "--seed",
            "3",
        ],
        elsewhere,
        env,
    )
    scorecards = list((elsewhere / "out" / "scorecards").rglob("*.parquet"))
    assert scorecards, "the installed callqa wrote no scorecards"

    port = _free_port()
    app = subprocess.Popen(
        [str(callqa), "review", "--out", "out", "--port", str(port)],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        page = None
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
                    page = r.read().decode()
                break
            except OSError:
                assert app.poll() is None, app.stdout.read() if app.stdout else ""
                time.sleep(0.5)
        assert page is not None and "<form" in page
    finally:
        app.terminate()
        app.wait(timeout=30)
