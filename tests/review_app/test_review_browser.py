"""Browser tests: Debian's chromium driven by Playwright against a live uvicorn server.

Each role signs in through the form; a quality lead reviews a call end to end and plays its
recording; a scrutiny member is refused restricted pages and calls outside their pack. The
SQLite run saves screenshots of the main pages to docs/screenshots/.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from browser_support import CHROMIUM, Live, browser, live, new_page, screenshot, sign_in

__all__ = ["browser", "live"]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="chromium is not installed (apt-get install chromium)"
)


@pytest.mark.parametrize(
    ("user", "landing", "heading", "pages"),
    [
        (
            "lena",
            "/queue",
            "Review queue",
            {
                "queue": "/queue",
                "agents": "/agents",
                "agent": "/agents/A101",
                "dashboard": "/dashboard",
            },
        ),
        ("sam", "/scrutiny", "Your screening samples", {"scrutiny_samples": "/scrutiny"}),
        (
            "ada",
            "/admin/users",
            "Users",
            {"admin_users": "/admin/users", "admin_packs": "/admin/packs"},
        ),
    ],
)
def test_each_role_signs_in_and_lands_on_its_start_page(
    browser, live: Live, user, landing, heading, pages
) -> None:
    page = new_page(browser, live)
    if user == "lena":
        page.goto("/login")
        screenshot(page, live, "login")
    sign_in(page, user)
    assert page.url.endswith(landing)
    assert page.get_by_role("heading", level=1).inner_text() == heading
    for name, path in pages.items():
        response = page.goto(path)
        assert response.status == 200, path
        screenshot(page, live, name)
    page.get_by_role("button", name="Sign out").click()
    assert page.url.endswith("/login")
    assert page.goto(landing).url.split("?")[0].endswith("/login")
    assert not page.csp_errors
    page.context.close()


def test_quality_lead_reviews_a_call_end_to_end_and_plays_audio(browser, live: Live) -> None:
    built = live.env.built
    page = new_page(browser, live)
    audio = []
    page.on("response", lambda r: "/audio" in r.url and audio.append(r.status))
    sign_in(page, "lena")
    target = next(c for c in built.flagged if c in built.with_audio)
    page.goto(f"/queue?queue={live.env.app.state.store.call(target)['queue']}")
    page.get_by_role("link", name=target, exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text() == f"Call {target}"
    # A timestamp seeks the recording and plays it.
    page.locator("button[data-seek]").nth(2).click()
    page.wait_for_function(
        "() => { const p = document.getElementById('player'); return p.currentTime > 0.5 && !p.paused || p.ended; }",
        timeout=10000,
    )
    assert 206 in audio
    screenshot(page, live, "call")
    page.goto(f"/calls/{target}?view=restricted")
    assert built.secrets[built.call_ids.index(target)] in page.content()
    # The review form.
    page.get_by_label("Agree").first.check()
    page.locator("#tag_complaint_disagree").check()
    page.get_by_label("Correct the main reason").select_option("benefits")
    page.get_by_label("Notes").fill("Agent handled the complaint well; routing was wrong.")
    page.get_by_role("button", name="Mark as reviewed").click()
    assert "Review saved and the call marked as reviewed." in page.content()
    assert page.locator("#tag_complaint_disagree").is_checked()
    page.goto("/queue")
    assert page.get_by_role("link", name=target, exact=True).count() == 0
    reviews = pd.read_parquet(built.out_dir / "reviews" / "reviews.parquet")
    mine = reviews[reviews["call_id"] == target].set_index("tag")
    assert not mine.loc["complaint", "agree"] and mine.loc["primary_reason", "agree"]
    assert mine["corrected_primary_reason"].iloc[0] == "benefits"
    page.goto("/dashboard")
    screenshot(page, live, "dashboard")
    assert not page.csp_errors
    page.context.close()
    admin = new_page(browser, live)
    sign_in(admin, "ada")
    admin.goto("/admin/audit")
    text = admin.content()
    assert "view_restricted" in text and "review_reviewed" in text and "play_audio" in text
    screenshot(admin, live, "admin_audit")
    admin.context.close()


def test_scrutiny_member_reads_their_pack_and_nothing_else(browser, live: Live) -> None:
    built = live.env.built
    pack = live.env.pack_id
    page = new_page(browser, live)
    sign_in(page, "sam")
    page.get_by_role("link", name="March panel").click()
    screenshot(page, live, "scrutiny_pack")
    page.get_by_role("link", name="Call 1", exact=True).click()
    assert "Personal details are silenced" in page.content()
    page.locator("button[data-seek]").first.click()
    page.wait_for_function(
        "() => document.getElementById('player').currentTime > 0.2", timeout=10000
    )
    screenshot(page, live, "scrutiny_call")
    html = page.content()
    assert not any(s in html for s in built.secrets)
    # The CSRF token is random text, so it is left out of the search for agent ids.
    page_text = re.sub(r'name="csrf_token" value="[^"]*"', "", html)
    assert not re.search(r"A[0-9]{3}", page_text)  # no agent ids
    for path in (
        "/queue",
        f"/calls/{built.pack_calls[0]}",
        f"/calls/{built.pack_calls[0]}?view=restricted",
        f"/calls/{built.with_audio[0]}/audio",
        f"/scrutiny/packs/{pack + 1}/calls/1",  # a pack not shared with them
        f"/scrutiny/packs/{pack + 1}/calls/1/audio",
        "/admin/users",
    ):
        response = page.goto(path)
        assert response.status == 403, path
        assert (
            page.get_by_role("heading", level=1).inner_text()
            == "You do not have access to this page"
        )
    screenshot(page, live, "forbidden")
    assert not page.csp_errors
    page.context.close()
