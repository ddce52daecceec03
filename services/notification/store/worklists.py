"""SQL of what a school follows up by hand: the unreached guardians and the quiet-hours bypass log."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from services.notification.store.broadcasts import PENDING, REACHED


async def unreached(conn: asyncpg.Connection, school_unit: UUID, since: datetime) -> list[asyncpg.Record]:
    """Guardians of the school whom no channel reached for a message about it (nothing delivered
    outside the app, nothing read in it, nothing still on its way)."""
    return await conn.fetch(
        "SELECT d.person, coalesce(p.security_marking, 'Ingen') <> 'Ingen' AS protected, m.id AS message_id, m.message_type, m.created_at,"
        " jsonb_object_agg(d.channel, d.state) AS channels"
        " FROM message m JOIN delivery d ON d.message_id = m.id LEFT JOIN person p ON p.id = d.person"
        " WHERE m.school_unit = $1 AND m.created_at >= $2"
        " AND EXISTS (SELECT 1 FROM guardianship g WHERE g.guardian = d.person AND g.school_unit = $1 AND g.active)"
        " GROUP BY d.person, p.security_marking, m.id HAVING NOT " + REACHED + " AND NOT " + PENDING +
        " ORDER BY d.person, m.created_at",
        school_unit, since,
    )


async def bypasses(conn: asyncpg.Connection, school_unit: UUID | None, since: datetime, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT b.at, b.message_id, b.person, coalesce(p.security_marking, 'Ingen') <> 'Ingen' AS protected, b.channel, b.local_time,"
        " m.school_unit, m.message_type FROM quiet_hours_bypass b"
        " JOIN message m ON m.id = b.message_id LEFT JOIN person p ON p.id = b.person WHERE b.at >= $1 AND ($2::uuid IS NULL OR m.school_unit = $2) ORDER BY b.at DESC, b.id LIMIT $3",
        since, school_unit, limit,
    )
