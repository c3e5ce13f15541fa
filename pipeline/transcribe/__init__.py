"""Per-speaker transcripts of call recordings with faster-whisper, on the CPU, offline.

One call in, one `Transcript` out (`transcribe_call`, call.py)::

    decode (pipeline/audio.py) -> Silero speech regions per channel
    -> pack speech into 30 s windows (packing.py)
    -> one batched Whisper pass over both channels, words mapped back to call time (recognise.py)
    -> hallucination guards (guards.py) -> fragments split at pauses, turns merged by time
    (turns.py; mono.py for one-channel calls) -> confidence judged (confidence.py)

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

The model is found by models.py, the vocabulary prompt made by prompt.py, transcripts cached
by cache.py; types.py holds the data, display.py the text `callqa transcribe` prints.
"""

from pipeline.transcribe.call import transcribe_call, transcribe_files
from pipeline.transcribe.display import format_transcript
from pipeline.transcribe.models import DEFAULT_MODEL, load_model, resolve_model_path
from pipeline.transcribe.prompt import domain_prompt
from pipeline.transcribe.types import (
    LAYOUTS,
    Speaker,
    Status,
    TranscribeOptions,
    Transcript,
    Turn,
    Word,
)

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
