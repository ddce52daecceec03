"""The API's version is in the path: ``/v1/...`` (docs/api.md, "Versions").

Every operation is served under ``/v1``, which the OpenAPI documents name as their server. The same operations
answer without the prefix too, for the clients and tools written before the prefix (and for operators' probes:
/healthz, /readyz, /metrics stay unversioned). Those unprefixed answers carry ``Deprecation`` and a ``Link`` to the
versioned path; a version that is not served is a 404 problem naming the path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

CURRENT = "/v1"
#: for operators and tooling, never versioned
UNVERSIONED = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/asyncapi.json", "/docs", "/redoc")


class VersionPrefix:
    """Strips ``/v1`` before routing; marks unprefixed API calls as deprecated aliases."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == CURRENT or path.startswith(CURRENT + "/"):
            inner = path[len(CURRENT):] or "/"
            raw = scope.get("raw_path") or quote(path).encode()
            raw_inner = raw[len(CURRENT):] if raw.startswith(CURRENT.encode()) else quote(inner).encode()
            scope = dict(scope, path=inner, raw_path=raw_inner or b"/")
            await self.app(scope, receive, send)
            return
        if path.startswith(UNVERSIONED) or path == "/":
            await self.app(scope, receive, send)
            return

        async def deprecated(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"deprecation", b"true"))
                # the path as it came on the wire (percent-encoded): a decoded one may hold bytes no header may carry
                raw = scope.get("raw_path") or quote(path).encode()
                headers.append((b"link", b"<" + CURRENT.encode() + raw + b'>; rel="successor-version"'))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, deprecated)
