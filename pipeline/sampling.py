"""The night's random screening sample: size, design, inclusion probabilities and weights.

`draw_sample` turns the call log and a date into a `SampleDraw`; the method is in docs/sampling.md.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date as Date
from typing import NamedTuple, get_args

import numpy as np
import pandas as pd
from scipy.stats import norm

from pipeline.config import Direction, Settings, StratifyBy
from pipeline.repeats import check_call_columns, mark_repeats
from pipeline.tables import SAMPLES

__all__ = [
    "MANIFEST_COLUMNS",
    "NightSample",
    "SampleDraw",
    "Stratum",
    "draw_night",
    "draw_sample",
    "nightly_sample_size",
    "sample_size_for_month",
]

#: The manifest's columns: the `samples/` table's (pipeline/tables.py) less the run that drew it.
MANIFEST_COLUMNS = tuple(name for name in SAMPLES.columns if name != "run_id")

#: The manifest's columns copied from the call log: those before the repeat-caller marks.
_CALL_COLUMNS = MANIFEST_COLUMNS[: MANIFEST_COLUMNS.index("repeat_caller")]
_MISSING_STRATUM = "(none)"
_STRING = pd.StringDtype("pyarrow")


@dataclass(frozen=True)
class Stratum:
    """One stratum of a night's random draw."""

    name: str
    population: int
    sample_size: int
    expected_sample_size: float


@dataclass(frozen=True)
class SampleDraw:
    """A night's sample: the manifest and the design that produced it.

    `target_size` is ``n`` before the per-agent floor; `expected_random_size` is the sum of the
    inclusion probabilities (``n`` plus what the floor adds); `random_size` is what was drawn.
    """

    manifest: pd.DataFrame
    call_date: Date
    seed: int
    method: str
    stratify_by: str
    population: int
    day_calls: int
    target_size: int
    expected_random_size: float
    random_size: int
    targeted_size: int
    strata: tuple[Stratum, ...]


@dataclass(frozen=True)
class NightSample:
    """A night's draw, and its census: every call of the night in the eligible direction,
    recorded or not, with repeat-caller marks (the population behind the report's rates)."""

    draw: SampleDraw
    census: pd.DataFrame


def draw_night(calls: pd.DataFrame, night: Date, settings: Settings) -> NightSample:
    """Mark repeat callers for `night` over the whole log and draw its sample as `settings` say.

    The one place settings become a draw, shared by `callqa sample` and the nightly flow.
    """
    marked = mark_repeats(calls, window_days=settings.repeat_window_days, call_date=night)
    draw = draw_sample(
        marked,
        date=night,
        seed=settings.seed,
        sample_size=settings.sample_size,
        stratify_by=settings.stratify_by,
        min_per_agent=settings.min_per_agent,
        direction=settings.direction,
        margin_of_error=settings.margin_of_error,
        confidence_level=settings.confidence_level,
        targeted_long_call_s=settings.targeted_long_call_s,
        targeted_repeat_min_prior=settings.targeted_repeat_min_prior,
        watch_queues=settings.watch_queues,
        repeat_window_days=settings.repeat_window_days,
        targeted_max=settings.targeted_max,
    )
    census = marked[_in_direction(marked, settings.direction)]
    census = census.assign(recorded=census["recording"].notna()).reset_index(drop=True)
    return NightSample(draw=draw, census=census)


def sample_size_for_month(
    expected_monthly_calls: int | None,
    *,
    margin_of_error: float = 0.05,
    confidence_level: float = 0.95,
    proportion: float = 0.5,
) -> int:
    """Calls to sample in a month so a proportion is within +/- `margin_of_error`.

    Cochran (1977), *Sampling Techniques*, 3rd ed., ch. 4, with the finite-population
    correction: ``n0 = z^2 p (1 - p) / e^2``, ``n = n0 / (1 + (n0 - 1) / N)``, rounded
    up (so the margin is met) and never more than ``N``. ``z`` is the two-sided normal quantile
    of `confidence_level` from `scipy.stats.norm`. `expected_monthly_calls` None = an unlimited
    population (no correction). Defaults give n0 = 384.1, so 385; for N = 5,000, 357.
    """
    if not 0 < margin_of_error < 1:
        raise ValueError(f"margin_of_error must be between 0 and 1, not {margin_of_error}")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be between 0 and 1, not {confidence_level}")
    if not 0 < proportion < 1:
        raise ValueError(f"proportion must be between 0 and 1, not {proportion}")
    z = float(norm.ppf(0.5 + confidence_level / 2))
    n0 = z * z * proportion * (1 - proportion) / margin_of_error**2
    if expected_monthly_calls is None:
        return math.ceil(n0)
    if expected_monthly_calls <= 0:
        return 0
    n = n0 / (1 + (n0 - 1) / expected_monthly_calls)
    return min(expected_monthly_calls, math.ceil(n))


def nightly_sample_size(
    day_population: int,
    *,
    days_in_month: int,
    expected_monthly_calls: int | None = None,
    margin_of_error: float = 0.05,
    confidence_level: float = 0.95,
) -> int:
    """Tonight's share of the month's sample: ``ceil(n_month x N_day / N_month)``, at most N_day.

    ``N_month`` is `expected_monthly_calls`, or ``day_population x days_in_month`` when that is
    not known; ``n_month`` is `sample_size_for_month(N_month)`. Spreading in proportion to each
    day's volume keeps the month close to self-weighting and needs nothing from other days.
    """
    if day_population <= 0:
        return 0
    if days_in_month < 1:
        raise ValueError(f"days_in_month must be at least 1, not {days_in_month}")
    monthly = expected_monthly_calls or day_population * days_in_month
    n_month = sample_size_for_month(
        monthly, margin_of_error=margin_of_error, confidence_level=confidence_level
    )
    return min(day_population, math.ceil(n_month * day_population / monthly))


# Over 80 lines only for its signature and documented options: the named steps do the work.
def draw_sample(
    calls: pd.DataFrame,
    *,
    date: Date,
    seed: int,
    sample_size: int | None = None,
    stratify_by: StratifyBy = "queue",
    min_per_agent: int = 4,
    direction: Direction = "inbound",
    margin_of_error: float = 0.05,
    confidence_level: float = 0.95,
    expected_monthly_calls: int | None = None,
    days_in_month: int | None = None,
    targeted_long_call_s: float | None = 1200.0,
    targeted_repeat_min_prior: int | None = 3,
    watch_queues: Sequence[str] = (),
    repeat_window_days: int = 7,
    targeted_max: int | None = 10,
) -> SampleDraw:
    """Draw the random and targeted sample of `date`'s calls (the design: docs/sampling.md).

    Args:
        calls: `CallLog.calls`, the whole log (other dates are needed for repeat callers only).
            If it already has `prior_calls_window`/`repeat_caller` (from `mark_repeats`) they
            are used; otherwise they are computed for this date from the log.
        date: the local calendar date to draw from.
        seed: base seed; the draw's generator is ``default_rng([seed mod 2**64, YYYYMMDD])``.
        sample_size: random calls tonight before the per-agent floor; None = derived from
            `margin_of_error` and `confidence_level` (see `nightly_sample_size`).
        stratify_by: "none" (simple random), "queue", "team" or "agent_id".
        min_per_agent: random picks per agent per month, on average (0 = no floor).
        direction: which calls are eligible: "inbound", "outbound" or "both".
        expected_monthly_calls: the month's eligible calls, for the sample size; None =
            tonight's eligible calls x `days_in_month`.
        days_in_month: days the month's sample and agent minimum are spread over; None = the
            calendar days of `date`'s month.
        targeted_long_call_s: add calls at least this long as targeted; None = off.
        targeted_repeat_min_prior: add calls whose caller made at least this many inbound
            calls in the previous `repeat_window_days`; None = off.
        watch_queues: add every call in these queues as targeted.
        repeat_window_days: the repeat-caller window (repeats.py).
        targeted_max: at most this many targeted calls a night (None = no cap), so a busy
            night's rules cannot swamp the random sample or the night's transcription time.
            Kept in priority order: watched queues, then callers with the most prior calls,
            then the longest calls, then call_id.
    """
    _check_options(calls, stratify_by, direction, sample_size, min_per_agent)
    days = days_in_month or calendar.monthrange(date.year, date.month)[1]
    method = _method(stratify_by, min_per_agent, days)
    day = _with_repeats(calls, date, repeat_window_days)
    pool = _eligible(day, direction)
    if sample_size is None:
        target = nightly_sample_size(
            len(pool),
            days_in_month=days,
            expected_monthly_calls=expected_monthly_calls,
            margin_of_error=margin_of_error,
            confidence_level=confidence_level,
        )
    else:
        target = min(sample_size, len(pool))
    rng = np.random.default_rng([seed % 2**64, date.year * 10_000 + date.month * 100 + date.day])
    drawn = _draw_random(pool, stratify_by, target, min_per_agent / days, rng)
    rules = _targeted_rules(pool, targeted_long_call_s, targeted_repeat_min_prior, watch_queues)
    targeted = _targeted(pool, drawn.picked, rules, targeted_max)
    chosen = np.concatenate([np.flatnonzero(drawn.picked), np.flatnonzero(targeted)])
    manifest = _manifest(pool, drawn, chosen, seed=seed, method=method)
    base = target / len(pool) if len(pool) else 0.0
    rules_chosen = [rule.at(chosen) for rule in rules]
    manifest["reason_picked"] = _reasons(
        manifest, rules_chosen, stratify_by, base, repeat_window_days
    )
    return SampleDraw(
        manifest=manifest,
        call_date=date,
        seed=seed,
        method=method,
        stratify_by=stratify_by,
        population=len(pool),
        day_calls=len(day),
        target_size=target,
        expected_random_size=float(drawn.prob.sum()),
        random_size=int(drawn.picked.sum()),
        targeted_size=int(targeted.sum()),
        strata=drawn.strata,
    )


class _Rule(NamedTuple):
    """A targeted rule: which calls match it, its name and its limit in words."""

    mask: np.ndarray
    name: str
    limit: str

    def at(self, positions: np.ndarray) -> _Rule:
        return self._replace(mask=self.mask[positions])


@dataclass(frozen=True)
class _RandomDraw:
    """The random part of a night's draw, one entry per eligible call (in call_id order)."""

    stratum: np.ndarray
    #: Each call's stratum number, in stratum name order (the order the selection walks).
    codes: np.ndarray
    prob: np.ndarray
    picked: np.ndarray
    #: Per stratum number: eligible calls (N_h) and random picks (n_h).
    stratum_population: np.ndarray
    stratum_drawn: np.ndarray
    strata: tuple[Stratum, ...]


def _check_options(
    calls: pd.DataFrame,
    stratify_by: str,
    direction: str,
    sample_size: int | None,
    min_per_agent: int,
) -> None:
    if stratify_by not in get_args(StratifyBy):
        choices = ", ".join(get_args(StratifyBy))
        raise ValueError(f"stratify_by must be one of {choices}, not {stratify_by!r}")
    if direction not in get_args(Direction):
        choices = ", ".join(get_args(Direction))
        raise ValueError(f"direction must be one of {choices}, not {direction!r}")
    if sample_size is not None and sample_size < 0:
        raise ValueError(f"sample_size must be 0 or more, not {sample_size}")
    if min_per_agent < 0:
        raise ValueError(f"min_per_agent must be 0 or more, not {min_per_agent}")
    check_call_columns(calls, _CALL_COLUMNS)


def _method(stratify_by: str, min_per_agent: int, days: int) -> str:
    """The design's name, as the manifest's `method` column gives it."""
    method = "simple_random" if stratify_by == "none" else f"stratified({stratify_by})"
    if min_per_agent:
        method += f"+agent_floor({min_per_agent}/{days})"
    return method


def _in_direction(calls: pd.DataFrame, direction: str) -> np.ndarray:
    """Which calls go the eligible way ("both": all of them)."""
    if direction == "both":
        return np.ones(len(calls), dtype=bool)
    return (calls["direction"] == direction).fillna(False).to_numpy(dtype=bool)


def _eligible(day: pd.DataFrame, direction: str) -> pd.DataFrame:
    """The night's eligible calls (recorded, going the eligible way), in call_id order."""
    eligible = day["recording"].notna().to_numpy(dtype=bool) & _in_direction(day, direction)
    return day[eligible].sort_values("call_id", kind="stable").reset_index(drop=True)


def _draw_random(
    pool: pd.DataFrame,
    stratify_by: str,
    target: int,
    agent_quota: float,
    rng: np.random.Generator,
) -> _RandomDraw:
    """Inclusion probabilities and the stratified systematic draw (docs/sampling.md, steps 1-3)."""
    if stratify_by == "none":
        stratum = np.full(len(pool), "all", dtype=object)
    else:
        stratum = pool[stratify_by].astype(object).fillna(_MISSING_STRATUM).to_numpy()
    names, codes = np.unique(stratum, return_inverse=True)
    prob = _inclusion_probabilities(pool["agent_id"], target, agent_quota)
    picked = _systematic_pps(prob, codes, rng)
    population = np.bincount(codes, minlength=len(names))
    drawn = np.bincount(codes[picked], minlength=len(names))
    expected = np.bincount(codes, weights=prob, minlength=len(names))
    strata = tuple(
        Stratum(str(name), int(size), int(n), float(e))
        for name, size, n, e in zip(names, population, drawn, expected, strict=True)
    )
    return _RandomDraw(stratum, codes, prob, picked, population, drawn, strata)


def _manifest(
    pool: pd.DataFrame, drawn: _RandomDraw, chosen: np.ndarray, *, seed: int, method: str
) -> pd.DataFrame:
    """The manifest's rows for the `chosen` calls (random picks first), all but the reasons."""
    is_random = np.arange(len(chosen)) < drawn.picked.sum()
    rows = pool.take(chosen)
    codes = drawn.codes[chosen]
    prob = np.where(is_random, drawn.prob[chosen], np.nan)
    manifest = pd.DataFrame(
        {
            **{c: rows[c].array for c in _CALL_COLUMNS},
            "repeat_caller": rows["repeat_caller"].to_numpy(dtype=bool),
            "prior_calls_window": rows["prior_calls_window"].to_numpy(dtype=np.int32),
            "sample_kind": pd.array(np.where(is_random, "random", "targeted"), dtype=_STRING),
            "stratum": pd.array(drawn.stratum[chosen], dtype=_STRING),
            "stratum_population": drawn.stratum_population[codes],
            "stratum_sample_size": drawn.stratum_drawn[codes],
            "inclusion_prob": prob,
            "weight": 1.0 / prob,
            "seed": np.full(len(chosen), seed, dtype=np.int64),
            "method": pd.array([method] * len(chosen), dtype=_STRING),
            "population": np.full(len(chosen), len(pool), dtype=np.int64),
        },
        columns=list(MANIFEST_COLUMNS),
    )
    return _typed(manifest)


def _with_repeats(calls: pd.DataFrame, date: Date, window_days: int) -> pd.DataFrame:
    """The date's calls with repeat columns: as given, or counted for just this date."""
    if {"prior_calls_window", "repeat_caller"} <= set(calls.columns):
        return calls[_on_date(calls["call_date"], date)]
    return mark_repeats(calls, window_days=window_days, call_date=date)


def _on_date(values: pd.Series, date: Date) -> np.ndarray:
    """call_date == date, comparing as stored (a cast of 10M Arrow dates takes ~25 s)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return (values == pd.Timestamp(date)).to_numpy(dtype=bool)
    return (values == date).fillna(False).to_numpy(dtype=bool)


def _inclusion_probabilities(agents: pd.Series, target: int, agent_quota: float) -> np.ndarray:
    """pi_i = max(n / N, min(1, q / N_a)) for each eligible call (docs/sampling.md, step 2)."""
    population = len(agents)
    if population == 0:
        return np.zeros(0)
    base = np.full(population, target / population)
    if agent_quota <= 0:
        return base
    codes, _ = pd.factorize(agents, use_na_sentinel=False)
    agent_calls = np.bincount(codes)[codes]
    floor = np.minimum(1.0, agent_quota / agent_calls)
    return np.maximum(base, floor)


def _systematic_pps(
    prob: np.ndarray, stratum_codes: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Randomised systematic pi-ps selection within stratum order (docs/sampling.md, step 3).

    One key per call (in call_id order) is drawn first, then the start, so the documented
    re-draw recipe reproduces it.
    """
    keys = rng.random(len(prob))
    start = rng.random()
    picked = prob >= 1.0
    rest = np.flatnonzero(~picked & (prob > 0))
    if len(rest):
        order = rest[np.lexsort((keys[rest], stratum_codes[rest]))]
        upper = np.cumsum(prob[order])
        lower = np.concatenate(([0.0], upper[:-1]))
        # Points start + k below x: ceil(x - start); unit i gets one iff the count steps up.
        hits = np.ceil(upper - start) - np.ceil(lower - start)
        picked[order] = hits > 0
    return picked


def _targeted_rules(
    pool: pd.DataFrame,
    long_call_s: float | None,
    repeat_min_prior: int | None,
    watch_queues: Sequence[str],
) -> list[_Rule]:
    """Each enabled targeted rule, over the eligible calls."""
    rules = []
    if long_call_s is not None:
        long_call = (pool["duration_s"] >= long_call_s).fillna(False).to_numpy(dtype=bool)
        rules.append(_Rule(long_call, "long_call", f"at least {long_call_s:,.0f} s"))
    if repeat_min_prior is not None:
        repeat = (pool["prior_calls_window"] >= repeat_min_prior).to_numpy(dtype=bool)
        rules.append(_Rule(repeat, "repeat_caller", f"at least {repeat_min_prior}"))
    if watch_queues:
        watched = pool["queue"].isin(list(watch_queues)).fillna(False).to_numpy(dtype=bool)
        rules.append(_Rule(watched, "watched_queue", "watch_queues"))
    return rules


def _targeted(
    pool: pd.DataFrame, picked: np.ndarray, rules: list[_Rule], limit: int | None
) -> np.ndarray:
    """Calls a rule matches that were not drawn at random, at most `limit` of them."""
    targeted = np.logical_or.reduce([rule.mask for rule in rules], initial=False) & ~picked
    if limit is None:
        return targeted
    return _cap_targeted(pool, targeted, rules, limit)


def _cap_targeted(
    pool: pd.DataFrame, targeted: np.ndarray, rules: list[_Rule], limit: int
) -> np.ndarray:
    """Keep the `limit` highest-priority targeted calls (order in `draw_sample`'s docstring)."""
    candidates = np.flatnonzero(targeted)
    if len(candidates) <= limit:
        return targeted
    watched = next((rule.mask for rule in rules if rule.name == "watched_queue"), None)
    rows = pool.iloc[candidates]
    ranking = pd.DataFrame(
        {
            "watched": watched[candidates] if watched is not None else False,
            "prior": rows["prior_calls_window"].to_numpy(),
            "duration": rows["duration_s"].fillna(0).to_numpy(dtype=float),
            "call_id": rows["call_id"].to_numpy(dtype=object),
            "position": candidates,
        }
    ).sort_values(
        ["watched", "prior", "duration", "call_id"], ascending=[False, False, False, True]
    )
    capped = np.zeros_like(targeted)
    capped[ranking["position"].to_numpy()[:limit]] = True
    return capped


def _reasons(
    manifest: pd.DataFrame, rules: list[_Rule], stratify_by: str, base: float, window_days: int
) -> pd.api.extensions.ExtensionArray:
    """Plain-English `reason_picked` for each manifest row (`rules` masks are over its rows).

    A loop over the manifest (hundreds of rows), never over the log.
    """
    durations = manifest["duration_s"].to_numpy(dtype=float)
    priors = manifest["prior_calls_window"].to_numpy()
    queues = manifest["queue"].to_numpy()
    agents = manifest["agent_id"].to_numpy()
    is_random = (manifest["sample_kind"] == "random").to_numpy(dtype=bool)
    stratum = manifest["stratum"].to_numpy()
    stratum_population = manifest["stratum_population"].to_numpy()
    prob = manifest["inclusion_prob"].to_numpy()
    rule_text = {
        "long_call": lambda i: f"the call lasted {durations[i]:,.0f} s",
        "repeat_caller": lambda i: (
            f"the caller rang {priors[i]} times in the previous {window_days} days"
        ),
        "watched_queue": lambda i: f"queue {queues[i]} is under watch",
    }
    reasons = []
    for i in range(len(manifest)):
        matched = "; ".join(
            f"{rule_text[rule.name](i)} ({rule.limit})" for rule in rules if rule.mask[i]
        )
        if not is_random[i]:
            reasons.append(f"targeted: {matched}")
            continue
        where = (
            f"drawn at random from all {stratum_population[i]} eligible calls"
            if stratify_by == "none"
            else f"drawn at random within {stratify_by} {stratum[i]} "
            f"({stratum_population[i]} eligible calls)"
        )
        text = f"random: {where}, inclusion probability {prob[i]:.4g}"
        if prob[i] > base * (1 + 1e-12):
            text += f", raised so agent {agents[i]} gets the per-agent minimum"
        if matched:
            text += f"; also matches targeted rules: {matched}"
        reasons.append(text)
    return pd.array(reasons, dtype=_STRING)


def _typed(manifest: pd.DataFrame) -> pd.DataFrame:
    """The manifest's dtypes (the `samples/` schema's), the same whether it has rows or not."""
    for column, dtype in SAMPLES.pandas_types(MANIFEST_COLUMNS).items():
        if manifest[column].dtype != dtype:
            manifest[column] = manifest[column].astype(dtype)
    return manifest
