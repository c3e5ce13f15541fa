"""`screen_call`: one sampled call screened end to end, as the rows it adds to the night.

    SampledCall -> recording check (recordings.py) -> Transcript (pipeline/transcribe/)
        -> Tags, redaction (pipeline/tagging/) -> Scorecard and turn rows (scorecard.py)

A call that cannot be screened becomes a failure row naming the stage (`recording`,
`transcribe`, `tag`) and the reason; only a missing model or a broken rule pack raises
(`FATAL_ERRORS`: no call could succeed without them).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faster_whisper import WhisperModel
from spacy.language import Language

from pipeline.errors import ModelNotFoundError, RulePackError
from pipeline.recordings import resolve_recording
from pipeline.scorecard import (
    SampledCall,
    Thresholds,
    build_scorecard,
    restricted_rows,
    transcript_rows,
)
from pipeline.tagging import load_pipeline, load_qa_weights, tag_transcript
from pipeline.transcribe import load_model, transcribe_call

__all__ = [
    "FATAL_ERRORS",
    "CallOutcome",
    "ScreeningModels",
    "ScreeningOptions",
    "load_screening_models",
    "screen_call",
]

#: Errors that stop the whole night: no call can succeed without the models.
FATAL_ERRORS = (ModelNotFoundError, RulePackError)


@dataclass(frozen=True)
class ScreeningOptions:
    """How a night's calls are screened; picklable for Dask (no key, no model, no text).

    `low_confidence` is the mean word confidence below which transcription marks a transcript
    for a person to check; `cache_dir` keeps transcripts so a re-run does not redo them.
    """

    recordings: Path
    run_id: str
    whisper_model: str
    compute_type: str
    cpu_threads: int
    low_confidence: float
    thresholds: Thresholds = field(default_factory=Thresholds)
    cache_dir: Path | None = None


@dataclass(frozen=True)
class ScreeningModels:
    """The loaded models one process screens with, shared by its threads, never passed
    between tasks."""

    whisper: WhisperModel
    nlp: Language
    qa_weights: dict[str, float]
    # spaCy and Presidio are not documented as thread-safe; tagging is ~2% of a call.
    tag_lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)


def load_screening_models(
    whisper_model: str, *, compute_type: str, cpu_threads: int
) -> ScreeningModels:
    """The Whisper model named (as `ScreeningOptions` names it) and the shipped tagger;
    raises FATAL_ERRORS."""
    whisper = load_model(whisper_model, compute_type=compute_type, cpu_threads=cpu_threads)
    return ScreeningModels(whisper, load_pipeline(), load_qa_weights())


@dataclass
class CallOutcome:
    """One call's result: a scorecard row and its turn rows, or a failure row."""

    call_id: str
    scorecard: dict[str, Any] | None = None
    transcripts: list[dict[str, Any]] = field(default_factory=list)
    restricted: list[dict[str, Any]] = field(default_factory=list)
    failure: dict[str, Any] | None = None

    @classmethod
    def failed(cls, call: SampledCall, stage: str, reason: str, run_id: str) -> CallOutcome:
        """The `failures/` row of a call that stopped at `stage`."""
        return cls(
            call.call_id,
            failure={
                "call_id": call.call_id,
                "stage": stage,
                "reason": reason,
                "recording": call.recording,
                "run_id": run_id,
            },
        )


def screen_call(
    call: SampledCall, options: ScreeningOptions, models: ScreeningModels
) -> CallOutcome:
    """One call end to end: recording check, transcript, tags, redaction, scorecard.

    `models` must be those `options` names (`load_screening_models`): the Whisper model's name
    and compute type key the transcript cache.
    """
    checked = resolve_recording(options.recordings, call.recording)
    if checked.path is None:
        return CallOutcome.failed(call, "recording", checked.reason or "refused", options.run_id)
    transcript = transcribe_call(
        checked.path,
        layout=call.channel_layout,
        model=models.whisper,
        compute_type=options.compute_type,
        cache_dir=options.cache_dir,
        low_confidence=options.low_confidence,
        expected_duration_s=call.duration_s,
    )
    if transcript.status == "unreadable":
        reason = transcript.reason or "unreadable"
        return CallOutcome.failed(call, "transcribe", reason, options.run_id)
    try:
        with models.tag_lock:
            tags = tag_transcript(transcript.turns, models.nlp)
        card = build_scorecard(
            call,
            transcript,
            tags,
            qa_weights=models.qa_weights,
            thresholds=options.thresholds,
            run_id=options.run_id,
        )
        return CallOutcome(
            call.call_id,
            scorecard=card.row(),
            transcripts=transcript_rows(call.call_id, transcript, tags),
            restricted=restricted_rows(call.call_id, transcript, tags),
        )
    except FATAL_ERRORS:
        raise
    except Exception as exc:  # one bad call must not stop the night
        # Only the type: a message could quote the transcript.
        reason = f"tagging failed ({type(exc).__name__})"
        return CallOutcome.failed(call, "tag", reason, options.run_id)
