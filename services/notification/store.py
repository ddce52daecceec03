"""SQL of the notification service."""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def audience(conn: asyncpg.Connection, school_unit: UUID) -> dict[str, object]:
    """How many guardians and staff a broadcast to the school unit would reach (no one is named)."""
    guardians = await conn.fetchrow(
        """
        SELECT count(DISTINCT g.guardian) AS guardians, count(DISTINCT g.pupil) AS pupils
        FROM guardianship g LEFT JOIN person p ON p.id = g.guardian
        WHERE g.school_unit = $1 AND g.active AND coalesce(NOT p.removed, true)
        """,
        school_unit,
    )
    staff = await conn.fetch(
        "SELECT duty_role, count(DISTINCT person) AS n FROM duty WHERE duty_at = $1 AND active GROUP BY duty_role ORDER BY duty_role", school_unit
    )
    return {"guardians": guardians["guardians"], "pupils": guardians["pupils"], "staffByDutyRole": {r["duty_role"]: r["n"] for r in staff}}
