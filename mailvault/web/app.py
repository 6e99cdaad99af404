"""The FastAPI application: pages, the JSON API under /api, and the protections every response
gets (security headers, no caching of archive data, one-line errors)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from mailvault import __version__
from mailvault.config import Settings
from mailvault.errors import ArchiveError, MailvaultError, NotFoundError, SearchIndexError
from mailvault.web.context import Forbidden, SignInRequired, StaleForm, WebState, translator

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

# Pages load nothing but our own stylesheet; a message page loosens this for its frame only.
DEFAULT_POLICY = (
    "default-src 'none'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.web = WebState(settings)
        try:
            yield
        finally:
            app.state.web.close()

    app = FastAPI(
        title="mailvault",
        version=__version__,
        description="The company mail archive: search, messages, conversations, customers, exports, audit.",
        lifespan=lifespan,
        docs_url=None,  # the interactive docs load scripts from a CDN; the schema is enough
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    from mailvault.web import (  # they need `templates`
        api,
        pages,
        pages_admin,
        pages_alerts,
        pages_customers,
        pages_handover,
    )

    app.include_router(pages.router)
    app.include_router(pages_admin.router)
    app.include_router(pages_customers.router)
    app.include_router(pages_customers.api_router)
    app.include_router(pages_handover.router)
    app.include_router(pages_alerts.router)
    app.include_router(api.router)
    app.middleware("http")(_protect)
    app.exception_handler(SignInRequired)(_sign_in)
    app.exception_handler(Forbidden)(_forbidden)
    app.exception_handler(NotFoundError)(_not_found)
    app.exception_handler(MailvaultError)(_failed)
    return app


async def _protect(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", DEFAULT_POLICY)
    if not request.url.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def _sign_in(request: Request, exc: Exception) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": "sign in first: POST /api/login"}, status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)  # noqa: S101 (registered for this type only)
    if exc.hide:
        return await _not_found(request, NotFoundError(str(exc)))
    t = translator(request)
    if _wants_json(request):
        return JSONResponse({"error": str(exc)}, status_code=403)
    if isinstance(exc, StaleForm):
        return error_page(
            request, 403, t("Not allowed"), t("The form is out of date; reload the page and try again.")
        )
    return error_page(request, 403, t("Not allowed"), t("You may not do this with your role."))


async def _not_found(request: Request, exc: Exception) -> Response:
    t = translator(request)
    # The same answer whether the message does not exist or may not be read by this user.
    if _wants_json(request):
        return JSONResponse({"error": "not found"}, status_code=404)
    return error_page(request, 404, t("Not found"), t("There is no such message, or you may not read it."))


async def _failed(request: Request, exc: Exception) -> Response:
    status = 503 if isinstance(exc, ArchiveError | SearchIndexError) else 400
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    if _wants_json(request):
        return JSONResponse({"error": str(exc)}, status_code=status)
    t = translator(request)
    return error_page(request, status, t("Something went wrong"), str(exc))


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    viewer = getattr(request.state, "viewer", None)
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "t": translator(request),
            "viewer": viewer,
            "csrf": viewer.csrf_token if viewer else "",
            "title": title,
            "message": message,
            "section": "",
        },
        status_code=status,
    )
