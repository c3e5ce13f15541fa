"""Quality leads' pages: the review queue, a call's page and review form, agents and their
coaching, and the reviews saved. Each module owns one; `router` serves them all."""

from fastapi import APIRouter

from review.routes_lead import agents, call, queue, review_form, reviews

__all__ = ["router"]

router = APIRouter(
    routes=[r for pages in (queue, call, review_form, agents, reviews) for r in pages.router.routes]
)
