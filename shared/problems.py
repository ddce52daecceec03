"""RFC 9457 problem details for every HTTP error: a clear reason, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shared.outbox import EventTooLarge

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://skolit.se/problems/"


class Problem(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str | None = None, *, type_: str | None = None, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_ or TYPE_BASE + title.lower().replace(" ", "-")
        self.headers = headers
        self.extra = extra


def problem_response(request: Request, status: int, title: str, detail: str | None = None, *, type_: str | None = None, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_ or TYPE_BASE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


TITLES = {413: "Content too large", 400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed", 406: "Not acceptable", 409: "Conflict", 415: "Unsupported media type", 422: "Invalid request", 503: "Service unavailable"}


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on the request's path."""
    methods: set[str] = set()
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        scope = dict(request.scope, method=method)
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            methods.add(method)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc.status, exc.title, exc.detail, type_=exc.type, headers=exc.headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = TITLES.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            # Starlette names only the methods of the first route on the path; a path has one route per method here.
            allowed = allowed_methods(request)
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
            detail = f"{request.method} is not served here; this path serves {', '.join(allowed)}"
        return problem_response(request, exc.status_code, title, detail, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = error_list(exc.errors())
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
        return problem_response(request, 422, "Invalid request", detail, field=errors[0]["location"] if errors else None, errors=errors)

    # PostgreSQL text (and jsonb) cannot hold U+0000: such input is the caller's to fix, not a server error.
    @app.exception_handler(asyncpg.CharacterNotInRepertoireError)
    @app.exception_handler(asyncpg.UntranslatableCharacterError)
    async def _unstorable_text(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(request, 422, "Invalid request", "text must not contain the NUL character (U+0000)")

    # The change would make an event over the size policy (shared/topics.py): refused before anything is written.
    @app.exception_handler(EventTooLarge)
    async def _event_too_large(request: Request, exc: EventTooLarge) -> JSONResponse:
        detail = f"{exc} Shorten the text fields of the request."
        return problem_response(request, 413, "Content too large", detail, field="body", errors=[{"location": "body", "message": detail}])

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, 500, "Internal error", "The server could not complete the request; the error is logged.")


_PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "instance": {"type": "string"},
        "field": {"type": "string", "description": "the request field at fault, when there is one"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {"location": {"type": "string"}, "message": {"type": "string"}}}},
    },
}
_DESCRIPTIONS = {
    401: "No valid bearer token", 403: "The caller's role or school units do not allow this", 404: "No such resource",
    409: "The resource's state does not allow this now (locked, closed, past the deadline)", 422: "The request is invalid; `field` names what",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problem documents a route can answer with."""
    return {s: {"description": _DESCRIPTIONS.get(s, TITLES.get(s, "Error")), "content": {MEDIA_TYPE: {"schema": _PROBLEM_SCHEMA}}} for s in statuses}


def rejected(status: int, detail: str, field: str | None) -> Problem:
    """A problem naming the field at fault, shaped like FastAPI's own validation errors."""
    extra: dict[str, Any] = {"field": field, "errors": [{"location": field, "message": detail}]} if field else {}
    return Problem(status, TITLES.get(status, "Error"), detail, **extra)


def error_list(errors: Any) -> list[dict[str, str]]:
    """pydantic's errors as ``{location, message}``: the shape of every problem's ``errors``."""
    return [{"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")} for e in errors]


def invalid(exc: Any) -> Problem:
    """A 422 problem from a pydantic ValidationError raised inside a route (e.g. a merged record)."""
    errors = error_list(exc.errors())
    detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
    return Problem(422, "Invalid request", detail, field=errors[0]["location"] if errors else None, errors=errors)
