"""The review web app: `create_app()` builds it, `serve()` runs it under uvicorn."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from review import routes_admin, routes_common, routes_lead, routes_scrutiny, routes_search
from review.data import OutputStore
from review.db import default_db_url, make_engine, make_sessionmaker, migrate
from review.search import TranscriptSearch
from review.security import SecurityMiddleware, load_keys, parse_proxies
from review.sessions import Clock, default_clock
from review.web import CSRFRefused, LoginRequired, audit, make_templates, render

__all__ = ["create_app", "serve"]

_STATIC = Path(__file__).parent / "static"
_TITLES = {
    400: "Something in the form needs fixing",
    403: "You do not have access to this page",
    404: "Page not found",
    405: "That cannot be done here",
    422: "Something in the address needs fixing",
}


def create_app(
    out_dir: Path,
    db_url: str | None,
    recordings_dir: Path | None,
    *,
    state_dir: Path | None = None,
    packs_dir: Path | None = None,
    behind_tls: bool = False,
    trusted_proxies: Sequence[str] = (),
    clock: Clock = default_clock,
) -> FastAPI:
    """The app over one output folder; runs the database migrations before returning.

    `db_url` None keeps the database in `<out>/.callqa/review.sqlite`. The keys live in
    `state_dir` (default: the `review_state_dir` setting), made there (0600) when missing;
    CallQAError (one line) when they cannot be, or are empty or short. Only scrutiny packs
    under `packs_dir` can be registered. `behind_tls` makes cookies `__Host-` and Secure and
    sends HSTS; X-Forwarded-For is believed only from `trusted_proxies`. `clock` gives the time
    (sessions, listens, throttling).
    """
    out_dir = Path(out_dir)
    if state_dir is None:
        from pipeline.config import default_review_state_dir

        state_dir = default_review_state_dir()
    keys = load_keys(Path(state_dir), out_dir)
    proxies = parse_proxies(trusted_proxies)
    engine = make_engine(db_url or default_db_url(out_dir))
    migrate(engine)

    app = FastAPI(title="callqa review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = OutputStore(out_dir, Path(recordings_dir) if recordings_dir else None)
    app.state.search = TranscriptSearch(out_dir)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.templates = make_templates()
    app.state.keys = keys
    app.state.packs_dir = Path(packs_dir) if packs_dir is not None else None
    app.state.state_dir = Path(state_dir)
    app.state.clock = clock
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    for module in (routes_common, routes_lead, routes_search, routes_scrutiny, routes_admin):
        app.include_router(module.router)
    app.add_middleware(
        SecurityMiddleware, keys=keys, behind_tls=behind_tls, trusted_proxies=proxies
    )

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={_quote(target)}", 303)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 403:
            # Every refusal is in the audit log: a member probing ids is seen.
            action = "csrf_failed" if isinstance(exc, CSRFRefused) else "refused"
            await run_in_threadpool(_audit_refusal, request, action, str(exc.detail))
        elif exc.status_code == 404 and getattr(request.state, "viewer", None) is not None:
            # A signed-in user asking for what is not there is probing too, or a stale link.
            await run_in_threadpool(_audit_refusal, request, "not_found", str(exc.detail))
        title = _TITLES.get(exc.status_code, "Sorry, there is a problem")
        return render(
            request, "error.html", {"title": title, "message": exc.detail}, exc.status_code
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, _exc: RequestValidationError) -> Response:
        message = "The address has a value this page cannot use."
        return render(request, "error.html", {"title": _TITLES[422], "message": message}, 422)

    return app


def _audit_refusal(request: Request, action: str, detail: str) -> None:
    viewer = getattr(request.state, "viewer", None)
    with request.app.state.sessionmaker() as db:
        audit(
            db,
            request,
            viewer.name if viewer else "anonymous",
            viewer.role if viewer else "",
            action,
            request.url.path,
            f"{request.method}: {detail}"[:500],
        )


def _quote(target: str) -> str:
    return quote(target, safe="/")


def serve(
    out_dir: Path,
    db_url: str | None,
    host: str = "127.0.0.1",
    port: int = 8000,
    recordings_dir: Path | None = None,
    *,
    state_dir: Path | None = None,
    packs_dir: Path | None = None,
    behind_tls: bool = False,
    trusted_proxies: Sequence[str] = (),
) -> None:
    """Run the app with uvicorn until interrupted (`callqa review`). Raises CallQAError (one
    line) before listening when the keys or settings are not usable."""
    import uvicorn

    app = create_app(
        out_dir,
        db_url,
        recordings_dir,
        state_dir=state_dir,
        packs_dir=packs_dir,
        behind_tls=behind_tls,
        trusted_proxies=trusted_proxies,
    )
    # uvicorn's own proxy-header handling would rewrite the client address before the app
    # sees it; the app decides whom to believe (review/security.py, client_address).
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
