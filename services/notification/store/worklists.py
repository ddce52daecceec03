"""SQL of what a school follows up by hand: the unreached guardians and the quiet-hours bypass log."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from services.notification.store.broadcasts import PENDING, REACHED


async def unreached(conn: asyncpg.Connection, school_unit: UUID, since: datetime, broadcast: UUID | None = None) -> list[asyncpg.Record]:
    """Guardians of the school whom no channel reached for a message about it (nothing delivered
    outside the app, nothing read in it, nothing still on its way); ``broadcast``: that broadcast's messages only."""
    return await conn.fetch(
        "SELECT d.person, m.id AS message_id, m.broadcast_id, m.message_type, m.created_at, jsonb_object_agg(d.channel, d.state) AS channels"
        " FROM message m JOIN delivery d ON d.message_id = m.id"
        " WHERE m.school_unit = $1 AND m.created_at >= $2 AND ($3::uuid IS NULL OR m.broadcast_id = $3)"
        " AND EXISTS (SELECT 1 FROM guardianship g WHERE g.guardian = d.person AND g.school_unit = $1 AND g.active)"
        " GROUP BY d.person, m.id HAVING NOT " + REACHED + " AND NOT " + PENDING +
        " ORDER BY d.person, m.created_at",
        school_unit, since, broadcast,
    )


async def bypasses(conn: asyncpg.Connection, school_unit: UUID | None, since: datetime, limit: int, offset: int = 0) -> list[asyncpg.Record]:
    """A page of the bypass log, newest first; each row carries ``total``, the entries on every page."""
    return await conn.fetch(
        "SELECT b.at, b.message_id, b.person, b.channel, b.local_time, m.school_unit, m.message_type, count(*) OVER () AS total"
        " FROM quiet_hours_bypass b JOIN message m ON m.id = b.message_id"
        " WHERE b.at >= $1 AND ($2::uuid IS NULL OR m.school_unit = $2) ORDER BY b.at DESC, b.id LIMIT $3 OFFSET $4",
        since, school_unit, limit, offset,
    )
