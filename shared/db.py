"""PostgreSQL: one database, one schema and one login role per service.

``provision`` (run with an administrator's DATABASE_URL) creates the roles and schemas; each service
then connects with its own role, whose search_path is its own schema, and can touch nothing else.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import orjson

from shared.settings import SERVICES, default_db_password, role_name

log = logging.getLogger(__name__)


# Extensions live in ``public`` (read-only for the services): pg_trgm gives the catalog its
# typo-tolerant search. A service's own schema comes first, so its tables are never shadowed.
EXTENSIONS = ("pg_trgm",)


def search_path(service: str) -> str:
    return f"{service}, public"


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typ in ("jsonb", "json"):
        await conn.set_type_codec(typ, schema="pg_catalog", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, format="text")


async def _back_to_the_pool(conn: asyncpg.Connection) -> None:
    """What a connection goes through on its way back to the pool: nothing more than asyncpg's own clean-up (an open
    transaction rolled back, listeners removed). asyncpg's default also sends ``SELECT pg_advisory_unlock_all();
    CLOSE ALL; UNLISTEN *; RESET ALL`` — one more round trip on every request (issue 24: a guardian's inbox read was
    BEGIN, its statement, COMMIT and that). Skolit leaves no session state on a pool connection for it to clear:
    settings are per transaction (``set_config(..., true)``), cursors live inside transactions, the outbox relay
    keeps the connection it LISTENs on and UNLISTENs before giving it back, and the two session advisory locks
    (migrations, the connector's sync) are let go of by ``unlock``, which closes a connection it could not unlock
    (decision 0030)."""


async def unlock(conn: asyncpg.Connection, key: str) -> None:
    """Let go of the session advisory lock ``hashtext(key)``. A connection that cannot (cancelled, broken) is closed,
    which lets go of it too: the pool no longer clears a connection it gets back (``_back_to_the_pool``), so one
    holding a lock must not go back."""
    try:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", key)
    except BaseException:
        conn.terminate()
        raise


async def create_pool(database_url: str, service: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_back_to_the_pool,
        server_settings={"search_path": search_path(service), "application_name": f"skolit-{service}"},
        command_timeout=60,
    )


async def connect(database_url: str, service: str | None = None) -> asyncpg.Connection:
    settings: dict[str, Any] = {"application_name": f"skolit-{service or 'admin'}"}
    if service:
        settings["search_path"] = search_path(service)
    conn = await asyncpg.connect(database_url, server_settings=settings)
    await _init_connection(conn)
    return conn


async def _execute_formatted(conn: asyncpg.Connection, template: str, *args: str) -> None:
    """Run DDL whose identifiers/literals are quoted by the server's own format(%I, %L)."""
    statement = await conn.fetchval("SELECT format($1::text, " + ", ".join(f"${i + 2}::text" for i in range(len(args))) + ")", template, *args)
    await conn.execute(statement)


async def provision(admin_url: str, services: tuple[str, ...] = SERVICES) -> None:
    """Create (or update) each service's login role and schema; idempotent."""
    conn = await asyncpg.connect(admin_url)
    try:
        # Serialise concurrent provisioning (several services starting at once).
        await conn.execute("SELECT pg_advisory_lock(hashtext('skolit.provision'))")
        db = await conn.fetchval("SELECT current_database()")
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for extension in EXTENSIONS:
            await _execute_formatted(conn, "CREATE EXTENSION IF NOT EXISTS %I SCHEMA public", extension)
        for service in services:
            role = role_name(service)
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if exists else "CREATE"
            await _execute_formatted(conn, verb + " ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOCREATEDB NOCREATEROLE", role, default_db_password(service))
            await _execute_formatted(conn, "CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I", service, role)
            await _execute_formatted(conn, "ALTER SCHEMA %I OWNER TO %I", service, role)
            await _execute_formatted(conn, "REVOKE ALL ON SCHEMA %I FROM PUBLIC", service)
            await _execute_formatted(conn, "ALTER ROLE %I SET search_path = %I, public", role, service)
            await _execute_formatted(conn, "GRANT CONNECT ON DATABASE %I TO %I", db, role)
        await _provision_keyvault(conn, services)
        await conn.execute("SELECT pg_advisory_unlock(hashtext('skolit.provision'))")
        log.info("provisioned schemas and roles for %s", ", ".join(services))
    finally:
        await conn.close()


async def _provision_keyvault(conn: asyncpg.Connection, services: tuple[str, ...]) -> None:
    """The per-person key vault (shared/privacy/vault.py), owned by the admin role: every service may seal and
    open; only notification, the erasure coordinator, destroys keys."""
    from shared.privacy.vault import SCHEMA_SQL

    await conn.execute(SCHEMA_SQL)
    await conn.execute("REVOKE ALL ON SCHEMA keyvault FROM PUBLIC")
    for service in services:
        role = role_name(service)
        await _execute_formatted(conn, "GRANT USAGE ON SCHEMA keyvault TO %I", role)
        await _execute_formatted(conn, "GRANT SELECT, INSERT ON keyvault.person_key TO %I", role)
        if service == "notification":
            await _execute_formatted(conn, "GRANT DELETE ON keyvault.person_key TO %I", role)
            await _execute_formatted(conn, "GRANT SELECT, INSERT ON keyvault.destroyed_key TO %I", role)


async def ensure_database(admin_url: str) -> None:
    """Create the database named in admin_url if it is missing (the embedded default starts empty)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(admin_url)
    name = parts.path.lstrip("/") or "postgres"
    maintenance = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))
    conn = await asyncpg.connect(maintenance)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await _execute_formatted(conn, "CREATE DATABASE %I", name)
            log.info("created database %s", name)
    finally:
        await conn.close()
