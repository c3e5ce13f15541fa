"""Quality leads: search the transcripts for words and phrases (`/search`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from review.labels import flag_label, label
from review.marks import Segment, mark_spans
from review.routes_lead.queue import PAGE_SIZE
from review.search import (
    MAX_QUERY_CHARS,
    SearchChoices,
    SearchHit,
    SearchQuery,
    TranscriptSearch,
)
from review.web import DbSession, LeadViewer, audit_by, render

__all__ = ["CONTEXT_CHARS", "router", "snippet"]

router = APIRouter()

#: A hit's turn is shown whole up to this length, else this much of it around the first match.
CONTEXT_CHARS = 240
_SPEAKERS = {"": "Anyone", "agent": "Agent", "caller": "Caller"}


def snippet(hit: SearchHit, width: int = CONTEXT_CHARS) -> list[Segment]:
    """The hit's turn around its first match, cut at spaces, with the matched words marked."""
    text = hit.text
    start, end = 0, len(text)
    if len(text) > width and hit.spans:
        start = max(0, hit.spans[0][0] - width // 3)
        if start:
            space = text.find(" ", start)
            start = space + 1 if 0 <= space < hit.spans[0][0] else start
        end = min(len(text), start + width)
        if end < len(text):
            space = text.rfind(" ", hit.spans[0][1], end)
            end = space if space > 0 else end
    before = [Segment("…", False)] if start else []
    after = [Segment("…", False)] if end < len(text) else []
    return [*before, *mark_spans(text, hit.spans, start, end), *after]


def _day(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"Write the '{name}' date as YYYY-MM-DD.") from None


def _tags(choices: SearchChoices) -> dict[str, str]:
    """The tag filter's choices, id -> words: flags, contact reasons, avoidable categories."""
    tags = {f: flag_label(f) for f in choices.flags}
    for tag in (*choices.reasons, *choices.categories):
        tags.setdefault(tag, label(tag))
    return tags


def _searcher(request: Request) -> TranscriptSearch:
    return request.app.state.search


@router.get("/search")
def search_page(
    request: Request,
    *,
    q: str = "",
    speaker: str = "",
    date_from: Annotated[str, Query(alias="from")] = "",
    date_to: Annotated[str, Query(alias="to")] = "",
    queue: str = "",
    team: str = "",
    agent: str = "",
    tag: str = "",
    restricted: str = "",
    page: int = 1,
    viewer: LeadViewer,
    db: DbSession,
) -> Response:
    if speaker not in _SPEAKERS:
        raise HTTPException(400, "Choose the agent, the caller or anyone.")
    unredacted = restricted == "1"
    text = q[:MAX_QUERY_CHARS]
    query = SearchQuery(
        text=text,
        restricted=unredacted,
        speaker=speaker,
        date_from=_day(date_from, "From"),
        date_to=_day(date_to, "To"),
        queue=queue,
        team=team,
        agent=agent,
        tag=tag,
        scope=viewer.scope,
        page=page,
        page_size=PAGE_SIZE,
    )
    result = _searcher(request).search(query)
    filters = {
        "q": text,
        "speaker": speaker,
        "from": date_from,
        "to": date_to,
        "queue": queue,
        "team": team,
        "agent": agent,
        "tag": tag,
        "restricted": "1" if unredacted else "",
    }
    shown = {k: v for k, v in filters.items() if v}
    # Audited after the search, before anything is shown; unredacted text under its own action,
    # as the call page's restricted view is.
    audit_by(
        db,
        request,
        viewer,
        "search_restricted" if unredacted else "search",
        text,
        urlencode({k: v for k, v in shown.items() if k != "q"} | {"page": result.page})[:300],
    )
    choices = _searcher(request).choices(viewer.scope)
    return render(
        request,
        "search.html",
        {
            "result": result,
            "hits": [(hit, snippet(hit)) for hit in result.hits],
            "filters": filters,
            "query": shown,
            "speakers": _SPEAKERS,
            "teams": choices.teams,
            "agents": choices.agents,
            "queues": choices.queues,
            "tags": _tags(choices),
        },
    )
