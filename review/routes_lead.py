"""Quality leads: the queue of flagged calls, the call page and review form, agents' pages."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from pipeline.charts import ChartPoint, bar_chart
from pipeline.vocabulary import DESIGN_IDS
from review.coaching import (
    MAX_INTERVAL_WIDTH,
    MAX_TEXT,
    MIN_CALLS,
    coaching_log,
    parse_held_on,
    rate_of,
    review_notes,
)
from review.data import AUDIO_TYPES, TurnRow
from review.db import Assignment, CoachingEntry, Review, ReviewTag, User, utcnow, write_turn
from review.export import export_reviews, read_reviews
from review.labels import (
    AVOIDABLE_CATEGORIES,
    CONTACT_REASONS,
    QA_CHECKS,
    REVIEW_TAGS,
    SAFEGUARDING_ACTIONS,
    VULNERABILITIES,
    describe_tag,
    label,
    queue_reasons,
)
from review.sessions import issue_listen, use_listen
from review.tables import Format, page_action, table_response
from review.web import Viewer, audit, csrf_form, get_db, in_scope, now, render, require, store

__all__ = ["AGENT_CALLS", "PAGE_SIZE", "Segment", "TurnView", "highlight_turns", "router"]

router = APIRouter()
lead = require("quality_lead")

PAGE_SIZE = 25
#: Calls listed on an agent's page, newest first (the figures above them use all calls).
AGENT_CALLS = 25
# DESIGN.md's checks, one column each (a council's own are in the `qa_checks` map).
_AGENT_COLUMNS = (
    "call_id",
    "call_date",
    "primary_reason",
    "flags",
    "qa_score",
    *DESIGN_IDS["checks"],
)
_STATUSES = {"to_review": "Not yet reviewed", "reviewed": "Reviewed", "all": "All flagged calls"}
#: The calls behind a check's rate on an agent's page: those where it was done, or not.
_RESULTS = {"pass": "done", "fail": "not done"}
_ASSIGNED = {"": "Anyone or nobody", "me": "Assigned to me", "none": "Unassigned"}
#: The queue's filters: what a call page carries back in `queue_query` (save-and-next, the
#: back link), so the next call is the next one of the same filtered queue.
_FILTERS = (
    "date_from",
    "date_to",
    "team",
    "agent",
    "queue",
    "flag",
    "reason",
    "tag",
    "assigned",
    "status",
)


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


def _status_text(reviewed: dict[str, bool], call_id: str) -> str:
    return {True: "Reviewed", False: "In progress"}.get(reviewed.get(call_id), "Not reviewed")


def _queue_table(
    rows: pd.DataFrame, reviewed: dict[str, bool], assignees: dict[str, str]
) -> pd.DataFrame:
    """The filtered queue as a table, in review order: the queue's columns, who it is assigned
    to and its review status."""
    table = rows.copy()
    table["assigned_to"] = [assignees.get(c, "") for c in table["call_id"]]
    table["status"] = [_status_text(reviewed, c) for c in table["call_id"]]
    return table


def _today(request: Request) -> str:
    """The app's date, for download names."""
    return now(request).date().isoformat()


def _assignees(db: Session) -> dict[str, str]:
    """call_id -> the name of the quality lead it is assigned to."""
    rows = db.execute(
        select(Assignment.call_id, User.name).join(User, User.id == Assignment.user_id)
    ).all()
    return {call_id: name for call_id, name in rows}


def _queue_filters(values: Mapping[str, str]) -> dict[str, str]:
    """The known queue filters among `values`, each short; a status the queue has not heard
    of reads as the default."""
    filters = {k: str(values.get(k) or "")[:100] for k in _FILTERS}
    if filters["status"] not in _STATUSES:
        filters["status"] = "to_review"
    if filters["assigned"] not in _ASSIGNED:
        filters["assigned"] = ""
    return filters


def _query_of(filters: Mapping[str, str]) -> dict[str, str]:
    """The filters a URL needs to carry (the set ones)."""
    return {k: v for k, v in filters.items() if v}


def _filter_queue(
    rows: pd.DataFrame,
    filters: Mapping[str, str],
    reviewed: dict[str, bool],
    assignees: dict[str, str],
    me: str,
) -> pd.DataFrame:
    """The queue rows that match every set filter, in queue order."""
    if rows.empty:
        return rows
    mask = np.ones(len(rows), dtype=bool)
    if filters["date_from"]:
        mask &= (rows["call_date"] >= filters["date_from"]).to_numpy()
    if filters["date_to"]:
        mask &= (rows["call_date"] <= filters["date_to"]).to_numpy()
    for column, key in (("team", "team"), ("agent_id", "agent"), ("queue", "queue")):
        if filters[key] and column in rows.columns:
            mask &= (rows[column] == filters[key]).to_numpy()
    if filters["flag"]:
        flag = filters["flag"]
        mask &= np.fromiter((flag in fs for fs in rows["flags"]), bool, len(rows))
    if filters["reason"]:
        reason = filters["reason"]
        mask &= np.fromiter((reason in rs for rs in rows["contact_reasons"]), bool, len(rows))
    if filters["tag"]:
        family, _, wanted = filters["tag"].partition(":")
        mask &= np.fromiter((wanted in ts.get(family, []) for ts in rows["tags"]), bool, len(rows))
    if filters["assigned"]:
        want = me if filters["assigned"] == "me" else None
        mask &= np.fromiter((assignees.get(c) == want for c in rows["call_id"]), bool, len(rows))
    if filters["status"] != "all":
        done = np.fromiter((reviewed.get(c) is True for c in rows["call_id"]), bool, len(rows))
        mask &= done == (filters["status"] == "reviewed")
    return rows[mask]


def _pinned(calls: pd.DataFrame, reviewed: dict[str, bool]) -> pd.DataFrame:
    """Safeguarding calls not yet marked reviewed: at the top of every quality lead's queue,
    whatever the filters and whatever their scope (a council's safeguarding duty is not
    limited to the queues a lead usually reviews)."""
    if calls.empty or "safeguarding" not in calls.columns:
        return calls.iloc[0:0]
    open_ = np.fromiter((reviewed.get(c) is not True for c in calls["call_id"]), bool, len(calls))
    return calls[calls["safeguarding"].to_numpy(dtype=bool) & open_]


def _queue_rows(
    viewer: Viewer,
    calls: pd.DataFrame,
    filters: Mapping[str, str],
    reviewed: dict[str, bool],
    assignees: dict[str, str],
) -> pd.DataFrame:
    """A lead's queue in order: open safeguarding calls first, then the filtered calls of
    their scope."""
    pinned = _pinned(calls, reviewed)
    rest = _filter_queue(_scoped(viewer, calls), filters, reviewed, assignees, viewer.name)
    if pinned.empty:
        return rest
    return pd.concat([pinned, rest[~rest["call_id"].isin(pinned["call_id"])]])


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
    tag: str = "",
    status: str = "to_review",
    assigned: str = "",
    done: str = "",
    page: int = 1,
    fmt: Annotated[Format, Query(alias="format")] = "",
    viewer: Annotated[Viewer, Depends(lead)],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    view = store(request).queue_view()
    reviewed = _latest_status(db)
    filters = _queue_filters(
        {
            "date_from": date_from,
            "date_to": date_to,
            "team": team,
            "agent": agent,
            "queue": queue,
            "flag": flag,
            "reason": reason,
            "tag": tag,
            "assigned": assigned,
            "status": status,
        }
    )
    assignees = _assignees(db)
    audit(db, request, viewer.name, viewer.role, page_action("queue", fmt), request.url.query[:300])
    rows = _queue_rows(viewer, view.calls, filters, reviewed, assignees)
    total = len(rows)
    if fmt:  # every page of the filtered queue, not only the one shown
        return table_response(
            _queue_table(rows, reviewed, assignees), f"queue-{_today(request)}", fmt
        )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = rows.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE].to_dict("records") if total else []
    for r in shown:
        r["status"] = _status_text(reviewed, r["call_id"])
        r["pinned"] = bool(r.get("safeguarding")) and reviewed.get(r["call_id"]) is not True
        r["outside_scope"] = not in_scope(viewer, r)
        r["reasons"] = queue_reasons(r["flags"], r.get("sample_kind"))
        r["vulnerability_labels"] = [VULNERABILITIES.get(v, v) for v in r.get("vulnerability", [])]
        r["assignee"] = assignees.get(r["call_id"])
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
            "tags": view.tags,
            "query": _query_of(filters),
            "queue_query": urlencode(_query_of(filters)),
            "assigned_options": _ASSIGNED,
            "done": bool(done),
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
    """The call's row; 404 for an unknown id, 403 outside the lead's scope (audited).

    A safeguarding call opens for every quality lead, scope or not: it is pinned to every
    lead's queue, and its page (transcript, audio, review form) is where they act on it."""
    row = store(request).call(call_id)
    if row is None:
        raise HTTPException(404, "There is no call with that id in the screening output.")
    if not in_scope(viewer, row) and row.get("safeguarding") is not True:
        raise HTTPException(403, "This call is outside the queues and teams you review.")
    return row


def _vulnerabilities(row: dict[str, Any], evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The call's vulnerability ids with their labels and the turns that are their evidence."""
    found = []
    for v in row.get("vulnerability") or []:
        turns = sorted({e["turn"] for e in evidence if e["tag"] == f"vulnerability:{v}"})
        found.append({"id": v, "label": VULNERABILITIES.get(v, label(v)), "turns": turns})
    return found


def _council_tags(row: dict[str, Any], evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The council's own flags on the call (models/flags.yaml), labelled, with their turns."""
    found = []
    for family, ids in (row.get("tags") or {}).items():
        for tag in ids:
            name = f"{family}:{tag}"
            turns = sorted({e["turn"] for e in evidence if e["tag"] == f"tags:{name}"})
            found.append({"id": name, "label": label(name), "turns": turns})
    return found


def _active_leads(db: Session) -> list[tuple[int, str]]:
    """(id, name) of every active quality lead: who a call can be assigned to."""
    rows = db.execute(
        select(User.id, User.name)
        .where(User.role == "quality_lead", User.active.is_(True))
        .order_by(User.name)
    ).all()
    return [(user_id, name) for user_id, name in rows]


@router.get("/calls/{call_id}")
def call_page(
    request: Request,
    *,
    call_id: str,
    view: str = "",
    saved: str = "",
    queue_query: str = "",
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
    assignee = _assignee_of(db, call_id)
    leads = _active_leads(db)
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
            # Every check the call was scored on: DESIGN.md's columns, a council's in the map.
            "qa_checks": [
                (c, text, row["qa_checks"].get(c, row.get(c)))
                for c, text in QA_CHECKS.items()
                if c in row["qa_checks"] or c in row
            ],
            "council_tags": _council_tags(row, evidence),
            "safeguarding": row.get("safeguarding") is True,
            "vulnerabilities": _vulnerabilities(row, evidence),
            "outside_scope": not in_scope(viewer, row),
            "reasons": queue_reasons(list(row.get("flags") or []), row.get("sample_kind")),
            "assignee": assignee,
            "leads": leads,
            "actions": SAFEGUARDING_ACTIONS,
            "queue_query": urlencode(_query_of(_queue_filters(dict(parse_qsl(queue_query))))),
        },
    )


def _assignee_of(db: Session, call_id: str) -> str | None:
    """The name of the lead the call is assigned to, if any."""
    return db.scalar(
        select(User.name)
        .join(Assignment, Assignment.user_id == User.id)
        .where(Assignment.call_id == call_id)
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
    safeguarding_action = str(form.get("safeguarding_action", ""))
    safeguarding_note = str(form.get("safeguarding_note", "")).strip()
    if action not in ("save", "reviewed", "next"):
        raise HTTPException(400, "Choose Save, Mark as reviewed or Save and next call.")
    if safeguarding_action and (
        safeguarding_action not in SAFEGUARDING_ACTIONS or row.get("safeguarding") is not True
    ):
        raise HTTPException(400, "That is not a safeguarding action for this call.")
    if safeguarding_action == "no_action" and not safeguarding_note:
        raise HTTPException(400, "Say in the safeguarding note why no action was taken.")
    if len(safeguarding_note) > MAX_TEXT:
        raise HTTPException(400, f"The safeguarding note is limited to {MAX_TEXT:,} characters.")
    if reason and reason not in CONTACT_REASONS:
        raise HTTPException(400, "That is not a contact reason.")
    if category and category != "none" and category not in AVOIDABLE_CATEGORIES:
        raise HTTPException(400, "That is not an avoidable-contact category.")
    if len(notes) > MAX_TEXT:
        raise HTTPException(400, f"Notes are limited to {MAX_TEXT:,} characters.")
    filters = _queue_filters(dict(parse_qsl(str(form.get("queue_query", "")))))
    # The next call is found in the queue as it was before this save, so this call's place
    # in it is known even when saving takes it out of the filtered queue.
    following = _next_call(request, db, viewer, filters, call_id) if action == "next" else None
    if action == "next":
        action = "reviewed"
    review = Review(
        call_id=call_id,
        reviewer=viewer.name,
        reviewed=action == "reviewed",
        corrected_primary_reason=reason or None,
        corrected_avoidable_category=category or None,
        notes=notes,
        safeguarding_action=safeguarding_action or None,
        safeguarding_note=safeguarding_note,
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
    if safeguarding_action:
        audit(
            db,
            request,
            viewer.name,
            viewer.role,
            "safeguarding_action",
            call_id,
            safeguarding_action,
        )
    export_reviews(db, store(request))
    query = urlencode(_query_of(filters))
    if form.get("action") != "next":
        back = f"&{urlencode({'queue_query': query})}" if query else ""
        return RedirectResponse(f"/calls/{call_id}?saved={action}{back}", 303)
    if following is None:
        return RedirectResponse(f"/queue?{urlencode({**_query_of(filters), 'done': '1'})}", 303)
    carried = urlencode({"saved": "next", "queue_query": query})
    return RedirectResponse(f"/calls/{following}?{carried}", 303)


def _next_call(
    request: Request, db: Session, viewer: Viewer, filters: Mapping[str, str], call_id: str
) -> str | None:
    """The call after `call_id` in the lead's queue with these filters (the first one when
    `call_id` is not in it); None at the end of the queue."""
    order = list(
        _queue_rows(
            viewer, store(request).queue_view().calls, filters, _latest_status(db), _assignees(db)
        )["call_id"]
    )
    later = order[order.index(call_id) + 1 :] if call_id in order else order
    return next((c for c in later if c != call_id), None)


@router.post("/calls/{call_id}/assign")
def assign_call(
    request: Request,
    call_id: str,
    viewer: Annotated[Viewer, Depends(lead)],
    form: Annotated[FormData, Depends(csrf_form)],
    db: Annotated[Session, Depends(get_db)],
) -> Response:
    """Assign the call to an active quality lead, or to nobody (`user_id` empty)."""
    _call_or_404(request, call_id, viewer)
    chosen = str(form.get("user_id", ""))
    leads = dict(_active_leads(db))
    if chosen and (not chosen.isdigit() or int(chosen) not in leads):
        raise HTTPException(400, "Choose an active quality lead.")
    with write_turn(db):
        current = db.get(Assignment, call_id)
        if current is not None:
            db.delete(current)
            db.flush()
        if chosen:
            db.add(Assignment(call_id=call_id, user_id=int(chosen), assigned_by=viewer.name))
        db.commit()
    detail = f"to {leads[int(chosen)]}" if chosen else "unassigned"
    audit(db, request, viewer.name, viewer.role, "assign_call", call_id, detail)
    return RedirectResponse(f"/calls/{call_id}?saved=assigned", 303)


def _agents_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The agents page's table: one row per agent, each check's pass rate as a column."""
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
        columns=[
            "agent_id",
            "team",
            "calls",
            "flagged",
            "qa_score",
            *(f"{c}_ratio" for c in QA_CHECKS),
            "last_screened",
        ],
    )


@router.get("/agents")
def agents(
    request: Request,
    viewer: Annotated[Viewer, Depends(lead)],
    db: Annotated[Session, Depends(get_db)],
    fmt: Annotated[Format, Query(alias="format")] = "",
) -> Response:
    calls = _scoped(viewer, store(request).calls())
    audit(db, request, viewer.name, viewer.role, page_action("agents", fmt), "", fmt)
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
                    "check_rates": {c: rate_of(group[c]) for c in QA_CHECKS if c in group},
                    "last": str(group["call_date"].max()),
                }
            )
    if fmt:
        return table_response(_agents_table(rows), f"agents-{_today(request)}", fmt)
    return render(
        request,
        "agents.html",
        {"rows": rows, "min_calls": MIN_CALLS, "max_width": round(MAX_INTERVAL_WIDTH * 100)},
    )


@router.get("/agents/{agent_id}")
def agent_page(
    request: Request,
    agent_id: str,
    viewer: Annotated[Viewer, Depends(lead)],
    db: Annotated[Session, Depends(get_db)],
    fmt: Annotated[Format, Query(alias="format")] = "",
    check: str = "",
    result: str = "",
    saved: str = "",
) -> Response:
    calls = _scoped(viewer, store(request).calls())
    mine = calls[calls["agent_id"] == agent_id] if not calls.empty else calls
    audit(db, request, viewer.name, viewer.role, page_action("agent", fmt), agent_id, fmt)
    if mine.empty:
        raise HTTPException(404, "No screened calls for that agent.")
    if fmt:  # all of the agent's calls, not only the latest the page lists
        table = mine[[c for c in _AGENT_COLUMNS if c in mine.columns]]
        table = table.sort_values(["call_date", "call_id"], ascending=[False, True])
        return table_response(table, f"agent-{agent_id}-{_today(request)}", fmt)
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
                "check_rates": {c: rate_of(group[c]) for c in QA_CHECKS if c in group},
            }
        )
    check_rates = {c: rate_of(mine[c]) for c in QA_CHECKS if c in mine}
    # The calls behind one figure: a check's passes or fails (unknown filters show them all).
    check = check if check in check_rates else ""
    result = result if check and result in _RESULTS else ""
    listed = mine
    if check:
        passed = mine[check].astype(bool)
        listed = mine[passed] if result == "pass" else mine[~passed] if result == "fail" else mine
    listed = listed[[c for c in _AGENT_COLUMNS if c in listed.columns]].sort_values(
        ["call_date", "call_id"], ascending=[False, True]
    )
    return render(
        request,
        "agent.html",
        {
            "agent_id": agent_id,
            "team": mine["team"].dropna().iloc[-1] if mine["team"].notna().any() else None,
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
            "check_chart": Markup(
                bar_chart(
                    [
                        ChartPoint(QA_CHECKS[c], r.estimate, r.ci_low, r.ci_high, r.n)
                        for c, r in check_rates.items()
                    ],
                    title=f"Quality checks passed by agent {agent_id}",
                    chart_id="agent-checks",
                )
            ),
            "period": period,
            "notes": review_notes(db, mine),
            "coaching": coaching_log(db, agent_id),
            "saved": saved,
            "today": now(request).date().isoformat(),
            "min_calls": MIN_CALLS,
            "max_width": round(MAX_INTERVAL_WIDTH * 100),
            "max_text": MAX_TEXT,
        },
    )


#: Review rows listed per page of /reviews (the download has them all).
REVIEWS_PAGE_SIZE = 50


@router.get("/reviews")
def reviews(
    request: Request,
    viewer: Annotated[Viewer, Depends(lead)],
    db: Annotated[Session, Depends(get_db)],
    page: int = 1,
    fmt: Annotated[Format, Query(alias="format")] = "",
) -> Response:
    """The reviews leads saved, as `<out>/reviews/reviews.parquet` holds them: one row per
    judged tag of the newest review of each call, inside the lead's scope."""
    data = store(request)
    rows = read_reviews(data.out_dir)
    if viewer.scope and not rows.empty:
        inside = {c: in_scope(viewer, data.call(c) or {}) for c in rows["call_id"].unique()}
        rows = rows[rows["call_id"].map(inside).to_numpy(dtype=bool)]
    audit(db, request, viewer.name, viewer.role, page_action("reviews", fmt), "", fmt)
    if fmt:
        return table_response(rows, f"reviews-{_today(request)}", fmt)
    pages = max(1, math.ceil(len(rows) / REVIEWS_PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = rows.iloc[(page - 1) * REVIEWS_PAGE_SIZE : page * REVIEWS_PAGE_SIZE]
    return render(
        request,
        "reviews.html",
        {"rows": shown.to_dict("records"), "total": len(rows), "page": page, "pages": pages},
    )


def _coached_agent(request: Request, viewer: Viewer, agent_id: str) -> None:
    """403 unless some of the agent's calls are inside the lead's scope: a lead coaches only
    the agents whose calls they review."""
    calls = _scoped(viewer, store(request).calls())
    if calls.empty or not (calls["agent_id"] == agent_id).any():
        raise HTTPException(403, "This agent's calls are outside the queues and teams you review.")


@router.post("/agents/{agent_id}/coaching")
def add_coaching(
    request: Request,
    agent_id: str,
    viewer: Annotated[Viewer, Depends(lead)],
    form: Annotated[FormData, Depends(csrf_form)],
    db: Annotated[Session, Depends(get_db)],
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
    audit(db, request, viewer.name, viewer.role, "coaching_entry", agent_id, f"entry {entry.id}")
    return RedirectResponse(f"/agents/{quote(agent_id, safe='')}?saved=coaching#coaching", 303)


@router.post("/agents/{agent_id}/coaching/{entry_id}/acknowledge")
def acknowledge_coaching(
    request: Request,
    agent_id: str,
    entry_id: int,
    viewer: Annotated[Viewer, Depends(lead)],
    form: Annotated[FormData, Depends(csrf_form)],
    db: Annotated[Session, Depends(get_db)],
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
        audit(
            db,
            request,
            viewer.name,
            viewer.role,
            "coaching_acknowledged",
            agent_id,
            f"entry {entry.id}",
        )
    return RedirectResponse(f"/agents/{quote(agent_id, safe='')}?saved=acknowledged#coaching", 303)
