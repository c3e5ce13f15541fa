"""In Chromium (SQLite only): a lead downloads the queue as CSV and the agents as Excel through
the page links, and the dashboard, the estimates and a scrutiny pack print as PDF with no
navigation or forms and the page's title and month on every page."""

from __future__ import annotations

import io
import unicodedata

import openpyxl
import pandas as pd
import pytest
from browser_support import CHROMIUM, Live, browser, new_page, sign_in, sqlite_live
from pypdf import PdfReader

__all__ = ["browser", "sqlite_live"]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="chromium is not installed (apt-get install chromium)"
)


def test_download_links_give_the_files(browser, sqlite_live: Live) -> None:  # type: ignore[no-untyped-def]
    page = new_page(browser, sqlite_live)
    sign_in(page, "lena")
    page.goto("/queue?status=all")
    total = int(page.locator("#results-heading").inner_text().split()[0])
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Download CSV").click()
    download = csv_download.value
    assert download.suggested_filename.startswith("callqa-queue-")
    assert download.suggested_filename.endswith(".csv")
    frame = pd.read_csv(download.path(), encoding="utf-8")
    assert len(frame) == total > 25  # every page of the queue, not only the one shown
    page.goto("/agents")
    with page.expect_download() as xlsx_download:
        page.get_by_role("link", name="Download Excel").click()
    download = xlsx_download.value
    assert download.suggested_filename.endswith(".xlsx")
    shown = page.locator("table.table tbody tr").count()
    book = openpyxl.load_workbook(io.BytesIO(download.path().read_bytes()), read_only=True)
    (sheet,) = book.worksheets
    assert len(list(sheet.iter_rows(values_only=True))) == shown + 1
    assert page.csp_errors == []


@pytest.mark.parametrize(
    ("user", "path"),
    [
        ("lena", "/queue?status=all"),
        ("lena", "/agents"),
        ("lena", "/agents/A101"),
        ("lena", "/reviews"),
        ("lena", "/dashboard"),
        ("sam", "/estimates?month={month}"),
    ],
)
def test_every_table_page_downloads_as_csv_and_excel(  # type: ignore[no-untyped-def]
    browser, sqlite_live: Live, user: str, path: str
) -> None:
    page = new_page(browser, sqlite_live)
    sign_in(page, user)
    if path == "/reviews":  # a review to list
        page.goto(f"/calls/{sqlite_live.env.built.flagged[0]}")
        page.get_by_role("button", name="Agree with all").click()
        page.get_by_role("button", name="Mark as reviewed").click()
    page.goto(path.format(month=sqlite_live.env.built.month))
    for link, suffix in (("Download CSV", ".csv"), ("Download Excel", ".xlsx")):
        with page.expect_download() as download:
            page.get_by_role("link", name=link).first.click()
        got = download.value
        assert got.suggested_filename.startswith("callqa-") and got.suggested_filename.endswith(
            suffix
        )
        if suffix == ".csv":
            assert list(pd.read_csv(got.path(), encoding="utf-8").columns)
        else:
            book = openpyxl.load_workbook(io.BytesIO(got.path().read_bytes()), read_only=True)
            assert next(book.worksheets[0].iter_rows(values_only=True))  # a header row
    assert page.csp_errors == []
    page.context.close()


def _pdf(page, path: str) -> list[str]:  # type: ignore[no-untyped-def]
    """`path` printed to PDF (print media, A4), as each page's text."""
    page.goto(path)
    page.emulate_media(media="print")
    try:
        assert page.locator("nav.nav").is_hidden()
        assert page.locator("header.header").is_hidden()
        assert all(not f.is_visible() for f in page.locator("main form").all())
        assert page.locator(".print-header").is_visible()
        pdf = page.pdf(format="A4")
    finally:
        page.emulate_media(media="screen")
    assert pdf.startswith(b"%PDF")
    # NFKC: the PDF's text has ligatures ("ﬁ") where the page has letters.
    return [
        unicodedata.normalize("NFKC", p.extract_text()) for p in PdfReader(io.BytesIO(pdf)).pages
    ]


def test_pages_print_for_a_committee(browser, sqlite_live: Live) -> None:  # type: ignore[no-untyped-def]
    month = sqlite_live.env.built.month
    page = new_page(browser, sqlite_live)
    sign_in(page, "lena")
    assert page.locator("nav.nav").is_visible()  # on screen the menus are there
    for path, title in (
        (f"/dashboard?month={month}", f"Monthly figures: {month}"),
        (f"/estimates?month={month}", f"Every estimate: {month}"),
    ):
        pages = _pdf(page, path)
        assert len(pages) >= 2, path
        for n, text in enumerate(pages, start=1):
            assert f"{title} · Call quality review" in text, (path, n)
            assert f"Page {n} of {len(pages)}" in text, (path, n)
        printed = "\n".join(pages)
        assert "Sign out" not in printed and "Review queue" not in printed
        assert "Download CSV" not in printed and "Show" not in printed.split()
        assert "Nightly screening" not in printed  # for IT and leads, not the committee
    # The estimates table's column headings repeat on every page.
    for text in _pdf(page, f"/estimates?month={month}"):
        assert "95% interval" in text
    member = new_page(browser, sqlite_live)
    sign_in(member, "sam")
    pages = _pdf(member, f"/scrutiny/packs/{sqlite_live.env.pack_id}")
    assert all("March panel · Call quality review" in text for text in pages)
    assert "My samples" not in "\n".join(pages)


def test_monthly_report_prints_with_its_month_on_every_page(browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The report file `callqa report` writes (opened as a file, as a councillor would)."""
    from test_report import _write_month

    from pipeline import report

    _write_month(tmp_path)
    built = report.build_monthly_report(tmp_path, "2025-03")
    page = browser.new_page()
    try:
        page.goto(built.html_path.as_uri())
        page.emulate_media(media="print")
        pdf = page.pdf(format="A4")
    finally:
        page.close()
    pages = [
        unicodedata.normalize("NFKC", p.extract_text()) for p in PdfReader(io.BytesIO(pdf)).pages
    ]
    assert len(pages) >= 2
    for n, text in enumerate(pages, start=1):
        assert "Calls to the council: 2025-03" in text, n
        assert f"Page {n} of {len(pages)}" in text, n
