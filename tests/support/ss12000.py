"""The SS 12000 test server (devkit/ss12000, a process) and the connector (python -m connectors.ss12000, a process)
beside the session stack, for tests/integration/test_ss12000_connector.py."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx

from devkit.embedded import free_port
from devkit.process import ROOT, ServiceProcess
from shared.db import provision
from tests.support.stack import Stack, auth

CLIENT_ID, CLIENT_SECRET = "skolit-connector", "ss12000-test-secret"
T = TypeVar("T")


def start_server(workdir: Path, *, schools: int = 10, school_size: float = 0.1, seed: int = 7) -> ServiceProcess:
    """The SS 12000 server: a generated city, waited on until it answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKOLIT_")} | {"PYTHONPATH": str(ROOT)}
    server = ServiceProcess("ss12000", port, env, workdir / "ss12000.log",
                            argv=[sys.executable, "-m", "devkit.ss12000", "--port", str(port), "--schools", str(schools),
                                  "--school-size", str(school_size), "--districts", "2", "--seed", str(seed),
                                  "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
    server.start()
    server.wait_until(lambda c: c.get("/healthz").status_code == 200, "listening", 30)
    return server


def connector_env(stack: Stack, server: ServiceProcess, port: int, **extra: str) -> dict[str, str]:
    env = stack.env_for("connector")
    env.update(
        SKOLIT_CONNECTOR_PORT=str(port),
        SKOLIT_SS12000_URL=server.url,
        SKOLIT_SS12000_CLIENT_ID=CLIENT_ID,
        SKOLIT_SS12000_CLIENT_SECRET=CLIENT_SECRET,
        SKOLIT_SS12000_WEBHOOK_URL=f"http://127.0.0.1:{port}",
        SKOLIT_SS12000_PAGE_SIZE="50",
        # the periodic sync stays out of the way: syncs come from the start, the webhooks and POST /sync
        SKOLIT_SS12000_SYNC_SECONDS="3600",
        SKOLIT_SS12000_DEBOUNCE_SECONDS="0.5",
        SKOLIT_SS12000_BACKOFF_CAP_SECONDS="2",
        **extra,
    )
    return env


def start_connector(stack: Stack, server: ServiceProcess, workdir: Path) -> ServiceProcess:
    asyncio.run(provision(stack.admin_url, ("connector",)))
    port = free_port()
    connector = ServiceProcess("connector", port, connector_env(stack, server, port), workdir / "connector.log",
                               argv=[sys.executable, "-m", "connectors.ss12000"])
    connector.start()
    connector.wait_until(lambda c: c.get("/healthz").status_code == 200, "serving", 60)
    return connector


CITY_ADMIN = auth("city_admin")


def sync_status(connector: ServiceProcess) -> dict[str, Any]:
    response = httpx.get(connector.url + "/sync", headers=CITY_ADMIN, timeout=10)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def control(server: ServiceProcess, method: str, path: str, body: Any = None) -> httpx.Response:
    response = httpx.request(method, server.url + "/_test/" + path, json=body, timeout=10)
    response.raise_for_status()
    return response


def until(check: Callable[[], T | None], what: str, timeout: float = 60.0, interval: float = 0.2) -> T:
    """Poll ``check`` until it gives something truthy (and return it); fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"not within {timeout:.0f} s: {what} (last: {last!r})")


def query(admin_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(admin_url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(run())
