"""`callqa train`: a candidate from the corpus and reviews, a model card, promote or refuse."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from callqa.cli import app
from pipeline.corpus import read_corpus
from pipeline.evaluation import Figure
from pipeline.learned import MODEL_DIRNAME, load_model
from pipeline.reviews import labels_from_review
from pipeline.tagging import QA_CHECKS
from pipeline.tagging.nlp import load_pipeline
from pipeline.tagging.tagger import rule_views
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
    after = load_model(models / MODEL_DIRNAME)
    assert after is not None and before is not None
    assert (after.version == version) == (verdict == "promoted")
    if verdict == "refused":
        assert after.version == before.version
        assert "worse than the current model" in found.group(3)


def test_a_promoted_model_replaces_the_current_one_whole(tmp_path: Path) -> None:
    corpus_calls, _ = read_corpus(_small_corpus(tmp_path / "corpus", train=40, dev=20))
    models = _models(tmp_path / "models", with_tagger=False)
    result = train_and_promote(models, corpus_calls, tolerance=1.0)
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


def test_a_candidate_worse_in_any_headline_figure_is_refused_and_says_which() -> None:
    current = _figures(0.8)
    better = _figures(0.85)
    assert decision(better, current, tolerance=0.01)[0]
    worse = dict(better, avoidable_f1=Figure(0.7, 0.6, 0.8, 100))
    promoted, reason = decision(worse, current, tolerance=0.01)
    assert not promoted and "avoidable_f1 (0.700 < 0.800)" in reason
    within_noise = dict(better, qa_accuracy=Figure(0.795, 0.7, 0.9, 100))
    assert decision(within_noise, current, tolerance=0.01)[0]
    # One check worse while the QA figure as a whole holds: refused, by name.
    current["qa_agent_named_accuracy"] = Figure(0.975, 0.93, 0.99, 120)
    one_check = dict(better, qa_agent_named_accuracy=Figure(0.95, 0.9, 0.98, 120))
    promoted, reason = decision(one_check, current, tolerance=0.01)
    assert not promoted and "qa_agent_named_accuracy (0.950 < 0.975)" in reason


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
