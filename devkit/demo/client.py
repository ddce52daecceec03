"""HTTP calls the demo seeders make to the services' own APIs (stdlib only, run in a thread)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any


class DemoError(RuntimeError):
    pass


def _call(method: str, url: str, token: str | None, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


async def call(method: str, url: str, token: str | None, body: Any = None, expect: tuple[int, ...] = (200, 201, 202)) -> Any:
    status, payload = await asyncio.to_thread(_call, method, url, token, body)
    if status not in expect:
        raise DemoError(f"{method} {url} answered {status}: {payload}")
    return payload


async def _until(check: Any, what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.5)
    raise DemoError(f"timed out waiting for {what}")
