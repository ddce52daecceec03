"""SQL of e-mail bounces (usecases/bounces.py): the e-mail delivery a bounce names, and the address marked undeliverable."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg


async def email_delivery(conn: asyncpg.Connection, reference: int) -> asyncpg.Record | None:
    """The e-mail delivery and its person's address (encrypted), the delivery locked (one report at a time decides it)."""
    return await conn.fetchrow(
        "SELECT d.id, d.person, d.state, c.key_id, c.email FROM delivery d LEFT JOIN contact c ON c.person = d.person"
        " WHERE d.id = $1 AND d.channel = 'email' FOR UPDATE OF d",
        reference,
    )


async def mark_undeliverable(conn: asyncpg.Connection, person: UUID, digest: bytes, at: datetime, reason: str) -> None:
    await conn.execute(
        "UPDATE contact SET email_undeliverable = $2, email_undeliverable_at = $3, email_undeliverable_reason = $4 WHERE person = $1",
        person, digest, at, reason,
    )
