"""pipeline/scorecard.py: one row per call, flags and QA score, from the sample scripts' labels."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from scripted import sampled_call

from pipeline import store
from pipeline.audio import AudioMetrics
from pipeline.scorecard import (
    FLAG_NAMES,
    Scorecard,
    Thresholds,
    build_scorecard,
    evidence_rows,
    restricted_rows,
    transcript_rows,
)
from pipeline.tagging import QA_CHECKS, PIISpan, QAChecks, RedactedTurn, Tags, load_qa_weights
from pipeline.transcribe import Transcript, Turn, Word
from sample_data.scripted import ScriptedCall, load_scripts

SCRIPTS = Path(__file__).resolve().parents[1] / "sample_data" / "scripts"


def _spoken_scripts() -> list[ScriptedCall]:
    return [s for s in load_scripts(SCRIPTS) if s.labels is not None and s.turns]


def _transcript(
    script: ScriptedCall, *, confidence: float, metrics: AudioMetrics, low: bool | None = None
) -> Transcript:
    """The script as transcribed; `low` is transcription's judgement (by default as
    pipeline/transcribe/confidence.py makes it from the mean confidence alone)."""
    turns = []
    for i, turn in enumerate(script.turns):
        words = [
            Word(i * 5.0 + j * 0.3, i * 5.0 + j * 0.3 + 0.25, w, confidence)
            for j, w in enumerate(turn.text.split())
        ]
        turns.append(Turn(turn.speaker, i * 5.0, i * 5.0 + 4.0, turn.text, confidence, words))
    return Transcript(
        file=script.recording,
        duration_s=metrics.duration_s,
        layout=script.layout,
        confidence=confidence,
        status="ok",
        reason=None,
        turns=turns,
        metrics=metrics,
        low_confidence=confidence < 0.55 if low is None else low,
        model="tiny.en",
        audio_sha256="0" * 64,
    )


def _tags(script: ScriptedCall) -> Tags:
    """The script's labels as Tags: a perfect tagger's output."""
    labels = script.labels
    assert labels is not None
    pii = [PIISpan(p.type, p.turn, p.start, p.end) for p in labels.pii]
    redacted = []
    for i, turn in enumerate(script.turns):
        text = turn.text
        for span in sorted((p for p in labels.pii if p.turn == i), key=lambda p: -p.start):
            text = text[: span.start] + f"[{span.type.upper()}]" + text[span.end :]
        redacted.append(RedactedTurn(turn.speaker, text))
    return Tags(
        contact_reasons=list(labels.contact_reasons),
        primary_reason=labels.primary_reason,
        avoidable=labels.avoidable,
        avoidable_category=labels.avoidable_category,
        complaint=labels.complaint,
        transferred=labels.transferred,
        qa=QAChecks(**dataclasses.asdict(labels.qa)),
        pii=pii,
        redacted_turns=redacted,
    )


_QUIET = AudioMetrics(
    duration_s=60.0, talk_ratio_agent=0.5, silence_ratio=0.2, longest_silence_s=3.0, overtalk_s=0.5
)


def _score(
    script: ScriptedCall, transcript: Transcript, tags: Tags | None = None, *, repeat: bool = False
) -> Scorecard:
    """`build_scorecard` with the shipped QA weights, default thresholds and run "run-1"; the
    tags are the script's labels unless given."""
    return build_scorecard(
        sampled_call(script, repeat=repeat),
        transcript,
        _tags(script) if tags is None else tags,
        qa_weights=load_qa_weights(),
        thresholds=Thresholds(),
        run_id="run-1",
    )


def test_scorecard_fields_are_the_store_columns() -> None:
    assert [f.name for f in dataclasses.fields(Scorecard)] == store.SCORECARDS.columns


@pytest.mark.parametrize("script", _spoken_scripts(), ids=lambda s: s.name)
def test_scorecard_follows_the_labels(script: ScriptedCall, tmp_path: Path) -> None:
    labels = script.labels
    assert labels is not None
    weights = load_qa_weights()
    card = _score(
        script, _transcript(script, confidence=0.9, metrics=_QUIET), repeat=labels.repeat_caller
    )
    assert card.primary_reason == labels.primary_reason
    assert card.avoidable is labels.avoidable and card.complaint is labels.complaint
    assert card.repeat_caller is labels.repeat_caller
    passed = [c for c in QA_CHECKS if getattr(labels.qa, c)]
    assert card.qa_score == pytest.approx(
        100 * sum(weights[c] for c in passed) / sum(weights.values()), abs=0.05
    )
    expected_flags = {
        *(["avoidable"] if labels.avoidable else []),
        *(["complaint"] if labels.complaint else []),
        *(["repeat_caller"] if labels.repeat_caller else []),
        *(f"qa:{c}" for c in QA_CHECKS if c not in passed),
    }
    assert set(card.flags) == expected_flags
    assert card.needs_review == bool(expected_flags)
    assert card.pii_redactions == len(labels.pii)
    assert set(card.flags) <= set(FLAG_NAMES)
    assert card.run_id == "run-1" and card.pipeline_version
    # The row fits the Parquet schema as it is.
    store.write_partition(tmp_path, store.SCORECARDS, card.call_date, [card.row()])


def test_measurement_flags_and_perfect_call() -> None:
    script = next(
        s
        for s in _spoken_scripts()
        if all(dataclasses.astuple(s.labels.qa))  # type: ignore[union-attr]
        and not s.labels.avoidable
        and not s.labels.complaint  # type: ignore[union-attr]
        and not s.labels.repeat_caller
    )  # type: ignore[union-attr]
    clean = _score(script, _transcript(script, confidence=0.9, metrics=_QUIET))
    assert clean.flags == [] and not clean.needs_review and clean.qa_score == 100
    noisy = AudioMetrics(
        duration_s=60.0,
        talk_ratio_agent=0.5,
        silence_ratio=0.6,
        longest_silence_s=45.0,
        overtalk_s=12.0,
    )
    flagged = _score(script, _transcript(script, confidence=0.3, metrics=noisy))
    assert flagged.flags == ["low_confidence", "long_silence", "overtalk"]
    assert flagged.needs_review


def test_low_confidence_is_transcriptions_judgement() -> None:
    """The flag is `Transcript.low_confidence` as transcription judged it, never judged again:
    a confident transcript with too few words for its speech is flagged, a doubtful one that
    transcription passed is not."""
    script = _spoken_scripts()[0]
    for confidence, low in ((0.9, True), (0.3, False)):
        card = _score(script, _transcript(script, confidence=confidence, metrics=_QUIET, low=low))
        assert ("low_confidence" in card.flags) is low and card.low_confidence is low


def test_turn_rows_redacted_and_restricted() -> None:
    script = next(s for s in _spoken_scripts() if s.labels and s.labels.pii)
    transcript = _transcript(script, confidence=0.9, metrics=_QUIET)
    tags = _tags(script)
    public = transcript_rows(script.call_id, transcript, tags)
    private = restricted_rows(script.call_id, transcript, tags)
    assert [r["turn"] for r in public] == list(range(len(script.turns)))
    values = [p.value for p in script.labels.pii]  # type: ignore[union-attr]
    public_text = " ".join(r["text"] for r in public)
    assert not [v for v in values if v in public_text]
    assert sum(len(r["pii"]) for r in private) == len(values)
    assert private[0]["words"] and private[0]["text"] == script.turns[0].text


def test_real_tagger_evidence_is_stored_redacted(nlp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The scorecard keeps the real tagger's evidence, redacted, and it survives Parquet."""
    from pipeline.tagging import tag_transcript

    script = next(s for s in _spoken_scripts() if s.labels and s.labels.pii and s.labels.avoidable)
    transcript = _transcript(script, confidence=0.9, metrics=_QUIET)
    tags = tag_transcript(transcript.turns, nlp)
    card = _score(script, transcript, tags)
    assert card.evidence == evidence_rows(tags) and card.evidence
    assert [e["turn"] for e in card.evidence] == sorted(e["turn"] for e in card.evidence)
    values = [p.value.lower() for p in script.labels.pii]  # type: ignore[union-attr]
    redacted = transcript_rows(script.call_id, transcript, tags)
    for e in card.evidence:
        assert set(e) == {"tag", "turn", "text"}
        assert not [v for v in values if v in e["text"].lower()], e
        assert e["text"].lower() in redacted[e["turn"]]["text"].lower(), e
    if tags.avoidable:
        assert f"avoidable_category:{tags.avoidable_category}" in {e["tag"] for e in card.evidence}
    store.write_partition(tmp_path, store.SCORECARDS, card.call_date, [card.row()])
    back = store.read_table(tmp_path, store.SCORECARDS)
    assert [dict(e) for e in back["evidence"].iloc[0]] == card.evidence


def test_a_sampled_call_carries_columns_of_the_samples_table_only() -> None:
    """`SampledCall` is a typed subset of a `samples/` row: its names are the table's."""
    from dataclasses import fields

    from pipeline.scorecard import SampledCall
    from pipeline.tables import SAMPLES

    names = [f.name for f in fields(SampledCall)]
    assert set(names) <= set(SAMPLES.columns), set(names) - set(SAMPLES.columns)
