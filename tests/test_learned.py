"""The learned layer (pipeline/learned.py) as shipped in models/tagger/, on real calls."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.corpus import read_corpus
from pipeline.errors import CallQAError
from pipeline.learned import HASH_FEATURES, MODEL_DIRNAME, load_embedder, load_model
from pipeline.tagging import load_pipeline, tag_file, tag_many
from pipeline.training import targets
from pipeline.vocabulary import DEFAULT_MODELS_DIR

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dev_calls():  # type: ignore[no-untyped-def]
    calls, wrong = read_corpus(ROOT / "eval" / "corpus")
    assert not wrong
    return [c for c in calls if c.split == "dev"][:40]


@pytest.fixture(scope="module")
def dev_tags(nlp, dev_calls):  # type: ignore[no-untyped-def]
    return tag_many([c.turns for c in dev_calls], nlp)


def test_the_shipped_model_loads_from_arrays_without_pickle() -> None:
    model = load_model(DEFAULT_MODELS_DIR / MODEL_DIRNAME)
    assert model is not None
    assert model.targets == targets()
    assert model.weights.shape == (len(model.targets), model.mean.shape[0] + 2 * HASH_FEATURES)
    with np.load(DEFAULT_MODELS_DIR / MODEL_DIRNAME / "weights.npz", allow_pickle=False) as f:
        assert set(f.files) >= {"weights", "bias", "platt_a", "platt_b", "thresholds"}


def test_every_tag_has_a_probability_and_every_given_tag_has_evidence(dev_calls, dev_tags) -> None:  # type: ignore[no-untyped-def]
    version = load_model(DEFAULT_MODELS_DIR / MODEL_DIRNAME).version  # type: ignore[union-attr]
    for call, tags in zip(dev_calls, dev_tags, strict=True):
        assert tags.tagger_version == version
        assert set(tags.probabilities) == set(targets())
        assert all(0.0 <= p <= 1.0 for p in tags.probabilities.values())
        given = {f"qa:{c}" for c, v in tags.qa.__dict__.items() if v}
        given |= {f"avoidable_category:{tags.avoidable_category}"} if tags.avoidable else set()
        given |= {f"vulnerability:{v}" for v in tags.vulnerability}
        found = {e.tag for e in tags.evidence}
        assert given <= found, (call.id, given - found)
        for item in tags.evidence:
            assert 0 <= item.turn < len(call.turns)
            assert item.text.strip()


def test_model_evidence_quotes_the_redacted_turn(dev_tags) -> None:  # type: ignore[no-untyped-def]
    learned = [(tags, e) for tags in dev_tags for e in tags.evidence if e.rule.startswith("model:")]
    assert learned, "the model gave no tag the rules missed on 40 dev calls"
    for tags, item in learned:
        assert item.text in tags.redacted_turns[item.turn].text


def test_the_words_behind_a_score_are_hashed_as_the_features_are() -> None:
    from pipeline.learned import CallView, Featuriser

    featuriser = Featuriser((), np.ones(2 * HASH_FEATURES, np.float32), load_embedder())
    view = CallView(("agent", "caller"), ("Hello, council.", "It is still not sorted."), {})
    (agent_grams, agent_columns), (grams, columns) = featuriser.turn_grams(view)
    words = featuriser.sparse([view]).toarray().ravel()
    assert "still not" in grams and "hello" in agent_grams
    assert all(words[c - featuriser.n_dense] > 0 for c in [*columns, *agent_columns])
    assert all(c >= featuriser.n_dense + HASH_FEATURES for c in agent_columns)


def test_rules_alone_when_asked(nlp, dev_calls) -> None:  # type: ignore[no-untyped-def]
    rules = load_pipeline(learned=False)
    (tags,) = tag_many([dev_calls[0].turns], rules)
    assert tags.probabilities == {} and tags.tagger_version is None


def test_callqa_tag_prints_probabilities(nlp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "call.json"
    path.write_text(
        json.dumps(
            {
                "id": "x1",
                "turns": [
                    {"speaker": "agent", "text": "Good morning, Haverleigh Council, Sam speaking."},
                    {
                        "speaker": "caller",
                        "text": "I rang three weeks ago about my bin and nobody has been out.",
                    },
                ],
            }
        )
    )
    (result,) = tag_file(path, nlp)
    assert result["id"] == "x1"
    assert set(result["probabilities"]) == set(targets())
    assert result["tagger_version"]
    assert isinstance(result["vulnerability"], list) and isinstance(result["safeguarding"], bool)


def test_a_damaged_model_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / MODEL_DIRNAME
    shutil.copytree(DEFAULT_MODELS_DIR / MODEL_DIRNAME, folder)
    (folder / "weights.npz").write_bytes(b"not a zip file")
    with pytest.raises(CallQAError, match="callqa train"):
        load_model(folder)


def test_a_call_with_no_words_and_no_calls_at_all(nlp) -> None:  # type: ignore[no-untyped-def]
    from pipeline.tagging import TextTurn

    assert tag_many([], nlp) == []
    (silent,) = tag_many([[TextTurn("agent", ""), TextTurn("caller", "...")]], nlp)
    (empty,) = tag_many([[]], nlp)
    for tags in (silent, empty):
        assert tags.primary_reason and not tags.avoidable
        assert all(0.0 <= p <= 1.0 for p in tags.probabilities.values())


def test_uncertain_tags_are_the_model_decided_ones_near_their_threshold(dev_tags) -> None:  # type: ignore[no-untyped-def]
    from pipeline.tagging import REVIEWED_TAGS, UNCERTAIN_MARGIN

    model = load_model(DEFAULT_MODELS_DIR / MODEL_DIRNAME)
    assert model is not None
    threshold = dict(zip(model.targets, model.thresholds.tolist(), strict=True))
    decides = dict(zip(model.targets, model.rule_decides.tolist(), strict=True))
    flagged = 0
    for tags in dev_tags:
        for tag in REVIEWED_TAGS:
            near = abs(tags.probabilities[tag] - threshold[tag]) < UNCERTAIN_MARGIN
            assert (tag in tags.uncertain) == (near and not decides[tag])
        flagged += bool(tags.uncertain)
    assert 0 < flagged < len(dev_tags)


def test_safeguarding_is_raised_at_its_own_level_and_names_an_id() -> None:
    from pipeline.tagging.decide import Verdict, given_vulnerability
    from pipeline.vocabulary import load_vocabulary

    model = load_model(DEFAULT_MODELS_DIR / MODEL_DIRNAME)
    assert model is not None
    vocab = load_vocabulary()
    raised = model.threshold["safeguarding"]
    listed = model.threshold["vulnerability:child_at_risk"]
    assert raised < listed  # raised well before an id is listed
    low = {t: 0.0 for t in model.targets}

    def given(**probabilities: float) -> tuple[list[str], bool]:
        verdict = Verdict({**low, **probabilities}, model, frozenset())
        return given_vulnerability(verdict, vocab)

    between = (raised + listed) / 2
    assert given() == ([], False)
    assert given(**{"vulnerability:bereavement": listed}) == (["bereavement"], False)
    # An id between the two levels raises the call and is the id named.
    assert given(**{"vulnerability:child_at_risk": between}) == (["child_at_risk"], True)
    # The call-level model alone raises it: the likeliest safeguarding id is named.
    ids, safeguarding = given(
        **{"safeguarding": between, "vulnerability:domestic_abuse": raised / 2}
    )
    assert safeguarding and ids == ["domestic_abuse"]
    # Listed ids keep their own level: below it, a safeguarding id is not listed beside one that is.
    ids, safeguarding = given(
        **{"vulnerability:risk_to_life": listed, "vulnerability:adult_at_risk": between}
    )
    assert safeguarding and ids == ["risk_to_life"]


def test_the_primary_is_the_reason_both_models_find_likeliest() -> None:
    from pipeline.tagging.decide import Verdict, given_reasons
    from pipeline.vocabulary import load_vocabulary

    model = load_model(DEFAULT_MODELS_DIR / MODEL_DIRNAME)
    assert model is not None
    vocab = load_vocabulary()
    level = model.threshold["contact_reasons:council_tax"]
    low = {t: 0.0 for t in model.targets}

    def given(probabilities: dict[str, float], found: tuple[str, ...] = ()) -> list[str]:
        return given_reasons(Verdict({**low, **probabilities}, model, frozenset()), vocab, found)

    # Two given reasons: the primary model's narrow first choice loses to the reason the reason
    # model is far surer of.
    assert given(
        {
            "contact_reasons:council_tax": 0.95,
            "contact_reasons:benefits": level + 0.05,
            "primary_reason:council_tax": 0.5,
            "primary_reason:benefits": 0.55,
        }
    ) == ["council_tax", "benefits"]
    # A reason just short of its threshold, of which the primary model is sure, is the primary
    # and is given; one the reason model doubts is not made the primary by the primary model.
    assert given(
        {
            "contact_reasons:council_tax": level - 0.05,
            "contact_reasons:waste_recycling": 0.95,
            "contact_reasons:parking": 0.05,
            "primary_reason:council_tax": 0.9,
            "primary_reason:waste_recycling": 0.2,
            "primary_reason:parking": 0.95,
        }
    ) == ["council_tax", "waste_recycling"]
    # No reason given: the likeliest primary of the reasons the rules found.
    assert given({"primary_reason:parking": 0.4}, ("parking", "housing_repairs")) == ["parking"]
