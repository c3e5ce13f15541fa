"""The reviews leads saved (`/reviews`), as the reviews table holds them, page by page or as
a download."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from review.export import read_reviews
from review.tables import FormatQuery, page_action, table_response
from review.web import DbSession, LeadViewer, audit_by, in_scope, paged, render, store, today

__all__ = ["REVIEWS_PAGE_SIZE", "router"]

router = APIRouter()

#: Review rows listed per page of /reviews (the download has them all).
REVIEWS_PAGE_SIZE = 50


@router.get("/reviews")
def reviews(
    request: Request, viewer: LeadViewer, db: DbSession, page: int = 1, fmt: FormatQuery = ""
) -> Response:
    """The reviews leads saved, as `<out>/reviews/reviews.parquet` holds them: one row per
    judged tag of the newest review of each call, inside the lead's scope."""
    data = store(request)
    rows = read_reviews(data.out_dir)
    if viewer.scope and not rows.empty:
        inside = {c: in_scope(viewer, data.call(c) or {}) for c in rows["call_id"].unique()}
        rows = rows[rows["call_id"].map(inside).to_numpy(dtype=bool)]
    audit_by(db, request, viewer, page_action("reviews", fmt), "", fmt)
    if fmt:
        return table_response(rows, f"reviews-{today(request)}", fmt)
    page, pages = paged(len(rows), page, REVIEWS_PAGE_SIZE)
    shown = rows.iloc[(page - 1) * REVIEWS_PAGE_SIZE : page * REVIEWS_PAGE_SIZE]
    return render(
        request,
        "reviews.html",
        {"rows": shown.to_dict("records"), "total": len(rows), "page": page, "pages": pages},
    )
