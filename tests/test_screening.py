"""pipeline/screening.py: `screen_call` on sample_data calls, no Prefect.

Real tiny.en, en_core_web_sm and the shipped rule packs; the calls are the demo night's rows of
sample_data/calls.csv, drawn whole.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SAMPLE_CALLS, SAMPLE_RECORDINGS

from pipeline import store
from pipeline.calls import read_call_log
from pipeline.repeats import mark_repeats
from pipeline.sampling import draw_sample
from pipeline.scorecard import SampledCall, sampled_calls
from pipeline.screening import ScreeningModels, ScreeningOptions, screen_call
from pipeline.tagging import load_qa_weights
from pipeline.transcribe import DEFAULT_MODEL
from sample_data.scripted import DEMO_DATE, ScriptedCall

GOOD = "HRW-20250331-0223"  # libraries_renewal.opus: 42 s, a library card number in it


@pytest.fixture(scope="module")
def night(hash_key: bytes) -> dict[str, SampledCall]:
    """Every call of the demo night, by call id, as the nightly draw passes them on."""
    marked = mark_repeats(read_call_log(SAMPLE_CALLS, caller_hash_key=hash_key).calls)
    manifest = draw_sample(
        marked,
        date=DEMO_DATE,
        seed=0,
        sample_size=10_000,
        min_per_agent=0,
        targeted_long_call_s=None,
        targeted_repeat_min_prior=None,
    ).manifest
    return {call.call_id: call for call in sampled_calls(manifest)}


@pytest.fixture(scope="module")
def models(whisper_model, nlp) -> ScreeningModels:  # type: ignore[no-untyped-def]
    return ScreeningModels(whisper_model, nlp, load_qa_weights())


def _options(tmp_path: Path) -> ScreeningOptions:
    # The model the `whisper_model` fixture loaded.
    return ScreeningOptions(
        recordings=SAMPLE_RECORDINGS,
        run_id="run-1",
        whisper_model=DEFAULT_MODEL,
        compute_type="int8",
        cpu_threads=0,
        low_confidence=0.55,
        cache_dir=tmp_path / "cache",
    )


def _recording(night: dict[str, SampledCall], name: str) -> SampledCall:
    return next(call for call in night.values() if call.recording == name)


def test_a_good_call_is_scored_with_its_turns(
    night: dict[str, SampledCall],
    models: ScreeningModels,
    sample_scripts: list[ScriptedCall],
    tmp_path: Path,
) -> None:
    call = night[GOOD]
    outcome = screen_call(call, _options(tmp_path), models)
    assert outcome.failure is None and outcome.call_id == GOOD
    card = outcome.scorecard
    assert card is not None and list(card) == store.SCORECARDS.columns
    assert (card["call_id"], card["run_id"], card["recording"]) == (GOOD, "run-1", call.recording)
    assert card["transcript_status"] == "ok" and card["model"] == DEFAULT_MODEL
    assert card["low_confidence"] == ("low_confidence" in card["flags"])
    label = next(s for s in sample_scripts if s.recording == call.recording).labels
    assert label is not None
    tagged = (card["contact_reasons"], card["avoidable"], card["avoidable_category"])
    assert tagged == (label.contact_reasons, label.avoidable, label.avoidable_category)
    # One redacted and one unredacted row per turn, in time order.
    turns, raw = outcome.transcripts, outcome.restricted
    assert turns and [t["turn"] for t in turns] == list(range(len(turns)))
    assert [(t["turn"], t["start_s"]) for t in turns] == [(r["turn"], r["start_s"]) for r in raw]
    assert [t["start_s"] for t in turns] == sorted(t["start_s"] for t in turns)
    assert {t["speaker"] for t in turns} == {"agent", "caller"}
    assert all(r["words"] for r in raw)
    # Personal data: replaced in transcripts/, kept (with its spans) only in restricted/.
    assert card["pii_redactions"] == sum(len(r["pii"]) for r in raw) > 0
    redacted = " ".join(t["text"] for t in turns)
    assert "[ACCOUNT_REFERENCE]" in redacted
    assert "[ACCOUNT_REFERENCE]" not in " ".join(r["text"] for r in raw)
    # A second screening reads the transcript cache and gives the same rows.
    assert list((tmp_path / "cache").glob("*.json"))
    again = screen_call(call, _options(tmp_path), models)
    assert again.scorecard == card and again.transcripts == turns


@pytest.mark.parametrize(
    ("recording", "stage", "reason"),
    [
        ("corrupt_recording.wav", "transcribe", "corrupt_recording.wav"),
        ("missing_file.opus", "recording", "recording missing: missing_file.opus"),
        ("../../etc/passwd", "recording", "refused recording path: `..`"),
        ("/etc/passwd", "recording", "refused recording path: absolute"),
    ],
)
def test_a_bad_recording_is_a_failure_naming_stage_and_file(
    night: dict[str, SampledCall],
    models: ScreeningModels,
    tmp_path: Path,
    recording: str,
    stage: str,
    reason: str,
) -> None:
    call = _recording(night, recording)
    outcome = screen_call(call, _options(tmp_path), models)
    assert outcome.scorecard is None and not outcome.transcripts and not outcome.restricted
    failure = outcome.failure
    assert failure is not None and reason in failure["reason"]
    assert failure == {
        "call_id": call.call_id,
        "stage": stage,
        "reason": failure["reason"],
        "recording": recording,
        "run_id": "run-1",
    }
