"""Calling the services on behalf of the signed-in person: their access token, their language, /v1.

A page never talks to a database or a topic: it calls ``api(request).get("assessment", "/campaigns")`` and renders
what comes back. What goes wrong becomes one of a few exceptions the app turns into pages (web/app.py): the session
ended (sign in again, keeping the form), not allowed (403 page), not found (404 page), the service not answering
(503 page). A 422 or 409 is the page's to show next to the fields: ``ApiProblem.field_errors``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from web.session import current

log = logging.getLogger("web.api")


class SignInAgain(Exception):
    """No session, or the services refused its token: the person signs in again."""


class ApiProblem(Exception):
    """An RFC 9457 problem from a service."""

    def __init__(self, service: str, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{service}: {status} {problem.get('detail') or problem.get('title')}")
        self.service = service
        self.status = status
        self.problem = problem

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or "")

    def field_errors(self) -> dict[str, str]:
        """``{field: message}`` with the field as the request named it, without its location prefix (``body.deadline`` → ``deadline``)."""
        found: dict[str, str] = {}
        for error in self.problem.get("errors") or []:
            location = str(error.get("location") or "")
            name = location.split(".", 1)[1] if location.startswith(("body.", "query.", "path.")) else location
            found.setdefault(name, str(error.get("message") or ""))
        if not found and self.problem.get("field"):
            field = str(self.problem["field"])
            found[field.split(".", 1)[1] if "." in field else field] = self.detail
        return found


class ServiceUnavailable(Exception):
    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service


class Api:
    def __init__(self, request: Request) -> None:
        self.request = request
        self.http: httpx.AsyncClient = request.app.state.http
        self.bases: dict[str, str] = request.app.state.settings.services
        self.session = current(request)

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        if self.session is None:
            raise SignInAgain()
        lang = getattr(self.request.state, "lang", "sv")
        return {"Authorization": f"Bearer {self.session.token}", "Accept-Language": lang, **(extra or {})}

    async def call(self, method: str, service: str, path: str, *, params: dict[str, Any] | None = None, json_body: Any = None,
                   headers: dict[str, str] | None = None, raw: bool = False) -> Any:
        url = f"{self.bases[service]}/v1{path}"
        clean = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        started = time.perf_counter()
        try:
            r = await self.http.request(method, url, params=clean, json=json_body, headers=self._headers(headers), timeout=20)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(service, type(exc).__name__) from None
        finally:
            timings = getattr(self.request.state, "api_ms", None)
            if timings is not None:
                timings.append((service, round((time.perf_counter() - started) * 1000, 1)))
        if r.status_code == 401:
            raise SignInAgain()
        if r.status_code >= 500:
            log.warning("%s %s %s: %s", method, url, r.status_code, r.text[:300])
            raise ServiceUnavailable(service, f"status {r.status_code}")
        if r.status_code >= 400:
            try:
                problem = r.json()
            except json.JSONDecodeError:
                problem = {"title": r.reason_phrase, "status": r.status_code}
            raise ApiProblem(service, r.status_code, problem if isinstance(problem, dict) else {"detail": str(problem)})
        if raw:
            return r
        if r.status_code == 204 or not r.content:
            return None
        return r.json()

    async def get(self, service: str, path: str, **params: Any) -> Any:
        return await self.call("GET", service, path, params=params)

    async def post(self, service: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        return await self.call("POST", service, path, json_body=body if body is not None else {}, **kwargs)

    async def put(self, service: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        return await self.call("PUT", service, path, json_body=body, **kwargs)

    async def patch(self, service: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        return await self.call("PATCH", service, path, json_body=body, **kwargs)

    async def delete(self, service: str, path: str, **kwargs: Any) -> Any:
        return await self.call("DELETE", service, path, **kwargs)

    async def download(self, service: str, path: str, filename: str, *, params: dict[str, Any] | None = None,
                       accept: str = "text/csv") -> Response:
        """A file from a service streamed on to the browser as a download: the person's token stays in the app."""
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        outgoing = self.http.build_request("GET", f"{self.bases[service]}/v1{path}", params=clean, headers=self._headers({"Accept": accept}),
                                           timeout=60)
        try:
            answer = await self.http.send(outgoing, stream=True)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(service, type(exc).__name__) from None
        headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
        if answer.status_code != 200:
            await answer.aclose()
            # asked again the ordinary way, which turns a refusal into the page every other refusal gets
            again = await self.call("GET", service, path, params=clean, headers={"Accept": accept}, raw=True)
            return Response(again.content, media_type=again.headers.get("content-type", accept), headers=headers)

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in answer.aiter_bytes():
                    yield chunk
            finally:
                await answer.aclose()

        return StreamingResponse(body(), media_type=answer.headers.get("content-type", accept), headers=headers)

    async def all_pages(self, service: str, path: str, *, limit: int = 200, most: int = 2000, **params: Any) -> list[Any]:
        """Every item of a paged list (``{items, next}``), up to ``most``."""
        items: list[Any] = []
        cursor: str | None = None
        while True:
            page = await self.get(service, path, limit=limit, cursor=cursor, **params)
            items.extend(page.get("items", []))
            cursor = page.get("next")
            if not cursor or len(items) >= most:
                return items


def api(request: Request) -> Api:
    return Api(request)
