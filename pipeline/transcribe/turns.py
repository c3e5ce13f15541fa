"""Words to turns: a channel's words split into fragments at pauses, stretches of one speaker
merged, and stereo turns put in time order (mono voices: mono.py)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.audio import Region, pad_regions
from pipeline.transcribe.types import Speaker, Turn, Word

__all__ = ["Stretch", "fragments", "make_turn", "merge_close", "stereo_turns"]

#: The shortest pause between two speakers on a mono call that the speech detector can use.
_SPEAKER_CHANGE_S = 0.3
#: Who speaks on each channel of a stereo call, once the agent's channel is put first.
_STEREO_SPEAKERS: tuple[Speaker, Speaker] = ("agent", "caller")


@dataclass
class Stretch:
    """Consecutive words from one `source` (a stereo channel, or a voice on a mono call) and,
    on a mono call, how sure each word's voice is."""

    source: int
    words: list[Word]
    voice_confidences: list[float] = field(default_factory=list)


def fragments(
    words: list[Word], pause_s: float, regions: Sequence[Region] | None = None
) -> list[list[Word]]:
    """One channel's words split wherever the speaker pauses for `pause_s` or more.

    With `regions` (the channel's speech regions), also split where the speech detector heard
    a pause: on a mono call the gap between two speakers is often shorter than Whisper's
    word timings can show, but the detector hears it.
    """
    # Only pauses long enough to be a change of speaker; commas and full stops are shorter.
    starts = [start for start, _ in pad_regions(regions or [], _SPEAKER_CHANGE_S / 2, math.inf)]

    def region_of(word: Word) -> int:
        return bisect.bisect_right(starts, (word.start_s + word.end_s) / 2)

    found: list[list[Word]] = []
    for word in sorted(words, key=lambda w: w.start_s):
        if (
            found
            and word.start_s - found[-1][-1].end_s < pause_s
            and (not starts or region_of(word) == region_of(found[-1][-1]))
        ):
            found[-1].append(word)
        else:
            found.append([word])
    return found


def make_turn(speaker: Speaker, words: list[Word]) -> Turn:
    """A turn of `words`, its confidence their mean probability."""
    return Turn(
        speaker=speaker,
        start_s=words[0].start_s,
        end_s=max(w.end_s for w in words),
        text=" ".join(w.text for w in words),
        confidence=round(sum(w.probability for w in words) / len(words), 3),
        words=words,
    )


def merge_close(stretches: list[Stretch], merge_gap_s: float) -> list[Stretch]:
    """Consecutive stretches of one source less than `merge_gap_s` apart, as one stretch."""
    merged: list[Stretch] = []
    for stretch in stretches:
        if (
            merged
            and merged[-1].source == stretch.source
            and stretch.words[0].start_s - merged[-1].words[-1].end_s < merge_gap_s
        ):
            merged[-1].voice_confidences.extend(stretch.voice_confidences)
            merged[-1].words.extend(stretch.words)
        else:
            merged.append(
                Stretch(stretch.source, list(stretch.words), list(stretch.voice_confidences))
            )
    return merged


def stereo_turns(by_channel: list[list[list[Word]]], merge_gap_s: float) -> list[Turn]:
    """Fragments of both channels (the agent's first) in time order; a speaker's consecutive
    fragments merge."""
    tagged = sorted(
        ((frag[0].start_s, ch, frag) for ch, frags in enumerate(by_channel) for frag in frags),
        key=lambda item: (item[0], item[1]),
    )
    merged = merge_close([Stretch(ch, frag) for _, ch, frag in tagged], merge_gap_s)
    return [make_turn(_STEREO_SPEAKERS[s.source], s.words) for s in merged]
