"""Browser test of the trends page and the coaching log (Chromium, SQLite only: neither page
behaves differently on PostgreSQL, which tests/review_app/test_review_coaching.py covers).

Saves docs/screenshots/trends.png and agent.png.
"""

from __future__ import annotations

import pytest
from browser_support import CHROMIUM, Live, browser, new_page, screenshot, sign_in, sqlite_live

__all__ = ["browser", "sqlite_live"]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="chromium is not installed (apt-get install chromium)"
)


def test_trends_page_draws_every_figure_as_text(browser, sqlite_live: Live) -> None:
    page = new_page(browser, sqlite_live)
    sign_in(page, "sam")  # a scrutiny member: the trends are for every role
    page.get_by_role("link", name="Trends").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Trends"
    chart = page.get_by_role("img", name="Avoidable contact, by month")
    assert chart.count() == 1
    # The chart's words are text a reader can find, and its table follows it.
    assert chart.locator("text", has_text="Feb 2025").count() == 1
    table = page.get_by_role("table", name="Avoidable contact, by month")
    assert table.get_by_role("rowheader").all_inner_texts() == ["Feb 2025", "Mar 2025"]
    gap = page.get_by_role("table", name="Could have been done online, by month")
    assert gap.get_by_role("row", name="Feb 2025").inner_text().split("\t")[1] == "No data"
    screenshot(page, sqlite_live, "trends")
    assert not page.csp_errors
    page.context.close()


def test_quality_lead_writes_and_acknowledges_a_coaching_entry(browser, sqlite_live: Live) -> None:
    page = new_page(browser, sqlite_live)
    sign_in(page, "lena")
    page.goto("/agents")
    page.get_by_role("link", name="A102", exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text() == "Agent A102"
    # Every rate of this agent rests on 8 calls: each one is marked as too few to judge.
    checks = page.get_by_role("table", name="Quality checks passed by agent A102")
    assert checks.get_by_text("Too few calls to judge").count() == 5
    # A number leads to the calls behind it.
    checks.get_by_role("row", name="Greeted the caller").get_by_role("link").nth(1).click()
    assert "calls behind “Greeted the caller”: not done" in page.content()
    page.get_by_label("What was discussed").fill("Greeting: say the service name first.")
    page.get_by_label("Actions agreed").fill("Listen back to two calls together next week.")
    page.get_by_role("button", name="Save to the coaching log").click()
    assert "Saved to the coaching log." in page.content()
    entry = page.locator("article.coaching").first
    assert "Greeting: say the service name first." in entry.inner_text()
    assert "Not yet" in entry.inner_text()
    entry.get_by_role("button", name="Record acknowledgement").click()
    assert "Yes, on" in page.locator("article.coaching").first.inner_text()
    screenshot(page, sqlite_live, "agent_coaching")
    assert not page.csp_errors
    page.context.close()
