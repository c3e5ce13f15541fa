"""Safeguarding calls: the scorecard columns and flag, the night's count, and the email to the
council's safeguarding mailbox through a real local SMTP server (aiosmtpd), read back."""

from __future__ import annotations

import dataclasses
import logging
import re
import socket
import threading
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from scripted import sampled_call

from flows.nightly import _notify_safeguarding, _safeguarding_mail
from pipeline import store
from pipeline.audio import AudioMetrics
from pipeline.config import Settings
from pipeline.errors import NotifyError
from pipeline.notify import SafeguardingMail, safeguarding_call_ids, send_safeguarding_email
from pipeline.report import NightSummary
from pipeline.scorecard import (
    FLAG_NAMES,
    Thresholds,
    build_scorecard,
    restricted_rows,
    transcript_rows,
)
from pipeline.tagging import (
    SAFEGUARDING,
    Evidence,
    PIISpan,
    QAChecks,
    RedactedTurn,
    Tags,
    load_qa_weights,
)
from pipeline.transcribe import Transcript, Turn, Word
from sample_data.scripted import ScriptedCall, load_scripts

SCRIPTS = Path(__file__).resolve().parents[1] / "sample_data" / "scripts"
NIGHT = date(2025, 3, 31)
REVIEW = "https://review.example.gov.uk/callqa/"
SENDER = "callqa@example.gov.uk"
MAILBOX = ["safeguarding@example.gov.uk", "mash@example.gov.uk"]
# What a caller might say that makes the call a safeguarding one: a child named, their age.
DISCLOSURE = (
    "My neighbour's little girl Poppy Hartley, she's six, has been left alone since Friday."
)


# -- a night written with the real writers ---------------------------------------------------


def _scripts_with_pii() -> list[ScriptedCall]:
    found = [s for s in load_scripts(SCRIPTS) if s.labels is not None and s.labels.pii]
    return sorted(found, key=lambda s: s.call_id)[:3]


def _transcript(script: ScriptedCall, extra: list[tuple[str, str]], status: str = "ok") -> Any:
    spoken = [(t.speaker, t.text) for t in script.turns] + extra
    turns = []
    for i, (speaker, text) in enumerate(spoken):
        words = [
            Word(i * 5.0 + j * 0.3, i * 5.0 + j * 0.3 + 0.25, w, 0.9)
            for j, w in enumerate(text.split())
        ]
        turns.append(Turn(speaker, i * 5.0, i * 5.0 + 4.0, text, 0.9, words))  # type: ignore[arg-type]
    return Transcript(
        file=script.recording,
        duration_s=60.0,
        layout=script.layout,
        confidence=0.9,
        status=status,  # type: ignore[arg-type]
        reason=None,
        turns=turns,
        metrics=AudioMetrics(
            duration_s=60.0,
            talk_ratio_agent=0.5,
            silence_ratio=0.2,
            longest_silence_s=3.0,
            overtalk_s=0.5,
        ),
        low_confidence=False,
        model="tiny.en",
        audio_sha256="0" * 64,
    )


def _tags(script: ScriptedCall, transcript: Transcript, vulnerability: list[str]) -> Tags:
    """The script's labels as a perfect tagger's Tags, plus the given vulnerability ids."""
    labels = script.labels
    assert labels is not None
    redacted = []
    for i, turn in enumerate(transcript.turns):
        text = turn.text
        for span in sorted((p for p in labels.pii if p.turn == i), key=lambda p: -p.start):
            text = text[: span.start] + f"[{span.type.upper()}]" + text[span.end :]
        redacted.append(RedactedTurn(turn.speaker, text))
    last = len(transcript.turns) - 1
    evidence = [
        Evidence(f"vulnerability:{v}", last, redacted[last].text, "r") for v in vulnerability
    ]
    return Tags(
        contact_reasons=list(labels.contact_reasons),
        primary_reason=labels.primary_reason,
        avoidable=labels.avoidable,
        avoidable_category=labels.avoidable_category,
        complaint=labels.complaint,
        transferred=labels.transferred,
        qa=QAChecks(**dataclasses.asdict(labels.qa)),
        evidence=evidence,
        pii=[PIISpan(p.type, p.turn, p.start, p.end) for p in labels.pii],
        redacted_turns=redacted,
        vulnerability=vulnerability,
        safeguarding=bool(SAFEGUARDING & set(vulnerability)),
    )


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ScriptedCall]]:
    """Three calls with personal data; the first two disclose a child at risk."""
    out = tmp_path_factory.mktemp("safeguarding") / "out"
    scripts = _scripts_with_pii()
    cards, turns, restricted = [], [], []
    for i, script in enumerate(scripts):
        at_risk = i < 2
        transcript = _transcript(script, [("caller", DISCLOSURE)] if at_risk else [])
        tags = _tags(
            script, transcript, ["child_at_risk", "health_or_disability"] if at_risk else []
        )
        card = build_scorecard(
            sampled_call(script),
            transcript,
            tags,
            qa_weights=load_qa_weights(),
            thresholds=Thresholds(),
            run_id="run-1",
        )
        cards.append(card.row())
        turns += transcript_rows(script.call_id, transcript, tags)
        restricted += restricted_rows(script.call_id, transcript, tags)
    store.write_partition(out, store.TRANSCRIPTS, NIGHT, turns)
    store.write_partition(out, store.RESTRICTED, NIGHT, restricted)
    store.write_partition(out, store.SCORECARDS, NIGHT, cards)
    return out, scripts


# -- a real SMTP server ----------------------------------------------------------------------


class _Inbox:
    """aiosmtpd handler keeping every message it accepts, as the relay would pass them on."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.logins: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == b"callqa"
            and auth_data.password == b"relay-secret"
        )
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Inbox]]:
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        auth_require_tls=False,  # the test relay has no certificate; the login is still checked
    )
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def _settings(port: int, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_starttls": False,
        "smtp_sender": SENDER,
        "safeguarding_recipients": MAILBOX,
        "review_base_url": REVIEW,
    }
    return Settings(**(values | extra))


def _read(raw: bytes) -> tuple[EmailMessage, str]:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    headers = "\n".join(f"{k}: {v}" for k, v in message.items())
    # Whitespace normalised: the body is wrapped at 72 characters wherever the words fall.
    return message, " ".join((headers + "\n" + message.get_content()).split())


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


# -- tests -----------------------------------------------------------------------------------


def test_scorecard_columns_flag_and_evidence(night: tuple[Path, list[ScriptedCall]]) -> None:
    out, scripts = night
    cards = store.read_table(out, store.SCORECARDS).set_index("call_id")
    first, third = cards.loc[scripts[0].call_id], cards.loc[scripts[2].call_id]
    assert list(first["vulnerability"]) == ["child_at_risk", "health_or_disability"]
    assert bool(first["safeguarding"]) and "safeguarding" in list(first["flags"])
    assert bool(first["needs_review"])
    tags = {e["tag"] for e in first["evidence"]}
    assert {"vulnerability:child_at_risk", "vulnerability:health_or_disability"} <= tags
    assert list(third["vulnerability"]) == [] and not bool(third["safeguarding"])
    assert "safeguarding" not in list(third["flags"])
    assert "safeguarding" in FLAG_NAMES


def test_safeguarding_is_flagged_even_when_the_recording_is_faulty() -> None:
    script = _scripts_with_pii()[0]
    transcript = _transcript(script, [("caller", DISCLOSURE)], status="recording_fault")
    card = build_scorecard(
        sampled_call(script),
        transcript,
        _tags(script, transcript, ["risk_to_life"]),
        qa_weights=load_qa_weights(),
        thresholds=Thresholds(),
        run_id="r",
    )
    assert "safeguarding" in card.flags and card.needs_review
    # A vulnerability that is not a safeguarding one is a column, not a review flag.
    quiet = build_scorecard(
        sampled_call(script),
        _transcript(script, []),
        _tags(script, _transcript(script, []), ["bereavement"]),
        qa_weights=load_qa_weights(),
        thresholds=Thresholds(),
        run_id="r",
    )
    assert quiet.vulnerability == ["bereavement"] and "safeguarding" not in quiet.flags


def test_night_summary_counts_safeguarding_without_quoting(
    night: tuple[Path, list[ScriptedCall]],
) -> None:
    out, _ = night
    rows = store.read_table(out, store.SCORECARDS).to_dict("records")
    summary = NightSummary.from_rows(
        call_date=NIGHT,
        run_id="run-1",
        log_rows=10,
        rejected_rows=0,
        population=10,
        scorecards=rows,
        failures=[],
        sampled=3,
        targeted=0,
        elapsed_s=1.0,
        out=out,
    )
    assert summary.safeguarding == 2
    assert "| safeguarding (see the review queue) | 2 |" in summary.markdown()
    assert "2 safeguarding" in summary.line()
    for text in (summary.markdown(), summary.line()):
        assert "poppy" not in text.lower() and "left alone" not in text


def test_email_holds_count_night_and_links_and_nothing_said(
    night: tuple[Path, list[ScriptedCall]], smtp: tuple[int, _Inbox]
) -> None:
    out, scripts = night
    port, inbox = smtp
    rows = store.read_table(out, store.SCORECARDS).to_dict("records")
    ids = safeguarding_call_ids(rows)
    assert ids == sorted(s.call_id for s in scripts[:2])
    assert _notify_safeguarding(_settings(port), NIGHT, ids) is True

    assert len(inbox.received) == 1
    mail_from, rcpt_tos, raw = inbox.received[0]
    assert mail_from == SENDER and rcpt_tos == MAILBOX
    message, text = _read(raw)
    assert message["Subject"] == "callqa: 2 safeguarding calls on 31 March 2025"
    assert "Monday 31 March 2025" in text
    for script in scripts[:2]:
        assert f"https://review.example.gov.uk/callqa/calls/{script.call_id}" in text
    assert scripts[2].call_id not in text

    # Nothing from the night but the ids: no personal data, no words of any turn (four words
    # in a row), no agent, team, queue, recording or caller number.
    lowered = " ".join(_words(text))
    said = store.read_table(out, store.RESTRICTED)
    for turn in said["text"]:
        words = _words(turn)
        for i in range(len(words) - 3):
            assert " ".join(words[i : i + 4]) not in lowered, turn
    for script in scripts:
        assert script.labels is not None
        for label in script.labels.pii:
            assert label.value.lower() not in text.lower(), label
        for value in (script.agent_id, script.team, script.queue, script.recording):
            assert not value or value.lower() not in text.lower(), value
        if script.caller_number:
            digits = re.sub(r"\D", "", script.caller_number)
            assert digits[-6:] not in re.sub(r"\D", "", message.get_content())
    for word in ("poppy", "hartley", "child_at_risk", "health"):
        assert word not in lowered


def test_login_and_no_mail_without_safeguarding_calls(smtp: tuple[int, _Inbox]) -> None:
    port, inbox = smtp
    settings = _settings(port, smtp_username="callqa", smtp_password="relay-secret")
    assert _notify_safeguarding(settings, NIGHT, []) is False
    assert inbox.received == []
    assert _notify_safeguarding(settings, NIGHT, ["HRW/1 2"]) is True
    assert inbox.logins == ["callqa"]
    _, text = _read(inbox.received[0][2])
    assert "callqa: 1 safeguarding call on 31 March 2025" in text
    # Any phone-system id becomes one path segment of the link.
    assert "https://review.example.gov.uk/callqa/calls/HRW%2F1%202" in text


def test_unset_host_sends_nothing_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="flows.nightly"):
        assert _notify_safeguarding(Settings(smtp_host=None), NIGHT, ["a", "b"]) is False
    lines = [r.getMessage() for r in caplog.records if "Safeguarding email is off" in r.message]
    assert len(lines) == 1 and "2 safeguarding call(s)" in lines[0]


def test_failed_send_is_logged_and_never_raises(
    smtp: tuple[int, _Inbox], caplog: pytest.LogCaptureFixture
) -> None:
    port, inbox = smtp
    closed = _free_port()  # nothing listens there
    with caplog.at_level(logging.ERROR, logger="flows.nightly"):
        assert _notify_safeguarding(_settings(closed), NIGHT, ["a"]) is False
        # A wrong password: the relay refuses the login.
        wrong = _settings(port, smtp_username="callqa", smtp_password="nope")
        assert _notify_safeguarding(wrong, NIGHT, ["a"]) is False
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert all(e.startswith("SAFEGUARDING EMAIL NOT SENT for 2025-03-31") for e in errors)
    assert f"127.0.0.1:{closed}" in errors[0] and "refused the login" in errors[1]
    assert "nope" not in " ".join(errors) and inbox.received == []


def test_misconfiguration_says_what_to_fix(smtp: tuple[int, _Inbox]) -> None:
    port, inbox = smtp
    base = SafeguardingMail(
        host="127.0.0.1",
        port=port,
        starttls=False,
        sender=SENDER,
        recipients=tuple(MAILBOX),
        review_base_url=REVIEW,
    )
    with pytest.raises(NotifyError, match="CALLQA_SAFEGUARDING_RECIPIENTS"):
        send_safeguarding_email(dataclasses.replace(base, recipients=()), NIGHT, ["a"])
    with pytest.raises(NotifyError, match="CALLQA_REVIEW_BASE_URL"):
        send_safeguarding_email(dataclasses.replace(base, review_base_url="review"), NIGHT, ["a"])
    with pytest.raises(NotifyError, match="not an address"):
        bad = dataclasses.replace(base, sender="a@b.c\nBcc: leak@example.com")
        send_safeguarding_email(bad, NIGHT, ["a"])
    # The test relay offers no STARTTLS: asked for it, callqa refuses to send in the clear.
    with pytest.raises(NotifyError, match="STARTTLS"):
        send_safeguarding_email(dataclasses.replace(base, starttls=True), NIGHT, ["a"])
    assert inbox.received == []


def test_settings_from_the_environment_keep_the_password_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CALLQA_SMTP_HOST", "relay.example.gov.uk")
    monkeypatch.setenv("CALLQA_SMTP_PORT", "2525")
    monkeypatch.setenv("CALLQA_SMTP_USERNAME", "callqa")
    monkeypatch.setenv("CALLQA_SMTP_PASSWORD", "relay-secret")
    monkeypatch.setenv("CALLQA_SMTP_SENDER", SENDER)
    monkeypatch.setenv("CALLQA_SAFEGUARDING_RECIPIENTS", '["safeguarding@example.gov.uk"]')
    monkeypatch.setenv("CALLQA_REVIEW_BASE_URL", REVIEW)
    settings = Settings()
    assert "relay-secret" not in repr(settings)
    mail = _safeguarding_mail(settings)
    assert mail is not None and mail.password == "relay-secret" and mail.port == 2525
    assert mail.starttls and mail.recipients == ("safeguarding@example.gov.uk",)
    assert "relay-secret" not in repr(mail)


def test_nightly_flow_runs_the_notify_task_and_counts(sample_night, prefect_server) -> None:  # type: ignore[no-untyped-def]
    """The real night (no SMTP relay set): the task ran, said so once, the artifact counts."""
    import time
    import uuid

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    out, _, _, summary = sample_night
    cards = store.read_table(out, store.SCORECARDS)
    assert summary.safeguarding == int(cards["safeguarding"].fillna(False).sum())
    assert "safeguarding" in cards.columns and "caller_sentiment_opening" in cards.columns
    run = uuid.UUID(summary.run_id)
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run])))
        notify = [t for t in tasks if t.name.startswith("notify-safeguarding")]
        assert len(notify) == 1 and notify[0].state is not None
        assert notify[0].state.is_completed()
        said: list[str] = []
        for _ in range(20):  # logs reach the API in batches
            logs = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run]))
            )
            said = [log.message for log in logs if "Safeguarding email is off" in log.message]
            if said:
                break
            time.sleep(0.5)
    assert len(said) == 1
