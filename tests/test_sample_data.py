"""sample_data/: the scripts, their labels, the rendered audio and the 31-day call log.

Expectations come from docs/design.md (ids) and from the scripts' own labels, checked against the
text, the audio and the call log. Audio is not re-rendered here except one tiny script.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import av
import numpy as np
import pandas as pd
import phonenumbers
import pytest
from spoken_numbers import MONTHS, ORDINALS, TEENS, TENS, UNITS

from sample_data.scripted import DEMO_DATE, UNSAFE_RECORDINGS, ScriptedCall, load_scripts
from sample_data.speech import render_call

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
RECORDINGS = SAMPLE / "recordings"

# Copied from docs/design.md, not imported: the test must fail if the module's lists drift.
REASONS = [
    "council_tax",
    "benefits",
    "waste_recycling",
    "parking",
    "housing_repairs",
    "housing_options",
    "planning",
    "school_admissions",
    "libraries",
    "adult_social_care",
    "children_services",
    "environmental_health",
    "highways",
    "registrars",
    "online_account",
    "other",
]
CATEGORIES = [
    "progress_chasing",
    "repeat_contact",
    "clarification",
    "wrong_routing",
    "service_failure",
    "self_serve_available",
]
PII = [
    "person_name",
    "address",
    "postcode",
    "phone_number",
    "email",
    "payment_card",
    "bank_account",
    "ni_number",
    "date_of_birth",
    "account_reference",
]
CHECKS = ("greeting", "agent_named", "id_check", "anything_else_offered", "closing")
LOG_COLUMNS = [
    "call_id",
    "started_at",
    "duration_s",
    "agent_id",
    "team",
    "queue",
    "caller_number",
    "direction",
    "recording",
    "channel_layout",
]


@pytest.fixture(scope="module")
def scripts() -> list[ScriptedCall]:
    return load_scripts(SAMPLE / "scripts")


@pytest.fixture(scope="module")
def spoken(scripts: list[ScriptedCall]) -> list[ScriptedCall]:
    return [c for c in scripts if c.labels is not None]


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    frame = pd.read_csv(SAMPLE / "calls.csv", dtype=str, keep_default_na=False)
    local = pd.to_datetime(frame["started_at"]).dt.tz_localize(
        "Europe/London", nonexistent="raise", ambiguous="raise"
    )
    return frame.assign(utc=local.dt.tz_convert("UTC"), local=local)


@pytest.fixture(scope="module")
def turn_times() -> pd.DataFrame:
    return pd.read_csv(SAMPLE / "turn_times.csv")


def _decode(path: Path, seconds: float = 30.0) -> tuple[np.ndarray, int]:
    """The first ``seconds`` of a recording as (channels, samples) floats, and its rate."""
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray())
            if frame.time is not None and frame.time > seconds:
                break
        return np.concatenate(frames, axis=1).astype(np.float64), stream.rate


# --------------------------------------------------------------------------- scripts


def test_scripts_cover_the_brief(scripts: list[ScriptedCall], spoken: list[ScriptedCall]) -> None:
    assert len(spoken) >= 32
    assert len({c.name for c in scripts}) == len(scripts)
    assert {c.expected_status for c in scripts} == {"ok", "no_speech", "unreadable"}
    assert [c.layout for c in scripts].count("mono") >= 1
    labels = [c.labels for c in spoken if c.labels]
    assert {r for lab in labels for r in lab.contact_reasons} == set(REASONS)
    categories = [lab.avoidable_category for lab in labels if lab.avoidable]
    assert all(categories.count(cat) >= 2 for cat in CATEGORIES)
    value_share = sum(not lab.avoidable for lab in labels) / len(labels)
    assert 0.35 <= value_share <= 0.6
    assert {p.type for lab in labels for p in lab.pii} == set(PII)
    for check in CHECKS:
        assert {getattr(lab.qa, check) for lab in labels} == {True, False}, check
    assert any(lab.transferred for lab in labels)
    assert any(lab.complaint for lab in labels)
    assert any(len(lab.contact_reasons) >= 2 for lab in labels)
    assert {lab.repeat_caller for lab in labels} == {True, False}


def test_neighbour_call_is_not_a_complaint(spoken: list[ScriptedCall]) -> None:
    call = next(c for c in spoken if "neighbour" in c.name)
    assert call.labels is not None and not call.labels.complaint
    assert any("complain about my neighbour" in t.text for t in call.turns)


def test_agent_named_label_matches_the_agent(spoken: list[ScriptedCall]) -> None:
    for call in spoken:
        assert call.labels is not None
        first_name = call.agent_id.split("_")[1].capitalize()
        said = any(first_name in t.text for t in call.turns if t.speaker == "agent")
        assert said == call.labels.qa.agent_named, call.name


_TENS = ("_", "_", *TENS)
_ORDINALS = {word: number for number, word in enumerate(ORDINALS, start=1)} | {"thirtieth": 30}
_MONTHS = ("_", *MONTHS)


def _merge_tens(words: list[str]) -> list[str]:
    """'twenty', 'three' -> '23' and 'twenty', 'first' -> '21' (compound numbers)."""
    out: list[str] = []
    for word in words:
        unit = UNITS.index(word) if word in UNITS[1:] else None
        unit = _ORDINALS[word] if unit is None and 0 < _ORDINALS.get(word, 10) < 10 else unit
        if unit is not None and out and out[-1] in _TENS[2:]:
            out[-1] = str(10 * _TENS.index(out[-1]) + unit)
        else:
            out.append(word)
    return out


def _to_digits(words: list[str]) -> list[str]:
    out: list[str] = []
    repeat = 1
    for word in _merge_tens(words):
        if word in ("double", "triple"):
            repeat = 2 if word == "double" else 3
            continue
        if word in ("oh", "nought", "zero"):
            word = "0"
        elif word in UNITS:
            word = str(UNITS.index(word))
        elif word in TEENS:
            word = str(10 + TEENS.index(word))
        elif word in _TENS:
            word = str(10 * _TENS.index(word))
        elif word in _ORDINALS:
            word = str(_ORDINALS[word])
        out.append(word * repeat if word.isdigit() else word)
        repeat = 1
    return out


def _written(kind: str, spoken: str) -> str:
    """The written form of a span said aloud, for comparison with the label's value."""
    words = re.findall(r"[a-z']+|\d+", spoken.lower())
    if kind == "person_name":
        return " ".join(words)
    if kind == "email":
        symbols = {"dot": ".", "at": "@", "underscore": "_"}
        return "".join(symbols.get(w, w) for w in _to_digits(words))
    if kind == "address":
        return " ".join(_to_digits(words))
    if kind == "date_of_birth":
        tokens = [w for w in _to_digits(words) if w not in ("the", "of")]
        month = next(i for i, w in enumerate(tokens) if w in _MONTHS)
        day, year = tokens[month - 1], "".join(tokens[month + 1 :])
        return f"{year}-{_MONTHS.index(tokens[month]):02d}-{int(day):02d}"
    return "".join(w.upper() if len(w) == 1 and w.isalpha() else w for w in _to_digits(words))


def _canonical(kind: str, value: str) -> str:
    if kind in ("person_name", "address"):
        return " ".join(re.findall(r"[a-z']+|\d+", value.lower()))
    if kind in ("email", "date_of_birth"):
        return value
    return re.sub(r"[^0-9A-Z]", "", value.upper())


def test_pii_offsets_slice_to_their_values(spoken: list[ScriptedCall]) -> None:
    checked = 0
    for call in spoken:
        assert call.labels is not None
        for label in call.labels.pii:
            text = call.turns[label.turn].text
            assert 0 <= label.start < label.end <= len(text), (call.name, label)
            span = text[label.start : label.end]
            assert span == span.strip() and not span.endswith((",", ".")), (call.name, span)
            assert _written(label.type, span) == _canonical(label.type, label.value), (
                call.name,
                span,
                label.value,
            )
            checked += 1
    assert checked >= 100


def test_fake_card_numbers_pass_luhn(spoken: list[ScriptedCall]) -> None:
    cards = [p.value for c in spoken if c.labels for p in c.labels.pii if p.type == "payment_card"]
    assert cards
    for card in cards:
        digits = [int(d) for d in reversed(card)]
        total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
        assert total % 10 == 0, card


def test_only_drama_numbers_are_spoken(spoken: list[ScriptedCall]) -> None:
    phones = [p.value for c in spoken if c.labels for p in c.labels.pii if p.type == "phone_number"]
    assert phones
    assert all(re.fullmatch(r"07700900\d{3}|0207946\d{4}|01\d{2}496\d{4}", p) for p in phones)


# --------------------------------------------------------------------------- call log


def test_call_log_shape(log: pd.DataFrame) -> None:
    assert list(log.columns[: len(LOG_COLUMNS)]) == LOG_COLUMNS
    assert len(log) >= 5000
    assert log["call_id"].is_unique
    days = log["local"].dt.date
    assert days.min() == date(2025, 3, 1) and days.max() == date(2025, 3, 31)
    assert set(log["direction"]) == {"inbound", "outbound"}
    assert 0.02 < (log["direction"] == "outbound").mean() < 0.15
    assert log["agent_id"].nunique() == 15 and log["team"].replace("", pd.NA).nunique() == 5
    top = log["queue"].value_counts().index[:3]
    assert set(top) == {"council_tax", "waste_recycling", "benefits"}
    numbers = log["caller_number"]
    assert (numbers == "withheld").any() and (numbers == "").any()
    for pattern in (r"^\+44 ", r"^0044", r"^\(0", r"^07700 ", r"^0\d{10}$"):
        assert numbers.str.contains(pattern).any(), pattern


def test_call_log_hours(log: pd.DataFrame) -> None:
    hours = log["local"].dt.hour + log["local"].dt.minute / 60
    weekday = log["local"].dt.weekday
    daytime = (hours >= 8.5) & (hours < 17.5)
    # The contact centre is shut on Sundays and at night; only the emergency line rings then.
    assert set(log.loc[(weekday == 6) | ~daytime, "queue"]) == {"housing_repairs"}
    assert ((weekday == 6) | ~daytime).mean() < 0.05
    assert not ((weekday == 5) & (hours >= 13) & daytime).any()  # Saturdays: mornings only
    per_day = log.groupby(log["local"].dt.date).size()
    assert per_day[date(2025, 3, 3)] > 3 * per_day[date(2025, 3, 1)]  # Monday vs Saturday
    morning = log[(weekday < 5) & daytime]
    by_hour = morning["local"].dt.hour.value_counts()
    assert by_hour[10] > by_hour[16]


def test_recorded_rows_are_the_scripts_plus_unsafe_paths(
    log: pd.DataFrame, scripts: list[ScriptedCall]
) -> None:
    recorded = log[log["recording"] != ""]
    assert set(recorded["local"].dt.date) == {DEMO_DATE}
    assert sorted(recorded["recording"]) == sorted(
        [c.recording for c in scripts] + list(UNSAFE_RECORDINGS)
    )
    rows = recorded.set_index("recording")
    for call in scripts:
        row = rows.loc[call.recording]
        assert (RECORDINGS / call.recording).is_file(), call.recording
        assert row["call_id"] == call.call_id
        assert row["started_at"] == call.started_at.isoformat()
        assert (row["agent_id"], row["team"], row["queue"]) == (
            call.agent_id,
            call.team,
            call.queue,
        )
        assert row["caller_number"] == call.caller_number
        assert row["channel_layout"] == call.layout
    assert not (RECORDINGS / "missing_file.opus").exists()


def _e164(number: str) -> str | None:
    if number.strip().lower() in ("", "withheld"):
        return None
    return phonenumbers.format_number(
        phonenumbers.parse(number, "GB"), phonenumbers.PhoneNumberFormat.E164
    )


def test_call_log_reproduces_repeat_caller_labels(
    log: pd.DataFrame, spoken: list[ScriptedCall]
) -> None:
    inbound = log[log["direction"] == "inbound"].assign(e164=log["caller_number"].map(_e164))
    by_id = log.set_index("call_id")
    planted_formats = 0
    for call in spoken:
        assert call.labels is not None
        number = _e164(call.caller_number)
        start = by_id.loc[call.call_id, "utc"]
        window = inbound[
            (inbound["e164"] == number)
            & (inbound["utc"] < start)
            & (inbound["utc"] >= start - timedelta(days=7))
        ]
        repeat = number is not None and not window.empty
        assert repeat == call.labels.repeat_caller, call.name
        if repeat:
            assert 1 <= len(window) <= 3, call.name
            planted_formats += (window["caller_number"] != call.caller_number).all()
    assert planted_formats == sum(c.labels.repeat_caller for c in spoken if c.labels)


def test_frequent_callers(log: pd.DataFrame) -> None:
    counts = log["caller_number"].map(_e164).value_counts()
    assert (counts >= 5).sum() >= 20


# --------------------------------------------------------------------------- audio


def test_stereo_recordings_put_agent_left_and_caller_right(
    spoken: list[ScriptedCall], turn_times: pd.DataFrame
) -> None:
    checked = 0
    for call in spoken:
        if call.layout == "mono":
            continue
        audio, rate = _decode(RECORDINGS / call.recording)
        assert audio.shape[0] == 2, call.name
        times = turn_times[turn_times["name"] == call.name]
        assert list(times["speaker"]) == [t.speaker for t in call.turns]
        starts, ends = times["start_s"].to_numpy(), times["end_s"].to_numpy()
        for i, speaker in enumerate(times["speaker"]):
            others = np.delete(np.arange(len(starts)), i)
            if ((starts[others] < ends[i]) & (ends[others] > starts[i])).any():
                continue  # overtalk: both sides speak
            if ends[i] * rate > audio.shape[1]:
                break  # only the opening is decoded, to keep the test fast
            span = slice(int(starts[i] * rate), int(ends[i] * rate))
            left, right = np.sqrt(np.mean(audio[:, span] ** 2, axis=1))
            loud, quiet = (left, right) if speaker == "agent" else (right, left)
            assert loud > 5 * quiet, (call.name, i, speaker)
            checked += 1
    assert checked > 100


def test_mono_silent_and_corrupt_recordings(scripts: list[ScriptedCall]) -> None:
    for call in scripts:
        path = RECORDINGS / call.recording
        if call.expected_status == "unreadable":
            with pytest.raises(av.FFmpegError):
                _decode(path)
            continue
        audio, rate = _decode(path, seconds=10.0)
        assert rate == 48000 or rate == 8000
        if call.layout == "mono":
            assert audio.shape[0] == 1
        rms = np.sqrt(np.mean(audio**2))
        if call.expected_status == "no_speech":
            assert rms < 0.01, call.name
        else:
            assert rms > 0.01, call.name


def test_durations_and_size(log: pd.DataFrame, scripts: list[ScriptedCall]) -> None:
    durations = log.set_index("call_id")["duration_s"].astype(float)
    spoken = [durations[c.call_id] for c in scripts if c.expected_status == "ok"]
    assert max(spoken) > 8 * 60
    assert sum(45 <= d <= 120 for d in spoken) >= 0.7 * len(spoken)
    total = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert total < 15 * 1024 * 1024


TINY = """\
name: tiny
call_id: T-1
started_at: "2025-03-31T09:00:00"
agent_id: agent_sarah_k
team: revenues
queue: council_tax
layout: agent_left
caller_number: "07700 900999"
expected_status: ok
turns:
  - {speaker: agent, text: "Good morning, Harrowden Council."}
  - {speaker: caller, text: "Hello, I want to pay my bill.", overlap_s: 0.2}
labels:
  contact_reasons: [council_tax]
  primary_reason: council_tax
  avoidable: false
  avoidable_category: null
  complaint: false
  transferred: false
  qa: {greeting: true, agent_named: false, id_check: false, anything_else_offered: false,
       closing: false}
  pii: []
  repeat_caller: false
"""


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    pytest.importorskip("piper")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "tiny.yaml").write_text(TINY)
    (call,) = load_scripts(tmp_path / "scripts")
    first = render_call(call, tmp_path / "a", seed=3)
    second = render_call(call, tmp_path / "b", seed=3)
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.turns == second.turns
    audio, rate = _decode(first.path)
    assert audio.shape[0] == 2
    agent, caller = first.turns
    assert caller.start_s < agent.end_s  # the overlap was honoured
    assert abs(audio.shape[1] / rate - first.duration_s) < 0.1
