"""The SS 12000 API over the generated city: OAuth2 client credentials at
/token, the five lists with limit/pageToken/meta.modified.after/meta.created.after, single entities, /deletedEntities,
/subscriptions, errors as the standard's ``{"code", "message"}``. Faults (429 with Retry-After, 500) are drawn per list
request from a seeded generator, so a test sees the same faults on every run; the test control API is in control.py."""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
from collections import Counter, deque
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from devkit.ss12000.citygen import City
from devkit.ss12000.entities import RESOURCE_TYPES, Entities
from devkit.ss12000.store import Clock, Store, UnknownEntity
from devkit.ss12000.webhooks import InvalidSubscription, Webhooks

TYPE_TO_RESOURCE = {v: k for k, v in RESOURCE_TYPES.items()}
DEFAULT_LIMIT = 100


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def parse_time(name: str, value: str) -> int:
    """RFC 3339 with a time zone → microseconds since the epoch; 400 naming the parameter otherwise."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "InvalidParameter", f"{name}: not an RFC 3339 date-time: {value!r}") from None
    if parsed.tzinfo is None:
        raise ApiError(400, "InvalidParameter", f"{name}: a time zone is required (e.g. Z): {value!r}")
    return int(parsed.timestamp()) * 1_000_000 + parsed.microsecond


def encode_token(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(state)).decode().rstrip("=")


def decode_token(token: str, kind: str) -> dict[str, Any]:
    try:
        state = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise ApiError(400, "InvalidParameter", "pageToken: not a page token this server issued") from None
    if not isinstance(state, dict) or state.get("r") != kind:
        raise ApiError(400, "InvalidParameter", "pageToken: issued for another list")
    return state


class Faults:
    """Which list requests fail: ``next`` (queued by a test) first, else with probability ``rate``, alternately 429 and 500."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.rng = random.Random(f"ss12000-faults:{seed}")
        self.queued: deque[int] = deque()
        self._next_is_429 = True

    def draw(self) -> int | None:
        if self.queued:
            return self.queued.popleft()
        if self.rate > 0 and self.rng.random() < self.rate:
            status = 429 if self._next_is_429 else 500
            self._next_is_429 = not self._next_is_429
            return status
        return None


class Ss12000Server:
    """Everything one server holds: the city and its changes, tokens, subscriptions, faults and counts."""

    def __init__(self, city: City, *, client_id: str, client_secret: str, token_seconds: float = 300, faults: float = 0.0,
                 max_page: int = 1000, webhook_client: httpx.AsyncClient | None = None, clock: Clock | None = None) -> None:
        self.city = city
        self.clock = clock or Clock()
        self.store = Store(Entities(city), self.clock)
        self.client_id, self.client_secret = client_id, client_secret
        self.token_seconds = token_seconds
        self.max_page = max_page
        self.faults = Faults(faults, city.seed)
        self.webhooks = Webhooks(webhook_client)
        self.slow_seconds = 0.0
        self.tokens: dict[str, float] = {}  # access token → expiry (Clock.seconds)
        self.tokens_issued = 0
        self.requests: Counter[str] = Counter()
        self.responses: Counter[str] = Counter()
        self.pages: Counter[str] = Counter()
        self.entities_served: Counter[str] = Counter()

    # ---- auth ---------------------------------------------------------------------------------------------------------
    def issue_token(self, form: dict[str, str], authorization: str | None) -> dict[str, Any]:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                client_id = client_secret = None
        if form.get("grant_type") != "client_credentials":
            raise ApiError(400, "unsupported_grant_type", "grant_type: only client_credentials is supported")
        if not (client_id and client_secret and secrets.compare_digest(client_id, self.client_id)
                and secrets.compare_digest(client_secret, self.client_secret)):
            raise ApiError(401, "invalid_client", "client authentication failed", {"WWW-Authenticate": 'Basic realm="ss12000"'})
        token = secrets.token_urlsafe(32)
        self.tokens[token] = self.clock.seconds() + self.token_seconds
        self.tokens_issued += 1
        return {"access_token": token, "token_type": "Bearer", "expires_in": int(self.token_seconds)}

    def authorise(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else None
        expiry = self.tokens.get(token) if token else None
        if expiry is None:
            raise ApiError(401, "Unauthorized", "a valid Bearer access token is required", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if self.clock.seconds() >= expiry:
            del self.tokens[token]  # type: ignore[arg-type]
            raise ApiError(401, "Unauthorized", "the access token has expired",
                           {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="expired"'})

    async def before_list(self) -> None:
        if self.slow_seconds:
            await asyncio.sleep(self.slow_seconds)
        status = self.faults.draw()
        if status == 429:
            raise ApiError(429, "TooManyRequests", "too many requests: retry later", {"Retry-After": "1"})
        if status is not None:
            raise ApiError(status, "InternalServerError", "the server failed (an injected fault)")

    def limit(self, request: Request) -> int:
        raw = request.query_params.get("limit")
        if raw is None:
            return min(DEFAULT_LIMIT, self.max_page)
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, "InvalidParameter", f"limit: not an integer: {raw!r}") from None
        if value < 1:
            raise ApiError(400, "InvalidParameter", "limit: must be at least 1")
        return min(value, self.max_page)

    # ---- lists --------------------------------------------------------------------------------------------------------
    def list_page(self, resource: str, request: Request) -> dict[str, Any]:
        query = request.query_params
        limit = self.limit(request)
        token = query.get("pageToken")
        if token:
            if "meta.modified.after" in query or "meta.created.after" in query:
                raise ApiError(400, "InvalidParameter", "pageToken: cannot be combined with meta.modified.after or meta.created.after "
                                                         "(the token carries the filter)")
            state = decode_token(token, resource)
            try:
                snapshot, after = int(state["t"]), (int(state["k"][0]), str(state["k"][1]))
                modified_after, created_after = state.get("m"), state.get("c")
            except (KeyError, IndexError, TypeError, ValueError):
                raise ApiError(400, "InvalidParameter", "pageToken: not a page token this server issued") from None
        else:
            snapshot, after = self.clock.now_us(), None
            modified_after = parse_time("meta.modified.after", query["meta.modified.after"]) if "meta.modified.after" in query else None
            created_after = parse_time("meta.created.after", query["meta.created.after"]) if "meta.created.after" in query else None
        data, last = self.store.page(resource, snapshot=snapshot, after=after, modified_after=modified_after, created_after=created_after,
                                     limit=limit)
        self.pages[resource] += 1
        self.entities_served[resource] += len(data)
        next_token = None if last is None else encode_token({"r": resource, "t": snapshot, "k": list(last), "m": modified_after,
                                                             "c": created_after})
        return {"data": data, "pageToken": next_token}

    def deleted_page(self, request: Request) -> dict[str, Any]:
        query = request.query_params
        limit = self.limit(request)
        token = query.get("pageToken")
        if token:
            if "after" in query or "entities" in query:
                raise ApiError(400, "InvalidParameter", "pageToken: cannot be combined with after or entities (the token carries them)")
            state = decode_token(token, "deletedEntities")
            try:
                snapshot, position, after_us, types = int(state["t"]), int(state["p"]), state["a"], set(state["e"]) & set(RESOURCE_TYPES)
            except (KeyError, TypeError, ValueError):
                raise ApiError(400, "InvalidParameter", "pageToken: not a page token this server issued") from None
        else:
            snapshot, position = self.clock.now_us(), 0
            after_us = parse_time("after", query["after"]) if "after" in query else None
            names = query.getlist("entities") or list(TYPE_TO_RESOURCE)
            unknown = [n for n in names if n not in TYPE_TO_RESOURCE]
            if unknown:
                raise ApiError(400, "InvalidParameter", f"entities: unknown {unknown}; one of {sorted(TYPE_TO_RESOURCE)}")
            types = {TYPE_TO_RESOURCE[n] for n in names}
        data, next_position = self.store.deleted_page(types, snapshot=snapshot, after_us=after_us, position=position, limit=limit)
        self.pages["deletedEntities"] += 1
        next_token = None if next_position is None else encode_token({"r": "deletedEntities", "t": snapshot, "p": next_position,
                                                                      "a": after_us, "e": sorted(types)})
        return {"data": data, "pageToken": next_token}

    # ---- changes (the control API) ------------------------------------------------------------------------------------
    def changed(self, resource: str, *, deleted: bool = False) -> None:
        self.webhooks.notify(RESOURCE_TYPES[resource], deleted=deleted)

    def stats(self) -> dict[str, Any]:
        return {"requests": dict(self.requests), "responses": dict(self.responses), "pages": dict(self.pages),
                "entitiesServed": dict(self.entities_served), "tokensIssued": self.tokens_issued,
                "webhooks": {"sent": self.webhooks.sent, "failed": self.webhooks.failed, "calls": self.webhooks.calls},
                "subscriptions": len(self.webhooks.subscriptions), "entities": dict(self.store.live),
                "deletions": len(self.store.deletions), "faults": {"rate": self.faults.rate, "queued": list(self.faults.queued)},
                "slowSeconds": self.slow_seconds}


def build_app(city: City, *, client_id: str = "skolit", client_secret: str = "skolit-secret", token_seconds: float = 300,
              faults: float = 0.0, max_page: int = 1000, webhook_client: httpx.AsyncClient | None = None,
              clock: Clock | None = None) -> FastAPI:
    """The ASGI app serving ``city``; its state is ``app.state.ss12000`` (an Ss12000Server)."""
    from devkit.ss12000.control import control_routes

    server = Ss12000Server(city, client_id=client_id, client_secret=client_secret, token_seconds=token_seconds, faults=faults,
                           max_page=max_page, webhook_client=webhook_client, clock=clock)
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await server.webhooks.close()

    app = FastAPI(title="SS 12000 test server", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.ss12000 = server

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> Response:
        body: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.code in ("invalid_client", "unsupported_grant_type"):
            body["error"] = exc.code  # RFC 6749's error response, besides the standard's Error
        return json_response(body, exc.status, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return json_response({"code": "NotFound" if exc.status_code == 404 else "Error", "message": str(exc.detail)}, exc.status_code)

    @app.middleware("http")
    async def count(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        route = request.scope.get("route")
        server.requests[getattr(route, "path", request.url.path)] += 1
        server.responses[str(response.status_code)] += 1
        return response

    @app.get("/healthz")
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @app.post("/token")
    async def token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode(errors="replace")).items()}
        return json_response(server.issue_token(form, request.headers.get("authorization")), headers={"Cache-Control": "no-store"})

    def list_endpoint(resource: str) -> Any:
        async def endpoint(request: Request) -> Response:
            server.authorise(request)
            await server.before_list()
            return json_response(server.list_page(resource, request))
        return endpoint

    def get_endpoint(resource: str) -> Any:
        async def endpoint(request: Request, ident: str) -> Response:
            server.authorise(request)
            entity = server.store.get(resource, ident)
            if entity is None:
                raise ApiError(404, "NotFound", f"{resource}: no {ident}")
            return json_response(entity)
        return endpoint

    for resource in RESOURCE_TYPES:
        app.add_api_route(f"/{resource}", list_endpoint(resource), methods=["GET"])
        app.add_api_route(f"/{resource}/{{ident}}", get_endpoint(resource), methods=["GET"])

    @app.get("/deletedEntities")
    async def deleted_entities(request: Request) -> Response:
        server.authorise(request)
        await server.before_list()
        return json_response(server.deleted_page(request))

    @app.post("/subscriptions")
    async def subscribe(request: Request) -> Response:
        server.authorise(request)
        try:
            body = orjson.loads(await request.body())
            return json_response(server.webhooks.subscribe(body), 201)
        except (orjson.JSONDecodeError, InvalidSubscription) as exc:
            raise ApiError(400, "InvalidSubscription", str(exc)) from None

    @app.get("/subscriptions")
    async def subscriptions(request: Request) -> Response:
        server.authorise(request)
        return json_response({"data": list(server.webhooks.subscriptions.values()), "pageToken": None})

    @app.delete("/subscriptions/{ident}")
    async def unsubscribe(request: Request, ident: str) -> Response:
        server.authorise(request)
        if not server.webhooks.unsubscribe(ident):
            raise ApiError(404, "NotFound", f"subscription: no {ident}")
        return Response(status_code=204)

    control_routes(app, server)
    return app


__all__ = ["ApiError", "Ss12000Server", "UnknownEntity", "build_app"]
