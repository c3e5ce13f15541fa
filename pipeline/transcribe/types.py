"""The data transcription hands on: `Word`, `Turn`, `Transcript` (and its `callqa transcribe
--json` object) and the `TranscribeOptions` that shape them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from pipeline.audio import AudioMetrics
from pipeline.config import ChannelLayout

#: Which channel holds whom: the call log's `channel_layout` values.
LAYOUTS: tuple[str, ...] = get_args(ChannelLayout)
Speaker = Literal["agent", "caller", "unknown"]
Status = Literal["ok", "no_speech", "unreadable", "recording_fault"]


@dataclass
class Word:
    start_s: float
    end_s: float
    text: str
    probability: float


@dataclass
class Turn:
    """One speaker's stretch of talk. `confidence` is the mean word probability (is the text
    right?); `speaker_confidence` how sure the speaker is (1.0 for a stereo channel)."""

    speaker: Speaker
    start_s: float
    end_s: float
    text: str
    confidence: float
    words: list[Word] = field(default_factory=list)
    speaker_confidence: float = 1.0


@dataclass
class Transcript:
    """One call's transcript. `status` is ok, no_speech, unreadable or recording_fault (then
    `reason` says why; `faults` names the recording faults, audio.FAULT_NAMES).

    `confidence` is the mean word probability (None without words); `low_confidence` marks
    calls a person should check. `cached` is True when this came from the cache, not the model.
    """

    file: str
    duration_s: float
    layout: str
    confidence: float | None
    status: Status
    reason: str | None
    turns: list[Turn]
    metrics: AudioMetrics | None
    low_confidence: bool
    model: str
    audio_sha256: str
    cached: bool = False
    faults: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The `callqa transcribe --json` object (docs/design.md), plus reason and provenance."""
        metrics = self.metrics
        return {
            "file": self.file,
            "duration_s": self.duration_s,
            "layout": self.layout,
            "confidence": self.confidence,
            "status": self.status,
            "reason": self.reason,
            "low_confidence": self.low_confidence,
            "model": self.model,
            "audio_sha256": self.audio_sha256,
            "faults": self.faults,
            "turns": [
                {
                    "speaker": t.speaker,
                    "start_s": t.start_s,
                    "end_s": t.end_s,
                    "text": t.text,
                    "confidence": t.confidence,
                }
                for t in self.turns
            ],
            "metrics": None
            if metrics is None
            else {
                "talk_ratio_agent": metrics.talk_ratio_agent,
                "silence_ratio": metrics.silence_ratio,
                "longest_silence_s": metrics.longest_silence_s,
                "overtalk_s": metrics.overtalk_s,
            },
        }


@dataclass(frozen=True)
class TranscribeOptions:
    """Decoding and turn-building settings; all of them are part of the cache key.

    - `beam_size`: 3 measured best on the sample calls (caller WER 0.17 against greedy's 0.19)
      for ~20% more time; 5 was no more accurate and slower.
    - `batch_size`: windows decoded together. Batching gains little on a CPU, and every
      window in a batch costs ~60 MB of encoder attention, so 4 keeps an hour-long call
      well under 1.5 GB.
    - `vad_threshold`: Silero speech probability needed to count as speech.
    - `pad_s`: speech padding each side of a region handed to Whisper (keeps word edges).
    - `gap_s`: silence put between two regions packed into one window. Butted together,
      tiny.en drops the first or last words of an utterance at the join.
    - `pause_s`: a gap between words this long ends a fragment (a possible turn change).
    - `merge_gap_s`: consecutive fragments of one speaker closer than this form one turn.
    - `use_vocabulary`: prompt Whisper with the council's vocabulary (models/).
    - `min_word_probability`: fragments whose geometric-mean word probability is below this
      are dropped as hallucinations (tiny.en's made-up text in noise scores far below speech).
    """

    beam_size: int = 3
    batch_size: int = 4
    vad_threshold: float = 0.5
    pad_s: float = 0.35
    gap_s: float = 0.4
    pause_s: float = 0.5
    merge_gap_s: float = 2.0
    use_vocabulary: bool = True
    min_word_probability: float = 0.2
