"""A quality lead's scope (the queues and teams they review) over the screened calls: which
calls they see, which filter choices, and which call pages open for them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from fastapi import HTTPException, Request

from review.web import Viewer, in_scope, store

__all__ = ["call_or_404", "scope_options", "scoped"]


def scoped(viewer: Viewer, calls: pd.DataFrame) -> pd.DataFrame:
    """The calls inside a quality lead's scope (all of them when they have none)."""
    if not viewer.scope or calls.empty:
        return calls
    mask = np.zeros(len(calls), dtype=bool)
    for item in viewer.scope:
        kind, _, value = item.partition(":")
        if kind in ("queue", "team") and kind in calls.columns:
            mask |= (calls[kind] == value).to_numpy()
    return calls[mask]


def scope_options(viewer: Viewer, every: list[str], calls: pd.DataFrame, column: str) -> list[str]:
    """A filter's choices: all of them, or only those seen inside the lead's scope."""
    if not viewer.scope or column not in calls.columns:
        return every
    return sorted({str(v) for v in scoped(viewer, calls)[column].dropna()})


def call_or_404(request: Request, call_id: str, viewer: Viewer) -> dict[str, Any]:
    """The call's row; 404 for an unknown id, 403 outside the lead's scope (audited).

    A safeguarding call opens for every quality lead, scope or not: it is pinned to every
    lead's queue, and its page (transcript, audio, review form) is where they act on it."""
    row = store(request).call(call_id)
    if row is None:
        raise HTTPException(404, "There is no call with that id in the screening output.")
    if not in_scope(viewer, row) and row.get("safeguarding") is not True:
        raise HTTPException(403, "This call is outside the queues and teams you review.")
    return row
