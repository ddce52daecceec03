"""The queries every service's access export shares (docs/decisions/0010): the tables each schema has in
the same shape — the person replica, duties, the audit log, the outbox. ``person`` is the canonical (lower-case) text of the
person id wherever a column holds text (token subjects, actors), the uuid where the column is a uuid."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import orjson


async def person(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    """The city's person record as the service's replica holds it: the id, the protection marking and the name."""
    return await conn.fetch(
        "SELECT id, security_marking, given_name, family_name, removed, event_time AS updated_at FROM person WHERE id = $1", person)


async def duties(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    """The city's duties of the person, as the service's replica holds them (ended ones too)."""
    return await conn.fetch(
        "SELECT d.id, d.duty_at, o.display_name AS duty_at_name, d.duty_role, d.start_date, d.end_date, d.active"
        " FROM duty d LEFT JOIN organisation o ON o.id = d.duty_at WHERE d.person = $1 ORDER BY d.start_date NULLS FIRST, d.id",
        person,
    )


async def guardianships(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    """The city's guardian relations the person is guardian or pupil in, as the service's replica holds them (ended ones too)."""
    return await conn.fetch(
        "SELECT g.id, g.guardian, g.pupil, g.school_unit, o.display_name AS school_unit_name, g.relation_type, g.school_type,"
        " g.school_year, g.start_date, g.end_date, g.active FROM guardianship g LEFT JOIN organisation o ON o.id = g.school_unit"
        " WHERE g.guardian = $1 OR g.pupil = $1 ORDER BY g.start_date NULLS FIRST, g.id",
        person,
    )


async def audit_entries(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    """The audit log's entries the person made, and those whose detail names them."""
    return await conn.fetch(
        "SELECT id, at, actor, action, entity, entity_id, detail FROM audit_log"
        " WHERE lower(actor) = $1 OR strpos(detail::text, $1) > 0 ORDER BY id",
        str(person),
    )


async def sealed_prefix(conn: asyncpg.Connection, person: UUID) -> str | None:
    """``pk1.<key id>.``: how every reference sealed with the person's key begins (shared/privacy/vault.py)."""
    key_id = await conn.fetchval("SELECT key_id FROM keyvault.person_key WHERE person = $1", person)
    return f"pk1.{key_id}." if key_id is not None else None


async def outbox_mentions(conn: asyncpg.Connection, person: UUID) -> list[dict[str, Any]]:
    """The events (dead letters too) this service published or will publish whose key, headers or body
    carry the person's id, plain or sealed with their key. A scan of the outbox: an access request is rare."""
    plain = str(person)
    sealed = await sealed_prefix(conn, person) or plain
    rows = await conn.fetch(
        "SELECT id, topic, event_type, created_at, published_at, payload FROM outbox"
        " WHERE position($1::bytea IN coalesce(payload, ''::bytea)) > 0 OR position($1::bytea IN coalesce(key, ''::bytea)) > 0"
        "    OR strpos(headers::text, $2) > 0 OR position($3::bytea IN coalesce(payload, ''::bytea)) > 0"
        " ORDER BY seq",
        plain.encode(), plain, sealed.encode(),
    )
    out = []
    for r in rows:
        payload = bytes(r["payload"]) if r["payload"] is not None else b""
        try:
            body: Any = orjson.loads(payload)
        except orjson.JSONDecodeError:
            body = payload.decode("utf-8", "replace")
        out.append({"id": r["id"], "topic": r["topic"], "eventType": r["event_type"], "createdAt": r["created_at"],
                    "publishedAt": r["published_at"], "data": body})
    return out
