"""Run health: the real nightly flow leaves its row in runs/ and, on a failed night, emails IT
through a real local SMTP server (aiosmtpd) and ends Failed; a completed night completes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from conftest import HASH_KEY, SAMPLE_CALLS

from pipeline import store
from pipeline.calls import read_call_log
from sample_data.scripted import DEMO_DATE

pytestmark = pytest.mark.timeout(300)

IT = ["it-servicedesk@example.gov.uk"]
SENDER = "callqa@example.gov.uk"


class _Inbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Inbox]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def _it_mail(port: int) -> dict[str, Any]:
    """The settings that send IT's email through the test relay on `port`."""
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_starttls": False,
        "smtp_sender": SENDER,
        "it_recipients": IT,
    }


def test_completed_night_leaves_its_record(sample_night) -> None:  # type: ignore[no-untyped-def]
    """The session's demo night (a few calls refused, the rest scored) completed."""
    out, _, _, summary = sample_night
    runs = store.read_table(out, store.RUNS)
    mine = runs[runs["run_id"] == summary.run_id]
    assert len(mine) == 1
    row = mine.iloc[0]
    assert row["state"] == "completed" and pd.isna(row["error_stage"])
    assert (row["drawn"], row["scored"], row["failed"]) == (
        summary.sampled,
        summary.scored,
        summary.failed,
    )
    failures = store.read_table(out, store.FAILURES)
    counted = {f["stage"]: f["calls"] for f in row["failures"]}
    assert counted == failures.groupby("stage").size().to_dict() and counted
    assert row["call_date"] == DEMO_DATE and row["started_at"] <= row["finished_at"]


def test_night_without_recordings_fails_records_itself_and_emails_it(
    prefect_server,  # type: ignore[no-untyped-def]
    smtp: tuple[int, _Inbox],
    tmp_path: Path,
) -> None:
    """The recordings folder is not mounted (empty): every drawn call fails, the night fails."""
    from flows.nightly import nightly_screening

    port, inbox = smtp
    out = tmp_path / "out"
    unmounted = tmp_path / "recordings"
    unmounted.mkdir()
    config = {
        "min_per_agent": 0,
        "targeted_long_call_s": None,
        "targeted_repeat_min_prior": None,
        **_it_mail(port),
    }
    state = nightly_screening(
        calls=str(SAMPLE_CALLS),
        recordings=str(unmounted),
        out=str(out),
        date=str(DEMO_DATE),
        sample_size=5,
        seed=3,
        config=config,
        show_progress=False,
        return_state=True,
    )
    # Failed, for the scheduler and for whoever watches Prefect: the night screened nothing.
    assert state.is_failed()
    assert "could screen none" in str(state.message)
    manifest = store.read_table(out, store.SAMPLES)
    drawn = len(manifest)
    assert drawn >= 5

    runs = store.read_table(out, store.RUNS)
    assert len(runs) == 1
    run = runs.iloc[0]
    assert (run["state"], run["error_stage"]) == ("failed", "screen")
    assert (run["drawn"], run["scored"], run["failed"]) == (drawn, 0, drawn)
    assert [dict(f) for f in run["failures"]] == [{"stage": "recording", "calls": drawn}]
    assert run["run_id"] == manifest["run_id"].iloc[0]

    assert len(inbox.received) == 1
    recipients, raw = inbox.received[0]
    assert recipients == IT
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    text = " ".join((str(message["Subject"]) + "\n" + message.get_content()).split())
    assert message["Subject"] == "callqa: the screening of 31 March 2025 failed"
    assert f"Run id: {run['run_id']}" in text
    assert f"Calls drawn: {drawn}" in text and "Calls scored: 0" in text
    assert f"Failed calls by stage: recording {drawn}" in text
    # Counts, steps and the run id only: nothing about the calls or the people on them.
    log = read_call_log(SAMPLE_CALLS, caller_hash_key=HASH_KEY).calls
    night = log[log["call_id"].isin(manifest["call_id"])]
    numbers = pd.read_csv(SAMPLE_CALLS, dtype=str)
    numbers = numbers[numbers["call_id"].isin(manifest["call_id"])]["caller_number"]
    private = [
        *manifest["call_id"],
        *manifest["agent_id"],
        *manifest["recording"].dropna(),
        *manifest["caller_hash"].dropna(),
        *night["queue"].dropna(),
        *numbers.dropna(),
    ]
    assert private and not [p for p in private if str(p) in text]
    assert not [p for p in private if str(p) in runs.to_json()]


def test_night_that_stops_with_an_error_is_recorded_and_raised(
    prefect_server,  # type: ignore[no-untyped-def]
    smtp: tuple[int, _Inbox],
    tmp_path: Path,
) -> None:
    """The call log is not there: the night stops at prepare-night with the reader's error."""
    from flows.nightly import run_nightly
    from pipeline.config import Settings
    from pipeline.errors import CallLogError

    port, inbox = smtp
    out = tmp_path / "out"
    settings = Settings(**_it_mail(port))
    with pytest.raises(CallLogError):
        run_nightly(
            tmp_path / "no-such-log.csv",
            tmp_path,
            out,
            date=DEMO_DATE,
            settings=settings,
            show_progress=False,
        )
    (run,) = store.read_table(out, store.RUNS).to_dict("records")
    assert (run["state"], run["error_stage"], run["error"]) == (
        "failed",
        "prepare-night",
        "CallLogError",
    )
    assert (run["drawn"], run["scored"], run["failed"]) == (0, 0, 0)
    (received,) = inbox.received
    message = message_from_bytes(received[1], policy=policy.default)
    assert isinstance(message, EmailMessage)
    body = " ".join(message.get_content().split())
    assert "failed at the prepare-night step (CallLogError)" in body
    assert "no-such-log" not in body  # the error's type, never its message
