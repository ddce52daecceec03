"""Transactional outbox: events are written in the same transaction as the state they describe,
and a relay publishes them afterwards.

The relay wakes on NOTIFY (sent when a writing transaction commits) and polls as a fallback; it
claims rows with ``FOR UPDATE SKIP LOCKED`` so replicas share the work, publishes a batch, and marks
it published in the same transaction. If the broker is unreachable the transaction rolls back and the
rows wait. Rows are kept after publishing: PostgreSQL is the record, Kafka the transport, and
``republish_since`` sends history again (consumers' inboxes make that harmless).

No single row may block the outbox. A row that can never be published — over the size policy, for a topic
Skolit does not declare, with headers that cannot be sent, or refused by the broker for a reason retrying
cannot change — is *parked* with its reason and the relay moves on; later rows of the same topic and key
wait behind it (per-key order), until an operator retries or discards it (``python -m services.<name>
outbox``). Events are refused before they get here when they are too large (``EventTooLarge``, a 413).
Transient failures (broker away) still hold the batch and retry. The backlog, parked and stalled gauges
are refreshed after every attempt, whether or not it published anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import orjson
from aiokafka import errors as kafka_errors

from shared import metrics
from shared.events.base import Event
from shared.events.envelope import Envelope, encode, new_envelope
from shared.topics import MAX_EVENT_BYTES, is_declared

log = logging.getLogger(__name__)

# publish(topic, key, value, headers) -> an awaitable that completes when the broker has the message
Publish = Callable[[str, bytes | None, bytes | None, list[tuple[str, bytes]]], Awaitable[Awaitable[object]]]


async def add(conn: asyncpg.Connection, source: str, *events: Event) -> list[str]:
    """Stage events in the caller's transaction; returns their CloudEvents ids."""
    envelopes = [new_envelope(e, source) for e in events]
    await add_envelopes(conn, envelopes)
    return [e.id for e in envelopes]


class EventTooLarge(ValueError):
    """An event of Skolit's own would be over the size policy: refused where it is made, never written to the outbox.

    HTTP answers it with a 413 problem (shared/problems.py); a handler that makes one rejects the event it applies."""

    def __init__(self, event_type: str, size: int) -> None:
        super().__init__(f"a {event_type} event of {size} bytes would be over the {MAX_EVENT_BYTES} bytes Skolit publishes for one event")
        self.event_type = event_type
        self.size = size


def wire_size(key: bytes | None, headers: Sequence[tuple[str, bytes | str]], value: bytes | None) -> int:
    """An event's size as the size policy counts it (shared/topics.py): key, value, every header name and value."""
    return len(key or b"") + len(value or b"") + sum(len(k.encode()) + len(v if isinstance(v, bytes) else v.encode()) for k, v in headers)


async def add_envelopes(conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
    rows = []
    for env in envelopes:
        wire = encode(env)
        size = wire_size(wire.key, wire.headers, wire.value)
        if size > MAX_EVENT_BYTES:
            raise EventTooLarge(env.type, size)
        rows.append((UUID(env.id), wire.topic, wire.key, [[k, v.decode()] for k, v in wire.headers], wire.value, env.type, env.time))
    await conn.executemany(
        "INSERT INTO outbox (id, topic, key, headers, payload, event_type, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        rows,
    )


async def add_once(conn: asyncpg.Connection, source: str, facts: Sequence[tuple[Event, str, datetime]]) -> list[str]:
    """Stage events under ids and times the caller chose: (event, CloudEvents id, CloudEvents time) each. For a source
    whose ids are deterministic (connectors/ss12000: the same fact of the same entity always has the same id), so an
    id already in the outbox is that fact staged before and is skipped. Returns the ids staged now, in order. The
    row's ``created_at`` is now (what the backlog and retention measure), not the event's own time.
    Raises ``EventTooLarge`` for an event over the size policy (nothing is staged then)."""
    if not facts:
        return []
    envelopes = [new_envelope(event, source, event_id=event_id, time=time) for event, event_id, time in facts]
    columns: tuple[list[Any], ...] = ([], [], [], [], [], [])
    for env in envelopes:
        wire = encode(env)
        size = wire_size(wire.key, wire.headers, wire.value)
        if size > MAX_EVENT_BYTES:
            raise EventTooLarge(env.type, size)
        for column, value in zip(columns, (UUID(env.id), wire.topic, wire.key, orjson.dumps([[k, v.decode()] for k, v in wire.headers]).decode(),
                                           wire.value, env.type), strict=True):
            column.append(value)
    rows = await conn.fetch(
        "INSERT INTO outbox (id, topic, key, headers, payload, event_type)"
        " SELECT i, t, k, h::jsonb, p, e FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::text[], $5::bytea[], $6::text[])"
        " WITH ORDINALITY AS u(i, t, k, h, p, e, n) ORDER BY n"
        " ON CONFLICT (id) DO NOTHING RETURNING id",
        *columns,
    )
    staged = {str(r["id"]) for r in rows}
    return [env.id for env in envelopes if env.id in staged]


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
    """Rows waiting to be published (those held behind a parked row too), and the oldest one's age in seconds."""
    row = await conn.fetchrow(
        "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS age"
        " FROM outbox WHERE published_at IS NULL AND parked_at IS NULL AND discarded_at IS NULL"
    )
    return int(row["n"]), float(row["age"])


@dataclass(frozen=True)
class Health:
    waiting: int
    oldest_age: float
    parked: int
    held: int
    #: seconds since the relay last made progress (published, or found nothing it could publish)
    stalled_seconds: float

    def verdict(self, stall_threshold: float) -> str:
        """``ok``, or ``degraded: ...`` saying why: readiness shows it without failing (a restart fixes none of it)."""
        problems = []
        if self.parked:
            problems.append(f"{self.parked} parked row(s) need an operator" + (f", {self.held} row(s) of the same keys wait behind them" if self.held else ""))
        if self.waiting and self.stalled_seconds > stall_threshold:
            problems.append(f"nothing published for {self.stalled_seconds:.0f} s while {self.waiting} row(s) wait")
        return "degraded: " + "; ".join(problems) if problems else "ok"


async def health(conn: asyncpg.Connection, stalled_seconds: float = 0.0) -> Health:
    waiting, age = await backlog(conn)
    row = await conn.fetchrow(
        "SELECT count(*) AS parked FROM outbox WHERE parked_at IS NOT NULL AND discarded_at IS NULL AND published_at IS NULL"
    )
    held = 0
    if row["parked"]:
        held = await conn.fetchval(
            "SELECT count(*) FROM outbox o WHERE o.published_at IS NULL AND o.parked_at IS NULL AND o.discarded_at IS NULL"
            " AND EXISTS (SELECT 1 FROM outbox p WHERE p.parked_at IS NOT NULL AND p.discarded_at IS NULL AND p.published_at IS NULL"
            " AND p.topic = o.topic AND p.key = o.key AND p.seq < o.seq)"
        )
    return Health(waiting, age, int(row["parked"]), int(held), stalled_seconds)


def set_gauges(service: str, h: Health) -> None:
    metrics.OUTBOX_BACKLOG.labels(service).set(h.waiting)
    metrics.OUTBOX_OLDEST_AGE.labels(service).set(h.oldest_age)
    metrics.OUTBOX_PARKED.labels(service).set(h.parked)
    metrics.OUTBOX_HELD.labels(service).set(h.held)
    metrics.OUTBOX_STALLED.labels(service).set(h.stalled_seconds if h.waiting else 0.0)


# ---- why a row cannot be published ----------------------------------------------------------------------------

#: broker answers that retrying the same record cannot change
PERMANENT_KAFKA_ERRORS: tuple[type[BaseException], ...] = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordTooLargeError,
    kafka_errors.InvalidTopicError,
    kafka_errors.TopicAuthorizationFailedError,
    kafka_errors.UnsupportedForMessageFormatError,
    kafka_errors.CorruptRecordException,
)
#: the row itself cannot be turned into a Kafka record
PERMANENT_ROW_ERRORS: tuple[type[BaseException], ...] = (TypeError, ValueError, UnicodeError)


def unpublishable(row: Any) -> str | None:
    """Why a row can never be published, found before sending it; None if it may go."""
    if not is_declared(row["topic"]):
        return f"topic {row['topic'][:200]!r} is not one Skolit declares (shared/topics.py)"
    headers = row["headers"]
    if not isinstance(headers, list) or not all(isinstance(h, list) and len(h) == 2 and all(isinstance(x, str) for x in h) for h in headers):
        return "headers are not a list of [name, value] text pairs"
    size = wire_size(row["key"], [(k, v) for k, v in headers], row["payload"])
    if size > MAX_EVENT_BYTES:
        return f"the record is {size} bytes, over the {MAX_EVENT_BYTES} bytes Skolit publishes for one event"
    return None


def _permanent(exc: BaseException) -> bool:
    return isinstance(exc, PERMANENT_KAFKA_ERRORS + PERMANENT_ROW_ERRORS)


# ---- what an operator does with parked rows -------------------------------------------------------------------


async def parked_rows(conn: asyncpg.Connection, *, limit: int = 100, include_discarded: bool = False) -> list[asyncpg.Record]:
    """Parked rows, oldest first: coordinates and reason, never the body (it may hold personal data)."""
    where = "parked_at IS NOT NULL AND published_at IS NULL" + ("" if include_discarded else " AND discarded_at IS NULL")
    return await conn.fetch(
        "SELECT seq, id, topic, event_type, created_at, parked_at, park_reason, discarded_at, discard_note,"
        " octet_length(payload) AS payload_bytes, octet_length(key) AS key_bytes,"
        " (SELECT count(*) FROM outbox o WHERE o.published_at IS NULL AND o.parked_at IS NULL AND o.discarded_at IS NULL"
        "  AND o.topic = p.topic AND o.key = p.key AND o.seq > p.seq) AS held_behind"
        f" FROM outbox p WHERE {where} ORDER BY seq LIMIT $1",
        limit,
    )


async def retry_parked(conn: asyncpg.Connection, seqs: Sequence[int] | None) -> int:
    """Put parked rows back in line (after a fix); None for all. Returns how many. The relay is woken."""
    if seqs is None:
        result = await conn.execute("UPDATE outbox SET parked_at = NULL, park_reason = NULL WHERE parked_at IS NOT NULL AND discarded_at IS NULL AND published_at IS NULL")
    else:
        result = await conn.execute(
            "UPDATE outbox SET parked_at = NULL, park_reason = NULL"
            " WHERE seq = ANY($1::bigint[]) AND parked_at IS NOT NULL AND discarded_at IS NULL AND published_at IS NULL",
            list(seqs),
        )
    await conn.execute("SELECT pg_notify(current_schema() || '_outbox', '')")
    return int(result.split()[-1])


async def discard_parked(conn: asyncpg.Connection, seqs: Sequence[int], note: str) -> int:
    """Give up on parked rows for good (kept as the record, with the operator's note); the rows behind them go on."""
    result = await conn.execute(
        "UPDATE outbox SET discarded_at = now(), discard_note = $2"
        " WHERE seq = ANY($1::bigint[]) AND parked_at IS NOT NULL AND discarded_at IS NULL AND published_at IS NULL",
        list(seqs),
        note,
    )
    await conn.execute("SELECT pg_notify(current_schema() || '_outbox', '')")
    return int(result.split()[-1])


#: the relay's gauges (backlog, oldest age, parked, held, stalled) are counted at most this often while it publishes
GAUGE_SECONDS = 1.0


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
        self._progress_at = time.monotonic()
        self._gauges_at = float("-inf")  # when refresh_gauges last ran
        self._gauges_behind = False  # published since then

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
                self._progress_at = time.monotonic()
            except Exception as exc:  # broker or database away: the rows wait, we back off
                failures += 1
                delay = min(0.2 * 2**failures, 10.0)
                log.warning("outbox relay could not publish (%s: %s); retrying in %.1fs", type(exc).__name__, exc, delay)
                await self._unlisten()
                await self.refresh_gauges()  # the backlog grows while we wait: say so
                await self._sleep(delay)
                continue
            self._gauges_behind = self._gauges_behind or sent > 0
            # The gauges' two counts over the outbox after every batch doubled the relay's statements when each
            # commit wakes it for a row or two (issue 24: a gateway callback a millisecond); Prometheus reads them
            # every 15 s. So: at most once a GAUGE_SECONDS while publishing, and once more as soon as it goes idle.
            if time.monotonic() - self._gauges_at >= GAUGE_SECONDS or (sent == 0 and self._gauges_behind):
                await self.refresh_gauges()
            if sent >= self.batch_size:
                continue  # more may be waiting
            await self._sleep(self.poll_seconds)

    @property
    def stalled_seconds(self) -> float:
        return max(time.monotonic() - self._progress_at, 0.0)

    async def refresh_gauges(self) -> Health | None:
        """The backlog, parked, held and stalled gauges, whatever the last attempt did; None if the database is away."""
        self._gauges_at, self._gauges_behind = time.monotonic(), False
        try:
            async with self.pool.acquire(timeout=2) as conn:
                h = await health(conn, self.stalled_seconds)
        except Exception as exc:
            log.debug("outbox gauges not refreshed: %s", exc)
            return None
        set_gauges(self.service, h)
        return h

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def publish_once(self) -> int:
        """Publish one batch; returns how many rows it took (published or parked). Raises on a transient
        failure, leaving every row of the batch as it was."""
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                rows = await conn.fetch(
                    "SELECT seq, topic, key, headers, payload, event_type FROM outbox o"
                    " WHERE published_at IS NULL AND parked_at IS NULL AND discarded_at IS NULL"
                    # a row waits behind a parked row of the same topic and key: per-key order holds
                    " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.parked_at IS NOT NULL AND p.discarded_at IS NULL"
                    " AND p.published_at IS NULL AND p.topic = o.topic AND p.key = o.key AND p.seq < o.seq)"
                    " ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
                    self.batch_size,
                )
                if not rows:
                    return 0
                parked: dict[int, str] = {}
                blocked: set[tuple[str, bytes]] = set()  # keys parked in this batch: their later rows wait too
                sending: list[tuple[Any, Awaitable[object]]] = []
                for r in rows:
                    if r["key"] is not None and (r["topic"], r["key"]) in blocked:
                        continue
                    reason = unpublishable(r)
                    if reason is None:
                        try:
                            sending.append((r, await self.publish(r["topic"], r["key"], r["payload"], [(k, v.encode()) for k, v in r["headers"]])))
                            continue
                        except Exception as exc:
                            if not _permanent(exc):
                                raise
                            reason = f"refused when sent: {type(exc).__name__}: {exc}"
                    parked[r["seq"]] = reason
                    if r["key"] is not None:
                        blocked.add((r["topic"], r["key"]))
                outcomes = await asyncio.gather(*(pending for _, pending in sending), return_exceptions=True)
                published = []
                for (r, _), outcome in zip(sending, outcomes, strict=True):
                    if not isinstance(outcome, BaseException):
                        published.append(r)
                    elif _permanent(outcome):
                        # already-sent later rows of its key are out: the decision record says why that is rare
                        parked[r["seq"]] = f"refused by the broker: {type(outcome).__name__}: {outcome}"
                    else:
                        raise outcome  # transient: the whole batch rolls back and is sent again
                if published:
                    await conn.execute("UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[])", [r["seq"] for r in published])
                if parked:
                    await conn.executemany(
                        "UPDATE outbox SET parked_at = now(), park_reason = $2 WHERE seq = $1", [(seq, reason[:2000]) for seq, reason in parked.items()]
                    )
        for r in published:
            metrics.EVENTS_PUBLISHED.labels(self.service, r["topic"], r["event_type"] or "").inc()
        for seq, reason in parked.items():
            log.error("outbox row %d parked: %s (python -m services.%s outbox --help)", seq, reason, self.service)
            metrics.OUTBOX_PARKED_TOTAL.labels(self.service).inc()
        return len(published) + len(parked)
