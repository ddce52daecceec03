"""Reporting's queries for the right-of-access export (services/reporting/export.py): its read models
hold no person; what names one is who defined an indicator and who announced a year's report."""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def indicators(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT code, metric, source, unit, direction, target, heading, name_sv, name_en, defined_at"
        " FROM indicator_definition WHERE lower(defined_by) = $1 ORDER BY defined_at, code",
        str(person),
    )


async def published(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT p.year, p.district, o.display_name AS district_name, p.published_at FROM published_report p"
        " LEFT JOIN organisation o ON o.id = p.district WHERE lower(p.published_by) = $1 ORDER BY p.published_at, p.year",
        str(person),
    )
