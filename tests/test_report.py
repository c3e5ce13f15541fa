"""pipeline/report/: design-based intervals that cover the truth, and the report files."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import store
from pipeline.report.design import sample_design
from pipeline.report.estimates import weighted_proportions
from pipeline.report.monthly import build_monthly_report
from pipeline.report.render import render_report
from pipeline.report.scrutiny import write_scrutiny_index
from pipeline.tagging import QA_CHECKS
from pipeline.trends import trend_table

MONTH_START = date(2025, 3, 1)
SVG = "{http://www.w3.org/2000/svg}"


def _population(rng: np.random.Generator, nights: int, sizes: dict[str, int]) -> pd.DataFrame:
    """Every call of a synthetic month, with rates that differ by queue (the strata)."""
    rates = {"council_tax": 0.35, "waste": 0.15, "housing": 0.55}
    rows = []
    for night in range(nights):
        for queue, size in sizes.items():
            for i in range(size):
                rows.append(
                    {
                        "call_id": f"{night}-{queue}-{i}",
                        "call_date": MONTH_START + timedelta(days=night),
                        "queue": queue,
                        "team": "A" if i % 2 else "B",
                        "avoidable": bool(rng.random() < rates[queue]),
                    }
                )
    return pd.DataFrame(rows)


def _draw(pop: pd.DataFrame, per_stratum: dict[str, int], seed: int) -> pd.DataFrame:
    """A stratified simple random draw per (night, queue), with the night's weights."""
    keys = ["call_date", "queue"]
    order = pop.assign(_key=np.random.default_rng(seed).random(len(pop)))
    rank = order.groupby(keys)["_key"].rank(method="first")
    picked = order[rank <= order["queue"].map(per_stratum)].drop(columns="_key").copy()
    sizes = pop.groupby(keys)["call_id"].transform("count")[picked.index]
    n = picked["queue"].map(per_stratum)
    picked["stratum"] = picked["queue"]
    picked["stratum_population"] = sizes
    picked["inclusion_prob"] = n / sizes
    picked["weight"] = sizes / n
    return picked.reset_index(drop=True)


def _scorecards(sample: pd.DataFrame) -> pd.DataFrame:
    """Scorecard rows for a drawn sample (only the columns the estimates read matter)."""
    frame = pd.DataFrame({c: [None] * len(sample) for c in store.SCORECARDS.columns})
    for column in ("call_id", "call_date", "queue", "team", "stratum", "weight", "avoidable"):
        frame[column] = sample[column].to_numpy()
    frame["sample_kind"] = "random"
    frame["primary_reason"] = np.where(sample["queue"] == "waste", "waste_recycling", "council_tax")
    frame["avoidable_category"] = np.where(sample["avoidable"], "progress_chasing", None)
    for check in QA_CHECKS:
        frame[check] = ~sample["avoidable"].to_numpy()
    frame["complaint"] = False
    frame["transferred"] = False
    return frame


def _samples(sample: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame({c: [None] * len(sample) for c in store.SAMPLES.columns})
    for column in ("call_id", "call_date", "stratum", "stratum_population", "weight"):
        frame[column] = sample[column].to_numpy()
    frame["sample_kind"] = "random"
    return frame


def test_intervals_cover_the_true_rate_about_95_percent() -> None:
    """Many draws from one known population: ~95% of intervals hold the true rate."""
    rng = np.random.default_rng(7)
    sizes = {"council_tax": 60, "waste": 30, "housing": 12}
    per_stratum = {"council_tax": 3, "waste": 2, "housing": 1}  # housing: single-call strata
    pop = _population(rng, nights=8, sizes=sizes)
    truth_all = pop["avoidable"].mean()
    truth_team = pop.groupby("team")["avoidable"].mean()
    hits_all = hits_team = 0
    draws = 200
    for seed in range(draws):
        sample = _draw(pop, per_stratum, seed)
        design = sample_design(_scorecards(sample), _samples(sample))
        found = weighted_proportions(
            design["avoidable"].to_numpy(bool),
            design["design_weight"].to_numpy(),
            design["variance_stratum"].to_numpy(),
        )[0]
        hits_all += found.ci_low <= truth_all <= found.ci_high
        by_team = weighted_proportions(
            design["avoidable"].to_numpy(bool),
            design["design_weight"].to_numpy(),
            design["variance_stratum"].to_numpy(),
            domain=("team:" + design["team"]).to_numpy(),
        )
        hits_team += sum(
            e.ci_low <= truth_team[e.group.split(":")[1]] <= e.ci_high for e in by_team
        )
        # The weights of every draw add up to the population.
        assert found.population == len(pop)
    assert 0.91 <= hits_all / draws <= 0.99
    assert 0.91 <= hits_team / (2 * draws) <= 0.99


def test_zero_rate_gets_an_exact_interval_not_a_point() -> None:
    found = weighted_proportions(
        np.zeros(30, bool), np.full(30, 4.0), np.repeat(["a", "b", "c"], 10)
    )[0]
    assert found.estimate == 0 and found.ci_low == 0 and found.ci_high > 0.05
    assert "clopper" in found.method


def _write_month(tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """March's scorecards, manifest and census, and February's estimates (one rate only):
    (population, sample, census)."""
    rng = np.random.default_rng(3)
    pop = _population(rng, nights=3, sizes={"council_tax": 20, "waste": 10, "housing": 6})
    sample = _draw(pop, {"council_tax": 4, "waste": 3, "housing": 2}, seed=1)
    cards = _scorecards(sample)
    manifest = _samples(sample)
    census = pd.DataFrame(
        {
            "call_id": pop["call_id"],
            "call_date": pop["call_date"],
            "agent_id": "a1",
            "started_at": pd.to_datetime(pop["call_date"]).dt.tz_localize("UTC")
            + pd.to_timedelta(np.arange(len(pop)) % 600, unit="s"),
            "team": pop["team"],
            "queue": pop["queue"],
            "direction": "inbound",
            "recorded": True,
            "caller_hash": [f"h{i % 25}" for i in range(len(pop))],
            "repeat_caller": [i % 4 == 0 for i in range(len(pop))],
            "prior_calls_window": 0,
        }
    )
    for night, rows in cards.groupby("call_date"):
        store.write_partition(tmp_path, store.SCORECARDS, night, rows)
        store.write_partition(
            tmp_path, store.SAMPLES, night, manifest[manifest["call_date"] == night]
        )
        store.write_partition(tmp_path, store.CENSUS, night, census[census["call_date"] == night])
    # A previous month's table to compare against.
    previous = pd.DataFrame(
        [
            {
                "metric": "avoidable_rate",
                "group": "all",
                "estimate": 0.1,
                "ci_low": 0.05,
                "ci_high": 0.2,
                "n_sampled": 10,
                "population": 100,
                "method": "x",
                "month": "2025-02",
                "previous_estimate": None,
                "change": None,
                "n_reviewed": None,
            }
        ]
    )
    store.write_file(tmp_path / "reports" / "2025-02" / "estimates.parquet", "estimates", previous)
    return pop, sample, census


def test_report_files_change_from_last_month_and_census(tmp_path: Path) -> None:
    pop, sample, census = _write_month(tmp_path)
    built = build_monthly_report(tmp_path, "2025-03")
    estimates = pd.read_parquet(built.estimates_path)
    assert list(estimates.columns[:8]) == store.ESTIMATES.columns[:8]
    assert not estimates.duplicated(["metric", "group"]).any()
    overall = estimates.set_index(["metric", "group"])
    avoidable = overall.loc[("avoidable_rate", "all")]
    assert avoidable["ci_low"] <= avoidable["estimate"] <= avoidable["ci_high"]
    assert avoidable["n_sampled"] == len(sample) and avoidable["population"] == len(pop)
    assert avoidable["change"] == pytest.approx(avoidable["estimate"] - 0.1)
    repeat = overall.loc[("repeat_caller_rate", "all")]
    assert repeat["estimate"] == pytest.approx(census["repeat_caller"].mean())
    assert repeat["ci_low"] == repeat["ci_high"] == repeat["estimate"]
    for metric in ["complaint_rate", *(f"qa:{c}" for c in QA_CHECKS)]:
        assert (metric, "all") in overall.index
    assert ("avoidable_rate", "queue:housing") in overall.index
    assert ("avoidable_rate", "team:A") in overall.index
    # The reasons mix sums to one.
    reasons = estimates[
        estimates["metric"].str.startswith("reason:") & (estimates["group"] == "all")
    ]
    assert reasons["estimate"].sum() == pytest.approx(1.0)

    callers = pd.read_parquet(built.frequent_callers_path)
    assert callers["caller"].tolist()[:2] == ["Caller 1", "Caller 2"]
    assert not callers.astype(str).apply(lambda c: c.str.contains("h1")).any().any()

    page = built.html_path.read_text()
    assert page.count("<svg") >= 3
    # Nothing is fetched when the page is opened: no links, images or scripts from elsewhere.
    for needle in ("src=", "<link", "@import", "url(http"):
        assert needle not in page
    assert "<script" not in page and "anything else" in page
    # A re-build overwrites rather than appends.
    again = build_monthly_report(tmp_path, "2025-03")
    assert len(pd.read_parquet(again.estimates_path)) == len(estimates)


def _svgs(page: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg.*?</svg>", page, re.S)]


def test_report_charts_are_svg_text_each_followed_by_its_table(tmp_path: Path) -> None:
    _write_month(tmp_path)
    page = build_monthly_report(tmp_path, "2025-03").html_path.read_text()
    assert "<img" not in page and "<path" not in page  # no picture of text, no glyph outlines
    charts = _svgs(page)
    for svg in charts:
        assert svg.get("role") == "img"
        title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
        assert title is not None and desc is not None
        assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
        # The chart is followed by a table whose caption is the chart's title.
        after = page[page.index(f'id="{title.get("id")}"') :]
        table = after[after.index("</svg>") :][:400]
        assert re.match(r"</svg></figure><table><caption>", table), table[:80]
        assert html.unescape(re.search(r"<caption>(.*?)</caption>", table).group(1)) == title.text
    # This month's bars: the quality checks' labels and values are text.
    qa = next(s for s in charts if s.findtext(f"{SVG}title") == "Calls passing each quality check")
    texts = [t.text for t in qa.iter(f"{SVG}text")]
    assert "Greeted the caller" in texts and "Closed the call properly" in texts
    assert len(list(qa.iter(f"{SVG}rect"))) == len(QA_CHECKS)
    # Every table has a caption and headers with a scope.
    for table in re.findall(r"<table>.*?</table>", page, re.S):
        assert "<caption>" in table and "<th>" not in table and "<th scope=" in table
    # The trend section: February has only the avoidable rate, so every other line has a gap.
    estimates = pd.read_parquet(tmp_path / "reports" / "2025-03" / "estimates.parquet")
    march = estimates.set_index(["metric", "group"]).loc[("avoidable_rate", "all"), "estimate"]
    trend = next(s for s in charts if s.findtext(f"{SVG}title") == "Avoidable contact, by month")
    texts = [t.text for t in trend.iter(f"{SVG}text")]
    assert "Feb 2025" in texts and "Mar 2025" in texts and "10%" in texts
    assert f"{float(march) * 100:.0f}%" in texts
    assert len(list(trend.iter(f"{SVG}circle"))) == 2
    complaints = next(s for s in charts if s.findtext(f"{SVG}title") == "Complaints, by month")
    assert len(list(complaints.iter(f"{SVG}circle"))) == 1
    assert "No data" in [t.text for t in complaints.iter(f"{SVG}text")]
    assert "<h2>Month by month</h2>" in page


def test_a_first_month_says_trends_come_later(tmp_path: Path) -> None:
    _write_month(tmp_path)
    (tmp_path / "reports" / "2025-02" / "estimates.parquet").unlink()
    page = build_monthly_report(tmp_path, "2025-03").html_path.read_text()
    assert "Trends appear here once there is more than one month" in page
    assert ", by month" not in page


def test_pages_escape_what_they_show(tmp_path: Path) -> None:
    """Words from the vocabulary or the scorecards are text on the page, never markup."""
    _write_month(tmp_path)
    built = build_monthly_report(tmp_path, "2025-03")
    estimates = pd.read_parquet(built.estimates_path)
    hostile = "<script>alert(1)</script> & co"
    page = render_report(
        month="2025-03",
        estimates=estimates,
        callers=pd.read_parquet(built.frequent_callers_path),
        nights=3,
        n_random=10,
        n_targeted=0,
        calls_in_log=100,
        trends=trend_table({"2025-03": estimates}),
        names={f"qa:{check}": hostile for check in QA_CHECKS},
    )
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    row = {
        "call": "Call 1",
        "date": "2025-03-01",
        "agent": "Agent 1",
        "queue": hostile,
        "main_reason": "Waste",
        "avoidable": "No",
        "complaint": "No",
        "quality_score": 90,
        "page": "call-001.html",
    }
    index = write_scrutiny_index(tmp_path, [row], start=MONTH_START, end=MONTH_START)
    text = index.read_text(encoding="utf-8")
    assert "<script" not in text and "&lt;script&gt;" in text
    # The print header's title is a CSS string: nothing in it can end the string or the style.
    assert '@top-left{content:"Scrutiny sample, 2025-03-01 to 2025-03-01"' in text
