"""Hallucination guards: what Whisper writes that nobody said (non-speech markers, repetition
loops, stock video phrases, its prompt recited, improbable text) is dropped."""

from __future__ import annotations

import math
import re

from pipeline.transcribe.types import Word

__all__ = ["collapse_loops", "is_non_speech", "plausible"]

# Whisper's markers for non-speech: [Music], (laughs), ♪, lone punctuation.
_NON_SPEECH = re.compile(r"^([\[\(].*[\]\)]|[♪♫\W]+)$")

# Text tiny.en produces from silence and music (it was trained on subtitled video).
_HALLUCINATIONS = {
    "thanks for watching",
    "thank you for watching",
    "thank you so much for watching",
    "please subscribe",
    "like and subscribe",
    "subtitles by the amaraorg community",
    "transcription by castingwords",
}


def is_non_speech(text: str) -> bool:
    """Whether a word is one of Whisper's non-speech markers."""
    return bool(_NON_SPEECH.match(text))


def collapse_loops(words: list[Word]) -> list[Word]:
    """Remove Whisper's repetition loops: a phrase said 3+ times running (a word 5+) kept once."""
    tokens = [_norm(w.text) for w in words]
    keep = [True] * len(words)
    i = 0
    while i < len(words):
        skipped = False
        for n in range(1, 7):
            gram = tokens[i : i + n]
            if len(gram) < n:
                break
            repeats = 1
            while tokens[i + repeats * n : i + (repeats + 1) * n] == gram:
                repeats += 1
            if repeats >= (5 if n == 1 else 3):
                for j in range(i + n, i + repeats * n):
                    keep[j] = False
                i += repeats * n
                skipped = True
                break
        if not skipped:
            i += 1
    return [w for w, k in zip(words, keep, strict=True) if k]


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9' ]", "", text.lower()).strip()


def plausible(fragment: list[Word], min_probability: float, prompt: str | None) -> bool:
    """False for the text Whisper makes up: stock video phrases, echoes of the prompt, noise."""
    text = " ".join(_norm(w.text) for w in fragment).strip()
    if not text or text in _HALLUCINATIONS:
        return False
    # Geometric mean: one near-impossible word sinks a short fragment ("Thank you." made up
    # from hold music scores 0.004 and 0.97) but barely moves a long, real one.
    log_mean = sum(math.log(max(w.probability, 1e-6)) for w in fragment) / len(fragment)
    if math.exp(log_mean) < min_probability:
        return False
    # tiny.en sometimes recites its prompt over noise. Eight words straight out of it is a
    # recital: a caller may say "council tax single person discount", not a list of terms.
    return not (
        prompt and len(fragment) >= 8 and _norm(" ".join(w.text for w in fragment)) in _norm(prompt)
    )
