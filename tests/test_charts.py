"""pipeline/charts.py and pipeline/trends.py: accessible SVG charts, their tables, and months
lined up with gaps where there is no estimate."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from pipeline.charts import ChartPoint, bar_chart, estimate_table, trend_chart
from pipeline.trends import trend_points, trend_table

SVG = "{http://www.w3.org/2000/svg}"

MONTHS = [
    ChartPoint("Jan 2025", 0.30, 0.25, 0.36, 40),
    ChartPoint("Feb 2025", None),
    ChartPoint("Mar 2025", 0.34, 0.29, 0.40, 42),
    ChartPoint("Apr 2025", 0.28, 0.22, 0.33, 41),
]


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_trend_chart_is_labelled_text_with_a_gap_for_a_missing_month() -> None:
    root = _parse(trend_chart(MONTHS, title="Avoidable contact, by month", chart_id="avoid"))
    # Named for assistive technology by its own title and description.
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "avoid-title avoid-desc"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and title.get("id") == "avoid-title"
    assert title.text == "Avoidable contact, by month"
    assert desc is not None and desc.get("id") == "avoid-desc"
    assert "Feb 2025: no data" in (desc.text or "")
    assert "Mar 2025: 34% (95% interval 29%–40%), 42 calls" in (desc.text or "")
    texts = _texts(root)
    # Every month is labelled as text, and each estimate's value is written out.
    for label in ("Jan 2025", "Feb 2025", "Mar 2025", "Apr 2025", "30%", "34%", "28%"):
        assert label in texts
    assert texts.count("No data") == 1
    # A dot and a whisker (one line and two caps) per month with an estimate, none for the gap.
    dots = list(root.iter(f"{SVG}circle"))
    assert len(dots) == 3
    assert len([ln for ln in root.iter(f"{SVG}line") if ln.get("class") == "chart__ci"]) == 9
    # The gap breaks the line: Jan stands alone, Mar-Apr are joined; never a dot at zero.
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 1 and len(lines[0].get("points", "").split()) == 2
    baseline = max(float(d.get("cy", 0)) for d in dots)
    axis_zero = next(t for t in root.iter(f"{SVG}text") if t.text == "0%")
    assert baseline < float(axis_zero.get("y", 0)) - 10


def test_trend_chart_positions_follow_the_values() -> None:
    root = _parse(trend_chart(MONTHS, title="t", chart_id="c"))
    ys = [float(d.get("cy", 0)) for d in root.iter(f"{SVG}circle")]
    # SVG y grows downwards: the highest estimate (Mar, 34%) is the highest dot.
    assert ys[1] < ys[0] < ys[2]
    xs = [float(d.get("cx", 0)) for d in root.iter(f"{SVG}circle")]
    assert xs == sorted(xs)


def test_labels_are_escaped_never_markup() -> None:
    hostile = [ChartPoint("<script>alert(1)</script> & co", 0.5, 0.4, 0.6, 10)]
    svg = bar_chart(hostile, title="A </title><script>x</script>", chart_id="h")
    root = _parse(svg)
    assert "<script>" not in svg
    assert "<script>alert(1)</script> & co" in _texts(root)
    table = estimate_table(hostile, caption="<b>caption</b>")
    assert "<b>" not in table and "&lt;b&gt;caption&lt;/b&gt;" in table


def test_bar_chart_draws_one_bar_per_estimate_and_says_no_data_for_a_gap() -> None:
    points = [
        ChartPoint("Greeted the caller", 0.72, 0.48, 0.88, 11),
        ChartPoint("Gave their name", None),
        ChartPoint("Closed the call properly", 1.0, 0.72, 1.0, 11),
    ]
    root = _parse(bar_chart(points, title="Checks", chart_id="checks"))
    texts = _texts(root)
    assert {"Greeted the caller", "Gave their name", "Closed the call properly"} <= set(texts)
    assert "72%" in texts and "100%" in texts and texts.count("No data") == 1
    bars = list(root.iter(f"{SVG}rect"))
    assert len(bars) == 2
    # The longer bar is the larger share.
    assert float(bars[1].get("width", 0)) > float(bars[0].get("width", 0))


def test_estimate_table_has_a_caption_headers_with_scope_and_a_row_per_month() -> None:
    table = ET.fromstring(estimate_table(MONTHS, caption="Avoidable contact, by month"))
    caption = table.find("caption")
    assert caption is not None and caption.text == "Avoidable contact, by month"
    heads = table.findall("thead/tr/th")
    assert [h.text for h in heads] == ["Month", "Estimate", "95% interval", "Calls"]
    assert {h.get("scope") for h in heads} == {"col"}
    rows = table.findall("tbody/tr")
    assert [r.findtext("th") for r in rows] == [p.label for p in MONTHS]
    assert [r.find("th[@scope='row']") is not None for r in rows] == [True] * len(MONTHS)
    cells = [[td.text for td in r.findall("td")] for r in rows]
    assert cells[0] == ["30%", "25%–36%", "40"]
    assert cells[1] == ["No data", "–", "–"]


def test_scores_are_signed_and_their_interval_reads_with_to() -> None:
    points = [
        ChartPoint("Jan 2025", -0.12, -0.3, 0.05, 30),
        ChartPoint("Feb 2025", 0.2, 0.1, 0.3, 31),
    ]
    root = _parse(trend_chart(points, title="Sentiment", chart_id="s", scale="score"))
    texts = _texts(root)
    assert "-0.12" in texts and "+0.20" in texts
    table = ET.fromstring(estimate_table(points, caption="Sentiment", scale="score"))
    assert table.findall("tbody/tr")[0].findall("td")[1].text == "-0.30 to +0.05"


def _estimates(rows: list[tuple[str, float]], method: str = "taylor") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "metric": metric,
                "group": "all",
                "estimate": value,
                "ci_low": value - 0.05,
                "ci_high": value + 0.05,
                "n_sampled": 50,
                "population": 1000,
                "method": method,
            }
            for metric, value in rows
        ]
    )


def test_trend_table_lines_up_calendar_months_and_leaves_gaps() -> None:
    by_month = {
        "2024-12": _estimates([("avoidable_rate", 0.3), ("reason:council_tax", 0.0)]),
        # No report for 2025-01.
        "2025-02": _estimates([("avoidable_rate", 0.32), ("qa:greeting", 0.9)]),
        "2025-03": pd.concat(
            [
                _estimates([("avoidable_rate", 0.35), ("qa:greeting", 0.92)]),
                # The rate corrected for tagging errors is another measure: not in the trend.
                _estimates([("avoidable_rate", 0.5)], method="double_sampling"),
            ]
        ),
        "2025-04": _estimates([("avoidable_rate", 0.99)]),  # after `until`
    }
    trends = trend_table(by_month, until="2025-03")
    assert trends.months == ("2024-12", "2025-01", "2025-02", "2025-03")
    points = trend_points(trends, "avoidable_rate")
    assert [p.label for p in points] == ["Dec 2024", "Jan 2025", "Feb 2025", "Mar 2025"]
    assert [p.estimate for p in points] == [0.3, None, 0.32, 0.35]
    assert points[0].n == 50 and points[0].ci_low == pytest.approx(0.25)
    assert [p.estimate for p in trend_points(trends, "qa:greeting")] == [None, None, 0.9, 0.92]
    # A reason never above zero has nothing to show; empty sections are left out.
    assert trends.sections() == [
        ("Avoidable contact", ["avoidable_rate"]),
        ("Call quality checks", ["qa:greeting"]),
    ]
    # At most `limit` months, the newest.
    assert trend_table(by_month, limit=2).months == ("2025-03", "2025-04")
    assert trend_table({}).months == ()


def test_a_long_trend_labels_every_other_month_and_leaves_values_to_the_table() -> None:
    months = [ChartPoint(f"M{i}", None if i == 3 else 0.1 + i / 100, None, None) for i in range(14)]
    root = _parse(trend_chart(months, title="Long", chart_id="long"))
    texts = _texts(root)
    # Above 12 months every second month is labelled, and values and "No data" would crowd.
    assert [t for t in texts if t.startswith("M")] == [f"M{i}" for i in range(0, 14, 2)]
    values = [t for t in root.iter(f"{SVG}text") if t.get("class") == "chart__value"]
    assert "No data" not in texts and values == []
    assert len(list(root.iter(f"{SVG}circle"))) == 13
    # The gap at M3 splits the line in two.
    assert len(list(root.iter(f"{SVG}polyline"))) == 2
