"""The dashboard's run health on both databases: the last night's run as runs/ records it
(written by `pipeline.runs.record_run`), a failed night and a missing night flagged."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from builder import BuiltOutput
from review_helpers import Env, make_env

from pipeline import store
from pipeline.runs import RunRecord, record_run

NIGHT = date(2025, 3, 31)


def _env(built: BuiltOutput, db_url: str, today: date) -> Env:
    """The app with its clock at 09:00 UTC on `today`."""
    moment = datetime(today.year, today.month, today.day, 9, 0, tzinfo=UTC)
    return make_env(built, db_url, clock=lambda: moment)


@pytest.fixture
def nights(built: BuiltOutput) -> Iterator[BuiltOutput]:
    """The night of 31 March run twice: completed at 01:40, then a re-run at 08:00 that failed."""
    out = built.out_dir
    start = datetime(2025, 4, 1, 1, 0, tzinfo=UTC)
    record_run(
        out,
        RunRecord.from_night(
            call_date=NIGHT,
            run_id="run-a",
            started_at=start,
            finished_at=start + timedelta(minutes=40),
            drawn=12,
            scored=11,
            failures=[{"stage": "transcribe"}],
        ),
    )
    record_run(
        out,
        RunRecord.from_night(
            call_date=NIGHT,
            run_id="run-b",
            started_at=start + timedelta(hours=7),
            finished_at=start + timedelta(hours=7, minutes=3),
            drawn=9,
            scored=0,
            failures=[{"stage": "recording"}] * 7 + [{"stage": "transcribe"}] * 2,
        ),
    )
    runs = store.read_table(out, store.RUNS)
    assert list(runs["run_id"]) == ["run-a", "run-b"]  # a re-run keeps the earlier row
    yield built


def _panel(html: str) -> str:
    found = re.search(r'<section class="run-health[^"]*".*?</section>', html, re.S)
    assert found, "no run-health panel"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(0)).split())


def test_failed_night_is_flagged_with_its_counts(nights: BuiltOutput, db_url: str) -> None:
    env = _env(nights, db_url, NIGHT + timedelta(days=1))
    try:
        html = env.client("lena").get("/dashboard").text
        assert 'class="run-health run-health--alert"' in html
        panel = _panel(html)
        assert "Failed night: the run for Monday 31 March 2025 stopped at the screen step" in panel
        assert "Missing night" not in panel  # the night has a run, a failed one
        assert "9 calls drawn, 0 scored, 9 failed (recording: 7, transcribe: 2)" in panel
        # The admin sees it too; scrutiny members (councillors) do not.
        assert "Failed night" in _panel(env.client("ada").get("/dashboard").text)
        assert "run-health" not in env.client("sam").get("/dashboard").text
    finally:
        env.app.state.engine.dispose()


def test_missing_night_is_flagged(nights: BuiltOutput, db_url: str) -> None:
    env = _env(nights, db_url, NIGHT + timedelta(days=3))
    try:
        panel = _panel(env.client("lena").get("/dashboard").text)
        assert (
            "Missing night: no screening run is recorded for the night of Wednesday 2 April 2025"
            in panel
        )
        assert "The last run recorded is for 31 March 2025" in panel
    finally:
        env.app.state.engine.dispose()


def test_completed_night_is_not_flagged(built: BuiltOutput, db_url: str) -> None:
    record_run(
        built.out_dir,
        RunRecord.from_night(
            call_date=NIGHT,
            run_id="run-c",
            started_at=datetime(2025, 4, 1, 1, 0, tzinfo=UTC),
            finished_at=datetime(2025, 4, 1, 1, 42, tzinfo=UTC),
            drawn=12,
            scored=12,
            failures=[],
        ),
    )
    env = _env(built, db_url, NIGHT + timedelta(days=1))
    try:
        html = env.client("lena").get("/dashboard").text
        assert 'class="run-health"' in html
        panel = _panel(html)
        assert "Last run: the night of 31 March 2025, completed at 01:42 UTC on 1 April" in panel
        assert "12 calls drawn, 12 scored, 0 failed." in panel
        assert "Failed night" not in panel and "Missing night" not in panel
    finally:
        env.app.state.engine.dispose()
