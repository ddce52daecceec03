"""Notification's queries for the right of access (services/notification/access_requests.py): the
requests and their parts, and every row notification holds about a person — their replica, relations,
contact details, preferences, the messages and deliveries to them, the access log about them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

# --- requests ------------------------------------------------------------------------------------


async def create_request(conn: asyncpg.Connection, *, id: UUID, person: UUID, requested_by: str, reason_code: str, requested_at: datetime,
                         private_key_id: str, private_key: bytes) -> None:
    await conn.execute(
        "INSERT INTO access_request (id, person, requested_by, reason_code, requested_at, private_key_id, private_key)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id, person, requested_by, reason_code, requested_at, private_key_id, private_key,
    )


async def requests_by_caller(conn: asyncpg.Connection, requested_by: str, *, status: str | None, limit: int,
                             offset: int) -> list[asyncpg.Record]:
    """The caller's own requests newest first (GET /privacy/access-requests), with the services whose part is in;
    status pending (no export yet, not expired), ready (export held) or expired."""
    return await conn.fetch(
        "SELECT r.id, r.person, r.reason_code, r.requested_at, r.completed_at, r.expires_at, r.expired_at, r.export IS NOT NULL AS ready,"
        "       coalesce((SELECT array_agg(p.service) FROM access_request_part p WHERE p.request_id = r.id), '{}') AS received"
        " FROM access_request r WHERE lower(r.requested_by) = lower($1)"
        " AND ($2::text IS NULL OR ($2 = 'ready' AND r.export IS NOT NULL)"
        "      OR ($2 = 'expired' AND r.export IS NULL AND r.expired_at IS NOT NULL)"
        "      OR ($2 = 'pending' AND r.export IS NULL AND r.expired_at IS NULL))"
        " ORDER BY r.requested_at DESC, r.id DESC LIMIT $3 OFFSET $4",
        requested_by, status, limit, offset,
    )


async def request(conn: asyncpg.Connection, id: UUID, *, lock: bool = False) -> asyncpg.Record | None:
    if lock:
        return await conn.fetchrow("SELECT * FROM access_request WHERE id = $1 FOR UPDATE", id)
    return await conn.fetchrow("SELECT * FROM access_request WHERE id = $1", id)


async def add_part(conn: asyncpg.Connection, request_id: UUID, service: str, part: bytes, rows: int) -> bool:
    """False when the service's part was there already (sent again)."""
    done = await conn.fetchval(
        "INSERT INTO access_request_part (request_id, service, part, rows) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (request_id, service) DO NOTHING RETURNING service",
        request_id, service, part, rows,
    )
    return done is not None


async def parts(conn: asyncpg.Connection, request_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT service, part, rows, received_at FROM access_request_part WHERE request_id = $1 ORDER BY service", request_id)


async def received(conn: asyncpg.Connection, request_id: UUID) -> list[str]:
    rows = await conn.fetch("SELECT service FROM access_request_part WHERE request_id = $1 ORDER BY service", request_id)
    return [r["service"] for r in rows]


async def complete(conn: asyncpg.Connection, request_id: UUID, *, completed_at: datetime, expires_at: datetime, export_key_id: str,
                   export: bytes) -> None:
    """The assembled export stored; the private key and the sealed parts dropped (no later part can be read)."""
    await conn.execute(
        "UPDATE access_request SET completed_at = $2, expires_at = $3, export_key_id = $4, export = $5, private_key_id = NULL,"
        " private_key = NULL WHERE id = $1",
        request_id, completed_at, expires_at, export_key_id, export,
    )
    await conn.execute("DELETE FROM access_request_part WHERE request_id = $1", request_id)


async def expire(conn: asyncpg.Connection, now: datetime, pending_before: datetime) -> tuple[int, int]:
    """Assembled exports past their expiry are dropped, and so are requests still pending since before
    ``pending_before`` (their key and parts): (exports dropped, pending requests given up)."""
    done = await conn.fetch(
        "UPDATE access_request SET export = NULL, export_key_id = NULL, expired_at = $1"
        " WHERE export IS NOT NULL AND expires_at <= $1 RETURNING id",
        now,
    )
    stale = await conn.fetch(
        "UPDATE access_request SET private_key = NULL, private_key_id = NULL, expired_at = $1"
        " WHERE completed_at IS NULL AND private_key IS NOT NULL AND requested_at < $2 RETURNING id",
        now, pending_before,
    )
    if stale:
        await conn.execute("DELETE FROM access_request_part WHERE request_id = ANY($1::uuid[])", [r["id"] for r in stale])
    return len(done), len(stale)


# --- what notification holds about a person ------------------------------------------------------


async def relations(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT g.id, g.guardian, g.pupil, g.school_unit, o.display_name AS school_unit_name, g.relation_type, g.school_type,"
        " g.school_year, g.start_date, g.end_date, g.active"
        " FROM guardianship g LEFT JOIN organisation o ON o.id = g.school_unit WHERE g.guardian = $1 OR g.pupil = $1"
        " ORDER BY g.start_date NULLS FIRST, g.id",
        person,
    )


async def contact(conn: asyncpg.Connection, person: UUID) -> asyncpg.Record | None:
    """The contact details, the push token the city's systems set as ``push_token`` (its device has the row's key)."""
    return await conn.fetchrow(
        "SELECT c.key_id, c.email, c.mobile, CASE WHEN d.key_id = c.key_id THEN d.token END AS push_token, c.language, c.updated_at,"
        " c.email_confirmed_at, c.mobile_confirmed_at"
        " FROM contact c LEFT JOIN device d ON d.person = c.person AND d.source = 'city' WHERE c.person = $1",
        person,
    )


async def devices(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, source, label, platform, key_id, token, created_at, last_used_at FROM device WHERE person = $1 ORDER BY created_at, id", person)


async def pending_contacts(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    """A new address or number waiting for its code (the code itself is kept only as a keyed hash, so it is not in the export)."""
    return await conn.fetch(
        "SELECT channel, key_id, value, attempts, expires_at, created_at FROM contact_pending WHERE person = $1 ORDER BY channel", person)


async def device_sends(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    """Which of the person's push deliveries went to which device, and what became of each."""
    return await conn.fetch(
        "SELECT s.delivery_id, s.device_id, s.state, s.gateway_ref, s.last_error, s.updated_at"
        " FROM device_send s JOIN delivery d ON d.id = s.delivery_id WHERE d.person = $1 ORDER BY s.id",
        person,
    )


async def choices(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT message_type, channel, mode FROM preference WHERE person = $1 ORDER BY message_type, channel", person)


async def settings(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT language, quiet_start, quiet_end, updated_at FROM recipient_setting WHERE person = $1", person)


async def deliveries(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    """Every delivery to the person with its message, oldest message first."""
    return await conn.fetch(
        "SELECT m.id AS message_id, m.message_type, m.critical, m.school_unit, o.display_name AS school, m.data, m.broadcast_id,"
        " m.created_at AS message_created_at, d.id, d.channel, d.mode, d.state, d.send_after, d.quiet_bypassed, d.attempts,"
        " d.last_error, d.read_at, d.gateway_ref, d.bundled_into, d.fallback_from, d.created_at, d.updated_at"
        " FROM delivery d JOIN message m ON m.id = d.message_id LEFT JOIN organisation o ON o.id = m.school_unit"
        " WHERE d.person = $1 ORDER BY m.created_at, m.id, d.id",
        person,
    )


async def bypasses(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT at, message_id, channel, local_time FROM quiet_hours_bypass WHERE person = $1 ORDER BY at, id", person)


async def accesses_about(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    """The access log's entries about the person: who read or wrote their data, when, why and how."""
    return await conn.fetch(
        "SELECT at, actor, actor_roles, action, why_code, path FROM personal_data_access"
        " WHERE subject = $1 OR $1 = ANY(subjects) ORDER BY id",
        person,
    )


async def accesses_by(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    """Others' data the person read or wrote: what, when and why, not whose (the path names them)."""
    return await conn.fetch(
        "SELECT at, actor_roles, action, why_code, cardinality(subjects) AS persons FROM personal_data_access"
        " WHERE lower(actor) = $1 AND NOT (coalesce(subject = $2, false) OR $2 = ANY(subjects)) ORDER BY id",
        str(person), person,
    )


async def broadcasts_sent(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, audience, subject, body, translations, critical, recipients, created_at FROM broadcast WHERE lower(sender) = $1"
        " ORDER BY created_at, id",
        str(person),
    )


async def requests_about(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, requested_by, reason_code, requested_at, completed_at, expires_at, expired_at FROM access_request"
        " WHERE person = $1 ORDER BY requested_at, id",
        person,
    )


async def requests_by(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    """Access requests the person made about others: when and why, not about whom."""
    return await conn.fetch(
        "SELECT id, reason_code, requested_at, completed_at FROM access_request WHERE lower(requested_by) = $1 AND person <> $2"
        " ORDER BY requested_at, id",
        str(person), person,
    )


async def erase(conn: asyncpg.Connection, person: UUID, placeholder: str = "erased") -> int:
    """For the erasure of a person (docs/decisions/0009): their access requests go with their parts and exports,
    and requests they made about others keep no trace of who asked. Returns the rows deleted or changed."""
    deleted = await conn.fetch("DELETE FROM access_request WHERE person = $1 RETURNING id", person)
    changed = await conn.fetch("UPDATE access_request SET requested_by = $2 WHERE lower(requested_by) = $1 RETURNING id", str(person), placeholder)
    return len(deleted) + len(changed)
