"""Every table page's downloads (`?format=csv`, `?format=xlsx`) on both databases: the rows the
page lists (all of its pages) or the Parquet holds, computed here from the files the builder
wrote; formula cells guarded; the page's role, scope and audit row."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from html import unescape
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from builder import BuiltOutput, copy_output
from review_helpers import Env, csrf_of
from sqlalchemy import select

from pipeline import store
from review.db import AuditEntry

#: A call id, agent and team a spreadsheet would run as formulas if written as they are.
HOSTILE_CALL = '=HYPERLINK("https://evil.example","x")'
HOSTILE_AGENT = "@SUM(1+1)"
HOSTILE_TEAM = "+cmd|' /C calc'!A0"
EXCEL = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def built(built_once: BuiltOutput, tmp_path: Path) -> BuiltOutput:
    """The usual built output plus one flagged call on its own night whose ids are formulas."""
    built = copy_output(built_once, tmp_path)
    cards = store.read_table(built.out_dir, store.SCORECARDS)
    row = cards[cards["call_id"] == built.flagged[0]].drop(columns="call_date")
    row = row.assign(call_id=HOSTILE_CALL, agent_id=HOSTILE_AGENT, team=HOSTILE_TEAM)
    night = date.fromisoformat(max(built.dates)) + timedelta(days=1)
    store.write_partition(built.out_dir, store.SCORECARDS, night, row)
    return built


def _cards(built: BuiltOutput) -> pd.DataFrame:
    cards = store.read_table(built.out_dir, store.SCORECARDS)
    cards["call_date"] = cards["call_date"].astype(str)
    return cards


def _guard(text: str) -> str:
    """What a cell holding `text` must read in a download (a spreadsheet would run it)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _download(client, path: str, fmt: str) -> tuple[pd.DataFrame, bytes]:  # type: ignore[no-untyped-def]
    sep = "&" if "?" in path else "?"
    response = client.get(f"{path}{sep}format={fmt}")
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="callqa-[A-Za-z0-9._-]+\.' + fmt + '"', disposition)
    if fmt == "csv":
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        frame = pd.read_csv(io.BytesIO(response.content), encoding="utf-8", keep_default_na=False)
    else:
        assert response.headers["content-type"] == EXCEL
        frame = pd.read_excel(io.BytesIO(response.content), keep_default_na=False)
    return frame, response.content


def _sheets(content: bytes) -> dict[str, list[tuple[object, ...]]]:
    """Every sheet's rows (header first) as openpyxl reads them."""
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return {s.title: list(s.iter_rows(values_only=True)) for s in book.worksheets}


def _page_ids(client, path: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The call ids a listing shows, page after page, in order."""
    ids: list[str] = []
    page = 1
    while True:
        html = client.get(f"{path}&page={page}").text
        ids += [
            unescape(i)
            for i in re.findall(r'<a class="link" href="/calls/[^"]+">([^<]+)</a>', html)
        ]
        if 'rel="next"' not in html:
            return ids
        page += 1


def _audits(env: Env, action: str) -> list[AuditEntry]:
    with env.app.state.sessionmaker() as db:
        return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_queue_downloads_every_page_with_the_filters(env: Env) -> None:
    lena = env.client("lena")
    cards = _cards(env.built)
    flagged = cards[cards["needs_review"].astype(bool)]
    expected = set(flagged["call_id"])
    listed = _page_ids(lena, "/queue?status=all")
    assert len(listed) > 25 and set(listed) == expected  # more than one page
    for fmt in ("csv", "xlsx"):
        frame, content = _download(lena, "/queue?status=all", fmt)
        assert list(frame["call_id"]) == [_guard(c) for c in listed]
        assert set(frame["status"]) == {"Not reviewed"}
        hostile = frame[frame["call_id"] == _guard(HOSTILE_CALL)].iloc[0]
        assert hostile["agent_id"] == _guard(HOSTILE_AGENT)
        assert hostile["team"] == _guard(HOSTILE_TEAM)
        qa = dict(zip(flagged["call_id"].map(_guard), flagged["qa_score"], strict=True))
        assert np.allclose(frame["qa_score"], frame["call_id"].map(qa))
    # openpyxl reads the same rows, the formula cells as text, never as formulas.
    rows = _sheets(content)
    (sheet,) = rows.values()
    assert sheet[0][0] == "call_id" and [r[0] for r in sheet[1:]] == [_guard(c) for c in listed]
    assert all(not str(v).startswith("=") for r in sheet for v in r if v is not None)
    # The filters of the page: one flag, one queue, and the dates.
    path = f"/queue?status=all&flag=avoidable&queue=housing&date_to={env.built.dates[1]}"
    frame, _ = _download(lena, path, "csv")
    # Unreviewed safeguarding calls stay pinned at the top of every filtered queue.
    pinned = flagged["safeguarding"].astype("boolean").fillna(False).astype(bool)
    want = flagged[
        flagged["flags"].map(lambda fs: "avoidable" in list(fs))
        & (flagged["queue"] == "housing")
        & (flagged["call_date"] <= env.built.dates[1])
        | pinned
    ]
    assert sorted(frame["call_id"]) == sorted(want["call_id"]) == sorted(_page_ids(lena, path))
    assert not want.empty
    # A lead downloads only as the page shows: the audit says which format.
    exports = _audits(env, "export_queue")
    assert len(exports) == 3 and exports[-1].user_name == "lena"
    assert "format=csv" in exports[-1].target


def test_agents_and_agent_downloads(env: Env) -> None:
    lena = env.client("lena")
    cards = _cards(env.built)
    for fmt in ("csv", "xlsx"):
        frame, _ = _download(lena, "/agents", fmt)
        by_agent = cards.groupby("agent_id")
        assert sorted(frame["agent_id"]) == sorted(_guard(a) for a in by_agent.groups)
        got = frame.set_index("agent_id")
        for agent, group in by_agent:
            row = got.loc[_guard(str(agent))]
            assert row["calls"] == len(group)
            assert row["flagged"] == int(group["needs_review"].sum())
            assert row["qa_score"] == pytest.approx(group["qa_score"].mean())
            assert row["greeting_ratio"] == pytest.approx(group["greeting"].mean())
        assert got.loc[_guard(HOSTILE_AGENT), "team"] == _guard(HOSTILE_TEAM)
        mine = cards[cards["agent_id"] == "A101"]
        frame, _ = _download(lena, "/agents/A101", fmt)
        assert sorted(frame["call_id"]) == sorted(mine["call_id"])
        assert list(frame["call_date"]) == sorted(frame["call_date"], reverse=True)
    assert len(_audits(env, "export_agents")) == 2
    assert {a.target for a in _audits(env, "export_agent")} == {"A101"}


def test_dashboard_and_estimates_downloads(env: Env) -> None:
    month = env.built.month
    estimates = pd.read_parquet(env.built.out_dir / "reports" / month / "estimates.parquet")
    sam = env.client("sam")  # every role sees the monthly figures, and downloads them
    frame, content = _download(sam, f"/dashboard?month={month}", "xlsx")
    sheets = _sheets(content)
    assert list(sheets) == [
        "Headlines",
        "Reasons for contact",
        "Avoidable by category",
        "Quality checks",
        "Avoidable by queue",
    ]
    overall = estimates[estimates["group"] == "all"]
    for sheet, prefix in (
        ("Reasons for contact", "reason:"),
        ("Avoidable by category", "avoidable_category:"),
        ("Quality checks", "qa:"),
    ):
        want = overall[overall["metric"].str.startswith(prefix)]
        got = pd.read_excel(io.BytesIO(content), sheet_name=sheet)
        assert sorted(got["metric"]) == sorted(want["metric"])
        assert list(got["estimate"]) == sorted(got["estimate"], reverse=True)
        assert np.allclose(
            got.set_index("metric")["ci_high"],
            want.set_index("metric").loc[got["metric"], "ci_high"],
        )
    queues = estimates[estimates["group"].str.startswith("queue:")]
    assert len(sheets["Avoidable by queue"]) == len(queues) + 1
    assert [r[1] for r in sheets["Headlines"][1:]] == [
        "avoidable_rate",
        "complaint_rate",
        "transferred_rate",
        "repeat_caller_rate",
    ]
    # One CSV holds every table, with a column saying which.
    frame, _ = _download(sam, f"/dashboard?month={month}", "csv")
    assert list(frame.columns[:2]) == ["table", "label"]
    assert frame.groupby("table").size()["Quality checks"] == 5
    assert len(frame) == sum(len(rows) - 1 for rows in sheets.values())
    # The estimates page: every row of the month's Parquet, as written.
    page = sam.get(f"/estimates?month={month}")
    assert page.status_code == 200 and "Download Excel" in page.text
    assert page.text.count('<th scope="row">') == len(estimates)
    for fmt in ("csv", "xlsx"):
        frame, _ = _download(sam, f"/estimates?month={month}", fmt)
        assert len(frame) == len(estimates)
        assert list(frame["metric"]) == list(estimates["metric"])
        assert np.allclose(frame["estimate"], estimates["estimate"])
    assert [a.target for a in _audits(env, "export_estimates")] == [month, month]
    assert {a.detail for a in _audits(env, "export_dashboard")} == {"csv", "xlsx"}


def test_reviews_download_what_the_parquet_holds(env: Env) -> None:
    lena = env.client("lena")
    assert "No reviews have been saved yet" in lena.get("/reviews").text
    token = csrf_of(lena, "/dashboard")
    for call, verdict in ((env.built.flagged[0], "agree"), (env.built.flagged[1], "disagree")):
        response = lena.post(
            f"/calls/{call}/review",
            data={
                "csrf_token": token,
                "action": "reviewed",
                "tag_complaint": verdict,
                "tag_primary_reason": "agree",
                "corrected_primary_reason": "=cmd",
            },
        )
        assert response.status_code == 400  # a formula is not a contact reason
        response = lena.post(
            f"/calls/{call}/review",
            data={
                "csrf_token": token,
                "action": "reviewed",
                "tag_complaint": verdict,
                "tag_primary_reason": "agree",
            },
        )
        assert response.status_code == 303
    held = pd.read_parquet(env.built.out_dir / "reviews" / "reviews.parquet")
    assert len(held) == 4
    page = lena.get("/reviews").text
    assert "4 judged tags" in page and page.count("/calls/") >= 4
    for fmt in ("csv", "xlsx"):
        frame, _ = _download(lena, "/reviews", fmt)
        assert list(frame.columns) == list(held.columns)
        key = ["call_id", "tag"]
        got = frame.sort_values(key).reset_index(drop=True)
        want = held.sort_values(key).reset_index(drop=True)
        assert list(got["call_id"]) == list(want["call_id"])
        assert [str(a) for a in got["agree"]] == [str(a) for a in want["agree"]]
        assert list(got["reviewer"]) == ["lena"] * 4
        assert pd.to_datetime(got["reviewed_at"]).tolist() == want["reviewed_at"].tolist()


@pytest.mark.parametrize(
    "path",
    ["/queue", "/agents", "/agents/A101", "/reviews"],
)
def test_lead_downloads_refused_to_others(env: Env, path: str) -> None:
    for fmt in ("csv", "xlsx"):
        for name in ("sam", "ada"):
            assert env.client(name).get(f"{path}?format={fmt}").status_code == 403
        assert env.client().get(f"{path}?format={fmt}").status_code == 303
    assert env.client("lena").get(f"{path}?format=pdf").status_code == 422
    refused = _audits(env, "refused")
    assert len(refused) == 4 and {r.user_name for r in refused} == {"sam", "ada"}
    assert not _audits(env, "export_queue")


def test_a_scoped_lead_downloads_only_their_queues(env: Env) -> None:
    from review.users import set_scope

    lena = env.client("lena")
    token = csrf_of(lena, "/dashboard")
    cards = _cards(env.built)
    housing = cards[cards["queue"] == "housing"]
    other = cards[(cards["queue"] != "housing") & cards["needs_review"].astype(bool)]
    for call in (
        housing[housing["needs_review"].astype(bool)]["call_id"].iloc[0],
        other["call_id"].iloc[0],
    ):
        data = {"csrf_token": token, "action": "reviewed", "tag_complaint": "agree"}
        assert lena.post(f"/calls/{call}/review", data=data).status_code == 303
    set_scope(env.db_url, "lena", ["queue:housing"])
    lena = env.client("lena")  # a new sign-in carries the new scope
    frame, _ = _download(lena, "/agents", "csv")
    got = frame.set_index("agent_id")["calls"].to_dict()
    assert got == {_guard(str(a)): len(g) for a, g in housing.groupby("agent_id")}
    frame, _ = _download(lena, "/reviews", "xlsx")
    assert set(frame["call_id"]) <= set(housing["call_id"]) and len(frame) == 1
    frame, _ = _download(lena, "/queue?status=all", "csv")
    queues = dict(zip(cards["call_id"].map(_guard), cards["queue"], strict=True))
    pinned = set(cards[cards["safeguarding"].astype("boolean").fillna(False)]["call_id"])
    outside = {c for c in frame["call_id"] if queues[c] != "housing"}
    assert outside <= {_guard(c) for c in pinned}  # only safeguarding calls, pinned for everyone
    assert len(frame) > len(outside)
