"""The test control API under /_test/ — not part of SS 12000: how a test changes the city while a connector syncs it
(change, add, delete: each triggers the webhook calls), injects faults, slows the lists down, moves the clock and reads
what the server served. No authentication, so it answers only requests from the loopback address."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from devkit.ss12000.app import ApiError, Ss12000Server, json_response
from devkit.ss12000.entities import RESOURCE_TYPES, examples
from devkit.ss12000.store import UnknownEntity

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def control_routes(app: FastAPI, server: Ss12000Server) -> None:
    async def body_of(request: Request) -> Any:
        if request.client is None or request.client.host not in LOOPBACK:
            raise ApiError(403, "Forbidden", "the test control API answers the loopback address only")
        raw = await request.body()
        try:
            return orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise ApiError(400, "InvalidBody", "body: not JSON") from None

    def resource_of(resource: str) -> str:
        if resource not in RESOURCE_TYPES:
            raise ApiError(404, "NotFound", f"resource: one of {sorted(RESOURCE_TYPES)}")
        return resource

    @app.get("/_test/stats")
    async def stats(request: Request) -> Response:
        await body_of(request)
        return json_response(server.stats())

    @app.get("/_test/examples")
    async def example_ids(request: Request) -> Response:
        """Ids of one generated pupil, guardian, staff member, Rektor duty, protected pupil, … (entities.examples)."""
        await body_of(request)
        return json_response(examples(server.store.entities))

    @app.post("/_test/faults")
    async def faults(request: Request) -> Response:
        body = await body_of(request)
        if "rate" in body:
            if not isinstance(body["rate"], int | float) or not 0 <= body["rate"] <= 1:
                raise ApiError(400, "InvalidBody", "rate: a number from 0 to 1")
            server.faults.rate = float(body["rate"])
        if "next" in body:
            if not isinstance(body["next"], list) or any(s not in (429, 500, 502, 503, 504) for s in body["next"]):
                raise ApiError(400, "InvalidBody", "next: a list of 429, 500, 502, 503 or 504")
            server.faults.queued.extend(body["next"])
        return json_response({"rate": server.faults.rate, "queued": list(server.faults.queued)})

    @app.post("/_test/slow")
    async def slow(request: Request) -> Response:
        body = await body_of(request)
        seconds = body.get("seconds")
        if not isinstance(seconds, int | float) or seconds < 0:
            raise ApiError(400, "InvalidBody", "seconds: a number ≥ 0")
        server.slow_seconds = float(seconds)
        return json_response({"seconds": server.slow_seconds})

    @app.post("/_test/clock")
    async def clock(request: Request) -> Response:
        """{"advance": seconds}: time passes for token expiry and for the timestamps of later changes."""
        body = await body_of(request)
        seconds = body.get("advance")
        if not isinstance(seconds, int | float) or seconds < 0:
            raise ApiError(400, "InvalidBody", "advance: a number of seconds ≥ 0")
        server.clock.advance(seconds)
        return json_response({"advanced": seconds})

    @app.post("/_test/{resource}")
    async def add(request: Request, resource: str) -> Response:
        body = await body_of(request)
        if not isinstance(body, dict):
            raise ApiError(400, "InvalidBody", "body: a JSON object (the entity)")
        try:
            entity = server.store.add(resource_of(resource), body)
        except ValueError as exc:
            raise ApiError(409, "Conflict", str(exc)) from None
        server.changed(resource)
        return json_response(entity, 201)

    @app.post("/_test/{resource}/{ident}")
    async def change(request: Request, resource: str, ident: str) -> Response:
        body = await body_of(request)
        if not isinstance(body, dict):
            raise ApiError(400, "InvalidBody", "body: a JSON object (the fields to change)")
        try:
            entity = server.store.change(resource_of(resource), ident, body)
        except UnknownEntity:
            raise ApiError(404, "NotFound", f"{resource}: no {ident}") from None
        server.changed(resource)
        return json_response(entity)

    @app.delete("/_test/{resource}/{ident}")
    async def delete(request: Request, resource: str, ident: str) -> Response:
        await body_of(request)
        try:
            server.store.delete(resource_of(resource), ident)
        except UnknownEntity:
            raise ApiError(404, "NotFound", f"{resource}: no {ident}") from None
        server.changed(resource, deleted=True)
        return Response(status_code=204)
