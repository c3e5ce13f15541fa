"""One call in, one `Transcript` out: `transcribe_call` runs the steps of this package in order
(see pipeline/transcribe/__init__.py), with the cache and the recording's faults around them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from faster_whisper import WhisperModel

from pipeline.audio import (
    SAMPLE_RATE,
    Region,
    decode_channels,
    file_sha256,
    measure,
    recording_faults,
    silent_channel,
    speech_regions,
)
from pipeline.diarize import speaker_track
from pipeline.errors import AudioError
from pipeline.transcribe.cache import cache_key, read_cached, write_cached
from pipeline.transcribe.confidence import assess
from pipeline.transcribe.guards import plausible
from pipeline.transcribe.models import DEFAULT_MODEL, load_model, model_id
from pipeline.transcribe.mono import mono_turns
from pipeline.transcribe.prompt import domain_prompt
from pipeline.transcribe.recognise import recognise
from pipeline.transcribe.turns import fragments, stereo_turns
from pipeline.transcribe.types import LAYOUTS, Status, TranscribeOptions, Transcript, Turn

__all__ = ["transcribe_call", "transcribe_files"]


def transcribe_call(
    path: Path,
    *,
    layout: str = "agent_left",
    model: str | WhisperModel = DEFAULT_MODEL,
    compute_type: str = "int8",
    cpu_threads: int = 0,
    cache_dir: Path | None = None,
    low_confidence: float = 0.55,
    options: TranscribeOptions | None = None,
    models_dir: Path | None = None,
    expected_duration_s: float | None = None,
) -> Transcript:
    """Transcribe one call recording into speaker turns with audio metrics.

    `layout` says which stereo channel is the agent (`agent_left`, `agent_right`) or that the
    recording is `mono`; a one-channel file is treated as mono whatever the layout says.
    `model` is a name for `load_model` (`tiny.en` or a model folder) or a model it returned.
    With `cache_dir`, a transcript is stored under a key of (audio bytes, model, layout,
    options, vocabulary) and returned from there on a re-run (`cached=True`); a model object
    that `load_model` did not make has no name to key by, so it is never cached.

    A file that cannot be read or decoded gives `status="unreadable"` with the reason; a file
    without speech gives `status="no_speech"`; a recording shorter than its header or than
    `expected_duration_s` (the call log's duration), with a dead channel, or clipped
    throughout gives `status="recording_fault"` with `faults` and the reason, whatever was
    said on it (a stereo file with a dead channel is transcribed as mono). Raises only for
    caller errors: an unknown layout (ValueError) or missing model weights (ModelNotFoundError).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    path = Path(path)
    options = options or TranscribeOptions()
    name = model_id(model)
    if name is None:
        cache_dir = None
        name = "unnamed WhisperModel"
    try:
        sha = file_sha256(path)
    except OSError as exc:
        return _failed(path, layout, name, "", f"cannot read {path}: {exc.strerror or exc}")
    prompt = domain_prompt(models_dir) if options.use_vocabulary else None
    key = cache_key(
        sha, name, compute_type, layout, options, prompt, expected_duration_s, low_confidence
    )
    if cache_dir is not None:
        hit = read_cached(cache_dir, key, str(path))
        if hit is not None:
            return hit
    try:
        audio = decode_channels(path)
    except AudioError as exc:
        return _failed(path, layout, name, sha, str(exc))
    whisper = (
        model
        if isinstance(model, WhisperModel)
        else load_model(model, compute_type=compute_type, cpu_threads=cpu_threads)
    )
    faults = recording_faults(audio, expected_duration_s)
    channels = audio.channels
    dead = silent_channel(audio)
    if dead is not None:
        # One side was never recorded, or both sides went into one channel (a common wiring
        # mistake): what is there is a mono call.
        channels, layout = [channels[1 - dead]], "mono"
    transcript = _transcribe_decoded(
        channels, str(path), layout, whisper, name, sha, options, prompt, low_confidence
    )
    if faults:
        transcript.status = "recording_fault"
        transcript.faults = [f.name for f in faults]
        transcript.reason = "; ".join(f"{f.name}: {f.reason}" for f in faults)
    if cache_dir is not None:
        write_cached(cache_dir, key, transcript)
    return transcript


def transcribe_files(
    paths: Iterable[Path],
    *,
    layout: str = "agent_left",
    model: str = DEFAULT_MODEL,
    compute_type: str = "int8",
    cpu_threads: int = 0,
    cache_dir: Path | None = None,
    low_confidence: float = 0.55,
) -> list[Transcript]:
    """`transcribe_call` over several files with one shared model (for `callqa transcribe`)."""
    return [
        transcribe_call(
            Path(p),
            layout=layout,
            model=model,
            compute_type=compute_type,
            cpu_threads=cpu_threads,
            cache_dir=cache_dir,
            low_confidence=low_confidence,
        )
        for p in paths
    ]


def _transcribe_decoded(
    channels: list[np.ndarray],
    file: str,
    layout: str,
    whisper: WhisperModel,
    model_name: str,
    sha: str,
    options: TranscribeOptions,
    prompt: str | None,
    low_confidence: float,
) -> Transcript:
    """The transcript of decoded channels: speech found, recognised, turned into turns, judged."""
    mono = layout == "mono" or len(channels) == 1
    signals = _signals(channels, layout, mono)
    duration = len(signals[0]) / SAMPLE_RATE
    regions = [speech_regions(s, threshold=options.vad_threshold) for s in signals]
    if mono:
        metrics = measure(duration, None, None, mono=regions[0])
    else:
        metrics = measure(duration, regions[0], regions[1])
    talk_s = sum(e - s for r in regions for s, e in r)
    status, reason, turns = _turns(whisper, signals, regions, mono, options, prompt, talk_s)
    assessed = assess(turns, status, talk_s, low_confidence)
    return Transcript(
        file=file,
        duration_s=round(duration, 2),
        layout="mono" if mono else layout,
        confidence=assessed.confidence,
        status=status,
        reason=reason or assessed.reason,
        turns=turns,
        metrics=metrics,
        low_confidence=assessed.low_confidence,
        model=model_name,
        audio_sha256=sha,
    )


def _signals(channels: list[np.ndarray], layout: str, mono: bool) -> list[np.ndarray]:
    """The channels to transcribe: the agent's first on a stereo call; one on a mono call."""
    if mono:
        return [channels[0] if len(channels) == 1 else _mix(channels[0], channels[1])]
    agent = 0 if layout == "agent_left" else 1
    return [channels[agent], channels[1 - agent]]


def _mix(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Both channels of a stereo file as one (for a stereo file said to be mono)."""
    return ((left.astype(np.int32) + right) // 2).astype(np.int16)


def _turns(
    whisper: WhisperModel,
    signals: list[np.ndarray],
    regions: list[list[Region]],
    mono: bool,
    options: TranscribeOptions,
    prompt: str | None,
    talk_s: float,
) -> tuple[Status, str | None, list[Turn]]:
    """The call's turns, with its status and (when there are none) the reason why."""
    if not any(regions):
        return "no_speech", "no speech detected", []
    by_channel = [
        [
            frag
            for frag in fragments(words, options.pause_s, regions[ch] if mono else None)
            if plausible(frag, options.min_word_probability, prompt)
        ]
        for ch, words in enumerate(recognise(whisper, signals, regions, options, prompt))
    ]
    if not any(by_channel):
        return "no_speech", f"{talk_s:.1f} s of sound like speech, but nothing intelligible", []
    if mono:
        track = speaker_track(signals[0], regions[0])
        return "ok", None, mono_turns(by_channel[0], options.merge_gap_s, track)
    return "ok", None, stereo_turns(by_channel, options.merge_gap_s)


def _failed(path: Path, layout: str, model_name: str, sha: str, reason: str) -> Transcript:
    return Transcript(
        file=str(path),
        duration_s=0.0,
        layout=layout,
        confidence=None,
        status="unreadable",
        reason=reason,
        turns=[],
        metrics=None,
        low_confidence=False,
        model=model_name,
        audio_sha256=sha,
    )
