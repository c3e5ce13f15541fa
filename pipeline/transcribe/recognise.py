"""Recognition: one batched Whisper pass over the packed speech of every channel, giving each
channel's words on its own clock."""

from __future__ import annotations

import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel

from pipeline.audio import SAMPLE_RATE, Region
from pipeline.transcribe.guards import collapse_loops, is_non_speech
from pipeline.transcribe.packing import assemble, map_word, packs
from pipeline.transcribe.types import TranscribeOptions, Word

__all__ = ["recognise"]

#: Packs handed to Whisper per call: bounds the memory a long call needs for packed audio.
_PACKS_PER_PASS = 16


def recognise(
    whisper: WhisperModel,
    signals: list[np.ndarray],
    regions: list[list[Region]],
    options: TranscribeOptions,
    prompt: str | None,
) -> list[list[Word]]:
    """Each channel's words in time order, Whisper's repetition loops removed."""
    gap = int(options.gap_s * SAMPLE_RATE)
    all_packs = list(packs(signals, regions, options.pad_s, gap))
    # In decoding order: a repetition loop is a run of what Whisper wrote.
    by_channel: list[list[Word]] = [[] for _ in signals]
    for first in range(0, len(all_packs), _PACKS_PER_PASS):
        group = all_packs[first : first + _PACKS_PER_PASS]
        packed, clips, pieces = assemble(signals, group, gap)
        # A fresh pipeline per pass: it remembers the last word time, which is meaningless
        # across separately packed audio.
        segments, _ = BatchedInferencePipeline(whisper).transcribe(
            packed,
            language="en",
            clip_timestamps=clips,
            batch_size=options.batch_size,
            beam_size=options.beam_size,
            word_timestamps=True,
            initial_prompt=prompt,
            condition_on_previous_text=False,
        )
        starts = [p.packed_start for p in pieces]
        for segment in segments:
            # Whisper's own no-speech rule: a window it thinks is silent and decodes badly.
            if segment.no_speech_prob > 0.6 and segment.avg_logprob < -1.0:
                continue
            for w in segment.words or []:
                mapped = map_word(w.start, w.end, pieces, starts)
                if mapped is None:
                    continue
                channel, start_s, end_s = mapped
                text = w.word.strip()
                if text and not is_non_speech(text):
                    by_channel[channel].append(
                        Word(start_s, end_s, text, round(float(w.probability), 3))
                    )
    return [sorted(collapse_loops(words), key=lambda w: w.start_s) for words in by_channel]
