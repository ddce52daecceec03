"""SQL of each school's guardian reach."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def guardian_reach(conn: asyncpg.Connection, year: int, since: datetime) -> list[asyncpg.Record]:
    """Per school unit with guardians: how many, and how many a channel reached since ``since`` —
    only the counts that changed since last published."""
    return await conn.fetch(
        """
        WITH counted AS (
            SELECT g.school_unit, count(DISTINCT g.guardian) AS guardians,
                   count(DISTINCT g.guardian) FILTER (WHERE EXISTS (
                       SELECT 1 FROM delivery d WHERE d.person = g.guardian AND d.created_at >= $2
                       AND ((d.channel <> 'inapp' AND d.state = 'delivered') OR d.read_at IS NOT NULL))) AS reached
            FROM guardianship g WHERE g.active GROUP BY g.school_unit)
        SELECT c.* FROM counted c LEFT JOIN reach_published p ON p.school_unit = c.school_unit AND p.year = $1
        WHERE p.school_unit IS NULL OR (p.guardians, p.reached) <> (c.guardians, c.reached)
        """,
        year, since,
    )


async def reach_published(conn: asyncpg.Connection, year: int, rows: list[asyncpg.Record]) -> None:
    await conn.executemany(
        "INSERT INTO reach_published (school_unit, year, guardians, reached) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (school_unit, year) DO UPDATE SET guardians = EXCLUDED.guardians, reached = EXCLUDED.reached",
        [(r["school_unit"], year, r["guardians"], r["reached"]) for r in rows],
    )
