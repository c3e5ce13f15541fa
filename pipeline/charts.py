"""Accessible charts as inline SVG, each meant to be followed by its table.

Pure functions from estimates to markup, shared by the monthly report
(pipeline/report/render.py) and the review app's pages: no web framework, no drawing library.
The markup is built with `xml.etree.ElementTree`, which escapes every label and attribute, so a
label can never become markup. Each chart:

- is `<svg role="img" aria-labelledby="<id>-title <id>-desc">` with a `<title>` and a `<desc>`
  that reads every value out, for screen readers;
- writes its words (labels, values, axis ticks) as `<text>`, never as drawn shapes, so they can
  be read, searched, translated and zoomed;
- draws each 95% interval as a whisker; a point whose interval is unknown has none;
- leaves a gap, marked "No data", where a point has no estimate: never a zero.

Colours are SVG presentation attributes, not `style`: a page's Content-Security-Policy
(style-src 'self') does not apply to them, and the chart looks the same in the report (a single
offline file) and in the app. `estimate_table` writes the table that goes after each chart.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ChartPoint",
    "Scale",
    "bar_chart",
    "estimate_table",
    "format_interval",
    "format_value",
    "trend_chart",
]

#: "percent": a proportion 0..1 shown as a whole percentage; "score": a mean on -1..+1.
Scale = Literal["percent", "score"]

_INK = "#0b0c0c"
_SECONDARY = "#505a5f"
_BLUE = "#1d70b8"
_GRID = "#d9dadb"
_FONT = "14"
_SMALL = "12"
#: Above this many points a trend chart labels every k-th month and drops the value labels,
#: which would overlap; the table beneath has every value.
_MAX_LABELLED = 12
_NO_DATA = "No data"


@dataclass(frozen=True)
class ChartPoint:
    """One month of a trend or one bar: an estimate with its 95% interval and sample size.

    `estimate` None is a gap (no estimate that month), drawn and read out as "No data".
    """

    label: str
    estimate: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None


def _known(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def format_value(value: float | None, scale: Scale = "percent") -> str:
    """0.314 -> "31%"; a score 0.12 -> "+0.12"; unknown -> "–"."""
    if value is None or not _known(value):
        return "–"
    return f"{value * 100:.0f}%" if scale == "percent" else f"{value:+.2f}"


def format_interval(point: ChartPoint, scale: Scale = "percent") -> str:
    """The point's 95% interval: "27%–35%", "-0.10 to +0.20", or "–" when unknown."""
    if not (_known(point.ci_low) and _known(point.ci_high)):
        return "–"
    low, high = format_value(point.ci_low, scale), format_value(point.ci_high, scale)
    # An en dash between signed scores would read as a minus sign.
    return f"{low}–{high}" if scale == "percent" else f"{low} to {high}"


def _describe(point: ChartPoint, scale: Scale) -> str:
    if not _known(point.estimate):
        return f"{point.label}: no data"
    text = f"{point.label}: {format_value(point.estimate, scale)}"
    interval = format_interval(point, scale)
    if interval != "–":
        text += f" (95% interval {interval})"
    if point.n is not None:
        text += f", {point.n} calls"
    return text


def _axis(points: Sequence[ChartPoint], scale: Scale) -> tuple[float, float, list[float]]:
    """A y (or x) range with round ticks that holds every estimate and interval."""
    values = [
        v for p in points for v in (p.estimate, p.ci_low, p.ci_high) if v is not None and _known(v)
    ]
    if scale == "percent":
        top = max(values, default=0.0)
        for step in (0.02, 0.05, 0.1, 0.2, 0.25):
            if top <= 5 * step:
                break
        high = min(max(math.ceil(round(top / step, 9)) * step, step), 1.0)
        ticks = [i * step for i in range(round(high / step) + 1)]
        return 0.0, ticks[-1], ticks
    low_v, high_v = min(values, default=0.0), max(values, default=0.0)
    for step in (0.05, 0.1, 0.2, 0.25, 0.5):
        if high_v - low_v <= 4 * step:
            break
    low = max(math.floor(round(low_v / step, 9)) * step, -1.0)
    high = min(math.ceil(round(high_v / step, 9)) * step, 1.0)
    if high <= low:
        low, high = max(low - step, -1.0), min(high + step, 1.0)
    count = round((high - low) / step)
    return low, high, [low + i * step for i in range(count + 1)]


def _num(value: float) -> str:
    return f"{value:.1f}"


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(
        parent, tag, {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
    )
    if text is not None:
        node.text = text
    return node


def _svg(chart_id: str, title: str, desc: str, width: int, height: int) -> ET.Element:
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {width} {height}",
            "width": str(width),
            "height": str(height),
            "role": "img",
            "aria-labelledby": f"{chart_id}-title {chart_id}-desc",
            "class": "chart__svg",
            "font-family": "Arial, Helvetica, sans-serif",
        },
    )
    _el(svg, "title", title, id=f"{chart_id}-title")
    _el(svg, "desc", desc, id=f"{chart_id}-desc")
    return svg


def _text(parent: ET.Element, x: float, y: float, text: str, **attrs: str) -> None:
    attrs.setdefault("font_size", _FONT)
    attrs.setdefault("fill", _INK)
    _el(parent, "text", text, x=_num(x), y=_num(y), **attrs)


def _line(parent: ET.Element, x1: float, y1: float, x2: float, y2: float, **attrs: str) -> None:
    attrs.setdefault("stroke", _INK)
    attrs.setdefault("stroke_width", "2")
    _el(parent, "line", x1=_num(x1), y1=_num(y1), x2=_num(x2), y2=_num(y2), **attrs)


def _serialise(svg: ET.Element) -> str:
    return ET.tostring(svg, encoding="unicode")


def _has_interval(point: ChartPoint) -> bool:
    """Whether the point has an interval wide enough to draw as a whisker."""
    return (
        point.ci_low is not None
        and point.ci_high is not None
        and _known(point.ci_low)
        and _known(point.ci_high)
        and point.ci_high > point.ci_low
    )


@dataclass(frozen=True)
class _TrendFrame:
    """Where a trend chart's months (x) and values (y) fall: each month is a band of the plot."""

    left: float
    top: float
    plot_w: float
    plot_h: float
    low: float
    high: float
    months: int

    def x(self, i: int) -> float:
        return self.left + self.plot_w / max(self.months, 1) * (i + 0.5)

    def y(self, value: float) -> float:
        return self.top + self.plot_h * (1 - (value - self.low) / ((self.high - self.low) or 1.0))


def _trend_labels(svg: ET.Element, points: Sequence[ChartPoint], frame: _TrendFrame) -> None:
    """Month labels under the axis (every k-th when there are many), and "No data" at gaps."""
    every = max(1, math.ceil(len(points) / _MAX_LABELLED))
    baseline = frame.top + frame.plot_h
    for i, point in enumerate(points):
        if i % every == 0:
            _text(svg, frame.x(i), baseline + 22, point.label, text_anchor="middle")
        if not _known(point.estimate) and len(points) <= _MAX_LABELLED:
            _text(
                svg,
                frame.x(i),
                baseline - 8,
                _NO_DATA,
                text_anchor="middle",
                font_size=_SMALL,
                fill=_SECONDARY,
            )


def _trend_lines(svg: ET.Element, points: Sequence[ChartPoint], frame: _TrendFrame) -> None:
    """One polyline per run of consecutive months with an estimate: a gap breaks the line."""
    run: list[str] = []
    for i, point in [*enumerate(points), (len(points), ChartPoint("", None))]:
        if point.estimate is not None and _known(point.estimate):
            run.append(f"{_num(frame.x(i))},{_num(frame.y(point.estimate))}")
            continue
        if len(run) > 1:
            _el(
                svg,
                "polyline",
                points=" ".join(run),
                fill="none",
                stroke=_BLUE,
                stroke_width="3",
                class_="chart__line",
            )
        run = []


def _trend_marks(
    svg: ET.Element, points: Sequence[ChartPoint], frame: _TrendFrame, scale: Scale
) -> None:
    """A dot per estimate with its interval as a whisker and, unless crowded, its value."""
    for i, point in enumerate(points):
        if point.estimate is None or not _known(point.estimate):
            continue
        x, y = frame.x(i), frame.y(point.estimate)
        if _has_interval(point):
            y_low, y_high = frame.y(point.ci_low), frame.y(point.ci_high)
            _line(svg, x, y_low, x, y_high, class_="chart__ci")
            _line(svg, x - 6, y_low, x + 6, y_low, class_="chart__ci")
            _line(svg, x - 6, y_high, x + 6, y_high, class_="chart__ci")
        dot = _el(svg, "circle", cx=_num(x), cy=_num(y), r="5", fill=_BLUE, class_="chart__dot")
        _el(dot, "title", _describe(point, scale))
        if len(points) <= _MAX_LABELLED:
            above = (
                frame.y(point.ci_high) if point.ci_high is not None and _known(point.ci_high) else y
            )
            _text(
                svg,
                x + 9,
                max(min(y, above) - 6, 12),
                format_value(point.estimate, scale),
                font_weight="bold",
                class_="chart__value",
            )


def trend_chart(
    points: Sequence[ChartPoint], *, title: str, chart_id: str, scale: Scale = "percent"
) -> str:
    """A line over months, oldest first: a dot per estimate, its interval as a whisker, and a
    break in the line (with "No data" under it) at a month without an estimate.

    `chart_id` must be unique in the page: the title's and description's ids derive from it.
    """
    width, height = 640, 250
    left, right, top, bottom = 56, 16, 30, 44
    low, high, ticks = _axis(points, scale)
    frame = _TrendFrame(
        left, top, width - left - right, height - top - bottom, low, high, len(points)
    )
    span = f"{points[0].label} to {points[-1].label}" if points else "no months"
    desc = f"{title}, {span}, with 95% intervals. " + "; ".join(_describe(p, scale) for p in points)
    svg = _svg(chart_id, title, desc + ".", width, height)
    for tick in ticks:
        y = frame.y(tick)
        _line(svg, left, y, width - right, y, stroke=_GRID, stroke_width="1")
        _text(svg, left - 8, y + 4, format_value(tick, scale), text_anchor="end")
    _line(svg, left, top + frame.plot_h, width - right, top + frame.plot_h, stroke_width="1")
    _trend_labels(svg, points, frame)
    _trend_lines(svg, points, frame)
    _trend_marks(svg, points, frame, scale)
    return _serialise(svg)


def bar_chart(
    points: Sequence[ChartPoint], *, title: str, chart_id: str, scale: Scale = "percent"
) -> str:
    """Horizontal bars in the given order, each with its 95% interval as a whisker and its
    value written beside it; a point without an estimate gets "No data" and no bar."""
    row_h, label_w, value_w = 32, 330, 70
    width = 760
    span_w = width - label_w - value_w
    height = len(points) * row_h + 34
    low, high, ticks = _axis(points, scale)
    desc = f"{title}, with 95% intervals. " + "; ".join(_describe(p, scale) for p in points)
    svg = _svg(chart_id, title, desc + ".", width, height)

    def x_of(value: float) -> float:
        return label_w + span_w * (value - low) / ((high - low) or 1.0)

    axis_y = len(points) * row_h + 4
    for tick in ticks:
        _line(svg, x_of(tick), 0, x_of(tick), axis_y, stroke=_GRID, stroke_width="1")
        _text(svg, x_of(tick), axis_y + 18, format_value(tick, scale), text_anchor="middle")
    zero = x_of(max(low, 0.0))
    for i, point in enumerate(points):
        y = i * row_h + 4
        _text(svg, label_w - 10, y + 18, point.label, text_anchor="end")
        if point.estimate is None or not _known(point.estimate):
            _text(svg, zero + 6, y + 18, _NO_DATA, fill=_SECONDARY, font_size=_SMALL)
            continue
        end = x_of(point.estimate)
        _el(
            svg,
            "rect",
            x=_num(min(zero, end)),
            y=str(y + 4),
            width=_num(max(abs(end - zero), 1.0)),
            height="20",
            fill=_BLUE,
            class_="chart__bar",
        )
        right_edge = max(zero, end)
        if _has_interval(point):
            x_low, x_high = x_of(point.ci_low), x_of(point.ci_high)
            _line(svg, x_low, y + 14, x_high, y + 14, class_="chart__ci")
            _line(svg, x_low, y + 8, x_low, y + 20, class_="chart__ci")
            _line(svg, x_high, y + 8, x_high, y + 20, class_="chart__ci")
            right_edge = max(right_edge, x_high)
        _text(
            svg,
            right_edge + 8,
            y + 18,
            format_value(point.estimate, scale),
            font_weight="bold",
            class_="chart__value",
        )
    _line(svg, zero, 0, zero, axis_y, stroke_width="1")
    return _serialise(svg)


def estimate_table(
    points: Sequence[ChartPoint],
    *,
    caption: str,
    first_header: str = "Month",
    n_header: str = "Calls",
    scale: Scale = "percent",
    table_class: str = "",
) -> str:
    """The chart's figures as a table: one row per point (a row header), its estimate, 95%
    interval and calls; a gap reads "No data"."""
    table = ET.Element("table", {"class": table_class} if table_class else {})
    _el(table, "caption", caption)
    head = _el(_el(table, "thead"), "tr")
    for text, numeric in (
        (first_header, False),
        ("Estimate", True),
        ("95% interval", True),
        (n_header, True),
    ):
        _el(head, "th", text, scope="col", **({"class_": "num"} if numeric else {}))
    body = _el(table, "tbody")
    for point in points:
        row = _el(body, "tr")
        _el(row, "th", point.label, scope="row")
        if point.estimate is None or not _known(point.estimate):
            _el(row, "td", _NO_DATA, class_="num")
            _el(row, "td", "–", class_="num")
        else:
            _el(row, "td", format_value(point.estimate, scale), class_="num")
            _el(row, "td", format_interval(point, scale), class_="num")
        _el(row, "td", "–" if point.n is None else f"{point.n:,}", class_="num")
    return ET.tostring(table, encoding="unicode", method="html")
