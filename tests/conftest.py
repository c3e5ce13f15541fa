"""Shared fixtures: paths into sample_data/ and session-wide real components."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "sample_data"
SAMPLE_CALLS = SAMPLE_DATA / "calls.csv"
SAMPLE_RECORDINGS = SAMPLE_DATA / "recordings"
SAMPLE_SCRIPTS = SAMPLE_DATA / "scripts"
MODELS = ROOT / "models"
HASH_KEY = b"callqa-test-key"


@pytest.fixture(scope="session")
def hash_key() -> bytes:
    return HASH_KEY


@pytest.fixture(scope="session")
def whisper_model():  # type: ignore[no-untyped-def]
    """The real tiny.en model, loaded once (transcribe_call reuses the same cached instance)."""
    from pipeline.transcribe import load_model

    return load_model()


@pytest.fixture(scope="session")
def sample_scripts():  # type: ignore[no-untyped-def]
    """Every sample_data script (metadata, turns as spoken, labels), loaded once."""
    from sample_data.scripted import load_scripts

    return load_scripts(SAMPLE_SCRIPTS)


@pytest.fixture(scope="session")
def nlp():  # type: ignore[no-untyped-def]
    """The real tagging pipeline (en_core_web_sm + the models/ rule packs + PII), loaded once."""
    from pipeline.tagging import load_pipeline

    return load_pipeline()


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):  # type: ignore[no-untyped-def]
    """One real Prefect API for the session (prefect_test_harness: a temporary server + SQLite).

    Its URL is also put in os.environ, so subprocesses and Dask worker processes report to the
    same server instead of each starting a temporary one. Yields (api_url, database_path, home).
    """
    import os

    home = tmp_path_factory.mktemp("prefect-home")
    env = {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    saved = {k: os.environ.get(k) for k in [*env, "PREFECT_API_URL"]}
    os.environ.update(env)
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_HOME,
        PREFECT_SERVER_DATABASE_CONNECTION_URL,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    with temporary_settings(updates={PREFECT_HOME: home}), prefect_test_harness(120):
        url = PREFECT_API_URL.value()
        database = Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split(":///", 1)[1])
        os.environ["PREFECT_API_URL"] = url
        yield url, database, home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def sample_night(prefect_server, tmp_path_factory):  # type: ignore[no-untyped-def]
    """The demo night (sample_data, 2025-03-31) screened once by the real nightly flow.

    A small random sample (6 calls, no targeted extras) whose seed is chosen so the draw holds
    an unsafe recording path and a repeat caller. Yields (out, settings, seed, summary).
    """
    from datetime import date

    from flows.nightly import run_nightly
    from pipeline.calls import read_call_log
    from pipeline.config import Settings
    from pipeline.repeats import mark_repeats
    from pipeline.sampling import draw_sample
    from sample_data.scripted import DEMO_DATE, UNSAFE_RECORDINGS

    settings = Settings(
        caller_hash_key=HASH_KEY.decode(),
        min_per_agent=0,
        targeted_long_call_s=None,
        targeted_repeat_min_prior=None,
        cpu_threads=2,
    )
    marked = mark_repeats(read_call_log(SAMPLE_CALLS, caller_hash_key=HASH_KEY).calls)
    for seed in range(500):
        manifest = draw_sample(
            marked,
            date=DEMO_DATE,
            seed=seed,
            sample_size=6,
            min_per_agent=0,
            targeted_long_call_s=None,
            targeted_repeat_min_prior=None,
        ).manifest
        unsafe = manifest["recording"].isin(
            [r for r in UNSAFE_RECORDINGS if ".." in r or r.startswith("/")]
        )
        if unsafe.any() and manifest["repeat_caller"].any():
            break
    out = tmp_path_factory.mktemp("night") / "out"
    summary = run_nightly(
        SAMPLE_CALLS,
        SAMPLE_RECORDINGS,
        out,
        date=date.fromisoformat(str(DEMO_DATE)),
        sample_size=6,
        seed=seed,
        settings=settings,
        show_progress=False,
    )
    return out, settings, seed, summary


@pytest.fixture(scope="session")
def hardening_night(prefect_server, tmp_path_factory):  # type: ignore[no-untyped-def]
    """One hostile night (tests/hardening/night.py) shared by the tests/test_hardening_*.py."""
    from hardening.night import shared_night

    return shared_night(tmp_path_factory.mktemp("hardening"), prefect_server)
