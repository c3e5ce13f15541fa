"""The pages every role may see: signing in and the account (`account`), and the monthly
figures (`figures`); `router` serves them all."""

from fastapi import APIRouter

from review.routes_common import account, figures

__all__ = ["router"]

router = APIRouter(routes=[r for pages in (account, figures) for r in pages.router.routes])
