"""The labelled corpus (eval/corpus/, pipeline/corpus.py): independent, author-split, well formed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pipeline.corpus import problems, read_corpus
from pipeline.tagging import AVOIDABLE_CATEGORIES, SAFEGUARDING, VULNERABILITIES
from pipeline.vocabulary import load_vocabulary

CORPUS = Path(__file__).resolve().parents[1] / "eval" / "corpus"


@pytest.fixture(scope="module")
def corpus():  # type: ignore[no-untyped-def]
    calls, wrong = read_corpus(CORPUS)
    assert not wrong
    return [c for c in calls if c.source != "project"]


def test_enough_calls_by_several_authors_split_by_author(corpus) -> None:  # type: ignore[no-untyped-def]
    assert len(corpus) >= 600
    splits_of = {}
    for call in corpus:
        splits_of.setdefault(call.source, set()).add(call.split)
    assert all(len(splits) == 1 for splits in splits_of.values())
    authors = Counter(next(iter(s)) for s in splits_of.values())
    assert authors["train"] >= 2 and authors["dev"] >= 1 and authors["test"] >= 2
    assert 0.28 <= sum(c.style == "asr" for c in corpus) / len(corpus) <= 0.45


def test_every_label_is_covered_in_train_and_test(corpus) -> None:  # type: ignore[no-untyped-def]
    for split in ("train", "test"):
        part = [c for c in corpus if c.split == split]
        categories = {c.labels["avoidable_category"] for c in part}
        assert set(AVOIDABLE_CATEGORIES) <= categories, split
        found = Counter(v for c in part for v in c.labels["vulnerability"])
        assert set(VULNERABILITIES) <= set(found), split


def test_the_test_split_has_the_vulnerability_calls_the_issue_asks_for(corpus) -> None:  # type: ignore[no-untyped-def]
    test = [c for c in corpus if c.split == "test"]
    vulnerable = [c for c in test if c.labels["vulnerability"]]
    safeguarding = [c for c in vulnerable if set(c.labels["vulnerability"]) & SAFEGUARDING]
    hard_negatives = [
        c for c in test if not c.labels["vulnerability"] and "hard negative" in c.note.lower()
    ]
    assert len(vulnerable) >= 120 and len(safeguarding) >= 50
    assert len(hard_negatives) >= 30
    assert len(vulnerable) + len(hard_negatives) >= 150


def test_a_malformed_call_is_named_with_what_is_wrong() -> None:
    vocab = load_vocabulary()
    call = {
        "id": "x",
        "style": "clean",
        "turns": [{"speaker": "agent", "text": "hello"}],
        "contact_reasons": ["bins"],
        "primary_reason": "bins",
        "avoidable": True,
        "avoidable_category": None,
        "complaint": False,
        "transferred": False,
        "qa": {"greeting": True},
        "vulnerability": ["sad"],
    }
    found = problems(call, vocab)
    assert "unknown reason 'bins'" in found
    assert any("avoidable call needs a category" in p for p in found)
    assert any(p.startswith("qa must have exactly") for p in found)
    assert "unknown vulnerability 'sad'" in found
