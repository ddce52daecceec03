"""SQL of a recipient's own choices: language, quiet hours and per-type, per-channel modes."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from services.notification import domain


async def preferences(conn: asyncpg.Connection, person: UUID) -> tuple[asyncpg.Record | None, list[asyncpg.Record]]:
    setting = await conn.fetchrow("SELECT language, quiet_start, quiet_end FROM recipient_setting WHERE person = $1", person)
    rows = await conn.fetch("SELECT message_type, channel, mode FROM preference WHERE person = $1", person)
    return setting, rows


async def contact_facts(conn: asyncpg.Connection, person: UUID) -> asyncpg.Record:
    """Which channels the person can be reached on (confirmed e-mail address, mobile number, a push device) and the
    language the city set with their contact details (null without any)."""
    return await conn.fetchrow(
        "SELECT c.email IS NOT NULL AS email, c.mobile IS NOT NULL AS sms, EXISTS (SELECT 1 FROM device dv WHERE dv.person = $1) AS push,"
        " c.language FROM (SELECT 1) one LEFT JOIN contact c ON c.person = $1",
        person,
    )


async def save_preferences(conn: asyncpg.Connection, person: UUID, *, language: str | None, quiet: tuple[Any, Any] | None,
                           choices: list[tuple[str, str, str]]) -> None:
    """A first choice of quiet hours alone keeps the language the city set with the contact details when it is one of
    ``domain.LANGUAGES`` (else Swedish): the row's language is never a default that silently overrides the city's."""
    await conn.execute(
        "INSERT INTO recipient_setting (person, language, quiet_start, quiet_end)"
        " VALUES ($1, coalesce($2, (SELECT language FROM contact WHERE person = $1 AND language = ANY($5::text[])), 'sv'), coalesce($3, '21:00'::time), coalesce($4, '07:00'::time))"
        " ON CONFLICT (person) DO UPDATE SET language = coalesce($2, recipient_setting.language),"
        " quiet_start = coalesce($3, recipient_setting.quiet_start), quiet_end = coalesce($4, recipient_setting.quiet_end), updated_at = now()",
        person, language, quiet[0] if quiet else None, quiet[1] if quiet else None, list(domain.LANGUAGES),
    )
    await conn.executemany(
        "INSERT INTO preference (person, message_type, channel, mode) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (person, message_type, channel) DO UPDATE SET mode = EXCLUDED.mode",
        [(person, t, c, m) for t, c, m in choices],
    )
