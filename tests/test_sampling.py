"""pipeline/sampling.py: sample sizes, the design's inclusion probabilities, weights, reproducibility.

The statistical tests can fail: they draw the same synthetic night hundreds of times and compare
what happened with what the manifest claims (chi-square on inclusion frequencies, the bias and
coverage of the weighted estimate of a known proportion). Expected values come from published
tables, the definitions in the module docstring or a re-implementation of its re-draw recipe,
never from the code under test.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import chi2, norm

from pipeline.calls import read_call_log
from pipeline.repeats import mark_repeats
from pipeline.sampling import (
    MANIFEST_COLUMNS,
    draw_sample,
    nightly_sample_size,
    sample_size_for_month,
)

NIGHT = date(2025, 3, 12)
STRING = "string[pyarrow]"


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """A calls table shaped like CallLog.calls; `started_at` given in UTC."""
    defaults = {
        "duration_s": 300.0,
        "agent_id": "A1",
        "team": "team1",
        "queue": "council_tax",
        "caller_hash": None,
        "direction": "inbound",
        "recording": "rec.opus",
        "channel_layout": "agent_left",
    }
    frame = pd.DataFrame(
        [{**defaults, **row} for row in rows], columns=["call_id", "started_at", *defaults]
    )
    started = pd.to_datetime(frame["started_at"], utc=True)
    out = pd.DataFrame(
        {
            "call_id": frame["call_id"].astype(STRING),
            "started_at": started,
            "call_date": pd.Series(
                started.dt.tz_convert("Europe/London").dt.date, dtype=pd.ArrowDtype(pa.date32())
            ),
            "duration_s": frame["duration_s"].astype(float),
        }
    )
    for column in list(defaults)[1:]:
        out[column] = frame[column].astype(STRING)
    return out


# -- sample size ------------------------------------------------------------------------------


def _margin(n: int, population: int | None, confidence: float = 0.95) -> float:
    """Half-width of the normal CI of a proportion at p = 0.5 under SRS (with the FPC)."""
    z = norm.ppf(0.5 + confidence / 2)
    fpc = 1.0 if population is None else (population - n) / (population - 1)
    return z * math.sqrt(0.25 / n * fpc)


@pytest.mark.parametrize("population", [None, 100, 500, 1000, 5000, 10000, 100_000])
def test_sample_size_is_the_smallest_that_meets_the_margin(population: int | None) -> None:
    n = sample_size_for_month(population)
    assert _margin(n, population) <= 0.05
    assert _margin(n - 1, population) > 0.05


def test_sample_size_matches_published_values() -> None:
    # Cochran's n0 = 1.96^2 x 0.25 / 0.05^2 = 384.16, rounded up; Krejcie & Morgan (1970),
    # "Determining sample size for research activities", Table 1 (they round to nearest).
    assert sample_size_for_month(None) == 385
    table = {100: 80, 500: 217, 1000: 278, 5000: 357, 10000: 370}
    for population, published in table.items():
        assert abs(sample_size_for_month(population) - published) <= 1
    assert sample_size_for_month(30) <= 30
    assert sample_size_for_month(0) == 0
    assert sample_size_for_month(None, margin_of_error=0.03, confidence_level=0.99) > 1800


def test_nightly_shares_add_up_to_the_month() -> None:
    rng = np.random.default_rng(3)
    days = rng.integers(50, 400, size=31)
    month = int(days.sum())
    shares = [
        nightly_sample_size(int(d), days_in_month=31, expected_monthly_calls=month) for d in days
    ]
    assert sum(shares) >= sample_size_for_month(month)
    assert sum(shares) <= sample_size_for_month(month) + 31  # at most one extra per night
    # With no monthly figure, a night stands for days_in_month nights like it.
    assert nightly_sample_size(100, days_in_month=31) == math.ceil(sample_size_for_month(3100) / 31)
    assert nightly_sample_size(0, days_in_month=31) == 0


# -- the design, checked by repetition ---------------------------------------------------------

# A night with big and small agents: with sample_size=40 the base probability is 40/293 and
# the per-agent floor (4 a month over 4 days = 1 call a night) lifts A4-A7 above it.
_NIGHT_PLAN = [
    ("A1", "council_tax", 60),
    ("A1", "waste", 30),
    ("A2", "council_tax", 50),
    ("A2", "housing", 30),
    ("A3", "council_tax", 34),
    ("A3", "waste", 55),
    ("A3", "housing", 25),
    ("A4", "waste", 3),
    ("A5", "housing", 2),
    ("A6", "council_tax", 3),
    ("A7", "council_tax", 1),
]
_DRAWS = 600
_DESIGN = {
    "sample_size": 40,
    "min_per_agent": 4,
    "days_in_month": 4,
    "targeted_long_call_s": None,
    "targeted_repeat_min_prior": None,
}


def _planned_night() -> tuple[pd.DataFrame, pd.Series]:
    """The night's calls (plus ineligible ones) and a known 0/1 attribute per eligible call."""
    rng = np.random.default_rng(5)
    rows = [(agent, queue) for agent, queue, count in _NIGHT_PLAN for _ in range(count)]
    ids = [f"C{i:04d}" for i in rng.permutation(len(rows))]
    start = pd.Timestamp("2025-03-12T08:00:00Z")
    calls = [
        {
            "call_id": call_id,
            "started_at": start + pd.Timedelta(minutes=i),
            "agent_id": agent,
            "queue": queue,
        }
        for i, (call_id, (agent, queue)) in enumerate(zip(ids, rows, strict=True))
    ]
    # Never eligible: outbound, or not recorded.
    calls += [
        {"call_id": f"X{i}", "started_at": start, "agent_id": "A1", "direction": "outbound"}
        for i in range(5)
    ]
    calls += [
        {"call_id": f"Y{i}", "started_at": start, "agent_id": "A5", "recording": None}
        for i in range(5)
    ]
    frame = mark_repeats(_frame(calls))
    eligible = frame[frame["call_id"].str.startswith("C")]
    # The attribute is commoner among the small agents the floor oversamples, so an unweighted
    # mean is biased and only correct weights recover the truth.
    known = eligible["agent_id"].isin(["A4", "A5", "A6", "A7"]) | (eligible["queue"] == "housing")
    return frame, pd.Series(known.to_numpy(dtype=float), index=eligible["call_id"].to_numpy())


@dataclass
class _Runs:
    counts: pd.Series
    inclusion_prob: pd.Series
    truth: float
    population: int
    hajek: np.ndarray
    horvitz_thompson: np.ndarray
    unweighted: np.ndarray
    covered: np.ndarray
    weight_sums: np.ndarray


@pytest.fixture(scope="module")
def runs() -> _Runs:
    frame, known = _planned_night()
    population = len(known)
    counts = pd.Series(0, index=known.index)
    claimed: dict[str, set[float]] = {}
    hajek, ht, unweighted, covered, weight_sums = [], [], [], [], []
    for seed in range(_DRAWS):
        manifest = draw_sample(frame, date=NIGHT, seed=seed, **_DESIGN).manifest
        assert (manifest["sample_kind"] == "random").all()
        ids = manifest["call_id"].to_numpy(dtype=object)
        counts[ids] += 1
        for call_id, prob in zip(ids, manifest["inclusion_prob"], strict=True):
            claimed.setdefault(call_id, set()).add(prob)
        weight = manifest["weight"].to_numpy()
        y = known[ids].to_numpy()
        estimate = (weight * y).sum() / weight.sum()
        hajek.append(estimate)
        ht.append((weight * y).sum() / population)
        unweighted.append(y.mean())
        weight_sums.append(weight.sum())
        # Taylor-linearised variance of the ratio, strata = manifest strata, with their
        # sampling fractions: the usual survey-package estimator the monthly report will use.
        z = pd.Series(weight * (y - estimate) / weight.sum())
        strata = manifest["stratum"].to_numpy(dtype=object)
        fraction = (manifest["stratum_sample_size"] / manifest["stratum_population"]).to_numpy()
        variance = 0.0
        for stratum in np.unique(strata):
            mask = strata == stratum
            n_h = int(mask.sum())
            if n_h > 1:
                spread = ((z[mask] - z[mask].mean()) ** 2).sum()
                variance += (1 - fraction[mask][0]) * n_h / (n_h - 1) * spread
        covered.append(abs(estimate - known.mean()) <= norm.ppf(0.975) * math.sqrt(variance))
    assert all(len(probs) == 1 for probs in claimed.values()), "inclusion_prob varies by seed"
    never = sorted(set(known.index) - set(claimed))
    assert not never, f"calls never drawn in {_DRAWS} draws: {never[:5]}"
    return _Runs(
        counts=counts,
        inclusion_prob=pd.Series({k: next(iter(v)) for k, v in claimed.items()})[counts.index],
        truth=float(known.mean()),
        population=population,
        hajek=np.array(hajek),
        horvitz_thompson=np.array(ht),
        unweighted=np.array(unweighted),
        covered=np.array(covered),
        weight_sums=np.array(weight_sums),
    )


def test_inclusion_frequencies_match_inclusion_prob(runs: _Runs) -> None:
    """Chi-square goodness of fit of each call's times-drawn against R x inclusion_prob."""
    prob = runs.inclusion_prob
    certain = prob >= 1
    assert (runs.counts[certain] == _DRAWS).all()
    expected = _DRAWS * prob[~certain]
    observed = runs.counts[~certain]
    statistic = float(((observed - expected) ** 2 / (expected * (1 - prob[~certain]))).sum())
    p_value = chi2.sf(statistic, df=int((~certain).sum()))
    assert p_value > 0.001, f"chi-square {statistic:.1f} on {(~certain).sum()} df"


def test_weighted_estimate_is_unbiased_and_covers(runs: _Runs) -> None:
    draws = len(runs.horvitz_thompson)
    for estimates in (runs.horvitz_thompson, runs.hajek):
        error = estimates.mean() - runs.truth
        assert abs(error) <= 3 * estimates.std(ddof=1) / math.sqrt(draws)
    # The unweighted mean is visibly biased here, so the test above would catch bad weights.
    bias = runs.unweighted.mean() - runs.truth
    assert bias > 5 * runs.unweighted.std(ddof=1) / math.sqrt(draws)
    coverage = runs.covered.mean()
    assert 0.92 <= coverage <= 0.98, f"95% intervals covered the truth {coverage:.1%} of the time"


def test_weights_sum_to_the_population(runs: _Runs) -> None:
    # With the agent floor binding, on average (Horvitz-Thompson estimate of N).
    sums = runs.weight_sums
    assert abs(sums.mean() - runs.population) <= 3 * sums.std(ddof=1) / math.sqrt(len(sums))
    # Without it, exactly, every night.
    frame, known = _planned_night()
    for seed in range(20):
        draw = draw_sample(frame, date=NIGHT, seed=seed, **{**_DESIGN, "min_per_agent": 0})
        assert draw.manifest["weight"].sum() == pytest.approx(len(known), rel=1e-9)
        assert draw.random_size == 40
        for stratum in draw.strata:
            share = 40 * stratum.population / len(known)
            assert stratum.sample_size in (math.floor(share), math.ceil(share))


def test_redraw_recipe_in_the_docstring_reproduces_the_draw() -> None:
    """An independent implementation of the module docstring's "Re-drawing a night"."""
    frame, known = _planned_night()
    seed = 987_654
    manifest = draw_sample(frame, date=NIGHT, seed=seed, **_DESIGN).manifest
    eligible = frame[frame["call_id"].isin(known.index)].sort_values("call_id")
    rng = np.random.default_rng([seed % 2**64, 20250312])
    keys = rng.random(len(eligible))
    start = rng.random()
    n, big_n = _DESIGN["sample_size"], len(eligible)
    quota = _DESIGN["min_per_agent"] / _DESIGN["days_in_month"]
    per_agent = eligible["agent_id"].map(eligible["agent_id"].value_counts()).to_numpy()
    prob = np.maximum(n / big_n, np.minimum(1, quota / per_agent))
    ids = eligible["call_id"].to_numpy(dtype=object)
    strata = eligible["queue"].to_numpy(dtype=object)
    chosen = set(ids[prob >= 1])
    others = sorted(
        (s, k, i, p) for s, k, i, p in zip(strata, keys, ids, prob, strict=True) if p < 1
    )
    total = 0.0
    for _, _, call_id, p in others:
        low, total = total, total + p
        if any(low <= start + k < total for k in range(math.floor(low), math.ceil(total) + 1)):
            chosen.add(call_id)
    assert set(manifest["call_id"]) == chosen


# -- the per-agent minimum ---------------------------------------------------------------------


@st.composite
def _agent_nights(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, object]]:
    volumes = draw(st.lists(st.integers(1, 40), min_size=1, max_size=8))
    queues = ["council_tax", "waste", "housing"][: draw(st.integers(1, 3))]
    rows = []
    for a, volume in enumerate(volumes):
        for j in range(volume):
            rows.append(
                {
                    "call_id": f"C{a:02d}{j:03d}",
                    "started_at": pd.Timestamp("2025-03-12T09:00:00Z") + pd.Timedelta(seconds=j),
                    "agent_id": f"A{a}",
                    "queue": queues[(a + j) % len(queues)],
                }
            )
    options = {
        "sample_size": draw(st.none() | st.integers(0, 60)),
        "min_per_agent": draw(st.integers(0, 10)),
        "days_in_month": draw(st.integers(1, 31)),
        "stratify_by": draw(st.sampled_from(["none", "queue", "agent_id"])),
    }
    return _frame(rows), options


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_agent_nights(), st.integers(0, 2**40))
def test_every_agent_gets_at_least_the_nightly_quota(
    night: tuple[pd.DataFrame, dict[str, object]], seed: int
) -> None:
    frame, options = night
    draw = draw_sample(frame, date=NIGHT, seed=seed, **options)  # type: ignore[arg-type]
    manifest = draw.manifest
    per_agent = frame["agent_id"].value_counts()
    quota = options["min_per_agent"] / options["days_in_month"]  # type: ignore[operator]
    base = draw.target_size / draw.population
    random = manifest[manifest["sample_kind"] == "random"]
    for agent, prob in zip(random["agent_id"], random["inclusion_prob"], strict=True):
        floor = min(1.0, quota / per_agent[agent])
        # Exactly the documented pi = max(n / N, min(1, q / N_a)).
        assert prob == pytest.approx(max(base, floor), rel=1e-12)
    # Each agent's expected picks tonight: N_a x pi_a >= min(q, N_a).
    for agent, calls in per_agent.items():
        expected = calls * max(base, min(1.0, quota / calls))
        assert expected >= min(quota, calls) - 1e-9, agent
    assert draw.expected_random_size >= draw.target_size - 1e-9
    assert (random["weight"] * random["inclusion_prob"]).round(12).eq(1).all()
    assert ((random["inclusion_prob"] > 0) & (random["inclusion_prob"] <= 1)).all()


def test_a_month_of_nights_reaches_the_monthly_minimum_on_average() -> None:
    """A small agent (1 call a night) beside busy ones reaches min_per_agent a month on average."""
    days = calendar.monthrange(2025, 4)[1]
    rows = []
    for day in range(days):
        start = pd.Timestamp("2025-04-01T09:00:00Z") + pd.Timedelta(days=day)
        agents = ["A0"] + ["A1"] * 40 + ["A2"] * 40
        for j, agent in enumerate(agents):
            rows.append(
                {
                    "call_id": f"D{day:02d}C{j:03d}",
                    "started_at": start + pd.Timedelta(minutes=j),
                    "agent_id": agent,
                }
            )
    frame = mark_repeats(_frame(rows))
    months = 6
    picks = np.zeros(months)
    for month in range(months):
        for day in range(days):
            manifest = draw_sample(
                frame,
                date=date(2025, 4, 1) + timedelta(days=day),
                seed=month,
                sample_size=2,
                min_per_agent=4,
            ).manifest
            picks[month] += (manifest["agent_id"] == "A0").sum()
    # A0's probability is 4/30 a night: Binomial(30, 4/30) a month, mean 4, sd ~1.86.
    assert abs(picks.mean() - 4) <= 3 * 1.86 / math.sqrt(months)


# -- reproducibility ---------------------------------------------------------------------------


@st.composite
def _logs(draw: st.DrawFn) -> pd.DataFrame:
    size = draw(st.integers(1, 60))
    rows = []
    for i in range(size):
        rows.append(
            {
                "call_id": f"R{draw(st.integers(0, 10**6)):07d}-{i}",
                "started_at": pd.Timestamp("2025-03-10T00:00:00Z")
                + pd.Timedelta(minutes=draw(st.integers(0, 3 * 24 * 60))),
                "duration_s": draw(st.floats(0, 3000)),
                "agent_id": draw(st.sampled_from(["A1", "A2", "A3", "A4"])),
                "team": draw(st.sampled_from(["t1", "t2", None])),
                "queue": draw(st.sampled_from(["council_tax", "waste", "housing"])),
                "caller_hash": draw(st.sampled_from(["h1", "h2", "h3", None])),
                "direction": draw(st.sampled_from(["inbound", "inbound", "outbound"])),
                "recording": draw(st.sampled_from(["r.opus", "r.opus", None])),
            }
        )
    return _frame(rows)


_OPTIONS = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31),
        "sample_size": st.none() | st.integers(0, 30),
        "stratify_by": st.sampled_from(["none", "queue", "team", "agent_id"]),
        "min_per_agent": st.integers(0, 8),
        "direction": st.sampled_from(["inbound", "outbound", "both"]),
        "targeted_long_call_s": st.none() | st.floats(0, 3000),
        "targeted_repeat_min_prior": st.none() | st.integers(1, 3),
        "watch_queues": st.sampled_from([(), ("waste",)]),
    }
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_logs(), _OPTIONS, st.randoms(use_true_random=False))
def test_same_inputs_same_manifest_whatever_the_row_order(
    log: pd.DataFrame, options: dict[str, object], shuffle: object
) -> None:
    first = draw_sample(log, date=NIGHT, **options).manifest  # type: ignore[arg-type]
    again = draw_sample(log, date=NIGHT, **options).manifest  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(first, again)
    order = list(range(len(log)))
    shuffle.shuffle(order)  # type: ignore[attr-defined]
    shuffled = log.iloc[order].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        first,
        draw_sample(shuffled, date=NIGHT, **options).manifest,  # type: ignore[arg-type]
    )
    assert list(first.columns) == list(MANIFEST_COLUMNS)
    assert first["call_id"].is_unique
    assert (first["call_date"] == NIGHT).all()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_logs(), _logs(), _OPTIONS)
def test_rows_for_other_days_do_not_change_the_draw(
    log: pd.DataFrame, extra: pd.DataFrame, options: dict[str, object]
) -> None:
    extra = extra[extra["call_date"] != NIGHT].copy()
    extra["call_id"] = ("other-" + extra["call_id"]).astype(STRING)
    before = draw_sample(log, date=NIGHT, **options).manifest  # type: ignore[arg-type]
    mixed = pd.concat([extra, log], ignore_index=True)
    after = draw_sample(mixed, date=NIGHT, **options).manifest  # type: ignore[arg-type]
    design = ["call_id", "stratum", "stratum_population", "stratum_sample_size"]
    design += ["inclusion_prob", "weight", "population"]
    random_before = before[before["sample_kind"] == "random"].reset_index(drop=True)
    random_after = after[after["sample_kind"] == "random"].reset_index(drop=True)
    pd.testing.assert_frame_equal(random_before[design], random_after[design])
    # Rows for later days, or from callers who never ring tonight, change nothing at all.
    unrelated = extra[
        (extra["call_date"] > NIGHT)
        | ~extra["caller_hash"].isin(log["caller_hash"].dropna().tolist()).fillna(False)
    ]
    alone = pd.concat([unrelated, log], ignore_index=True)
    pd.testing.assert_frame_equal(
        before,
        draw_sample(alone, date=NIGHT, **options).manifest,  # type: ignore[arg-type]
    )


def test_different_seeds_and_dates_give_different_draws() -> None:
    frame, _ = _planned_night()
    one = draw_sample(frame, date=NIGHT, seed=1, **_DESIGN).manifest["call_id"].tolist()
    two = draw_sample(frame, date=NIGHT, seed=2, **_DESIGN).manifest["call_id"].tolist()
    assert one != two


# -- eligibility, targeted additions, repeats, the manifest -------------------------------------


def _busy_log() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    rows = []
    start = pd.Timestamp("2025-03-01T00:00:00Z")
    for i in range(3000):
        rows.append(
            {
                "call_id": f"B{i:05d}",
                "started_at": start + pd.Timedelta(seconds=int(rng.integers(0, 20 * 86_400))),
                "duration_s": float(rng.lognormal(5.5, 0.8)),
                "agent_id": f"A{rng.integers(0, 12)}",
                "team": ["t1", "t2", None][rng.integers(0, 3)],
                "queue": ["council_tax", "waste", "parking", "housing"][rng.integers(0, 4)],
                "caller_hash": None if rng.random() < 0.1 else f"h{rng.integers(0, 400)}",
                "direction": "outbound" if rng.random() < 0.15 else "inbound",
                "recording": None if rng.random() < 0.2 else f"r/{i}.opus",
            }
        )
    return _frame(rows)


def test_eligibility_targeted_rules_and_repeat_columns() -> None:
    log = _busy_log()
    draw = draw_sample(
        log,
        date=NIGHT,
        seed=4,
        targeted_long_call_s=900,
        targeted_repeat_min_prior=2,
        watch_queues=["parking"],
        targeted_max=None,
    )
    manifest = draw.manifest
    tonight = log[(log["call_date"] == NIGHT).to_numpy(dtype=bool)]
    eligible = tonight[tonight["recording"].notna() & (tonight["direction"] == "inbound")]
    assert draw.population == len(eligible) == manifest["population"].iloc[0]
    assert set(manifest["call_id"]) <= set(eligible["call_id"])
    assert manifest["call_id"].is_unique  # a targeted call is never also a random pick
    # Repeat columns are the whole-log definition, not just tonight's calls.
    whole = mark_repeats(log).set_index("call_id")
    expected = whole.loc[manifest["call_id"], "prior_calls_window"].to_numpy()
    assert (manifest["prior_calls_window"].to_numpy() == expected).all()
    # Every eligible call that matches a rule is in the manifest, and every targeted one matches.
    marked = whole.loc[eligible["call_id"]]
    matches = (
        (marked["duration_s"] >= 900)
        | (marked["prior_calls_window"] >= 2)
        | (marked["queue"] == "parking")
    )
    assert set(marked.index[matches]) <= set(manifest["call_id"])
    targeted = manifest[manifest["sample_kind"] == "targeted"].set_index("call_id")
    assert len(targeted) > 0
    assert set(targeted.index) <= set(marked.index[matches])
    assert targeted["inclusion_prob"].isna().all() and targeted["weight"].isna().all()
    assert targeted["reason_picked"].str.startswith("targeted: ").all()
    random = manifest[manifest["sample_kind"] == "random"]
    assert random["reason_picked"].str.startswith("random: ").all()
    both = random[random["call_id"].isin(marked.index[matches])]
    assert both["reason_picked"].str.contains("also matches targeted rules").all()
    assert manifest["method"].eq("stratified(queue)+agent_floor(4/31)").all()
    assert manifest["seed"].eq(4).all()
    assert not manifest["caller_hash"].dropna().str.contains(r"^\+?\d{10,}$").any()


def test_targeted_calls_are_capped_in_priority_order() -> None:
    log = _busy_log()
    rules = {
        "targeted_long_call_s": 900,
        "targeted_repeat_min_prior": 2,
        "watch_queues": ["parking"],
    }
    uncapped = draw_sample(log, date=NIGHT, seed=4, targeted_max=None, **rules)
    capped = draw_sample(log, date=NIGHT, seed=4, targeted_max=3, **rules)
    every = uncapped.manifest[uncapped.manifest["sample_kind"] == "targeted"]
    kept = capped.manifest[capped.manifest["sample_kind"] == "targeted"]
    assert len(every) > 3 and len(kept) == 3 == capped.targeted_size
    # The cap never touches the random draw.
    random = uncapped.manifest[uncapped.manifest["sample_kind"] == "random"]
    pd.testing.assert_frame_equal(
        random.reset_index(drop=True),
        capped.manifest[capped.manifest["sample_kind"] == "random"].reset_index(drop=True),
    )
    ranked = every.assign(watched=every["queue"] == "parking").sort_values(
        ["watched", "prior_calls_window", "duration_s", "call_id"],
        ascending=[False, False, False, True],
    )
    assert list(kept["call_id"].sort_values()) == sorted(ranked["call_id"][:3])


def test_outbound_and_both_directions() -> None:
    log = _busy_log()
    tonight = log[(log["call_date"] == NIGHT).to_numpy(dtype=bool) & log["recording"].notna()]
    out = draw_sample(log, date=NIGHT, seed=1, direction="outbound", sample_size=5)
    assert out.population == int((tonight["direction"] == "outbound").sum())
    assert out.manifest["direction"].eq("outbound").all()
    both = draw_sample(log, date=NIGHT, seed=1, direction="both", sample_size=5)
    assert both.population == len(tonight)


def test_small_nights_empty_nights_and_census() -> None:
    log = _busy_log()
    empty = draw_sample(log, date=date(2025, 6, 1), seed=1)
    assert empty.population == 0 and empty.manifest.empty
    assert list(empty.manifest.columns) == list(MANIFEST_COLUMNS)
    full = draw_sample(log, date=NIGHT, seed=1, sample_size=10_000, stratify_by="none")
    random = full.manifest[full.manifest["sample_kind"] == "random"]
    assert len(random) == full.population
    assert random["inclusion_prob"].eq(1).all() and random["weight"].eq(1).all()
    assert random["stratum"].eq("all").all()
    assert full.manifest.dtypes.to_dict() == empty.manifest.dtypes.to_dict()


def test_dictionary_encoded_columns_give_the_same_manifest() -> None:
    """calls.py may hand over low-cardinality columns as categoricals to save memory."""
    log = _busy_log()
    plain = draw_sample(log, date=NIGHT, seed=8, watch_queues=["waste"]).manifest
    compact = log.astype({c: "category" for c in ("agent_id", "team", "queue", "direction")})
    compact["caller_hash"] = compact["caller_hash"].astype("category")
    pd.testing.assert_frame_equal(
        plain, draw_sample(compact, date=NIGHT, seed=8, watch_queues=["waste"]).manifest
    )


def test_bad_settings_are_refused() -> None:
    log = _busy_log()
    with pytest.raises(ValueError, match="stratify_by"):
        draw_sample(log, date=NIGHT, seed=1, stratify_by="postcode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="direction"):
        draw_sample(log, date=NIGHT, seed=1, direction="sideways")  # type: ignore[arg-type]


def test_from_a_real_call_log(tmp_path: Path) -> None:
    """read_call_log (naive local times, clear numbers) -> draw_sample, end to end."""
    lines = ["call_id,started_at,duration_s,agent_id,team,queue,caller_number,direction,recording"]
    for i in range(120):
        hour = 8 + i % 10
        number = f"07700 900{i % 25:03d}" if i % 7 else "withheld"
        day = 11 + i % 3
        lines.append(
            f"L{i:03d},2025-03-{day:02d}T{hour:02d}:{i % 60:02d}:00,{60 + 13 * i},"
            f"A{i % 5},team{i % 2},{['council_tax', 'waste'][i % 2]},{number},inbound,"
            f"{'' if i % 9 == 0 else f'rec/{i}.opus'}"
        )
    path = tmp_path / "calls.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    calls = read_call_log(path, caller_hash_key=b"k", timezone="Europe/London").calls
    draw = draw_sample(calls, date=NIGHT, seed=20250101, sample_size=6, targeted_repeat_min_prior=1)
    manifest = draw.manifest
    tonight = [f"L{i:03d}" for i in range(120) if 11 + i % 3 == 12 and i % 9 != 0]
    assert draw.population == len(tonight)
    assert set(manifest["call_id"]) <= set(tonight)
    assert (manifest["sample_kind"] == "random").sum() >= 6
    assert not manifest["caller_hash"].dropna().str.contains("7700").any()
    # Numbers repeat every 25 calls, so some of tonight's callers rang on the 11th.
    assert (manifest["sample_kind"] == "targeted").any()
    assert manifest["prior_calls_window"].max() > 0
