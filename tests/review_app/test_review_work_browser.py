"""Browser test of a quality lead's queue work (Chromium, SQLite only: the database side is
covered on both back ends by tests/review_app/test_review_work.py): the safeguarding banner
and its highlighted evidence, "agree with all" and save-and-next from the keyboard.

Saves docs/screenshots/call_safeguarding.png.
"""

from __future__ import annotations

import re

import pytest
from browser_support import CHROMIUM, Live, browser, live, new_page, screenshot, sign_in
from sqlalchemy import select

from review.db import Review

__all__ = ["browser", "live"]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="chromium is not installed (apt-get install chromium)"
)

FILTERS = "queue=parking&flag=complaint"


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
def test_lead_acts_on_a_safeguarding_call_and_works_down_the_queue_by_keyboard(
    browser, live: Live
) -> None:
    built = live.env.built
    page = new_page(browser, live)
    sign_in(page, "lena")
    page.goto(f"/queue?{FILTERS}")
    links = page.locator("table.table tbody tr td:first-child a")
    order = [t.strip() for t in links.all_inner_texts()]
    assert order[0] == built.safeguarding and len(order) == 3
    assert "Safeguarding" in page.locator("tr.row--safeguarding").inner_text()
    links.first.click()
    assert page.get_by_role("heading", level=1).inner_text() == f"Call {built.safeguarding}"

    # The banner names the risk and leads to the highlighted words in the transcript.
    banner = page.get_by_role("region", name="Safeguarding: the caller may be at risk")
    assert banner.is_visible() and "Child at risk" in banner.inner_text()
    screenshot(page, live, "call_safeguarding")
    banner.get_by_role("link", name=re.compile("evidence in turn")).click()
    turn = page.locator(":target")
    assert turn.get_attribute("class") and "turn--evidence" in turn.get_attribute("class")
    mark = turn.locator("mark")
    assert mark.inner_text() == "left on his own since Friday" and mark.is_visible()
    assert mark.evaluate("m => getComputedStyle(m).backgroundColor") == "rgb(255, 221, 0)"

    # Shortcuts do nothing while typing; "a" outside a text box agrees with every tag.
    agree = page.locator("input[type=radio][name^='tag_'][value='agree']")
    assert agree.count() > 5
    page.get_by_label("Safeguarding note").fill("Referred by phone, reference 4471; a")
    page.get_by_label("Notes").press("a")
    assert page.locator("input[name^='tag_']:checked").count() == 0
    page.get_by_label("Referred to the police").check()
    page.get_by_label("Use keyboard shortcuts").uncheck()  # switched off: "a" does nothing
    page.get_by_role("heading", name="Your review").click()
    page.keyboard.press("a")
    assert page.locator("input[name^='tag_']:checked").count() == 0
    page.get_by_label("Use keyboard shortcuts").check()
    page.get_by_role("heading", name="Your review").click()
    page.keyboard.press("a")
    assert all(agree.nth(i).is_checked() for i in range(agree.count()))
    assert page.locator("#shortcuts kbd").all_inner_texts() == ["a", "s", "n"]

    # "n" saves and opens the next call of the same filtered queue, then the next, then the
    # queue itself with a message at the end.
    for expected in order[1:]:
        with page.expect_navigation():
            page.keyboard.press("n")
        assert page.url.split("?")[0].endswith(f"/calls/{expected}")
        assert "This is the next call in the queue" in page.content()
        assert page.locator("input[name=queue_query]").input_value() == (
            FILTERS + "&status=to_review"
        )
        page.get_by_role("button", name="Agree with all").click()
    with page.expect_navigation():
        page.keyboard.press("n")
    assert "/queue?" in page.url and "You have reached the end of the queue." in page.content()
    # "s" marks the call as reviewed and stays on it.
    page.goto(f"/calls/{built.flagged[0]}")
    with page.expect_navigation():
        page.keyboard.press("s")
    assert "Review saved and the call marked as reviewed." in page.content()
    assert not page.csp_errors
    page.context.close()

    with live.env.app.state.sessionmaker() as db:
        reviews = {r.call_id: r for r in db.scalars(select(Review))}
    assert set(reviews) == {*order, built.flagged[0]}
    assert all(r.reviewed for r in reviews.values())
    first = reviews[built.safeguarding]
    assert first.safeguarding_action == "police" and first.notes == "a"
    assert first.tags and all(t.agree for t in first.tags)
    assert all(t.agree for r in reviews.values() for t in r.tags)
