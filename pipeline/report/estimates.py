"""Weighted estimates with design-based 95% intervals: proportions and means.

A proportion's interval is the Taylor-linearisation interval from samplics (`TaylorEstimator`,
logit-transformed, with-replacement approximation), with groups (queue, team) as domains. Where
a proportion is exactly 0 or 1 the Taylor interval collapses to a point, so statsmodels'
Clopper-Pearson interval on the group's sample size is used instead. A mean (the caller's
sentiment) gets samplics' Taylor interval over the rows where it is known.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CENSUS",
    "ProportionEstimate",
    "weighted_mean",
    "weighted_proportions",
]

_TAYLOR = "taylor-logit stratified (samplics)"
_EXACT = "clopper-pearson (statsmodels)"
_TAYLOR_MEAN = "taylor mean stratified (samplics)"
#: The method of a rate counted over every call rather than estimated from the sample.
CENSUS = "census (whole call log)"


@dataclass(frozen=True)
class ProportionEstimate:
    """A weighted proportion for one group, with its 95% interval and how it was made."""

    group: str
    estimate: float
    ci_low: float
    ci_high: float
    n_sampled: int
    population: int
    method: str


def _exact_interval(successes: float, n: int, alpha: float) -> tuple[float, float]:
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(round(successes), n, alpha=alpha, method="beta")
    return float(low), float(high)


def _level_one(
    point: Mapping[object, float], low: Mapping[object, float], high: Mapping[object, float]
) -> tuple[float, float, float]:
    """samplics reports a proportion per level of y; we want level 1 (True)."""
    key = next((k for k in point if int(k) == 1), None)  # type: ignore[call-overload]
    if key is None:
        return (0.0, 0.0, 0.0)
    return (float(point[key]), float(low[key]), float(high[key]))


def _taylor_proportions(
    values: np.ndarray,
    weights: np.ndarray,
    strata: np.ndarray,
    domain: np.ndarray | None,
    alpha: float,
) -> dict[str, tuple[float, float, float]]:
    """samplics' (point, low, high) per domain value ("all" without domains); {} when every
    value is the same, as the Taylor interval is then a point."""
    if len(values) < 2 or not values.any() or values.all():
        return {}
    with warnings.catch_warnings():
        # samplics warns that it is archived (0.6.1 is pinned and does what we need), and on
        # degenerate domains; both are handled.
        warnings.simplefilter("ignore")
        from samplics import PopParam, TaylorEstimator

        estimator = TaylorEstimator(PopParam.prop, alpha=alpha)
        estimator.estimate(
            y=values.astype(int),
            samp_weight=weights,
            stratum=strata,
            domain=domain,
            remove_nan=True,
        )
    if domain is None:
        return {"all": _level_one(estimator.point_est, estimator.lower_ci, estimator.upper_ci)}
    return {
        str(group): _level_one(
            estimator.point_est[group], estimator.lower_ci[group], estimator.upper_ci[group]
        )
        for group in estimator.point_est
    }


def weighted_proportions(
    y: Sequence[bool] | np.ndarray,
    weight: Sequence[float] | np.ndarray,
    stratum: Sequence[str] | np.ndarray,
    *,
    domain: Sequence[str] | np.ndarray | None = None,
    alpha: float = 0.05,
) -> list[ProportionEstimate]:
    """Weighted proportion of `y` (overall, or per `domain` value) with a design-based interval.

    `stratum` labels each row's stratum (already collapsed so each has 2+ rows); there is no
    finite-population correction (the with-replacement approximation). Returns one estimate per
    domain value, or one with group "all" without domains.
    """
    values = np.asarray(y, dtype=bool)
    weights = np.asarray(weight, dtype=float)
    strata = np.asarray(stratum, dtype=str)
    groups = np.full(len(values), "all") if domain is None else np.asarray(domain, dtype=str)
    taylor = _taylor_proportions(values, weights, strata, None if domain is None else groups, alpha)
    results = []
    for group in sorted(np.unique(groups)):
        mask = groups == group
        n = int(mask.sum())
        total = float(weights[mask].sum())
        share = float((weights[mask] * values[mask]).sum() / total) if total else float("nan")
        found = taylor.get(str(group))
        if found is not None and 0.0 < found[0] < 1.0 and np.isfinite(found[1:]).all():
            point, low, high = found
            method = _TAYLOR
        else:
            point = share
            low, high = _exact_interval(share * n, n, alpha)
            method = _EXACT
        results.append(ProportionEstimate(str(group), point, low, high, n, round(total), method))
    return results


def weighted_mean(
    y: Sequence[float] | np.ndarray,
    weight: Sequence[float] | np.ndarray,
    stratum: Sequence[str] | np.ndarray,
    *,
    alpha: float = 0.05,
) -> tuple[float, float, float, int, str]:
    """Weighted mean of `y` over the rows where it is known, with a design-based interval.

    Rows where `y` is NaN (the caller never spoke) are a domain left out, not dropped: the
    design's strata stay whole, so the variance is the domain estimator's (samplics `domain`).
    Returns (estimate, ci_low, ci_high, n, method); with fewer than two known values the
    interval is NaN, as no variance can be estimated.
    """
    values = np.asarray(y, dtype=float)
    weights = np.asarray(weight, dtype=float)
    strata = np.asarray(stratum, dtype=str)
    known = np.isfinite(values)
    n = int(known.sum())
    if n == 0 or weights[known].sum() <= 0:
        return (float("nan"), float("nan"), float("nan"), n, _TAYLOR_MEAN)
    point = float(np.average(values[known], weights=weights[known]))
    if n < 2:
        return (point, float("nan"), float("nan"), n, _TAYLOR_MEAN)
    with warnings.catch_warnings():
        # samplics warns that it is archived (0.6.1 is pinned), and on degenerate strata.
        warnings.simplefilter("ignore")
        from samplics import PopParam, TaylorEstimator

        # samplics divides by each domain's mean (its coefficient of variation), so a mean of 0
        # would crash it: estimate the mean of y + shift (never 0) and take the shift off
        # again; a weighted mean's linearised variance does not change with a shift.
        shift = 2.0 * float(np.abs(values[known]).max()) + 1.0
        estimator = TaylorEstimator(PopParam.mean, alpha=alpha)
        estimator.estimate(
            y=np.where(known, values, 0.0) + shift,
            samp_weight=weights,
            stratum=strata,
            domain=np.where(known, "known", "unknown"),
            remove_nan=True,
        )
    low = float(estimator.lower_ci["known"]) - shift
    high = float(estimator.upper_ci["known"]) - shift
    if not (np.isfinite(low) and np.isfinite(high)):
        low = high = float("nan")
    return (point, low, high, n, _TAYLOR_MEAN)
