"""Production mode as a city runs it (shared/production.py, docs/decisions/0023-production-mode.md): each of the four
services and the web app, a real process with ``SKOLIT_ENV=production``,

1. with the development settings the test stack gives them (tests/support/stack.py; the database and broker moved to
   where nothing listens): exits with status 2 before it binds or connects, its output naming each development secret
   in force and no secret's value;
2. with complete production settings — random secrets, the session's OpenID provider (devkit/oidc) as the city's, SMTP
   to the session's sink, real role passwords its own `serve --provision` sets — starts, answers /readyz, and refuses a
   development HS256 token.

The production processes get a database of their own on the session's PostgreSQL and a broker of their own: in the
session's, they would join the session services' consumer groups (skolit-<service>) and take their events, and their
relays would publish the session's outbox. One process per service in each mode, started side by side.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from devkit import compose_env
from devkit.embedded import EmbeddedBroker, free_port
from devkit.process import ROOT, ServiceProcess
from shared.auth import mint
from shared.settings import DEV_JWT_SECRET, SERVICES
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

DATABASE = "skolit_production_mode"
#: what each process, on the test stack's development settings, must name (beside what every service names)
NAMED = {
    "assessment": [], "catalog": [],
    "reporting": ["SKOLIT_REPORTING_LINK_SECRET"],
    "notification": ["SKOLIT_NOTIFICATION_KEYS", "SKOLIT_NOTIFICATION_CALLBACK_TOKEN", "SKOLIT_NOTIFICATION_PUBLIC_URL"],
}
NAMED_BY_EVERY_SERVICE = ["SKOLIT_JWT_SECRET", "SKOLIT_ALLOW_CLOCK_OVERRIDE", "SKOLIT_{UP}_DB_PASSWORD", "SKOLIT_KEYVAULT_MASTER_KEY"]
NAMED_BY_WEB = ["SKOLIT_WEB_DEV", "SKOLIT_WEB_DEV_PERSONAS", "SKOLIT_WEB_SESSION_SECRET"]


def _problems_named(log: str) -> list[str]:
    """The variable each problem line of a refused start names (indented lines after the headline)."""
    return [line.split()[0] for line in log.splitlines() if line.startswith("  ") and line.strip()]


def test_development_settings_are_refused_by_every_process(stack: Stack, tmp_path: Path) -> None:
    processes: list[tuple[ServiceProcess, list[str]]] = []
    # The stack's development settings, but a database and a broker nobody listens on: a process that did not refuse
    # must not join the session services' consumer groups or touch their schemas (it fails, and so does the test).
    nowhere = {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/skolit", "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    for name in SERVICES:
        env = {**stack.env_for(name), **nowhere, "SKOLIT_ENV": "production", f"SKOLIT_{name.upper()}_PORT": str(free_port())}
        expected = [n.format(UP=name.upper()) for n in NAMED_BY_EVERY_SERVICE] + NAMED[name]
        processes.append((ServiceProcess(name, int(env[f"SKOLIT_{name.upper()}_PORT"]), env, tmp_path / f"{name}.log"), expected))
    web_port = free_port()
    web_env = {**stack.web_env(web_port), "SKOLIT_ENV": "production"}
    processes.append((ServiceProcess("web", web_port, web_env, tmp_path / "web.log", argv=[sys.executable, "-m", "web"]), NAMED_BY_WEB))
    try:
        for process, _ in processes:
            process.start()
        for process, expected in processes:
            assert process.proc is not None
            status = process.proc.wait(timeout=60)
            log = process.log_path.read_text(encoding="utf-8", errors="replace")
            assert status == 2, f"{process.name} exited with {status}:\n{log}"
            headline = log.splitlines()[0]
            assert f"skolit {process.name}: refusing to start in production" in headline, log
            named = _problems_named(log)
            for variable in expected:
                assert variable in named, f"{process.name} does not name {variable}:\n{log}"
            # nothing but the refusal: no server started, no migration ran, no secret's value printed
            assert len(log.splitlines()) == 1 + len(named), log
            assert DEV_JWT_SECRET not in log and "skolit-gateway-callbacks-dev" not in log, log
    finally:
        for process, _ in processes:  # only a process that did not refuse is still running
            process.stop(grace=10)


@pytest.fixture
def own_database(stack: Stack) -> Iterator[str]:
    """A database of its own on the session's PostgreSQL (the admin URL); dropped afterwards."""
    parts = urlsplit(stack.admin_url)
    admin = urlunsplit((parts.scheme, parts.netloc, "/" + DATABASE, parts.query, parts.fragment))
    maintenance = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(maintenance)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
    # made here, not by the services: four `serve --provision` at once would race to CREATE DATABASE (compose's
    # postgres image makes its POSTGRES_DB before any service starts, as this does)
    asyncio.run(run(f"CREATE DATABASE {DATABASE}"))
    try:
        yield admin
    finally:
        asyncio.run(run(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[str]:
    broker = EmbeddedBroker(free_port(), log_path=tmp_path / "tansu.log")
    bootstrap = broker.start()
    try:
        yield bootstrap
    finally:
        broker.stop()


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SKOLIT_", "KAFKA_")) and k != "DATABASE_URL"}


def test_complete_production_settings_start_every_process(stack: Stack, own_database: str, own_broker: str, tmp_path: Path) -> None:
    assert stack.oidc is not None and stack.sinks is not None
    ports = {name: free_port() for name in (*SERVICES, "web")}
    web_url = f"http://127.0.0.1:{ports['web']}"
    processes: list[ServiceProcess] = []
    for name in SERVICES:
        up = name.upper()
        env = {
            **_base_env(), **stack.oidc.env(), "PYTHONPATH": str(ROOT),
            "SKOLIT_ENV": "production", "DATABASE_URL": own_database, "KAFKA_BOOTSTRAP_SERVERS": own_broker,
            f"SKOLIT_{up}_PORT": str(ports[name]), f"SKOLIT_{up}_DB_PASSWORD": compose_env.password(),
            "SKOLIT_KEYVAULT_MASTER_KEY": compose_env.key32(), "SKOLIT_CORS_ORIGINS": web_url, "SKOLIT_OUTBOX_POLL_SECONDS": "0.5",
        }
        if name == "notification":
            env.update(stack.sinks.env())
            env.update(SKOLIT_NOTIFICATION_WEB_URL=web_url, SKOLIT_NOTIFICATION_PUBLIC_URL=f"http://127.0.0.1:{ports[name]}",
                       SKOLIT_NOTIFICATION_KEYS=compose_env.keyring(), SKOLIT_NOTIFICATION_CALLBACK_TOKEN=compose_env.token())
        if name == "reporting":
            env["SKOLIT_REPORTING_LINK_SECRET"] = compose_env.token()
        # `serve --provision` as docker-compose runs it: the role's password is the one set here
        processes.append(ServiceProcess(name, ports[name], env, tmp_path / f"{name}.log",
                                        argv=[sys.executable, "-m", f"services.{name}", "serve", "--provision"]))
    web_env = {
        **_base_env(), "PYTHONPATH": str(ROOT), "SKOLIT_ENV": "production", "SKOLIT_WEB_PORT": str(ports["web"]),
        "SKOLIT_WEB_BASE_URL": web_url, "SKOLIT_WEB_SESSION_SECRET": compose_env.token(), "SKOLIT_WEB_OIDC_ISSUER": stack.oidc.issuer,
        **{f"SKOLIT_WEB_{name.upper()}_URL": f"http://127.0.0.1:{ports[name]}" for name in SERVICES},
        "SKOLIT_WEB_CONNECTOR_URL": f"http://127.0.0.1:{stack.connector_port}",  # not started here: /readyz does not call it
    }
    processes.append(ServiceProcess("web", ports["web"], web_env, tmp_path / "web.log", argv=[sys.executable, "-m", "web"]))
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready(timeout=90)
            assert "refusing" not in process.log_tail(), process.log_tail()
        # production takes the city's provider's tokens only: a development token (the secret is in Skolit's source) is refused
        development = {"Authorization": "Bearer " + mint(DEV_JWT_SECRET, subject="someone", roles=["city_admin"])}
        answer = httpx.get(f"http://127.0.0.1:{ports['assessment']}/v1/school-units", headers=development, timeout=10)
        assert answer.status_code == 401, answer.text
    finally:
        for process in processes:
            process.stop(grace=30)
