"""Confidence: how sure a transcript's words are, and whether a person should check it (judged
here, once; the scorecard reads `Transcript.low_confidence`)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from pipeline.transcribe.types import Status, Turn

__all__ = ["Assessment", "assess"]


class Assessment(NamedTuple):
    """The mean word probability (None without words), whether to check, and why."""

    confidence: float | None
    low_confidence: bool
    reason: str | None


def assess(turns: list[Turn], status: Status, talk_s: float, threshold: float) -> Assessment:
    """How sure the transcript is; `talk_s` is the speech the detector heard on all channels."""
    words = [w for t in turns for w in t.words]
    if not words:
        # Sound the detector took for speech yet nothing intelligible (another language,
        # a fax tone, music) is worth a person's ear.
        return Assessment(None, status == "no_speech" and talk_s > 10, None)
    confidence = round(float(np.mean([w.probability for w in words])), 3)
    low, why = _judge(confidence, len(words), talk_s, threshold)
    return Assessment(confidence, low, why)


def _judge(
    confidence: float, n_words: int, talk_s: float, threshold: float
) -> tuple[bool, str | None]:
    """Whether a person should check this transcript, and why."""
    if confidence < threshold:
        return True, f"mean word confidence {confidence:.2f} is below {threshold:.2f}"
    # People say 2-3 words a second; far fewer means speech (or music, or another language)
    # went untranscribed.
    if talk_s > 10 and n_words / talk_s < 0.6:
        return True, f"only {n_words} words for {talk_s:.0f} s of detected speech"
    return False, None
