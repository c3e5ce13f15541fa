"""Speaker turns on mono recordings (issue 17): pipeline/diarize.py and the mono path of
pipeline/transcribe/mono.py, with the real tiny.en model on mono mixdowns of the sample calls.

Truth comes from the sample data (sample_data/turn_times.csv says where each turn's speech
sits; the scripts say who said which words), never from an earlier run of this code.
"""

from __future__ import annotations

import csv
import itertools
import wave
from pathlib import Path

import jiwer
import numpy as np
import pytest
from conftest import SAMPLE_DATA, SAMPLE_RECORDINGS, SAMPLE_SCRIPTS
from whisper_normalizer.english import EnglishTextNormalizer

from pipeline.audio import decode_channels, speech_regions
from pipeline.diarize import FRAMES_PER_S, speaker_track
from pipeline.transcribe import transcribe_call
from sample_data.scripted import ScriptedCall, load_scripts

_normalise = EnglishTextNormalizer()


def _two_voice_calls() -> list[ScriptedCall]:
    calls = [
        c
        for c in load_scripts(SAMPLE_SCRIPTS)
        if c.expected_status == "ok"
        and c.layout == "agent_left"
        and (SAMPLE_RECORDINGS / c.recording).is_file()
    ]
    if not calls:
        pytest.skip("no rendered sample calls (run `callqa sample-data`)")
    return sorted(calls, key=lambda c: sum(len(t.text) for t in c.turns))


def _turn_times(name: str) -> list[tuple[float, float, str]]:
    with open(SAMPLE_DATA / "turn_times.csv", encoding="utf-8") as fh:
        return [
            (float(r["start_s"]), float(r["end_s"]), r["speaker"])
            for r in csv.DictReader(fh)
            if r["name"] == name
        ]


def _mixdown(call: ScriptedCall, folder: Path) -> tuple[Path, np.ndarray]:
    """The stereo call as one channel (both voices summed), a 16 kHz WAV, and its samples."""
    left, right = decode_channels(SAMPLE_RECORDINGS / call.recording).channels
    mono = ((left.astype(np.int32) + right) // 2).astype(np.int16)
    path = folder / f"{call.name}_mono.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(mono.astype("<i2").tobytes())
    return path, mono


@pytest.mark.parametrize("index", [0, 1])
def test_the_two_voices_are_told_apart_frame_by_frame(tmp_path: Path, index: int) -> None:
    call = _two_voice_calls()[index]
    _, mono = _mixdown(call, tmp_path)
    track = speaker_track(mono, speech_regions(mono))
    assert track is not None and track.two_voices
    truth = np.full(len(track.llr), -1)
    for start, end, speaker in _turn_times(call.name):
        truth[int(start * FRAMES_PER_S) : int(end * FRAMES_PER_S)] = speaker == "caller"
    speech = np.zeros(len(track.llr), dtype=bool)
    for start, end in speech_regions(mono):
        speech[int(start * FRAMES_PER_S) : int(end * FRAMES_PER_S)] = True
    scored = speech & (truth >= 0)
    voice = (track.llr < 0).astype(int)
    accuracy = float(np.mean(voice[scored] == truth[scored]))
    # Voice numbers are arbitrary: either labelling may be the right one.
    assert max(accuracy, 1 - accuracy) >= 0.95


def _attribution(call: ScriptedCall, turns: list[tuple[str, str]]) -> tuple[int, int, int]:
    """(script words aligned, of those with the right speaker, of those left unknown)."""
    ref = [(t.speaker, w) for t in call.turns for w in _normalise(t.text).split()]
    hyp = [(s, w) for s, text in turns for w in _normalise(text).split()]
    out = jiwer.process_words(" ".join(w for _, w in ref), " ".join(w for _, w in hyp))
    aligned = right = unknown = 0
    for chunk in out.alignments[0]:
        if chunk.type not in ("equal", "substitute"):
            continue
        for i, j in zip(
            range(chunk.ref_start_idx, chunk.ref_end_idx),
            range(chunk.hyp_start_idx, chunk.hyp_end_idx),
            strict=True,
        ):
            aligned += 1
            right += hyp[j][0] == ref[i][0]
            unknown += hyp[j][0] == "unknown"
    return aligned, right, unknown


def test_mono_mixdown_gets_agent_and_caller_turns(tmp_path: Path, whisper_model: object) -> None:
    call = _two_voice_calls()[0]
    path, _ = _mixdown(call, tmp_path)
    transcript = transcribe_call(path, layout="mono")
    assert transcript.status == "ok" and transcript.layout == "mono"
    turns = transcript.turns
    aligned, right, unknown = _attribution(call, [(t.speaker, t.text) for t in turns])
    assert aligned >= 0.8 * sum(len(_normalise(t.text).split()) for t in call.turns)
    assert right / aligned >= 0.9, [(t.speaker, t.text) for t in turns]
    assert unknown / aligned <= 0.1
    assert turns[0].speaker == "agent"  # the agent answers the call
    # Invariants: time order, words inside their turn, a confidence for every speaker.
    starts = [t.start_s for t in turns]
    assert starts == sorted(starts)
    for turn in turns:
        assert 0.0 <= turn.speaker_confidence <= 1.0
        assert all(turn.start_s <= w.start_s <= w.end_s <= turn.end_s for w in turn.words)
        assert (turn.speaker == "unknown") or turn.speaker_confidence >= 0.3
    # Consecutive turns of one speaker close together would have been merged.
    for a, b in itertools.pairwise(turns):
        assert a.speaker != b.speaker or a.speaker == "unknown" or b.start_s - a.end_s >= 2.0


def test_a_quick_answer_inside_one_whisper_segment_is_split(
    tmp_path: Path, whisper_model: object
) -> None:
    """Agent and caller butted together 0.1 s apart, too close for a pause to split them:
    only the voice change inside Whisper's segment (word timestamps) can."""
    call = _two_voice_calls()[0]
    left, right = decode_channels(SAMPLE_RECORDINGS / call.recording).channels
    times = _turn_times(call.name)
    (a0, a1, first), (c0, c1, second) = times[0], times[1]
    assert (first, second) == ("agent", "caller")
    agent = left[int(a0 * 16_000) : int(a1 * 16_000)]
    caller = right[int(c0 * 16_000) : int(c1 * 16_000)]
    gap = np.zeros(1_600, dtype=np.int16)
    joined = np.concatenate([gap, agent, gap, caller, gap])
    path = tmp_path / "quick_answer.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(joined.astype("<i2").tobytes())
    transcript = transcribe_call(path, layout="mono")
    speakers = [t.speaker for t in transcript.turns]
    assert speakers[:2] == ["agent", "caller"], [(t.speaker, t.text) for t in transcript.turns]
    change_s = 0.1 + (a1 - a0) + 0.05
    assert abs(transcript.turns[1].start_s - change_s) < 0.6
