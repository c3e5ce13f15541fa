"""The project's own attack script (benchmarks/attacks.py) against a running review app.

At least 30 distinct attacks (forged and replayed cookies, CSRF, role crossing, lead scope,
listening tokens, path tricks, header games, passwords, sign-in races, refusal audit) over
HTTP against uvicorn in its own process; none may succeed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _attacks_module():  # type: ignore[no-untyped-def]
    # Loaded by path: benchmarks/ is not a package, and its review.py would shadow the app.
    spec = importlib.util.spec_from_file_location(
        "callqa_attacks", ROOT / "benchmarks" / "attacks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["callqa_attacks"] = module
    spec.loader.exec_module(module)
    return module


def test_no_attack_on_the_running_app_succeeds(tmp_path: Path, db_url: str) -> None:
    attacks = _attacks_module()
    results = attacks.attack_app(tmp_path, db_url)
    assert len({r.name for r in results}) >= 30
    assert {"cookie", "csrf", "role", "path", "header", "race", "listen"} <= {
        r.kind for r in results
    }
    worked = [f"{r.kind} {r.name}: {r.detail}" for r in results if r.succeeded]
    assert not worked, "\n".join(worked)
