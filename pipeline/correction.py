"""Monthly rates corrected for the tagger's errors, from the calls quality leads reviewed.

The tagged rate counts the tagger's mistakes as if they were facts. Among the month's random
sample, the reviewed calls tell how often a call the tagger marked is truly marked (PPV) and
how often a call it left unmarked truly is (the false omission rate, FOR). The double-sampling
estimator (Tenenbein, 1970) is

    p = p_T * PPV + (1 - p_T) * FOR

where p_T is the design-weighted tagged rate. Both shares are taken within the tag's value,
so the reviews may favour flagged calls (the review queue does) without biasing it, as long as
which calls of a given tag value get reviewed does not depend on the truth. Its variance, by
the delta method, adds the sampling variance of p_T and the binomial variance of the two
shares:

    Var(p) = (PPV - FOR)^2 Var(p_T) + p_T^2 Var(PPV) + (1 - p_T)^2 Var(FOR)

Var(p_T) comes from the design-based interval of `pipeline.report.weighted_proportions`; the
shares use Agresti-Coull's adjusted counts so that 0 of 5 still carries uncertainty.
docs/evaluation.md has the simulation that checks the interval's coverage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

__all__ = ["METHOD", "CorrectedEstimate", "double_sampling"]

METHOD = "double_sampling"


@dataclass(frozen=True)
class CorrectedEstimate:
    estimate: float
    ci_low: float
    ci_high: float
    n_reviewed: int
    ppv: float
    false_omission: float


def _share(truth: np.ndarray, z: float) -> tuple[float, float]:
    """The share of true values and its Agresti-Coull variance."""
    n, x = len(truth), float(truth.sum())
    adjusted_n = n + z * z
    adjusted = (x + z * z / 2) / adjusted_n
    return (x / n if n else adjusted), adjusted * (1 - adjusted) / adjusted_n


def double_sampling(
    tagged_rate: float,
    tagged_se: float,
    tagged: np.ndarray,
    truth: np.ndarray,
    *,
    alpha: float = 0.05,
) -> CorrectedEstimate | None:
    """The corrected rate from the tagged rate (and its standard error) and the reviewed calls.

    `tagged` and `truth` are the reviewed calls' machine tag and the reviewer's verdict. None
    when no reviewed call has the tag, or none lacks it: the correction then has nothing to
    stand on.
    """
    tagged = np.asarray(tagged, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    if not tagged.any() or tagged.all():
        return None
    z = float(norm.ppf(1 - alpha / 2))
    ppv, var_ppv = _share(truth[tagged], z)
    false_omission, var_for = _share(truth[~tagged], z)
    point = tagged_rate * ppv + (1 - tagged_rate) * false_omission
    variance = (
        (ppv - false_omission) ** 2 * tagged_se**2
        + tagged_rate**2 * var_ppv
        + (1 - tagged_rate) ** 2 * var_for
    )
    half = z * float(np.sqrt(variance))
    return CorrectedEstimate(
        estimate=float(point),
        ci_low=max(0.0, point - half),
        ci_high=min(1.0, point + half),
        n_reviewed=len(tagged),
        ppv=float(ppv),
        false_omission=float(false_omission),
    )
