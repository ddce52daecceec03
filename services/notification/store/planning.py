"""SQL of planning after answering: the recipients of a message whose deliveries are not made yet, taken in chunks
(migrations/0011_plan_after_answering.sql, usecases/planning.py)."""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def defer(conn: asyncpg.Connection, message_id: UUID, recipients: list[UUID]) -> None:
    await conn.execute("INSERT INTO pending_plan (message_id, recipients) VALUES ($1, $2)", message_id, recipients)


async def next_chunk(conn: asyncpg.Connection, size: int, max_attempts: int) -> asyncpg.Record | None:
    """The first ``size`` waiting recipients of one message, locked for this transaction (another planner skips it),
    the least-tried first; None when nothing waits."""
    return await conn.fetchrow(
        "SELECT p.message_id, p.recipients[1:$1] AS chunk, cardinality(p.recipients) AS waiting, m.message_type"
        " FROM pending_plan p JOIN message m ON m.id = p.message_id WHERE p.attempts < $2"
        " ORDER BY p.attempts, p.created_at LIMIT 1 FOR UPDATE OF p SKIP LOCKED",
        size, max_attempts,
    )


async def take(conn: asyncpg.Connection, message_id: UUID, n: int) -> None:
    """The first ``n`` recipients are planned: off the list, and the list gone when it is empty. (Two statements: a
    DELETE in the same statement as a CTE's UPDATE of the row would not see the update and be skipped.)"""
    await conn.execute("UPDATE pending_plan SET recipients = recipients[$2 + 1:] WHERE message_id = $1", message_id, n)
    await conn.execute("DELETE FROM pending_plan WHERE message_id = $1 AND cardinality(recipients) = 0", message_id)


async def failed(conn: asyncpg.Connection, message_id: UUID, reason: str) -> None:
    await conn.execute("UPDATE pending_plan SET attempts = attempts + 1, last_error = $2 WHERE message_id = $1", message_id, reason[:500])


async def waiting(conn: asyncpg.Connection, max_attempts: int) -> asyncpg.Record:
    """Recipients waiting to be planned, and of them those whose message failed ``max_attempts`` times (left for an operator)."""
    return await conn.fetchrow(
        "SELECT coalesce(sum(cardinality(recipients)), 0)::bigint AS recipients,"
        " coalesce(sum(cardinality(recipients)) FILTER (WHERE attempts >= $1), 0)::bigint AS failing FROM pending_plan",
        max_attempts,
    )


async def waiting_per_broadcast(conn: asyncpg.Connection, ids: list[UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT m.broadcast_id, sum(cardinality(p.recipients))::bigint AS n FROM pending_plan p JOIN message m ON m.id = p.message_id"
        " WHERE m.broadcast_id = ANY($1::uuid[]) GROUP BY m.broadcast_id",
        ids,
    )


async def forget(conn: asyncpg.Connection, person: UUID, school_unit: UUID | None) -> int:
    """The person is no longer a recipient of what is not planned yet (about one school, or everything)."""
    result = await conn.execute(
        "UPDATE pending_plan p SET recipients = array_remove(p.recipients, $1) FROM message m"
        " WHERE m.id = p.message_id AND $1 = ANY(p.recipients) AND ($2::uuid IS NULL OR m.school_unit = $2)",
        person, school_unit,
    )
    return int(result.split()[-1])
