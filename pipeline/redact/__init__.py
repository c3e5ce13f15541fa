"""Personal data in call transcripts: find it, redact the text, silence it in the audio.

The ten types of docs/design.md (`PII_TYPES`) are found by Microsoft Presidio running two
custom recognizers over the spaCy `Doc` the tagger already made (no second spaCy pass, no model
download, no network)::

    turn text --tokens--> words, digits, letters, spoken numbers ("double oh" -> "00")
      --runs of code-like words--> compact strings ("h a one two x y" -> "HA12XY") with a map
      back to the characters they came from
      --validators--> payment_card (Luhn), phone_number (`phonenumbers`), ni_number (HMRC
      prefix rules), postcode (UK format rules), email (spoken "at"/"dot", `tldextract`'s
      bundled suffix list), and, only after a cue phrase, date_of_birth, bank_account (sort
      code, account number) and account_reference
    spaCy NER PERSON + cue phrases ("my name is", "it's for my mum, ...", "speaking to ...")
      + known first names --> person_name
    house or flat number + street words ("forty two acacia avenue", "flat 3 ...") or an address
      cue ("i live at") --> address

A cue ("date of birth", "sort code", "reference") counts in the words just before a value, or
anywhere in the previous turn: the agent asks, the caller answers with bare digits. Values that
need a cue and have none in their own turn leave Presidio's recognizer with a low score and
are raised by the previous turn, passed as Presidio's `context`. Every word, phrase and known
mishearing lives in `models/pii.yaml`; the modules hold only the logic:

    spans       the types, `PIISpan`, which type wins an overlap
    rules       models/pii.yaml -> `Rules`
    tokens      tokens, code-like units and runs of a turn
    validators  shape checks (phones, NI numbers, postcodes, dates, references)
    candidates  a candidate span and the cue that decides it
    codes, emails, dates, names, addresses   the finders
    analyzer    the Presidio recognizers and engine (`build_analyzer`)
    find        `find_pii`, `find_pii_turns`
    text        `redact_text` replaces spans with `[TYPE]`
    audio       `silence_pii_audio` writes a copy of a recording with every span's words
                silenced on the speaker's channel

eval/pii.py scores the finders on the labelled set eval/pii.jsonl.
"""

from pipeline.redact.analyzer import build_analyzer
from pipeline.redact.audio import SILENCE_MARGIN_S, silence_pii_audio
from pipeline.redact.find import find_pii, find_pii_turns
from pipeline.redact.rules import DEFAULT_RULES
from pipeline.redact.spans import PII_TYPES, STRUCTURED_TYPES, PIISpan
from pipeline.redact.text import redact_text

__all__ = [
    "DEFAULT_RULES",
    "PII_TYPES",
    "SILENCE_MARGIN_S",
    "STRUCTURED_TYPES",
    "PIISpan",
    "build_analyzer",
    "find_pii",
    "find_pii_turns",
    "redact_text",
    "silence_pii_audio",
]
