"""Browser tests: Debian's chromium driven by Playwright against a live uvicorn server.

Each role signs in through the form; a quality lead reviews a call end to end and plays its
recording; a scrutiny member is refused restricted pages and calls outside their pack. The
SQLite run saves screenshots of the main pages to docs/screenshots/.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import uvicorn
from builder import build_output
from review_helpers import PASSWORD, Env, make_env

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="chromium is not installed (apt-get install chromium)"
)


@dataclass
class Live:
    base: str
    env: Env
    backend: str


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("live")
    built = build_output(root)
    if request.param == "sqlite":
        db_url = f"sqlite:///{root / 'review.sqlite'}"
    else:
        base = request.getfixturevalue("postgres_server")
        if base is None:
            pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
        import psycopg

        name = "b_" + uuid.uuid4().hex[:12]
        with psycopg.connect(base.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        db_url = f"{base}/{name}"
    env = make_env(built, db_url)
    server = uvicorn.Server(uvicorn.Config(env.app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield Live(base=f"http://127.0.0.1:{port}", env=env, backend=request.param)
    server.should_exit = True
    thread.join(10)
    env.app.state.engine.dispose()


def _page(browser, live: Live):
    context = browser.new_context(base_url=live.base, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.csp_errors = []
    page.on(
        "console", lambda m: "Content Security Policy" in m.text and page.csp_errors.append(m.text)
    )
    return page


def _sign_in(page, name: str) -> None:
    page.goto("/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def _shot(page, live: Live, name: str) -> None:
    if live.backend == "sqlite":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


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
    page = _page(browser, live)
    if user == "lena":
        page.goto("/login")
        _shot(page, live, "login")
    _sign_in(page, user)
    assert page.url.endswith(landing)
    assert page.get_by_role("heading", level=1).inner_text() == heading
    for name, path in pages.items():
        response = page.goto(path)
        assert response.status == 200, path
        _shot(page, live, name)
    page.get_by_role("button", name="Sign out").click()
    assert page.url.endswith("/login")
    assert page.goto(landing).url.split("?")[0].endswith("/login")
    assert not page.csp_errors
    page.context.close()


def test_quality_lead_reviews_a_call_end_to_end_and_plays_audio(browser, live: Live) -> None:
    built = live.env.built
    page = _page(browser, live)
    audio = []
    page.on("response", lambda r: "/audio" in r.url and audio.append(r.status))
    _sign_in(page, "lena")
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
    _shot(page, live, "call")
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
    _shot(page, live, "dashboard")
    assert not page.csp_errors
    page.context.close()
    admin = _page(browser, live)
    _sign_in(admin, "ada")
    admin.goto("/admin/audit")
    text = admin.content()
    assert "view_restricted" in text and "review_reviewed" in text and "play_audio" in text
    _shot(admin, live, "admin_audit")
    admin.context.close()


def test_scrutiny_member_reads_their_pack_and_nothing_else(browser, live: Live) -> None:
    built = live.env.built
    pack = live.env.pack_id
    page = _page(browser, live)
    _sign_in(page, "sam")
    page.get_by_role("link", name="March panel").click()
    _shot(page, live, "scrutiny_pack")
    page.get_by_role("link", name="Call 1", exact=True).click()
    assert "Personal details are silenced" in page.content()
    page.locator("button[data-seek]").first.click()
    page.wait_for_function(
        "() => document.getElementById('player').currentTime > 0.2", timeout=10000
    )
    _shot(page, live, "scrutiny_call")
    html = page.content()
    assert not any(s in html for s in built.secrets)
    assert not re.search(r"A[0-9]{3}", html)  # no agent ids
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
    _shot(page, live, "forbidden")
    assert not page.csp_errors
    page.context.close()
