"""pipeline/audio.py: decoding what phone systems write, speech detection, call metrics.

Codec fixtures are encoded inside the tests with PyAV from a rendered sample call, so every
format is checked against the same known audio.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import SAMPLE_RECORDINGS, SAMPLE_SCRIPTS

from pipeline.audio import (
    SAMPLE_RATE,
    AudioMetrics,
    decode_channels,
    file_sha256,
    measure,
    speech_regions,
    to_float,
)
from pipeline.errors import AudioError
from sample_data.scripted import ScriptedCall, load_scripts

CLIP_S = 8.0


def _scripts() -> list[ScriptedCall]:
    return load_scripts(SAMPLE_SCRIPTS)


def _recording(status: str, layout: str | None = None) -> tuple[ScriptedCall, Path]:
    for call in _scripts():
        path = SAMPLE_RECORDINGS / call.recording
        if call.expected_status == status and layout in (None, call.layout) and path.is_file():
            return call, path
    pytest.skip(f"no rendered {status} {layout or ''} sample call (run `callqa sample-data`)")


@pytest.fixture(scope="module")
def stereo_clip() -> np.ndarray:
    """The first seconds of a stereo sample call, (2, n) float32 at 16 kHz."""
    _, path = _recording("ok", "agent_left")
    audio = decode_channels(path)
    n = int(CLIP_S * SAMPLE_RATE)
    return np.stack([to_float(c[:n]) for c in audio.channels])


def _encode(clip: np.ndarray, path: Path, codec: str, rate: int, channels: int) -> None:
    """Write `clip` with PyAV as `codec` at `rate` Hz, mono (the mix) or stereo."""
    layout = "stereo" if channels == 2 else "mono"
    data = clip if channels == 2 else clip.mean(axis=0, keepdims=True)
    source = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(data, dtype=np.float32), format="fltp", layout=layout
    )
    source.sample_rate = SAMPLE_RATE
    source.pts = 0
    source.time_base = Fraction(1, SAMPLE_RATE)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        resampler = av.AudioResampler(
            format=stream.codec_context.codec.audio_formats[0].name, layout=layout, rate=rate
        )
        frame_size = stream.codec_context.frame_size or 1024
        fifo = av.AudioFifo()
        for frame in resampler.resample(source) + resampler.resample(None):
            frame.pts = None
            fifo.write(frame)
        for frame in fifo.read_many(frame_size, partial=True):
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def _envelope(x: np.ndarray) -> np.ndarray:
    """20 ms energy envelope: what survives any codec if the audio decoded right."""
    step = SAMPLE_RATE // 50
    frames = x[: len(x) // step * step].reshape(-1, step)
    return np.sqrt((frames**2).mean(axis=1))


CODECS = [
    # (file name, codec, sample rate, channels): what phone systems write.
    ("pcm16.wav", "pcm_s16le", 8000, 2),
    ("pcm8.wav", "pcm_u8", 11025, 1),
    ("mulaw.wav", "pcm_mulaw", 8000, 2),
    ("alaw.wav", "pcm_alaw", 8000, 1),
    ("call.mp3", "libmp3lame", 22050, 2),
    ("call.flac", "flac", 44100, 2),
    ("call.opus", "libopus", 48000, 2),
    ("call.m4a", "aac", 16000, 1),
    ("wide.wav", "pcm_s16le", 48000, 1),
]


@pytest.mark.parametrize(("name", "codec", "rate", "channels"), CODECS)
def test_each_codec_decodes_to_the_same_audio(
    tmp_path: Path, stereo_clip: np.ndarray, name: str, codec: str, rate: int, channels: int
) -> None:
    path = tmp_path / name
    _encode(stereo_clip, path, codec, rate, channels)

    audio = decode_channels(path)

    assert len(audio.channels) == channels
    assert audio.source_rate == rate
    # Encoders add a few ms of priming/padding; nothing more.
    assert audio.duration_s == pytest.approx(CLIP_S, abs=0.15)
    expected = stereo_clip if channels == 2 else stereo_clip.mean(axis=0, keepdims=True)
    for got, want in zip(audio.channels, expected, strict=True):
        a, b = _envelope(to_float(got)), _envelope(want)
        n = min(len(a), len(b))
        # Allow for codec delay by taking the best of small shifts.
        best = max(np.corrcoef(a[s:n], b[: n - s])[0, 1] for s in range(0, 4))
        assert best > 0.9


def test_identical_channels_are_one_channel(tmp_path: Path, stereo_clip: np.ndarray) -> None:
    """A mono recording saved as stereo must not be transcribed twice as two speakers."""
    same = np.stack([stereo_clip[0], stereo_clip[0]])
    path = tmp_path / "dup.wav"
    _encode(same, path, "pcm_s16le", 8000, 2)
    assert len(decode_channels(path).channels) == 1


def test_corrupt_sample_recording_raises_audio_error_with_decoder_reason() -> None:
    _, path = _recording("unreadable")
    with pytest.raises(AudioError, match="cannot decode"):
        decode_channels(path)


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00\x00\x00WAVEfmt garbage", b"not audio\n"])
def test_garbage_files_raise_audio_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError):
        decode_channels(path)


def test_sha256_changes_with_content(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"x" * 3_000_000)
    b.write_bytes(b"x" * 2_999_999 + b"y")
    assert file_sha256(a) != file_sha256(b)
    assert len(file_sha256(a)) == 64


def test_silent_sample_has_no_speech_regions() -> None:
    _, path = _recording("no_speech")
    audio = decode_channels(path)
    assert all(speech_regions(c) == [] for c in audio.channels)


def test_speech_regions_follow_the_script_speakers() -> None:
    """Each channel of a stereo call speaks about as often as its side has turns."""
    call, path = _recording("ok", "agent_left")
    audio = decode_channels(path)
    agent, caller = (speech_regions(c) for c in audio.channels)
    assert agent and caller
    for regions in (agent, caller):
        assert all(0 <= s < e <= audio.duration_s for s, e in regions)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(regions))
    metrics = measure(audio.duration_s, agent, caller)
    # The agent speaks first, in the opening greeting.
    assert agent[0][0] < caller[0][0]
    assert call.turns[0].speaker == "agent"
    assert 0.0 < metrics.talk_ratio_agent < 1.0  # type: ignore[operator]
    assert 0.0 < metrics.silence_ratio < 1.0


def test_hold_music_is_silence_and_overlaps_are_overtalk() -> None:
    """Scripts with hold music and talk-over: the metrics must see both."""
    held = [
        c
        for c in _scripts()
        if any(t.hold_before_s for t in c.turns) and (SAMPLE_RECORDINGS / c.recording).is_file()
    ]
    if not held:
        pytest.skip("no rendered sample call with hold music")
    call = held[0]
    audio = decode_channels(SAMPLE_RECORDINGS / call.recording)
    agent, caller = (speech_regions(c) for c in audio.channels)
    metrics = measure(audio.duration_s, agent, caller)
    longest_hold = max(t.hold_before_s or 0.0 for t in call.turns)
    assert metrics.longest_silence_s >= 0.9 * longest_hold
    overlapped = any(t.overlap_s for t in call.turns)
    assert (metrics.overtalk_s or 0.0) > (0.1 if overlapped else -1)


def test_measure_arithmetic() -> None:
    # 0-10 s recording; agent 1-4, caller 3-5 and 8-9: overlap 3-4, silence 0-1, 5-8, 9-10.
    m = measure(10.0, [(1.0, 4.0)], [(3.0, 5.0), (8.0, 9.0)])
    assert m == AudioMetrics(
        duration_s=10.0,
        talk_ratio_agent=0.5,
        silence_ratio=0.5,
        longest_silence_s=3.0,
        overtalk_s=1.0,
    )
    mono = measure(10.0, None, None, mono=[(1.0, 4.0)])
    assert mono.talk_ratio_agent is None and mono.overtalk_s is None
    assert mono.silence_ratio == pytest.approx(0.7)
    assert measure(5.0, [], []).longest_silence_s == 5.0
