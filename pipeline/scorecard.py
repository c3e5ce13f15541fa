"""One scorecard row per sampled call, from the pieces the night produced.

    SampledCall (a manifest row) + Transcript (pipeline/transcribe/) + Tags (pipeline/tagging/)
        -> Scorecard (the `scorecards/` row), turn rows for `transcripts/` (redacted) and
           `restricted/` (unredacted, with word timings and personal-data spans)

The QA score is the weighted share of quality checks passed, with the weights of
`models/qa_checks.yaml` (read through `pipeline.tagging.load_qa_weights`). docs/design.md's five
checks keep a column each; `qa_checks` maps every check (a council's own too) to passed, and
`tags` maps each flag family of `models/flags.yaml` to the tags found, so a new id never adds
a column. A call needs review when any flag is raised:

- ``avoidable``, ``complaint``, ``repeat_caller``: what the tags and the call log say;
- ``qa:<check>`` for each quality check the agent did not do (a council's own checks too);
- ``low_confidence``: transcription judged the text doubtful (`Transcript.low_confidence`,
  decided in pipeline/transcribe/confidence.py): a person should listen rather than trust the text;
- ``long_silence``: dead air at least `Thresholds.long_silence_s` long;
- ``overtalk``: both sides talking at once for at least `Thresholds.overtalk_s` in total;
- ``no_speech``: the recording holds no speech at all;
- ``truncated_recording``, ``silent_channel``, ``clipped``: the recording itself is faulty
  (cut short, a dead channel, clipped throughout; `transcript_reason` gives the figures), a
  matter for IT; the call is left out of the estimates like ``no_speech``;
- ``uncertain``: the tagger's probability for a reviewed tag sits near its threshold (the
  scorecard's `uncertain` lists which): the calls whose review teaches the model most;
- ``safeguarding``: the caller may be at risk (a safeguarding vulnerability id, see
  `pipeline.tagging.SAFEGUARDING`): a council must act on it, so it is raised whatever the
  transcript status.

The caller's sentiment (pipeline/sentiment.py) is scored from the unredacted turns; only
numbers reach the scorecard.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from importlib import metadata
from typing import Any

import pandas as pd

from pipeline.audio import FAULT_NAMES
from pipeline.sentiment import caller_sentiment
from pipeline.tagging import QA_CHECKS, QAChecks, Tags, qa_score
from pipeline.transcribe import Transcript, Turn

__all__ = [
    "FLAG_NAMES",
    "PIPELINE_VERSION",
    "SampledCall",
    "Scorecard",
    "Thresholds",
    "build_scorecard",
    "evidence_rows",
    "restricted_rows",
    "sampled_calls",
    "transcript_rows",
]


def _version() -> str:
    try:
        return metadata.version("callqa")
    except metadata.PackageNotFoundError:
        return "0+unknown"


#: Recorded on every row, so a scorecard says which code made it.
PIPELINE_VERSION = _version()

#: Every flag a scorecard can carry, in the order they are listed.
FLAG_NAMES = (
    "avoidable",
    "complaint",
    "repeat_caller",
    *(f"qa:{check}" for check in QA_CHECKS),
    "low_confidence",
    "long_silence",
    "overtalk",
    "no_speech",
    *FAULT_NAMES,
    "uncertain",
    "safeguarding",
)


@dataclass(frozen=True)
class Thresholds:
    """When an audio measurement raises a review flag."""

    long_silence_s: float = 20.0
    overtalk_s: float = 5.0


@dataclass(frozen=True)
class SampledCall:
    """One call of the night's sample manifest: what the nightly flow passes between tasks.

    Small and picklable on purpose (call ids, paths and design numbers, no text or audio).
    """

    call_id: str
    call_date: date
    started_at: datetime | None
    agent_id: str | None
    team: str | None
    queue: str | None
    duration_s: float | None
    direction: str | None
    recording: str | None
    channel_layout: str
    sample_kind: str
    stratum: str | None
    inclusion_prob: float | None
    weight: float | None
    repeat_caller: bool
    prior_calls_window: int


def _clean(value: Any) -> Any:
    """pandas' missing markers (NA, NaN, NaT) as None; numpy scalars as Python ones."""
    if value is None or (not isinstance(value, list | tuple) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def sampled_calls(manifest: pd.DataFrame) -> list[SampledCall]:
    """The manifest (pipeline.sampling.draw_sample) as `SampledCall`s, in manifest order."""
    names = [f.name for f in dataclasses.fields(SampledCall)]
    calls = []
    for row in manifest[names].itertuples(index=False):
        values = {name: _clean(v) for name, v in zip(names, row, strict=True)}
        started = values["started_at"]
        values["started_at"] = None if started is None else pd.Timestamp(started).to_pydatetime()
        day = values["call_date"]
        values["call_date"] = day if type(day) is date else pd.Timestamp(day).date()
        values["repeat_caller"] = bool(values["repeat_caller"])
        values["prior_calls_window"] = int(values["prior_calls_window"] or 0)
        values["channel_layout"] = values["channel_layout"] or "agent_left"
        calls.append(SampledCall(**values))
    return calls


@dataclass
class Scorecard:
    """One `scorecards/` row; fields are `pipeline.store.SCORECARDS`'s columns, in order."""

    call_id: str
    call_date: date
    agent_id: str | None
    team: str | None
    queue: str | None
    duration_s: float | None
    sample_kind: str
    stratum: str | None
    inclusion_prob: float | None
    weight: float | None
    transcript_confidence: float | None
    contact_reasons: list[str]
    primary_reason: str
    avoidable: bool
    avoidable_category: str | None
    repeat_caller: bool
    prior_calls_window: int
    greeting: bool
    agent_named: bool
    id_check: bool
    anything_else_offered: bool
    closing: bool
    complaint: bool
    transferred: bool
    talk_ratio_agent: float | None
    silence_ratio: float | None
    overtalk_s: float | None
    pii_redactions: int
    qa_score: float
    flags: list[str]
    needs_review: bool
    run_id: str
    pipeline_version: str
    evidence: list[dict[str, Any]]
    started_at: datetime | None
    direction: str | None
    recording: str | None
    channel_layout: str
    longest_silence_s: float | None
    low_confidence: bool
    transcript_status: str
    model: str
    probabilities: dict[str, float]
    uncertain: list[str]
    tagger_version: str | None
    transcript_reason: str | None
    vulnerability: list[str]
    safeguarding: bool
    caller_sentiment_turns: list[dict[str, Any]]
    caller_sentiment: float | None
    caller_sentiment_opening: float | None
    caller_sentiment_closing: float | None
    qa_checks: dict[str, bool]
    tags: dict[str, list[str]]

    def row(self) -> dict[str, Any]:
        """The row for `pipeline.store.write_partition`."""
        return dataclasses.asdict(self)


def _flags(
    call: SampledCall, transcript: Transcript, tags: Tags, thresholds: Thresholds
) -> list[str]:
    metrics = transcript.metrics
    added_checks = [f"qa:{check}" for check in tags.qa.added]
    raised = {
        "avoidable": tags.avoidable,
        "complaint": tags.complaint,
        "repeat_caller": call.repeat_caller,
        **{f"qa:{check}": not passed for check, passed in tags.qa.as_dict().items()},
        "low_confidence": transcript.low_confidence,
        "long_silence": metrics is not None
        and metrics.longest_silence_s >= thresholds.long_silence_s,
        "overtalk": metrics is not None
        and metrics.overtalk_s is not None
        and metrics.overtalk_s >= thresholds.overtalk_s,
        "no_speech": transcript.status == "no_speech",
        **{name: name in transcript.faults for name in FAULT_NAMES},
        "uncertain": bool(tags.uncertain),
        "safeguarding": tags.safeguarding,
    }
    if transcript.status != "ok":
        # Nothing was said, so no check failed: the call is flagged for what it is. A
        # safeguarding tag is kept: words heard in a faulty recording can still be a risk.
        kept = ("repeat_caller", "no_speech", *FAULT_NAMES, "safeguarding")
        raised = {name: raised[name] for name in kept}
    return [name for name in (*FLAG_NAMES, *added_checks) if raised.get(name)]


def build_scorecard(
    call: SampledCall,
    transcript: Transcript,
    tags: Tags,
    *,
    qa_weights: dict[str, float],
    thresholds: Thresholds,
    run_id: str,
) -> Scorecard:
    """The scorecard of one call. `qa_weights` come from `tagging.load_qa_weights()`."""
    metrics = transcript.metrics
    qa: QAChecks = tags.qa
    flags = _flags(call, transcript, tags, thresholds)
    sentiment = caller_sentiment(transcript.turns)
    return Scorecard(
        call_id=call.call_id,
        call_date=call.call_date,
        agent_id=call.agent_id,
        team=call.team,
        queue=call.queue,
        duration_s=transcript.duration_s or call.duration_s,
        sample_kind=call.sample_kind,
        stratum=call.stratum,
        inclusion_prob=call.inclusion_prob,
        weight=call.weight,
        transcript_confidence=transcript.confidence,
        contact_reasons=list(tags.contact_reasons),
        primary_reason=tags.primary_reason,
        avoidable=tags.avoidable,
        avoidable_category=tags.avoidable_category,
        repeat_caller=call.repeat_caller,
        prior_calls_window=call.prior_calls_window,
        greeting=qa.greeting,
        agent_named=qa.agent_named,
        id_check=qa.id_check,
        anything_else_offered=qa.anything_else_offered,
        closing=qa.closing,
        complaint=tags.complaint,
        transferred=tags.transferred,
        talk_ratio_agent=None if metrics is None else metrics.talk_ratio_agent,
        silence_ratio=None if metrics is None else metrics.silence_ratio,
        overtalk_s=None if metrics is None else metrics.overtalk_s,
        pii_redactions=len(tags.pii),
        qa_score=qa_score(qa, qa_weights),
        flags=flags,
        needs_review=bool(flags),
        run_id=run_id,
        pipeline_version=PIPELINE_VERSION,
        evidence=evidence_rows(tags),
        started_at=call.started_at,
        direction=call.direction,
        recording=call.recording,
        channel_layout=call.channel_layout,
        longest_silence_s=None if metrics is None else metrics.longest_silence_s,
        low_confidence="low_confidence" in flags,
        transcript_status=transcript.status,
        model=transcript.model,
        probabilities=dict(tags.probabilities),
        uncertain=list(tags.uncertain),
        tagger_version=tags.tagger_version,
        transcript_reason=transcript.reason,
        vulnerability=list(tags.vulnerability),
        safeguarding=tags.safeguarding,
        caller_sentiment_turns=[dataclasses.asdict(t) for t in sentiment.turns],
        caller_sentiment=sentiment.overall,
        caller_sentiment_opening=sentiment.opening,
        caller_sentiment_closing=sentiment.closing,
        qa_checks=qa.as_dict(),
        tags={family: list(found) for family, found in tags.tags.items()},
    )


def evidence_rows(tags: Tags) -> list[dict[str, Any]]:
    """The scorecard's `evidence`: {tag, turn, text} per piece of evidence, in turn order.

    The text comes from the tagger with personal data already replaced by `[TYPE]` (the same
    redaction as `transcripts/`); the rule that fired stays out, it is for tuning the packs.
    """
    return [{"tag": e.tag, "turn": e.turn, "text": e.text} for e in tags.evidence]


def transcript_rows(call_id: str, transcript: Transcript, tags: Tags) -> list[dict[str, Any]]:
    """`transcripts/` rows: one per turn, text with personal data replaced by `[TYPE]`."""
    redacted = tags.redacted_turns
    if len(redacted) != len(transcript.turns):
        raise ValueError(
            f"{call_id}: {len(redacted)} redacted turns for {len(transcript.turns)} turns"
        )
    return [
        _turn_row(call_id, i, turn, redacted[i].text) for i, turn in enumerate(transcript.turns)
    ]


def restricted_rows(call_id: str, transcript: Transcript, tags: Tags) -> list[dict[str, Any]]:
    """`restricted/` rows: unredacted turns with word timings and the spans found in each."""
    spans: dict[int, list[dict[str, Any]]] = {}
    for span in tags.pii:
        spans.setdefault(span.turn, []).append(
            {"type": span.type, "start": span.start, "end": span.end}
        )
    return [
        _turn_row(call_id, i, turn, turn.text)
        | {
            "words": [dataclasses.asdict(w) for w in turn.words],
            "pii": spans.get(i, []),
            "speaker_confidence": turn.speaker_confidence,
        }
        for i, turn in enumerate(transcript.turns)
    ]


def _turn_row(call_id: str, index: int, turn: Turn, text: str) -> dict[str, Any]:
    """The columns `transcripts/` and `restricted/` share, with the text each one keeps."""
    return {
        "call_id": call_id,
        "turn": index,
        "speaker": turn.speaker,
        "start_s": turn.start_s,
        "end_s": turn.end_s,
        "text": text,
        "confidence": turn.confidence,
    }
