"""Presidio wiring: callqa's two recognizers (structured data; names and addresses) over the
spaCy `Doc` already made, the previous turns' cues raising waiting candidates, and the engine."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
from spacy.language import Language
from spacy.tokens import Doc

from pipeline.redact.addresses import addresses, answer_address
from pipeline.redact.candidates import CUED, Cand, resolve
from pipeline.redact.codes import structured
from pipeline.redact.names import answer_name, names
from pipeline.redact.rules import DEFAULT_RULES, TOKEN_RE, Rules, cue_kinds, load_rules
from pipeline.redact.spans import NAME_ADDRESS_TYPES, STRUCTURED_TYPES
from pipeline.redact.tokens import turn_of

__all__ = ["build_analyzer", "rules_of"]

# A candidate waiting for a cue is scored below this; the previous turn's cue raises it.
_THRESHOLD = 0.5
_CUE_KEY = "callqa_cues"
# A previous turn this short (words and punctuation) is a piece of an answer, not a question.
_FRAGMENT_TOKENS = 4


class _CueRecognizer(EntityRecognizer):  # type: ignore[misc]
    """Shared by both recognizers: candidates waiting for a cue are raised by the previous turn,
    which `find_pii` passes to Presidio as `context`."""

    def __init__(self, name: str, entities: list[str], rules: Rules) -> None:
        self.rules = rules
        super().__init__(supported_entities=entities, name=name, supported_language="en")

    def load(self) -> None:
        """Nothing to load: the rules come with the constructor."""

    def _results(self, cands: Iterable[Cand], entities: list[str]) -> list[RecognizerResult]:
        out = []
        for c in cands:
            if c.entity not in entities or c.end <= c.start:
                continue
            meta: dict[str, Any] = {
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            }
            if c.cues:
                meta[_CUE_KEY] = c.cues
            out.append(RecognizerResult(c.entity, c.start, c.end, c.score, None, meta))
        return out

    def enhance_using_context(
        self,
        text: str,
        raw_recognizer_results: list[RecognizerResult],
        other_raw_recognizer_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        waiting = [
            r for r in raw_recognizer_results if (r.recognition_metadata or {}).get(_CUE_KEY)
        ]
        if not context or not waiting:
            return raw_recognizer_results
        found = self._context_cues(context)
        for result in waiting:
            entity = resolve(result.recognition_metadata[_CUE_KEY], found)
            if entity is not None:
                result.entity_type = entity
                result.score = CUED
        return raw_recognizer_results

    def _context_cues(self, context: list[str]) -> set[str]:
        """The turn just before gives any cue; the ones before it only their topic, unless the
        turn just before is a fragment (Whisper splits an answer: "23rd of July," "1990.")."""
        path = self.rules.path
        found = set(cue_kinds(context[-1], path))
        asked = len(context) - 1
        if len(context) > 1 and len(TOKEN_RE.findall(context[-1])) <= _FRAGMENT_TOKENS:
            # not a name question: the name is the answer's first piece ("Asher Ramen,")
            found |= cue_kinds(context[-2], path) - {"name"}
            asked -= 1
        for older in context[:asked]:
            found |= cue_kinds(older, path) & self.rules.topic_cues
        return found


class _StructuredRecognizer(_CueRecognizer):
    """UK structured data, written or spoken: cards, phones, NI numbers, postcodes, e-mails,
    dates of birth, bank details and council references."""

    def __init__(self, rules: Rules) -> None:
        super().__init__("callqa_structured", [t.upper() for t in STRUCTURED_TYPES], rules)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return self._results(structured(turn_of(text, self.rules.path), self.rules), entities)


class _NameAddressRecognizer(_CueRecognizer):
    """Names (spaCy PERSON, cue phrases, known first names, spellings) and street addresses."""

    def __init__(self, rules: Rules) -> None:
        super().__init__("callqa_names", [t.upper() for t in NAME_ADDRESS_TYPES], rules)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        turn = turn_of(text, self.rules.path)
        cands = addresses(turn, self.rules)
        if nlp_artifacts is not None and isinstance(nlp_artifacts.tokens, Doc):
            cands += names(turn, self.rules, nlp_artifacts.tokens)
        cands += answer_name(turn, self.rules) + answer_address(turn, self.rules)
        return self._results(cands, entities)


class _NoContextEnhancer(ContextAwareEnhancer):  # type: ignore[misc]
    """Presidio's lemma-based context boost is replaced by the recognizers' own cues."""

    def __init__(self) -> None:
        super().__init__(0.0, 0.0, 0, 0)

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        return raw_results


def build_analyzer(nlp: Language, rules_path: Path | None = None) -> AnalyzerEngine:
    """A Presidio AnalyzerEngine over the already-loaded spaCy `nlp`, with only callqa's
    recognizers (no default ones, no network, no model download).

    Raises RulePackError when `models/pii.yaml` (or `rules_path`) is missing or invalid.
    """
    rules = load_rules(DEFAULT_RULES if rules_path is None else Path(rules_path))
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "en_core_web_sm"}])
    engine.nlp = {"en": nlp}
    registry = RecognizerRegistry(
        recognizers=[_StructuredRecognizer(rules), _NameAddressRecognizer(rules)],
        supported_languages=["en"],
    )
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=engine,
        supported_languages=["en"],
        context_aware_enhancer=_NoContextEnhancer(),
        default_score_threshold=_THRESHOLD,
    )


def rules_of(analyzer: AnalyzerEngine) -> Rules:
    """The rule pack an analyzer from `build_analyzer` was built with."""
    for recognizer in analyzer.registry.recognizers:
        if isinstance(recognizer, _CueRecognizer):
            return recognizer.rules
    raise ValueError("find_pii needs an analyzer from pipeline.redact.build_analyzer()")
