"""Packing: each channel's speech cut into pieces and packed into Whisper's 30 s windows, and
a word's time in the packed audio mapped back to its channel's clock."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from pipeline.audio import SAMPLE_RATE, Region, pad_regions, to_float

__all__ = ["Pack", "Piece", "assemble", "map_word", "packs"]

#: Whisper's window; packs stay a little under it so no speech is cut off.
_WINDOW_S = 29.5

#: One window's worth of speech: (channel, start_sample, end_sample) pieces of one channel.
Pack = list[tuple[int, int, int]]


@dataclass
class Piece:
    """A stretch of one channel placed into the packed audio handed to Whisper."""

    channel: int
    start: int  # sample on the channel's own clock
    end: int
    packed_start: int  # sample in the packed array


def packs(
    signals: list[np.ndarray], regions: list[list[Region]], pad_s: float, gap: int
) -> Iterator[Pack]:
    """Speech of each channel, padded, cut to <= 29.5 s, packed into windows of <= 29.5 s
    with `gap` samples of silence between pieces; a pack holds one channel."""
    limit = int(_WINDOW_S * SAMPLE_RATE)
    for channel, (signal, spans) in enumerate(zip(signals, regions, strict=True)):
        padded = pad_regions(spans, pad_s, len(signal) / SAMPLE_RATE)
        pieces: list[tuple[int, int]] = []
        for start_s, end_s in padded:
            start, end = int(start_s * SAMPLE_RATE), int(end_s * SAMPLE_RATE)
            while end - start > limit:
                cut = _quietest(signal, start + limit - 5 * SAMPLE_RATE, start + limit)
                pieces.append((start, cut))
                start = cut
            pieces.append((start, end))
        pack: Pack = []
        size = 0
        for start, end in pieces:
            if pack and size + gap + (end - start) > limit:
                yield pack
                pack, size = [], 0
            pack.append((channel, start, end))
            size += end - start + (gap if len(pack) > 1 else 0)
        if pack:
            yield pack


def _quietest(signal: np.ndarray, lo: int, hi: int) -> int:
    """The start of the quietest 100 ms between lo and hi: where to cut a long monologue."""
    step = SAMPLE_RATE // 10
    frames = to_float(signal[lo:hi][: (hi - lo) // step * step]).reshape(-1, step)
    return lo + int(np.argmin((frames**2).mean(axis=1))) * step


def assemble(
    signals: list[np.ndarray], group: list[Pack], gap: int
) -> tuple[np.ndarray, list[dict[str, float]], list[Piece]]:
    """One array of packed speech, Whisper's clip list over it, and where each piece came from."""
    chunks: list[np.ndarray] = []
    clips: list[dict[str, float]] = []
    pieces: list[Piece] = []
    offset = 0
    for pack in group:
        clip_start = offset
        for i, (channel, start, end) in enumerate(pack):
            if i:
                chunks.append(np.zeros(gap, dtype=np.float32))
                offset += gap
            chunks.append(to_float(signals[channel][start:end]))
            pieces.append(Piece(channel, start, end, offset))
            offset += end - start
        clips.append({"start": clip_start / SAMPLE_RATE, "end": offset / SAMPLE_RATE})
    return np.concatenate(chunks), clips, pieces


def map_word(
    start: float, end: float, pieces: list[Piece], starts: list[int]
) -> tuple[int, float, float] | None:
    """A word's packed time back to (channel, start_s, end_s) on its channel's clock.

    `starts` are the pieces' `packed_start`s. The piece is chosen by the word's middle and the
    word is clamped to it, so a word that straddles two packed pieces cannot stretch over the
    silence removed between them.
    """
    middle = int((start + end) / 2 * SAMPLE_RATE)
    index = bisect.bisect_right(starts, middle) - 1
    if index < 0:
        return None
    piece = pieces[index]
    length = piece.end - piece.start

    def to_call(t: float) -> float:
        inside = min(max(int(t * SAMPLE_RATE) - piece.packed_start, 0), length)
        return round((piece.start + inside) / SAMPLE_RATE, 3)

    return piece.channel, to_call(start), to_call(end)
