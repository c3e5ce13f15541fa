"""The spaCy components tagging adds: the match-key normaliser before the rules' matcher, and the
personal-data finder after it.

Patterns match a token's *match key*, which `callqa_normalise` sets, so lower-case,
unpunctuated and misheard speech-recognition text matches:

    spoken form --(spaCy norm)--> "we're" -> "are", "cos" -> "because"
                --(known confusions)--> "counsel" -> "council", "tacks" -> "tax"
                --(lemma, inflection)--> "bins" -> "bin", "collected" -> "collect"
                --(fuzzy, non-words only)--> "recyling" -> "recycling"

Misheard phrases ("garden waist", "lamb post", "my arrow account") are listed in the packs as
`confusions` of the phrase meant.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from spacy.language import Language
from spacy.tokens import Doc, Token

from pipeline.learned import Featuriser, TaggerModel
from pipeline.redact import build_analyzer, find_pii
from pipeline.tagging.packs import RulePacks
from pipeline.tagging.phrases import CLITICS

__all__ = ["NORMALISER", "PII_FINDER", "PREVIOUS_TURNS", "Normaliser"]

#: The components' names in a pipeline (and their factories').
NORMALISER = "callqa_normalise"
PII_FINDER = "callqa_pii"
#: Doc user-data key of the turns before a Doc's own, for the personal-data finder.
PREVIOUS_TURNS = "callqa_previous_turns"

if not Doc.has_extension("callqa_pii"):
    Doc.set_extension("callqa_pii", default=None)


class Normaliser:
    """Sets each token's NORM to its match key (see the module docstring).

    The rule packs and the learned layer travel with the pipeline on it (`load_pipeline` sets
    them), so whatever holds the pipeline holds everything tagging needs.
    """

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
        self.packs: RulePacks | None = None
        self.learned: tuple[TaggerModel, Featuriser] | None = None

    def __call__(self, doc: Doc) -> Doc:
        for token in doc:
            key = self.key(token)
            if key != token.norm_:
                token.norm_ = key
        return doc

    def key(self, token: Token) -> str:
        base = CLITICS.get(token.norm_, token.norm_)
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
    NORMALISER,
    default_config={"vocabulary": [], "confusions": {}, "fuzzy_min_length": 6},
)
def _make_normaliser(
    nlp: Language,
    name: str,
    vocabulary: list[str],
    confusions: dict[str, str],
    fuzzy_min_length: int,
) -> Normaliser:
    return Normaliser(vocabulary, confusions, fuzzy_min_length, _dictionary_words(nlp))


class _PIIFinder:
    """Personal-data spans of each turn, from the same Doc the rules read.

    The turns before it (the agent's question gives a bare answer its type) travel in the
    Doc's user data, set by `tag_many`, so the component also works in `nlp.pipe` workers.
    """

    def __init__(self, analyzer: Any) -> None:
        self._analyzer = analyzer

    def __call__(self, doc: Doc) -> Doc:
        # Popped: it has done its job, and Docs travel back from `nlp.pipe` workers.
        previous = doc.user_data.pop(PREVIOUS_TURNS, ())
        doc._.callqa_pii = [
            [span.type, span.start, span.end]
            for span in find_pii(self._analyzer, doc, previous=previous)
        ]
        return doc


@Language.factory(PII_FINDER)
def _make_pii(nlp: Language, name: str) -> _PIIFinder:
    return _PIIFinder(build_analyzer(nlp))
