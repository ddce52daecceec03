"""SQL of notification's erasure (docs/decisions/0009): its own part — everything it holds about a person,
deleted in the caller's transaction — and the coordinator's requests and confirmations."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.notification.store import access_requests as access_request_store
from shared.privacy.erasure import ERASED, erase_shared_tables, scrub_outbox

#: stands for an erased person where a column must hold a person id (the access log's subjects)
NIL = UUID(int=0)


def _count(status: str) -> int:
    return int(status.split()[-1])


# --- notification's part -------------------------------------------------------------------------

async def erase_person(conn: asyncpg.Connection, person: UUID) -> dict[str, int]:
    """The person's replica, relations, duties, contact details (pending ones too), push devices and what was sent to
    them, preferences, deliveries (read state included),
    the messages that were theirs alone, their quiet-hours bypasses and access requests are deleted; where they
    are the actor (a broadcast's sender, who wrote contact details, who read others' data) they become "erased";
    the access log keeps every read about them, with the nil id in their place."""
    text = str(person)
    counts = {
        **await erase_shared_tables(conn, person),
        "contact": _count(await conn.execute("DELETE FROM contact WHERE person = $1", person))
        + _count(await conn.execute("UPDATE contact SET updated_by = $2 WHERE lower(updated_by) = $1", text, ERASED)),
        "contact_pending": _count(await conn.execute("DELETE FROM contact_pending WHERE person = $1", person)),
        "device_send": _count(await conn.execute(
            "DELETE FROM device_send s USING delivery d WHERE d.id = s.delivery_id AND d.person = $1", person)),
        "device": _count(await conn.execute("DELETE FROM device WHERE person = $1", person)),
        "preference": _count(await conn.execute("DELETE FROM preference WHERE person = $1", person)),
        "recipient_setting": _count(await conn.execute("DELETE FROM recipient_setting WHERE person = $1", person)),
        "quiet_hours_bypass": _count(await conn.execute("DELETE FROM quiet_hours_bypass WHERE person = $1", person)),
    }
    # a recipient of a broadcast not planned yet is no longer one (the list stays: it is the others' too)
    counts["pending_plan"] = _count(await conn.execute(
        "UPDATE pending_plan SET recipients = array_remove(recipients, $1) WHERE $1 = ANY(recipients)", person))
    messages = [r["message_id"] for r in await conn.fetch("SELECT DISTINCT message_id FROM delivery WHERE person = $1", person)]
    # one statement: digest items point at the person's digest deliveries, fallbacks at their failed ones
    counts["delivery"] = _count(await conn.execute("DELETE FROM delivery WHERE person = $1", person))
    counts["message"] = _count(await conn.execute(
        "DELETE FROM message m WHERE m.id = ANY($1::uuid[]) AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.message_id = m.id)"
        " AND NOT EXISTS (SELECT 1 FROM quiet_hours_bypass b WHERE b.message_id = m.id)"
        " AND NOT EXISTS (SELECT 1 FROM pending_plan p WHERE p.message_id = m.id)",
        messages,
    )) + _count(await conn.execute(
        "UPDATE message SET dedupe_key = 'digest:' || $2 || ':' || id WHERE dedupe_key LIKE 'digest:' || $1 || ':%'", text, ERASED))
    counts["broadcast"] = _count(await conn.execute("UPDATE broadcast SET sender = $2 WHERE lower(sender) = $1", text, ERASED))
    counts["access_request"] = await access_request_store.erase(conn, person, ERASED)  # their exports go too (decision 0010)
    counts["personal_data_access"] = await _pseudonymise_access_log(conn, person)
    counts["outbox"] = await scrub_outbox(conn, person)
    return counts


async def _pseudonymise_access_log(conn: asyncpg.Connection, person: UUID) -> int:
    """The access log is append-only: its trigger lets rows go only in a transaction that set
    ``skolit.retention`` (migrations/0006_access_audit.sql). Erasure uses that switch for this statement alone
    and writes each row back at once, with the nil id for the person (and "erased" where they read or wrote),
    so every access stays on the record with its actor, time, action and reason."""
    text = str(person)
    await conn.execute("SELECT set_config('skolit.retention', 'on', true)")
    try:
        return _count(await conn.execute(
            "WITH gone AS (DELETE FROM personal_data_access WHERE subject = $1 OR subjects @> ARRAY[$1::uuid] OR lower(actor) = $2"
            "              OR strpos(lower(path), $2) > 0 RETURNING *)"
            " INSERT INTO personal_data_access (id, at, actor, actor_roles, action, subject, subjects, why_code, path)"
            " SELECT id, at, CASE WHEN lower(actor) = $2 THEN $3 ELSE actor END, actor_roles, action,"
            "        CASE WHEN subject = $1 THEN $4 ELSE subject END, array_replace(subjects, $1, $4), why_code,"
            "        CASE WHEN strpos(lower(path), $2) > 0 THEN replace(lower(path), $2, $3) ELSE path END"
            " FROM gone",
            person, text, ERASED, NIL,
        ))
    finally:
        await conn.execute("SELECT set_config('skolit.retention', 'off', true)")


# --- the coordinator -----------------------------------------------------------------------------

async def pending_for(conn: asyncpg.Connection, person_hash: bytes) -> UUID | None:
    return await conn.fetchval("SELECT id FROM erasure_request WHERE person_hash = $1 AND completed_at IS NULL", person_hash)


async def create_request(conn: asyncpg.Connection, *, id: UUID, person_ref: str, person_hash: bytes, source: str, reason_code: str,
                         requested_by: str, requested_at: datetime) -> bool:
    """False when the id exists already or a request for the person is pending (the unique keys decide)."""
    made = await conn.fetchval(
        "INSERT INTO erasure_request (id, person_ref, person_hash, source, reason_code, requested_by, requested_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id",
        id, person_ref, person_hash, source, reason_code, requested_by, requested_at,
    )
    return made is not None


async def request(conn: asyncpg.Connection, id: UUID, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM erasure_request WHERE id = $1" + (" FOR UPDATE" if lock else ""), id)


async def confirmations(conn: asyncpg.Connection, id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT service, erased_at, counts, received_at FROM erasure_confirmation WHERE request_id = $1 ORDER BY service", id)


async def confirm(conn: asyncpg.Connection, id: UUID, service: str, erased_at: datetime, counts: dict[str, Any]) -> bool:
    """False when the service had confirmed already (its event again)."""
    made = await conn.fetchval(
        "INSERT INTO erasure_confirmation (request_id, service, erased_at, counts) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (request_id, service) DO NOTHING RETURNING service",
        id, service, erased_at, counts,
    )
    return made is not None


async def complete(conn: asyncpg.Connection, id: UUID, *, key_destroyed: bool) -> None:
    """Done: the sealed person and the hash go (the key is destroyed in the same transaction)."""
    await conn.execute(
        "UPDATE erasure_request SET completed_at = now(), person_ref = NULL, person_hash = NULL, key_destroyed = $2 WHERE id = $1",
        id, key_destroyed,
    )


async def requests_page(conn: asyncpg.Connection, *, status: str | None, limit: int, offset: int) -> list[asyncpg.Record]:
    """Erasure requests newest first (GET /privacy/erasure-requests): the rows without the sealed person."""
    return await conn.fetch(
        "SELECT id, source, reason_code, requested_at, completed_at, key_destroyed FROM erasure_request"
        " WHERE ($1::text IS NULL OR ($1 = 'complete') = (completed_at IS NOT NULL))"
        " ORDER BY requested_at DESC, id DESC LIMIT $2 OFFSET $3",
        status, limit, offset,
    )


async def confirmations_of(conn: asyncpg.Connection, ids: list[UUID]) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT request_id, service, erased_at, counts FROM erasure_confirmation WHERE request_id = ANY($1::uuid[])", ids)
