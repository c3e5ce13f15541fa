"""Personal data on REAL speech-recognition output: the sample calls transcribed by tiny.en.

The scripts say "H W four, seven Q Z"; Whisper writes "H .W. 4, 7, Q .Z.", "0-7-7-0-0",
"J dot Smith at Gmail dot com". These tests transcribe a few PII-dense sample calls, tag them
the way the nightly flow does, and check that no labelled value of the script survives in the
redacted text in any written form, then silence the spans found in the real recording.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import av
import numpy as np
import pytest
from rapidfuzz import fuzz
from spoken_numbers import MONTHS, ORDINALS, TEENS, TENS, UNITS

from pipeline.redact.audio import silence_pii_audio
from pipeline.redact.spans import PIISpan
from pipeline.tagging import tag_transcript
from pipeline.transcribe import Turn, transcribe_call
from sample_data.scripted import PIILabel, ScriptedCall

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = ROOT / "sample_data" / "recordings"

#: Short calls that hold every structured type between them (about 60 s of CPU on tiny.en).
ASR_CALLS = (
    "ct_progress_chase",  # postcode, reference, address, name
    "ben_new_claim",  # NI number, phone, date of birth
    "ct_direct_debit",  # sort code and bank account
    "waste_bulky_booking",  # payment card, e-mail, postcode
    "asc_assessment",  # landline, date of birth, postcode
)

# ---------------------------------------------------------------------------------------------
# Leak check: does any written form of a labelled value survive in redacted text?

_TITLES = {"mr", "mrs", "miss", "ms", "dr", "mister", "missus"}
_STREET_WORDS = {"flat", "road", "street", "lane", "way", "court", "close", "avenue", "rise"}
_STREET_WORDS |= {"parade", "drive", "green", "place", "gardens", "crescent", "grove"}
_DIGIT_WORDS = {w: str(i) for i, w in enumerate(UNITS)} | {"nought": "0", "oh": "0", "o": "0"}
_TEENS = {w: str(10 + i) for i, w in enumerate(TEENS)}
_TENS = {w: str(20 + 10 * i) for i, w in enumerate(TENS)}
_EMAIL_WORDS = {"at", "dot", "underscore", "dash", "hyphen"}
_WORD_RE = re.compile(r"[a-z0-9]+")


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower().replace("’", "'").replace("'s", ""))


def _spoken_to_digits(words: list[str]) -> list[str]:
    """Number words as digits ("oh seven seven double oh" -> 0 7 7 00, "twenty one" -> 21)."""
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w in ("double", "triple") and (nxt in _DIGIT_WORDS or nxt.isdigit()):
            out.append(_DIGIT_WORDS.get(nxt, nxt) * (2 if w == "double" else 3))
            i += 2
        elif w in _TENS and nxt in _DIGIT_WORDS and _DIGIT_WORDS[nxt] != "0":
            out.append(_TENS[w][0] + _DIGIT_WORDS[nxt])
            i += 2
        else:
            out.append(_DIGIT_WORDS.get(w) or _TEENS.get(w) or _TENS.get(w) or w)
            i += 1
    return out


def _code_segments(text: str) -> list[str]:
    """Runs of code-like words (digits, single letters, short words) run together, lower case:
    "H .W. 4, 7, Q .Z." -> "hw47qz", "0-7-7-0-0, 9-0-0" -> "07700900". Long words end a run."""
    segments: list[str] = []
    current = ""
    for w in _spoken_to_digits(_words(text)):
        if w.isdigit() or len(w) <= 3:
            current += w
        else:
            if current:
                segments.append(current)
            current = ""
    if current:
        segments.append(current)
    return segments


def _digit_windows(digits: str, size: int = 6) -> set[str]:
    if len(digits) < size:
        return {digits} if len(digits) >= 5 else set()
    return {digits[i : i + size] for i in range(len(digits) - size + 1)}


def _dob_forms(iso: str) -> tuple[set[str], re.Pattern[str]]:
    """Digit strings of a date of birth (110338, 11/10/1938, 1/2/79...) and a regex for the day
    next to the month ("11th of October", "october the eleventh")."""
    year, month, day = (int(p) for p in iso.split("-"))
    digits = {
        d + m + y
        for d in {f"{day:02d}", str(day)}
        for m in {f"{month:02d}", str(month)}
        for y in {str(year), f"{year % 100:02d}"}
    }
    day_words = rf"(?:{day}(?:st|nd|rd|th)?|{ORDINALS[day - 1] if day <= 20 else '@'})"
    month_word = MONTHS[month - 1]
    pattern = re.compile(
        rf"\b{day_words}\W+(?:of\W+)?{month_word}\b|\b{month_word}\W+(?:the\W+)?{day_words}\b"
    )
    return {d for d in digits if len(d) >= 5}, pattern


def leaked(label: PIILabel, texts: Sequence[str], agent_first_name: str) -> list[str]:
    """The forms of `label.value` that survive in the redacted `texts` (empty: none)."""
    found: list[str] = []
    value = label.value
    compact = re.sub(r"[^a-z0-9]", "", value.lower())
    value_digits = re.sub(r"[^0-9]", "", value)
    for text in texts:
        segments = _code_segments(text)
        words = _words(text)
        if label.type in ("phone_number", "payment_card", "bank_account", "account_reference"):
            # "L2O, 79460": Whisper writes "oh" as a letter too
            views = [re.sub(r"\D", "", s) for s in segments]
            views += [re.sub(r"\D", "", s.replace("l", "0").replace("o", "0")) for s in segments]
            found += [
                f"digits {w}" for w in _digit_windows(value_digits) if any(w in v for v in views)
            ]
        if label.type in ("postcode", "ni_number", "account_reference"):
            found += [f"code {compact}" for s in segments if compact in s]
        if label.type == "ni_number":
            found += [f"digits {value_digits}" for s in segments if value_digits in s]
        if label.type == "postcode":
            outward, inward = compact[:-3], compact[-3:]
            found += [f"part {p}" for s in segments for p in (outward, inward) if p in s]
        if label.type == "email":
            stream = "".join(w for w in words if w not in _EMAIL_WORDS)
            local = re.sub(r"[^a-z0-9]", "", value.lower().split("@")[0])
            found += [f"email {p}" for p in (compact, local) if len(p) >= 5 and p in stream]
        if label.type == "date_of_birth":
            digit_forms, pattern = _dob_forms(value)
            found += [
                f"date {d}" for d in digit_forms if any(d in re.sub(r"\D", "", s) for s in segments)
            ]
            found += [f"date {m.group()}" for m in pattern.finditer(" ".join(words))]
        if label.type == "address":
            # the street with its house number anywhere ("56th orchard rise"), the street alone
            # where other details of the caller sit (a street named by itself is public)
            number = next((t for t in _words(value) if t.isdigit()), None)
            streets = [t for t in _words(value) if not t.isdigit() and t not in _STREET_WORDS]
            lowered = " ".join(_spoken_to_digits(words))
            for street in streets:
                if number and re.search(rf"\b{number}(?:st|nd|rd|th)?\W+{street}\b", lowered):
                    found.append(f"address {number} {street}")
                if "[" in text and street in words:
                    found.append(f"word {street}")
        if label.type == "person_name":
            for token in _words(value):
                if token in _TITLES or token == agent_first_name or len(token) < 2:
                    continue
                close = [
                    w
                    for w in words
                    if w == token or (len(token) >= 6 and fuzz.ratio(w, token) >= 85)
                ]
                found += [f"word {w}" for w in close]
    return sorted(set(found))


def agent_first_name(call: ScriptedCall) -> str:
    """ "agent_tom_b" -> "tom": the agent's own name is not the caller's personal data."""
    parts = call.agent_id.split("_")
    return parts[1] if len(parts) > 1 else ""


def call_leaks(call: ScriptedCall, redacted_texts: Iterable[str]) -> list[tuple[str, str, str]]:
    """(type, value, surviving form) for every labelled value of `call` left in the texts."""
    texts = list(redacted_texts)
    assert call.labels is not None
    out = []
    seen = set()
    for label in call.labels.pii:
        if (label.type, label.value) in seen:
            continue
        seen.add((label.type, label.value))
        out += [(label.type, label.value, f) for f in leaked(label, texts, agent_first_name(call))]
    return out


# ---------------------------------------------------------------------------------------------
# Tests


def test_leak_check_finds_whisper_forms() -> None:
    """The checker itself: written forms Whisper produces count as leaks, [TYPE] does not."""
    postcode = PIILabel("postcode", 0, 0, 0, "HW4 7QZ")
    assert leaked(postcode, ["it's H .W. 4, 7, Q .Z."], "")
    assert leaked(postcode, ["it's [POSTCODE] 7QZ"], "")
    assert not leaked(postcode, ["it's [POSTCODE]."], "")
    phone = PIILabel("phone_number", 0, 0, 0, "07700900123")
    assert leaked(phone, ["0-7-7-0-0, 9-0-0-1-2-3"], "")
    assert leaked(phone, ["oh seven seven double oh nine double oh"], "")
    assert leaked(PIILabel("phone_number", 0, 0, 0, "02079460562"), ["L2O, 79460."], "")
    email = PIILabel("email", 0, 0, 0, "j.smith@gmail.com")
    assert leaked(email, ["J dot Smith at Gmail dot com"], "")
    dob = PIILabel("date_of_birth", 0, 0, 0, "1961-03-12")
    assert leaked(dob, ["12th of March 1961"], "")
    assert leaked(dob, ["it's 12/3/61"], "")
    address = PIILabel("address", 0, 0, 0, "56 Orchard Rise")
    assert leaked(address, ["56th orchard rise, [POSTCODE]"], "")
    assert leaked(address, ["[ADDRESS] orchard rise, [POSTCODE]"], "")
    assert not leaked(address, ["Orchard Rise is collected on Friday."], "")
    name = PIILabel("person_name", 0, 0, 0, "Mr Lindqvist")
    assert leaked(name, ["thanks mr lindquist"], "")
    assert not leaked(name, ["thanks mr [PERSON_NAME]"], "")


@pytest.fixture(scope="module")
def asr_calls(whisper_model, sample_scripts, nlp, tmp_path_factory):  # type: ignore[no-untyped-def]
    """(script, real Whisper transcript, Tags) for each of ASR_CALLS."""
    cache = tmp_path_factory.mktemp("asr-cache")
    by_name = {call.name: call for call in sample_scripts}
    out = []
    for name in ASR_CALLS:
        call = by_name[name]
        transcript = transcribe_call(
            RECORDINGS / f"{name}.opus", layout=call.layout, cache_dir=cache
        )
        assert transcript.status == "ok", (name, transcript.reason)
        out.append((call, transcript, tag_transcript(transcript.turns, nlp)))
    return out


def test_no_labelled_pii_survives_in_redacted_whisper_text(asr_calls) -> None:  # type: ignore[no-untyped-def]
    leaks = []
    types = set()
    for call, _, tags in asr_calls:
        assert call.labels is not None
        types |= {label.type for label in call.labels.pii}
        leaks += [
            (call.name, *leak) for leak in call_leaks(call, (t.text for t in tags.redacted_turns))
        ]
    assert not leaks
    assert {"postcode", "phone_number", "email", "payment_card", "bank_account"} <= types
    assert {"ni_number", "date_of_birth", "account_reference", "person_name"} <= types


def _decode(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="s16p", layout="stereo", rate=rate)
        chunks = [
            f.to_ndarray() for frame in container.decode(stream) for f in resampler.resample(frame)
        ]
        chunks += [f.to_ndarray() for f in resampler.resample(None)]
    return np.concatenate(chunks, axis=1).astype(np.float64), rate


def _span_times(turn: Turn, span: PIISpan) -> tuple[float, float]:
    """First and last word time of a span, from the word positions in the turn text."""
    pos, hit = 0, []
    for word in turn.words:
        piece = word.text.strip()
        at = turn.text.find(piece, pos)
        if at < 0:
            continue
        pos = at + len(piece)
        if at < span.end and pos > span.start:
            hit.append(word)
    assert hit, (turn.text, span)
    return min(w.start_s for w in hit), max(w.end_s for w in hit)


def test_silence_pii_audio_with_real_word_timestamps(asr_calls, tmp_path) -> None:  # type: ignore[no-untyped-def]
    call, transcript, tags = next(c for c in asr_calls if c[0].name == "ct_progress_chase")
    caller_spans = [s for s in tags.pii if transcript.turns[s.turn].speaker == "caller"]
    assert caller_spans, [t.text for t in tags.redacted_turns]
    out = silence_pii_audio(
        RECORDINGS / f"{call.name}.opus",
        tmp_path / "silenced.wav",
        transcript.turns,
        tags.pii,
        layout=call.layout,
        margin_s=0.05,
    )
    original, rate = _decode(RECORDINGS / f"{call.name}.opus")
    silenced, _ = _decode(out)
    assert silenced.shape == original.shape
    caller = 1 if call.layout == "agent_left" else 0
    for span in caller_spans:
        start_s, end_s = _span_times(transcript.turns[span.turn], span)
        a, b = int(start_s * rate), int(np.ceil(end_s * rate))
        assert np.mean(original[caller, a:b] ** 2) > 0  # speech was there
        assert not silenced[caller, a:b].any(), (span, start_s, end_s)
    # the words nobody said in a span stay as they were
    assert np.mean(silenced[caller] ** 2) > 0.5 * np.mean(original[caller] ** 2)
