"""The safeguarding email: tell the council's safeguarding mailbox a night has calls to act on.

A council has statutory safeguarding duties (issue 15), so a night whose scorecards hold any
`safeguarding` call sends one plain-text email through the council's SMTP relay (smtplib):

    subject  callqa: 2 safeguarding calls on 31 March 2025
    body     the night, the count, and one link per call: <review_base_url>/calls/<call_id>

Email travels and is kept outside callqa's control (relays, mailboxes, forwards), so it never
holds a name, a number, a queue, an agent or a word of the call: the evidence stays behind the
review app's sign-in. Call ids come from the phone system and say nothing about the caller.

The same relay tells IT of a failed night (`send_run_alert`, to `it_recipients`): the night,
its state, the step it stopped at, counts of calls drawn, scored and failed by stage, and the
run id; never a call id, since IT needs the run, not the calls.

Errors (a missing setting, a relay that refuses or cannot be reached) are `NotifyError`s that
say what to fix; the nightly flow logs them and carries on (flows/nightly.py).
"""

from __future__ import annotations

import smtplib
import ssl
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import quote

from pipeline.errors import NotifyError
from pipeline.runs import RunRecord

__all__ = [
    "SafeguardingMail",
    "call_link",
    "run_alert_message",
    "safeguarding_call_ids",
    "safeguarding_message",
    "send_run_alert",
    "send_safeguarding_email",
]


@dataclass(frozen=True)
class SafeguardingMail:
    """Where and how to send the safeguarding email (from `pipeline.config.Settings`)."""

    host: str
    sender: str
    recipients: tuple[str, ...]
    review_base_url: str
    port: int = 587
    starttls: bool = True
    username: str | None = None
    # Kept out of repr so a logged or printed config never shows it.
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0


def safeguarding_call_ids(scorecards: Iterable[Mapping[str, object]]) -> list[str]:
    """The call ids of the scorecard rows tagged `safeguarding`, sorted, each once."""
    return sorted({str(r["call_id"]) for r in scorecards if _true(r.get("safeguarding"))})


def _true(value: object) -> bool:
    """A bool cell as read back from Parquet: True, numpy's True; None, NaN or pandas' NA not."""
    try:
        return value is not None and value == value and bool(value)
    except TypeError:  # pandas' NA refuses to be a bool: the tag is unknown, not given
        return False


def call_link(review_base_url: str, call_id: str) -> str:
    """The review app's page of one call; the id is quoted so any phone-system id is a path."""
    return f"{review_base_url.rstrip('/')}/calls/{quote(call_id, safe='')}"


def _check(mail: SafeguardingMail) -> None:
    """Refuse a configuration that could not deliver, naming the setting to fix."""
    missing = [
        name
        for name, value in (
            ("CALLQA_SMTP_SENDER", mail.sender),
            ("CALLQA_SAFEGUARDING_RECIPIENTS", mail.recipients),
            ("CALLQA_REVIEW_BASE_URL", mail.review_base_url),
        )
        if not value
    ]
    if missing:
        raise NotifyError(
            f"CALLQA_SMTP_HOST is set but {', '.join(missing)} is not: the safeguarding email "
            "needs a sender, the safeguarding mailbox and the review app's address"
        )
    if not mail.review_base_url.startswith(("https://", "http://")):
        raise NotifyError(
            f"CALLQA_REVIEW_BASE_URL {mail.review_base_url!r} must start with https:// "
            "(the address people open the review app at)"
        )


def _message(
    subject: str,
    sender: str,
    recipients: Sequence[str],
    paragraphs: Sequence[str],
    *,
    as_written: str,
    setting: str,
) -> EmailMessage:
    """A plain-text email: `paragraphs` wrapped to 72 columns except `as_written` (a list of
    lines); `setting` names the settings a refused header came from."""
    message = EmailMessage()
    try:
        message["Subject"] = subject
        message["From"] = sender
        message["To"] = ", ".join(recipients)
    except ValueError as exc:  # a line break in a setting: header injection, refused
        raise NotifyError(f"{setting} is not an address: {exc}") from exc
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    # Short lines keep the body plain 7-bit text that any mail client shows as written.
    message.set_content(
        "\n\n".join(p if p is as_written else textwrap.fill(p, 72) for p in paragraphs) + "\n"
    )
    return message


def safeguarding_message(
    night: date,
    call_ids: Sequence[str],
    *,
    sender: str,
    recipients: Sequence[str],
    review_base_url: str,
) -> EmailMessage:
    """The email for one night's safeguarding calls: the night, the count and the links only."""
    count = len(call_ids)
    calls = "call" if count == 1 else "calls"
    day = f"{night.day} {night:%B %Y}"
    links = "\n".join(call_link(review_base_url, c) for c in call_ids)
    paragraphs = [
        f"callqa's screening of the calls of {night:%A} {day} found {count} {calls} where the "
        "caller may be at risk and a safeguarding duty may apply.",
        "Open each call in the review app to listen to it and see why it was flagged:",
        links,
        "This email holds no names, numbers or words from the calls on purpose: they are only "
        "in the review app, behind its sign-in. Please do not forward call details by email.",
    ]
    return _message(
        f"callqa: {count} safeguarding {calls} on {day}",
        sender,
        recipients,
        paragraphs,
        as_written=links,
        setting="a safeguarding email setting",
    )


def send_safeguarding_email(
    mail: SafeguardingMail, night: date, call_ids: Sequence[str]
) -> EmailMessage | None:
    """Send the night's safeguarding email through the relay; None (nothing sent) without calls.

    Raises `NotifyError` when the settings are incomplete, the relay cannot be reached, does not
    offer STARTTLS when asked, refuses the login, or refuses any recipient.
    """
    if not call_ids:
        return None
    _check(mail)
    message = safeguarding_message(
        night,
        call_ids,
        sender=mail.sender,
        recipients=mail.recipients,
        review_base_url=mail.review_base_url,
    )
    _deliver(mail, message, "the safeguarding email", "CALLQA_SAFEGUARDING_RECIPIENTS")
    return message


def _stages(counts: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{stage} {n}" for stage, n in counts) or "none"


def run_alert_message(
    record: RunRecord, *, sender: str, recipients: Sequence[str], alert_failed_ratio: float
) -> EmailMessage:
    """The email telling IT how a night went wrong: counts, steps and the run id only."""
    night = record.call_date
    day = f"{night.day} {night:%B %Y}"
    if record.state == "failed":
        subject = f"callqa: the screening of {day} failed"
        what = (
            f"callqa's nightly screening of the calls of {night:%A} {day} failed at the "
            f"{record.error_stage} step ({record.error})."
        )
    else:
        subject = f"callqa: {record.failed} of {record.drawn} calls failed on {day}"
        what = (
            f"callqa's nightly screening of the calls of {night:%A} {day} completed, but "
            f"{record.failed} of the {record.drawn} calls drawn could not be screened (more "
            f"than {alert_failed_ratio:.0%})."
        )
    facts = "\n".join(
        [
            f"Run id: {record.run_id}",
            f"State: {record.state}",
            f"Started: {record.started_at:%Y-%m-%d %H:%M} UTC",
            f"Finished: {record.finished_at:%Y-%m-%d %H:%M} UTC",
            f"Calls drawn: {record.drawn}",
            f"Calls scored: {record.scored}",
            f"Calls failed: {record.failed}",
            f"Failed calls by stage: {_stages(record.failures)}",
        ]
    )
    paragraphs = [
        what,
        facts,
        "Each failed call's reason is in failures/ under the output folder, and the run's log "
        "in Prefect under the run id. This email holds counts only, never call details.",
    ]
    return _message(
        subject,
        sender,
        recipients,
        paragraphs,
        as_written=facts,
        setting="a run-health email setting",
    )


def send_run_alert(
    mail: SafeguardingMail, record: RunRecord, *, alert_failed_ratio: float
) -> EmailMessage:
    """Email IT about a night (`mail` holds the relay and IT's recipients).

    Raises `NotifyError` like `send_safeguarding_email`, naming CALLQA_IT_RECIPIENTS.
    """
    if not mail.sender or not mail.recipients:
        raise NotifyError(
            "the run-health email needs CALLQA_SMTP_SENDER and CALLQA_IT_RECIPIENTS "
            "(IT's mailbox) besides CALLQA_SMTP_HOST"
        )
    message = run_alert_message(
        record,
        sender=mail.sender,
        recipients=mail.recipients,
        alert_failed_ratio=alert_failed_ratio,
    )
    _deliver(mail, message, "the run-health email", "CALLQA_IT_RECIPIENTS")
    return message


def _deliver(mail: SafeguardingMail, message: EmailMessage, what: str, setting: str) -> None:
    """Send `message` through the relay of `mail`; `what` and `setting` name the email and its
    recipients' setting in the errors."""
    where = f"{mail.host}:{mail.port}"
    try:
        with smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout_s) as smtp:
            if mail.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if mail.username:
                smtp.login(mail.username, mail.password or "")
            refused = smtp.send_message(message)
    except smtplib.SMTPNotSupportedError as exc:
        raise NotifyError(
            f"the SMTP relay {where} does not offer STARTTLS ({exc}): use a relay that does, or "
            "set CALLQA_SMTP_STARTTLS=false only for a relay on the council's own network"
        ) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise NotifyError(
            f"the SMTP relay {where} refused the login of CALLQA_SMTP_USERNAME "
            f"(code {exc.smtp_code}): check the username and CALLQA_SMTP_PASSWORD"
        ) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise NotifyError(
            f"the SMTP relay {where} refused every recipient ({', '.join(exc.recipients)}): "
            f"check {setting}"
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise NotifyError(
            f"sending {what} through {where} failed: "
            f"{type(exc).__name__}: {exc} (check CALLQA_SMTP_HOST and CALLQA_SMTP_PORT)"
        ) from exc
    if refused:
        raise NotifyError(
            f"{what} was sent, but {where} refused {', '.join(sorted(refused))}: check {setting}"
        )
