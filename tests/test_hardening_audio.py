"""Bad recordings: every one gets a status and a reason, none raises, none grows words.

`transcribe_call` (the function `callqa transcribe` and the nightly flow call) is given files
that are empty, cut short, not audio, silent, tones, music, clipped, 48 kHz, in every codec
this FFmpeg writes; then the shared hostile night (tests/hardening/night.py) must finish
with each bad one in failures/ or scored with no words.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLE_RECORDINGS, SAMPLE_SCRIPTS
from hardening.audio import (
    BAD_RECORDINGS,
    CODECS,
    WORDLESS,
    can_encode,
    encode,
    hold_music,
    speech,
)
from typer.testing import CliRunner

from pipeline import store
from pipeline.transcribe import Transcript, transcribe_call

#: What the speech source's agent says first (sample_data/scripts/ct_direct_debit.yaml).
GREETING_WORDS = {"good", "morning", "council", "speaking", "tom", "help", "today"}


def words(transcript: Transcript) -> list[str]:
    return [w.lower() for t in transcript.turns for w in re.findall(r"[a-zA-Z']+", t.text)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad-audio")
    return {name: build(SAMPLE_RECORDINGS, folder) for name, (build, _) in BAD_RECORDINGS.items()}


@pytest.mark.parametrize("name", list(BAD_RECORDINGS))
def test_each_bad_recording_gets_a_status_and_a_reason(
    corpus: dict[str, Path], whisper_model: object, name: str
) -> None:
    _, allowed = BAD_RECORDINGS[name]
    transcript = transcribe_call(corpus[name])
    assert transcript.status in allowed, (transcript.status, transcript.reason)
    if transcript.status != "ok":
        assert transcript.reason, "a call that is not ok must say why"
    if transcript.status not in ("ok", "recording_fault"):
        # A faulty recording keeps what could be heard on it (clipped speech, a dead channel).
        assert not transcript.turns
    json.dumps(transcript.to_json())  # what `callqa transcribe --json` prints
    for turn in transcript.turns:
        assert turn.start_s <= turn.end_s <= transcript.duration_s + 0.5


@pytest.mark.parametrize("name", sorted(WORDLESS))
def test_no_words_are_hallucinated_into_sound_without_speech(
    corpus: dict[str, Path], whisper_model: object, name: str
) -> None:
    transcript = transcribe_call(corpus[name])
    assert transcript.turns == [], f"{name}: hallucinated {[t.text for t in transcript.turns]}"
    assert transcript.status != "ok"


def test_hold_music_between_speech_adds_no_words(tmp_path: Path, whisper_model: object) -> None:
    """A call put on hold: greeting, 30 s of music on the agent's channel, greeting again."""
    clip = speech(SAMPLE_RECORDINGS, 6.0)[:, :]
    music = hold_music(30.0)
    path = encode(tmp_path / "on_hold.wav", np.concatenate([clip, music, clip], axis=1))
    transcript = transcribe_call(path)
    assert transcript.status == "ok"
    music_start, music_end = 6.0, 36.0
    during = [t.text for t in transcript.turns if music_start + 1 < t.start_s < music_end - 1]
    assert during == [], f"words during the hold music: {during}"


def test_speech_survives_clipping_and_48_khz(corpus: dict[str, Path], whisper_model: object):
    for name in ("clipped", "khz48"):
        got = set(words(transcribe_call(corpus[name])))
        assert len(got & GREETING_WORDS) >= 3, (name, got)


ENCODABLE = [c for c in CODECS if can_encode(c[0])]


@pytest.mark.parametrize(("codec", "fmt", "suffix", "rate", "channels"), ENCODABLE)
def test_every_codec_transcribes(
    tmp_path: Path,
    whisper_model: object,
    codec: str,
    fmt: str,
    suffix: str,
    rate: int,
    channels: int,
) -> None:
    clip = speech(SAMPLE_RECORDINGS, 5.0, rate=rate)[:channels]
    try:
        path = encode(tmp_path / f"call{suffix}", clip, codec=codec, fmt=fmt, rate=rate)
    except Exception as exc:  # this FFmpeg lists the codec but cannot write it this way
        pytest.skip(f"{codec}: cannot write a test file ({exc})")
    transcript = transcribe_call(path, layout="mono" if channels == 1 else "agent_left")
    assert transcript.status == "ok", transcript.reason
    assert len(set(words(transcript)) & GREETING_WORDS) >= 3, words(transcript)


@pytest.mark.skipif(
    not os.environ.get("CALLQA_SLOW_TESTS"),
    reason="about 3 minutes on 2 cores; set CALLQA_SLOW_TESTS=1 (benchmarks/hardening.py runs it)",
)
def test_two_hour_call(tmp_path: Path, whisper_model: object) -> None:
    rate = 8000
    rng = np.random.default_rng(0)
    signal = rng.normal(0, 0.001, (2, rate * 7200)).astype(np.float32)
    clip = speech(SAMPLE_RECORDINGS, 6.0)
    signal[:, rate * 3600 : rate * 3600 + clip.shape[1]] = clip
    path = encode(tmp_path / "two_hours.opus", signal, codec="libopus", fmt="ogg", bit_rate=6000)
    del signal
    transcript = transcribe_call(path)
    assert transcript.status == "ok"
    assert abs(transcript.duration_s - 7200) < 1
    assert all(3599 < t.start_s < 3610 for t in transcript.turns)
    assert len(set(words(transcript)) & GREETING_WORDS) >= 3


def test_callqa_transcribe_json_over_the_corpus(corpus: dict[str, Path]) -> None:
    from callqa.cli import app

    names = ["empty", "not_audio", "png", "directory", "video_only", "symlink_loop", "silence"]
    result = CliRunner().invoke(app, ["transcribe", "--json", *(str(corpus[n]) for n in names)])
    assert result.exit_code == 0, result.output
    decoder, text, objects = json.JSONDecoder(), result.stdout.strip(), []
    while text:
        obj, end = decoder.raw_decode(text)
        objects.append(obj)
        text = text[end:].strip()
    assert [o["status"] for o in objects] == ["unreadable"] * 6 + ["no_speech"]
    assert all(o["reason"] for o in objects)


# -- the night -------------------------------------------------------------------------------


def test_a_night_of_bad_recordings_completes(hardening_night) -> None:  # type: ignore[no-untyped-def]
    run, world = hardening_night.run, hardening_night.world
    assert run.returncode == 0, run.stderr[-3000:]
    manifest = store.read_table(run.out, store.SAMPLES)
    cards = store.read_table(run.out, store.SCORECARDS)
    failures = store.read_table(run.out, store.FAILURES)
    turns = store.read_table(run.out, store.TRANSCRIPTS)
    recorded = {c for c, k in world.kinds.items()}
    assert set(manifest["call_id"]) == recorded
    # Each drawn call exactly once: scored or failed, never both, never twice.
    assert cards["call_id"].is_unique and failures["call_id"].is_unique
    assert not set(cards["call_id"]) & set(failures["call_id"])
    assert set(cards["call_id"]) | set(failures["call_id"]) == recorded
    assert failures["reason"].str.len().min() > 0
    for call_id, kind in world.kinds.items():
        if kind.startswith("real:"):
            assert call_id in set(cards["call_id"]), kind
            assert (cards.set_index("call_id").loc[call_id, "transcript_status"]) == "ok"
        elif kind.removeprefix("bad:") in WORDLESS | {"half_second", "truncated_wav"}:
            said = turns[turns["call_id"] == call_id]["text"].tolist()
            assert said == [], f"{kind}: words in a recording without speech: {said}"
        elif kind.startswith("bad:"):
            assert call_id in set(failures["call_id"]), kind


def test_the_real_calls_keep_their_words(hardening_night) -> None:  # type: ignore[no-untyped-def]
    """The bad neighbours do not spoil the good calls: each has turns from both speakers."""
    import yaml

    run, world = hardening_night.run, hardening_night.world
    turns = store.read_table(run.out, store.TRANSCRIPTS)
    for call_id, kind in world.kinds.items():
        if not kind.startswith("real:"):
            continue
        script = yaml.safe_load((SAMPLE_SCRIPTS / f"{kind[5:]}.yaml").read_text())
        mine = turns[turns["call_id"] == call_id]
        assert len(mine) >= len(script["turns"]) // 2, kind
        if script["layout"] != "mono":
            assert set(mine["speaker"]) == {"agent", "caller"}, kind
