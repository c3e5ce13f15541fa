"""What every browser test shares: Debian's chromium driven by Playwright, a live uvicorn
server over a built output folder (module-scoped, SQLite and PostgreSQL), signing in, and the
screenshots saved to docs/screenshots/ from the SQLite run.

A test module imports the fixtures it uses: `from browser_support import browser, live`
(or `sqlite_live`, the same app on SQLite only).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from builder import build_output
from review_helpers import PASSWORD, Env, make_env

__all__ = [
    "CHROMIUM",
    "Live",
    "browser",
    "live",
    "new_page",
    "screenshot",
    "sign_in",
    "sqlite_live",
]

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


def _serve(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, backend: str
) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("live")
    built = build_output(root)
    if backend == "sqlite":
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
    yield Live(base=f"http://127.0.0.1:{port}", env=env, backend=backend)
    server.should_exit = True
    thread.join(10)
    env.app.state.engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """The app on each database back end."""
    yield from _serve(request, tmp_path_factory, request.param)


@pytest.fixture(scope="module")
def sqlite_live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """The app on SQLite only, for pages whose behaviour does not depend on the database."""
    yield from _serve(request, tmp_path_factory, "sqlite")


def new_page(browser, live: Live):
    context = browser.new_context(base_url=live.base, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.csp_errors = []
    page.on(
        "console", lambda m: "Content Security Policy" in m.text and page.csp_errors.append(m.text)
    )
    return page


def sign_in(page, name: str) -> None:
    page.goto("/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def screenshot(page, live: Live, name: str) -> None:
    if live.backend == "sqlite":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
