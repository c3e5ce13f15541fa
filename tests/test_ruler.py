"""The rules' matcher (pipeline/tagging/ruler.py) finds what spaCy's own Matcher finds.

It matches the packs' token patterns itself, for speed; spaCy's Matcher, given the same
patterns over the same Docs, is the reference it must agree with span for span.
"""

from __future__ import annotations

from pathlib import Path

from spacy.matcher import Matcher

from pipeline.corpus import read_corpus
from pipeline.tagging.nlp import packs_of
from pipeline.tagging.packs import RULERS
from pipeline.tagging.phrases import as_phrases

CORPUS = Path(__file__).resolve().parents[1] / "eval" / "corpus"


def test_the_rules_matcher_finds_every_span_spacy_matcher_finds(nlp) -> None:  # type: ignore[no-untyped-def]
    packs = packs_of(nlp)
    reference = Matcher(nlp.vocab, validate=True)
    fields = {}
    for field, _ in RULERS:
        for rule in packs.rules.values():
            if rule.key != field:
                continue
            for pattern_id, pattern in rule.patterns:
                if as_phrases(pattern, nlp.make_doc) is None:
                    name = repr((field, rule.id, pattern_id))
                    reference.add(name, [pattern])
                    fields[name] = field
    assert len(reference) > 100  # the packs' wildcard patterns, not a handful

    calls, _ = read_corpus(CORPUS)
    texts = [turn.text for call in calls if call.split == "dev" for turn in call.turns]
    compared = 0
    for doc in nlp.pipe(texts):
        want = {
            (nlp.vocab.strings[match_id], start, end) for match_id, start, end in reference(doc)
        }
        got = {
            (name, span.start, span.end)
            for field in set(fields.values())
            for span in doc.spans.get(field, [])
            if (name := repr((field, span.label_, span.id_))) in fields
        }
        assert got == want, doc.text
        compared += len(want)
    assert compared > 500  # the check saw many matches, not an empty agreement
