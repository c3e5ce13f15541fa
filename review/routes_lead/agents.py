"""Agents for a quality lead: every agent's rates (`/agents`), one agent's page with the calls
behind each figure, and its coaching log (new entries, acknowledgements)."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from pipeline.charts import ChartPoint, bar_chart
from pipeline.vocabulary import DESIGN_IDS
from review.coaching import (
    MAX_INTERVAL_WIDTH,
    MAX_TEXT,
    MIN_CALLS,
    Rate,
    coaching_log,
    parse_held_on,
    rate_of,
    review_notes,
)
from review.db import CoachingEntry, utcnow
from review.labels import QA_CHECKS
from review.routes_lead.scope import scoped
from review.tables import FormatQuery, page_action, table_response
from review.web import (
    DbSession,
    LeadViewer,
    PostedForm,
    Viewer,
    audit_by,
    now,
    render,
    store,
    today,
)

__all__ = ["AGENT_CALLS", "router"]

router = APIRouter()

#: Calls listed on an agent's page, newest first (the figures above them use all calls).
AGENT_CALLS = 25
# docs/design.md's checks, one column each (a council's own are in the `qa_checks` map).
_AGENT_COLUMNS = (
    "call_id",
    "call_date",
    "primary_reason",
    "flags",
    "qa_score",
    *DESIGN_IDS["checks"],
)
#: The calls behind a check's rate on an agent's page: those where it was done, or not.
_RESULTS = {"pass": "done", "fail": "not done"}
#: What the rates' warnings say "too few calls to judge" from (the interval as points).
_JUDGING = {"min_calls": MIN_CALLS, "max_width": round(MAX_INTERVAL_WIDTH * 100)}


def _check_rates(calls: pd.DataFrame) -> dict[str, Rate]:
    """Each QA check's pass rate over `calls` (the checks they were scored on)."""
    return {c: rate_of(calls[c]) for c in QA_CHECKS if c in calls}


def _team(calls: pd.DataFrame) -> str | None:
    """The team of an agent's latest call that has one."""
    return calls["team"].dropna().iloc[-1] if calls["team"].notna().any() else None


def _agent_rows(calls: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per agent: their calls, flags, mean QA score and each check's rate."""
    rows = []
    if calls.empty:
        return rows
    for agent_id, group in calls.groupby("agent_id", sort=True):
        rows.append(
            {
                "agent_id": agent_id,
                "team": _team(group),
                "calls": len(group),
                "flagged": int(group["needs_review"].sum()),
                "qa_score": float(group["qa_score"].mean()) if "qa_score" in group else math.nan,
                "check_rates": _check_rates(group),
                "last": str(group["call_date"].max()),
            }
        )
    return rows


def _agents_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The agents page's table: one row per agent, each check's pass rate as a column."""
    ratios = [f"{c}_ratio" for c in QA_CHECKS]
    return pd.DataFrame(
        [
            {
                "agent_id": r["agent_id"],
                "team": r["team"],
                "calls": r["calls"],
                "flagged": r["flagged"],
                "qa_score": r["qa_score"],
                **{
                    f"{c}_ratio": r["check_rates"][c].estimate if c in r["check_rates"] else None
                    for c in QA_CHECKS
                },
                "last_screened": r["last"],
            }
            for r in rows
        ],
        columns=["agent_id", "team", "calls", "flagged", "qa_score", *ratios, "last_screened"],
    )


@router.get("/agents")
def agents(request: Request, viewer: LeadViewer, db: DbSession, fmt: FormatQuery = "") -> Response:
    calls = scoped(viewer, store(request).calls())
    audit_by(db, request, viewer, page_action("agents", fmt), "", fmt)
    rows = _agent_rows(calls)
    if fmt:
        return table_response(_agents_table(rows), f"agents-{today(request)}", fmt)
    return render(request, "agents.html", {"rows": rows, **_JUDGING})


def _newest_first(calls: pd.DataFrame) -> pd.DataFrame:
    """An agent's calls as their page lists them: its columns, newest first."""
    table = calls[[c for c in _AGENT_COLUMNS if c in calls.columns]]
    return table.sort_values(["call_date", "call_id"], ascending=[False, True])


def _periods(calls: pd.DataFrame) -> tuple[str, list[dict[str, Any]]]:
    """("week" or "day", each period's calls, mean QA score and check rates): weeks once
    there are enough of them to show a trend, days before that."""
    dates = pd.to_datetime(calls["call_date"])
    period = "week" if (dates.max() - dates.min()).days > 21 else "day"
    buckets = dates.dt.to_period("W-SUN").dt.start_time if period == "week" else dates
    return period, [
        {
            "week": start.strftime("%d %b %Y"),
            "calls": len(group),
            "qa_score": float(group["qa_score"].mean()),
            "check_rates": _check_rates(group),
        }
        for start, group in calls.groupby(buckets, sort=True)
    ]


def _behind(calls: pd.DataFrame, check: str, result: str) -> pd.DataFrame:
    """The calls behind one figure: a check's passes or fails (all calls without a check)."""
    if not check:
        return calls
    passed = calls[check].astype(bool)
    return calls[passed] if result == "pass" else calls[~passed] if result == "fail" else calls


def _check_chart(agent_id: str, check_rates: dict[str, Rate]) -> Markup:
    return Markup(
        bar_chart(
            [
                ChartPoint(QA_CHECKS[c], r.estimate, r.ci_low, r.ci_high, r.n)
                for c, r in check_rates.items()
            ],
            title=f"Quality checks passed by agent {agent_id}",
            chart_id="agent-checks",
        )
    )


@router.get("/agents/{agent_id}")
def agent_page(
    request: Request,
    agent_id: str,
    viewer: LeadViewer,
    db: DbSession,
    fmt: FormatQuery = "",
    check: str = "",
    result: str = "",
    saved: str = "",
) -> Response:
    calls = scoped(viewer, store(request).calls())
    mine = calls[calls["agent_id"] == agent_id] if not calls.empty else calls
    audit_by(db, request, viewer, page_action("agent", fmt), agent_id, fmt)
    if mine.empty:
        raise HTTPException(404, "No screened calls for that agent.")
    if fmt:  # all of the agent's calls, not only the latest the page lists
        return table_response(_newest_first(mine), f"agent-{agent_id}-{today(request)}", fmt)
    period, weeks = _periods(mine)
    check_rates = _check_rates(mine)
    # The calls behind one figure: a check's passes or fails (unknown filters show them all).
    check = check if check in check_rates else ""
    result = result if check and result in _RESULTS else ""
    listed = _newest_first(_behind(mine, check, result))
    return render(
        request,
        "agent.html",
        {
            "agent_id": agent_id,
            "team": _team(mine),
            "weeks": weeks,
            # Every call behind a chosen figure; the latest few otherwise.
            "calls": (listed if check else listed.head(AGENT_CALLS)).to_dict("records"),
            "n_listed": len(listed),
            "check": check,
            "result": result,
            "results": _RESULTS,
            "n_calls": len(mine),
            "qa_score": float(mine["qa_score"].mean()),
            "check_rates": check_rates,
            "check_chart": _check_chart(agent_id, check_rates),
            "period": period,
            "notes": review_notes(db, mine),
            "coaching": coaching_log(db, agent_id),
            "saved": saved,
            "today": today(request),
            **_JUDGING,
            "max_text": MAX_TEXT,
        },
    )


def _coached_agent(request: Request, viewer: Viewer, agent_id: str) -> None:
    """403 unless some of the agent's calls are inside the lead's scope: a lead coaches only
    the agents whose calls they review."""
    calls = scoped(viewer, store(request).calls())
    if calls.empty or not (calls["agent_id"] == agent_id).any():
        raise HTTPException(403, "This agent's calls are outside the queues and teams you review.")


def _to_coaching(agent_id: str, saved: str) -> Response:
    """Back to the agent's coaching log, saying what was saved."""
    return RedirectResponse(f"/agents/{quote(agent_id, safe='')}?saved={saved}#coaching", 303)


@router.post("/agents/{agent_id}/coaching")
def add_coaching(
    request: Request, agent_id: str, viewer: LeadViewer, form: PostedForm, db: DbSession
) -> Response:
    """A new coaching log entry for the agent, written by this lead (audited)."""
    _coached_agent(request, viewer, agent_id)
    discussed = str(form.get("discussed", "")).strip()
    actions = str(form.get("agreed_actions", "")).strip()
    held_on = parse_held_on(str(form.get("held_on", "")), now(request).date())
    if not discussed:
        raise HTTPException(400, "Say what was discussed.")
    if held_on is None:
        raise HTTPException(400, "Give the date of the conversation (today or earlier).")
    if len(discussed) > MAX_TEXT or len(actions) > MAX_TEXT:
        raise HTTPException(400, f"Each box is limited to {MAX_TEXT:,} characters.")
    entry = CoachingEntry(
        agent_id=agent_id,
        author=viewer.name,
        held_on=held_on,
        discussed=discussed,
        agreed_actions=actions,
    )
    db.add(entry)
    db.commit()
    audit_by(db, request, viewer, "coaching_entry", agent_id, f"entry {entry.id}")
    return _to_coaching(agent_id, "coaching")


@router.post("/agents/{agent_id}/coaching/{entry_id}/acknowledge")
def acknowledge_coaching(
    request: Request,
    agent_id: str,
    entry_id: int,
    viewer: LeadViewer,
    _form: PostedForm,
    db: DbSession,
) -> Response:
    """Record that the agent has acknowledged the entry, and when (once; audited)."""
    _coached_agent(request, viewer, agent_id)
    entry = db.get(CoachingEntry, entry_id)
    if entry is None or entry.agent_id != agent_id:
        raise HTTPException(404, "There is no such coaching entry for this agent.")
    if not entry.acknowledged:
        entry.acknowledged = True
        entry.acknowledged_at = utcnow()
        db.commit()
        audit_by(db, request, viewer, "coaching_acknowledged", agent_id, f"entry {entry.id}")
    return _to_coaching(agent_id, "acknowledged")
