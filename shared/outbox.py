"""Transactional outbox: events are written in the same transaction as the state they describe,
and a relay publishes them afterwards.

The relay wakes on NOTIFY (sent when a writing transaction commits) and polls as a fallback; it
claims rows with ``FOR UPDATE SKIP LOCKED`` so replicas share the work, publishes a batch, and marks
it published in the same transaction. If the broker is unreachable the transaction rolls back and the
rows wait. Rows are kept after publishing: PostgreSQL is the record, Kafka the transport, and
``republish_since`` sends history again (consumers' inboxes make that harmless).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

from shared import metrics
from shared.events.base import Event
from shared.events.envelope import Envelope, encode, new_envelope

log = logging.getLogger(__name__)

# publish(topic, key, value, headers) -> an awaitable that completes when the broker has the message
Publish = Callable[[str, bytes | None, bytes | None, list[tuple[str, bytes]]], Awaitable[Awaitable[object]]]


async def add(conn: asyncpg.Connection, source: str, *events: Event) -> list[str]:
    """Stage events in the caller's transaction; returns their CloudEvents ids."""
    envelopes = [new_envelope(e, source) for e in events]
    await add_envelopes(conn, envelopes)
    return [e.id for e in envelopes]


async def add_envelopes(conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
    rows = []
    for env in envelopes:
        wire = encode(env)
        rows.append((UUID(env.id), wire.topic, wire.key, [[k, v.decode()] for k, v in wire.headers], wire.value, env.type, env.time))
    await conn.executemany(
        "INSERT INTO outbox (id, topic, key, headers, payload, event_type, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        rows,
    )


async def add_raw(conn: asyncpg.Connection, topic: str, key: bytes | None, headers: list[tuple[str, str]], payload: bytes | None, event_type: str | None) -> None:
    """Stage an arbitrary message (dead letters keep the original body and headers)."""
    await conn.execute(
        "INSERT INTO outbox (id, topic, key, headers, payload, event_type) VALUES ($1, $2, $3, $4, $5, $6)",
        uuid4(),
        topic,
        key,
        [[k, v] for k, v in headers],
        payload,
        event_type,
    )


async def republish_since(conn: asyncpg.Connection, since: datetime) -> int:
    """Mark every event created at or after ``since`` for publishing again; returns how many."""
    result = await conn.execute("UPDATE outbox SET published_at = NULL WHERE created_at >= $1 AND published_at IS NOT NULL", since)
    return int(result.split()[-1])


async def backlog(conn: asyncpg.Connection) -> tuple[int, float]:
    row = await conn.fetchrow(
        "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS age"
        " FROM outbox WHERE published_at IS NULL"
    )
    return int(row["n"]), float(row["age"])


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, publish: Publish, *, service: str, batch_size: int = 500, poll_seconds: float = 1.0) -> None:
        self.pool = pool
        self.publish = publish
        self.service = service
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.channel = f"{service}_outbox"
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-outbox-relay")

    async def stop(self) -> None:
        """Finish the batch in flight (it commits or rolls back whole), then stop."""
        self._stopping.set()
        self._wake.set()
        if self._task:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._unlisten()

    def _notified(self, *_: object) -> None:
        self._wake.set()

    def _listening(self) -> bool:
        """True while the LISTEN connection is open. When the server goes away, asyncpg hands the lost
        connection back to the pool by itself, and from then on every call on it (``is_closed()``
        too) raises InterfaceError: that must read as "not listening", not end the relay."""
        try:
            return self._listener is not None and not self._listener.is_closed()
        except asyncpg.InterfaceError:
            return False

    async def _listen(self) -> None:
        if self._listening():
            return
        await self._unlisten()  # drop a connection the pool took back (releasing it again is a no-op)
        try:
            self._listener = await self.pool.acquire()
            await self._listener.add_listener(self.channel, self._notified)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("outbox relay cannot LISTEN yet (%s); polling", exc)
            await self._unlisten()

    async def _unlisten(self) -> None:
        conn, self._listener = self._listener, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            await conn.remove_listener(self.channel, self._notified)
        with contextlib.suppress(Exception):
            await self.pool.release(conn)

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            await self._listen()
            self._wake.clear()
            try:
                sent = await self.publish_once()
                failures = 0
            except Exception as exc:  # broker or database away: the rows wait, we back off
                failures += 1
                delay = min(0.2 * 2**failures, 10.0)
                log.warning("outbox relay could not publish (%s: %s); retrying in %.1fs", type(exc).__name__, exc, delay)
                await self._unlisten()
                await self._sleep(delay)
                continue
            if sent >= self.batch_size:
                continue  # more may be waiting
            await self._sleep(self.poll_seconds)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def publish_once(self) -> int:
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                rows = await conn.fetch(
                    "SELECT seq, topic, key, headers, payload, event_type FROM outbox"
                    " WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
                    self.batch_size,
                )
                if rows:
                    pending = [
                        await self.publish(r["topic"], r["key"], r["payload"], [(k, v.encode()) for k, v in r["headers"]])
                        for r in rows
                    ]
                    await asyncio.gather(*pending)
                    await conn.execute("UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[])", [r["seq"] for r in rows])
                    for r in rows:
                        metrics.EVENTS_PUBLISHED.labels(self.service, r["topic"], r["event_type"] or "").inc()
                n, age = await backlog(conn)
        metrics.OUTBOX_BACKLOG.labels(self.service).set(n)
        metrics.OUTBOX_OLDEST_AGE.labels(self.service).set(age)
        return len(rows)
