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


async def contact(conn: asyncpg.Connection, person: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM contact WHERE person = $1", person)


async def log_access(conn: asyncpg.Connection, actor: str, person: UUID, action: str, reason: str) -> None:
    await conn.execute("INSERT INTO contact_access (actor, person, action, reason) VALUES ($1, $2, $3, $4)", actor, person, action, reason)


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
                         critical: bool, data: dict[str, Any]) -> bool:
    """False when the cause already made its message (the unique key decides)."""
    made = await conn.fetchval(
        "INSERT INTO message (id, dedupe_key, message_type, school_unit, critical, data) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        id, dedupe_key, message_type, school_unit, critical, data,
    )
    return made is not None


async def add_delivery(conn: asyncpg.Connection, *, message_id: UUID, person: UUID, channel: str, mode: str, state: str,
                       send_after: datetime, quiet_bypassed: bool) -> None:
    await conn.execute(
        "INSERT INTO delivery (message_id, person, channel, mode, state, send_after, quiet_bypassed) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (message_id, person, channel) DO NOTHING",
        message_id, person, channel, mode, state, send_after, quiet_bypassed,
    )


async def reachable_channels(conn: asyncpg.Connection, person: UUID) -> set[str]:
    row = await conn.fetchrow("SELECT email IS NOT NULL AS e, mobile IS NOT NULL AS m, push_token IS NOT NULL AS p FROM contact WHERE person = $1", person)
    found = {"inapp"}
    if row is not None:
        found |= {c for c, ok in (("email", row["e"]), ("sms", row["m"]), ("push", row["p"])) if ok}
    return found


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
