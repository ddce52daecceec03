"""Hot reads: the few GET endpoints read at city scale (a guardian's inbox) answered before FastAPI's router.

FastAPI's per-request work is fixed whatever the endpoint does — matching the path against every included router's
routes, solving the dependency graph, building the arguments — and for the inbox it cost ~280 µs of CPU a request in
a profile where the use case and its SQL cost the rest (issue 24; docs/benchmarks/issue-24-status.md). A hot read is
the same use case behind a plain ASGI check: the path's template, the caller's token, the query parameters it knows.

Only the plain success is answered here. Anything else — no or a bad token, a parameter it does not know or cannot
read, a Problem from the use case (403, 404, 422) — is passed on to the FastAPI route, which answers it the way it
always has (the use case's transaction was rolled back, so nothing was written twice). So the OpenAPI document, the
problem documents and every rule stay where they are; the hot path only skips the framework for the common case.
It sits inside every other middleware (limits, metrics, CORS, the protected-identity filter), which see it as they
see the route: ``scope["route"]`` carries the same template for the request metrics.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from shared import metrics
from shared.auth import AuthError, KeysUnavailable, Principal, principal_for_token
from shared.problems import Problem


class PassOn(Exception):
    """This request is for the full route (an unknown parameter, a value to validate, an error to answer)."""


@dataclass(frozen=True)
class HotRead:
    #: the FastAPI route's path template, e.g. ``/persons/{person_id}/messages``
    path: str
    #: the answer from the request, the caller and the path's parameters (strings); raises PassOn or Problem to pass on
    answer: Callable[[Request, Principal, dict[str, str]], Awaitable[Response]]
    pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path)
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))


class _Template:
    """What the request metrics read from ``scope["route"]``: the template; and this read's own counters."""

    def __init__(self, service: str, path: str) -> None:
        self.path = path
        self.answered = metrics.HOT_READS.labels(service, path, "answered")
        self.passed_on = metrics.HOT_READS.labels(service, path, "passed-on")


async def caller_of(request: Request) -> Principal:
    """The verified caller, as shared.auth.require gives it (without a role check); PassOn when there is none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise PassOn
    try:
        return await principal_for_token(request.app, token.strip())
    except (AuthError, KeysUnavailable):
        raise PassOn from None


UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
WHOLE_NUMBER = re.compile(r"[0-9]{1,6}\Z")


def uuid_text(value: str) -> str:
    """A UUID in its usual form; PassOn for any other (the route's validation reads the other forms, or refuses them)."""
    if not UUID_TEXT.match(value):
        raise PassOn
    return value


def whole_number(value: str | None, default: int, low: int, high: int) -> int:
    """A parameter's plain decimal number within [low, high]; PassOn for anything else (the route answers 422)."""
    if value is None:
        return default
    if not WHOLE_NUMBER.match(value) or not low <= int(value) <= high:
        raise PassOn
    return int(value)


def one_of(value: str | None, allowed: frozenset[str]) -> str | None:
    if value is not None and value not in allowed:
        raise PassOn
    return value


def query_of(request: Request, known: frozenset[str]) -> dict[str, str]:
    """The query's parameters, each once and each one this read knows; PassOn otherwise."""
    items = request.query_params.multi_items()
    names = [name for name, _ in items]
    if len(set(names)) != len(names) or not set(names) <= known:
        raise PassOn
    return dict(items)


class HotReads:
    def __init__(self, app: ASGIApp, reads: Sequence[HotRead], service: str) -> None:
        self.app = app
        self.reads = [(read, _Template(service, read.path)) for read in reads]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            for read, template in self.reads:
                matched = read.pattern.match(scope["path"])
                if matched is None:
                    continue
                request = Request(scope, receive)
                try:
                    response = await read.answer(request, await caller_of(request), matched.groupdict())
                except (PassOn, Problem):
                    template.passed_on.inc()
                    break
                template.answered.inc()
                scope["route"] = template
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
