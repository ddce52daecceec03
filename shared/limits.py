"""Refuse oversized requests before they cost anything: bodies over a limit get 413, header sections
over a limit get 431, both as RFC 9457 problem documents.

A pure ASGI middleware (no BaseHTTPMiddleware, so bodies keep streaming): it checks the header bytes
and ``Content-Length`` before the application runs, and counts the body bytes as the application
reads them, which catches chunked requests that announce no length. The answer is sent with
``Connection: close`` so the rest of an unread body is never read.

Limits come from the environment:

    SKOLIT_MAX_BODY_BYTES            every route (default 1 MiB)
    SKOLIT_MAX_HEADER_BYTES          all header lines of a request together (default 16 KiB)
    SKOLIT_CATALOG_MAX_IMPORT_BYTES  the catalog's ``POST /apps/import`` CSV upload (default 20 MiB)

uvicorn's HTTP parser (h11) gives up on a request head larger than its own buffer with a plain-text
400 before any application code runs; ``h11_buffer_bytes`` is what the services pass it so that a
head between our limit and that size gets our 431 (see shared/cli.py).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from shared.problems import MEDIA_TYPE, TYPE_BASE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KIB = 1024
MIB = 1024 * KIB
DEFAULT_MAX_BODY_BYTES = 1 * MIB
DEFAULT_MAX_HEADER_BYTES = 16 * KIB
#: routes that legitimately take more than the default: service → (method, path) → (variable, default)
PATH_LIMITS: Mapping[str, Mapping[tuple[str, str], tuple[str, int]]] = {
    # services/catalog/routes/bulk.py refuses imports over 20 MB itself; this lets them get that far
    "catalog": {("POST", "/apps/import"): ("SKOLIT_CATALOG_MAX_IMPORT_BYTES", 20 * MIB)},
    # connectors/imports/ refuses files over 10 MB (or 100,000 rows) itself, naming the limit
    "connector": {("POST", "/imports/school-figures"): ("SKOLIT_CONNECTOR_MAX_IMPORT_BYTES", 10 * MIB),
                  ("POST", "/imports/app-launches"): ("SKOLIT_CONNECTOR_MAX_IMPORT_BYTES", 10 * MIB)},
}


def _bytes_from_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = int(raw)
    if value <= 0:
        raise ValueError(f"{name} must be a positive number of bytes, not {raw!r}")
    return value


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    #: (method, exact path) → the body limit for that route instead of ``max_body_bytes``
    path_body_bytes: Mapping[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def from_env(cls, service: str) -> Limits:
        return cls(
            max_body_bytes=_bytes_from_env("SKOLIT_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            max_header_bytes=_bytes_from_env("SKOLIT_MAX_HEADER_BYTES", DEFAULT_MAX_HEADER_BYTES),
            path_body_bytes={route: _bytes_from_env(var, default) for route, (var, default) in PATH_LIMITS.get(service, {}).items()},
        )

    def body_limit(self, method: str, path: str) -> int:
        return self.path_body_bytes.get((method, path), self.max_body_bytes)

    @property
    def h11_buffer_bytes(self) -> int:
        """The request-head size uvicorn's h11 parser accepts: well above ``max_header_bytes``, so the
        middleware (not h11's plain 400) answers heads between the two."""
        return max(4 * self.max_header_bytes, 64 * KIB)


class _BodyTooLarge(Exception):
    pass


def header_bytes(headers: list[tuple[bytes, bytes]]) -> int:
    """The size of the header section as it came on the wire: ``name: value\\r\\n`` per field."""
    return sum(len(name) + len(value) + 4 for name, value in headers)


class RequestLimits:
    """ASGI middleware: 431 for a header section over the limit, 413 for a body over it."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size = header_bytes(scope.get("headers") or [])
        if size > self.limits.max_header_bytes:
            await _problem(send, scope, 431, "Request header fields too large",
                           f"the request's header fields take {size} bytes; at most {_human(self.limits.max_header_bytes)} are accepted",
                           maxBytes=self.limits.max_header_bytes)
            return
        limit = self.limits.body_limit(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _problem(send, scope, 413, "Content too large", _too_large(limit, f"{declared} bytes are declared"), maxBytes=limit)
            return

        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # whatever the application makes of the aborted read, the answer is ours
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _problem(send, scope, 413, "Content too large", _too_large(limit, "more were sent"), maxBytes=limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server's parser refuses these before we see them
    return None


def _too_large(limit: int, what: str) -> str:
    return f"the request body may have at most {_human(limit)}; {what}"


def _human(n: int) -> str:
    for unit, size in (("MiB", MIB), ("KiB", KIB)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


async def _problem(send: Send, scope: Scope, status: int, title: str, detail: str, **extra: Any) -> None:
    body = orjson.dumps({"type": TYPE_BASE + title.lower().replace(" ", "-"), "title": title, "status": status,
                         "detail": detail, "instance": scope.get("path", ""), **extra})
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
