"""The human-readable transcript `callqa transcribe` prints without --json."""

from __future__ import annotations

from pipeline.transcribe.types import Transcript

__all__ = ["format_transcript"]


def format_transcript(transcript: Transcript) -> str:
    """A human-readable transcript: a header line, then `[mm:ss] speaker: text` per turn."""
    t = transcript
    if t.status != "ok":
        return f"{t.file}: {t.status}" + (f" ({t.reason})" if t.reason else "")
    m = t.metrics
    head = f"{t.file}: {t.duration_s:.1f} s, {t.layout}, confidence {t.confidence:.2f}"
    if t.low_confidence:
        head += " (LOW - review)"
    if m is not None:
        if m.talk_ratio_agent is not None:
            head += f", agent talk {m.talk_ratio_agent:.0%}"
        head += f", silence {m.silence_ratio:.0%}, longest silence {m.longest_silence_s:.1f} s"
        if m.overtalk_s is not None:
            head += f", overtalk {m.overtalk_s:.1f} s"
    lines = [head]
    for turn in t.turns:
        minutes, seconds = divmod(int(turn.start_s), 60)
        lines.append(f"  [{minutes:02d}:{seconds:02d}] {turn.speaker}: {turn.text}")
    return "\n".join(lines)
