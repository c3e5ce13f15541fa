"""The sample calls' scripts (``sample_data/scripts/*.yaml``): their shape, loading and checks.

Each script holds the call's metadata, its turns as spoken (the TTS input and the WER reference)
and its labels in the ``callqa tag`` output shape.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import yaml

from pipeline.errors import CallQAError
from pipeline.redact import PII_TYPES
from pipeline.tagging import (
    AVOIDABLE_CATEGORIES,
    CONTACT_REASONS,
    QA_CHECKS,
    TagLabels,
    label_fields,
)

#: This folder: the default output of `python -m sample_data.build`, and where its scripts are.
DEFAULT_SAMPLE_DIR = Path(__file__).resolve().parent
DEFAULT_SCRIPTS_DIR = DEFAULT_SAMPLE_DIR / "scripts"
#: The night whose recorded calls are the scripted ones.
DEMO_DATE = date(2025, 3, 31)
#: The call log covers these local dates, inclusive (the UK clocks go forward on 30 March).
LOG_START = date(2025, 3, 1)
LOG_END = date(2025, 3, 31)
#: Recorded rows on the demo night whose recording path must be refused or is missing.
UNSAFE_RECORDINGS = ("../../etc/passwd", "/etc/passwd", "missing_file.opus")

Speaker = Literal["agent", "caller"]
Layout = Literal["agent_left", "agent_right", "mono"]
ExpectedStatus = Literal["ok", "no_speech", "unreadable"]


@dataclass(frozen=True)
class ScriptTurn:
    """One turn as spoken, with how it is placed on the timeline."""

    speaker: Speaker
    text: str
    pause_before_s: float | None = None
    overlap_s: float | None = None
    hold_before_s: float | None = None


@dataclass(frozen=True)
class QALabels:
    """The five quality checks, True when the agent did it."""

    greeting: bool
    agent_named: bool
    id_check: bool
    anything_else_offered: bool
    closing: bool


@dataclass(frozen=True)
class PIILabel:
    """A span of personal data: ``turns[turn].text[start:end]``, and its written form."""

    type: str
    turn: int
    start: int
    end: int
    value: str


@dataclass(frozen=True)
class ScriptLabels(TagLabels[QALabels]):
    """What a perfect ``callqa tag`` would say about the call, plus the repeat-caller truth."""

    pii: list[PIILabel]
    repeat_caller: bool

    def tag_labels(self) -> dict[str, Any]:
        """The `callqa tag` fields a reviewer labels, as the corpus writes them."""
        return label_fields(self)


@dataclass(frozen=True)
class ScriptedCall:
    """One scripted call: call-log metadata, turns and labels (None when nothing is said)."""

    name: str
    call_id: str
    started_at: datetime
    agent_id: str
    team: str
    queue: str
    layout: Layout
    caller_number: str
    expected_status: ExpectedStatus
    turns: list[ScriptTurn]
    labels: ScriptLabels | None
    duration_s: float | None = None
    """Length of a call with no turns (silence, corrupt file); spoken calls get theirs from audio."""

    @property
    def recording(self) -> str:
        """The recording's path relative to the recordings folder."""
        return f"{self.name}.wav" if self.expected_status == "unreadable" else f"{self.name}.opus"


def _fail(path: Path, what: str) -> CallQAError:
    return CallQAError(f"{path}: {what}. Fix the script (see sample_data/README.md).")


def _require(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...], path: Path) -> Any:
    if key not in raw:
        raise _fail(path, f"missing key {key!r}")
    value = raw[key]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise _fail(path, f"{key!r} must be {kind}, got {value!r}")
    return value


def _optional_float(raw: Mapping[str, Any], key: str, path: Path) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _fail(path, f"{key!r} must be a number >= 0, got {value!r}")
    return float(value)


def _parse_turn(raw: Any, path: Path) -> ScriptTurn:
    if not isinstance(raw, dict):
        raise _fail(path, f"a turn must be a mapping, got {raw!r}")
    speaker = _require(raw, "speaker", str, path)
    if speaker not in ("agent", "caller"):
        raise _fail(path, f"speaker must be agent or caller, got {speaker!r}")
    text = _require(raw, "text", str, path)
    if not text.strip():
        raise _fail(path, "a turn has empty text")
    return ScriptTurn(
        speaker=cast(Speaker, speaker),
        text=text,
        pause_before_s=_optional_float(raw, "pause_before_s", path),
        overlap_s=_optional_float(raw, "overlap_s", path),
        hold_before_s=_optional_float(raw, "hold_before_s", path),
    )


def _parse_labels(raw: Any, turns: list[ScriptTurn], path: Path) -> ScriptLabels:
    if not isinstance(raw, dict):
        raise _fail(path, "labels must be a mapping")
    reasons = _require(raw, "contact_reasons", list, path)
    if not reasons or any(r not in CONTACT_REASONS for r in reasons):
        raise _fail(path, f"contact_reasons must be ids from docs/design.md, got {reasons!r}")
    primary = _require(raw, "primary_reason", str, path)
    if primary not in reasons:
        raise _fail(path, f"primary_reason {primary!r} is not in contact_reasons")
    avoidable = _require(raw, "avoidable", bool, path)
    category = raw.get("avoidable_category")
    if avoidable != (category is not None) or (
        category is not None and category not in AVOIDABLE_CATEGORIES
    ):
        raise _fail(path, f"avoidable_category {category!r} does not fit avoidable={avoidable}")
    qa_raw = _require(raw, "qa", dict, path)
    if set(qa_raw) != set(QA_CHECKS) or not all(isinstance(v, bool) for v in qa_raw.values()):
        raise _fail(path, f"qa must map exactly {QA_CHECKS} to true/false")
    pii: list[PIILabel] = []
    for item in raw.get("pii") or []:
        if not isinstance(item, dict):
            raise _fail(path, f"a pii label must be a mapping, got {item!r}")
        label = PIILabel(
            type=_require(item, "type", str, path),
            turn=_require(item, "turn", int, path),
            start=_require(item, "start", int, path),
            end=_require(item, "end", int, path),
            value=_require(item, "value", str, path),
        )
        if label.type not in PII_TYPES:
            raise _fail(path, f"unknown pii type {label.type!r}")
        if not 0 <= label.turn < len(turns):
            raise _fail(path, f"pii turn {label.turn} is out of range")
        if not 0 <= label.start < label.end <= len(turns[label.turn].text):
            raise _fail(path, f"pii offsets {label.start}:{label.end} are out of range")
        pii.append(label)
    return ScriptLabels(
        contact_reasons=list(reasons),
        primary_reason=primary,
        avoidable=avoidable,
        avoidable_category=category,
        complaint=_require(raw, "complaint", bool, path),
        transferred=_require(raw, "transferred", bool, path),
        qa=QALabels(**qa_raw),
        pii=pii,
        repeat_caller=_require(raw, "repeat_caller", bool, path),
    )


def _parse_script(path: Path) -> ScriptedCall:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise _fail(path, f"not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise _fail(path, "the script must be a mapping")
    name = _require(raw, "name", str, path)
    if name != path.stem:
        raise _fail(path, f"name {name!r} must equal the file stem {path.stem!r}")
    started = raw.get("started_at")
    if isinstance(started, str):
        try:
            started = datetime.fromisoformat(started)
        except ValueError as exc:
            raise _fail(path, f"started_at {started!r} is not ISO 8601") from exc
    if not isinstance(started, datetime) or started.tzinfo is not None:
        raise _fail(path, "started_at must be a naive ISO 8601 time (Europe/London)")
    layout = _require(raw, "layout", str, path)
    if layout not in ("agent_left", "agent_right", "mono"):
        raise _fail(path, f"layout must be agent_left, agent_right or mono, got {layout!r}")
    status = _require(raw, "expected_status", str, path)
    if status not in ("ok", "no_speech", "unreadable"):
        raise _fail(path, f"expected_status must be ok, no_speech or unreadable, got {status!r}")
    turns = [_parse_turn(t, path) for t in raw.get("turns") or []]
    if (status == "ok") != bool(turns):
        raise _fail(path, "a call has turns exactly when expected_status is ok")
    labels = _parse_labels(raw["labels"], turns, path) if status == "ok" else None
    duration = _optional_float(raw, "duration_s", path)
    if status != "ok" and duration is None:
        raise _fail(path, "a call without turns needs duration_s")
    caller = raw.get("caller_number", "")
    return ScriptedCall(
        name=name,
        call_id=_require(raw, "call_id", str, path),
        started_at=started,
        agent_id=_require(raw, "agent_id", str, path),
        team=_require(raw, "team", str, path),
        queue=_require(raw, "queue", str, path),
        layout=cast(Layout, layout),
        caller_number="" if caller is None else str(caller),
        expected_status=cast(ExpectedStatus, status),
        turns=turns,
        labels=labels,
        duration_s=duration,
    )


def load_scripts(folder: Path) -> list[ScriptedCall]:
    """Read and validate every ``*.yaml`` script in ``folder``, sorted by name.

    Raises:
        CallQAError: a script is malformed (names the file and what to fix), or two scripts
            share a call_id.
    """
    paths = sorted(Path(folder).glob("*.yaml"))
    if not paths:
        raise CallQAError(f"no *.yaml scripts in {folder}")
    calls = [_parse_script(p) for p in paths]
    seen: dict[str, str] = {}
    for call in calls:
        if call.call_id in seen:
            raise CallQAError(f"{call.name} and {seen[call.call_id]} share call_id {call.call_id}")
        seen[call.call_id] = call.name
    return calls


def seeded_rng(seed: int, *parts: str) -> np.random.Generator:
    """A generator for one purpose (``parts``) of a seeded rendering."""
    # crc32, not hash(): Python salts str hashes per process, which would break determinism.
    return np.random.default_rng([seed, *(zlib.crc32(p.encode()) for p in parts)])
