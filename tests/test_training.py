"""`callqa train`: a candidate from the corpus and reviews, a model card, promote or refuse."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from callqa.cli import app
from pipeline.corpus import read_corpus
from pipeline.evaluation import Figure, compare, score
from pipeline.learned import MODEL_DIRNAME, load_model
from pipeline.reviews import labels_from_review
from pipeline.tagging import QA_CHECKS
from pipeline.tagging.nlp import load_pipeline
from pipeline.tagging.tagger import rule_views
from pipeline.tagging.tags import AVOIDABLE_CATEGORIES, QAChecks, Tags
from pipeline.training import HEADLINE, decision, fit, train_and_promote
from pipeline.vocabulary import DEFAULT_MODELS_DIR

ROOT = Path(__file__).resolve().parents[1]
REVIEWED = ("primary_reason", "avoidable", "avoidable_category", "complaint", "transferred")


def _small_corpus(folder: Path, train: int, dev: int) -> Path:
    """A corpus folder holding the first calls of one train and the dev author."""
    calls, _ = read_corpus(ROOT / "eval" / "corpus")
    folder.mkdir(parents=True)
    (folder / "authors.yaml").write_text(
        "authors:\n  ana: {split: train}\n  dev: {split: dev}\n", encoding="utf-8"
    )
    for author, n in (("ana", train), ("dev", dev)):
        (folder / "calls" / author).mkdir(parents=True)
        source = ROOT / "eval" / "corpus" / "calls" / author
        lines = [
            line
            for path in sorted(source.glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ][:n]
        (folder / "calls" / author / "batch_01.jsonl").write_text("\n".join(lines) + "\n")
    assert len([c for c in calls if c.source in ("ana", "dev")]) >= train + dev
    return folder


def _models(folder: Path, with_tagger: bool = True) -> Path:
    shutil.copytree(
        DEFAULT_MODELS_DIR,
        folder,
        ignore=shutil.ignore_patterns("candidates", *(() if with_tagger else (MODEL_DIRNAME,))),
    )
    return folder


def _simulated_reviews(out: Path, seed: int = 5) -> int:
    """A quality lead's verdicts on the night's scorecards: agrees with 4 in 5 tags."""
    cards = pd.read_parquet(out / "scorecards")
    rng = np.random.default_rng(seed)
    rows = []
    for card in cards.itertuples():
        for tag in (*REVIEWED, *QA_CHECKS):
            value = getattr(card, tag)
            agree = bool(rng.random() < 0.8)
            rows.append(
                {
                    "call_id": card.call_id,
                    "call_date": str(card.call_date),
                    "reviewer": "lead",
                    "reviewed_at": pd.Timestamp("2025-04-01", tz="UTC"),
                    "reviewed": True,
                    "tag": tag,
                    "machine_value": str(value),
                    "agree": agree,
                    "corrected_primary_reason": None if agree else "council_tax",
                    "corrected_avoidable_category": None if agree else "progress_chasing",
                }
            )
    (out / "reviews").mkdir(exist_ok=True)
    pd.DataFrame(rows).to_parquet(out / "reviews" / "reviews.parquet", index=False)
    return len(cards)


def test_callqa_train_on_a_night_and_simulated_reviews_writes_a_card_and_decides(
    sample_night, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    night_out = tmp_path / "out"
    shutil.copytree(sample_night[0], night_out)
    reviewed = _simulated_reviews(night_out)
    corpus = _small_corpus(tmp_path / "corpus", train=60, dev=30)
    models = _models(tmp_path / "models")
    before = load_model(models / MODEL_DIRNAME)

    result = CliRunner().invoke(
        app,
        ["train", "--corpus", str(corpus), "--out", str(night_out), "--models", str(models)],
    )

    assert result.exit_code == 0, result.output
    found = re.search(r"Model (\S+): (promoted|refused): (.+)", result.output)
    assert found, result.output
    version, verdict = found.group(1), found.group(2)
    card_path = Path(re.search(r"Model card: (\S+)", result.output.replace("\n", "")).group(1))  # type: ignore[union-attr]
    card = card_path.read_text(encoding="utf-8")
    assert f"# Tagger model {version}" in card
    assert f"train (review): {reviewed} calls" in card and "train (ana): 60 calls" in card
    assert "dev: 30 calls" in card and verdict in card
    assert re.search(r"\| avoidable_f1 \| .* \| (\d+%|-) \| 0.85 \|", card), card
    after = load_model(models / MODEL_DIRNAME)
    assert after is not None and before is not None
    assert (after.version == version) == (verdict == "promoted")
    if verdict == "refused":
        assert after.version == before.version
        assert "worse than the current model" in found.group(3)


def test_a_promoted_model_replaces_the_current_one_whole(tmp_path: Path) -> None:
    corpus_calls, _ = read_corpus(_small_corpus(tmp_path / "corpus", train=40, dev=20))
    models = _models(tmp_path / "models", with_tagger=False)
    result = train_and_promote(models, corpus_calls, confidence=float("inf"))  # never refuse
    assert result.promoted
    shipped = load_model(models / MODEL_DIRNAME)
    assert shipped is not None and shipped.version == result.version
    header = json.loads((models / MODEL_DIRNAME / "model.json").read_text())
    assert header["train_counts"] == {"ana": 40}
    assert (models / MODEL_DIRNAME / "card.md").exists()
    assert not list(models.glob(".tagger*"))


def test_fitting_in_parallel_gives_the_same_model_as_one_process(tmp_path: Path) -> None:
    calls, _ = read_corpus(_small_corpus(tmp_path / "corpus", train=60, dev=0))
    views = [view for _, view in rule_views([c.turns for c in calls], load_pipeline(learned=False))]
    one, two = fit(calls, views, n_jobs=1), fit(calls, views, n_jobs=2)
    assert one.version == two.version
    assert np.count_nonzero(one.weights) > 0
    for name in ("weights", "bias", "platt_a", "platt_b"):
        assert np.array_equal(getattr(one, name), getattr(two, name)), name


def test_fitting_only_some_targets_leaves_the_rest_to_the_rules(tmp_path: Path) -> None:
    """eval/heldout.py scores a rule-pack edit on the tags it touches: those tags must get the
    very model a whole fit gives them, and the rest the rules' decisions."""
    calls, _ = read_corpus(_small_corpus(tmp_path / "corpus", train=60, dev=0))
    views = [view for _, view in rule_views([c.turns for c in calls], load_pipeline(learned=False))]
    whole = fit(calls, views)
    part = fit(calls, views, only={"avoidable", "complaint"})
    for target in ("avoidable", "complaint"):
        k = whole.row[target]
        assert np.count_nonzero(part.weights[k]) > 1
        assert np.array_equal(part.weights[k], whole.weights[k]), target
        assert part.platt_a[k] == whole.platt_a[k]
    for target in ("transferred", "qa:greeting", "contact_reasons:council_tax"):
        assert np.count_nonzero(part.weights[part.row[target]]) <= 1, target


def _figures(value: float) -> dict[str, Figure]:
    return {key: Figure(value, value - 0.05, value + 0.05, 100) for key in HEADLINE}


def test_a_candidate_the_dev_calls_show_worse_in_any_headline_figure_is_refused_by_name() -> None:
    current, candidate = _figures(0.8), _figures(0.78)
    chance = dict.fromkeys(HEADLINE, 0.6)
    assert decision(candidate, current, chance)[0]
    promoted, reason = decision(candidate, current, dict(chance, avoidable_f1=0.97))
    assert not promoted and "avoidable_f1 (0.780 < 0.800, lower in 97% of resamples)" in reason
    # One check worse while the QA figure as a whole holds: refused, by name.
    current["qa_agent_named_accuracy"] = Figure(0.975, 0.93, 0.99, 120)
    candidate["qa_agent_named_accuracy"] = Figure(0.95, 0.9, 0.98, 120)
    promoted, reason = decision(candidate, current, dict(chance, qa_agent_named_accuracy=0.99))
    assert not promoted and "qa_agent_named_accuracy (0.950 < 0.975" in reason


def _with_category(gold: Mapping[str, Any], right: bool) -> Tags:
    category = gold["avoidable_category"]
    if gold["avoidable"] and not right:
        category = next(c for c in AVOIDABLE_CATEGORIES if c != category)
    return Tags(
        contact_reasons=list(gold["contact_reasons"]),
        primary_reason=gold["primary_reason"],
        avoidable=gold["avoidable"],
        avoidable_category=category,
        complaint=gold["complaint"],
        transferred=gold["transferred"],
        qa=QAChecks.from_dict(gold["qa"]),
        vulnerability=list(gold.get("vulnerability", [])),
    )


def test_the_gate_refuses_a_worse_candidate_and_seldom_an_equally_good_one() -> None:
    """On the real dev labels, simulated months: the current model misses the category of 13% of
    avoidable calls; an equally good candidate differs from it on some calls only by chance, a
    worse one misses 10% more. A gate that refused on any drop of 0.01 turned down about a
    quarter of the equal candidates (docs/evaluation.md)."""
    calls, _ = read_corpus(ROOT / "eval" / "corpus")
    gold = [c.labels for c in calls if c.split == "dev"]
    rng = np.random.default_rng(7)
    refused = {"equal": 0, "worse": 0}
    months = 40
    for _ in range(months):
        right = rng.random(len(gold)) > 0.13
        candidates = {
            "equal": np.where(rng.random(len(gold)) < 0.3, rng.random(len(gold)) > 0.13, right),
            "worse": right & (rng.random(len(gold)) > 0.115),
        }
        current = [_with_category(g, r) for g, r in zip(gold, right, strict=True)]
        figures = score(gold, current)
        for name, got in candidates.items():
            candidate = [_with_category(g, r) for g, r in zip(gold, got, strict=True)]
            worse = compare(gold, candidate, current)
            refused[name] += not decision(score(gold, candidate), figures, worse)[0]
    assert refused["equal"] / months <= 0.15, refused
    assert refused["worse"] / months >= 0.85, refused


@pytest.mark.parametrize(
    ("verdicts", "want"),
    [
        (
            {"avoidable": ("True", True), "avoidable_category": ("repeat_contact", True)},
            {"avoidable": True, "avoidable_category": "repeat_contact"},
        ),
        ({"avoidable": ("True", False)}, {"avoidable": False, "avoidable_category": None}),
        (
            {"complaint": ("False", False), "transferred": ("False", True)},
            {"complaint": True, "transferred": False},
        ),
    ],
)
def test_review_verdicts_become_labels(verdicts, want) -> None:  # type: ignore[no-untyped-def]
    rows = pd.DataFrame(
        [
            {
                "tag": tag,
                "machine_value": value,
                "agree": agree,
                "corrected_primary_reason": None,
                "corrected_avoidable_category": None,
            }
            for tag, (value, agree) in verdicts.items()
        ]
    )
    assert labels_from_review(rows) == want
