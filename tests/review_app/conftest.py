"""Fixtures of the review web app tests: a built output folder, each database back end, users.

Every test runs on SQLite and, when Debian's PostgreSQL binaries are installed, on a real
PostgreSQL server this file starts (as the `postgres` user, on a free local port) for the
session, with a fresh database per test.
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import pgserver
from builder import BuiltOutput, build_output, copy_output
from review_helpers import Env, make_env


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    """A throwaway PostgreSQL server (base URL without database), or None when not installed."""
    if not pgserver.installed():
        yield None
        return
    with pgserver.throwaway_postgres(Path(tempfile.mkdtemp(prefix="callqa-pg-"))) as base:
        yield base


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each back end."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'review.sqlite'}"
        return
    base = request.getfixturevalue("postgres_server")
    if base is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    dsn = base.replace("postgresql+psycopg", "postgresql") + "/postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{base}/{name}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def built_once(tmp_path_factory: pytest.TempPathFactory) -> BuiltOutput:
    """The usual output, built once; tests get their own copy (`built`)."""
    return build_output(tmp_path_factory.mktemp("built"))


@pytest.fixture
def built(built_once: BuiltOutput, tmp_path: Path) -> BuiltOutput:
    return copy_output(built_once, tmp_path)


@pytest.fixture
def env(built: BuiltOutput, db_url: str) -> Iterator[Env]:
    environment = make_env(built, db_url)
    yield environment
    environment.app.state.engine.dispose()
