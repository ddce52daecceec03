"""The unit of work a use case runs in: one connection, one transaction, and the outbox written only through it.

A use case (``services/<name>/usecases/``) is a plain async function that takes a ``UnitOfWork`` first and
returns a result; HTTP routes, event handlers and jobs are thin adapters that open (or are handed) a unit of
work and call it. State changes and the events that describe them commit together, because the events go
into the outbox on the same connection inside the same transaction (docs/decisions/0002):

    async with unit_of_work(pool, SOURCE) as uow:                  # a route or a job
        result = await usecases.submit_assessment(uow, ...)

    async def on_x(conn, env):                                      # an event handler: the consumer's transaction
        await usecases.apply_x(UnitOfWork(conn, SOURCE), env.data)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg

from shared import outbox
from shared.events.base import Event


class UnitOfWork:
    """A connection inside a transaction, and the one way to stage events: ``publish``."""

    def __init__(self, conn: asyncpg.Connection, source: str) -> None:
        self.conn = conn
        #: the CloudEvents source of what this unit of work publishes (the service)
        self.source = source
        #: the ids of the events staged so far, in order
        self.published: list[str] = []

    async def publish(self, *events: Event) -> list[str]:
        """Stage events in this transaction's outbox; they are sent after it commits. Returns their ids.
        Raises ``outbox.EventTooLarge`` for an event over the size policy (nothing is staged then)."""
        ids = await outbox.add(self.conn, self.source, *events)
        self.published += ids
        return ids

    async def publish_facts(self, facts: Sequence[tuple[Event, str, datetime]]) -> list[str]:
        """Stage events under ids and times the caller chose, ``(event, id, time)`` each: for a source with
        deterministic ids (connectors/ss12000), where an id already staged is the same fact and is skipped
        (``outbox.add_once``). Returns the ids staged now."""
        ids = await outbox.add_once(self.conn, self.source, facts)
        self.published += ids
        return ids


@asynccontextmanager
async def unit_of_work(pool: asyncpg.Pool, source: str) -> AsyncIterator[UnitOfWork]:
    """A connection from the pool in a transaction: committed when the block ends, rolled back if it raises."""
    async with pool.acquire() as conn, conn.transaction():
        yield UnitOfWork(conn, source)
