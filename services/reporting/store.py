"""SQL of the reporting service (its schema is derived data: everything here comes from events)."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import asyncpg


async def record_campaign(conn: asyncpg.Connection, *, id: UUID, name: str, year: int, deadline: date, opened_at: datetime, school_units: list[UUID]) -> None:
    await conn.execute(
        "INSERT INTO campaign (id, name, year, deadline, opened_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        id, name, year, deadline, opened_at,
    )
    await conn.execute(
        "INSERT INTO campaign_school_unit (campaign_id, school_unit) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING", id, school_units
    )


async def campaigns_by_district(conn: asyncpg.Connection, *, everything: bool, districts: list[UUID], year: int | None) -> list[asyncpg.Record]:
    """Per campaign and district: how many school units take part."""
    return await conn.fetch(
        """
        SELECT c.id, c.name, c.year, c.deadline, o.parent_organisation AS district_id, d.display_name AS district_name,
               count(*) AS school_units
        FROM campaign c
        JOIN campaign_school_unit cs ON cs.campaign_id = c.id
        LEFT JOIN organisation o ON o.id = cs.school_unit
        LEFT JOIN organisation d ON d.id = o.parent_organisation
        WHERE ($1 OR o.parent_organisation = ANY($2::uuid[])) AND ($3::int IS NULL OR c.year = $3)
        GROUP BY c.id, o.parent_organisation, d.display_name
        ORDER BY c.year DESC, c.name, d.display_name
        """,
        everything, districts, year,
    )


async def append_school_unit_version(conn: asyncpg.Connection, *, event_id: str, school_unit: UUID, display_name: str, district: UUID | None, school_types: list[str], valid_from: datetime) -> None:
    await conn.execute(
        "INSERT INTO school_unit_history (event_id, school_unit, display_name, district, school_types, valid_from) VALUES ($1, $2, $3, $4, $5, $6)",
        event_id, school_unit, display_name, district, school_types, valid_from,
    )


async def school_unit_history(conn: asyncpg.Connection, school_unit: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT h.display_name, h.district, d.display_name AS district_name, h.school_types, h.valid_from"
        " FROM school_unit_history h LEFT JOIN organisation d ON d.id = h.district WHERE h.school_unit = $1 ORDER BY h.valid_from",
        school_unit,
    )
