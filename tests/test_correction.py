"""The monthly rates corrected for the tagger's errors (pipeline/correction.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import report
from pipeline.correction import METHOD, double_sampling

TRUE_RATE = 0.30
SENSITIVITY, SPECIFICITY = 0.55, 0.95
POPULATION, SAMPLE = 20_000, 300


def _one_month(rng: np.random.Generator, truth: np.ndarray) -> tuple[float, float, float, float]:
    """One simulated month: (tagged low, tagged high, corrected low, corrected high).

    A random sample of the population, a biased tagger, and reviews chosen by the tag (flagged
    calls three times as often as the rest), as the review queue chooses them.
    """
    picked = rng.choice(POPULATION, SAMPLE, replace=False)
    really = truth[picked]
    tagged = np.where(really, rng.random(SAMPLE) < SENSITIVITY, rng.random(SAMPLE) > SPECIFICITY)
    strata = np.where(np.arange(SAMPLE) % 2 == 0, "a", "b")
    weights = np.full(SAMPLE, POPULATION / SAMPLE)
    (found,) = report.weighted_proportions(tagged, weights, strata)
    reviewed = rng.random(SAMPLE) < np.where(tagged, 0.6, 0.2)
    z = 1.959964
    corrected = double_sampling(
        found.estimate, (found.ci_high - found.ci_low) / (2 * z), tagged[reviewed], really[reviewed]
    )
    assert corrected is not None
    return found.ci_low, found.ci_high, corrected.ci_low, corrected.ci_high


def test_the_corrected_interval_covers_the_true_rate_and_the_tagged_one_does_not() -> None:
    rng = np.random.default_rng(20261202)
    truth = rng.random(POPULATION) < TRUE_RATE
    rate = truth.mean()
    months = np.array([_one_month(rng, truth) for _ in range(300)])
    tagged_cover = ((months[:, 0] <= rate) & (rate <= months[:, 1])).mean()
    corrected_cover = ((months[:, 2] <= rate) & (rate <= months[:, 3])).mean()
    assert 0.92 <= corrected_cover <= 0.985, corrected_cover
    assert tagged_cover < 0.2, tagged_cover


def test_no_correction_without_reviewed_calls_on_both_sides_of_the_tag() -> None:
    assert double_sampling(0.2, 0.02, np.array([True, True]), np.array([True, False])) is None
    assert double_sampling(0.2, 0.02, np.array([], bool), np.array([], bool)) is None


def test_a_perfect_tagger_is_left_as_it_is_with_a_wider_interval() -> None:
    tagged = np.array([True] * 20 + [False] * 40)
    fixed = double_sampling(0.25, 0.02, tagged, tagged)
    assert fixed is not None
    assert fixed.estimate == 0.25
    assert fixed.ci_low < 0.25 - 1.96 * 0.02 and fixed.ci_high > 0.25 + 1.96 * 0.02


def _month_of_calls(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Scorecard rows for one night's random sample, as the nightly run writes them."""
    avoidable = rng.random(n) < 0.2
    return pd.DataFrame(
        {
            "call_id": [f"c{i}" for i in range(n)],
            "call_date": "2025-03-31",
            "agent_id": "a1",
            "team": "t",
            "queue": "council_tax",
            "sample_kind": "random",
            "stratum": np.where(np.arange(n) % 2 == 0, "s1", "s2"),
            "inclusion_prob": 0.1,
            "weight": 10.0,
            "transcript_status": "ok",
            "primary_reason": "council_tax",
            "avoidable": avoidable,
            "avoidable_category": np.where(avoidable, "progress_chasing", None),
            "greeting": True,
            "agent_named": True,
            "id_check": True,
            "anything_else_offered": True,
            "closing": True,
            "complaint": False,
            "transferred": False,
        }
    )


def test_estimates_carry_a_corrected_row_beside_the_tagged_one(tmp_path: Path) -> None:
    cards = _month_of_calls(np.random.default_rng(3), 60)
    # The lead found every tagged call right and a third of the untagged ones avoidable too.
    reviews = {
        row.call_id: {"avoidable": bool(row.avoidable) or i % 3 == 0}
        for i, row in enumerate(cards.itertuples())
        if i % 2 == 0
    }
    frame = report.monthly_estimates(
        cards, cards.iloc[0:0], pd.DataFrame({"direction": []}), month="2025-03", reviews=reviews
    )
    tagged = frame[(frame["metric"] == "avoidable_rate") & (frame["group"] == "all")]
    by_method = tagged.set_index("method")
    assert METHOD in by_method.index and len(by_method) == 2
    fixed = by_method.loc[METHOD]
    plain = by_method.drop(index=METHOD).iloc[0]
    assert fixed["estimate"] > plain["estimate"]
    assert fixed["n_reviewed"] == 30
