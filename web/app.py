"""The web app: one FastAPI application of server-rendered pages, each area in web/pages/."""

from __future__ import annotations

import hashlib
import importlib
import logging
import pkgutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from web import i18n, pages
from web.api import ApiProblem, ServiceUnavailable, SignInAgain
from web.oidc import Provider
from web.rendering import render
from web.security import HEADERS, CsrfRefused, csrf_value, remember_visitor
from web.session import LANG_COOKIE, Sealer, current, keep_form
from web.settings import WebSettings

log = logging.getLogger("web")
STATIC = Path(__file__).resolve().parent / "static"
#: who a token belongs to, as the services see them (GET /v1/me): asked once a minute per session, not on every page
ME_SECONDS = 60
UNPREPARED = ("/static/", "/healthz", "/readyz", "/metrics")


def _load_pages(app: FastAPI) -> None:
    """Every module of web/pages/ with a ``router`` is an area of the app."""
    for module in pkgutil.iter_modules(pages.__path__):
        loaded = importlib.import_module(f"web.pages.{module.name}")
        router = getattr(loaded, "router", None)
        if router is not None:
            app.include_router(router)


def create_app(settings: WebSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.http = httpx.AsyncClient(limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
        app.state.provider = Provider(settings, app.state.http)
        try:
            yield
        finally:
            await app.state.http.aclose()

    app = FastAPI(title="Skolit web", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.sealer = Sealer(settings.session_secret)
    app.state.me_cache = {}
    registry = CollectorRegistry()
    page_seconds = Histogram("skolit_web_page_seconds", "Server time per page, by route and status", ["route", "method", "status"],
                             registry=registry, buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
    app.state.registry = registry
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.middleware("http")
    async def prepare(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        request.state.api_ms = []
        lang = request.cookies.get(LANG_COOKIE)
        request.state.lang = lang if lang in i18n.LANGUAGES else i18n.DEFAULT
        request.state.me = None
        csrf, new_visitor = csrf_value(request)
        request.state.csrf = csrf
        if not request.url.path.startswith(UNPREPARED) and current(request) is not None:
            request.state.me = await _who(request)
        response = await call_next(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers.setdefault("Cache-Control", "no-store")
        if new_visitor and not request.url.path.startswith(UNPREPARED):
            remember_visitor(request, response, csrf)
        route = request.scope.get("route")
        page_seconds.labels(getattr(route, "path", "unmatched"), request.method, str(response.status_code)).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(SignInAgain)
    async def sign_in_again(request: Request, exc: SignInAgain) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        posted = getattr(request.state, "posted_fields", None)
        if request.method == "POST":
            # a page of this site first: the CSP's form-action forbids a form's redirect to go on to the provider
            response = RedirectResponse(f"/session-ended?next={quote(target)}", status_code=303)
            if posted:
                keep_form(request, response, request.url.path, posted)
        else:
            response = RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        if current(request) is not None:  # the services refused its token: it is of no use any more
            response.delete_cookie("skolit_session", path="/")
        return response

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return render(request, "core/error.html", status=403, kind="csrf")

    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, exc: ApiProblem) -> Response:
        # a page that expects a problem catches it itself; one that reaches here is a page that cannot be shown
        kind = {403: "forbidden", 404: "not_found", 409: "conflict"}.get(exc.status, "bad_request")
        return render(request, "core/error.html", status=exc.status if exc.status in (403, 404, 409) else 400, kind=kind, detail=exc.detail)

    @app.exception_handler(ServiceUnavailable)
    async def unavailable(request: Request, exc: ServiceUnavailable) -> Response:
        log.warning("service unavailable: %s", exc)
        return render(request, "core/error.html", status=503, kind="unavailable", headers={"Retry-After": "30"})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        kind = {404: "not_found", 403: "forbidden", 405: "not_found"}.get(exc.status_code, "bad_request")
        return render(request, "core/error.html", status=exc.status_code, kind=kind)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return render(request, "core/error.html", status=404 if request.method == "GET" else 400, kind="not_found" if request.method == "GET" else "bad_request")

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("page failed: %s %s", request.method, request.url.path)
        return render(request, "core/error.html", status=500, kind="crashed")

    @app.get("/healthz", include_in_schema=False)
    @app.get("/readyz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        # the web app holds no state of its own: up is ready (a service it calls that is down shows as a 503 page)
        return {"status": "ok", "service": "web"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    _load_pages(app)
    return app


async def _who(request: Request) -> dict[str, Any] | None:
    """The signed-in person as the services know them (GET /v1/me), cached a minute; None when it cannot be had."""
    from web.api import Api

    session = current(request)
    assert session is not None
    key = hashlib.sha256(session.token.encode()).hexdigest()
    cache: dict[str, tuple[float, dict[str, Any]]] = request.app.state.me_cache
    hit = cache.get(key)
    if hit and time.monotonic() - hit[0] < ME_SECONDS:
        return hit[1]
    try:
        me = await Api(request).get("assessment", "/me")
    except SignInAgain:
        request.state.session = None  # the token is refused: treat the visitor as signed out
        return None
    except (ServiceUnavailable, ApiProblem):
        return {"person": {"id": session.person, "name": session.name}, "roles": [], "schoolUnits": [], "districts": [], "partial": True}
    if len(cache) > 5000:
        cache.clear()
    cache[key] = (time.monotonic(), me)
    return me
