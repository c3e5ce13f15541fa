"""The review queue (`/queue`): a lead's flagged calls, filtered and in review order, and the
call after a given one in it (save-and-next)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any
from urllib.parse import parse_qsl, urlencode

import numpy as np
import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from review.db import Assignment, Review, User
from review.labels import VULNERABILITIES, queue_reasons
from review.routes_lead.scope import scope_options, scoped
from review.tables import FormatQuery, page_action, table_response
from review.web import (
    DbSession,
    LeadViewer,
    Viewer,
    audit_by,
    in_scope,
    paged,
    render,
    store,
    today,
)

__all__ = [
    "PAGE_SIZE",
    "QueueFilters",
    "assignees",
    "latest_status",
    "next_call",
    "router",
    "status_text",
]

router = APIRouter()

PAGE_SIZE = 25
_STATUSES = {"to_review": "Not yet reviewed", "reviewed": "Reviewed", "all": "All flagged calls"}
_ASSIGNED = {"": "Anyone or nobody", "me": "Assigned to me", "none": "Unassigned"}


@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters: what a call page carries back in `queue_query` (save-and-next,
    the back link), so the next call is the next one of the same filtered queue."""

    date_from: str = ""
    date_to: str = ""
    team: str = ""
    agent: str = ""
    queue: str = ""
    flag: str = ""
    reason: str = ""
    tag: str = ""
    assigned: str = ""
    status: str = "to_review"

    @classmethod
    def of(cls, values: Mapping[str, str]) -> QueueFilters:
        """The known queue filters among `values`, each short; a status or assignment the
        queue has not heard of reads as the default."""
        found = {f.name: str(values.get(f.name) or "")[:100] for f in fields(cls)}
        if found["status"] not in _STATUSES:
            found["status"] = "to_review"
        if found["assigned"] not in _ASSIGNED:
            found["assigned"] = ""
        return cls(**found)

    @classmethod
    def of_query(cls, query: str) -> QueueFilters:
        """The filters a `queue_query` (a URL's query string) carries."""
        return cls.of(dict(parse_qsl(query)))

    def query(self) -> dict[str, str]:
        """The filters a URL needs to carry (the set ones)."""
        return {k: v for k, v in asdict(self).items() if v}

    def query_string(self) -> str:
        """`query()` as a URL's query string."""
        return urlencode(self.query())


def latest_status(db: Session) -> dict[str, bool]:
    """call_id -> reviewed? of the newest review of each call."""
    newest = select(func.max(Review.id)).group_by(Review.call_id)
    return dict(
        db.execute(select(Review.call_id, Review.reviewed).where(Review.id.in_(newest))).all()
    )


def status_text(reviewed: dict[str, bool], call_id: str) -> str:
    return {True: "Reviewed", False: "In progress"}.get(reviewed.get(call_id), "Not reviewed")


def assignees(db: Session) -> dict[str, str]:
    """call_id -> the name of the quality lead it is assigned to."""
    rows = db.execute(
        select(Assignment.call_id, User.name).join(User, User.id == Assignment.user_id)
    ).all()
    return {call_id: name for call_id, name in rows}


def _queue_table(
    rows: pd.DataFrame, reviewed: dict[str, bool], assigned: dict[str, str]
) -> pd.DataFrame:
    """The filtered queue as a table, in review order: the queue's columns, who it is assigned
    to and its review status."""
    table = rows.copy()
    table["assigned_to"] = [assigned.get(c, "") for c in table["call_id"]]
    table["status"] = [status_text(reviewed, c) for c in table["call_id"]]
    return table


def _filter_queue(
    rows: pd.DataFrame,
    filters: QueueFilters,
    reviewed: dict[str, bool],
    assigned: dict[str, str],
    me: str,
) -> pd.DataFrame:
    """The queue rows that match every set filter, in queue order."""
    if rows.empty:
        return rows
    mask = np.ones(len(rows), dtype=bool)
    if filters.date_from:
        mask &= (rows["call_date"] >= filters.date_from).to_numpy()
    if filters.date_to:
        mask &= (rows["call_date"] <= filters.date_to).to_numpy()
    for column, wanted in (
        ("team", filters.team),
        ("agent_id", filters.agent),
        ("queue", filters.queue),
    ):
        if wanted and column in rows.columns:
            mask &= (rows[column] == wanted).to_numpy()
    if filters.flag:
        mask &= np.fromiter((filters.flag in fs for fs in rows["flags"]), bool, len(rows))
    if filters.reason:
        reasons = rows["contact_reasons"]
        mask &= np.fromiter((filters.reason in rs for rs in reasons), bool, len(rows))
    if filters.tag:
        family, _, tag = filters.tag.partition(":")
        mask &= np.fromiter((tag in ts.get(family, []) for ts in rows["tags"]), bool, len(rows))
    if filters.assigned:
        want = me if filters.assigned == "me" else None
        mask &= np.fromiter((assigned.get(c) == want for c in rows["call_id"]), bool, len(rows))
    if filters.status != "all":
        done = np.fromiter((reviewed.get(c) is True for c in rows["call_id"]), bool, len(rows))
        mask &= done == (filters.status == "reviewed")
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
    filters: QueueFilters,
    reviewed: dict[str, bool],
    assigned: dict[str, str],
) -> pd.DataFrame:
    """A lead's queue in order: open safeguarding calls first, then the filtered calls of
    their scope."""
    pinned = _pinned(calls, reviewed)
    rest = _filter_queue(scoped(viewer, calls), filters, reviewed, assigned, viewer.name)
    if pinned.empty:
        return rest
    return pd.concat([pinned, rest[~rest["call_id"].isin(pinned["call_id"])]])


def next_call(
    request: Request, db: Session, viewer: Viewer, filters: QueueFilters, call_id: str
) -> str | None:
    """The call after `call_id` in the lead's queue with these filters (the first one when
    `call_id` is not in it); None at the end of the queue."""
    order = list(
        _queue_rows(
            viewer, store(request).queue_view().calls, filters, latest_status(db), assignees(db)
        )["call_id"]
    )
    later = order[order.index(call_id) + 1 :] if call_id in order else order
    return next((c for c in later if c != call_id), None)


def _shown_rows(
    viewer: Viewer, rows: pd.DataFrame, reviewed: dict[str, bool], assigned: dict[str, str]
) -> list[dict[str, Any]]:
    """One page of the queue's rows with what the page says about each."""
    shown = rows.to_dict("records")
    for r in shown:
        r["status"] = status_text(reviewed, r["call_id"])
        r["pinned"] = bool(r.get("safeguarding")) and reviewed.get(r["call_id"]) is not True
        r["outside_scope"] = not in_scope(viewer, r)
        r["reasons"] = queue_reasons(r["flags"], r.get("sample_kind"))
        r["vulnerability_labels"] = [VULNERABILITIES.get(v, v) for v in r.get("vulnerability", [])]
        r["assignee"] = assigned.get(r["call_id"])
    return shown


@router.get("/queue")
def queue(
    request: Request,
    viewer: LeadViewer,
    db: DbSession,
    done: str = "",
    page: int = 1,
    fmt: FormatQuery = "",
) -> Response:
    """The filtered queue (`QueueFilters`, read from the query string), a page at a time or
    every page as a download."""
    view = store(request).queue_view()
    reviewed = latest_status(db)
    filters = QueueFilters.of(request.query_params)
    assigned = assignees(db)
    audit_by(db, request, viewer, page_action("queue", fmt), request.url.query[:300])
    rows = _queue_rows(viewer, view.calls, filters, reviewed, assigned)
    total = len(rows)
    if fmt:  # every page of the filtered queue, not only the one shown
        return table_response(
            _queue_table(rows, reviewed, assigned), f"queue-{today(request)}", fmt
        )
    page, pages = paged(total, page, PAGE_SIZE)
    shown = rows.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return render(
        request,
        "queue.html",
        {
            "rows": _shown_rows(viewer, shown, reviewed, assigned),
            "total": total,
            "page": page,
            "pages": pages,
            "filters": filters,
            "statuses": _STATUSES,
            "teams": scope_options(viewer, view.teams, view.calls, "team"),
            "agents": scope_options(viewer, view.agents, view.calls, "agent_id"),
            "queues": scope_options(viewer, view.queues, view.calls, "queue"),
            "flags": view.flags,
            "reasons": view.reasons,
            "tags": view.tags,
            "query": filters.query(),
            "queue_query": filters.query_string(),
            "assigned_options": _ASSIGNED,
            "done": bool(done),
        },
    )
