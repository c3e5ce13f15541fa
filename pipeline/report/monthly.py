"""The monthly reasons-for-contact and avoidable-contact report (recommendation 28).

`build_monthly_report` reads a month's Parquet, estimates it (pipeline/report/tables.py), adds
the change from last month and writes `<out>/reports/<month>/`: `estimates.parquet`,
`frequent_callers.parquet` and `report.html` (pipeline/report/render.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import repeats, store
from pipeline.correction import METHOD as CORRECTION_METHOD
from pipeline.errors import StoreError
from pipeline.months import month_bounds
from pipeline.report.pages import write_text
from pipeline.report.render import render_report
from pipeline.report.tables import frequent_callers, monthly_estimates
from pipeline.reviews import reviewed_labels
from pipeline.trends import TREND_MONTHS, report_months, trend_table
from pipeline.vocabulary import load_vocabulary

__all__ = ["MonthlyReport", "build_monthly_report"]


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


def _month_bounds(month: str) -> tuple[date, date]:
    """`month_bounds`, with the error naming the option."""
    try:
        return month_bounds(month)
    except ValueError as exc:
        raise StoreError(f"--{exc}") from None


def _with_change(estimates: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """`estimates` with last month's estimate and the change from it: a corrected rate is
    compared with last month's corrected rate, a tagged one with a tagged."""
    corrected = estimates["method"] == CORRECTION_METHOD
    if previous.empty:
        estimates["previous_estimate"] = np.nan
    else:
        key = ["metric", "group", "corrected"]
        flagged = previous.assign(corrected=previous["method"] == CORRECTION_METHOD)
        lookup = flagged.set_index(key)["estimate"]
        keys = zip(estimates["metric"], estimates["group"], corrected, strict=True)
        estimates["previous_estimate"] = [lookup.get(k, np.nan) for k in keys]
    estimates["change"] = estimates["estimate"] - estimates["previous_estimate"]
    return estimates


def _history(out: Path, month: str) -> dict[str, pd.DataFrame]:
    """The estimates of the months with a report before `month`, as far back as trends go."""
    first = str(pd.Period(month, freq="M") - (TREND_MONTHS - 1))
    return {
        m: store.read_file(out / "reports" / m / "estimates.parquet", store.ESTIMATES)
        for m in report_months(out, first, month)
        if m != month
    }


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
    census = store.read_table(out, store.CENSUS, start=start, end=end)
    estimates = monthly_estimates(
        scorecards,
        store.read_table(out, store.SAMPLES, start=start, end=end),
        census,
        month=month,
        confidence_level=confidence_level,
        reviews=reviewed_labels(out),
        vocabulary=vocabulary,
    )
    previous = str(pd.Period(month, freq="M") - 1)
    estimates = _with_change(
        estimates,
        store.read_file(out / "reports" / previous / "estimates.parquet", store.ESTIMATES),
    )
    folder = out / "reports" / month
    estimates_path = store.write_file(folder / "estimates.parquet", store.ESTIMATES, estimates)
    callers = frequent_callers(census, month, min_calls=frequent_min_calls)
    callers_path = store.write_file(
        folder / "frequent_callers.parquet", store.FREQUENT_CALLERS, callers
    )
    random = scorecards[scorecards["sample_kind"] == "random"]
    nights = int(scorecards["call_date"].nunique())
    html_path = folder / "report.html"
    page = render_report(
        month=month,
        estimates=estimates,
        callers=callers,
        nights=nights,
        n_random=len(random),
        n_targeted=int((scorecards["sample_kind"] != "random").sum()),
        calls_in_log=int((census["direction"] == "inbound").sum()),
        trends=trend_table({**_history(out, month), month: estimates}, until=month),
        names=vocabulary.metric_labels(),
    )
    write_text(html_path, page)
    whole = (estimates["metric"] == "avoidable_rate") & (estimates["group"] == "all")
    population = int(estimates.loc[whole, "population"].sum())
    return MonthlyReport(
        month, folder, estimates_path, callers_path, html_path, nights, len(random), population
    )
