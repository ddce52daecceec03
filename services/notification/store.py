"""SQL of the notification service."""

from __future__ import annotations

from datetime import datetime
from typing import Any
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


# --- contact details -----------------------------------------------------------------------------

async def person_known(conn: asyncpg.Connection, person: UUID) -> bool:
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM person WHERE id = $1 AND NOT removed)", person)


async def save_contact(conn: asyncpg.Connection, *, person: UUID, key_id: str, email: bytes | None, mobile: bytes | None,
                       push_token: bytes | None, language: str, actor: str) -> None:
    await conn.execute(
        "INSERT INTO contact (person, key_id, email, mobile, push_token, language, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (person) DO UPDATE SET key_id = EXCLUDED.key_id, email = EXCLUDED.email, mobile = EXCLUDED.mobile,"
        " push_token = EXCLUDED.push_token, language = EXCLUDED.language, updated_by = EXCLUDED.updated_by, updated_at = now()",
        person, key_id, email, mobile, push_token, language, actor,
    )


async def unknown_persons(conn: asyncpg.Connection, persons: list[UUID]) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT u.id FROM unnest($1::uuid[]) AS u(id) LEFT JOIN person p ON p.id = u.id AND NOT p.removed WHERE p.id IS NULL", persons
    )
    return [r["id"] for r in rows]


async def save_contacts(conn: asyncpg.Connection, rows: list[tuple[UUID, str, bytes | None, bytes | None, bytes | None, str]], actor: str) -> None:
    """Many at once, in one statement (the access log is written beside it: access_audit.py)."""
    columns = list(zip(*rows, strict=True))
    await conn.execute(
        "INSERT INTO contact (person, key_id, email, mobile, push_token, language, updated_by)"
        " SELECT u.*, $7 FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::bytea[], $5::bytea[], $6::text[]) AS u"
        " ON CONFLICT (person) DO UPDATE SET key_id = EXCLUDED.key_id, email = EXCLUDED.email, mobile = EXCLUDED.mobile,"
        " push_token = EXCLUDED.push_token, language = EXCLUDED.language, updated_by = EXCLUDED.updated_by, updated_at = now()",
        *[list(c) for c in columns], actor,
    )


async def contact(conn: asyncpg.Connection, person: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM contact WHERE person = $1", person)


# --- preferences ---------------------------------------------------------------------------------

async def preferences(conn: asyncpg.Connection, person: UUID) -> tuple[asyncpg.Record | None, list[asyncpg.Record]]:
    setting = await conn.fetchrow("SELECT language, quiet_start, quiet_end FROM recipient_setting WHERE person = $1", person)
    rows = await conn.fetch("SELECT message_type, channel, mode FROM preference WHERE person = $1", person)
    return setting, rows


async def save_preferences(conn: asyncpg.Connection, person: UUID, *, language: str | None, quiet: tuple[Any, Any] | None,
                           choices: list[tuple[str, str, str]]) -> None:
    await conn.execute(
        "INSERT INTO recipient_setting (person, language, quiet_start, quiet_end) VALUES ($1, coalesce($2, 'sv'), coalesce($3, '21:00'::time),"
        " coalesce($4, '07:00'::time)) ON CONFLICT (person) DO UPDATE SET language = coalesce($2, recipient_setting.language),"
        " quiet_start = coalesce($3, recipient_setting.quiet_start), quiet_end = coalesce($4, recipient_setting.quiet_end), updated_at = now()",
        person, language, quiet[0] if quiet else None, quiet[1] if quiet else None,
    )
    await conn.executemany(
        "INSERT INTO preference (person, message_type, channel, mode) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (person, message_type, channel) DO UPDATE SET mode = EXCLUDED.mode",
        [(person, t, c, m) for t, c, m in choices],
    )


# --- messages and deliveries ---------------------------------------------------------------------

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
               coalesce(c.push_token IS NOT NULL, false) AS push,
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


async def inbox(conn: asyncpg.Connection, person: UUID, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT m.id, m.message_type, m.data, m.critical, m.created_at, d.read_at, o.display_name AS school"
        " FROM delivery d JOIN message m ON m.id = d.message_id LEFT JOIN organisation o ON o.id = m.school_unit"
        " WHERE d.person = $1 AND d.channel = 'inapp' ORDER BY m.created_at DESC, m.id LIMIT $2",
        person, limit,
    )


async def mark_read(conn: asyncpg.Connection, person: UUID, message_id: UUID) -> bool:
    found = await conn.fetchval(
        "UPDATE delivery SET read_at = coalesce(read_at, now()) WHERE person = $1 AND message_id = $2 AND channel = 'inapp' RETURNING id",
        person, message_id,
    )
    return found is not None


async def school_name(conn: asyncpg.Connection, school_unit: UUID) -> str | None:
    return await conn.fetchval("SELECT display_name FROM organisation WHERE id = $1", school_unit)


# --- sending -------------------------------------------------------------------------------------

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
               coalesce(s.language, c.language, 'sv') AS language, c.key_id, c.email, c.mobile, c.push_token
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
               coalesce(c.push_token IS NOT NULL, false) AS push,
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


# --- digests, reminders, reach -------------------------------------------------------------------

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


async def record_campaign(conn: asyncpg.Connection, id: UUID, name: str, deadline: Any, schools: list[UUID]) -> None:
    await conn.execute("INSERT INTO campaign (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name", id, name)
    await conn.execute(
        "INSERT INTO campaign_school (campaign, school_unit, deadline) SELECT $1, s, $3 FROM unnest($2::uuid[]) AS s"
        " ON CONFLICT (campaign, school_unit) DO NOTHING",
        id, schools, deadline,
    )


async def close_campaign(conn: asyncpg.Connection, id: UUID) -> None:
    await conn.execute("UPDATE campaign SET closed = true WHERE id = $1", id)


async def mark_submitted(conn: asyncpg.Connection, campaign: UUID, school: UUID, submitted: bool, deadline: Any = None) -> None:
    await conn.execute(
        "UPDATE campaign_school SET submitted = $3, deadline = coalesce($4, deadline) WHERE campaign = $1 AND school_unit = $2",
        campaign, school, submitted, deadline,
    )


async def open_deadlines(conn: asyncpg.Connection, today: Any, horizon_days: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT cs.campaign, cs.school_unit, cs.deadline, c.name FROM campaign_school cs JOIN campaign c ON c.id = cs.campaign"
        " WHERE NOT c.closed AND NOT cs.submitted AND cs.deadline >= $1 AND cs.deadline - $1 <= $2 ORDER BY cs.deadline, cs.school_unit",
        today, horizon_days,
    )


async def guardian_reach(conn: asyncpg.Connection, year: int, since: datetime) -> list[asyncpg.Record]:
    """Per school unit with guardians: how many, and how many a channel reached since ``since`` —
    only the counts that changed since last published."""
    return await conn.fetch(
        """
        WITH counted AS (
            SELECT g.school_unit, count(DISTINCT g.guardian) AS guardians,
                   count(DISTINCT g.guardian) FILTER (WHERE EXISTS (
                       SELECT 1 FROM delivery d WHERE d.person = g.guardian AND d.created_at >= $2
                       AND ((d.channel <> 'inapp' AND d.state = 'delivered') OR d.read_at IS NOT NULL))) AS reached
            FROM guardianship g WHERE g.active GROUP BY g.school_unit)
        SELECT c.* FROM counted c LEFT JOIN reach_published p ON p.school_unit = c.school_unit AND p.year = $1
        WHERE p.school_unit IS NULL OR (p.guardians, p.reached) <> (c.guardians, c.reached)
        """,
        year, since,
    )


async def reach_published(conn: asyncpg.Connection, year: int, rows: list[asyncpg.Record]) -> None:
    await conn.executemany(
        "INSERT INTO reach_published (school_unit, year, guardians, reached) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (school_unit, year) DO UPDATE SET guardians = EXCLUDED.guardians, reached = EXCLUDED.reached",
        [(r["school_unit"], year, r["guardians"], r["reached"]) for r in rows],
    )


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


# --- broadcasts, receipts, worklists -------------------------------------------------------------

async def school_units(conn: asyncpg.Connection, ids: list[UUID] | None, districts: list[UUID] | None) -> list[asyncpg.Record]:
    """Open school units with their districts: the given ones, those of the given districts, or (both None) all."""
    return await conn.fetch(
        "SELECT id, parent_organisation AS district FROM organisation WHERE organisation_type = 'Skolenhet' AND NOT deleted"
        " AND (end_date IS NULL OR end_date >= current_date)"
        " AND (($1::uuid[] IS NULL AND $2::uuid[] IS NULL) OR id = ANY($1::uuid[]) OR parent_organisation = ANY($2::uuid[]))",
        ids, districts,
    )


async def audience_members(conn: asyncpg.Connection, kind: str, schools: list[UUID], school_types: list[str], years: list[int],
                           duty_roles: list[str]) -> list[asyncpg.Record]:
    """Each recipient once, with the first of the audience's schools that ties them to it."""
    if kind == "guardians":
        return await conn.fetch(
            "SELECT DISTINCT ON (g.guardian) g.guardian AS person, g.school_unit FROM guardianship g LEFT JOIN person p ON p.id = g.guardian"
            " WHERE g.active AND g.school_unit = ANY($1::uuid[]) AND (cardinality($2::text[]) = 0 OR g.school_type = ANY($2::text[]))"
            " AND (cardinality($3::int[]) = 0 OR g.school_year = ANY($3::int[])) AND coalesce(NOT p.removed, true)"
            " ORDER BY g.guardian, g.school_unit",
            schools, school_types, years,
        )
    return await conn.fetch(
        "SELECT DISTINCT ON (d.person) d.person, d.duty_at AS school_unit FROM duty d LEFT JOIN person p ON p.id = d.person"
        " WHERE d.active AND d.duty_at = ANY($1::uuid[]) AND (cardinality($2::text[]) = 0 OR d.duty_role = ANY($2::text[]))"
        " AND coalesce(NOT p.removed, true) ORDER BY d.person, d.duty_at",
        schools, duty_roles,
    )


async def channel_coverage(conn: asyncpg.Connection, persons: list[UUID]) -> asyncpg.Record:
    return await conn.fetchrow(
        "SELECT count(c.email) AS email, count(c.mobile) AS sms, count(c.push_token) AS push,"
        " count(*) FILTER (WHERE c.person IS NULL OR (c.email IS NULL AND c.mobile IS NULL AND c.push_token IS NULL)) AS none"
        " FROM unnest($1::uuid[]) AS u(person) LEFT JOIN contact c ON c.person = u.person",
        persons,
    )


async def create_broadcast(conn: asyncpg.Connection, *, id: UUID, sender: str, audience: dict[str, Any], subject: str, body: str,
                           critical: bool, recipients: int) -> bool:
    made = await conn.fetchval(
        "INSERT INTO broadcast (id, sender, audience, subject, body, critical, recipients) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (id) DO NOTHING RETURNING id",
        id, sender, audience, subject, body, critical, recipients,
    )
    return made is not None


async def broadcast(conn: asyncpg.Connection, id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM broadcast WHERE id = $1", id)


async def broadcast_schools(conn: asyncpg.Connection, id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT m.school_unit, o.parent_organisation AS district FROM message m LEFT JOIN organisation o ON o.id = m.school_unit"
        " WHERE m.broadcast_id = $1",
        id,
    )


async def broadcast_counts(conn: asyncpg.Connection, id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT d.channel, d.state, count(*) AS n, count(d.read_at) AS read FROM message m JOIN delivery d ON d.message_id = m.id"
        " WHERE m.broadcast_id = $1 GROUP BY d.channel, d.state ORDER BY d.channel, d.state",
        id,
    )


REACHED = "bool_or((d.channel <> 'inapp' AND d.state = 'delivered') OR d.read_at IS NOT NULL)"
PENDING = "bool_or(d.channel <> 'inapp' AND d.state IN ('queued', 'sending', 'temporary-failure'))"


async def broadcast_reach(conn: asyncpg.Connection, id: UUID) -> asyncpg.Record:
    return await conn.fetchrow(
        "SELECT count(*) AS recipients, count(*) FILTER (WHERE reached) AS reached, count(*) FILTER (WHERE read) AS read,"
        " count(*) FILTER (WHERE NOT reached AND NOT pending) AS unreached FROM ("
        "   SELECT d.person, " + REACHED + " AS reached, " + PENDING + " AS pending, bool_or(d.read_at IS NOT NULL) AS read"
        "   FROM message m JOIN delivery d ON d.message_id = m.id WHERE m.broadcast_id = $1 GROUP BY d.person) per_person",
        id,
    )


async def receipts(conn: asyncpg.Connection, broadcast_id: UUID, school_unit: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT d.person, coalesce(p.security_marking, 'Ingen') <> 'Ingen' AS protected, max(d.read_at) AS read_at,"
        " jsonb_object_agg(d.channel, d.state) AS channels"
        " FROM message m JOIN delivery d ON d.message_id = m.id LEFT JOIN person p ON p.id = d.person"
        " WHERE m.broadcast_id = $1 AND m.school_unit = $2 GROUP BY d.person, p.security_marking ORDER BY d.person",
        broadcast_id, school_unit,
    )


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
