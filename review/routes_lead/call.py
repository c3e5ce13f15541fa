"""A call's page for a quality lead (`/calls/{call_id}`): transcript and evidence, the
recording, who it is assigned to, and the review form's current answers."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from review.data import AUDIO_TYPES
from review.db import Assignment, Review, User, write_turn
from review.labels import QA_CHECKS, SAFEGUARDING_ACTIONS, queue_reasons
from review.routes_lead.evidence import (
    call_evidence,
    council_tags,
    highlight_turns,
    vulnerabilities,
)
from review.routes_lead.queue import QueueFilters
from review.routes_lead.review_form import machine_tags
from review.routes_lead.scope import call_or_404
from review.sessions import issue_listen, use_listen
from review.web import (
    DbSession,
    LeadViewer,
    PostedForm,
    audit_by,
    in_scope,
    now,
    render,
    store,
)

__all__ = ["router"]

router = APIRouter()


def _active_leads(db: Session) -> list[tuple[int, str]]:
    """(id, name) of every active quality lead: who a call can be assigned to."""
    rows = db.execute(
        select(User.id, User.name)
        .where(User.role == "quality_lead", User.active.is_(True))
        .order_by(User.name)
    ).all()
    return [(user_id, name) for user_id, name in rows]


def _assignee_of(db: Session, call_id: str) -> str | None:
    """The name of the lead the call is assigned to, if any."""
    return db.scalar(
        select(User.name)
        .join(Assignment, Assignment.user_id == User.id)
        .where(Assignment.call_id == call_id)
    )


@router.get("/calls/{call_id}")
def call_page(
    request: Request,
    *,
    call_id: str,
    view: str = "",
    saved: str = "",
    queue_query: str = "",
    viewer: LeadViewer,
    db: DbSession,
) -> Response:
    row = call_or_404(request, call_id, viewer)
    restricted = view == "restricted"
    data = store(request)
    turns = data.transcript(call_id, str(row["call_date"]), restricted=restricted)
    evidence = call_evidence(row)
    history = list(
        db.scalars(select(Review).where(Review.call_id == call_id).order_by(Review.id.desc()))
    )
    assignee = _assignee_of(db, call_id)
    leads = _active_leads(db)
    # Audited after the last read, before anything is shown: one database connection per
    # page (a commit hands it back, and taking another costs a round trip under load).
    audit_by(db, request, viewer, "view_restricted" if restricted else "view_call", call_id)
    latest = history[0] if history else None
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
            "tags": machine_tags(row),
            "latest": latest,
            "verdicts": {t.tag: t.agree for t in latest.tags} if latest else {},
            "history": history,
            "saved": saved,
            # Every check the call was scored on: docs/design.md's columns, a council's in the map.
            "qa_checks": [
                (c, text, row["qa_checks"].get(c, row.get(c)))
                for c, text in QA_CHECKS.items()
                if c in row["qa_checks"] or c in row
            ],
            "council_tags": council_tags(row, evidence),
            "safeguarding": row.get("safeguarding") is True,
            "vulnerabilities": vulnerabilities(row, evidence),
            "outside_scope": not in_scope(viewer, row),
            "reasons": queue_reasons(list(row.get("flags") or []), row.get("sample_kind")),
            "assignee": assignee,
            "leads": leads,
            "actions": SAFEGUARDING_ACTIONS,
            "queue_query": QueueFilters.of_query(queue_query).query_string(),
        },
    )


@router.get("/calls/{call_id}/audio")
def call_audio(
    request: Request, call_id: str, viewer: LeadViewer, db: DbSession, listen: str = ""
) -> Response:
    """The original recording, only with a listen token the call page gave this session for
    this call; its first use is the listen's one audit row, whatever the Range headers."""
    call_or_404(request, call_id, viewer)
    path = store(request).recording(call_id)
    if path is None:
        raise HTTPException(404, "There is no recording for this call.")
    first = use_listen(db, listen, viewer.session, viewer.id, call_id, None, now(request))
    if first is None:
        raise HTTPException(403, "Open the call's page to listen to it.")
    if first:
        audit_by(db, request, viewer, "play_audio", call_id)
    return FileResponse(path, media_type=AUDIO_TYPES[path.suffix.lower()])


@router.post("/calls/{call_id}/assign")
def assign_call(
    request: Request, call_id: str, viewer: LeadViewer, form: PostedForm, db: DbSession
) -> Response:
    """Assign the call to an active quality lead, or to nobody (`user_id` empty)."""
    call_or_404(request, call_id, viewer)
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
    audit_by(db, request, viewer, "assign_call", call_id, detail)
    return RedirectResponse(f"/calls/{call_id}?saved=assigned", 303)
