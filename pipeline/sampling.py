"""The night's random screening sample: size, design, inclusion probabilities and weights.

One call, `draw_sample`, turns the call log and a date into a `SampleDraw`: the manifest
(one row per picked call, written to ``samples/``) and the design behind it.

Sample size
-----------
Unless ``sample_size`` fixes the nightly number, it comes from the precision wanted for a
*monthly* proportion (e.g. the avoidable-contact rate): Cochran's (1977, *Sampling Techniques*,
3rd ed., ch. 4, sample size for proportions) ``n0 = z^2 p (1 - p) / e^2`` with the finite-population correction
``n = n0 / (1 + (n0 - 1) / N)``, ``z`` from `scipy.stats.norm`, ``p = 0.5`` (the worst case) and
``N`` the month's expected eligible calls, rounded *up* so the margin is met: +/- 5 points at 95%
needs n0 = 384.1 (the "384" usually quoted), so 385 calls for an unlimited month and 357 for a
month of 5,000 calls (Krejcie & Morgan's 1970 table gives the same). The month's sample is spread
over its days in proportion to each day's volume: tonight draws
``ceil(n_month x N_day / N_month)``. ``N_month`` is ``expected_monthly_calls`` when given,
otherwise tonight's eligible calls x ``days_in_month``; it is never read from other days of the
log, so adding rows for other days cannot change tonight's size.

Design
------
Population: the eligible calls of the local date (``call_date == date``): direction as set
(``inbound``, ``outbound`` or ``both``) and a recording path present (whether the file exists is
the nightly flow's check). ``N`` calls, sorted by ``call_id``.

1. Every eligible call gets the base inclusion probability ``n / N`` (proportional allocation:
   each stratum's expected share is ``n x N_h / N``).
2. Per-agent floor: an agent with ``N_a`` eligible calls tonight gets at least
   ``q = min_per_agent / days_in_month`` expected random picks, i.e. each of their calls has
   probability at least ``min(1, q / N_a)``. The monthly minimum thus becomes a nightly
   expected quota: an agent who takes calls on every one of the month's ``days_in_month`` days
   reaches ``min_per_agent`` picks a month on average (pass the centre's opening days as
   ``days_in_month`` if it shuts at weekends). A call's probability is
   ``pi_i = max(n / N, min(1, q / N_a))``: the floor only ever raises it, adding calls on top of
   ``n``, so every agent's expected count is at least ``min(q, N_a)`` and the proportional part
   is untouched for everyone else.
3. Selection: calls with ``pi_i = 1`` are taken. The rest are put in order of stratum name, then
   of a uniform random key (a random order within each stratum), and drawn by systematic
   sampling with probabilities proportional to size: with cumulative sums ``C_i`` of ``pi_i`` and
   one uniform start ``u`` in [0, 1), call ``i`` is picked iff some integer ``k`` has
   ``u + k`` in ``[C_(i-1), C_i)``. Because every ``pi_i <= 1`` that happens with probability
   exactly ``pi_i`` (Madow 1949; randomised order as in Hartley & Rao 1962; Sarndal, Swensson &
   Wretman 1992, *Model Assisted Survey Sampling*, sec. 3.6). So ``inclusion_prob`` is each
   call's exact first-order inclusion probability and ``weight = 1 / inclusion_prob`` gives
   unbiased Horvitz-Thompson estimates; every eligible call has ``pi_i > 0``, so no stratum is
   ever left out of the estimate.

   When the floor does not bind (all ``pi_i = n / N``) this is exactly stratified simple random
   sampling without replacement with proportional allocation: each stratum gets its share
   ``N_h n / N`` rounded up or down at random (so small strata are not rounded away), the calls
   within it are a simple random sample of that size, the night's total is exactly ``n`` and the
   night's weights sum exactly to ``N``; a stratum's weights sum to ``N_h`` on average. When the
   floor binds, the design is stratified pi-ps (unequal probabilities within a stratum) and the
   weights sum to ``N`` on average. For variance, the monthly report should treat
   (``call_date``, ``stratum``) as strata and use the with-replacement (Taylor-linearised)
   approximation: standard, and conservative for these designs.

``stratify_by = "none"`` is the same with one stratum, ``all`` (simple random sampling).

Targeted additions (``sample_kind = "targeted"``): eligible calls *not* randomly picked that
match a rule - at least ``targeted_long_call_s`` long, a caller with at least
``targeted_repeat_min_prior`` prior inbound calls in the repeat window (see repeats.py), or a
queue in ``watch_queues``. They have no ``inclusion_prob``/``weight`` (null) and must be left
out of weighted estimates. The random draw is made first, over *all* eligible calls, so the
targeted rules never change which calls are drawn at random or their probabilities; a random
pick that matches a rule stays random and its ``reason_picked`` says so. At most
``targeted_max`` targeted calls are kept a night (watched queues first, then the callers with
the most prior calls, then the longest calls), so the rules cannot swamp the night.

Manifest columns (``SampleDraw.manifest``, ``MANIFEST_COLUMNS``; one row per picked call,
random picks first, each part in ``call_id`` order)
-------------------------------------------------------------------------------------------
call_id, call_date (local date, date32), started_at (UTC), agent_id, team, queue, duration_s,
direction, recording, channel_layout, caller_hash (the hashed caller; never a clear number)
    copied from the call log.
repeat_caller, prior_calls_window
    from `repeats.mark_repeats` over the whole log (window ``repeat_window_days``).
sample_kind
    ``random`` or ``targeted``.
stratum
    the stratum's value (e.g. the queue ``council_tax``; ``all`` with no stratification;
    ``(none)`` for a missing team).
stratum_population, stratum_sample_size
    eligible calls in the stratum tonight (``N_h``) and random picks drawn from it (``n_h``).
inclusion_prob, weight
    exact probability of being drawn at random, and ``1 / inclusion_prob``; null when targeted.
reason_picked
    plain English: which draw or rule picked it.
seed, method, population
    the run's seed; the design (``simple_random`` or ``stratified(<column>)``, plus
    ``+agent_floor(<min_per_agent>/<days_in_month>)`` when the floor is on); eligible calls
    tonight (``N``). The same on every row, so one file is self-describing.

Re-drawing a night
------------------
The same call log, date, seed and settings give the identical manifest; rows for *other* dates
do not change a night's random draw (and change the targeted picks only through the repeat
window, as they should). To re-draw: ``callqa sample --calls LOG --out DIR --date D --seed S``
with the same settings (sample_size or margin_of_error / confidence_level /
expected_monthly_calls, days_in_month, stratify_by, min_per_agent, direction, the targeted
rules, repeat_window_days, timezone and caller-hash key). By hand, with the manifest's seed
``S``: take the eligible calls of date ``D`` sorted by ``call_id``; ``rng =
numpy.random.default_rng([S mod 2**64, YYYYMMDD])``; ``keys = rng.random(N)`` (one per call, in
that order), then ``u = rng.random()``; compute each ``pi_i`` as above and select as in step 3.
NumPy's PCG64 bit stream is stable across versions; record the NumPy version with the run.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date as Date
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.stats import norm

from pipeline.config import Settings
from pipeline.errors import CallLogError
from pipeline.repeats import mark_repeats

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

StratifyBy = Literal["none", "queue", "team", "agent_id"]
Direction = Literal["inbound", "outbound", "both"]

MANIFEST_COLUMNS = (
    "call_id",
    "call_date",
    "started_at",
    "agent_id",
    "team",
    "queue",
    "duration_s",
    "direction",
    "recording",
    "channel_layout",
    "caller_hash",
    "repeat_caller",
    "prior_calls_window",
    "sample_kind",
    "stratum",
    "stratum_population",
    "stratum_sample_size",
    "inclusion_prob",
    "weight",
    "reason_picked",
    "seed",
    "method",
    "population",
)

_STRATIFY = ("none", "queue", "team", "agent_id")
_DIRECTIONS = ("inbound", "outbound", "both")
_CALL_COLUMNS = (
    "call_id",
    "call_date",
    "started_at",
    "duration_s",
    "agent_id",
    "team",
    "queue",
    "caller_hash",
    "direction",
    "recording",
    "channel_layout",
)
_MISSING_STRATUM = "(none)"
_STRING = pd.StringDtype("pyarrow")
_DATE = pd.ArrowDtype(pa.date32())
_NS_PER_DAY = 86_400 * 10**9


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
    census = marked
    if settings.direction != "both":
        census = marked[(marked["direction"] == settings.direction).fillna(False).to_numpy(bool)]
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
    """Draw the random and targeted sample of `date`'s calls (the design is in the module doc).

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
    if stratify_by not in _STRATIFY:
        raise ValueError(f"stratify_by must be one of {', '.join(_STRATIFY)}, not {stratify_by!r}")
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(_DIRECTIONS)}, not {direction!r}")
    if sample_size is not None and sample_size < 0:
        raise ValueError(f"sample_size must be 0 or more, not {sample_size}")
    if min_per_agent < 0:
        raise ValueError(f"min_per_agent must be 0 or more, not {min_per_agent}")
    missing = [c for c in _CALL_COLUMNS if c not in calls.columns]
    if missing:
        raise CallLogError(
            f"the calls table lacks {', '.join(missing)}: pass CallLog.calls from read_call_log"
        )
    days = days_in_month or calendar.monthrange(date.year, date.month)[1]
    method = "simple_random" if stratify_by == "none" else f"stratified({stratify_by})"
    if min_per_agent:
        method += f"+agent_floor({min_per_agent}/{days})"

    day = _with_repeats(calls, date, repeat_window_days)
    eligible = day["recording"].notna().to_numpy(dtype=bool)
    if direction != "both":
        eligible &= (day["direction"] == direction).fillna(False).to_numpy(dtype=bool)
    pool = day[eligible].sort_values("call_id", kind="stable").reset_index(drop=True)
    population = len(pool)

    if sample_size is None:
        target = nightly_sample_size(
            population,
            days_in_month=days,
            expected_monthly_calls=expected_monthly_calls,
            margin_of_error=margin_of_error,
            confidence_level=confidence_level,
        )
    else:
        target = min(sample_size, population)

    if stratify_by == "none":
        stratum = np.full(population, "all", dtype=object)
    else:
        stratum = pool[stratify_by].astype(object).fillna(_MISSING_STRATUM).to_numpy()
    # Codes number the strata in name order, the order the selection walks them in.
    stratum_names, stratum_codes = np.unique(stratum, return_inverse=True)
    prob = _inclusion_probabilities(pool["agent_id"], target, min_per_agent / days)
    rng = np.random.default_rng([seed % 2**64, date.year * 10_000 + date.month * 100 + date.day])
    picked = _systematic_pps(prob, stratum_codes, rng)

    stratum_population = np.bincount(stratum_codes, minlength=len(stratum_names))
    stratum_drawn = np.bincount(stratum_codes[picked], minlength=len(stratum_names))
    stratum_expected = np.bincount(stratum_codes, weights=prob, minlength=len(stratum_names))
    strata = tuple(
        Stratum(str(name), int(size), int(drawn), float(expected))
        for name, size, drawn, expected in zip(
            stratum_names, stratum_population, stratum_drawn, stratum_expected, strict=True
        )
    )

    rule_masks = _targeted_rules(
        pool, targeted_long_call_s, targeted_repeat_min_prior, watch_queues
    )
    targeted = np.logical_or.reduce([m for m, _, _ in rule_masks], initial=False) & ~picked
    if targeted_max is not None:
        targeted = _cap_targeted(pool, targeted, rule_masks, targeted_max)
    chosen = np.concatenate([np.flatnonzero(picked), np.flatnonzero(targeted)])
    is_random = np.arange(len(chosen)) < picked.sum()
    rows = pool.take(chosen)
    codes = stratum_codes[chosen]
    prob_chosen = np.where(is_random, prob[chosen], np.nan)
    manifest = pd.DataFrame(
        {
            **{c: rows[c].array for c in _CALL_COLUMNS},
            "repeat_caller": rows["repeat_caller"].to_numpy(dtype=bool),
            "prior_calls_window": rows["prior_calls_window"].to_numpy(dtype=np.int32),
            "sample_kind": pd.array(np.where(is_random, "random", "targeted"), dtype=_STRING),
            "stratum": pd.array(stratum[chosen], dtype=_STRING),
            "stratum_population": stratum_population[codes],
            "stratum_sample_size": stratum_drawn[codes],
            "inclusion_prob": prob_chosen,
            "weight": 1.0 / prob_chosen,
            "reason_picked": pd.array(
                _reasons(
                    rows,
                    is_random,
                    [(m[chosen], name, limit) for m, name, limit in rule_masks],
                    stratify_by,
                    stratum[chosen],
                    stratum_population[codes],
                    prob_chosen,
                    target / population if population else 0.0,
                    repeat_window_days,
                ),
                dtype=_STRING,
            ),
            "seed": np.full(len(chosen), seed, dtype=np.int64),
            "method": pd.array([method] * len(chosen), dtype=_STRING),
            "population": np.full(len(chosen), population, dtype=np.int64),
        },
        columns=list(MANIFEST_COLUMNS),
    )
    manifest = _typed(manifest)
    return SampleDraw(
        manifest=manifest,
        call_date=date,
        seed=seed,
        method=method,
        stratify_by=stratify_by,
        population=population,
        day_calls=len(day),
        target_size=target,
        expected_random_size=float(prob.sum()),
        random_size=int(picked.sum()),
        targeted_size=int(targeted.sum()),
        strata=strata,
    )


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
    """pi_i = max(n / N, min(1, q / N_a)) for each eligible call (module docstring, step 2)."""
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
    """Randomised systematic pi-ps selection within stratum order (module docstring, step 3).

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
) -> list[tuple[np.ndarray, str, str]]:
    """Each enabled targeted rule: which eligible calls match it, its name and its limit."""
    rules = []
    if long_call_s is not None:
        long_call = (pool["duration_s"] >= long_call_s).fillna(False).to_numpy(dtype=bool)
        rules.append((long_call, "long_call", f"at least {long_call_s:,.0f} s"))
    if repeat_min_prior is not None:
        repeat = (pool["prior_calls_window"] >= repeat_min_prior).to_numpy(dtype=bool)
        rules.append((repeat, "repeat_caller", f"at least {repeat_min_prior}"))
    if watch_queues:
        watched = pool["queue"].isin(list(watch_queues)).fillna(False).to_numpy(dtype=bool)
        rules.append((watched, "watched_queue", "watch_queues"))
    return rules


def _cap_targeted(
    pool: pd.DataFrame,
    targeted: np.ndarray,
    rules: list[tuple[np.ndarray, str, str]],
    limit: int,
) -> np.ndarray:
    """Keep the `limit` highest-priority targeted calls (order in `draw_sample`'s docstring)."""
    candidates = np.flatnonzero(targeted)
    if len(candidates) <= limit:
        return targeted
    watched = next((m for m, name, _ in rules if name == "watched_queue"), None)
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
    rows: pd.DataFrame,
    is_random: np.ndarray,
    rules: list[tuple[np.ndarray, str, str]],
    stratify_by: str,
    stratum: np.ndarray,
    stratum_population: np.ndarray,
    prob: np.ndarray,
    base: float,
    window_days: int,
) -> list[str]:
    """Plain-English `reason_picked` for each manifest row.

    A loop over the manifest (hundreds of rows), never over the log.
    """
    durations = rows["duration_s"].to_numpy(dtype=float)
    priors = rows["prior_calls_window"].to_numpy()
    queues = rows["queue"].to_numpy()
    agents = rows["agent_id"].to_numpy()
    rule_text = {
        "long_call": lambda i: f"the call lasted {durations[i]:,.0f} s",
        "repeat_caller": lambda i: (
            f"the caller rang {priors[i]} times in the previous {window_days} days"
        ),
        "watched_queue": lambda i: f"queue {queues[i]} is under watch",
    }
    reasons = []
    for i in range(len(rows)):
        matched = "; ".join(
            f"{rule_text[name](i)} ({limit})" for mask, name, limit in rules if mask[i]
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
    return reasons


def _typed(manifest: pd.DataFrame) -> pd.DataFrame:
    """The manifest's dtypes, the same whether it has rows or not."""
    strings = [
        "call_id",
        "agent_id",
        "team",
        "queue",
        "direction",
        "recording",
        "channel_layout",
        "caller_hash",
        "sample_kind",
        "stratum",
        "reason_picked",
        "method",
    ]
    types: dict[str, Any] = dict.fromkeys(strings, _STRING)
    types |= {
        "call_date": _DATE,
        "started_at": "datetime64[ns, UTC]",
        "duration_s": "float64",
        "repeat_caller": "bool",
        "prior_calls_window": "int32",
        "stratum_population": "int64",
        "stratum_sample_size": "int64",
        "inclusion_prob": "float64",
        "weight": "float64",
        "seed": "int64",
        "population": "int64",
    }
    for column, dtype in types.items():
        if manifest[column].dtype != dtype:
            manifest[column] = manifest[column].astype(dtype)
    return manifest
