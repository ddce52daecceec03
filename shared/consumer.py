"""Idempotent, batch-wise event consumption.

For each batch Kafka hands us: decode every record (no I/O), then in ONE transaction record the
event ids in the inbox (``ON CONFLICT DO NOTHING`` tells us which are new), apply the new events and
stage dead letters in the outbox. Only after that transaction commits is the offset committed
(shared/kafka_consumer.py: commit after ``process`` returns, seek back if it raises). So a crash
at any point replays the batch, and the inbox makes the replay change nothing. Decoding cannot fail
for a batch: whatever bytes a record holds, ``decode_record`` makes it an event or a dead letter with a
reason (decision 0012).

Applying is optimistic: the new events go straight onto the transaction, and a run of consecutive
events for a handler with a set-wise form (a ``Statement``: one SQL statement per event) goes as one
``executemany``, a single round trip. Only if a handler rejects an event is the transaction rolled
back and the batch applied again with a savepoint per event, so that just the rejected event is
dead-lettered. (A savepoint per event costs two more round trips each; bench/city_ingest.py measured
the difference: docs/benchmarks.md.)

Failures are sorted: *transient* ones (database or network away) retry the whole batch with bounded
backoff and then hand it back to Kafka for redelivery; *permanent* ones (not JSON, unknown type,
schema violation, a handler that rejects the event) dead-letter just that event with the reason and
the original headers, and the batch moves on. A consumer never crashes or stalls on input.

What counts as the event's fault (``REJECTIONS``), so that a handler raising it dead-letters the event:

* ``PermanentError`` and its subclasses, among them ``Rejected``: the way a handler refuses an event, with
  a reason (``raise Rejected(f"app {id} is not in the programbank")``);
* ``ValueError``, which includes pydantic's ``ValidationError``: a value in the event that a rule or a
  model refuses (a period that ends before it starts, an outgoing event the content cannot make);
* from PostgreSQL, only errors about the values the event brought: ``asyncpg.DataError`` (SQLSTATE class
  22: a value out of range, too long, not valid for its type) and ``asyncpg.IntegrityConstraintViolationError``
  (class 23: a unique, foreign-key, check or not-null constraint the event's content violates).

Everything else a handler raises is *not* the event's fault and never dead-letters it: ``KeyError``,
``IndexError`` and other ``LookupError``s, ``TypeError``, ``AttributeError``, ``AssertionError``, and every
other PostgreSQL error (an undefined table or column, a syntax error, a missing privilege, a statement
timeout, ...) are bugs or trouble in the service's code, schema or configuration. Such an exception leaves
``BatchProcessor.process`` as it is: the batch's transaction rolls back whole (inbox claims, applied
events and staged dead letters alike), and shared/kafka_consumer.py logs it, counts it
(``skolit_events_failed_total{kind="unexpected"}``) and reads the batch again, until the code is fixed.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

import asyncpg

from shared import metrics, outbox
from shared.events.base import Event
from shared.events.envelope import Envelope, PermanentError, decode_data, header_map, read_cloudevent
from shared.events.registry import model_for
from shared.topics import DEAD_LETTER_BODY_PREFIX_BYTES, DLQ_SUFFIX, MAX_EVENT_BYTES

log = logging.getLogger(__name__)
#: longer event ids are stored in the inbox as their hash (a B-tree index entry holds at most ~2.7 kB)
MAX_INBOX_ID_BYTES = 512
#: an event type longer than this is stored cut (it is only a label once the event is dead-lettered)
MAX_TYPE_CHARS = 256
#: a dead letter keeps each original header value up to this size, and its headers together up to HEADERS_BUDGET
LETTER_HEADER_VALUE_BYTES = 8 * 1024
LETTER_HEADERS_BUDGET = 64 * 1024

#: What applies one event, in the batch's transaction. A handler names the event it applies in its envelope's
#: type (``async def on_x(conn: asyncpg.Connection, env: Envelope[X]) -> None``); the mapping it is registered
#: in (``{X: on_x}``) is what makes the consumer call it only with an ``Envelope[X]``, so ``Envelope[Any]`` here.
Handler = Callable[[asyncpg.Connection, Envelope[Any]], Awaitable[None]]

E = TypeVar("E", bound=Event)


#: the callbacks to run once the batch being applied has committed (see ``after_commit``)
_AFTER_COMMIT: ContextVar[list[Callable[[], None]] | None] = ContextVar("skolit_after_commit", default=None)


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the batch a handler is applying has committed, and not at all if it rolls back: for what a
    handler does in its own process beside the database, e.g. telling a cache that its table changed (shared/city/markings.py)
    only when the change is there to be read. Outside a batch, at once."""
    pending = _AFTER_COMMIT.get()
    if pending is None:
        callback()
    elif callback not in pending:
        pending.append(callback)


@dataclass(frozen=True)
class Statement(Generic[E]):
    """A handler that is one SQL statement whose arguments come from the event. Applied alone it is one
    ``execute``; a run of such events in a batch is one ``executemany`` (asyncpg pipelines the rows). ``then``, if
    given, runs once the batch has committed (``after_commit``)."""

    sql: str
    arguments: Callable[[Envelope[E]], Sequence[Any]]
    then: Callable[[], None] | None = None

    async def __call__(self, conn: asyncpg.Connection, env: Envelope[E]) -> None:
        await conn.execute(self.sql, *self.arguments(env))
        if self.then is not None:
            after_commit(self.then)

    async def many(self, conn: asyncpg.Connection, envs: Sequence[Envelope[E]]) -> None:
        await conn.executemany(self.sql, [tuple(self.arguments(e)) for e in envs])
        if self.then is not None:
            after_commit(self.then)

TRANSIENT = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    # a lock or statement timeout (docs/runbook.md): the same batch may go through once the other transaction is done
    asyncpg.LockNotAvailableError,
    asyncpg.QueryCanceledError,
)


#: What a handler raises when the event is at fault: the event is dead-lettered with the reason (see the
#: module's docstring). Anything else but TRANSIENT is a bug and leaves ``process`` with the batch rolled back.
REJECTIONS: tuple[type[BaseException], ...] = (
    PermanentError,
    ValueError,
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
)


class Record(Protocol):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


class TransientFailure(Exception):
    """The batch could not be applied now; Kafka will redeliver it."""


class _OneByOne(Exception):
    """A handler rejected an event while the batch was applied at once: apply it again event by event."""


@dataclass
class Decoded:
    record: Record
    headers: dict[str, str]
    inbox_id: str
    envelope: Envelope[Event] | None = None
    error: str | None = None
    error_class: str | None = None
    #: the CloudEvents type once the attributes could be read (either content mode)
    event_type: str | None = None

    @property
    def type_label(self) -> str | None:
        """The type to record in the inbox and the outbox, cut to a sane length (it is whatever the sender wrote)."""
        typ = self.envelope.type if self.envelope else self.event_type or self.headers.get("ce_type")
        return typ[:MAX_TYPE_CHARS] if typ else None


class Handlers:
    """Which event types a service applies, and with which function."""

    def __init__(self, mapping: Mapping[type[Event], Handler]) -> None:
        self.by_type = {model.TYPE: fn for model, fn in mapping.items()}
        self.topics = sorted({model.TOPIC for model in mapping})

    def for_type(self, event_type: str) -> Handler | None:
        return self.by_type.get(event_type)


def record_bytes(record: Record) -> int:
    """What a record carries, as the size policy counts it: key, value, and every header's name and value."""
    return (
        len(record.key or b"")
        + len(record.value or b"")
        + sum(len(k.encode("utf-8", "replace")) + len(v or b"") for k, v in record.headers or ())
    )


def _coordinates_id(headers: dict[str, str], record: Record) -> str:
    # A letter read back from a dead-letter topic keeps the coordinates of where it first arrived.
    origin = (
        headers.get("dlq_original_topic", record.topic),
        headers.get("dlq_original_partition", record.partition),
        headers.get("dlq_original_offset", record.offset),
    )
    return _fit("kafka:{}:{}:{}".format(*origin))


def _fit(inbox_id: str) -> str:
    if len(inbox_id.encode()) > MAX_INBOX_ID_BYTES:
        # the inbox's primary-key index cannot hold a huge id (the batch would fail, again and again)
        return "sha256:" + hashlib.sha256(inbox_id.encode()).hexdigest()
    return inbox_id


def decode_record(record: Record, handlers: Handlers) -> Decoded | None:
    """Whatever bytes a record holds, it comes out as an event to apply or an error to dead-letter with its
    reason; never an exception. None when it is a well-formed event of a type another service applies (others
    on the topic want it).

    The inbox id is the event's CloudEvents id once its attributes could be read, so a redelivered or re-sent
    event is a duplicate; a record whose attributes cannot be read is known by its Kafka coordinates (which a
    redelivery repeats), so it can never take the id of a valid event that arrives later."""
    headers = header_map(record.headers)
    item = Decoded(record=record, headers=headers, inbox_id=_coordinates_id(headers, record))
    size = record_bytes(record)
    if size > MAX_EVENT_BYTES:
        item.error = f"the record is {size} bytes, over the {MAX_EVENT_BYTES} bytes Skolit accepts for one event (key, value and headers)"
        item.error_class = "RecordTooLarge"
        return item
    try:
        attrs = read_cloudevent(record.headers, record.value)
    except PermanentError as exc:
        item.error, item.error_class = str(exc), type(exc).__name__
        return item
    item.inbox_id = _fit(attrs.id)
    item.event_type = attrs.type
    if attrs.type not in handlers.by_type and model_for(attrs.type) is not None:
        # A known type for another service on a shared topic: not ours to validate or apply.
        return None
    try:
        item.envelope = decode_data(attrs, record.value)
    except PermanentError as exc:
        item.error, item.error_class = str(exc), type(exc).__name__
    return item


@dataclass(frozen=True)
class Letter:
    """A dead letter as it goes to ``<topic>.dlq``: the original record, or a bounded copy of it."""

    key: bytes | None
    headers: list[tuple[str, str]]
    value: bytes | None

    @property
    def size(self) -> int:
        return len(self.key or b"") + len(self.value or b"") + sum(len(k.encode()) + len(v.encode()) for k, v in self.headers)


def dead_letter(item: Decoded, service: str, group: str) -> Letter:
    """The letter for a record that cannot be applied: its key, headers and body as they came, with the reason
    and where it came from. When that would not fit the size policy (an oversized record, or huge headers), a
    bounded letter instead: the headers that fit (each cut at LETTER_HEADER_VALUE_BYTES), the body's size,
    SHA-256 and first DEAD_LETTER_BODY_PREFIX_BYTES, so it always fits the dead-letter topic."""
    r = item.record
    extra = {
        # it can quote the body; PostgreSQL text holds no NUL; cut so a letter stays bounded (≤ 4 bytes a character)
        "dlq_reason": (item.error or "").replace("\x00", "\ufffd")[: LETTER_HEADER_VALUE_BYTES // 4],
        "dlq_error_class": item.error_class or "",
        "dlq_original_topic": r.topic,
        "dlq_original_partition": str(r.partition),
        "dlq_original_offset": str(r.offset),
        "dlq_service": service,
        "dlq_consumer_group": group,
        "dlq_time": datetime.now(UTC).isoformat(),
    }
    original = [(k, v) for k, v in item.headers.items() if not k.startswith("dlq_")]
    whole = Letter(r.key, original + list(extra.items()), r.value)
    if whole.size <= MAX_EVENT_BYTES:
        return whole
    kept: list[tuple[str, str]] = []
    budget, dropped = LETTER_HEADERS_BUDGET, 0
    for name, value in original:
        name, value = _cut(name, 256), _cut(value, LETTER_HEADER_VALUE_BYTES)
        cost = len(name.encode()) + len(value.encode())
        if cost > budget:
            dropped += 1
            continue
        budget -= cost
        kept.append((name, value))
    body = r.value or b""
    extra.update(
        dlq_bounded="true",
        dlq_original_bytes=str(whole.size - sum(len(k.encode()) + len(v.encode()) for k, v in extra.items())),
        dlq_body_bytes=str(len(body)),
        dlq_body_sha256=hashlib.sha256(body).hexdigest(),
        dlq_body_kept_bytes=str(min(len(body), DEAD_LETTER_BODY_PREFIX_BYTES)),
        dlq_headers_dropped=str(dropped),
    )
    key = r.key if r.key is None or len(r.key) <= 1024 else hashlib.sha256(r.key).hexdigest().encode()
    return Letter(key, kept + list(extra.items()), body[:DEAD_LETTER_BODY_PREFIX_BYTES] if r.value is not None else None)


def _cut(text: str, limit: int) -> str:
    raw = text.encode()
    return text if len(raw) <= limit else raw[:limit].decode("utf-8", "ignore")


def dead_letter_headers(item: Decoded, service: str, group: str) -> list[tuple[str, str]]:
    return dead_letter(item, service, group).headers


class BatchProcessor:
    def __init__(self, pool: asyncpg.Pool, handlers: Handlers, *, service: str, group: str, retries: int = 5, base_delay: float = 0.2) -> None:
        self.pool = pool
        self.handlers = handlers
        self.service = service
        self.group = group
        self.retries = retries
        self.base_delay = base_delay

    async def process(self, records: Iterable[Record], *, reprocess: bool = False) -> dict[str, int]:
        """Apply a batch exactly once. Raises TransientFailure if it could not be applied now, and lets any
        exception that is neither transient nor a rejection (a bug in a handler: see the module's docstring)
        through, with nothing of the batch applied or dead-lettered.

        ``reprocess`` lets events that were dead-lettered earlier be applied (after a fix).
        """
        decoded = [d for d in (decode_record(r, self.handlers) for r in records) if d is not None]
        if not decoded:
            return {}
        attempt = 0
        while True:
            try:
                started = time.perf_counter()
                outcome = await self._apply(decoded, reprocess)
                for topic in {d.record.topic for d in decoded}:
                    metrics.HANDLER_DURATION.labels(self.service, topic).observe(time.perf_counter() - started)
                self._observe_freshness(decoded)
                return outcome
            except TRANSIENT as exc:
                attempt += 1
                for topic in {d.record.topic for d in decoded}:
                    metrics.EVENTS_FAILED.labels(self.service, topic, "transient").inc()
                if attempt > self.retries:
                    raise TransientFailure(f"batch not applied after {attempt} attempts: {exc!r}") from exc
                delay = min(self.base_delay * 2 ** (attempt - 1), 5.0)
                log.warning("transient failure applying batch (%s); retry %d in %.1fs", exc, attempt, delay)
                await asyncio.sleep(delay)

    async def _apply(self, batch: list[Decoded], reprocess: bool) -> dict[str, int]:
        committed: list[Callable[[], None]] = []
        token = _AFTER_COMMIT.set(committed)
        try:
            try:
                outcome = await self._apply_at_once(batch, reprocess)
            except _OneByOne:
                committed.clear()  # that transaction rolled back; the batch is applied again, one event at a time
                outcome = await self._apply_one_by_one(batch, reprocess)
        finally:
            _AFTER_COMMIT.reset(token)
        for callback in committed:  # only here: the transaction committed (an exception above skips them)
            callback()
        return outcome

    async def _apply_at_once(self, batch: list[Decoded], reprocess: bool) -> dict[str, int]:
        """The whole batch without savepoints; raises _OneByOne (the transaction rolled back) if a handler rejects an event."""
        outcomes: list[tuple[Decoded, str]] = []
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await self._claim(conn, batch, reprocess)
            runs: list[tuple[Handler, list[Envelope[Event]]]] = []  # consecutive new events, grouped by handler
            dead: list[Decoded] = []
            for item in batch:
                if item.inbox_id not in fresh:
                    outcomes.append((item, "duplicate"))
                    continue
                fresh.discard(item.inbox_id)  # a repeat inside the same batch is a duplicate too
                if item.error is not None:
                    dead.append(item)
                    outcomes.append((item, "dead-lettered"))
                    continue
                assert item.envelope is not None
                handler = self.handlers.for_type(item.envelope.type)
                assert handler is not None
                if runs and runs[-1][0] is handler:
                    runs[-1][1].append(item.envelope)
                else:
                    runs.append((handler, [item.envelope]))
                outcomes.append((item, "applied"))
            for handler, envelopes in runs:
                try:
                    many = getattr(handler, "many", None)
                    if many is not None and len(envelopes) > 1:
                        await many(conn, envelopes)
                    else:
                        for envelope in envelopes:
                            await handler(conn, envelope)
                except TRANSIENT:
                    raise
                except REJECTIONS as exc:
                    raise _OneByOne() from exc  # leaves the transaction, which rolls it back
                except Exception as exc:  # a bug: it leaves too, rolling the transaction back, and out of process()
                    exc.add_note(f"{self.service}: raised by the handler of {envelopes[0].type} applying {len(envelopes)} event(s), "
                                 f"the first {envelopes[0].id}; the batch was rolled back and will be read again")
                    raise
            await self._dead_letter_all(conn, dead)
        return self._tally(outcomes)

    async def _apply_one_by_one(self, batch: list[Decoded], reprocess: bool) -> dict[str, int]:
        """Each new event in its own savepoint, so a rejected event undoes only itself and is dead-lettered."""
        outcomes: list[tuple[Decoded, str]] = []
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await self._claim(conn, batch, reprocess)
            dead: list[Decoded] = []
            for item in batch:
                if item.inbox_id not in fresh:
                    outcomes.append((item, "duplicate"))
                    continue
                fresh.discard(item.inbox_id)
                if item.error is None:
                    assert item.envelope is not None
                    handler = self.handlers.for_type(item.envelope.type)
                    assert handler is not None
                    try:
                        async with conn.transaction():  # savepoint
                            await handler(conn, item.envelope)
                        outcomes.append((item, "applied"))
                        continue
                    except TRANSIENT:
                        raise
                    except REJECTIONS as exc:
                        item.error, item.error_class = f"handler rejected the event: {exc}", type(exc).__name__
                    except Exception as exc:  # a bug: it leaves the outer transaction, which rolls the whole batch back
                        r = item.record
                        exc.add_note(f"{self.service}: raised by the handler of {item.envelope.type} applying event {item.envelope.id} "
                                     f"({r.topic}[{r.partition}]@{r.offset}); the batch was rolled back and will be read again")
                        raise
                dead.append(item)
                outcomes.append((item, "dead-lettered"))
            await self._dead_letter_all(conn, dead)
        return self._tally(outcomes)

    async def _dead_letter_all(self, conn: asyncpg.Connection, dead: list[Decoded]) -> None:
        for item in dead:
            await self._dead_letter(conn, item)
        if dead:
            await conn.execute("UPDATE inbox SET outcome = 'dead-lettered' WHERE event_id = ANY($1::text[])", [d.inbox_id for d in dead])

    async def _claim(self, conn: asyncpg.Connection, batch: list[Decoded], reprocess: bool) -> set[str]:
        """Insert the batch's ids into the inbox; returns the ids not seen before."""
        cols = (
            [d.inbox_id for d in batch],
            [d.type_label for d in batch],
            [d.record.topic for d in batch],
            [d.record.partition for d in batch],
            [d.record.offset for d in batch],
        )
        conflict = (
            "ON CONFLICT (event_id) DO UPDATE SET outcome = 'applied', received_at = now() WHERE inbox.outcome = 'dead-lettered'"
            if reprocess
            else "ON CONFLICT (event_id) DO NOTHING"
        )
        rows = await conn.fetch(
            "INSERT INTO inbox (event_id, event_type, topic, partition, \"offset\", outcome)"
            " SELECT DISTINCT ON (id) id, typ, topic, part, off, 'applied'"
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[]) AS t(id, typ, topic, part, off) "
            + conflict
            + " RETURNING event_id",
            *cols,
        )
        return {r["event_id"] for r in rows}

    async def _dead_letter(self, conn: asyncpg.Connection, item: Decoded) -> None:
        r = item.record
        log.warning("dead-lettering %s from %s[%d]@%d: %s", item.inbox_id, r.topic, r.partition, r.offset, item.error)
        dlq_topic = r.topic if r.topic.endswith(DLQ_SUFFIX) else r.topic + DLQ_SUFFIX
        letter = dead_letter(item, self.service, self.group)
        await outbox.add_raw(conn, dlq_topic, letter.key, letter.headers, letter.value, item.type_label)

    def _observe_freshness(self, batch: list[Decoded]) -> None:
        """How old each event was when its effect was committed (its CloudEvents time to now). The read model's lag
        (``skolit_read_model_lag_seconds``) is ``ReadModelLag``'s, measured by what still waits, not by this."""
        now = datetime.now(UTC)
        for item in batch:
            if item.envelope is None or item.error is not None:
                continue
            age = max((now - item.envelope.time).total_seconds(), 0.0)
            metrics.EVENT_AGE_AT_APPLY.labels(self.service, item.record.topic).observe(age)

    def _tally(self, outcomes: list[tuple[Decoded, str]]) -> dict[str, int]:
        """Counts a committed batch's outcomes (only then: a rolled-back attempt counts nothing)."""
        counts = {"applied": 0, "duplicate": 0, "dead-lettered": 0}
        for item, outcome in outcomes:
            counts[outcome] += 1
            self._count(item, outcome)
        return counts

    def _count(self, item: Decoded, outcome: str) -> None:
        typ = item.type_label or ""
        if model_for(typ) is None:
            typ = "unknown"  # a label per made-up type would grow the metrics without bound
        metrics.EVENTS_CONSUMED.labels(self.service, item.record.topic, typ, outcome).inc()
        if outcome == "dead-lettered":
            metrics.DEAD_LETTERED.labels(self.service, item.record.topic).inc()
            metrics.EVENTS_FAILED.labels(self.service, item.record.topic, "permanent").inc()


@dataclass(frozen=True)
class _Waiting:
    """A partition with records not yet applied: since when the oldest of them was on the topic."""

    since: float
    #: the offset the consumer applies next
    next_offset: int
    #: True when ``since`` is the last applied record's time, standing in for records waiting that were not fetched yet
    stand_in: bool


class ReadModelLag:
    """``skolit_read_model_lag_seconds``: how long the oldest record a service has not applied yet has been waiting, per topic.

    * **0 when nothing waits**: every partition of the topic the consumer owns has been applied up to its high-water
      mark (the consumer's position equals it). A quiet topic is caught up, however old its last event.
    * Otherwise the age of the oldest record not applied yet, by its Kafka timestamp (when it was written to the
      topic): while a batch is applied, or retried after a failure, that is the batch's first record of the
      partition. Between a batch's commit and the next fetch, when the high-water mark says more waits but it has not
      been fetched yet, the last applied record stands in (what waits is newer, so this errs towards "behind"); the
      next fetch replaces it by the real first record, or clears it when the partition turns out to be caught up.
    * Computed when /metrics is read (``set_function``), so a consumer stuck on a batch shows a lag that grows.

    Not the events' CloudEvents ``time``: that is when something happened at the source (a city register sends changes
    dated weeks back, a replay carries its original times), which made a caught-up consumer of a quiet city topic read
    months behind (issue 20). ``skolit_event_age_at_apply_seconds`` keeps the CloudEvents view. The broker being away
    is not seen here (nothing can be fetched, nor written): readiness and the service alerts say so.
    """

    def __init__(self, service: str, clock: Callable[[], float] = time.time) -> None:
        self.service = service
        self.clock = clock
        self._waiting: dict[tuple[str, int], _Waiting] = {}
        self._topics: set[str] = set()

    def watch(self, topics: Iterable[str]) -> None:
        """Export the gauge for these topics (0 until something waits)."""
        for topic in topics:
            if topic not in self._topics:
                self._topics.add(topic)
                metrics.READ_MODEL_LAG.labels(self.service, topic).set_function(functools.partial(self.seconds, topic))

    def fetched(self, first: Record) -> None:
        """A fetch handed out records of ``first``'s partition, ``first`` the oldest of them."""
        key = (first.topic, first.partition)
        known = self._waiting.get(key)
        if known is None or known.stand_in:  # a batch read again after a failure keeps its first time
            self._waiting[key] = _Waiting(self._written_at(first), first.offset, stand_in=False)

    def applied(self, last: Record, highwater: int | None) -> None:
        """The records of ``last``'s partition up to ``last`` are applied; ``highwater`` is the partition's as last seen."""
        key = (last.topic, last.partition)
        following = last.offset + 1
        if highwater is None or following >= highwater:
            self._waiting.pop(key, None)
        else:
            self._waiting[key] = _Waiting(self._written_at(last), following, stand_in=True)

    def polled(self, assigned: Iterable[tuple[str, int]], highwater: Callable[[tuple[str, int]], int | None]) -> None:
        """After every fetch: partitions no longer the consumer's are forgotten (their new owner reports them), and a
        stand-in is cleared where the high-water mark shows nothing more waits."""
        mine = set(assigned)
        for key, entry in list(self._waiting.items()):
            if key not in mine:
                del self._waiting[key]
            elif entry.stand_in:
                mark = highwater(key)
                if mark is None or entry.next_offset >= mark:
                    del self._waiting[key]

    def forget(self) -> None:
        """The consumer stopped: it owns no partition."""
        self._waiting.clear()

    def seconds(self, topic: str) -> float:
        now = self.clock()
        return max([0.0] + [now - w.since for (t, _), w in list(self._waiting.items()) if t == topic])

    def _written_at(self, record: Record) -> float:
        """The record's Kafka timestamp in seconds; now when it has none (then the lag counts from when it was seen)."""
        stamp = getattr(record, "timestamp", None)
        return stamp / 1000.0 if isinstance(stamp, int) and stamp > 0 else self.clock()


def record_lag(service: str, consumer: Any, records: Sequence[Record]) -> None:
    """Lag per partition = high-water mark − next offset, from what the consumer already knows."""
    last: dict[tuple[str, int], int] = {}
    for r in records:
        last[(r.topic, r.partition)] = max(last.get((r.topic, r.partition), -1), r.offset)
    if consumer is None:
        return
    from aiokafka import TopicPartition

    for (topic, partition), offset in last.items():
        try:
            with_hw = consumer.highwater(TopicPartition(topic, partition))
        except AssertionError:  # aiokafka asserts the partition is assigned: a rebalance took it while the batch was applied
            continue
        if with_hw is not None:
            metrics.CONSUMER_LAG.labels(service, topic, str(partition)).set(max(with_hw - offset - 1, 0))
