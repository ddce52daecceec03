"""The data map against the real schemas: all four services migrated into PostgreSQL by the session's
stack, and the connector's schema migrated here as the connector would at its start, read back from information_schema. Every table is in the map (personal or declared non-personal),
every mapped column exists, every column whose name suggests a person is mapped, docs/privacy.md is the
generator's output — and a table or column added without a map entry makes the checks fail."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from connectors.ss12000.app import SPEC as CONNECTOR
from devkit import privacy_map as datamap
from shared.db import provision
from shared.migrate import migrate
from shared.settings import CONNECTOR as CONNECTOR_NAME, SERVICES, service_database_url
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
DOC = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"

COLUMNS = """
    SELECT c.table_schema, c.table_name, c.column_name
    FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
    WHERE c.table_schema = ANY($1::text[]) AND t.table_type IN ('BASE TABLE', 'VIEW')
    ORDER BY 1, 2, 3
"""
TABLES = "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = ANY($1::text[]) AND table_type IN ('BASE TABLE', 'VIEW')"


async def schema_facts(conn: asyncpg.Connection) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    schemas = [*SERVICES, CONNECTOR_NAME]
    columns = [(r[0], r[1], r[2]) for r in await conn.fetch(COLUMNS, schemas)]
    tables = [(r[0], r[1]) for r in await conn.fetch(TABLES, schemas)]
    return columns, tables


async def migrate_connector(stack: Stack) -> None:
    """The connector's schema, as its own role (so its process, started later in the session, owns its tables)."""
    await provision(stack.admin_url, (CONNECTOR_NAME,))
    conn = await asyncpg.connect(service_database_url(CONNECTOR_NAME, stack.admin_url))
    try:
        await migrate(conn, CONNECTOR_NAME, CONNECTOR.migrations())
    finally:
        await conn.close()


async def real_schemas(stack: Stack) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    await migrate_connector(stack)
    conn = await asyncpg.connect(stack.admin_url)
    try:
        return await schema_facts(conn)
    finally:
        await conn.close()


async def test_every_table_is_mapped_and_every_mapped_column_exists(stack: Stack) -> None:
    columns, tables = await real_schemas(stack)
    # all four services have migrated: each schema has its own tables besides the shared messaging ones
    for schema in SERVICES:
        assert {t for s, t in tables if s == schema} > {"outbox", "inbox", "schema_migrations", "organisation"}, schema
    assert datamap.inconsistencies() == []
    assert datamap.structure_problems(columns, tables=tables) == []


async def test_every_column_whose_name_suggests_a_person_is_mapped(stack: Stack) -> None:
    columns, _ = await real_schemas(stack)
    assert datamap.heuristic_problems(columns) == []
    # the heuristic is not passing vacuously: it recognises the real personal columns
    hinted = {c for c in columns if datamap.looks_personal(c[2])}
    assert len(hinted) >= 60
    assert {("notification", "contact", "email"), ("notification", "guardianship", "pupil"), ("catalog", "app_request", "requester"),
            ("assessment", "answer", "comment"), ("assessment", "audit_log", "actor")} <= hinted


async def test_docs_privacy_md_is_the_generators_output(stack: Stack) -> None:
    columns, tables = await real_schemas(stack)
    assert datamap.problems(columns, tables=tables) == []  # the document describes these schemas
    assert DOC.read_text(encoding="utf-8") == datamap.render(), \
        "docs/privacy.md is stale: run python -m devkit.privacy_map --write docs/privacy.md"


async def test_a_table_or_column_added_without_a_map_entry_fails_the_checks(stack: Stack) -> None:
    """A migration's worth of DDL inside a transaction that is rolled back: the checks see it, the services never do."""
    conn = await asyncpg.connect(stack.admin_url)
    try:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute("SET LOCAL lock_timeout = '5s'")
            await conn.execute("CREATE TABLE notification.privacy_probe (id bigint, school_unit uuid, guardian_phone text)")
            await conn.execute("ALTER TABLE assessment.framework ADD COLUMN approved_by text, ADD COLUMN retired_at timestamptz")
            columns, tables = await schema_facts(conn)
        finally:
            await tx.rollback()
        found = datamap.problems(columns, tables=tables)
        assert sorted(p.split(":")[0] for p in found) == [
            "assessment.framework.approved_by", "notification.privacy_probe", "notification.privacy_probe.guardian_phone",
        ], found
        columns, tables = await schema_facts(conn)  # rolled back: the schemas are as the map says again
        assert datamap.problems(columns, tables=tables) == []
    finally:
        await conn.close()
