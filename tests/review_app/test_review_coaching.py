"""The trends page and the coaching pages, over HTTP on both databases.

Expected figures come from what the builder wrote (its Parquet files, read with pandas) and
from statsmodels, never from the app's own functions.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
from builder import PREVIOUS_MONTH, build_output
from review_helpers import Env, csrf_of, make_env
from sqlalchemy import select
from statsmodels.stats.proportion import proportion_confint

from pipeline import store
from review.db import AuditEntry, CoachingEntry
from review.labels import QA_CHECKS

SVG = "{http://www.w3.org/2000/svg}"


def _audits(env: Env, action: str) -> list[AuditEntry]:
    with env.app.state.sessionmaker() as db:
        return list(
            db.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


def _charts(page: str) -> dict[str, tuple[ET.Element, ET.Element]]:
    """Each chart on the page by its title, with the table that follows it."""
    found = {}
    for match in re.finditer(r"(<svg.*?</svg>)\s*</figure>\s*(<table.*?</table>)", page, re.S):
        svg, table = ET.fromstring(match.group(1)), ET.fromstring(match.group(2))
        found[svg.findtext(f"{SVG}title") or ""] = (svg, table)
    return found


def _rows(table: ET.Element) -> dict[str, list[str]]:
    return {
        (r.findtext("th") or ""): [td.text or "" for td in r.findall("td")]
        for r in table.findall("tbody/tr")
    }


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def test_trends_show_every_month_with_intervals_and_gaps(env: Env) -> None:
    out = env.built.out_dir
    # A report from December and none for January: the calendar has a gap month.
    february = store.read_file(
        out / "reports" / PREVIOUS_MONTH / "estimates.parquet", store.ESTIMATES
    )
    december = february.assign(month="2024-12", estimate=0.2, ci_low=0.15, ci_high=0.25)
    store.write_file(out / "reports" / "2024-12" / "estimates.parquet", store.ESTIMATES, december)
    tables = {
        m: pd.read_parquet(out / "reports" / m / "estimates.parquet").set_index("metric")
        for m in ("2024-12", PREVIOUS_MONTH, env.built.month)
    }
    for name in ("lena", "sam", "ada"):  # every role, like the monthly figures
        page = env.client(name).get("/trends")
        assert page.status_code == 200, name
        assert 'href="/trends"' in page.text
    charts = _charts(page.text)
    months = ["Dec 2024", "Jan 2025", "Feb 2025", "Mar 2025"]
    svg, table = charts["Avoidable contact, by month"]
    assert svg.get("role") == "img"
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert all(m in texts for m in months) and "No data" in texts
    assert len(list(svg.iter(f"{SVG}circle"))) == 3
    assert table.findtext("caption") == "Avoidable contact, by month"
    rows = _rows(table)
    assert list(rows) == months
    assert rows["Jan 2025"][0] == "No data"
    for month, label in (("2024-12", "Dec 2024"), ("2025-02", "Feb 2025"), ("2025-03", "Mar 2025")):
        row = tables[month].loc["avoidable_rate"]
        row = row[row["group"] == "all"].iloc[0] if isinstance(row, pd.DataFrame) else row
        assert rows[label] == [
            _pct(row["estimate"]),
            f"{_pct(row['ci_low'])}–{_pct(row['ci_high'])}",
            str(row["n_sampled"]),
        ]
    # February (and December, its copy) have no estimate for this category: gaps, not zeros.
    svg, table = charts["Could have been done online, by month"]
    assert [r[0] for r in _rows(table).values()] == ["No data", "No data", "No data", "6%"]
    assert len(list(svg.iter(f"{SVG}circle"))) == 1
    # Sentiment (a mean, signed) is only in December and February's tables.
    svg, table = charts["Caller sentiment, whole call, by month"]
    sentiment = tables[PREVIOUS_MONTH].loc["mean:caller_sentiment", "estimate"]
    assert _rows(table)["Feb 2025"][0] == f"{sentiment:+.2f}"
    assert _rows(table)["Mar 2025"][0] == "No data"
    for title in (
        "Greeted the caller, by month",
        "Complaints, by month",
        "Repeat callers, by month",
    ):
        assert title in charts
    assert len(_audits(env, "view_trends")) == 3


def test_trends_page_without_reports(tmp_path: Path, db_url: str) -> None:
    built = build_output(tmp_path, n_calls=6, days=1, audio=False)
    for folder in (built.out_dir / "reports").iterdir():
        (folder / "estimates.parquet").unlink()
    env = make_env(built, db_url)
    try:
        page = env.client("lena").get("/trends")
        assert page.status_code == 200 and "No monthly report has been produced yet" in page.text
    finally:
        env.app.state.engine.dispose()


def _wilson(values: pd.Series) -> tuple[int, int, str, bool]:
    """(passed, calls, "72% (48%–88%, 11 calls)", too few to judge?) by statsmodels."""
    n, k = len(values), int(values.sum())
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    calls = "1 call" if n == 1 else f"{n} calls"
    text = f"{_pct(k / n)} ({_pct(low)}–{_pct(high)}, {calls})"
    return k, n, text, n < 10 or high - low > 0.40


def _check_row(page: str, label: str) -> str:
    """The agent page's quality-check table row for one check, as text."""
    table = page[page.index("Quality checks passed by agent") : page.index("Quality over time")]
    for head, cells in re.findall(r'<th scope="row">(.*?)</th>(.*?)</tr>', table, re.S):
        if html.unescape(head) == label:
            return html.unescape(re.sub(r"<[^>]+>", "", cells))
    raise AssertionError(f"no row for {label!r}")


def _scorecards(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "scorecards")


def test_agent_rates_carry_wilson_intervals_and_small_n_warnings(env: Env) -> None:
    cards = _scorecards(env.built.out_dir)
    lena = env.client("lena")
    listing = html.unescape(re.sub(r"<[^>]+>", "", lena.get("/agents").text))
    for agent_id, group in cards.groupby("agent_id"):
        page = lena.get(f"/agents/{agent_id}").text
        assert "Too few calls to judge" in page
        for check, label in QA_CHECKS.items():
            k, n, text, too_few = _wilson(group[check].astype(bool))
            row = _check_row(page, label)
            assert text in row, (agent_id, check, row)
            assert ("Too few calls to judge" in row) == too_few
            assert f"{k} done" in row and f"{n - k} not done" in row
            # The agents list shows the same interval (its calls are in their own column).
            assert text.split(",")[0] + ")" in listing


def test_enough_calls_drop_the_warning(tmp_path: Path, db_url: str) -> None:
    built = build_output(tmp_path, n_calls=150, days=3, audio=False)
    env = make_env(built, db_url)
    try:
        cards = _scorecards(built.out_dir)
        lena = env.client("lena")
        judged = []
        for agent_id, group in cards.groupby("agent_id"):
            page = lena.get(f"/agents/{agent_id}").text
            for check, label in QA_CHECKS.items():
                _k, _n, text, too_few = _wilson(group[check].astype(bool))
                row = _check_row(page, label)
                assert text in row
                assert ("Too few calls to judge" in row) == too_few, (agent_id, check, row)
                judged.append(too_few)
        assert not all(judged)  # ~30 calls an agent: most figures can be judged
    finally:
        env.app.state.engine.dispose()


def _listed_calls(page: str) -> list[str]:
    """The call ids in the agent page's calls table."""
    section = page[page.index('id="calls"') : page.index("Review notes on this agent")]
    return re.findall(r'href="/calls/([^"]+)"', section)


def test_each_rate_links_to_the_calls_behind_it(env: Env) -> None:
    cards = _scorecards(env.built.out_dir)
    mine = cards[cards["agent_id"] == "A102"]
    lena = env.client("lena")
    page = lena.get("/agents/A102").text
    for check in QA_CHECKS:
        for result, want in (("pass", True), ("fail", False)):
            link = f"/agents/A102?check={check}&amp;result={result}#calls"
            assert link in page
            listed = lena.get(html.unescape(link).split("#")[0]).text
            expected = mine[mine[check].astype(bool) == want]["call_id"]
            assert sorted(_listed_calls(listed)) == sorted(expected)
    every = _listed_calls(lena.get("/agents/A102?check=greeting").text)
    assert sorted(every) == sorted(mine["call_id"])


def test_review_notes_on_the_agents_calls_are_listed(env: Env) -> None:
    cards = _scorecards(env.built.out_dir)
    a102 = cards[cards["agent_id"] == "A102"]["call_id"].tolist()
    a203 = cards[cards["agent_id"] == "A203"]["call_id"].tolist()
    lena = env.client("lena")
    for call_id, notes in (
        (a102[0], "Talked over the caller at the start."),
        (a102[1], "Good <b>empathy</b>; missed the ID check."),
        (a203[0], "Not A102's call."),
    ):
        form = {"csrf_token": csrf_of(lena, f"/calls/{call_id}"), "action": "save", "notes": notes}
        assert lena.post(f"/calls/{call_id}/review", data=form).status_code == 303
    page = lena.get("/agents/A102").text
    notes = page[page.index("Review notes on this agent") : page.index('id="coaching"')]
    assert "Talked over the caller at the start." in notes
    assert "Good &lt;b&gt;empathy&lt;/b&gt;; missed the ID check." in notes
    assert "Not A102" not in notes
    # Newest first.
    assert notes.index("missed the ID check") < notes.index("Talked over the caller")


def test_coaching_log_create_acknowledge_audit_and_scope(env: Env) -> None:
    from review.users import set_scope

    lena = env.client("lena")
    token = csrf_of(lena, "/agents/A102")
    for held_on, discussed in (
        ("2026-11-20", "Greeting: say the service name first."),
        ("2026-11-27", "Identity checks before <account> details."),
    ):
        response = lena.post(
            "/agents/A102/coaching",
            data={
                "csrf_token": token,
                "held_on": held_on,
                "discussed": discussed,
                "agreed_actions": "Listen back to two calls together.",
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/agents/A102?saved=coaching#coaching"
    page = lena.get("/agents/A102").text
    log = page[page.index('id="coaching"') :]
    # Newest conversation first, escaped, not yet acknowledged.
    assert log.index("27 Nov 2026") < log.index("20 Nov 2026")
    assert "Identity checks before &lt;account&gt; details." in log
    assert log.count("Record acknowledgement") == 2
    with env.app.state.sessionmaker() as db:
        entries = {e.held_on.isoformat(): e for e in db.scalars(select(CoachingEntry))}
    assert {e.author for e in entries.values()} == {"lena"}
    assert not any(e.acknowledged for e in entries.values())
    first = entries["2026-11-20"]
    response = lena.post(
        f"/agents/A102/coaching/{first.id}/acknowledge", data={"csrf_token": token}
    )
    assert response.status_code == 303
    with env.app.state.sessionmaker() as db:
        acknowledged = db.get(CoachingEntry, first.id)
        assert acknowledged is not None and acknowledged.acknowledged
        assert acknowledged.acknowledged_at is not None
    log = lena.get("/agents/A102").text.split('id="coaching"')[1]
    assert log.count("Record acknowledgement") == 1 and "Yes, on " in log
    # Every write is audited, naming the agent and the entry.
    assert [(a.user_name, a.target) for a in _audits(env, "coaching_entry")] == [
        ("lena", "A102"),
        ("lena", "A102"),
    ]
    acks = _audits(env, "coaching_acknowledged")
    assert [(a.target, a.detail) for a in acks] == [("A102", f"entry {first.id}")]
    # Bad input is refused and nothing is written.
    for bad in (
        {"held_on": "2026-11-20", "discussed": "   "},
        {"held_on": "2999-01-01", "discussed": "From the future."},
        {"held_on": "yesterday", "discussed": "No date."},
        {"held_on": "2026-11-20", "discussed": "x" * 5001},
    ):
        assert (
            lena.post("/agents/A102/coaching", data={"csrf_token": token, **bad}).status_code == 400
        )
    # An entry of another agent cannot be acknowledged through this one.
    assert (
        lena.post(
            f"/agents/A101/coaching/{first.id}/acknowledge", data={"csrf_token": token}
        ).status_code
        == 404
    )
    # A lead scoped to the Green team may not coach a Blue agent (403, audited), nor
    # acknowledge their entries; the Green agent is theirs to coach.
    set_scope(env.db_url, "lena", ["team:Green"])
    lena = env.client("lena")
    token = csrf_of(lena, "/agents/A203")
    refused = lena.post(
        "/agents/A102/coaching",
        data={"csrf_token": token, "held_on": "2026-11-28", "discussed": "Out of scope."},
    )
    assert refused.status_code == 403
    second = entries["2026-11-27"]
    assert (
        lena.post(
            f"/agents/A102/coaching/{second.id}/acknowledge", data={"csrf_token": token}
        ).status_code
        == 403
    )
    assert (
        lena.post(
            "/agents/A203/coaching",
            data={"csrf_token": token, "held_on": "2026-11-28", "discussed": "In scope."},
        ).status_code
        == 303
    )
    with env.app.state.sessionmaker() as db:
        rows = list(db.scalars(select(CoachingEntry)))
        untouched = db.get(CoachingEntry, second.id)
        assert len(rows) == 3 and untouched is not None and not untouched.acknowledged
    assert len(_audits(env, "refused")) >= 2
    assert len(_audits(env, "coaching_entry")) == 3
