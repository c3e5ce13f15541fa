"""The review web app: `create_app()` builds it, `serve()` runs it under uvicorn."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from review import routes_admin, routes_common, routes_lead, routes_scrutiny
from review.data import OutputStore
from review.db import default_db_url, make_engine, make_sessionmaker, migrate
from review.security import SecurityMiddleware, load_secret_key
from review.web import LoginRequired, make_templates, render

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
    secret_key: bytes | None = None,
) -> FastAPI:
    """The app over one output folder; runs the database migrations before returning.

    `db_url` None keeps the database in `<out>/.callqa/review.sqlite`; `secret_key` None
    uses (or makes, mode 0600) `<out>/.callqa/review_secret.key`.
    """
    out_dir = Path(out_dir)
    engine = make_engine(db_url or default_db_url(out_dir))
    migrate(engine)
    key = secret_key or load_secret_key(out_dir)

    app = FastAPI(title="callqa review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = OutputStore(out_dir, Path(recordings_dir) if recordings_dir else None)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.templates = make_templates()
    app.state.secret_key = key
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    for module in (routes_common, routes_lead, routes_scrutiny, routes_admin):
        app.include_router(module.router)
    app.add_middleware(SecurityMiddleware, secret_key=key)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={_quote(target)}", 303)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        title = _TITLES.get(exc.status_code, "Sorry, there is a problem")
        return render(
            request, "error.html", {"title": title, "message": exc.detail}, exc.status_code
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, _exc: RequestValidationError) -> Response:
        message = "The address has a value this page cannot use."
        return render(request, "error.html", {"title": _TITLES[422], "message": message}, 422)

    return app


def _quote(target: str) -> str:
    return quote(target, safe="/")


def serve(
    out_dir: Path,
    db_url: str | None,
    host: str = "127.0.0.1",
    port: int = 8000,
    recordings_dir: Path | None = None,
) -> None:
    """Run the app with uvicorn until interrupted (`callqa review`)."""
    import uvicorn

    uvicorn.run(create_app(out_dir, db_url, recordings_dir), host=host, port=port, log_level="info")
