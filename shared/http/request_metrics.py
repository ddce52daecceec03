"""Every request's duration by route template and status (``skolit_http_request_duration_seconds``).

A pure ASGI middleware rather than FastAPI's ``@app.middleware("http")``: that one (Starlette's BaseHTTPMiddleware)
runs the route in a task of its own and pipes the response through a memory stream, which costs every request
(issue 24's profile of the 500-reads/s benchmark). Here the status is read from the ``http.response.start`` message
as it passes, and the route template from the scope the router filled in.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import metrics


class RequestMetrics:
    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the application raises before answering

        async def send_and_observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_observe)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            metrics.HTTP_DURATION.labels(self.service, scope["method"], template, str(status)).observe(time.perf_counter() - started)
