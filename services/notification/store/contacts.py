"""SQL of contact details (encrypted by the caller; the access log is written beside them: access_audit.py).

The city's systems write e-mail, mobile and a push token per person (``save_contact``, ``save_contacts``); the push
token is kept as the person's city device (store/devices.py), which the senders use beside the devices the person
registered. The person changes their own e-mail and phone through a pending value confirmed with a code
(``contact_pending``), which then takes the place of the one in use (``set_own``)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from services.notification.store.devices import save_city_devices


async def person_known(conn: asyncpg.Connection, person: UUID) -> bool:
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM person WHERE id = $1 AND NOT removed)", person)


async def save_contact(conn: asyncpg.Connection, *, person: UUID, key_id: str, email: bytes | None, mobile: bytes | None,
                       push_token: bytes | None, language: str, actor: str) -> None:
    await conn.execute(
        "INSERT INTO contact (person, key_id, email, mobile, language, updated_by) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (person) DO UPDATE SET key_id = EXCLUDED.key_id, email = EXCLUDED.email, mobile = EXCLUDED.mobile,"
        " language = EXCLUDED.language, updated_by = EXCLUDED.updated_by, updated_at = now()",
        person, key_id, email, mobile, language, actor,
    )
    await save_city_devices(conn, [(person, key_id, push_token)])


async def unknown_persons(conn: asyncpg.Connection, persons: list[UUID]) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT u.id FROM unnest($1::uuid[]) AS u(id) LEFT JOIN person p ON p.id = u.id AND NOT p.removed WHERE p.id IS NULL", persons
    )
    return [r["id"] for r in rows]


async def save_contacts(conn: asyncpg.Connection, rows: list[tuple[UUID, str, bytes | None, bytes | None, bytes | None, str]], actor: str) -> None:
    """Many at once, in one statement (the access log is written beside it: access_audit.py)."""
    await conn.execute(
        "INSERT INTO contact (person, key_id, email, mobile, language, updated_by)"
        " SELECT u.*, $6 FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::bytea[], $5::text[]) AS u"
        " ON CONFLICT (person) DO UPDATE SET key_id = EXCLUDED.key_id, email = EXCLUDED.email, mobile = EXCLUDED.mobile,"
        " language = EXCLUDED.language, updated_by = EXCLUDED.updated_by, updated_at = now()",
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows], [r[5] for r in rows], actor,
    )
    await save_city_devices(conn, [(r[0], r[1], r[4]) for r in rows])


async def contact(conn: asyncpg.Connection, person: UUID) -> asyncpg.Record | None:
    """The person's contact details, with the city device's token as ``push_token`` (written with the row's key)."""
    return await conn.fetchrow(
        "SELECT c.*, CASE WHEN d.key_id = c.key_id THEN d.token END AS push_token"
        " FROM contact c LEFT JOIN device d ON d.person = c.person AND d.source = 'city' WHERE c.person = $1",
        person,
    )


# --- the person's own changes --------------------------------------------------------------------


async def own_contact(conn: asyncpg.Connection, person: UUID, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM contact WHERE person = $1" + (" FOR UPDATE" if lock else ""), person)


async def set_own(conn: asyncpg.Connection, *, person: UUID, key_id: str, email: bytes | None, mobile: bytes | None,
                  email_confirmed: bytes | None, mobile_confirmed: bytes | None, confirmed_at: dict[str, datetime | None], actor: str) -> None:
    """The person's e-mail and mobile, all encrypted again with ``key_id`` (one key per row), with what they confirmed."""
    await conn.execute(
        "INSERT INTO contact (person, key_id, email, mobile, email_confirmed, email_confirmed_at, mobile_confirmed, mobile_confirmed_at,"
        " updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (person) DO UPDATE SET key_id = EXCLUDED.key_id, email = EXCLUDED.email, mobile = EXCLUDED.mobile,"
        " email_confirmed = EXCLUDED.email_confirmed, email_confirmed_at = EXCLUDED.email_confirmed_at,"
        " mobile_confirmed = EXCLUDED.mobile_confirmed, mobile_confirmed_at = EXCLUDED.mobile_confirmed_at,"
        " updated_by = EXCLUDED.updated_by, updated_at = now()",
        person, key_id, email, mobile, email_confirmed, confirmed_at.get("email"), mobile_confirmed, confirmed_at.get("mobile"), actor,
    )


async def pending(conn: asyncpg.Connection, person: UUID, channel: str | None = None, *, lock: bool = False) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM contact_pending WHERE person = $1 AND ($2::text IS NULL OR channel = $2) ORDER BY channel" + (" FOR UPDATE" if lock else ""),
        person, channel,
    )


async def save_pending(conn: asyncpg.Connection, *, person: UUID, channel: str, key_id: str, value: bytes, code_hash: bytes,
                       expires_at: datetime, codes_sent: int, first_sent_at: datetime) -> None:
    """A new pending value with a fresh code (its tries start again)."""
    await conn.execute(
        "INSERT INTO contact_pending (person, channel, key_id, value, code_hash, expires_at, codes_sent, first_sent_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (person, channel) DO UPDATE SET key_id = EXCLUDED.key_id, value = EXCLUDED.value, code_hash = EXCLUDED.code_hash,"
        " attempts = 0, expires_at = EXCLUDED.expires_at, codes_sent = EXCLUDED.codes_sent, first_sent_at = EXCLUDED.first_sent_at,"
        " created_at = now()",
        person, channel, key_id, value, code_hash, expires_at, codes_sent, first_sent_at,
    )


async def count_attempt(conn: asyncpg.Connection, person: UUID, channel: str) -> int:
    return await conn.fetchval(
        "UPDATE contact_pending SET attempts = attempts + 1 WHERE person = $1 AND channel = $2 RETURNING attempts", person, channel)


async def drop_pending(conn: asyncpg.Connection, person: UUID, channel: str) -> bool:
    return await conn.fetchval("DELETE FROM contact_pending WHERE person = $1 AND channel = $2 RETURNING person", person, channel) is not None


async def language(conn: asyncpg.Connection, person: UUID) -> str:
    """The language a message to the person is written in: their own choice, else the city's, else Swedish."""
    return await conn.fetchval(
        "SELECT coalesce((SELECT language FROM recipient_setting WHERE person = $1), (SELECT language FROM contact WHERE person = $1), 'sv')",
        person,
    )
