"""What people read: the monthly report (recommendation 28), the night's summary and scrutiny packs.

Monthly reasons-for-contact and avoidable-contact report
--------------------------------------------------------

Estimates come from the month's random sample only (targeted calls are excluded: they were
picked because they looked unusual). Each night is a stratified random draw, so the month is a
stratified sample with strata (`call_date`, `stratum`) and weights 1 / inclusion_prob (scaled
within a stratum to cover calls that failed). Point estimates are weighted proportions; their
95% confidence intervals are Taylor-linearisation intervals from samplics (`TaylorEstimator`,
logit-transformed, with-replacement approximation), with groups (queue, team) as domains. Where a proportion is exactly 0 or 1 the Taylor interval collapses to
a point, so statsmodels' Clopper-Pearson interval on the group's sample size is used instead.

Strata with a single scored call have no within-stratum variance; those of one night are pooled
(and a pool of one is merged into that night's largest stratum) before estimation.

The repeat-caller rate needs no sample: it is counted over every eligible call in the nights'
logs (the census table), so its interval is the point itself.

The caller's sentiment (pipeline/sentiment.py: overall, opening and closing thirds) is a mean,
not a proportion: `mean:<column>` rows, weighted means over the same design with samplics'
Taylor-linearisation interval (`PopParam.mean`), over the calls where the caller spoke.

Night summary and scrutiny packs
--------------------------------
`NightSummary` is what a night did in counts and ids (the Prefect artifact and the closing line).
A scrutiny pack is a seeded random sample of scored calls for councillors: pages with the
redacted transcript, tags in plain words and the audio with personal data silenced; calls and
agents appear only under pseudonyms (Call 1, Agent 1) that mean nothing outside the pack.
Its `pack.parquet` (`store.SCRUTINY_PACK`) tells the review app which call each page and
recording is; the pages and index that councillors read never carry a call id.
"""

from __future__ import annotations

import html
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats

from pipeline import repeats, store
from pipeline.charts import ChartPoint, bar_chart
from pipeline.correction import METHOD as CORRECTION_METHOD
from pipeline.correction import double_sampling
from pipeline.errors import CallQAError, StoreError
from pipeline.reviews import reviewed_labels
from pipeline.trends import (
    SENTIMENT_PARTS,
    TREND_MONTHS,
    TrendTable,
    month_label,
    report_months,
    trend_charts,
    trend_table,
)
from pipeline.vocabulary import Vocabulary, load_vocabulary

__all__ = [
    "MonthlyReport",
    "NightSummary",
    "ProportionEstimate",
    "ScrutinyCall",
    "build_monthly_report",
    "choose_scrutiny_calls",
    "frequent_callers",
    "monthly_estimates",
    "weighted_mean",
    "weighted_proportions",
    "write_scrutiny_index",
    "write_scrutiny_manifest",
    "write_scrutiny_page",
]

_TAYLOR = "taylor-logit stratified (samplics)"
_EXACT = "clopper-pearson (statsmodels)"
_CENSUS = "census (whole call log)"
_TAYLOR_MEAN = "taylor mean stratified (samplics)"
#: Scorecard columns estimated as monthly means (`mean:<column>` in estimates.parquet).
_MEANS = ("caller_sentiment", "caller_sentiment_opening", "caller_sentiment_closing")


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


@dataclass(frozen=True)
class MonthlyReport:
    """Where a month's report went, and what it rests on."""

    month: str
    folder: Path
    estimates_path: Path
    frequent_callers_path: Path
    html_path: Path
    nights: int
    n_sampled: int
    population: int


@dataclass(frozen=True)
class NightSummary:
    """What one night did, in numbers and ids only (it goes into Prefect's artifact)."""

    call_date: date
    run_id: str
    log_rows: int
    rejected_rows: int
    population: int
    sampled: int
    random: int
    targeted: int
    scored: int
    failed: int
    flagged: int
    avoidable_rate: float | None
    top_reasons: tuple[tuple[str, int], ...]
    failures_by_stage: tuple[tuple[str, int], ...]
    audio_s: float
    elapsed_s: float
    out: Path
    #: Scored calls whose recording is faulty (cut short, dead channel, clipped): for IT.
    recording_faults: int = 0
    #: Scored calls tagged safeguarding: a count only, the calls are in the review queue.
    safeguarding: int = 0

    @classmethod
    def from_rows(
        cls,
        *,
        call_date: date,
        run_id: str,
        log_rows: int,
        rejected_rows: int,
        population: int,
        scorecards: Sequence[Mapping[str, object]],
        failures: Sequence[Mapping[str, object]],
        sampled: int,
        targeted: int,
        elapsed_s: float,
        out: Path,
    ) -> NightSummary:
        """Summarise the night's scorecard and failure rows."""
        random = [r for r in scorecards if r["sample_kind"] == "random"]
        weights = [float(r["weight"] or 0.0) for r in random]  # type: ignore[arg-type]
        avoidable = (
            sum(w for w, r in zip(weights, random, strict=True) if r["avoidable"]) / sum(weights)
            if random and sum(weights) > 0
            else None
        )
        reasons = Counter(str(r["primary_reason"]) for r in scorecards)
        stages = Counter(str(f["stage"]) for f in failures)
        return cls(
            call_date=call_date,
            run_id=run_id,
            log_rows=log_rows,
            rejected_rows=rejected_rows,
            population=population,
            sampled=sampled,
            random=sampled - targeted,
            targeted=targeted,
            scored=len(scorecards),
            failed=len(failures),
            flagged=sum(bool(r["needs_review"]) for r in scorecards),
            avoidable_rate=avoidable,
            top_reasons=tuple(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:5]),
            failures_by_stage=tuple(sorted(stages.items())),
            audio_s=sum(float(r["duration_s"] or 0.0) for r in scorecards),  # type: ignore[arg-type]
            elapsed_s=elapsed_s,
            out=out,
            recording_faults=sum(r["transcript_status"] == "recording_fault" for r in scorecards),
            safeguarding=sum(bool(r.get("safeguarding")) for r in scorecards),
        )

    def line(self) -> str:
        """The closing line printed on the terminal."""
        rate = "n/a" if self.avoidable_rate is None else f"{self.avoidable_rate:.0%}"
        # Said only when there are some: a recording fault is news for IT.
        faults = f"{self.recording_faults} recording faults, " if self.recording_faults else ""
        # Likewise: a safeguarding call is news for the council's safeguarding lead.
        guard = f"{self.safeguarding} safeguarding, " if self.safeguarding else ""
        return (
            f"Night {self.call_date}: {self.sampled} sampled, {self.scored} scored, "
            f"{self.failed} failed, {faults}{guard}{self.flagged} flagged for review, "
            f"avoidable {rate} "
            f"({self.audio_s / 60:.1f} min of audio in {self.elapsed_s:.0f} s). "
            f"Scorecards: {self.out / 'scorecards' / f'call_date={self.call_date}'}"
        )

    def markdown(self) -> str:
        """The `nightly-screening-summary` artifact: counts, reasons and rates, no personal data."""
        rate = "n/a" if self.avoidable_rate is None else f"{self.avoidable_rate:.1%}"
        reasons = "".join(f"| {r} | {n} |\n" for r, n in self.top_reasons) or "| (none) | 0 |\n"
        stages = "".join(f"| {s} | {n} |\n" for s, n in self.failures_by_stage)
        text = (
            f"# Nightly screening {self.call_date}\n\n"
            f"| | calls |\n|---|---|\n"
            f"| in the call log (rows read / rejected) | {self.log_rows} / {self.rejected_rows} |\n"
            f"| eligible recorded calls | {self.population} |\n"
            f"| sampled (random + targeted) | {self.sampled} ({self.random} + {self.targeted}) |\n"
            f"| scored | {self.scored} |\n| failed | {self.failed} |\n"
            f"| recording faults (for IT) | {self.recording_faults} |\n"
            f"| safeguarding (see the review queue) | {self.safeguarding} |\n"
            f"| flagged for review | {self.flagged} |\n\n"
            f"**Avoidable contact (weighted, random sample):** {rate}\n\n"
            f"## Top contact reasons\n\n| reason | calls |\n|---|---|\n{reasons}"
        )
        if stages:
            text += f"\n## Failures by stage\n\n| stage | calls |\n|---|---|\n{stages}"
        return text + f"\nRun `{self.run_id}`; audio {self.audio_s / 60:.1f} min.\n"


def _collapse_strata(strata: pd.Series, nights: pd.Series) -> pd.Series:
    """Pool single-call strata within their night so every stratum can give a variance."""
    labels = [str(s) for s in strata]
    days = [str(n) for n in nights]
    counts = Counter(labels)
    for night in dict.fromkeys(days):
        pooled = f"{night}|pooled"
        members = [i for i, d in enumerate(days) if d == night and counts[labels[i]] == 1]
        for i in members:
            labels[i] = pooled
        if len(members) == 1:
            rest = Counter(labels[i] for i, d in enumerate(days) if d == night and i not in members)
            if rest:
                labels[members[0]] = rest.most_common(1)[0][0]
    counts = Counter(labels)
    if len(counts) > 1 and min(counts.values()) == 1:
        # A night with a single call: fold it into the largest stratum of the month.
        largest = counts.most_common(1)[0][0]
        labels = [largest if counts[s] == 1 else s for s in labels]
    return pd.Series(labels, index=strata.index)


def _exact_interval(successes: float, n: int, alpha: float) -> tuple[float, float]:
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(round(successes), n, alpha=alpha, method="beta")
    return float(low), float(high)


def weighted_proportions(
    y: Sequence[bool] | np.ndarray,
    weight: Sequence[float] | np.ndarray,
    stratum: Sequence[str] | np.ndarray,
    *,
    domain: Sequence[str] | np.ndarray | None = None,
    fpc: Mapping[str, float] | None = None,
    alpha: float = 0.05,
) -> list[ProportionEstimate]:
    """Weighted proportion of `y` (overall, or per `domain` value) with a design-based interval.

    `stratum` labels each row's stratum (already collapsed so each has 2+ rows); `fpc` maps a
    stratum to its finite-population correction 1 - n_h/N_h (missing = 1, no correction).
    Returns one estimate per domain value, or one with group "all" without domains.
    """
    with warnings.catch_warnings():
        # samplics warns on import that it is archived; 0.6.1 is pinned and does what we need.
        warnings.simplefilter("ignore", FutureWarning)
        from samplics import PopParam, TaylorEstimator

    values = np.asarray(y, dtype=bool)
    weights = np.asarray(weight, dtype=float)
    strata = np.asarray(stratum, dtype=str)
    groups = np.full(len(values), "all") if domain is None else np.asarray(domain, dtype=str)
    fpc_all = {s: float((fpc or {}).get(s, 1.0)) for s in np.unique(strata)}
    taylor: dict[str, tuple[float, float, float]] = {}
    if len(np.unique(strata)) >= 1 and len(values) >= 2 and values.any() and not values.all():
        estimator = TaylorEstimator(PopParam.prop, alpha=alpha)
        with warnings.catch_warnings():
            # samplics warns that it is archived, and on degenerate domains; both are handled.
            warnings.simplefilter("ignore")
            estimator.estimate(
                y=values.astype(int),
                samp_weight=weights,
                stratum=strata,
                domain=None if domain is None else groups,
                fpc=fpc_all,
                remove_nan=True,
            )
        if domain is None:
            taylor["all"] = _level_one(estimator.point_est, estimator.lower_ci, estimator.upper_ci)
        else:
            for group in estimator.point_est:
                taylor[str(group)] = _level_one(
                    estimator.point_est[group],
                    estimator.lower_ci[group],
                    estimator.upper_ci[group],
                )
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


def _level_one(
    point: Mapping[object, float], low: Mapping[object, float], high: Mapping[object, float]
) -> tuple[float, float, float]:
    """samplics reports a proportion per level of y; we want level 1 (True)."""
    key = next((k for k in point if int(k) == 1), None)  # type: ignore[call-overload]
    if key is None:
        return (0.0, 0.0, 0.0)
    return (float(point[key]), float(low[key]), float(high[key]))


def _design(scorecards: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """The month's random rows with design weights adjusted for calls that failed.

    Each scored call keeps its weight 1 / inclusion_prob, scaled within its (night, stratum) so
    the scored calls carry the weight of every call drawn there (a failed call's share goes to
    the calls like it). Variance uses the with-replacement approximation (no finite-population
    correction), as pipeline/sampling.py advises: standard, and conservative for these designs.
    """
    # A call with no usable speech has no reasons or checks to count: like a failed call, its
    # share of the stratum's weight goes to the calls that were heard.
    heard = scorecards["transcript_status"].fillna("ok") == "ok"
    random = scorecards[(scorecards["sample_kind"] == "random") & heard].copy()
    if random.empty:
        return random
    random["call_date"] = random["call_date"].astype(str)
    random["design_stratum"] = random["call_date"] + "|" + random["stratum"].astype(str)
    scored = random.groupby("design_stratum")["weight"].transform("sum")
    drawn = samples[samples["sample_kind"] == "random"]
    drawn_weight = (
        (drawn["call_date"].astype(str) + "|" + drawn["stratum"].astype(str))
        .to_frame("design_stratum")
        .assign(weight=drawn["weight"].to_numpy())
        .groupby("design_stratum")["weight"]
        .sum()
    )
    # Without a manifest row, the scored calls' own weights stand for the stratum.
    target = random["design_stratum"].map(drawn_weight).fillna(scored)
    random["design_weight"] = random["weight"] * target / scored
    random["variance_stratum"] = _collapse_strata(random["design_stratum"], random["call_date"])
    return random.reset_index(drop=True)


def _map_value(value: Any) -> dict[str, Any]:
    """One cell of a Parquet map column as a dict: pyarrow gives (key, value) pairs, and rows
    written before the column existed give None."""
    return dict(value) if isinstance(value, list | tuple | dict) else {}


def _ids(value: Any) -> list[str]:
    """A list cell (None, a list or pyarrow's numpy array) as a list."""
    return [] if value is None else [str(v) for v in value]


def _map_cells(frame: pd.DataFrame, column: str) -> list[dict[str, Any]]:
    """A map column's cells as dicts; a frame without the column (older callers) gives {}."""
    if column not in frame.columns:
        return [{} for _ in range(len(frame))]
    return [_map_value(m) for m in frame[column]]


def _metrics(frame: pd.DataFrame, vocabulary: Vocabulary) -> dict[str, np.ndarray]:
    reasons = frame["primary_reason"].astype(str)
    category = frame["avoidable_category"].astype(str)
    found: dict[str, np.ndarray] = {
        "avoidable_rate": frame["avoidable"].fillna(False).to_numpy(bool)
    }
    for cat in vocabulary.category_ids:
        found[f"avoidable_category:{cat}"] = (category == cat).to_numpy()
    for reason in vocabulary.reason_ids:
        found[f"reason:{reason}"] = (reasons == reason).to_numpy()
    checks = _map_cells(frame, "qa_checks")
    for check in vocabulary.check_ids:
        # DESIGN.md's checks keep their own columns; a council's are in the `qa_checks` map.
        found[f"qa:{check}"] = (
            frame[check].fillna(False).to_numpy(bool)
            if check in frame.columns
            else np.array([bool(m.get(check, False)) for m in checks], dtype=bool)
        )
    families = _map_cells(frame, "tags")
    for family in vocabulary.families:
        for family_tag in family.tags:
            found[f"tags:{family.id}:{family_tag.id}"] = np.array(
                [family_tag.id in _ids(m.get(family.id)) for m in families], dtype=bool
            )
    found["complaint_rate"] = frame["complaint"].fillna(False).to_numpy(bool)
    found["transferred_rate"] = frame["transferred"].fillna(False).to_numpy(bool)
    return found


def _group_columns(frame: pd.DataFrame) -> dict[str, np.ndarray | None]:
    return {
        "all": None,
        "queue": ("queue:" + frame["queue"].fillna("unknown").astype(str)).to_numpy(),
        "team": ("team:" + frame["team"].fillna("unknown").astype(str)).to_numpy(),
    }


def monthly_estimates(
    scorecards: pd.DataFrame,
    samples: pd.DataFrame,
    census: pd.DataFrame,
    *,
    month: str,
    confidence_level: float = 0.95,
    reviews: Mapping[str, Mapping[str, Any]] | None = None,
    vocabulary: Vocabulary | None = None,
) -> pd.DataFrame:
    """One row per (metric, group, method) in `store.ESTIMATES` columns (without the change).

    With `reviews` (call_id -> a reviewer's labels, `pipeline.reviews.reviewed_labels`), each
    whole-month rate also gets a row corrected for the tagger's errors (`pipeline/correction.py`).
    `vocabulary` says which reasons, categories, checks and flag families to estimate (default:
    the shipped models/).
    """
    design = _design(scorecards, samples)
    alpha = 1.0 - confidence_level
    rows: list[dict[str, object]] = []
    if not design.empty:
        groups = _group_columns(design)
        metrics = _metrics(design, load_vocabulary() if vocabulary is None else vocabulary)
        for metric, values in metrics.items():
            for domain in groups.values():
                for found in weighted_proportions(
                    values,
                    design["design_weight"].to_numpy(),
                    design["variance_stratum"].to_numpy(),
                    domain=domain,
                    alpha=alpha,
                ):
                    rows.append({"metric": metric, **_row(found)})
        call_ids = design["call_id"].astype(str).to_numpy()
        rows.extend(_corrected_rows(call_ids, metrics, rows, reviews or {}, alpha))
        rows.extend(_mean_rows(design, alpha))
    rows.extend(_census_rows(census))
    frame = pd.DataFrame(rows, columns=[*store.ESTIMATES.columns[:8], "n_reviewed"])
    frame["month"] = month
    return frame


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


def _mean_rows(design: pd.DataFrame, alpha: float) -> list[dict[str, object]]:
    """`mean:<column>` rows for the whole month: the caller's sentiment, overall and by third."""
    rows: list[dict[str, object]] = []
    for column in _MEANS:
        if column not in design.columns:
            continue
        values = pd.to_numeric(design[column], errors="coerce").to_numpy(float)
        point, low, high, n, method = weighted_mean(
            values,
            design["design_weight"].to_numpy(),
            design["variance_stratum"].to_numpy(),
            alpha=alpha,
        )
        if n == 0:
            continue
        known = np.isfinite(values)
        rows.append(
            {
                "metric": f"mean:{column}",
                "group": "all",
                "estimate": point,
                "ci_low": low,
                "ci_high": high,
                "n_sampled": n,
                "population": round(float(design["design_weight"].to_numpy()[known].sum())),
                "method": method,
            }
        )
    return rows


def _review_truth(metric: str, labels: Mapping[str, Any]) -> bool | None:
    """What a reviewer's labels say of one metric, or None when they do not say."""
    if metric == "avoidable_rate":
        return labels.get("avoidable")
    if metric.startswith("avoidable_category:"):
        if "avoidable" not in labels:
            return None
        return labels["avoidable"] and labels.get("avoidable_category") == metric.split(":", 1)[1]
    if metric.startswith("reason:"):
        primary = labels.get("primary_reason")
        return None if primary is None else primary == metric.split(":", 1)[1]
    if metric.startswith("qa:"):
        return labels.get("qa", {}).get(metric.split(":", 1)[1])
    return labels.get(metric.removesuffix("_rate"))


def _corrected_rows(
    call_ids: np.ndarray,
    metrics: Mapping[str, np.ndarray],
    rows: Sequence[Mapping[str, object]],
    reviews: Mapping[str, Mapping[str, Any]],
    alpha: float,
) -> list[dict[str, object]]:
    """Each whole-month rate (`metrics`: the tagged values per design row, whose calls are
    `call_ids`) corrected for the tagger's errors on the reviewed random calls."""
    if not reviews:
        return []
    z = float(scipy.stats.norm.ppf(1 - alpha / 2))
    tagged_rows = {r["metric"]: r for r in rows if r["group"] == "all"}
    out = []
    for metric, values in metrics.items():
        row = tagged_rows.get(metric)
        pairs = [
            (bool(tag), truth)
            for call_id, tag in zip(call_ids, values, strict=True)
            if call_id in reviews and (truth := _review_truth(metric, reviews[call_id])) is not None
        ]
        if row is None or not pairs:
            continue
        found = double_sampling(
            float(row["estimate"]),
            (float(row["ci_high"]) - float(row["ci_low"])) / (2 * z),
            np.array([t for t, _ in pairs]),
            np.array([v for _, v in pairs]),
            alpha=alpha,
        )
        if found is not None:
            out.append(
                {
                    **row,
                    "estimate": found.estimate,
                    "ci_low": found.ci_low,
                    "ci_high": found.ci_high,
                    "method": CORRECTION_METHOD,
                    "n_reviewed": found.n_reviewed,
                }
            )
    return out


def _row(found: ProportionEstimate) -> dict[str, object]:
    return {
        "group": found.group,
        "estimate": found.estimate,
        "ci_low": found.ci_low,
        "ci_high": found.ci_high,
        "n_sampled": found.n_sampled,
        "population": found.population,
        "method": found.method,
    }


def _census_rows(census: pd.DataFrame) -> list[dict[str, object]]:
    """The repeat-caller rate over every inbound call of the nights (a count, not a sample)."""
    census = census[census["direction"] == "inbound"].reset_index(drop=True)
    if census.empty:
        return []
    rows = []
    for domain in _group_columns(census).values():
        labels = np.full(len(census), "all") if domain is None else domain
        repeat = census["repeat_caller"].fillna(False).to_numpy(bool)
        for group in sorted(np.unique(labels)):
            mask = labels == group
            rate = float(repeat[mask].mean())
            n = int(mask.sum())
            rows.append(
                {
                    "metric": "repeat_caller_rate",
                    **_row(ProportionEstimate(str(group), rate, rate, rate, n, n, _CENSUS)),
                }
            )
    return rows


def frequent_callers(
    census: pd.DataFrame, month: str, *, min_calls: int = repeats.DEFAULT_FREQUENT_MIN_CALLS
) -> pd.DataFrame:
    """`repeats.frequent_callers` over the month's census, pseudonymised ("Caller 1", ...).

    The pseudonym is the rank in this table only, so nothing in it can be matched to a number
    or to another month's table.
    """
    if census.empty:
        return pd.DataFrame(columns=store.FREQUENT_CALLERS.columns)
    table = repeats.frequent_callers(census, month, min_calls=min_calls)
    table.insert(0, "caller", [f"Caller {i + 1}" for i in range(len(table))])
    return table[store.FREQUENT_CALLERS.columns]


def _month_bounds(month: str) -> tuple[date, date]:
    try:
        start = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise StoreError(f"--month {month!r} is not YYYY-MM (e.g. 2025-03)") from None
    following = (pd.Timestamp(start) + pd.offsets.MonthBegin(1)).date()
    return start, date.fromordinal(following.toordinal() - 1)


def _previous_month(month: str) -> str:
    start, _ = _month_bounds(month)
    return (pd.Timestamp(start) - pd.offsets.MonthBegin(1)).strftime("%Y-%m")


def build_monthly_report(
    out: Path,
    month: str,
    *,
    confidence_level: float = 0.95,
    frequent_min_calls: int = repeats.DEFAULT_FREQUENT_MIN_CALLS,
    models_dir: Path | None = None,
) -> MonthlyReport:
    """Estimate the month from `<out>`'s Parquet and write `<out>/reports/<month>/`.

    Writes `estimates.parquet`, `frequent_callers.parquet` and `report.html`; the change from
    last month is filled in when `reports/<previous month>/estimates.parquet` exists. The tags
    estimated, and their words, come from `models_dir`'s vocabulary (default: models/).
    """
    out = Path(out)
    vocabulary = load_vocabulary(models_dir)
    start, end = _month_bounds(month)
    scorecards = store.read_table(out, store.SCORECARDS, start=start, end=end)
    if scorecards.empty:
        raise StoreError(
            f"no scorecards for {month} under {out / 'scorecards'}: run `callqa nightly` for "
            "that month's nights first, or check --out"
        )
    samples = store.read_table(out, store.SAMPLES, start=start, end=end)
    census = store.read_table(out, store.CENSUS, start=start, end=end)
    estimates = monthly_estimates(
        scorecards,
        samples,
        census,
        month=month,
        confidence_level=confidence_level,
        reviews=reviewed_labels(out),
        vocabulary=vocabulary,
    )
    previous = store.read_file(
        out / "reports" / _previous_month(month) / "estimates.parquet", store.ESTIMATES
    )
    # A corrected rate is compared with last month's corrected rate, a tagged one with a tagged.
    key = ["metric", "group", "corrected"]
    for frame in (estimates, previous):
        frame["corrected"] = frame["method"] == CORRECTION_METHOD
    lookup = previous.set_index(key)["estimate"] if not previous.empty else None
    estimates.drop(columns="corrected", inplace=True)
    if lookup is not None:
        keys = [
            (m, g, method == CORRECTION_METHOD)
            for m, g, method in zip(
                estimates["metric"], estimates["group"], estimates["method"], strict=True
            )
        ]
        estimates["previous_estimate"] = [lookup.get(k, np.nan) for k in keys]
    else:
        estimates["previous_estimate"] = np.nan
    estimates["change"] = estimates["estimate"] - estimates["previous_estimate"]
    folder = out / "reports" / month
    estimates_path = store.write_file(folder / "estimates.parquet", store.ESTIMATES, estimates)
    callers = frequent_callers(census, month, min_calls=frequent_min_calls)
    callers_path = store.write_file(
        folder / "frequent_callers.parquet", store.FREQUENT_CALLERS, callers
    )
    first = str(pd.Period(month, freq="M") - (TREND_MONTHS - 1))
    history = {
        m: store.read_file(out / "reports" / m / "estimates.parquet", store.ESTIMATES)
        for m in report_months(out, first, month)
        if m != month
    }
    random = scorecards[scorecards["sample_kind"] == "random"]
    nights = int(scorecards["call_date"].nunique())
    page = _render_html(
        month=month,
        estimates=estimates,
        callers=callers,
        nights=nights,
        n_random=len(random),
        n_targeted=int((scorecards["sample_kind"] != "random").sum()),
        calls_in_log=int((census["direction"] == "inbound").sum()),
        trends=trend_table({**history, month: estimates}, until=month),
        names=vocabulary.metric_labels(),
    )
    html_path = folder / "report.html"
    tmp = folder / ".report.html.tmp"
    try:
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(html_path)
    except OSError as exc:
        raise StoreError(f"cannot write {html_path}: {exc.strerror} (check the folder)") from exc
    population = int(
        estimates.loc[
            (estimates["metric"] == "avoidable_rate") & (estimates["group"] == "all"), "population"
        ].sum()
    )
    return MonthlyReport(
        month, folder, estimates_path, callers_path, html_path, nights, len(random), population
    )


# -- HTML --------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return "–" if pd.isna(value) else f"{value * 100:.1f}%"


def _change(value: float) -> str:
    if pd.isna(value):
        return "–"
    return f"{value * 100:+.1f} pts"


def _label(metric: str, names: Mapping[str, str]) -> str:
    """A metric's words: the vocabulary's label (`names`), else a fixed one."""
    if metric in names:
        return names[metric]
    _, _, name = metric.partition(":")
    pretty = {
        "avoidable_rate": "Avoidable contact",
        "complaint_rate": "Complaints",
        "transferred_rate": "Transferred",
        "repeat_caller_rate": "Repeat callers",
    }
    return pretty.get(metric, name.replace("_", " ").capitalize() if name else metric)


def _table(
    rows: pd.DataFrame,
    first: str,
    corrected: pd.DataFrame | None = None,
    *,
    caption: str,
    names: Mapping[str, str],
) -> str:
    """Estimates as a table; with `corrected` (indexed by metric), the corrected rate beside."""
    with_corrected = corrected is not None and not corrected.empty and first == "metric"

    def extra(metric: str) -> str:
        if not with_corrected:
            return ""
        if metric not in corrected.index:
            return "<td>-</td><td>-</td>"
        c = corrected.loc[metric]
        return (
            f"<td>{_pct(c.estimate)} ({_pct(c.ci_low)} to {_pct(c.ci_high)})</td>"
            f"<td>{int(c.n_reviewed)}</td>"
        )

    def name(r: Any) -> str:
        return _label(r.metric, names) if first == "metric" else str(r.group).split(":", 1)[-1]

    body = "".join(
        f"<tr><th scope='row'>{html.escape(name(r))}</th>"
        f"<td>{_pct(r.estimate)}</td><td>{_pct(r.ci_low)} to {_pct(r.ci_high)}</td>"
        f"{extra(r.metric)}<td>{_change(r.change)}</td><td>{r.n_sampled}</td></tr>"
        for r in rows.itertuples()
    )
    head = "Measure" if first == "metric" else "Group"
    corrected_head = (
        "<th scope='col'>Corrected for tagging errors (95% interval)</th>"
        "<th scope='col'>Reviewed calls</th>"
        if with_corrected
        else ""
    )
    return (
        f"<table><caption>{html.escape(caption)}</caption><thead><tr><th scope='col'>{head}</th>"
        "<th scope='col'>As tagged</th><th scope='col'>95% interval</th>"
        f"{corrected_head}<th scope='col'>Change from last month</th>"
        "<th scope='col'>Calls sampled</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _score(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:+.2f}"


def _sentiment_section(rows: pd.DataFrame) -> str:
    """The caller's mean sentiment at the start and end of calls, on VADER's -1..+1 scale."""
    rows = rows.set_index("metric").reindex(list(SENTIMENT_PARTS)).dropna(subset=["estimate"])
    body = "".join(
        f"<tr><th scope='row'>{html.escape(SENTIMENT_PARTS[metric])}</th>"
        f"<td>{_score(r.estimate)}</td>"
        f"<td>{_score(r.ci_low)} to {_score(r.ci_high)}</td><td>{_score(r.change)}</td>"
        f"<td>{int(r.n_sampled)}</td></tr>"
        for metric, r in rows.iterrows()
    )
    return (
        "<h2>How callers sounded</h2><p>The words callers used, scored from -1 (very negative) "
        "to +1 (very positive) by VADER, a word list built for conversation; 0 is neutral. "
        "Only what callers said is scored, never the agent. Most callers say thank you before "
        "they ring off, which lifts the closing score on its own: the gap between opening and "
        "closing says more when compared month to month than read on its own.</p>"
        "<table><caption>Caller sentiment this month</caption><thead><tr>"
        "<th scope='col'>Part of the call</th><th scope='col'>Mean score</th>"
        "<th scope='col'>95% interval</th><th scope='col'>Change from last month</th>"
        "<th scope='col'>Calls</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _bars(rows: pd.DataFrame, labels: list[str], title: str, chart_id: str) -> str:
    """A bar chart of this month's estimates, each with its 95% interval as a whisker."""
    points = [
        ChartPoint(label, float(r.estimate), float(r.ci_low), float(r.ci_high))
        for label, r in zip(labels, rows.itertuples(), strict=True)
    ]
    return f"<figure>{bar_chart(points, title=title, chart_id=chart_id)}</figure>"


def _trend_section(trends: TrendTable, names: Mapping[str, str]) -> str:
    """Every whole-month measure across the months with a report, as charts and tables."""
    heading = "<h2>Month by month</h2>"
    if len(trends.months) < 2:
        return heading + "<p>Trends appear here once there is more than one month's report.</p>"
    parts = [
        heading,
        f"<p>Each measure from {month_label(trends.months[0])} to "
        f"{month_label(trends.months[-1])}, as tagged, with its 95% interval. A month with no "
        "estimate (no report, or no calls to count) is left as a gap, not shown as zero. "
        "Caller sentiment is a mean score from -1 to +1, not a percentage.</p>",
    ]
    for title, charts in trend_charts(trends, lambda metric: _label(metric, names)):
        parts.append(f"<h3>{html.escape(title)}</h3>")
        parts.extend(
            f"<h4>{html.escape(c.name)}</h4><figure>{c.svg}</figure>{c.table}" for c in charts
        )
    return "".join(parts)


def _render_html(
    *,
    month: str,
    estimates: pd.DataFrame,
    callers: pd.DataFrame,
    nights: int,
    n_random: int,
    n_targeted: int,
    calls_in_log: int,
    trends: TrendTable,
    names: Mapping[str, str],
) -> str:
    # `calls_in_log` counts inbound calls: the repeat-caller rate's denominator.
    """The report page: plain words, charts as inline SVG (pipeline/charts.py) each followed
    by its table, no scripts, nothing fetched."""
    is_corrected = estimates["method"] == CORRECTION_METHOD
    overall = estimates[(estimates["group"] == "all") & ~is_corrected].set_index("metric")
    corrected = estimates[is_corrected].set_index("metric")

    def pick(prefix: str) -> pd.DataFrame:
        return overall[overall.index.str.startswith(prefix)].reset_index()

    reasons = pick("reason:").sort_values("estimate", ascending=False)
    reasons = reasons[reasons["estimate"] > 0]
    categories = pick("avoidable_category:")
    qa = pick("qa:")
    families = pick("tags:")
    by_queue = estimates[
        (estimates["metric"] == "avoidable_rate") & estimates["group"].str.startswith("queue:")
    ].sort_values("estimate", ascending=False)
    headline = pick("avoidable_rate")
    avoidable = headline.iloc[0] if not headline.empty else None
    sections = []
    if avoidable is not None:
        sections.append(
            f"<p class='lead'>About <strong>{_pct(avoidable.estimate)}</strong> of calls were "
            f"avoidable (95% confidence interval {_pct(avoidable.ci_low)} to "
            f"{_pct(avoidable.ci_high)}; change from last month {_change(avoidable.change)}).</p>"
        )
    if "avoidable_rate" in corrected.index:
        fixed = corrected.loc["avoidable_rate"]
        sections.append(
            f"<p>Corrected for the tagger's mistakes, measured on the {int(fixed.n_reviewed)} "
            f"sampled calls that quality leads reviewed: <strong>{_pct(fixed.estimate)}</strong> "
            f"(95% interval {_pct(fixed.ci_low)} to {_pct(fixed.ci_high)}; the interval "
            "includes the uncertainty in the tagger's error rates).</p>"
        )
    key = (
        overall.reindex(
            ["avoidable_rate", "complaint_rate", "transferred_rate", "repeat_caller_rate"]
        )
        .dropna(subset=["estimate"])
        .reset_index()
    )
    sections.append(
        "<h2>Headline measures</h2>"
        + _table(key, "metric", corrected, caption="Headline measures this month", names=names)
    )
    if not reasons.empty:
        title = "Main reason for the call"
        sections.append(
            "<h2>Why people called</h2>"
            + _bars(reasons, [_label(m, names) for m in reasons["metric"]], title, "reasons")
            + _table(reasons, "metric", corrected, caption=title, names=names)
        )
    if not categories.empty:
        title = "Avoidable contact by type, as a share of all calls"
        sections.append(
            "<h2>Avoidable contact by type (NI14)</h2>"
            + _bars(
                categories, [_label(m, names) for m in categories["metric"]], title, "categories"
            )
            + _table(categories, "metric", corrected, caption=title, names=names)
        )
    if not by_queue.empty:
        title = "Avoidable share of each queue's calls"
        sections.append(
            "<h2>Avoidable contact by phone queue</h2>"
            + _bars(by_queue, [g.split(":", 1)[1] for g in by_queue["group"]], title, "queues")
            + _table(by_queue, "group", caption=title, names=names)
        )
    if not qa.empty:
        title = "Calls passing each quality check"
        sections.append(
            "<h2>Call quality checks</h2>"
            + _bars(qa, [_label(m, names) for m in qa["metric"]], title, "qa")
            + _table(qa, "metric", corrected, caption=title, names=names)
        )
    if not families.empty:
        title = "Calls with each of the council's own flags"
        sections.append(
            "<h2>The council's own flags</h2>"
            + _bars(families, [_label(m, names) for m in families["metric"]], title, "tags")
            + _table(families, "metric", corrected, caption=title, names=names)
        )
    sentiment = pick("mean:")
    if not sentiment.empty:
        sections.append(_sentiment_section(sentiment))
    if callers.empty:
        sections.append("<h2>Frequent callers</h2><p>No caller rang often enough to list.</p>")
    else:
        rows = "".join(
            f"<tr><th scope='row'>{html.escape(str(c.caller))}</th><td>{c.calls}</td>"
            f"<td>{html.escape(', '.join(map(str, c.queues)))}</td></tr>"
            for c in callers.itertuples()
        )
        sections.append(
            "<h2>Frequent callers</h2><p>Callers are numbered, not named: the number means "
            "nothing outside this table.</p><table><caption>Callers who rang most often"
            "</caption><thead><tr><th scope='col'>Caller</th><th scope='col'>Calls</th>"
            f"<th scope='col'>Queues</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    sections.append(_trend_section(trends, names))
    method = (
        f"<h2>How these figures were made</h2><p>Every night a random sample of recorded calls was "
        f"listened to by the screening software: {n_random} random calls over {nights} night(s) "
        f"this month ({n_targeted} more were picked on purpose for review and are left out of "
        "these figures). Each sampled call stands for the calls like it that night, so the "
        "figures estimate all calls, not only those listened to. The interval shows how sure "
        "we can be: with 95% confidence the true figure lies inside it. The repeat-caller rate "
        f"counts every one of the {calls_in_log} calls in the call log, so it has no interval.</p>"
    )
    style = (
        "body{font-family:Arial,Helvetica,sans-serif;max-width:56rem;margin:2rem auto;"
        "padding:0 1rem;color:#0b0c0c;line-height:1.45}h1{font-size:1.8rem}"
        "h2{margin-top:2.2rem;border-bottom:2px solid #1d70b8}.lead{font-size:1.2rem}"
        "table{border-collapse:collapse;margin:1rem 0;width:100%}"
        "th,td{border-bottom:1px solid #b1b4b6;padding:.35rem .5rem;text-align:left}"
        "caption{text-align:left;font-weight:700;padding:.35rem 0}"
        "figure{margin:1rem 0}svg{max-width:100%;height:auto}"
    ) + _print_style(f"Calls to the council: {month}")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Calls to the council: {html.escape(month)}</title><style>{style}</style></head>"
        f"<body><h1>Calls to the council: {html.escape(month)}</h1>"
        + "".join(sections)
        + method
        + "</body></html>"
    )


# -- scrutiny packs ----------------------------------------------------------------------


@dataclass(frozen=True)
class ScrutinyCall:
    """One call chosen for a scrutiny pack, known in the pack only by its pseudonyms."""

    call_id: str
    call_date: date
    label: str
    page: str
    agent: str
    recording: str | None
    channel_layout: str


def choose_scrutiny_calls(
    out: Path, start: date, end: date, size: int, seed: int
) -> list[ScrutinyCall]:
    """A seeded simple random sample of the calls scored from `start` to `end` (inclusive).

    The same scorecards, period, size and seed always give the same calls. Agents are renamed
    Agent 1, 2, ... in order of first appearance in the pack; calls are Call 1, 2, ...
    """
    cards = store.read_table(out, store.SCORECARDS, start=start, end=end)
    cards = cards[cards["transcript_status"] != "unreadable"].sort_values("call_id")
    if cards.empty:
        raise StoreError(f"no scored calls from {start} to {end} under {out}: run callqa nightly")
    rng = np.random.default_rng([seed % 2**64, start.toordinal(), end.toordinal()])
    picked = cards.iloc[np.sort(rng.choice(len(cards), size=min(size, len(cards)), replace=False))]
    picked = picked.sort_values(["call_date", "call_id"]).reset_index(drop=True)
    agents: dict[str, str] = {}
    chosen = []
    for i, row in enumerate(picked.itertuples(), start=1):
        agent = agents.setdefault(str(row.agent_id), f"Agent {len(agents) + 1}")
        chosen.append(
            ScrutinyCall(
                call_id=str(row.call_id),
                call_date=row.call_date,
                label=f"Call {i}",
                page=f"call-{i:03d}.html",
                agent=agent,
                recording=None if pd.isna(row.recording) else str(row.recording),
                channel_layout=str(row.channel_layout or "agent_left"),
            )
        )
    return chosen


def _plain(name: str | None) -> str:
    return "–" if not name else name.replace("_", " ").capitalize()


def _yes(value: object) -> str:
    return "Yes" if bool(value) else "No"


def write_scrutiny_page(
    out: Path,
    recordings: Path,
    pack: Path,
    call: ScrutinyCall,
    *,
    models_dir: Path | None = None,
) -> dict[str, object]:
    """Write one call's page (and its silenced audio); returns the call's index row.

    The page holds the redacted transcript, the tags in plain words (`models_dir`'s labels) and,
    when the recording can be read, a copy of the audio with every personal-data span silenced.
    Nothing on it names the caller or the agent, nor gives the call's id or time.
    """
    from pipeline.agentnames import redact_agent_names
    from pipeline.recordings import resolve_recording
    from pipeline.redact import silence_pii_audio
    from pipeline.tagging import PIISpan
    from pipeline.transcribe import Turn, Word

    card = store.read_table(out, store.SCORECARDS, start=call.call_date, end=call.call_date)
    card = card[card["call_id"] == call.call_id].iloc[0]
    turns = store.read_table(out, store.TRANSCRIPTS, start=call.call_date, end=call.call_date)
    turns = turns[turns["call_id"] == call.call_id].sort_values("turn")
    audio_note = "<p>The recording could not be included.</p>"
    audio_name = _audio_name(call)
    # A pack written again into the same folder must not keep another call's recording.
    (pack / audio_name).unlink(missing_ok=True)
    checked = resolve_recording(recordings, call.recording)
    if checked.path is not None:
        raw = store.read_table(out, store.RESTRICTED, start=call.call_date, end=call.call_date)
        raw = raw[raw["call_id"] == call.call_id].sort_values("turn")
        spoken = [
            Turn(
                r.speaker,
                r.start_s,
                r.end_s,
                r.text,
                r.confidence,
                [Word(w["start_s"], w["end_s"], w["text"], w["probability"]) for w in r.words],
            )
            for r in raw.itertuples()
        ]
        spans = [
            PIISpan(p["type"], int(r.turn), int(p["start"]), int(p["end"]))
            for r in raw.itertuples()
            for p in r.pii
        ]
        try:
            silence_pii_audio(
                checked.path, pack / audio_name, spoken, spans, layout=call.channel_layout
            )
            audio_note = (
                f"<audio controls preload='none' src='{audio_name}'></audio>"
                "<p class='note'>Personal details found in the call are silenced.</p>"
            )
        except CallQAError:
            pass
    who = {"agent": call.agent, "caller": "Caller"}
    # "My name is Sam" beside "Agent 1" would undo the pseudonym: spoken names go too.
    lines = "".join(
        f"<tr><th>{html.escape(who.get(r.speaker, 'Speaker'))}</th>"
        f"<td>{html.escape(redact_agent_names(str(r.text)))}</td></tr>"
        for r in turns.itertuples()
    )
    vocabulary = load_vocabulary(models_dir)
    names = vocabulary.metric_labels()
    checks = _map_value(card["qa_checks"])
    qa = "".join(
        f"<li>{html.escape(c.label)}: "
        f"{_yes(card[c.id] if c.id in card.index else checks.get(c.id))}</li>"
        for c in vocabulary.checks
    )
    flags = "".join(
        f"<li>{html.escape(names.get(f'tags:{family}:{t}', _plain(t)))}</li>"
        for family, ids in _map_value(card["tags"]).items()
        for t in _ids(ids)
    )

    def reason(r: str | None) -> str:
        return names.get(f"reason:{r}", _plain(r))

    reasons = ", ".join(reason(r) for r in card["contact_reasons"])
    category = names.get(
        f"avoidable_category:{card['avoidable_category']}", _plain(card["avoidable_category"])
    )
    facts = (
        f"<li>Date: {call.call_date}</li><li>Phone queue: {html.escape(_plain(card['queue']))}</li>"
        f"<li>Main reason: {html.escape(reason(card['primary_reason']))}</li>"
        f"<li>All reasons: {html.escape(reasons)}</li>"
        f"<li>Avoidable contact: {_yes(card['avoidable'])}"
        + (f" ({html.escape(category)})" if card["avoidable"] else "")
        + f"</li><li>Complaint: {_yes(card['complaint'])}</li>"
        f"<li>Transferred: {_yes(card['transferred'])}</li>"
        f"<li>Quality score: {card['qa_score']:.0f} out of 100</li>"
        + (f"<li>Flags: <ul>{flags}</ul></li>" if flags else "")
    )
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{call.label}</title><style>{_PACK_STYLE}{_print_style(call.label)}</style>"
        "</head><body>"
        f"<p><a href='index.html'>All calls</a></p><h1>{call.label}</h1>"
        f"<p>Answered by {html.escape(call.agent)}.</p>{audio_note}"
        f"<h2>About the call</h2><ul>{facts}</ul><h2>Quality checks</h2><ul>{qa}</ul>"
        "<h2>What was said</h2><p class='note'>Personal details are replaced by their kind, "
        f"e.g. [POSTCODE].</p><table>{lines}</table></body></html>"
    )
    _write_text(pack / call.page, page)
    return {
        "call": call.label,
        "date": call.call_date.isoformat(),
        "agent": call.agent,
        "queue": _plain(card["queue"]),
        "main_reason": _plain(card["primary_reason"]),
        "avoidable": _yes(card["avoidable"]),
        "complaint": _yes(card["complaint"]),
        "quality_score": round(float(card["qa_score"])),
        "page": call.page,
    }


def _audio_name(call: ScrutinyCall) -> str:
    """The silenced recording's file name in the pack: the page's, as .opus."""
    return call.page.removesuffix(".html") + ".opus"


def write_scrutiny_manifest(pack: Path, calls: Sequence[ScrutinyCall]) -> Path:
    """`pack.parquet`: each call's id with its page and silenced recording (file names in the
    pack; `audio` is null where the recording could not be included), for the review app."""
    rows = [
        {
            "call_id": call.call_id,
            "page": call.page,
            "audio": _audio_name(call) if (pack / _audio_name(call)).is_file() else None,
        }
        for call in calls
    ]
    return store.write_file(pack / store.PACK_FILE, store.SCRUTINY_PACK, rows)


def _print_style(title: str) -> str:
    """Print rules for a standalone page ("Save as PDF" in a browser): `title` at the top of
    every page, pages numbered, table rows, figures and headings never split from what follows,
    links as text with outside addresses spelt out."""
    # Only letters, digits and a few marks as they are: nothing can end the <style> or the string.
    quoted = "".join(c if c.isalnum() or c in " -:,." else f"\\{ord(c):x} " for c in title)
    return (
        "@media print{@page{size:A4;margin:16mm 14mm 16mm;"
        f'@top-left{{content:"{quoted}";font-size:9pt;color:#505a5f}}'
        '@bottom-right{content:"Page " counter(page) " of " counter(pages);font-size:9pt;'
        "color:#505a5f}}body{max-width:none;margin:0;padding:0;font-size:10.5pt}"
        "thead{display:table-header-group}tr,figure,svg{break-inside:avoid}"
        "h1,h2,caption{break-after:avoid}a{color:#0b0c0c;text-decoration:none}"
        'a[href^="http"]::after{content:" (" attr(href) ")"}}'
    )


_PACK_STYLE = (
    "body{font-family:Arial,Helvetica,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.45}table{border-collapse:collapse;width:100%}th,td{text-align:left;"
    "vertical-align:top;border-bottom:1px solid #b1b4b6;padding:.35rem .5rem}.note{color:#505a5f}"
)


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror} (check the folder)") from exc


def write_scrutiny_index(
    pack: Path, rows: Sequence[Mapping[str, object]], *, start: date, end: date
) -> Path:
    """`index.html` and `index.csv` of a pack (CSV cells never start a spreadsheet formula)."""
    frame = pd.DataFrame(list(rows))
    _write_text(pack / "index.csv", frame.map(store.safe_csv_cell).to_csv(index=False))
    body = "".join(
        f"<tr><td><a href='{html.escape(str(r['page']))}'>{html.escape(str(r['call']))}</a></td>"
        f"<td>{r['date']}</td><td>{html.escape(str(r['agent']))}</td>"
        f"<td>{html.escape(str(r['queue']))}</td><td>{html.escape(str(r['main_reason']))}</td>"
        f"<td>{r['avoidable']}</td><td>{r['complaint']}</td><td>{r['quality_score']}</td></tr>"
        for r in rows
    )
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Scrutiny sample"
        f"</title><style>{_PACK_STYLE}{_print_style(f'Scrutiny sample, {start} to {end}')}"
        f"</style></head><body><h1>Random sample of calls, {start} "
        f"to {end}</h1><p>{len(rows)} calls picked at random from those screened. Callers are "
        "not named and agents are numbered; personal details are removed from the text and "
        "silenced in the audio.</p><table><thead><tr><th>Call</th><th>Date</th><th>Agent</th>"
        "<th>Queue</th><th>Main reason</th><th>Avoidable</th><th>Complaint</th>"
        f"<th>Quality score</th></tr></thead><tbody>{body}</tbody></table></body></html>"
    )
    _write_text(pack / "index.html", page)
    return pack / "index.html"
