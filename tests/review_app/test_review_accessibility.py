"""axe-core (the engine browsers' accessibility tools use, shipped in axe-playwright-python)
over every page each role can open, in Chromium: no serious or critical violation.

The pages come from the permissions table (test_review_permissions.py), so a new page is
checked as soon as it is listed there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from browser_support import CHROMIUM, Live, browser, new_page, sign_in, sqlite_live
from builder import build_output
from test_review_permissions import _table as route_table

from pipeline.report import build_monthly_report

__all__ = ["browser", "sqlite_live"]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="chromium is not installed (apt-get install chromium)"
)

#: Not the app's pages: audio, the health check, and the monthly report, which the pipeline
#: writes (the builder's stand-in is not one; the real report is checked below).
_NOT_PAGES = ("/audio", "/healthz", "/report")
_SERIOUS = ("serious", "critical")


def _pages(live: Live, user: str) -> list[str]:
    return [
        path
        for method, path, _, expected in route_table(live.env)
        if method == "GET"
        and expected.get(user) == 200
        and not any(part in path for part in _NOT_PAGES)
        and "format=" not in path
    ]


def _violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    found = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in _SERIOUS
    ]


@pytest.mark.parametrize("user", ["anonymous", "lena", "sam", "ada"])
def test_no_page_has_a_serious_accessibility_violation(
    browser, sqlite_live: Live, user: str
) -> None:
    live = sqlite_live
    page = new_page(browser, live)
    if user != "anonymous":
        sign_in(page, user)
    problems = {}
    pages = [*_pages(live, user), "/no-such-page"]
    for path in pages:
        page.goto(path)
        page.wait_for_load_state()
        if found := _violations(page):
            problems[path] = found
    page.context.close()
    assert len(pages) >= 2
    assert not problems, problems


def test_the_monthly_report_has_no_serious_accessibility_violation(browser, tmp_path: Path) -> None:
    # The report the pipeline writes from a built night (not the builder's stand-in), opened
    # as a document of its own: axe cannot run inside the sandbox the app serves it in.
    built = build_output(tmp_path)
    report = build_monthly_report(built.out_dir, built.month)
    page = browser.new_page()
    page.set_content(report.html_path.read_text(encoding="utf-8"))
    found = _violations(page)
    assert page.locator("svg text").count() > 0
    page.close()
    assert not found, found
