"""SQL of the self-assessment rounds kept for the deadline reminders."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg


async def record_campaign(conn: asyncpg.Connection, id: UUID, name: str, deadline: Any, schools: list[UUID]) -> None:
    await conn.execute("INSERT INTO campaign (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name", id, name)
    await conn.execute(
        "INSERT INTO campaign_school (campaign, school_unit, deadline) SELECT $1, s, $3 FROM unnest($2::uuid[]) AS s"
        " ON CONFLICT (campaign, school_unit) DO NOTHING",
        id, schools, deadline,
    )


async def close_campaign(conn: asyncpg.Connection, id: UUID) -> None:
    await conn.execute("UPDATE campaign SET closed = true WHERE id = $1", id)


async def mark_submitted(conn: asyncpg.Connection, campaign: UUID, school: UUID, submitted: bool, deadline: Any = None) -> None:
    await conn.execute(
        "UPDATE campaign_school SET submitted = $3, deadline = coalesce($4, deadline) WHERE campaign = $1 AND school_unit = $2",
        campaign, school, submitted, deadline,
    )


async def open_deadlines(conn: asyncpg.Connection, today: Any, horizon_days: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT cs.campaign, cs.school_unit, cs.deadline, c.name FROM campaign_school cs JOIN campaign c ON c.id = cs.campaign"
        " WHERE NOT c.closed AND NOT cs.submitted AND cs.deadline >= $1 AND cs.deadline - $1 <= $2 ORDER BY cs.deadline, cs.school_unit",
        today, horizon_days,
    )
