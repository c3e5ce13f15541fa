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
