"""SQL of the notification service."""

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
