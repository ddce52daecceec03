"""SQL of the catalog service's privacy part (services/catalog/privacy.py).

Right of access: the queries of catalog's part of a person's export (``gather``): the person's own app
requests with their whole history, what they decided or noted on others' requests (without naming the
requester), the apps, licences and statuses they recorded. Staff appear by their token subject.

Erasure: the catalog's erasure (docs/decisions/0009): what it holds about a person, deleted or anonymised in
the caller's transaction. Who did something becomes "erased"; the free text of their requests goes (in the
outbox's copies of the request events too), and a request of theirs still open is withdrawn, since no one is
left to hear the decision. Apps, licences and statuses stay, with "erased" as who made them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from services.catalog.domain import OPEN_STATES
from shared.events.catalog import AppRequestDecided, AppRequestProgressed, AppRequestStalled, AppRequestSubmitted
from shared.privacy.erasure import (
    ERASED, erase_shared_tables, scrub_audit_log, scrub_outbox,
)
from shared.topics import CATALOG

SYSTEM = "skolit:erasure"
REQUEST_EVENTS = [e.TYPE for e in (AppRequestSubmitted, AppRequestProgressed, AppRequestDecided, AppRequestStalled)]


def _count(status: str) -> int:
    return int(status.split()[-1])


async def erase_person(conn: asyncpg.Connection, person: UUID) -> dict[str, int]:
    text = str(person)
    now = datetime.now(UTC)
    counts = await erase_shared_tables(conn, person)
    theirs = [r["id"] for r in await conn.fetch("SELECT id FROM app_request WHERE lower(requester) = $1 ORDER BY id FOR UPDATE", text)]
    withdrawn = await conn.fetch(
        "UPDATE app_request SET state = 'withdrawn', waiting_since = NULL, updated_at = $3 WHERE id = ANY($1::uuid[]) AND state = ANY($2::text[])"
        " RETURNING id",
        theirs, list(OPEN_STATES), now,
    )
    await conn.executemany("INSERT INTO app_request_step (request_id, actor, step, note, at) VALUES ($1, $2, 'withdraw', NULL, $3)",
                           [(r["id"], SYSTEM, now) for r in withdrawn])
    counts["app_request"] = _count(await conn.execute(
        "UPDATE app_request SET"
        " requester = CASE WHEN id = ANY($1::uuid[]) THEN $3 ELSE requester END,"
        " purpose = CASE WHEN id = ANY($1::uuid[]) THEN '' ELSE purpose END,"
        " proposed = CASE WHEN id = ANY($1::uuid[]) THEN proposed - 'description' ELSE proposed END,"
        " conditions = CASE WHEN id = ANY($1::uuid[]) THEN NULL ELSE conditions END,"
        " reason = CASE WHEN id = ANY($1::uuid[]) THEN NULL ELSE reason END,"
        " decided_by = CASE WHEN lower(decided_by) = $2 THEN $3 ELSE decided_by END"
        " WHERE id = ANY($1::uuid[]) OR lower(decided_by) = $2",
        theirs, text, ERASED,
    ))
    counts["app_request_step"] = _count(await conn.execute(
        "UPDATE app_request_step SET actor = CASE WHEN lower(actor) = $2 THEN $3 ELSE actor END, note = NULL"
        " WHERE lower(actor) = $2 OR (request_id = ANY($1::uuid[]) AND note IS NOT NULL)",
        theirs, text, ERASED,
    ))
    counts["status_definition"] = _count(await conn.execute(
        "UPDATE status_definition SET defined_by = $2 WHERE lower(defined_by) = $1", text, ERASED))
    counts["app"] = _count(await conn.execute(
        "UPDATE app SET created_by = CASE WHEN lower(created_by) = $1 THEN $2 ELSE created_by END,"
        " updated_by = CASE WHEN lower(updated_by) = $1 THEN $2 ELSE updated_by END"
        " WHERE lower(created_by) = $1 OR lower(updated_by) = $1",
        text, ERASED,
    ))
    counts["licence"] = _count(await conn.execute("UPDATE licence SET created_by = $2 WHERE lower(created_by) = $1", text, ERASED))
    counts["audit_log"] = await scrub_audit_log(conn, person)
    # The outbox keeps the request events: their requester is sealed, their free text goes.
    # (the CASE keeps the JSON cast away from other rows: a dead letter's body need not be JSON)
    redacted = _count(await conn.execute(
        "UPDATE outbox SET payload = convert_to((convert_from(payload, 'UTF8')::jsonb - 'note' - 'conditions' - 'reason')::text, 'UTF8')"
        " WHERE topic = $3 AND event_type = ANY($2::text[]) AND CASE WHEN topic = $3 AND event_type = ANY($2::text[]) THEN"
        "   convert_from(payload, 'UTF8')::jsonb ->> 'requestId' = ANY($1::text[])"
        "   AND convert_from(payload, 'UTF8')::jsonb ?| ARRAY['note', 'conditions', 'reason'] ELSE false END",
        [str(i) for i in theirs], REQUEST_EVENTS, CATALOG.name,
    )) if theirs else 0
    counts["outbox"] = redacted + await scrub_outbox(conn, person)
    return counts


async def own_requests(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT r.id, r.school_unit, o.display_name AS school_unit_name, r.requester_duty, r.app_id, r.app_name, r.proposed, r.purpose,"
        " r.grades, r.pupils, r.state, r.conditions, r.reason, r.decided_by, r.decided_at, r.created_at, r.updated_at"
        " FROM app_request r LEFT JOIN organisation o ON o.id = r.school_unit WHERE lower(r.requester) = $1 ORDER BY r.created_at, r.id",
        str(person),
    )


async def own_request_steps(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT s.request_id, s.at, s.actor, s.step, s.note FROM app_request_step s JOIN app_request r ON r.id = s.request_id"
        " WHERE lower(r.requester) = $1 ORDER BY s.request_id, s.id",
        str(person),
    )


async def decided_requests(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    """Others' requests the person decided: the decision, not who asked."""
    return await conn.fetch(
        "SELECT id, school_unit, app_id, app_name, state, conditions, reason, decided_at FROM app_request"
        " WHERE lower(decided_by) = $1 AND lower(requester) <> $1 ORDER BY decided_at, id",
        str(person),
    )


async def steps_on_others(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT s.request_id, s.at, s.step, s.note FROM app_request_step s JOIN app_request r ON r.id = s.request_id"
        " WHERE lower(s.actor) = $1 AND lower(r.requester) <> $1 ORDER BY s.id",
        str(person),
    )


async def apps(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, name, supplier, kind, status, created_at, updated_at,"
        " lower(created_by) = $1 AS created_by_them, lower(updated_by) = $1 AS last_updated_by_them"
        " FROM app WHERE lower(created_by) = $1 OR lower(updated_by) = $1 ORDER BY created_at, id",
        str(person),
    )


async def licences(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, app_id, school_unit, licence_type, seats, group_name, starts, expires, note, created_at, ended_at"
        " FROM licence WHERE lower(created_by) = $1 ORDER BY created_at, id",
        str(person),
    )


async def statuses(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT code, label_sv, label_en, allows_use, defined_at FROM status_definition WHERE lower(defined_by) = $1 ORDER BY position",
        str(person),
    )
