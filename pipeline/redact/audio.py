"""Silencing personal data in a recording: each span's words, found by their Whisper word
times, zeroed on the speaker's channel in a copy written as WAV or Ogg/Opus."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import AudioError
from pipeline.redact.spans import PIISpan

if TYPE_CHECKING:
    from pipeline.transcribe import Turn

__all__ = ["SILENCE_MARGIN_S", "silence_pii_audio"]

#: Silence this much either side of a word: Whisper's word times are good to about 0.1 s.
SILENCE_MARGIN_S = 0.08
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
_CHANNEL_OF = {
    "agent_left": {"agent": 0, "caller": 1},
    "agent_right": {"agent": 1, "caller": 0},
}


def _word_spans(turn: Turn) -> list[tuple[int, int]]:
    """Character span of each word in the turn's text (turn text = words joined by spaces)."""
    spans = []
    pos = 0
    for word in turn.words:
        piece = word.text.strip()
        at = turn.text.find(piece, pos) if piece else -1
        if at < 0:
            at = pos
        spans.append((at, at + len(piece)))
        pos = at + len(piece)
    return spans


def _silence_ranges(
    turns: Sequence[Turn], pii: Iterable[PIISpan], layout: str, margin_s: float
) -> list[tuple[float, float, int | None]]:
    """(start_s, end_s, channel or None for all) for every word a span touches."""
    channel_of = _CHANNEL_OF.get(layout, {})
    out = []
    for span in pii:
        turn = turns[span.turn]
        hit = [
            w
            for w, (s, e) in zip(turn.words, _word_spans(turn), strict=True)
            if s < span.end and e > span.start
        ]
        if not hit:
            continue
        channel = channel_of.get(turn.speaker)
        start = min(w.start_s for w in hit) - margin_s
        end = max(w.end_s for w in hit) + margin_s
        out.append((max(0.0, start), end, channel))
    return out


def silence_pii_audio(
    src: Path,
    dst: Path,
    turns: Sequence[Turn],
    pii: Iterable[PIISpan],
    *,
    layout: str = "agent_left",
    margin_s: float = SILENCE_MARGIN_S,
) -> Path:
    """Write `dst`, a copy of recording `src` with every personal-data span silenced.

    Each span's words (Word timestamps of `turns`, the transcript the spans were found in) are
    zeroed, `margin_s` either side, on the speaker's channel (`layout` agent_left/agent_right),
    or on every channel for mono recordings and unknown speakers. `dst` ending in .wav is
    16-bit PCM at the source rate; .opus/.ogg is Ogg/Opus. Everything else is left as it was.
    Raises AudioError when `src` cannot be decoded or `dst` cannot be written.
    """
    import numpy as np

    src, dst = Path(src), Path(dst)
    samples, rate = _read_audio(src)
    if samples.shape[0] == 1:
        layout = "mono"
    for start_s, end_s, channel in _silence_ranges(turns, pii, layout, margin_s):
        a, b = int(start_s * rate), min(samples.shape[1], int(np.ceil(end_s * rate)))
        if channel is None:
            samples[:, a:b] = 0
        else:
            samples[channel, a:b] = 0
    _write_audio(dst, samples, rate)
    return dst


def _read_audio(src: Path) -> tuple[Any, int]:
    """(channels, n) int16 samples of the first audio stream (at most two channels) and its
    sample rate."""
    import av
    import numpy as np

    try:
        with av.open(str(src)) as container:
            if not container.streams.audio:
                raise AudioError(f"cannot silence {src}: the file has no audio stream")
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate or 8000
            n_channels = min(2, stream.codec_context.channels or 1)
            resampler = av.AudioResampler(
                format="s16p", layout="stereo" if n_channels == 2 else "mono", rate=rate
            )
            chunks = []
            for frame in container.decode(stream):
                chunks.extend(f.to_ndarray() for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray() for f in resampler.resample(None))
    except (av.FFmpegError, OSError) as exc:
        raise AudioError(f"cannot decode {src}: {exc}") from exc
    if not chunks:
        raise AudioError(f"cannot decode {src}: no audio samples")
    return np.concatenate(chunks, axis=1), rate


def _write_audio(dst: Path, samples: Any, rate: int) -> None:
    import av

    layout = "stereo" if samples.shape[0] == 2 else "mono"
    opus = dst.suffix.lower() in (".opus", ".ogg")
    frame = av.AudioFrame.from_ndarray(samples.copy(), format="s16p", layout=layout)
    frame.rate = rate
    frame.pts = 0
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(dst), "w", format="ogg" if opus else "wav") as out:
            if opus:
                out_rate = rate if rate in _OPUS_RATES else 48000
                stream = out.add_stream("libopus", rate=out_rate, layout=layout)
            else:
                stream = out.add_stream("pcm_s16le", rate=rate, layout=layout)
            for packet in stream.encode(frame):
                out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
    except (av.FFmpegError, OSError) as exc:
        raise AudioError(f"cannot write {dst}: {exc}") from exc
