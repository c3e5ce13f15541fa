"""pipeline/transcribe/ with the real tiny.en model on the rendered sample calls.

Expectations come from the sample scripts (who says what, in which order), never from an
earlier run of the code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jiwer
import pytest
from conftest import SAMPLE_RECORDINGS, SAMPLE_SCRIPTS
from whisper_normalizer.english import EnglishTextNormalizer

from pipeline.errors import ModelNotFoundError
from pipeline.transcribe import (
    Transcript,
    domain_prompt,
    format_transcript,
    load_model,
    resolve_model_path,
    transcribe_call,
    transcribe_files,
)
from sample_data.scripted import ScriptedCall, load_scripts

_normalise = EnglishTextNormalizer()


def _pick(
    status: str, layout: str | None = None, *, short: bool = True
) -> tuple[ScriptedCall, Path]:
    """A rendered sample call; the shortest script of its kind keeps the tests fast."""
    calls = [
        c
        for c in load_scripts(SAMPLE_SCRIPTS)
        if c.expected_status == status
        and layout in (None, c.layout)
        and (SAMPLE_RECORDINGS / c.recording).is_file()
    ]
    if not calls:
        pytest.skip(f"no rendered {status} {layout or ''} sample call (run `callqa sample-data`)")
    call = min(calls, key=lambda c: sum(len(t.text) for t in c.turns)) if short else calls[0]
    return call, SAMPLE_RECORDINGS / call.recording


def _plain_stereo() -> tuple[ScriptedCall, Path]:
    """A short stereo call without talk-over or hold, so its turns must match the script's."""
    calls = [
        c
        for c in load_scripts(SAMPLE_SCRIPTS)
        if c.expected_status == "ok"
        and c.layout == "agent_left"
        and not any(t.overlap_s or t.hold_before_s for t in c.turns)
        and (SAMPLE_RECORDINGS / c.recording).is_file()
    ]
    if not calls:
        pytest.skip("no rendered plain stereo sample call")
    call = min(calls, key=lambda c: sum(len(t.text) for t in c.turns))
    return call, SAMPLE_RECORDINGS / call.recording


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("asr-cache")


@pytest.fixture(scope="module")
def stereo(whisper_model: object, cache_dir: Path) -> tuple[ScriptedCall, Transcript]:
    call, path = _plain_stereo()
    return call, transcribe_call(path, layout=call.layout, cache_dir=cache_dir)


def _speaker_runs(speakers: list[str]) -> list[str]:
    runs: list[str] = []
    for s in speakers:
        if not runs or runs[-1] != s:
            runs.append(s)
    return runs


def test_stereo_turns_alternate_like_the_script(stereo: tuple[ScriptedCall, Transcript]) -> None:
    call, transcript = stereo
    assert transcript.status == "ok" and transcript.layout == "agent_left"
    assert [t.speaker for t in transcript.turns] == _speaker_runs([t.speaker for t in call.turns])


def test_stereo_words_per_speaker_match_the_script(
    stereo: tuple[ScriptedCall, Transcript],
) -> None:
    call, transcript = stereo
    for speaker in ("agent", "caller"):
        ref = _normalise(" ".join(t.text for t in call.turns if t.speaker == speaker))
        hyp = _normalise(" ".join(t.text for t in transcript.turns if t.speaker == speaker))
        assert jiwer.wer(ref, hyp) < 0.35, (speaker, hyp)


def test_turns_and_words_are_in_time_order(stereo: tuple[ScriptedCall, Transcript]) -> None:
    _, transcript = stereo
    starts = [t.start_s for t in transcript.turns]
    assert starts == sorted(starts)
    for turn in transcript.turns:
        assert 0 <= turn.start_s <= turn.end_s <= transcript.duration_s
        assert turn.words and turn.text == " ".join(w.text for w in turn.words)
        assert [w.start_s for w in turn.words] == sorted(w.start_s for w in turn.words)
        assert all(w.start_s <= w.end_s for w in turn.words)
        assert 0.0 <= turn.confidence <= 1.0


def test_confidence_and_metrics_are_sane(stereo: tuple[ScriptedCall, Transcript]) -> None:
    _, transcript = stereo
    assert transcript.confidence is not None and 0.55 < transcript.confidence <= 1.0
    assert not transcript.low_confidence
    m = transcript.metrics
    assert m is not None and m.duration_s == pytest.approx(transcript.duration_s, abs=0.05)
    assert 0.2 < m.talk_ratio_agent < 0.9  # type: ignore[operator]
    assert 0.0 < m.silence_ratio < 1.0
    assert 0.0 <= m.longest_silence_s < transcript.duration_s
    assert m.overtalk_s is not None and m.overtalk_s >= 0


def test_to_json_has_the_design_shape(stereo: tuple[ScriptedCall, Transcript]) -> None:
    _, transcript = stereo
    data = json.loads(json.dumps(transcript.to_json()))
    assert {"file", "duration_s", "layout", "confidence", "status", "turns", "metrics"} <= set(data)
    assert set(data["turns"][0]) == {"speaker", "start_s", "end_s", "text", "confidence"}
    assert set(data["metrics"]) == {
        "talk_ratio_agent",
        "silence_ratio",
        "longest_silence_s",
        "overtalk_s",
    }


def test_cache_hit_skips_the_model_and_a_changed_file_is_redone(
    stereo: tuple[ScriptedCall, Transcript], cache_dir: Path, tmp_path: Path
) -> None:
    call, first = stereo
    assert not first.cached
    again = transcribe_call(Path(first.file), layout=call.layout, cache_dir=cache_dir)
    assert again.cached
    assert again.turns == first.turns and again.metrics == first.metrics

    # Same bytes under another name: still a hit (the key is the content, not the path).
    copy = tmp_path / "renamed.opus"
    shutil.copyfile(first.file, copy)
    assert transcribe_call(copy, layout=call.layout, cache_dir=cache_dir).cached

    # Different bytes at that path: transcribed afresh.
    _, other = _pick("no_speech")
    shutil.copyfile(other, copy)
    redone = transcribe_call(copy, layout=call.layout, cache_dir=cache_dir)
    assert not redone.cached and redone.audio_sha256 != first.audio_sha256

    # Another layout is another transcript.
    assert not transcribe_call(Path(first.file), layout="agent_right", cache_dir=cache_dir).cached


def test_agent_right_swaps_the_speakers(
    stereo: tuple[ScriptedCall, Transcript], cache_dir: Path
) -> None:
    _, transcript = stereo
    # The cache test stored this layout already when it ran first; the result is the same.
    swapped = transcribe_call(Path(transcript.file), layout="agent_right", cache_dir=cache_dir)
    flip = {"agent": "caller", "caller": "agent"}
    assert [t.speaker for t in swapped.turns] == [flip[t.speaker] for t in transcript.turns]
    assert swapped.metrics.talk_ratio_agent == pytest.approx(  # type: ignore[union-attr]
        1 - transcript.metrics.talk_ratio_agent,  # type: ignore[union-attr,operator]
        abs=1e-3,
    )


def test_silent_call_is_no_speech(whisper_model: object) -> None:
    _, path = _pick("no_speech")
    # A loaded model may be passed instead of its name (what `callqa transcribe` does).
    transcript = transcribe_call(path, model=whisper_model)  # type: ignore[arg-type]
    assert transcript.status == "no_speech" and transcript.model == "tiny.en"
    assert transcript.turns == [] and transcript.confidence is None
    assert transcript.metrics is not None and transcript.metrics.silence_ratio == 1.0


def test_corrupt_call_is_unreadable_with_reason(tmp_path: Path) -> None:
    _, path = _pick("unreadable")
    transcript = transcribe_call(path, cache_dir=tmp_path)
    assert transcript.status == "unreadable"
    assert transcript.reason and "cannot decode" in transcript.reason
    assert transcript.turns == [] and transcript.metrics is None
    assert json.dumps(transcript.to_json())

    missing = transcribe_call(tmp_path / "nope.wav")
    assert missing.status == "unreadable" and "nope.wav" in (missing.reason or "")


def test_mono_call_attributes_speakers_only_where_sure(whisper_model: object) -> None:
    call, path = _pick("ok", "mono")
    transcript = transcribe_call(path, layout="mono")
    assert transcript.status == "ok" and transcript.layout == "mono"
    assert transcript.metrics is not None and transcript.metrics.overtalk_s is None
    assert transcript.turns[0].speaker == "agent"  # the opening greeting
    ref_words: list[tuple[str, str]] = [
        (t.speaker, w) for t in call.turns for w in _normalise(t.text).split()
    ]
    hyp_words: list[tuple[str, str]] = [
        (t.speaker, w) for t in transcript.turns for w in _normalise(t.text).split()
    ]
    out = jiwer.process_words(" ".join(w for _, w in ref_words), " ".join(w for _, w in hyp_words))
    right = attributed = 0
    for chunk in out.alignments[0]:
        if chunk.type == "equal":
            for i, j in zip(
                range(chunk.ref_start_idx, chunk.ref_end_idx),
                range(chunk.hyp_start_idx, chunk.hyp_end_idx),
                strict=True,
            ):
                if hyp_words[j][0] != "unknown":
                    attributed += 1
                    right += hyp_words[j][0] == ref_words[i][0]
    assert attributed > 0.3 * len(ref_words)
    assert right / attributed >= 0.9


def test_hold_music_is_not_transcribed(whisper_model: object) -> None:
    """Whisper invents text in music; a call with hold music must gain no extra words."""
    held = [
        c
        for c in load_scripts(SAMPLE_SCRIPTS)
        if c.layout != "mono"
        and any(t.hold_before_s for t in c.turns)
        and (SAMPLE_RECORDINGS / c.recording).is_file()
    ]
    if not held:
        pytest.skip("no rendered sample call with hold music")
    call = min(held, key=lambda c: sum(t.hold_before_s or 0 for t in c.turns))
    transcript = transcribe_call(SAMPLE_RECORDINGS / call.recording, layout=call.layout)
    ref = _normalise(" ".join(t.text for t in call.turns))
    hyp = _normalise(" ".join(t.text for t in transcript.turns))
    out = jiwer.process_words(ref, hyp)
    assert out.insertions <= 0.03 * len(ref.split())


def test_transcribe_files_and_format(whisper_model: object) -> None:
    (_, silent), (_, corrupt) = _pick("no_speech"), _pick("unreadable")
    results = transcribe_files([silent, corrupt])
    assert [r.status for r in results] == ["no_speech", "unreadable"]
    assert "unreadable" in format_transcript(results[1])


def test_model_resolution_never_downloads(tmp_path: Path) -> None:
    assert (resolve_model_path("tiny.en") / "model.bin").is_file()
    with pytest.raises(ModelNotFoundError, match="never downloads"):
        resolve_model_path("large-v3")
    with pytest.raises(ModelNotFoundError, match=r"model\.bin"):
        resolve_model_path(str(tmp_path))
    assert load_model() is load_model()


def test_unknown_layout_is_a_caller_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="layout"):
        transcribe_call(tmp_path / "x.wav", layout="sideways")


def test_domain_prompt_reads_the_vocabulary(tmp_path: Path) -> None:
    assert domain_prompt(tmp_path) is None
    (tmp_path / "asr_vocabulary.txt").write_text("# comment\nBlue Badge\n\nfly-tipping  # why\n")
    (tmp_path / "taxonomy.yaml").write_text("reasons:\n  - id: parking\n    label: Parking\n")
    prompt = domain_prompt(tmp_path)
    assert prompt is not None
    assert "Blue Badge" in prompt and "fly-tipping" in prompt and "Parking" in prompt
    assert "comment" not in prompt
