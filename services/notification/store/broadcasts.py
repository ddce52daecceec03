"""SQL of broadcasts: audiences, the broadcasts themselves, their reach and receipts."""

from __future__ import annotations

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
    """The recipients per school unit (``school_unit``, ``persons``): each recipient once, at the first of the audience's
    schools that ties them to it. One row per school unit with its recipients as an array rather than a row per
    recipient: a whole city's 200,000 rows were 200,000 records in the service's memory at the moment of sending
    (issue 24: its peak, 206 MiB, came from the broadcast's request)."""
    if kind == "guardians":
        members = ("SELECT DISTINCT ON (g.guardian) g.guardian AS person, g.school_unit FROM guardianship g LEFT JOIN person p ON p.id = g.guardian"
                   " WHERE g.active AND g.school_unit = ANY($1::uuid[]) AND (cardinality($2::text[]) = 0 OR g.school_type = ANY($2::text[]))"
                   " AND (cardinality($3::int[]) = 0 OR g.school_year = ANY($3::int[])) AND coalesce(NOT p.removed, true)"
                   " ORDER BY g.guardian, g.school_unit")
        args: tuple[object, ...] = (schools, school_types, years)
    else:
        members = ("SELECT DISTINCT ON (d.person) d.person, d.duty_at AS school_unit FROM duty d LEFT JOIN person p ON p.id = d.person"
                   " WHERE d.active AND d.duty_at = ANY($1::uuid[]) AND (cardinality($2::text[]) = 0 OR d.duty_role = ANY($2::text[]))"
                   " AND coalesce(NOT p.removed, true) ORDER BY d.person, d.duty_at")
        args = (schools, duty_roles)
    return await conn.fetch(
        f"SELECT m.school_unit, array_agg(m.person ORDER BY m.person) AS persons FROM ({members}) m GROUP BY m.school_unit ORDER BY m.school_unit",
        *args,
    )


async def channel_coverage(conn: asyncpg.Connection, persons: list[UUID]) -> asyncpg.Record:
    return await conn.fetchrow(
        "SELECT count(c.email) AS email, count(c.mobile) AS sms, count(*) FILTER (WHERE u.pushable) AS push,"
        " count(*) FILTER (WHERE NOT u.pushable AND (c.person IS NULL OR (c.email IS NULL AND c.mobile IS NULL))) AS none"
        " FROM (SELECT p AS person, EXISTS (SELECT 1 FROM device dv WHERE dv.person = p) AS pushable FROM unnest($1::uuid[]) AS p) u"
        " LEFT JOIN contact c ON c.person = u.person",
        persons,
    )


async def create_broadcast(conn: asyncpg.Connection, *, id: UUID, sender: str, audience: dict[str, Any], subject: str, body: str,
                           critical: bool, recipients: int, translations: dict[str, Any] | None = None) -> bool:
    made = await conn.fetchval(
        "INSERT INTO broadcast (id, sender, audience, subject, body, critical, recipients, translations) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (id) DO NOTHING RETURNING id",
        id, sender, audience, subject, body, critical, recipients, translations or {},
    )
    return made is not None


async def sent_by(conn: asyncpg.Connection, sender: str | None, limit: int, offset: int) -> list[asyncpg.Record]:
    """A page of the broadcasts ``sender`` sent (None: everyone's), newest first; each row carries ``total``."""
    return await conn.fetch(
        "SELECT *, count(*) OVER () AS total FROM broadcast WHERE ($1::text IS NULL OR sender = $1)"
        " ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
        sender, limit, offset,
    )


async def count_sent_by(conn: asyncpg.Connection, sender: str | None) -> int:
    return await conn.fetchval("SELECT count(*) FROM broadcast WHERE ($1::text IS NULL OR sender = $1)", sender)


async def broadcast(conn: asyncpg.Connection, id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM broadcast WHERE id = $1", id)


async def broadcast_schools(conn: asyncpg.Connection, id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT m.school_unit, o.parent_organisation AS district FROM message m LEFT JOIN organisation o ON o.id = m.school_unit"
        " WHERE m.broadcast_id = $1",
        id,
    )


#: a recipient a notification (push, SMS, e-mail) reached, or who read the message in the app: the unreached worklist's
#: measure (store/worklists.py), and a broadcast's ``unnotified``
REACHED = "bool_or((d.channel <> 'inapp' AND d.state = 'delivered') OR d.read_at IS NOT NULL)"
PENDING = "bool_or(d.channel <> 'inapp' AND d.state IN ('queued', 'sending', 'temporary-failure'))"


async def broadcast_reach(conn: asyncpg.Connection, ids: list[UUID]) -> list[asyncpg.Record]:
    """Per broadcast, over its recipients: ``reached`` (a copy delivered on any channel, the in-app inbox too, or read),
    ``read``, ``unreached`` (not reached, and nothing on its way) and ``unnotified`` (no notification reached them, none is
    on its way and they have not read it in the app: the unreached worklist's measure)."""
    return await conn.fetch(
        "SELECT broadcast_id, count(*) AS recipients, count(*) FILTER (WHERE delivered OR read) AS reached, count(*) FILTER (WHERE read) AS read,"
        " count(*) FILTER (WHERE NOT delivered AND NOT read AND NOT pending) AS unreached,"
        " count(*) FILTER (WHERE NOT notified AND NOT pending) AS unnotified FROM ("
        "   SELECT m.broadcast_id, d.person, bool_or(d.state = 'delivered') AS delivered, " + REACHED + " AS notified, "
        + PENDING + " AS pending, bool_or(d.read_at IS NOT NULL) AS read"
        "   FROM message m JOIN delivery d ON d.message_id = m.id WHERE m.broadcast_id = ANY($1::uuid[]) GROUP BY m.broadcast_id, d.person) per_person"
        " GROUP BY broadcast_id",
        ids,
    )


async def broadcast_counts(conn: asyncpg.Connection, ids: list[UUID]) -> list[asyncpg.Record]:
    """Per broadcast, channel and delivery state: how many deliveries (one per recipient and channel)."""
    return await conn.fetch(
        "SELECT m.broadcast_id, d.channel, d.state, count(*) AS n FROM message m JOIN delivery d ON d.message_id = m.id"
        " WHERE m.broadcast_id = ANY($1::uuid[]) GROUP BY m.broadcast_id, d.channel, d.state ORDER BY d.channel, d.state",
        ids,
    )


async def broadcast_progress(conn: asyncpg.Connection, ids: list[UUID], now: Any) -> list[asyncpg.Record]:
    """Per broadcast, what has not gone out as of ``now``: notifications due or on their way (``due``), held until the
    recipient's quiet hours end (``held``, the first going at ``next_at``, the last at ``last_at``), and items waiting
    for the recipients' daily digest (``in_digest``)."""
    return await conn.fetch(
        "SELECT m.broadcast_id,"
        " count(*) FILTER (WHERE d.mode = 'instant' AND (d.state IN ('sending', 'temporary-failure') OR (d.state = 'queued' AND d.send_after <= $2))) AS due,"
        " count(*) FILTER (WHERE d.mode = 'instant' AND d.state = 'queued' AND d.send_after > $2) AS held,"
        " min(d.send_after) FILTER (WHERE d.mode = 'instant' AND d.state = 'queued' AND d.send_after > $2) AS next_at,"
        " max(d.send_after) FILTER (WHERE d.mode = 'instant' AND d.state = 'queued' AND d.send_after > $2) AS last_at,"
        " count(*) FILTER (WHERE d.mode = 'digest' AND d.state = 'queued') AS in_digest"
        " FROM message m JOIN delivery d ON d.message_id = m.id WHERE m.broadcast_id = ANY($1::uuid[]) AND d.channel <> 'inapp'"
        " GROUP BY m.broadcast_id",
        ids, now,
    )


async def recipient_languages(conn: asyncpg.Connection, ids: list[UUID]) -> list[asyncpg.Record]:
    """Per broadcast, its recipients by the language they read in now (their own choice, else the city's, else Swedish)."""
    return await conn.fetch(
        "SELECT r.broadcast_id, coalesce(s.language, c.language, 'sv') AS language, count(*) AS n"
        " FROM (SELECT DISTINCT m.broadcast_id, d.person FROM message m JOIN delivery d ON d.message_id = m.id"
        "       WHERE m.broadcast_id = ANY($1::uuid[])) r"
        " LEFT JOIN recipient_setting s ON s.person = r.person LEFT JOIN contact c ON c.person = r.person"
        " GROUP BY r.broadcast_id, 2",
        ids,
    )


async def receipts(conn: asyncpg.Connection, broadcast_id: UUID, school_unit: UUID, limit: int, offset: int = 0) -> list[asyncpg.Record]:
    """A page of the recipients at one school unit; each row carries ``total``, the recipients on every page."""
    return await conn.fetch(
        "SELECT d.person, max(d.read_at) AS read_at, jsonb_object_agg(d.channel, d.state) AS channels, count(*) OVER () AS total"
        " FROM message m JOIN delivery d ON d.message_id = m.id"
        " WHERE m.broadcast_id = $1 AND m.school_unit = $2 GROUP BY d.person ORDER BY d.person LIMIT $3 OFFSET $4",
        broadcast_id, school_unit, limit, offset,
    )
