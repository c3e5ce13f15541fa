"""Person names: spaCy PERSON, cue phrases ("my name is", "speaking to ..."), known first names,
spellings ("that's s m i t h") and a bare name answering "can I take your name?"."""

from __future__ import annotations

import re
from collections.abc import Mapping

from spacy.lang.en.stop_words import STOP_WORDS
from spacy.tokens import Doc

from pipeline.redact.candidates import CUED, NEEDS_CUE, Cand
from pipeline.redact.rules import Rules
from pipeline.redact.tokens import JOINERS, Tok, Turn

__all__ = ["answer_name", "answer_start", "name_like", "names"]

_NAME_APOSTROPHE_RE = re.compile(r"^(?:o|d|mc|n)'[a-z]+$")
# Parts of speech a name after a cue never has ("my husband passed away", "the doctor sent").
_NOT_NAME_POS = frozenset({"VERB", "AUX", "ADP", "PART", "DET", "PRON", "SCONJ", "CCONJ", "NUM"})
_TITLES = ("mr", "mrs", "ms", "miss", "dr", "mister", "missus")
# A whole answer to "can I take your name?" this short is the name, however it was heard.
_MISHEARD_NAME_WORDS = 3
_QUESTION_WORDS = frozenset({"what", "which", "who", "whose", "where", "when", "why", "how"})
# Words that open an answer before the value itself: "yeah it's ...", "um my name's ...".
_OPENERS = frozenset(
    [
        "yes",
        "yeah",
        "yep",
        "yup",
        "it's",
        "its",
        "it",
        "is",
        "sure",
        "so",
        "oh",
        "that's",
        "my",
        "name's",
        "name",
        "names",
        "ok",
        "okay",
        "right",
        "well",
        "erm",
        "um",
        "er",
        "uh",
        "ah",
        "and",
        ",",
        ".",
        "-",
        "i'm",
        "i",
        "am",
        *_TITLES,
        "surname",
        "first",
    ]
)


def name_like(tok: Tok, rules: Rules) -> bool:
    """A word that could be part of a name: not a stop word, number, month, street or body."""
    low = tok.low
    base = low[:-2] if low.endswith("'s") else low
    if "'" in base and not _NAME_APOSTROPHE_RE.match(base):
        return False  # "you're", "that's"; not "o'brien"
    return (
        base.replace("'", "").replace("-", "").isalpha()
        and len(base) >= 2
        and base not in rules.not_names
        and base not in rules.months
        and base not in rules.digits
        and base not in rules.teens
        and base not in rules.tens
        and base not in rules.street_suffixes
        and base not in rules.ordinals
        and base not in rules.org_words
    )


def _known_first(tok: Tok, rules: Rules) -> bool:
    return tok.low in rules.first_names or (
        tok.low in rules.ambiguous_first_names and tok.text[:1].isupper()
    )


def _name_after(
    turn: Turn, rules: Rules, i: int, *, weak: bool, pos: Mapping[int, str] | None = None
) -> tuple[int, int] | None:
    """Name tokens from token i (skipping commas, fillers and titles): (first, end)."""
    toks = turn.toks
    while i < len(toks) and (
        toks[i].low in (",", "-", ":")
        or toks[i].low in rules.fillers
        or toks[i].low in (*_TITLES, ".")
    ):
        i += 1
    j = i
    while j < len(toks) and j - i < 3 and name_like(toks[j], rules):
        if (
            pos is not None
            and pos.get(toks[j].start) in _NOT_NAME_POS
            and not _known_first(toks[j], rules)
            and not toks[j].text[:1].isupper()
        ):
            break
        j += 1
    if j == i:
        return None
    if j < len(toks) and (toks[j].low in rules.street_suffixes or toks[j].low in rules.org_words):
        return None  # "victoria road", "harrow council": a street or a body, not a person
    if weak:
        after = toks[j].low if j < len(toks) else ""
        if not (
            _known_first(toks[i], rules)
            or (toks[i].text[:1].isupper() and toks[i].text[1:2].islower())
            or after in rules.name_after
        ):
            return None
    return i, j


def names(turn: Turn, rules: Rules, doc: Doc) -> list[Cand]:
    """Names after cue phrases and greetings, around known first names, spelled out, and
    spaCy's PERSON entities, in that order."""
    pos = {t.idx: t.pos_ for t in doc} if doc.has_annotation("POS") else None
    found = _cued_names(turn, rules, pos) + _word_names(turn, rules, pos)
    toks = turn.toks
    spans = [(toks[first].start, toks[end - 1].end) for first, end in found]
    spans += _spacy_names(doc, rules)
    return [Cand("PERSON_NAME", s, e, CUED) for s, e in spans]


def _cued_names(turn: Turn, rules: Rules, pos: Mapping[int, str] | None) -> list[tuple[int, int]]:
    """(first, end) tokens of names after the pack's name cues and greetings."""
    found: list[tuple[int, int]] = []
    for regex, weak in ((rules.strong_name_cues, False), (rules.weak_name_cues, True)):
        for m in regex.finditer(turn.joined):
            got = _name_after(turn, rules, turn.tok_index(m.end()), weak=weak, pos=pos)
            if got:
                found.append(got)
    for m in rules.greeting_cues.finditer(turn.joined):
        i = turn.tok_index(m.end())
        if i < len(turn.toks) and turn.toks[i].low in rules.ambiguous_first_names:
            found.append((i, i + 1))  # "hi mark": after a greeting a name that is also a word
    return found


def _word_names(turn: Turn, rules: Rules, pos: Mapping[int, str] | None) -> list[tuple[int, int]]:
    """(first, end) tokens of "<name> speaking", names from a known first name, spellings."""
    toks = turn.toks
    found: list[tuple[int, int]] = []
    for k, tok in enumerate(toks):
        if tok.low == "speaking" and k > 0 and name_like(toks[k - 1], rules):
            first = k - 1
            if first > 0 and _known_first(toks[first - 1], rules):
                first -= 1
            found.append((first, k))
        elif _known_first(tok, rules):
            got = _name_after(turn, rules, k, weak=False, pos=pos)
            if got:
                found.append(got)
        elif tok.low in ("spelt", "spelled", "spelling", "spell") or tok.low == "that's":
            got = _spelling(turn, rules, k + 1)
            if got:
                found.append(got)
    return found


def _spelling(turn: Turn, rules: Rules, i: int) -> tuple[int, int] | None:
    """(first, end) tokens of three or more letters spelled from token i ("s m i t h")."""
    toks = turn.toks
    j = i
    while j < len(toks) and (
        (len(toks[j].low) == 1 and toks[j].low.isalpha())
        or toks[j].low in rules.letter_names
        or toks[j].low in JOINERS
        or toks[j].low in rules.repeaters
    ):
        j += 1
    if sum(1 for t in toks[i:j] if t.low.isalpha()) < 3:
        return None
    end = j
    while toks[end - 1].low in JOINERS:
        end -= 1
    return i, end


def _spacy_names(doc: Doc, rules: Rules) -> list[tuple[int, int]]:
    """Character spans of spaCy's PERSON entities, less digits, bodies and streets."""
    found: list[tuple[int, int]] = []
    for ent in doc.ents:
        if ent.label_ != "PERSON":
            continue
        words = [t for t in ent if not t.is_punct]
        if not words or any(any(c.isdigit() for c in t.text) for t in words):
            continue
        if any(t.lower_ in rules.org_words or t.lower_ in rules.street_suffixes for t in words):
            continue  # "Harrow Council", "Northfield Primary", "Marlborough Hill"
        after = doc[ent.end].lower_ if ent.end < len(doc) else ""
        if after in rules.street_suffixes or after in rules.org_words:
            continue  # "Marlborough Hill"; "Harrow" of "Harrow Council"
        keep = [
            t
            for t in words
            if name_like(Tok(0, 0, t.text, t.text.lower().replace("’", "'")), rules)
        ]
        if keep:
            found.append((keep[0].idx, keep[-1].idx + len(keep[-1].text)))
    return found


def _capitalised_word(tok: Tok, rules: Rules) -> bool:
    return (
        tok.text[:1].isupper()
        and tok.text[1:2].islower()
        and tok.low.isalpha()
        and tok.low not in STOP_WORDS
        and tok.low not in rules.months
        and tok.low not in rules.street_suffixes
        and tok.low not in rules.org_words
    )


def answer_start(turn: Turn) -> int:
    """The first token after an answer's opening words ("yeah it's", "um my name's")."""
    i = 0
    while i < len(turn.toks) and i < 6 and turn.toks[i].low in _OPENERS:
        i += 1
    return i


def answer_name(turn: Turn, rules: Rules) -> list[Cand]:
    """A bare name at the start of a turn ("yeah it's john smith"), kept if the previous turn
    asked for a name."""
    toks = turn.toks
    i = j = answer_start(turn)
    # Whisper capitalises the names it hears, even as words: "It's Irish Campbell" (Iris)
    while (
        j < len(toks)
        and j - i < 3
        and (name_like(toks[j], rules) or (j > 0 and _capitalised_word(toks[j], rules)))
    ):
        j += 1
    cues = (("name", "PERSON_NAME"),)
    if (
        j == i
        or (j < len(toks) and toks[j].low in rules.street_suffixes)
        or not any(name_like(t, rules) for t in toks[i:j])
    ):
        # A short answer of plain words is a name misheard as words: "never fair whether"
        rest = [t for t in toks[i:] if t.low not in (".", ",", "?", "!")]
        if (
            1 <= len(rest) <= _MISHEARD_NAME_WORDS
            and all(t.low.isalpha() and t.low not in _QUESTION_WORDS for t in rest)
            and any(t.low not in rules.not_names for t in rest)
        ):
            return [Cand("PERSON_NAME", rest[0].start, rest[-1].end, NEEDS_CUE, cues)]
        return []
    return [Cand("PERSON_NAME", toks[i].start, toks[j - 1].end, NEEDS_CUE, cues)]
