"""Quality leads: the queue of flagged calls, the call page and review form, agents' pages."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from review.data import AUDIO_TYPES, TurnRow
from review.db import Review, ReviewTag
from review.export import export_reviews
from review.labels import (
    AVOIDABLE_CATEGORIES,
    CONTACT_REASONS,
    QA_CHECKS,
    REVIEW_TAGS,
    describe_tag,
)
from review.sessions import issue_listen, use_listen
from review.web import Viewer, audit, csrf_form, get_db, in_scope, now, render, require, store

__all__ = ["AGENT_CALLS", "PAGE_SIZE", "Segment", "TurnView", "highlight_turns", "router"]

router = APIRouter()
lead = require("quality_lead")

PAGE_SIZE = 25
#: Calls listed on an agent's page, newest first (the figures above them use all calls).
AGENT_CALLS = 25
_AGENT_COLUMNS = ("call_id", "call_date", "primary_reason", "flags", "qa_score", *QA_CHECKS)
_STATUSES = {"to_review": "Not yet reviewed", "reviewed": "Reviewed", "all": "All flagged calls"}


@dataclass(frozen=True)
class Segment:
    text: str
    marked: bool


@dataclass(frozen=True)
class TurnView:
    turn: TurnRow
    segments: list[Segment]
    tags: list[str]


def _evidence(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The scorecard's `evidence` list of {tag, turn, text}, when the nightly run wrote one."""
    raw = row.get("evidence")
    if raw is None or isinstance(raw, float):
        return []
    out = []
    for item in raw:
        if isinstance(item, dict) and "tag" in item and "turn" in item:
            out.append(
                {
                    "tag": str(item["tag"]),
                    "turn": int(item["turn"]),
                    "text": str(item.get("text") or ""),
                }
            )
    return out


#: A redaction mark in evidence text, e.g. `[POSTCODE]`.
_REDACTED = re.compile(r"\[[A-Z_]+\]")


def _find_evidence(text: str, turn: str) -> tuple[int, int] | None:
    """Where the evidence text is in a turn: as it is (the redacted transcript), else in the
    unredacted one, where a mark between words stands for what it replaced and a mark at
    either end is left unmarked (its extent there is unknown)."""
    needle = text.strip()
    if not needle:
        return None
    at = turn.lower().find(needle.lower())
    if at >= 0:
        return at, at + len(needle)
    core = _REDACTED.sub("\x00", needle).strip("\x00 ")
    if not core.replace("\x00", "").strip():
        return None
    pattern = ".+?".join(re.escape(p) for p in core.split("\x00"))
    found = re.search(pattern, turn, re.IGNORECASE)
    return found.span() if found else None


def highlight_turns(turns: list[TurnRow], evidence: list[dict[str, Any]]) -> list[TurnView]:
    """Split each turn so the evidence text is marked; a turn whose evidence text is not in it
    (the transcript's words differ) is marked whole."""
    views = []
    for t in turns:
        items = [e for e in evidence if e["turn"] == t.turn]
        spans: list[tuple[int, int]] = []
        for e in items:
            spans.append(_find_evidence(e["text"], t.text) or (0, len(t.text)))
        spans.sort()
        segments: list[Segment] = []
        pos = 0
        for start, end in spans:
            start = max(start, pos)
            if end <= start:
                continue
            if start > pos:
                segments.append(Segment(t.text[pos:start], False))
            segments.append(Segment(t.text[start:end], True))
            pos = end
        if pos < len(t.text):
            segments.append(Segment(t.text[pos:], False))
        views.append(TurnView(t, segments, sorted({e["tag"] for e in items})))
    return views


def _latest_status(db: Session) -> dict[str, bool]:
    """call_id -> reviewed? of the newest review of each call."""
    newest = select(func.max(Review.id)).group_by(Review.call_id)
    return dict(
        db.execute(select(Review.call_id, Review.reviewed).where(Review.id.in_(newest))).all()
    )


@router.get("/queue")
def queue(
    request: Request,
    *,
    date_from: str = "",
    date_to: str = "",
    team: str = "",
    agent: str = "",
    queue: str = "",
    flag: str = "",
    reason: str = "",
    status: str = "to_review",
    page: int = 1,
    viewer: Annotated[Viewer, Depends(lead)],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    view = store(request).queue_view()
    reviewed = _latest_status(db)
    status = status if status in _STATUSES else "to_review"
    rows = _scoped(viewer, view.calls)
    audit(db, request, viewer.name, viewer.role, "view_queue", request.url.query[:300])
    if not rows.empty:
        mask = np.ones(len(rows), dtype=bool)
        if date_from:
            mask &= (rows["call_date"] >= date_from).to_numpy()
        if date_to:
            mask &= (rows["call_date"] <= date_to).to_numpy()
        for column, value in (("team", team), ("agent_id", agent), ("queue", queue)):
            if value and column in rows.columns:
                mask &= (rows[column] == value).to_numpy()
        if flag:
            mask &= np.fromiter((flag in fs for fs in rows["flags"]), bool, len(rows))
        if reason:
            mask &= np.fromiter((reason in rs for rs in rows["contact_reasons"]), bool, len(rows))
        if status != "all":
            want = status == "reviewed"
            mask &= (
                np.fromiter((reviewed.get(c) is True for c in rows["call_id"]), bool, len(rows))
                == want
            )
        rows = rows[mask]
    total = len(rows)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = rows.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE].to_dict("records") if total else []
    for r in shown:
        r["status"] = {True: "Reviewed", False: "In progress"}.get(
            reviewed.get(r["call_id"]), "Not reviewed"
        )
    filters = {
        "date_from": date_from,
        "date_to": date_to,
        "team": team,
        "agent": agent,
        "queue": queue,
        "flag": flag,
        "reason": reason,
        "status": status,
    }
    return render(
        request,
        "queue.html",
        {
            "rows": shown,
            "total": total,
            "page": page,
            "pages": pages,
            "filters": filters,
            "statuses": _STATUSES,
            "teams": _options(viewer, view.teams, view.calls, "team"),
            "agents": _options(viewer, view.agents, view.calls, "agent_id"),
            "queues": _options(viewer, view.queues, view.calls, "queue"),
            "flags": view.flags,
            "reasons": view.reasons,
            "query": {k: v for k, v in filters.items() if v},
        },
    )


def _machine_tags(row: dict[str, Any]) -> list[dict[str, Any]]:
    tags = []
    for tag in REVIEW_TAGS:
        if tag not in row:
            continue
        value = row[tag]
        if value is not None and not isinstance(value, bool | str):
            value = None if pd.isna(value) else str(value)
        tags.append({"tag": tag, "value": value, "text": describe_tag(tag, value)})
    return tags


def _scoped(viewer: Viewer, calls: pd.DataFrame) -> pd.DataFrame:
    """The calls inside a quality lead's scope (all of them when they have none)."""
    if not viewer.scope or calls.empty:
        return calls
    mask = np.zeros(len(calls), dtype=bool)
    for item in viewer.scope:
        kind, _, value = item.partition(":")
        if kind in ("queue", "team") and kind in calls.columns:
            mask |= (calls[kind] == value).to_numpy()
    return calls[mask]


def _options(viewer: Viewer, every: list[str], calls: pd.DataFrame, column: str) -> list[str]:
    """A queue filter's choices: all of them, or only those seen inside the lead's scope."""
    if not viewer.scope or column not in calls.columns:
        return every
    return sorted({str(v) for v in _scoped(viewer, calls)[column].dropna()})


def _call_or_404(request: Request, call_id: str, viewer: Viewer) -> dict[str, Any]:
    """The call's row; 404 for an unknown id, 403 outside the lead's scope (audited)."""
    row = store(request).call(call_id)
    if row is None:
        raise HTTPException(404, "There is no call with that id in the screening output.")
    if not in_scope(viewer, row):
        raise HTTPException(403, "This call is outside the queues and teams you review.")
    return row


@router.get("/calls/{call_id}")
def call_page(
    request: Request,
    *,
    call_id: str,
    view: str = "",
    saved: str = "",
    viewer: Annotated[Viewer, Depends(lead)],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    row = _call_or_404(request, call_id, viewer)
    restricted = view == "restricted"
    data = store(request)
    turns = data.transcript(call_id, str(row["call_date"]), restricted=restricted)
    evidence = _evidence(row)
    history = list(
        db.scalars(select(Review).where(Review.call_id == call_id).order_by(Review.id.desc()))
    )
    # Audited after the last read, before anything is shown: one database connection per
    # page (a commit hands it back, and taking another costs a round trip under load).
    audit(
        db,
        request,
        viewer.name,
        viewer.role,
        "view_restricted" if restricted else "view_call",
        call_id,
    )
    latest = history[0] if history else None
    verdicts = {t.tag: t.agree for t in latest.tags} if latest else {}
    has_audio = data.recording(call_id) is not None
    listen = (
        issue_listen(db, viewer.session, viewer.id, call_id, None, now(request))
        if has_audio
        else ""
    )
    return render(
        request,
        "call.html",
        {
            "call": row,
            "restricted": restricted,
            "turns": highlight_turns(turns, evidence),
            "evidence": evidence,
            "has_audio": has_audio,
            "listen": listen,
            "tags": _machine_tags(row),
            "latest": latest,
            "verdicts": verdicts,
            "history": history,
            "saved": saved,
            "qa_checks": [(c, QA_CHECKS[c], row.get(c)) for c in QA_CHECKS if c in row],
        },
    )


@router.get("/calls/{call_id}/audio")
def call_audio(
    request: Request,
    call_id: str,
    viewer: Annotated[Viewer, Depends(lead)],
    db: Annotated[Session, Depends(get_db)],
    listen: str = "",
) -> Response:
    """The original recording, only with a listen token the call page gave this session for
    this call; its first use is the listen's one audit row, whatever the Range headers."""
    _call_or_404(request, call_id, viewer)
    path = store(request).recording(call_id)
    if path is None:
        raise HTTPException(404, "There is no recording for this call.")
    first = use_listen(db, listen, viewer.session, viewer.id, call_id, None, now(request))
    if first is None:
        raise HTTPException(403, "Open the call's page to listen to it.")
    if first:
        audit(db, request, viewer.name, viewer.role, "play_audio", call_id)
    return FileResponse(path, media_type=AUDIO_TYPES[path.suffix.lower()])


@router.post("/calls/{call_id}/review")
def save_review(
    request: Request,
    call_id: str,
    viewer: Annotated[Viewer, Depends(lead)],
    form: Annotated[FormData, Depends(csrf_form)],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    row = _call_or_404(request, call_id, viewer)
    action = form.get("action")
    reason = str(form.get("corrected_primary_reason", ""))
    category = str(form.get("corrected_avoidable_category", ""))
    notes = str(form.get("notes", ""))
    if action not in ("save", "reviewed"):
        raise HTTPException(400, "Choose Save or Mark as reviewed.")
    if reason and reason not in CONTACT_REASONS:
        raise HTTPException(400, "That is not a contact reason.")
    if category and category != "none" and category not in AVOIDABLE_CATEGORIES:
        raise HTTPException(400, "That is not an avoidable-contact category.")
    if len(notes) > 5000:
        raise HTTPException(400, "Notes are limited to 5,000 characters.")
    review = Review(
        call_id=call_id,
        reviewer=viewer.name,
        reviewed=action == "reviewed",
        corrected_primary_reason=reason or None,
        corrected_avoidable_category=category or None,
        notes=notes,
    )
    for tag in _machine_tags(row):
        verdict = form.get(f"tag_{tag['tag']}")
        if verdict in ("agree", "disagree"):
            review.tags.append(
                ReviewTag(tag=tag["tag"], machine_value=str(tag["value"]), agree=verdict == "agree")
            )
    db.add(review)
    db.commit()
    detail = f"{len(review.tags)} tags judged" + (f"; reason -> {reason}" if reason else "")
    audit(db, request, viewer.name, viewer.role, "review_" + str(action), call_id, detail)
    export_reviews(db, store(request))
    return RedirectResponse(f"/calls/{call_id}?saved={action}", 303)


def _rate(series: pd.Series) -> float:
    return float(series.mean()) if len(series) else math.nan


@router.get("/agents")
def agents(
    request: Request,
    viewer: Annotated[Viewer, Depends(lead)],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    calls = _scoped(viewer, store(request).calls())
    audit(db, request, viewer.name, viewer.role, "view_agents")
    rows = []
    if not calls.empty:
        for agent_id, group in calls.groupby("agent_id", sort=True):
            rows.append(
                {
                    "agent_id": agent_id,
                    "team": group["team"].dropna().iloc[-1]
                    if group["team"].notna().any()
                    else None,
                    "calls": len(group),
                    "flagged": int(group["needs_review"].sum()),
                    "qa_score": float(group["qa_score"].mean())
                    if "qa_score" in group
                    else math.nan,
                    "checks": {c: _rate(group[c]) for c in QA_CHECKS if c in group},
                    "last": str(group["call_date"].max()),
                }
            )
    return render(request, "agents.html", {"rows": rows})


@router.get("/agents/{agent_id}")
def agent_page(
    request: Request,
    agent_id: str,
    viewer: Annotated[Viewer, Depends(lead)],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    calls = _scoped(viewer, store(request).calls())
    mine = calls[calls["agent_id"] == agent_id] if not calls.empty else calls
    audit(db, request, viewer.name, viewer.role, "view_agent", agent_id)
    if mine.empty:
        raise HTTPException(404, "No screened calls for that agent.")
    dates = pd.to_datetime(mine["call_date"])
    # Weeks once there are enough of them to show a trend; days before that.
    period = "week" if (dates.max() - dates.min()).days > 21 else "day"
    buckets = dates.dt.to_period("W-SUN").dt.start_time if period == "week" else dates
    weeks = []
    for start, group in mine.groupby(buckets, sort=True):
        weeks.append(
            {
                "week": start.strftime("%d %b %Y"),
                "calls": len(group),
                "qa_score": float(group["qa_score"].mean()),
                "checks": {c: _rate(group[c]) for c in QA_CHECKS if c in group},
            }
        )
    checks = {c: _rate(mine[c]) for c in QA_CHECKS if c in mine}
    check_rows = [
        {"label": QA_CHECKS[c], "estimate": v, "ci_low": v, "ci_high": v} for c, v in checks.items()
    ]
    return render(
        request,
        "agent.html",
        {
            "agent_id": agent_id,
            "team": mine["team"].dropna().iloc[-1] if mine["team"].notna().any() else None,
            "weeks": weeks,
            "calls": mine[[c for c in _AGENT_COLUMNS if c in mine.columns]]
            .sort_values("call_date", ascending=False)
            .head(AGENT_CALLS)
            .to_dict("records"),
            "n_calls": len(mine),
            "qa_score": float(mine["qa_score"].mean()),
            "checks": checks,
            "check_rows": check_rows,
            "period": period,
        },
    )
