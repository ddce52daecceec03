"""SQL of the personal-data access log (migrations/0006_access_audit.sql): append-only, read by the
data-protection officer through GET /privacy/access-log."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple
from uuid import UUID

import asyncpg

COLUMNS = "id, at, actor, actor_roles, action, subject, subjects, why_code, path"


class Access(NamedTuple):
    """One access-log row's values, in the order of ``insert_access``'s parameters."""

    actor: str
    roles: list[str]
    action: str
    subject: UUID | None
    subjects: list[UUID]
    why: str
    path: str


def insert_access(first: int) -> str:
    """The INSERT of one ``Access`` with its values as parameters ``$first`` … ``$first+6``: a read that logs itself in
    its own statement (a CTE) puts its parameters before these."""
    values = ", ".join(f"${first + i}" for i in range(len(Access._fields)))
    return f"INSERT INTO personal_data_access (actor, actor_roles, action, subject, subjects, why_code, path) VALUES ({values})"


INSERT_ACCESS = insert_access(1)


async def record(conn: asyncpg.Connection, access: Access) -> None:
    """One access. ``subjects`` lists every person whose data the answer carried (the subject too)."""
    await conn.execute(INSERT_ACCESS, *access)


async def record_each(conn: asyncpg.Connection, *, actor: str, roles: list[str], action: str, subjects: list[UUID], why: str,
                      path: str) -> None:
    """One row per person, in one statement (a bulk write of contact details)."""
    await conn.execute(
        "INSERT INTO personal_data_access (actor, actor_roles, action, subject, subjects, why_code, path)"
        " SELECT $1, $2, $3, u, ARRAY[u], $5, $6 FROM unnest($4::uuid[]) AS u",
        actor, roles, action, subjects, why, path,
    )


async def search(conn: asyncpg.Connection, *, person: UUID | None, actor: str | None, since: datetime | None, until: datetime | None,
                 action: str | None, limit: int, before: int | None) -> list[asyncpg.Record]:
    """Newest first (by the log's own sequence, so a page does not shift as new reads are logged, reading this log
    included), from before the id ``before``; ``person`` matches a row about them alone or a list that carried them."""
    return await conn.fetch(
        "SELECT " + COLUMNS + " FROM personal_data_access"
        " WHERE ($1::uuid IS NULL OR subjects @> ARRAY[$1::uuid]) AND ($2::text IS NULL OR actor = $2)"
        " AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4) AND ($5::text IS NULL OR action = $5)"
        " AND ($7::bigint IS NULL OR id < $7)"
        " ORDER BY id DESC LIMIT $6",
        person, actor, since, until, action, limit, before,
    )
