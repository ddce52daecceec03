"""Subscriptions (SS 12000 /subscriptions) and the webhook calls they receive: on every change the server POSTs
``{"modifiedEntites": [...], "deletedEntities": bool}`` (the standard's spelling) to each subscription whose resource
types include a changed one. Sent in the background, so a slow or absent receiver never holds up the change; ``drain``
waits for the calls in flight (the in-process tests)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from devkit.ss12000.entities import RESOURCE_TYPES

TYPES = set(RESOURCE_TYPES.values())


class InvalidSubscription(ValueError):
    pass


class Webhooks:
    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self._client = client
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent = 0
        self.failed = 0
        self.calls: list[dict[str, Any]] = []  # the last calls: target, body, status (for /_test/stats and the tests)

    def subscribe(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise InvalidSubscription("body: a JSON object is required")
        name, target, resource_types = body.get("name"), body.get("target"), body.get("resourceTypes")
        if not isinstance(name, str) or not name:
            raise InvalidSubscription("name: required")
        if not isinstance(target, str) or not target.startswith(("http://", "https://")):
            raise InvalidSubscription("target: an http(s) URL is required")
        if not isinstance(resource_types, list) or not resource_types:
            raise InvalidSubscription("resourceTypes: a non-empty list is required")
        for item in resource_types:
            if not isinstance(item, dict) or item.get("resource") not in TYPES:
                raise InvalidSubscription(f"resourceTypes: each needs resource, one of {sorted(TYPES)}")
        ident = str(uuid.uuid4())
        expires = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        subscription = {"id": ident, "name": name, "target": target, "resourceTypes": [{"resource": t["resource"]} for t in resource_types],
                        "expires": expires}
        self.subscriptions[ident] = subscription
        return subscription

    def unsubscribe(self, ident: str) -> bool:
        return self.subscriptions.pop(ident, None) is not None

    def notify(self, resource_type: str, *, deleted: bool) -> None:
        """One call to each subscription for ``resource_type`` (an EndPointsEnum name): modified, or deleted."""
        for subscription in list(self.subscriptions.values()):
            if resource_type not in {t["resource"] for t in subscription["resourceTypes"]}:
                continue
            body = {"modifiedEntites": [] if deleted else [resource_type], "deletedEntities": deleted}
            task = asyncio.get_running_loop().create_task(self._send(subscription["target"], body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, target: str, body: dict[str, Any]) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5)
        try:
            response = await self._client.post(target, json=body)
            status: int | None = response.status_code
            ok = response.is_success
        except httpx.HTTPError:
            status, ok = None, False
        if ok:
            self.sent += 1
        else:
            self.failed += 1
        self.calls = ([*self.calls, {"target": target, "body": body, "status": status}])[-50:]

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        if self._client is not None:
            await self._client.aclose()
