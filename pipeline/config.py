"""Settings: `CALLQA_*` environment variables over an optional `callqa.toml`.

Read only at the edges (cli.py, flows/, review/); pipeline functions take plain values.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from pipeline.errors import StoreError

__all__ = [
    "CALLER_HASH_KEY_FILE",
    "ChannelLayout",
    "Direction",
    "Settings",
    "StratifyBy",
    "caller_hash_key",
    "default_review_state_dir",
]

ChannelLayout = Literal["agent_left", "agent_right", "mono"]
#: Which calls are eligible for the sample (pipeline/sampling.py).
Direction = Literal["inbound", "outbound", "both"]
#: The strata of the random draw ("none": one stratum).
StratifyBy = Literal["none", "queue", "team", "agent_id"]

#: Where a generated caller-hash key is kept, relative to the output folder.
CALLER_HASH_KEY_FILE = Path(".callqa") / "caller_hash.key"


def default_review_state_dir() -> Path:
    """systemd's `StateDirectory=` when set, else the user's XDG state folder."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "callqa-review"


class Settings(BaseSettings):
    """Everything a council may change without touching code."""

    model_config = SettingsConfigDict(
        env_prefix="CALLQA_", toml_file="callqa.toml", extra="ignore", validate_default=True
    )

    recordings_dir: Path = Field(
        Path("recordings"), description="Folder the call log's recording paths are relative to."
    )
    out_dir: Path = Field(Path("out"), description="Where Parquet, reports and packs are written.")
    # The review app's own settings. Its keys live apart from `out_dir`, which is shared with
    # every Dask worker: a worker that can read them could forge a session.
    review_state_dir: Path = Field(
        default_factory=lambda: default_review_state_dir(),
        description="The review app's keys; never inside out_dir (shared with workers).",
    )
    packs_dir: Path = Field(
        Path("packs"), description="Only scrutiny packs under this folder can be registered."
    )
    behind_tls: bool = Field(
        False, description="The review app is served over HTTPS: Secure cookies and HSTS."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Proxy addresses whose X-Forwarded-For the review app believes (JSON list).",
    )
    whisper_model: str = Field(
        "tiny.en", description="Whisper size name or a CTranslate2 model folder."
    )
    compute_type: str = Field("int8", description="CTranslate2 compute type on the CPU.")
    cpu_threads: int = Field(0, ge=0, description="Threads for Whisper; 0 = all cores.")
    channel_layout: ChannelLayout = Field(
        "agent_left", description="Layout when the call log has none."
    )
    timezone: str = Field(
        "Europe/London", description="Time zone of naive call-log times and of --date."
    )
    repeat_window_days: int = Field(
        7, ge=1, description="A call is a repeat if the caller rang in these previous days."
    )
    caller_hash_key: SecretStr | None = Field(
        None, description="HMAC key for caller numbers; generated once if unset."
    )
    sample_size: int | None = Field(
        None,
        ge=0,
        description="Calls to draw per night; derived from the margin of error if unset.",
    )
    seed: int = Field(20250101, description="Base seed of the random draw; the date is mixed in.")
    margin_of_error: float = Field(
        0.05, gt=0, lt=1, description="Monthly margin of error for a proportion."
    )
    confidence_level: float = Field(
        0.95, gt=0, lt=1, description="Confidence level of that margin."
    )
    min_per_agent: int = Field(4, ge=0, description="Random calls per agent per month, at least.")
    direction: Direction = Field("inbound", description="Which calls are eligible.")
    stratify_by: StratifyBy = Field("queue", description="Strata of the random draw.")
    targeted_long_call_s: float | None = Field(
        1200.0, description="Add calls at least this long as targeted; unset = off."
    )
    targeted_repeat_min_prior: int | None = Field(
        3, description="Add callers with this many prior calls in the window as targeted."
    )
    targeted_max: int | None = Field(
        10, ge=0, description="At most this many targeted calls a night; unset = no cap."
    )
    watch_queues: list[str] = Field(
        default_factory=list, description="Queues whose calls are all added as targeted."
    )
    low_confidence: float = Field(
        0.55, ge=0, le=1, description="Transcripts below this confidence go to review."
    )
    # Storage limitation (UK GDPR Art. 5(1)(e)): how long each kind of personal data is kept,
    # counted in days back from the night being screened; 0 keeps it for ever. The nightly run
    # purges what is older (pipeline/retention.py) and logs it in `<out>/purges/`.
    keep_restricted_days: int = Field(
        90, ge=0, description="Days unredacted transcripts (restricted/) are kept; 0 = for ever."
    )
    keep_transcript_cache_days: int = Field(
        30, ge=0, description="Days transcript cache entries are kept; 0 = for ever."
    )
    keep_review_notes_days: int = Field(
        365, ge=0, description="Days reviewers' free-text notes are kept; 0 = for ever."
    )
    keep_audit_days: int = Field(
        730, ge=0, description="Days review-app audit rows are kept; 0 = for ever."
    )
    review_db_url: str | None = Field(
        None,
        description="Review database the nightly purge and subject-access use; "
        "default: the SQLite file under <out>/.callqa/ when there is one.",
    )

    # The safeguarding email (pipeline/notify.py): sent after a night with any safeguarding
    # calls, holding the count and links into the review app, never anything said on a call.
    smtp_host: str | None = Field(
        None, description="SMTP relay for the safeguarding email; unset = no email."
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="Port of the SMTP relay.")
    smtp_starttls: bool = Field(
        True, description="Switch the SMTP connection to TLS (STARTTLS) before logging in."
    )
    smtp_username: str | None = Field(None, description="SMTP login; unset = no login.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_sender: str | None = Field(
        None, description="From address of the safeguarding email (required with smtp_host)."
    )
    safeguarding_recipients: list[str] = Field(
        default_factory=list,
        description="The council's safeguarding mailbox(es) (JSON list; required with smtp_host).",
    )
    # The run-health email (pipeline/notify.py, send_run_alert) goes through the same relay.
    it_recipients: list[str] = Field(
        default_factory=list,
        description="IT's mailbox(es) told of a failed night (JSON list); empty = no email.",
    )
    alert_failed_ratio: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Also email IT when more than this share of a night's drawn calls fail.",
    )
    review_base_url: str | None = Field(
        None,
        description="Address of the review app, e.g. https://callqa.example.gov.uk; links in "
        "the email are <review_base_url>/calls/<call_id> (required with smtp_host).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(
            settings_cls, os.environ.get("CALLQA_CONFIG", "callqa.toml")
        )
        return (init_settings, env_settings, toml)


def caller_hash_key(settings: Settings) -> tuple[bytes, str | None]:
    """The caller-hash key, and a message when one had to be generated.

    Hashes must stay stable from night to night or repeat callers are lost, so a generated key
    is written once to `<out>/.callqa/caller_hash.key` (mode 0600) and reused after that.
    """
    if settings.caller_hash_key is not None:
        return settings.caller_hash_key.get_secret_value().encode(), None
    path = settings.out_dir / CALLER_HASH_KEY_FILE
    key = secrets.token_hex(32)
    try:
        if path.exists():
            return path.read_bytes().strip(), None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
    except OSError as exc:
        raise StoreError(
            f"cannot keep the caller-hash key at {path} ({exc.strerror}): make the output "
            "folder writable, or set CALLQA_CALLER_HASH_KEY."
        ) from exc
    return key.encode(), (
        f"No CALLQA_CALLER_HASH_KEY set: generated one and saved it to {path} (mode 0600). "
        "Keep that file (or set the variable): a new key makes every caller look new."
    )
