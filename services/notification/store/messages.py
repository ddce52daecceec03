"""SQL of messages and their deliveries as they are made, the in-app inbox, and cancelling what has not gone out."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from services.notification.store import audit as audit_store


async def create_message(conn: asyncpg.Connection, *, id: UUID, dedupe_key: str, message_type: str, school_unit: UUID | None,
                         critical: bool, data: dict[str, Any], broadcast_id: UUID | None = None) -> bool:
    """False when the cause already made its message (the unique key decides)."""
    made = await conn.fetchval(
        "INSERT INTO message (id, dedupe_key, message_type, school_unit, critical, data, broadcast_id) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        id, dedupe_key, message_type, school_unit, critical, data, broadcast_id,
    )
    return made is not None


async def recipient_facts(conn: asyncpg.Connection, persons: list[UUID], message_type: str) -> list[asyncpg.Record]:
    """Per recipient, in one statement: quiet hours, which channels have contact details, and the
    choices made for this message type (as "channel=mode")."""
    return await conn.fetch(
        """
        SELECT r.person, s.quiet_start, s.quiet_end,
               coalesce(c.email IS NOT NULL, false) AS email, coalesce(c.mobile IS NOT NULL, false) AS sms,
               EXISTS (SELECT 1 FROM device dv WHERE dv.person = r.person) AS push,
               coalesce((SELECT array_agg(p.channel || '=' || p.mode) FROM preference p WHERE p.person = r.person AND p.message_type = $2),
                        '{}') AS choices
        FROM (SELECT DISTINCT person FROM unnest($1::uuid[]) AS u(person)) r
        LEFT JOIN recipient_setting s ON s.person = r.person
        LEFT JOIN contact c ON c.person = r.person
        """,
        persons, message_type,
    )


async def add_deliveries(conn: asyncpg.Connection, message_id: UUID, planned: list[Any]) -> None:
    await conn.execute(
        "INSERT INTO delivery (message_id, person, channel, mode, state, send_after, quiet_bypassed)"
        " SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::bool[])"
        " ON CONFLICT (message_id, person, channel) DO NOTHING",
        message_id, [p.person for p in planned], [p.channel for p in planned], [p.mode for p in planned], [p.state for p in planned],
        [p.send_after for p in planned], [p.quiet_bypassed for p in planned],
    )


async def log_bypasses(conn: asyncpg.Connection, message_id: UUID, bypasses: list[tuple[UUID, str]], local_time: Any) -> None:
    await conn.execute(
        "INSERT INTO quiet_hours_bypass (message_id, person, channel, local_time) SELECT $1, * , $4::time FROM unnest($2::uuid[], $3::text[])"
        " ON CONFLICT (message_id, person, channel) DO NOTHING",
        message_id, [b[0] for b in bypasses], [b[1] for b in bypasses], local_time,
    )


#: a page of the inbox and the access log's row for reading it, one statement (``inbox``); the INSERT's text is the
#: access log's own (store/audit.py), its values the parameters after the page's three
INBOX_LOGGED = (
    f"WITH logged AS ({audit_store.insert_access(4)})"
    " SELECT m.id, m.message_type, m.data, m.critical, m.created_at, d.read_at, o.display_name AS school,"
    " count(*) OVER () AS total, count(*) FILTER (WHERE d.read_at IS NULL) OVER () AS unread,"
    " (SELECT s.language FROM recipient_setting s WHERE s.person = $1) AS language"
    " FROM delivery d JOIN message m ON m.id = d.message_id LEFT JOIN organisation o ON o.id = m.school_unit"
    " WHERE d.person = $1 AND d.channel = 'inapp' ORDER BY m.created_at DESC, m.id LIMIT $2 OFFSET $3"
)


async def inbox(conn: asyncpg.Connection, person: UUID, limit: int, offset: int, logged: audit_store.Access) -> list[asyncpg.Record]:
    """A page of the in-app inbox, newest first, with the read written to the access log in the same statement; each
    row carries ``total`` and ``unread``, counted over the whole inbox (the window runs before LIMIT), and the language
    the recipient chose (``language``, null when none). One round trip for what were four (issue 24: the inbox read
    at 1,000 a second); the log's INSERT runs whether or not the page has rows (PostgreSQL runs a data-modifying CTE
    once, to completion, even when the query does not read it)."""
    return await conn.fetch(INBOX_LOGGED, person, limit, offset, *logged)


async def inbox_counts(conn: asyncpg.Connection, person: UUID) -> asyncpg.Record:
    """``total`` and ``unread`` of the whole inbox, for a page past its end (which has no rows to carry them)."""
    return await conn.fetchrow(
        "SELECT count(*) AS total, count(*) FILTER (WHERE read_at IS NULL) AS unread FROM delivery WHERE person = $1 AND channel = 'inapp'",
        person,
    )


async def mark_read(conn: asyncpg.Connection, person: UUID, message_id: UUID) -> bool:
    found = await conn.fetchval(
        "UPDATE delivery SET read_at = coalesce(read_at, now()) WHERE person = $1 AND message_id = $2 AND channel = 'inapp' RETURNING id",
        person, message_id,
    )
    return found is not None


async def school_name(conn: asyncpg.Connection, school_unit: UUID) -> str | None:
    return await conn.fetchval("SELECT display_name FROM organisation WHERE id = $1", school_unit)


async def cancel_pending(conn: asyncpg.Connection, person: UUID, school_unit: UUID | None) -> int:
    """Stops what has not gone out yet to a person: about one school (a relation ended and no other
    ties them to it) or everything (the person was removed)."""
    result = await conn.execute(
        "UPDATE delivery d SET state = 'cancelled', claimed_until = NULL, updated_at = now() FROM message m"
        " WHERE d.message_id = m.id AND d.person = $1 AND d.state IN ('queued', 'temporary-failure')"
        " AND ($2::uuid IS NULL OR m.school_unit = $2)",
        person, school_unit,
    )
    return int(result.split()[-1])


async def still_related(conn: asyncpg.Connection, guardian: UUID, school_unit: UUID) -> bool:
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM guardianship WHERE guardian = $1 AND school_unit = $2 AND active)", guardian, school_unit)
