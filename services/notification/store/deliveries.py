"""SQL of sending: claiming deliveries, and how each ends (delivered, failed, accepted, retried, fallen back)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg


async def claim(conn: asyncpg.Connection, channel: str, now: datetime, limit: int, lease_until: datetime) -> list[asyncpg.Record]:
    """Due deliveries of a channel, now this sender's until the lease ends. SKIP LOCKED lets
    concurrent senders (threads, replicas) take disjoint sets; a lease that ran out (its sender died
    before the gateway took the message) is taken over."""
    return await conn.fetch(
        """
        WITH due AS (
            SELECT id FROM delivery
            WHERE channel = $1 AND mode = 'instant' AND send_after <= $2
              AND (state IN ('queued', 'temporary-failure') OR (state = 'sending' AND gateway_ref IS NULL AND claimed_until < $2))
            ORDER BY send_after, id LIMIT $3
            FOR UPDATE SKIP LOCKED)
        UPDATE delivery d SET state = 'sending', attempts = d.attempts + 1, claimed_until = $4, updated_at = now()
        FROM due WHERE d.id = due.id
        RETURNING d.id, d.send_after
        """,
        channel, now, limit, lease_until,
    )


async def outgoing(conn: asyncpg.Connection, ids: list[int]) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT d.id, d.person, d.channel, d.attempts, m.id AS message_id, m.message_type, m.data, o.display_name AS school,
               coalesce(s.language, c.language, 'sv') AS language, c.key_id, c.email, c.mobile, c.email_undeliverable
        FROM delivery d JOIN message m ON m.id = d.message_id
        LEFT JOIN organisation o ON o.id = m.school_unit
        LEFT JOIN recipient_setting s ON s.person = d.person
        LEFT JOIN contact c ON c.person = d.person
        WHERE d.id = ANY($1::bigint[])
        """,
        ids,
    )


async def digest_items(conn: asyncpg.Connection, digest_ids: list[int]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT b.bundled_into, m.message_type, m.data, o.display_name AS school FROM delivery b JOIN message m ON m.id = b.message_id"
        " LEFT JOIN organisation o ON o.id = m.school_unit WHERE b.bundled_into = ANY($1::bigint[]) ORDER BY m.created_at, m.id",
        digest_ids,
    )


DELIVERY_FACTS = "d.id, d.message_id, d.person, d.channel, d.state, m.message_type, m.school_unit, m.critical"


async def mark_delivered(conn: asyncpg.Connection, ids: list[int], refs: list[str | None], from_states: tuple[str, ...]) -> list[asyncpg.Record]:
    """Delivered, with what the digests among them carried; returns every delivery that changed."""
    done = await conn.fetch(
        "UPDATE delivery d SET state = 'delivered', gateway_ref = coalesce(u.ref, d.gateway_ref), claimed_until = NULL, updated_at = now()"
        " FROM unnest($1::bigint[], $2::text[]) AS u(id, ref), message m"
        " WHERE d.id = u.id AND m.id = d.message_id AND d.state = ANY($3::text[]) RETURNING " + DELIVERY_FACTS,
        ids, refs, list(from_states),
    )
    return done + await _follow_bundles(conn, [r["id"] for r in done], "delivered", None)


async def mark_failed(conn: asyncpg.Connection, ids: list[int], errors: list[str], state: str, from_states: tuple[str, ...]) -> list[asyncpg.Record]:
    done = await conn.fetch(
        "UPDATE delivery d SET state = $3, last_error = u.error, claimed_until = NULL, updated_at = now()"
        " FROM unnest($1::bigint[], $2::text[]) AS u(id, error), message m"
        " WHERE d.id = u.id AND m.id = d.message_id AND d.state = ANY($4::text[]) RETURNING d.last_error, " + DELIVERY_FACTS,
        ids, errors, state, list(from_states),
    )
    return done


async def bundled_failed(conn: asyncpg.Connection, digest_ids: list[int], state: str) -> list[asyncpg.Record]:
    return await _follow_bundles(conn, digest_ids, state, "digest-failed")


async def _follow_bundles(conn: asyncpg.Connection, digest_ids: list[int], state: str, error: str | None) -> list[asyncpg.Record]:
    if not digest_ids:
        return []
    return await conn.fetch(
        "UPDATE delivery d SET state = $2, last_error = $3, updated_at = now() FROM message m"
        " WHERE d.bundled_into = ANY($1::bigint[]) AND m.id = d.message_id AND d.state = 'queued' RETURNING " + DELIVERY_FACTS,
        digest_ids, state, error,
    )


async def mark_accepted(conn: asyncpg.Connection, ids: list[int], refs: list[str | None]) -> None:
    """The gateway took it and will call back: no lease any more (its callback finishes it)."""
    await conn.execute(
        "UPDATE delivery d SET gateway_ref = coalesce(u.ref, d.id::text), claimed_until = NULL, updated_at = now()"
        " FROM unnest($1::bigint[], $2::text[]) AS u(id, ref) WHERE d.id = u.id AND d.state = 'sending'",
        ids, refs,
    )


async def retry_later(conn: asyncpg.Connection, ids: list[int], errors: list[str], at: list[datetime]) -> None:
    await conn.execute(
        "UPDATE delivery d SET state = 'temporary-failure', last_error = u.error, send_after = u.at, claimed_until = NULL, gateway_ref = NULL,"
        " updated_at = now() FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) AS u(id, error, at)"
        " WHERE d.id = u.id AND d.state = 'sending'",
        ids, errors, at,
    )


async def fallback_facts(conn: asyncpg.Connection, ids: list[int]) -> list[asyncpg.Record]:
    """For failed deliveries: the recipient's reachable channels, the channels already used for the
    message (a digest item not yet bundled does not count: it can still go at once), and the
    channels explicitly turned off for the type."""
    return await conn.fetch(
        """
        SELECT d.id, d.message_id, d.person, d.channel, m.message_type, m.critical,
               coalesce(c.email IS NOT NULL, false) AS email, coalesce(c.mobile IS NOT NULL, false) AS sms,
               EXISTS (SELECT 1 FROM device dv WHERE dv.person = d.person) AS push,
               coalesce((SELECT array_agg(x.channel) FROM delivery x WHERE x.message_id = d.message_id AND x.person = d.person
                         AND NOT (x.mode = 'digest' AND x.state = 'queued' AND x.bundled_into IS NULL)), '{}') AS tried,
               coalesce((SELECT array_agg(p.channel) FROM preference p WHERE p.person = d.person AND p.message_type = m.message_type
                         AND p.mode = 'off'), '{}') AS turned_off
        FROM delivery d JOIN message m ON m.id = d.message_id LEFT JOIN contact c ON c.person = d.person
        WHERE d.id = ANY($1::bigint[]) AND m.message_type <> 'digest'
        """,
        ids,
    )


async def add_fallbacks(conn: asyncpg.Connection, rows: list[tuple[UUID, UUID, str, int]], now: datetime) -> None:
    """(message, person, channel, failed delivery): at once; a digest item waiting on that channel goes at once instead."""
    await conn.execute(
        "INSERT INTO delivery (message_id, person, channel, mode, state, send_after, fallback_from)"
        " SELECT u.m, u.p, u.c, 'instant', 'queued', $5, u.f FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[]) AS u(m, p, c, f)"
        " ON CONFLICT (message_id, person, channel) DO UPDATE SET mode = 'instant', send_after = EXCLUDED.send_after,"
        " fallback_from = EXCLUDED.fallback_from, updated_at = now()"
        " WHERE delivery.mode = 'digest' AND delivery.state = 'queued' AND delivery.bundled_into IS NULL",
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows], now,
    )


async def delivery_by_reference(conn: asyncpg.Connection, channel: str, reference: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT id, state, attempts FROM delivery WHERE id = $1 AND channel = $2 FOR UPDATE", reference, channel)


async def delivery_state(conn: asyncpg.Connection, id: int) -> str | None:
    return await conn.fetchval("SELECT state FROM delivery WHERE id = $1", id)
