"""SQL of the daily digests."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg


async def due_digests(conn: asyncpg.Connection, cutoff: datetime) -> list[asyncpg.Record]:
    """Per recipient and channel, the digest items made before the cutoff and not yet in a digest."""
    return await conn.fetch(
        "SELECT d.person, d.channel, array_agg(d.id ORDER BY d.id) AS items, s.quiet_start, s.quiet_end"
        " FROM delivery d LEFT JOIN recipient_setting s ON s.person = d.person"
        " WHERE d.mode = 'digest' AND d.state = 'queued' AND d.bundled_into IS NULL AND d.created_at < $1"
        " GROUP BY d.person, d.channel, s.quiet_start, s.quiet_end",
        cutoff,
    )


async def create_digests(conn: asyncpg.Connection, digests: list[tuple[UUID, str, UUID, str, datetime]], items: list[tuple[int, UUID]]) -> int:
    """digests: (message id, dedupe key, person, channel, send after); items: (delivery id, digest message id).
    A digest already made for its key (the job ran before today) is skipped with its items."""
    made = await conn.fetch(
        "INSERT INTO message (id, dedupe_key, message_type, critical, data)"
        " SELECT u.id, u.k, 'digest', false, '{}'::jsonb FROM unnest($1::uuid[], $2::text[]) AS u(id, k)"
        " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        [d[0] for d in digests], [d[1] for d in digests],
    )
    created = {r["id"] for r in made}
    chosen = [d for d in digests if d[0] in created]
    await conn.execute(
        "INSERT INTO delivery (message_id, person, channel, mode, state, send_after)"
        " SELECT u.m, u.p, u.c, 'instant', 'queued', u.at FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[]) AS u(m, p, c, at)",
        [d[0] for d in chosen], [d[2] for d in chosen], [d[3] for d in chosen], [d[4] for d in chosen],
    )
    carried = [i for i in items if i[1] in created]
    await conn.execute(
        "UPDATE delivery d SET bundled_into = g.id, updated_at = now() FROM unnest($1::bigint[], $2::uuid[]) AS u(item, digest)"
        " JOIN delivery g ON g.message_id = u.digest WHERE d.id = u.item",
        [i[0] for i in carried], [i[1] for i in carried],
    )
    return len(chosen)
