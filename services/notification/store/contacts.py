"""SQL of contact details (encrypted by the caller; the access log is written beside them: access_audit.py)."""

from __future__ import annotations

from uuid import UUID

import asyncpg


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
