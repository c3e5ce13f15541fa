"""The rule packs' matcher: one component that sets `doc.spans[field]` for every output field
exactly as one spaCy `span_ruler` per field would, but matches the packs' wildcard patterns
itself.

spaCy's token Matcher starts every pattern at every token and calls Python for each `IN` list;
with a few hundred wildcard patterns it took a third of tagging's time. The packs' compiled
patterns are simple (match keys, one-word alternatives, optional words, the first and last word
required), so here a pattern is tried only where its first word is, over the tokens' match-key
ids, following every way through its optional words as spaCy's Matcher does. A raw spaCy
pattern that uses more goes to spaCy's Matcher; phrases go to its PhraseMatcher, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spacy.attrs import NORM
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

__all__ = ["RULES", "RuleMatcher"]

#: The component's name in a pipeline (and its factory's).
RULES = "callqa_rules"


@dataclass(frozen=True)
class _Step:
    """One pattern token: which match-key ids it takes (None: any word), and its operator."""

    keys: frozenset[int] | None
    negated: bool  # NOT_IN: any word but `keys`
    optional: bool

    def takes(self, key: int) -> bool:
        return self.keys is None or (key in self.keys) != self.negated


@dataclass(frozen=True)
class _Pattern:
    match_id: int
    steps: tuple[_Step, ...]

    def ends(self, keys: Sequence[int], start: int) -> set[int]:
        """Where a match from `start` can end: every way through the optional words."""
        at = {start}
        for step in self.steps:
            nxt = {i + 1 for i in at if i < len(keys) and step.takes(keys[i])}
            at = nxt | at if step.optional else nxt
            if not at:
                break
        return at


def _step(token: Any, vocab: Vocab) -> _Step | None:
    """The step of a pattern token this matcher takes exactly as spaCy does, else None."""
    if not isinstance(token, dict) or set(token) - {"NORM", "OP"}:
        return None
    if token.get("OP") not in (None, "?"):
        return None
    optional = "OP" in token
    if "NORM" not in token:
        return _Step(None, False, optional)
    norm = token["NORM"]
    if isinstance(norm, str):
        words, negated = [norm], False
    elif isinstance(norm, dict) and len(norm) == 1 and set(norm) <= {"IN", "NOT_IN"}:
        words, negated = next(iter(norm.values())), "NOT_IN" in norm
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            return None
    else:
        return None
    # The ids spaCy compares: a token's NORM id against each word's.
    return _Step(frozenset(vocab.strings.add(w) for w in words), negated, optional)


class RuleMatcher:
    """Every rule's patterns, each under its field (spans key), label and pattern id.

    Spans come out as `span_ruler` sets them: one per distinct (label, id, start, end), sorted.
    """

    def __init__(self, vocab: Vocab) -> None:
        self._vocab = vocab
        self._phrases = PhraseMatcher(vocab, attr="NORM", validate=True)
        self._matcher = Matcher(vocab, validate=True)
        self._by_first: dict[int, list[_Pattern]] = {}
        self._spans: dict[int, tuple[str, str, str]] = {}  # match id -> field, label, pattern id
        self.fields: list[str] = []

    def add_patterns(
        self, field: str, patterns: Sequence[tuple[str, str, list[dict[str, Any]] | Doc]]
    ) -> None:
        """Add (label, pattern id, token pattern or phrase Doc) patterns under `field`.

        A phrase Doc must have been through the pipeline's components before this one, so its
        match keys are the text's. Raises MatchPatternError for an invalid token pattern.
        """
        if field not in self.fields:
            self.fields.append(field)
        for label, pattern_id, pattern in patterns:
            name = repr((field, label, pattern_id))
            match_id = self._vocab.strings.add(name)
            self._spans[match_id] = (field, label, pattern_id)
            if isinstance(pattern, Doc):
                self._phrases.add(name, [pattern])
                continue
            compiled = self._compile(match_id, pattern)
            if compiled is None:
                self._matcher.add(name, [pattern])
                continue
            first = compiled.steps[0].keys
            assert first is not None, "checked by _compile"
            for key in first:
                self._by_first.setdefault(key, []).append(compiled)

    def _compile(self, match_id: int, pattern: Any) -> _Pattern | None:
        if not isinstance(pattern, list) or not pattern:
            return None
        steps = [_step(token, self._vocab) for token in pattern]
        first, last = steps[0], steps[-1]
        # spaCy's Matcher has its own rules for optional words at either end, and a first word
        # that is not a list of keys cannot be looked up: those stay with it.
        if first is None or last is None or first.optional or last.optional:
            return None
        if first.keys is None or first.negated:
            return None
        if any(s is None for s in steps):
            return None
        return _Pattern(match_id, tuple(s for s in steps if s is not None))

    def __call__(self, doc: Doc) -> Doc:
        matches = set(self._phrases(doc)) if len(self._phrases) else set()
        if len(self._matcher):
            matches.update(self._matcher(doc))
        keys = doc.to_array(NORM).tolist()
        for start, key in enumerate(keys):
            for pattern in self._by_first.get(key, ()):
                matches.update((pattern.match_id, start, end) for end in pattern.ends(keys, start))
        by_field: dict[str, set[Span]] = {field: set() for field in self.fields}
        for match_id, start, end in matches:
            field, label, pattern_id = self._spans[match_id]
            by_field[field].add(Span(doc, start, end, label=label, span_id=pattern_id))
        for field, spans in by_field.items():
            doc.spans[field] = sorted(spans)
        return doc


@Language.factory(RULES)
def _make_rules(nlp: Language, name: str) -> RuleMatcher:
    return RuleMatcher(nlp.vocab)
