"""Scrutiny members: only the packs granted to them, redacted, with tags in plain English.

Agents are shown as "Agent A", "Agent B"... in each pack: letters given in the order of a
keyed hash of the agent id, so the same agent keeps one letter within a pack, but the letters
say nothing about who is who and differ between packs.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.agentnames import redact_agent_names
from review.data import AUDIO_TYPES, PackData, TurnRow
from review.db import Pack, PackGrant
from review.labels import BOOLEAN_TAGS, QA_CHECKS, REVIEW_TAGS
from review.sessions import issue_listen, use_listen
from review.web import DbSession, MemberViewer, Viewer, audit_by, now, render, store

__all__ = ["pseudonyms", "router"]

router = APIRouter(prefix="/scrutiny")

_SHOWN = (
    "call_id",
    "call_date",
    "queue",
    "team",
    "duration_s",
    "contact_reasons",
    "qa_score",
    *REVIEW_TAGS,  # the machine's tags: the ones a lead judges
    "qa_checks",  # every check, a council's own too
)
_NOT_FOUND = "This call is not in your screening sample."


def pseudonyms(secret: bytes, pack_id: int, agent_ids: list[str]) -> dict[str, str]:
    """agent_id -> "Agent A" ... for one pack."""

    def key(agent: str) -> str:
        return hmac.new(secret, f"{pack_id}:{agent}".encode(), hashlib.sha256).hexdigest()

    names: dict[str, str] = {}
    for i, agent in enumerate(sorted(set(agent_ids), key=key)):
        letters = ""
        i += 1
        while i:
            i, rem = divmod(i - 1, 26)
            letters = chr(65 + rem) + letters
        names[agent] = f"Agent {letters}"
    return names


def _granted(db: Session, viewer: Viewer, pack_id: int) -> Pack:
    """The pack, if granted to this member; 403 otherwise (also for packs that do not exist,
    so ids cannot be probed)."""
    pack = db.get(Pack, pack_id)
    if pack is None or db.get(PackGrant, (pack_id, viewer.id)) is None:
        raise HTTPException(403, "That screening sample has not been shared with you.")
    return pack


def _missing(value: object) -> bool:
    return value is None or (not isinstance(value, list | tuple | np.ndarray) and pd.isna(value))


def _first(value: object, fallback: object) -> object:
    return fallback if _missing(value) else value


def _calls(request: Request, pack: Pack, data: PackData | None) -> list[dict[str, Any]]:
    """The pack's calls with only the fields a scrutiny member may see, agents pseudonymised."""
    own = (
        {r["call_id"]: r for r in data.calls.to_dict("records")}
        if data is not None and not data.calls.empty
        else {}
    )
    nightly = store(request)
    rows = []
    for pc in sorted(pack.calls, key=lambda c: (c.number or 0, c.call_id)):
        # The pack's own rows win; what they leave out (a `scrutiny_sample` manifest has only
        # page and audio names) comes from the nightly scorecard.
        mine = own.get(pc.call_id, {})
        theirs = nightly.call(pc.call_id) or {}
        row = {k: _first(mine.get(k), theirs.get(k)) for k in (*_SHOWN, "agent_id")}
        row["call_id"] = pc.call_id
        row["number"] = pc.number
        rows.append(row)
    names = pseudonyms(
        request.app.state.keys.pseudonym, pack.id, [str(r["agent_id"]) for r in rows]
    )
    for row in rows:
        row["agent"] = names[str(row.pop("agent_id"))]
        reasons = row["contact_reasons"]
        row["contact_reasons"] = (
            [] if reasons is None or isinstance(reasons, float) else list(reasons)
        )
        for column in ("duration_s", "qa_score"):
            if row[column] is not None and pd.isna(row[column]):
                row[column] = None
    return rows


class _Opened(NamedTuple):
    """A pack granted to the member: its row, its folder's data and its calls as shown."""

    pack: Pack
    data: PackData | None
    rows: list[dict[str, Any]]


def _open(request: Request, db: Session, viewer: Viewer, pack_id: int) -> _Opened:
    """The pack, if granted to this member (403 otherwise), with its data and calls."""
    pack = _granted(db, viewer, pack_id)
    data = store(request).pack(Path(pack.folder)) if pack.folder else None
    return _Opened(pack, data, _calls(request, pack, data))


@router.get("")
def packs(request: Request, viewer: MemberViewer, db: DbSession) -> Response:
    mine = db.scalars(
        select(Pack)
        .join(PackGrant, PackGrant.pack_id == Pack.id)
        .where(PackGrant.user_id == viewer.id)
    ).all()
    return render(request, "scrutiny_packs.html", {"packs": sorted(mine, key=lambda p: p.name)})


@router.get("/packs/{pack_id}")
def pack_page(request: Request, pack_id: int, viewer: MemberViewer, db: DbSession) -> Response:
    pack, _, rows = _open(request, db, viewer, pack_id)
    return render(request, "scrutiny_pack.html", {"pack": pack, "rows": rows})


def _numbered(rows: list[dict[str, Any]], number: str) -> int:
    """The index of the pack's call `number` (a pack-local number, never a call id); 404."""
    if number.isdigit():
        for i, row in enumerate(rows):
            if row["number"] == int(number):
                return i
    raise HTTPException(404, _NOT_FOUND)


def _redacted(turns: list[TurnRow]) -> list[TurnRow]:
    """Agents' spoken names go too: the pack calls them "Agent A"."""
    return [replace(t, text=redact_agent_names(t.text)) for t in turns]


@router.get("/packs/{pack_id}/calls/{number}")
def pack_call(
    request: Request, pack_id: int, number: str, viewer: MemberViewer, db: DbSession
) -> Response:
    pack, data, rows = _open(request, db, viewer, pack_id)
    index = _numbered(rows, number)
    row = rows[index]
    call_id = row["call_id"]
    turns = (
        store(request).transcript(call_id, str(row["call_date"]), restricted=False)
        if row["call_date"]
        else []
    )
    audit_by(db, request, viewer, "view_pack_call", call_id, f"pack {pack.id}")
    has_audio = data is not None and data.audio_file(call_id) is not None
    listen = (
        issue_listen(db, viewer.session, viewer.id, call_id, pack.id, now(request))
        if has_audio
        else ""
    )
    return render(
        request,
        "scrutiny_call.html",
        {
            "pack": pack,
            "call": row,
            "turns": _redacted(turns),
            "has_audio": has_audio,
            "listen": listen,
            "previous": rows[index - 1] if index > 0 else None,
            "next": rows[index + 1] if index + 1 < len(rows) else None,
            "total": len(rows),
            "facts": [(tag, text, row.get(tag)) for tag, text in BOOLEAN_TAGS.items()],
            "qa_checks": [
                (c, text, (row.get("qa_checks") or {}).get(c, row.get(c)))
                for c, text in QA_CHECKS.items()
            ],
        },
    )


@router.get("/packs/{pack_id}/calls/{number}/audio")
def pack_audio(
    request: Request,
    pack_id: int,
    number: str,
    viewer: MemberViewer,
    db: DbSession,
    listen: str = "",
) -> Response:
    """The silenced recording, only with this session's listen token for this call; its
    first use is audited once, whatever the Range headers."""
    pack, data, rows = _open(request, db, viewer, pack_id)
    call_id = rows[_numbered(rows, number)]["call_id"]
    path = data.audio_file(call_id) if data is not None else None
    if path is None:
        raise HTTPException(404, "There is no silenced recording of this call in the pack.")
    first = use_listen(db, listen, viewer.session, viewer.id, call_id, pack.id, now(request))
    if first is None:
        raise HTTPException(403, "Open the call's page to listen to it.")
    if first:
        audit_by(db, request, viewer, "play_audio", call_id, f"pack {pack.id}")
    return FileResponse(path, media_type=AUDIO_TYPES[path.suffix.lower()])
