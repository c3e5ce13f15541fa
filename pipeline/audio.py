"""Decode call recordings, split their channels, find speech, and measure the conversation.

Phone systems write WAV (8/16-bit PCM, G.711 mu-law/A-law), MP3, FLAC, Ogg/Opus and M4A at
8-48 kHz, mono or stereo. Everything is decoded with PyAV (which faster-whisper already
brings) and resampled to 16 kHz, one array per channel, because that is what both Whisper and
the Silero voice-activity detector want. Channels are kept as 16-bit integers (what
faster-whisper's own decoder produces) and turned into float32 a stretch at a time: an
hour-long stereo call is then 230 MB in memory instead of 460 MB.

Speech is found with faster-whisper's Silero VAD on each channel separately; the same speech
regions feed the transcriber (so silence is never decoded) and the metrics below.

`recording_faults` tells a broken recording from a quiet call: cut short (shorter than its WAV
header or the call log says), a channel silent throughout (a stereo recorder wired to one
side only), or clipped throughout (a gain set far too high). Those are faults for IT, not
"no speech" for a quality lead.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps

from pipeline.errors import AudioError

__all__ = [
    "FAULT_NAMES",
    "SAMPLE_RATE",
    "AudioMetrics",
    "DecodedAudio",
    "Fault",
    "Region",
    "decode_channels",
    "file_sha256",
    "measure",
    "pad_regions",
    "recording_faults",
    "silent_channel",
    "speech_regions",
    "to_float",
]

#: Whisper and Silero both work at 16 kHz.
SAMPLE_RATE = 16_000

#: A speech region as (start_s, end_s) on one channel.
Region = tuple[float, float]

# Silero settings for *measuring* speech: no padding (padding would inflate talk time and hide
# overtalk), short minimum silence so turn-taking gaps count as silence. A higher threshold
# than Silero's 0.5 keeps line echo and hold music from counting as talk.
_METRIC_VAD = VadOptions(
    threshold=0.5,
    min_speech_duration_ms=120,
    min_silence_duration_ms=250,
    speech_pad_ms=0,
)
_VAD_BLOCK = 30 * SAMPLE_RATE
_VAD_OVERLAP = 1 * SAMPLE_RATE
# Regions closer than this are one region cut in two at a block boundary (real pauses are
# at least min_silence_duration_ms long).
_JOIN_S = 0.05


#: Recording faults, in the order they are reported (also scorecard flag names).
FAULT_NAMES = ("truncated_recording", "silent_channel", "clipped")

# A recording this much shorter than its header or the call log declares is cut short. The
# slack allows for a log that counts ring time, and for a header rounded to whole seconds.
_SHORT_RATIO = 0.75
_SHORT_MIN_S = 2.0
# A channel is silent when its level is below -60 dBFS, or 40 dB below the other channel's:
# line hiss on a dead channel sits near -70 dBFS; crosstalk from the other side of a working
# call is rarely more than 30 dB down.
_SILENT_DBFS = -60.0
_SILENT_BELOW_DB = 40.0
# Clipped: samples within 0.5% of full scale (resampling rounds a clipped plateau a little
# below the rail) in at least half of the seconds that have sound. Speech at a sane gain
# touches full scale in well under 1% of its seconds.
_RAIL = 32_600
_CLIPPED_SECONDS_RATIO = 0.5
_SOUND_DBFS = -45.0


@dataclass
class DecodedAudio:
    """A recording decoded to 16 kHz int16, one array per channel (1 or 2); see `to_float`.

    `declared_s` is the length the file's header declares (WAV only; None where a format
    has no such field or it is unset).
    """

    channels: list[np.ndarray]
    source_rate: int
    source_channels: int
    codec: str
    declared_s: float | None = None

    @property
    def duration_s(self) -> float:
        return len(self.channels[0]) / SAMPLE_RATE if self.channels else 0.0


@dataclass(frozen=True)
class Fault:
    """A recording fault: `name` from FAULT_NAMES and the measurement that shows it."""

    name: str
    reason: str


@dataclass
class AudioMetrics:
    """How the conversation sounded, from speech detection alone (no transcript needed).

    `talk_ratio_agent` is the agent's share of all talk time and `overtalk_s` the time both
    channels speak at once; both are None for mono recordings, which cannot tell who speaks.
    `silence_ratio` is the share of the recording where nobody speaks; `longest_silence_s` the
    longest stretch with nobody speaking (dead air, a long hold), the whole file if nobody does.
    """

    duration_s: float
    talk_ratio_agent: float | None
    silence_ratio: float
    longest_silence_s: float
    overtalk_s: float | None


def file_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes, read in blocks (recordings can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def to_float(samples: np.ndarray) -> np.ndarray:
    """int16 samples (or a stretch of them) as float32 in [-1, 1), as Whisper and Silero want."""
    if samples.dtype == np.float32:
        return samples
    return samples.astype(np.float32) / 32768.0


class _Growable:
    """An int16 buffer that grows by doubling, so a long call is never held twice as lists."""

    def __init__(self, capacity: int) -> None:
        self._data = np.empty(max(capacity, 1), dtype=np.int16)
        self._size = 0

    def extend(self, values: np.ndarray) -> None:
        need = self._size + len(values)
        if need > len(self._data):
            grown = np.empty(max(need, 2 * len(self._data)), dtype=np.int16)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        self._data[self._size : need] = values
        self._size = need

    def array(self) -> np.ndarray:
        # A view, not a copy: copying an hour-long channel would briefly need it twice over.
        # The capacity was sized from the container's duration, so little is left spare.
        return self._data[: self._size]


def decode_channels(path: Path) -> DecodedAudio:
    """Decode any audio file PyAV/FFmpeg can read into 16 kHz int16 channels.

    Stereo files give two arrays (left, right); mono files one; files with more channels give
    their first two. Raises `AudioError` with the decoder's message when the file cannot be
    opened, has no audio stream, or yields no samples.
    """
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, OSError) as exc:
        raise AudioError(f"cannot decode {path}: {exc}") from exc
    with container:
        if not container.streams.audio:
            raise AudioError(f"cannot decode {path}: the file has no audio stream")
        stream = container.streams.audio[0]
        source_channels = stream.codec_context.channels or 1
        n_out = 1 if source_channels == 1 else 2
        resampler = av.AudioResampler(
            format="s16p", layout="mono" if n_out == 1 else "stereo", rate=SAMPLE_RATE
        )
        # Size the buffers from the container's duration so a one-hour call is not regrown.
        expected = int((container.duration or 0) / 1_000_000 * SAMPLE_RATE * 1.02) + SAMPLE_RATE
        buffers = [_Growable(expected) for _ in range(n_out)]
        errors: list[str] = []
        try:
            for frame in _frames(container, stream, errors):
                for out in resampler.resample(frame):
                    _append(out, buffers)
            for out in resampler.resample(None):
                _append(out, buffers)
        except (av.FFmpegError, ValueError) as exc:
            errors.append(str(exc))
        channels = [b.array() for b in buffers]
        if not len(channels[0]):
            reason = errors[0] if errors else "no audio samples decoded"
            raise AudioError(f"cannot decode {path}: {reason}")
        if source_channels == 2 and _same_signal(channels[0], channels[1]):
            # A mono recording saved as two identical channels: one channel is the call.
            channels = channels[:1]
        return DecodedAudio(
            channels=channels,
            source_rate=stream.codec_context.sample_rate or 0,
            source_channels=source_channels,
            codec=stream.codec_context.name,
            declared_s=_wav_declared_s(path),
        )


def _wav_declared_s(path: Path) -> float | None:
    """The length a RIFF/WAVE header declares (data chunk size / byte rate), else None.

    FFmpeg reports a WAV's duration from the bytes actually present, so a file cut short
    looks whole to PyAV; the header is the only record of what the recorder meant to write.
    Python's `wave` module reads only PCM, not the G.711 WAVs phone systems write, so the
    two chunks needed are read here.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            byte_rate = 0
            while chunk := fh.read(8):
                if len(chunk) < 8:
                    return None
                kind, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if kind == b"fmt ":
                    fmt = fh.read(size + (size & 1))
                    byte_rate = struct.unpack("<I", fmt[8:12])[0] if len(fmt) >= 12 else 0
                elif kind == b"data":
                    # 0 and 0xFFFFFFFF mean "unknown" (written by streaming recorders).
                    if not byte_rate or size in (0, 0xFFFFFFFF):
                        return None
                    return size / byte_rate
                else:
                    fh.seek(size + (size & 1), 1)
    except OSError:
        return None
    return None


def _dbfs(samples: np.ndarray) -> float:
    """The RMS level of int16 samples in dB below full scale, a minute at a time."""
    step = 60 * SAMPLE_RATE
    power = sum(
        float(np.square(samples[i : i + step], dtype=np.float64).sum())
        for i in range(0, len(samples), step)
    )
    rms = math.sqrt(power / max(len(samples), 1)) / 32768.0
    return 20 * math.log10(max(rms, 1e-10))


def silent_channel(audio: DecodedAudio) -> int | None:
    """The index of a stereo recording's channel that is silent throughout, else None.

    Mono files (and stereo files saved as two copies of one channel) have no such channel.
    """
    if len(audio.channels) != 2:
        return None
    levels = [_dbfs(c) for c in audio.channels]
    quiet = min(range(2), key=lambda i: levels[i])
    loud = 1 - quiet
    if levels[loud] <= _SILENT_DBFS:
        return None  # both quiet: a silent call (no_speech), not a dead channel
    if levels[quiet] <= _SILENT_DBFS or levels[loud] - levels[quiet] >= _SILENT_BELOW_DB:
        return quiet
    return None


def _clipped(samples: np.ndarray) -> float:
    """The share of seconds with sound in which the signal touches full scale."""
    sounding = clipped = 0
    floor = 32768.0 * 10 ** (_SOUND_DBFS / 20)
    for i in range(0, len(samples) - SAMPLE_RATE + 1, SAMPLE_RATE):
        second = samples[i : i + SAMPLE_RATE].astype(np.int32)
        if math.sqrt(float(np.mean(np.square(second, dtype=np.float64)))) < floor:
            continue
        sounding += 1
        clipped += int(np.count_nonzero(np.abs(second) >= _RAIL) >= 3)
    return clipped / sounding if sounding else 0.0


def recording_faults(audio: DecodedAudio, expected_duration_s: float | None = None) -> list[Fault]:
    """What is wrong with the recording itself, each with the figures that show it.

    `expected_duration_s` is the call log's duration of the call, when it has one.
    """
    faults: list[Fault] = []
    decoded = audio.duration_s
    for what, declared in (
        ("its header declares", audio.declared_s),
        ("the call log says", expected_duration_s),
    ):
        if declared and decoded < declared * _SHORT_RATIO and declared - decoded >= _SHORT_MIN_S:
            faults.append(
                Fault(
                    "truncated_recording",
                    f"{decoded:.2f} s of audio where {what} {declared:.1f} s",
                )
            )
            break
    dead = silent_channel(audio)
    if dead is not None:
        side = ("left", "right")[dead]
        levels = ", ".join(f"{_dbfs(c):.0f} dBFS" for c in audio.channels)
        faults.append(
            Fault("silent_channel", f"the {side} channel is silent throughout (levels {levels})")
        )
    for index, samples in enumerate(audio.channels):
        if index == dead:
            continue
        ratio = _clipped(samples)
        if ratio >= _CLIPPED_SECONDS_RATIO:
            name = (
                "the recording"
                if len(audio.channels) == 1
                else f"the {('left', 'right')[index]} channel"
            )
            faults.append(
                Fault("clipped", f"{name} hits full scale in {ratio:.0%} of the seconds with sound")
            )
            break
    return faults


def _frames(
    container: av.container.InputContainer, stream: av.AudioStream, errors: list[str]
) -> object:
    """Decoded frames, skipping the odd corrupt packet (phone systems write a few)."""
    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except av.error.InvalidDataError as exc:
            errors.append(str(exc))


def _append(frame: av.AudioFrame, buffers: Sequence[_Growable]) -> None:
    planes = frame.to_ndarray()
    for buffer, plane in zip(buffers, planes, strict=True):
        buffer.extend(plane)


def _same_signal(a: np.ndarray, b: np.ndarray) -> bool:
    # Block by block, stopping at the first difference: whole-array temporaries of an
    # hour-long call would cost more memory than the call itself.
    step = 60 * SAMPLE_RATE
    return len(a) == len(b) and all(
        np.allclose(a[i : i + step], b[i : i + step], rtol=0, atol=32)
        for i in range(0, len(a), step)
    )


def speech_regions(samples: np.ndarray, *, threshold: float = 0.5) -> list[Region]:
    """Where someone speaks on one channel, as (start_s, end_s), unpadded.

    Silero VAD via faster-whisper (ONNX Runtime, no torch), run afresh on 30 s blocks that
    overlap by 1 s. Run over a whole call, Silero's memory saturates during long hold music
    and it then misses the agent's first sentence back; the blocks also bound its memory.
    """
    options = VadOptions(
        threshold=threshold,
        min_speech_duration_ms=_METRIC_VAD.min_speech_duration_ms,
        min_silence_duration_ms=_METRIC_VAD.min_silence_duration_ms,
        speech_pad_ms=_METRIC_VAD.speech_pad_ms,
    )
    found: list[Region] = []
    for offset in range(0, len(samples), _VAD_BLOCK):
        lo = max(offset - _VAD_OVERLAP, 0)
        block = to_float(samples[lo : offset + _VAD_BLOCK])
        for stamp in get_speech_timestamps(block, options, sampling_rate=SAMPLE_RATE):
            found.append(((lo + stamp["start"]) / SAMPLE_RATE, (lo + stamp["end"]) / SAMPLE_RATE))
    # Speech across a block boundary is found by both blocks, or cut in two: join the pieces.
    regions: list[Region] = []
    for start, end in sorted(found):
        if regions and start - regions[-1][1] < _JOIN_S:
            regions[-1] = (regions[-1][0], max(end, regions[-1][1]))
        else:
            regions.append((start, end))
    return regions


def measure(
    duration_s: float,
    agent: Sequence[Region] | None,
    caller: Sequence[Region] | None,
    mono: Sequence[Region] | None = None,
) -> AudioMetrics:
    """Talk, silence and overtalk figures from each channel's speech regions.

    Stereo: pass `agent` and `caller`. Mono: pass only `mono` (the ratio and overtalk are None).
    """
    if mono is not None:
        union = _union(mono)
        talk_ratio = None
        overtalk = None
    else:
        agent, caller = list(agent or []), list(caller or [])
        union = _union([*agent, *caller])
        agent_talk = _total(_union(agent))
        caller_talk = _total(_union(caller))
        talk = agent_talk + caller_talk
        talk_ratio = round(agent_talk / talk, 4) if talk else None
        overtalk = round(_total(_intersect(_union(agent), _union(caller))), 2)
    spoken = _total(union)
    silence_ratio = 1.0 - spoken / duration_s if duration_s > 0 else 1.0
    edges = [(0.0, 0.0), *union, (duration_s, duration_s)]
    longest = max(b[0] - a[1] for a, b in itertools.pairwise(edges))
    return AudioMetrics(
        duration_s=round(duration_s, 2),
        talk_ratio_agent=talk_ratio,
        silence_ratio=round(min(max(silence_ratio, 0.0), 1.0), 4),
        longest_silence_s=round(longest, 2),
        overtalk_s=overtalk,
    )


def pad_regions(regions: Sequence[Region], pad_s: float, duration_s: float) -> list[Region]:
    """`regions` widened by `pad_s` each side (kept within 0..duration_s), overlaps merged."""
    return _union(
        [(max(0.0, start - pad_s), min(duration_s, end + pad_s)) for start, end in regions]
    )


def _union(regions: Sequence[Region]) -> list[Region]:
    merged: list[Region] = []
    for start, end in sorted(regions):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _intersect(a: Sequence[Region], b: Sequence[Region]) -> list[Region]:
    out: list[Region] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _total(regions: Sequence[Region]) -> float:
    return float(sum(end - start for start, end in regions))
