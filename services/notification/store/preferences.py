"""SQL of a recipient's own choices: language, quiet hours and per-type, per-channel modes."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg


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
