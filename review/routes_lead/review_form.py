"""A lead's review of a call (`POST /calls/{call_id}/review`): the machine's tags they judge,
their corrections and notes, what was done about a safeguarding concern."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from review.coaching import MAX_TEXT
from review.db import Review, ReviewTag
from review.export import export_reviews
from review.labels import (
    AVOIDABLE_CATEGORIES,
    CONTACT_REASONS,
    REVIEW_TAGS,
    SAFEGUARDING_ACTIONS,
    describe_tag,
)
from review.routes_lead.queue import QueueFilters, next_call
from review.routes_lead.scope import call_or_404
from review.web import DbSession, LeadViewer, PostedForm, audit_by, store

__all__ = ["machine_tags", "router"]

router = APIRouter()


def machine_tags(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The tags a lead judges, as the machine gave them on this call, in the form's order."""
    tags = []
    for tag in REVIEW_TAGS:
        if tag not in row:
            continue
        value = row[tag]
        if value is not None and not isinstance(value, bool | str):
            value = None if pd.isna(value) else str(value)
        tags.append({"tag": tag, "value": value, "text": describe_tag(tag, value)})
    return tags


@dataclass(frozen=True)
class _Answers:
    """What the review form sent, checked."""

    action: str
    reason: str
    category: str
    notes: str
    safeguarding_action: str
    safeguarding_note: str


def _answers(form: FormData, row: dict[str, Any]) -> _Answers:
    """The form's answers; 400 for anything the form could not have sent."""
    answers = _Answers(
        action=str(form.get("action")),
        reason=str(form.get("corrected_primary_reason", "")),
        category=str(form.get("corrected_avoidable_category", "")),
        notes=str(form.get("notes", "")),
        safeguarding_action=str(form.get("safeguarding_action", "")),
        safeguarding_note=str(form.get("safeguarding_note", "")).strip(),
    )
    if answers.action not in ("save", "reviewed", "next"):
        raise HTTPException(400, "Choose Save, Mark as reviewed or Save and next call.")
    if answers.safeguarding_action and (
        answers.safeguarding_action not in SAFEGUARDING_ACTIONS
        or row.get("safeguarding") is not True
    ):
        raise HTTPException(400, "That is not a safeguarding action for this call.")
    if answers.safeguarding_action == "no_action" and not answers.safeguarding_note:
        raise HTTPException(400, "Say in the safeguarding note why no action was taken.")
    if len(answers.safeguarding_note) > MAX_TEXT:
        raise HTTPException(400, f"The safeguarding note is limited to {MAX_TEXT:,} characters.")
    if answers.reason and answers.reason not in CONTACT_REASONS:
        raise HTTPException(400, "That is not a contact reason.")
    if answers.category not in ("", "none") and answers.category not in AVOIDABLE_CATEGORIES:
        raise HTTPException(400, "That is not an avoidable-contact category.")
    if len(answers.notes) > MAX_TEXT:
        raise HTTPException(400, f"Notes are limited to {MAX_TEXT:,} characters.")
    return answers


def _review(
    call_id: str, reviewer: str, answers: _Answers, form: FormData, row: dict[str, Any]
) -> Review:
    """The review row the answers make, with each judged tag's verdict."""
    review = Review(
        call_id=call_id,
        reviewer=reviewer,
        reviewed=answers.action != "save",
        corrected_primary_reason=answers.reason or None,
        corrected_avoidable_category=answers.category or None,
        notes=answers.notes,
        safeguarding_action=answers.safeguarding_action or None,
        safeguarding_note=answers.safeguarding_note,
    )
    for tag in machine_tags(row):
        verdict = form.get(f"tag_{tag['tag']}")
        if verdict in ("agree", "disagree"):
            review.tags.append(
                ReviewTag(tag=tag["tag"], machine_value=str(tag["value"]), agree=verdict == "agree")
            )
    return review


@router.post("/calls/{call_id}/review")
def save_review(
    request: Request, call_id: str, viewer: LeadViewer, form: PostedForm, db: DbSession
) -> Response:
    """Save the review (a draft, or marked reviewed), then back to the call or on to the next
    call of the same filtered queue."""
    row = call_or_404(request, call_id, viewer)
    answers = _answers(form, row)
    filters = QueueFilters.of_query(str(form.get("queue_query", "")))
    # The next call is found in the queue as it was before this save, so this call's place
    # in it is known even when saving takes it out of the filtered queue.
    following = (
        next_call(request, db, viewer, filters, call_id) if answers.action == "next" else None
    )
    review = _review(call_id, viewer.name, answers, form, row)
    db.add(review)
    db.commit()
    action = "save" if answers.action == "save" else "reviewed"
    detail = f"{len(review.tags)} tags judged" + (
        f"; reason -> {answers.reason}" if answers.reason else ""
    )
    audit_by(db, request, viewer, "review_" + action, call_id, detail)
    if answers.safeguarding_action:
        audit_by(db, request, viewer, "safeguarding_action", call_id, answers.safeguarding_action)
    export_reviews(db, store(request))
    query = filters.query_string()
    if answers.action != "next":
        back = f"&{urlencode({'queue_query': query})}" if query else ""
        return RedirectResponse(f"/calls/{call_id}?saved={action}{back}", 303)
    if following is None:
        return RedirectResponse(f"/queue?{urlencode({**filters.query(), 'done': '1'})}", 303)
    carried = urlencode({"saved": "next", "queue_query": query})
    return RedirectResponse(f"/calls/{following}?{carried}", 303)
