"""Recording integrity (issue 17): a broken recording is a fault for IT, never `no_speech`.

Each faulty file is made from a real sample call with PyAV or the standard library (a WAV
cut short behind its header, a call half as long as its log row, a stereo file with one dead
channel, a clipped call), run through the real `transcribe_call` (tiny.en), and the night's
pieces: the scorecard row, Parquet written and read back, the night's summary.
"""

from __future__ import annotations

import struct
import wave
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import store
from pipeline.audio import FAULT_NAMES, decode_channels, recording_faults
from pipeline.calls import read_call_log
from pipeline.report import NightSummary
from pipeline.scorecard import FLAG_NAMES, SampledCall, Thresholds, build_scorecard
from pipeline.tagging import load_qa_weights, tag_transcript
from pipeline.transcribe import Transcript, transcribe_call
from sample_data.scripted import load_scripts

SAMPLE_DATA = Path(__file__).resolve().parents[1] / "sample_data"
RECORDINGS = SAMPLE_DATA / "recordings"
RATE = 8000


def _stereo_call() -> tuple[str, np.ndarray]:
    """The shortest two-voice sample call as (name, int16 (2, n) at 8 kHz)."""
    calls = [
        c
        for c in load_scripts(SAMPLE_DATA / "scripts")
        if c.expected_status == "ok"
        and c.layout == "agent_left"
        and (RECORDINGS / c.recording).is_file()
    ]
    if not calls:
        pytest.skip("no rendered sample calls (run `callqa sample-data`)")
    call = min(calls, key=lambda c: sum(len(t.text) for t in c.turns))
    import av

    with av.open(str(RECORDINGS / call.recording)) as container:
        resampler = av.AudioResampler(format="s16p", layout="stereo", rate=RATE)
        frames = [
            f.to_ndarray() for fr in container.decode(audio=0) for f in resampler.resample(fr)
        ]
    return call.name, np.concatenate(frames, axis=1)


def _write_wav(path: Path, samples: np.ndarray) -> Path:
    """int16 samples, (channels, n) or (n,), as a PCM WAV at 8 kHz."""
    data = samples if samples.ndim == 2 else samples[None, :]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(data.shape[0])
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.ascontiguousarray(data.T).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def call_audio() -> tuple[str, np.ndarray]:
    return _stereo_call()


def _card(transcript: Transcript, nlp: object, duration_s: float | None) -> dict[str, object]:
    call = SampledCall(
        call_id="HRW-FAULT",
        call_date=date(2025, 3, 31),
        started_at=None,
        agent_id="agent_tom_b",
        team="revenues",
        queue="council_tax",
        duration_s=duration_s,
        direction="inbound",
        recording="fault.wav",
        channel_layout="agent_left",
        sample_kind="random",
        stratum="council_tax",
        inclusion_prob=0.1,
        weight=10.0,
        repeat_caller=False,
        prior_calls_window=0,
    )
    tags = tag_transcript(transcript.turns, nlp)  # type: ignore[arg-type]
    return build_scorecard(
        call,
        transcript,
        tags,
        qa_weights=load_qa_weights(),
        thresholds=Thresholds(),
        run_id="test",
    ).row()


def _assert_fault(transcript: Transcript, name: str) -> None:
    assert transcript.status == "recording_fault", (transcript.status, transcript.reason)
    assert name in transcript.faults
    assert transcript.reason and name in transcript.reason
    assert transcript.status != "no_speech"


def test_fault_names_are_scorecard_flags() -> None:
    assert set(FAULT_NAMES) <= set(FLAG_NAMES)


def test_truncated_wav_is_a_recording_fault_not_no_speech(
    tmp_path: Path, call_audio: tuple[str, np.ndarray], whisper_model: object, nlp: object
) -> None:
    _, audio = call_audio
    whole = _write_wav(tmp_path / "whole.wav", audio)
    # What a recorder killed mid-call leaves: the header promises the whole call, 0.09 s is there.
    cut = tmp_path / "truncated.wav"
    cut.write_bytes(whole.read_bytes()[: 44 + int(0.09 * RATE) * 4])
    declared = audio.shape[1] / RATE
    transcript = transcribe_call(cut)
    _assert_fault(transcript, "truncated_recording")
    assert f"{declared:.1f} s" in (transcript.reason or "")
    assert transcript.duration_s < 0.2

    card = _card(transcript, nlp, None)
    assert "truncated_recording" in card["flags"] and "no_speech" not in card["flags"]
    assert card["needs_review"] and card["transcript_status"] == "recording_fault"
    assert "truncated_recording" in str(card["transcript_reason"])
    # Real Parquet, read back: the flag and the reason survive the round trip.
    store.write_partition(tmp_path / "out", store.SCORECARDS, date(2025, 3, 31), [card])
    back = store.read_table(tmp_path / "out", store.SCORECARDS)
    assert list(back["flags"].iloc[0]) == list(card["flags"])
    assert back["transcript_reason"].iloc[0] == card["transcript_reason"]
    summary = NightSummary.from_rows(
        call_date=date(2025, 3, 31),
        run_id="test",
        log_rows=1,
        rejected_rows=0,
        population=1,
        scorecards=back.to_dict("records"),
        failures=[],
        sampled=1,
        targeted=0,
        elapsed_s=1.0,
        out=tmp_path / "out",
    )
    assert summary.recording_faults == 1
    assert "1 recording faults" in summary.line()
    assert "| recording faults (for IT) | 1 |" in summary.markdown()


def test_recording_half_the_logs_duration_is_truncated(
    tmp_path: Path, call_audio: tuple[str, np.ndarray], whisper_model: object, nlp: object
) -> None:
    _, audio = call_audio
    clip = audio[:, : 15 * RATE]
    path = _write_wav(tmp_path / "half.wav", clip)
    # Whole and in time with its own header: only the call log knows it is half the call.
    assert recording_faults(decode_channels(path)) == []
    transcript = transcribe_call(path, expected_duration_s=30.0)
    _assert_fault(transcript, "truncated_recording")
    assert "call log" in (transcript.reason or "")
    assert transcript.turns, "what was recorded is still transcribed"
    card = _card(transcript, nlp, 30.0)
    assert "truncated_recording" in card["flags"] and "no_speech" not in card["flags"]
    # Faulted calls are not screened for checks they could not show.
    assert not any(str(f).startswith("qa:") for f in card["flags"])  # type: ignore[union-attr]


def test_stereo_with_a_dead_channel_is_transcribed_as_mono(
    tmp_path: Path, call_audio: tuple[str, np.ndarray], whisper_model: object, nlp: object
) -> None:
    _, audio = call_audio
    clip = audio[:, : 25 * RATE].astype(np.int32)
    # Both voices wired into the left channel; the right one carries only faint line hiss.
    left = ((clip[0] + clip[1]) // 2).astype(np.int16)
    hiss = np.random.default_rng(0).normal(0, 8, left.size).astype(np.int16)
    path = _write_wav(tmp_path / "one_sided.wav", np.stack([left, hiss]))
    transcript = transcribe_call(path, layout="agent_left")
    _assert_fault(transcript, "silent_channel")
    assert "right channel" in (transcript.reason or "")
    assert transcript.layout == "mono"
    speakers = {t.speaker for t in transcript.turns}
    assert {"agent", "caller"} <= speakers, [(t.speaker, t.text) for t in transcript.turns]
    card = _card(transcript, nlp, 25.0)
    assert "silent_channel" in card["flags"] and "no_speech" not in card["flags"]


def test_clipped_recording_is_flagged(tmp_path: Path, call_audio: tuple[str, np.ndarray]) -> None:
    _, audio = call_audio
    clip = np.clip(audio[:, : 15 * RATE].astype(np.int32) * 30, -32768, 32767).astype(np.int16)
    faults = recording_faults(decode_channels(_write_wav(tmp_path / "hot.wav", clip)))
    assert [f.name for f in faults] == ["clipped"]
    assert "full scale" in faults[0].reason


def test_the_sample_calls_have_no_faults() -> None:
    """No false alarms: every rendered sample call, against its own call-log duration."""
    log = read_call_log(SAMPLE_DATA / "calls.csv", caller_hash_key=b"k").calls
    recorded = log[log["recording"].notna()]
    checked = 0
    for row in recorded.itertuples():
        path = RECORDINGS / str(row.recording)
        if not path.is_file() or path.suffix != ".opus":
            continue
        duration = None if pd.isna(row.duration_s) else float(row.duration_s)
        assert recording_faults(decode_channels(path), duration) == [], row.recording
        checked += 1
    if not checked:
        pytest.skip("no rendered sample calls")


def test_wav_header_that_declares_its_real_length_is_not_truncated(tmp_path: Path) -> None:
    tone = (np.sin(np.arange(RATE * 3) * 0.2) * 3000).astype(np.int16)
    path = _write_wav(tmp_path / "tone.wav", tone)
    audio = decode_channels(path)
    assert audio.declared_s == pytest.approx(3.0)
    # A streaming recorder writes 0xFFFFFFFF as the data size: unknown, not "4 GB promised".
    raw = bytearray(path.read_bytes())
    raw[40:44] = struct.pack("<I", 0xFFFFFFFF)
    (tmp_path / "stream.wav").write_bytes(bytes(raw))
    assert decode_channels(tmp_path / "stream.wav").declared_s is None
