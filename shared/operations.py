"""Operator commands: migrate, re-publish the outbox from a point in time, re-process dead letters, and
list what an operator must see: the service's dead letters and its parked outbox rows.

The listings show where a record came from, why it failed, its type and id and how big it was, never its
body, key or other header values: those are whatever a sender wrote and may hold personal data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared import db, outbox
from shared.consumer import BatchProcessor
from shared.kafka_consumer import new_consumer
from shared.events.envelope import header_map
from shared.migrate import migrate
from shared.service import ServiceSpec
from shared.settings import Settings
from shared.topics import DLQ_SUFFIX

log = logging.getLogger(__name__)

#: a dead letter's type and id are whatever the sender wrote: shown cut to this many characters
MAX_LABEL_CHARS = 200
#: a dead letter's reason is bounded where it is made (shared/consumer.py); shown cut to this many characters
MAX_REASON_CHARS = 2000


async def migrate_only(spec: ServiceSpec, settings: Settings) -> list[str]:
    conn = await db.connect(settings.database_url, spec.name)
    try:
        return await migrate(conn, spec.name, spec.migrations())
    finally:
        await conn.close()


async def republish(spec: ServiceSpec, settings: Settings, since: datetime) -> int:
    conn = await db.connect(settings.database_url, spec.name)
    try:
        n = await outbox.republish_since(conn, since)
        await conn.execute("SELECT pg_notify($1, '')", f"{spec.name}_outbox")
        return n
    finally:
        await conn.close()


async def reprocess_dead_letters(spec: ServiceSpec, settings: Settings, *, idle_seconds: float = 5.0) -> dict[str, int]:
    """Read ``<topic>.dlq`` for each topic the service consumes and apply the letters it wrote.

    Runs in its own consumer group and commits after each applied batch, so it can be run again.
    Letters that still fail are dead-lettered again (with the new reason).
    """
    handlers = spec.all_handlers()
    dlq_topics = [t + DLQ_SUFFIX for t in handlers.topics]
    totals = {"applied": 0, "duplicate": 0, "dead-lettered": 0, "other-services": 0}
    if not dlq_topics:
        return totals
    pool = await db.create_pool(settings.database_url, spec.name, min_size=1, max_size=2)
    consumer = new_consumer(settings.kafka_bootstrap_servers, security=settings.kafka_security, group_id=settings.consumer_group + ".dlq-reprocess")
    processor = BatchProcessor(pool, handlers, service=spec.name, group=settings.consumer_group)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in dlq_topics for p in sorted(consumer.partitions_for_topic(t) or await _partitions(consumer, t))]
        consumer.assign(partitions)
        # Only what was dead-lettered before this run: letters that fail again land after this mark
        # and wait for the next run, instead of looping forever.
        end = await consumer.end_offsets(partitions)
        loop = asyncio.get_running_loop()
        idle_since = loop.time()
        while await _behind(consumer, end) and loop.time() - idle_since < idle_seconds:
            batches = await consumer.getmany(*partitions, timeout_ms=500, max_records=500)
            records = [r for tp, batch in batches.items() for r in batch if r.offset < end[tp]]
            if not records:
                continue
            idle_since = loop.time()
            mine = [r for r in records if header_map(r.headers).get("dlq_consumer_group") == settings.consumer_group]
            totals["other-services"] += len(records) - len(mine)
            if mine:
                for k, v in (await processor.process(mine, reprocess=True)).items():
                    totals[k] = totals.get(k, 0) + v
            await consumer.commit({tp: min(await consumer.position(tp), end[tp]) for tp in partitions if end[tp] > 0})
    finally:
        await consumer.stop()
        await pool.close()
    return totals


async def rebuild_read_models(spec: ServiceSpec, settings: Settings, *, idle_seconds: float = 5.0) -> dict[str, int]:
    """Empty the service's read models and apply every event on its topics again, from the first.

    The read models are derived data, so the same events give the same figures. The inbox is emptied
    with them (in one transaction), so every event counts once more; events arriving meanwhile are
    applied by the running service or by this replay, once, as always. Reports are incomplete until
    the replay has caught up (it stops when the topics have been quiet for ``idle_seconds``).
    """
    if not spec.read_models:
        raise ValueError(f"{spec.name} declares no read models to rebuild")
    bad = [t for t in spec.read_models if not t.replace("_", "").isalnum()]
    if bad:
        raise ValueError(f"not table names: {bad}")
    handlers = spec.all_handlers()
    pool = await db.create_pool(settings.database_url, spec.name, min_size=1, max_size=2)
    totals = {"applied": 0, "duplicate": 0, "dead-lettered": 0}
    consumer = new_consumer(settings.kafka_bootstrap_servers, security=settings.kafka_security, group_id=None)
    try:
        truncate = "TRUNCATE TABLE " + ", ".join(spec.read_models) + ", inbox"  # names from the code, checked above
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(truncate)
        processor = BatchProcessor(pool, handlers, service=spec.name, group=settings.consumer_group)
        await consumer.start()
        partitions = [TopicPartition(t, p) for t in handlers.topics for p in sorted(await _partitions(consumer, t))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        # Until the topics are quiet, not up to end offsets: the embedded broker reported an end offset of 1
        # for a partition that served 4 records (a producer batch), so they cannot mark the end. Events
        # arriving meanwhile are applied once either way.
        loop = asyncio.get_running_loop()
        idle_since = loop.time()
        while loop.time() - idle_since < idle_seconds:
            batches = await consumer.getmany(*partitions, timeout_ms=500, max_records=1000)
            records = [r for batch in batches.values() for r in batch]
            if records:
                idle_since = loop.time()
                for k, v in (await processor.process(records)).items():
                    totals[k] = totals.get(k, 0) + v
    finally:
        await consumer.stop()
        await pool.close()
    return totals


async def _behind(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
    for tp, mark in end.items():
        if await consumer.position(tp) < mark:
            return True
    return False


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # aiokafka has no public call to learn a topic's partitions before assignment
    return consumer.partitions_for_topic(topic) or set()


# ---- what an operator sees: dead letters and parked outbox rows -------------------------------------------------


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter in the service's outbox: its coordinates, type, id and reason; never its body."""

    seq: int
    id: UUID
    topic: str
    original_topic: str | None
    original_partition: int | None
    original_offset: int | None
    ce_type: str | None
    ce_id: str | None
    reason: str | None
    error_class: str | None
    dead_lettered_at: datetime
    published_at: datetime | None
    body_bytes: int | None
    bounded: bool

    @property
    def published(self) -> bool:
        return self.published_at is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "id": str(self.id), "topic": self.topic,
            "originalTopic": self.original_topic, "originalPartition": self.original_partition, "originalOffset": self.original_offset,
            "ceType": self.ce_type, "ceId": self.ce_id, "reason": self.reason, "errorClass": self.error_class,
            "deadLetteredAt": self.dead_lettered_at.isoformat(), "published": self.published,
            "publishedAt": self.published_at.isoformat() if self.published_at else None,
            "bodyBytes": self.body_bytes, "bounded": self.bounded,
        }


def _header(name: str, cut: int) -> str:
    # the first value of a header: names and the cut are constants of this module, never input
    return f"left((array_agg(h->>1) FILTER (WHERE h->>0 = '{name}'))[1], {cut}) AS {name}"


_LETTER_HEADERS = (
    ("dlq_reason", MAX_REASON_CHARS), ("dlq_error_class", MAX_LABEL_CHARS), ("dlq_original_topic", MAX_LABEL_CHARS),
    ("dlq_original_partition", 32), ("dlq_original_offset", 32), ("dlq_time", 64), ("dlq_bounded", 16), ("dlq_body_bytes", 32),
    ("ce_type", MAX_LABEL_CHARS), ("ce_id", MAX_LABEL_CHARS),
)
_DEAD_LETTERS_SQL = (
    "SELECT o.seq, o.id, left(o.topic, 300) AS topic, o.created_at, o.published_at, octet_length(o.payload) AS payload_bytes,"
    # a structured-mode event carries its type in the body, not a header: the type the consumer read from it, then
    " coalesce(l.ce_type, left(o.event_type, " + str(MAX_LABEL_CHARS) + ")) AS type, l.*"
    " FROM outbox o CROSS JOIN LATERAL ("
    "SELECT " + ", ".join(_header(n, cut) for n, cut in _LETTER_HEADERS) +
    # headers are a list of [name, value] (shared/outbox.py); anything else reads as no headers, never an error
    " FROM jsonb_array_elements(CASE WHEN jsonb_typeof(o.headers) = 'array' THEN o.headers ELSE '[]'::jsonb END) AS e(h)"
    " WHERE jsonb_typeof(h) = 'array'"
    ") l"
    " WHERE o.topic LIKE '%.dlq' AND ($2::bigint IS NULL OR o.seq < $2) AND ($3::text IS NULL OR o.topic = $3)"
    " ORDER BY o.seq DESC LIMIT $1"
)


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _time(text: str | None, fallback: datetime) -> datetime:
    try:
        parsed = datetime.fromisoformat(text) if text else None
    except ValueError:
        parsed = None
    return parsed if parsed is not None and parsed.tzinfo is not None else fallback


async def list_dead_letters(conn: asyncpg.Connection, *, limit: int, before_seq: int | None = None, topic: str | None = None) -> list[DeadLetter]:
    """The service's dead letters (outbox rows on ``<topic>.dlq``), newest first; ``before_seq`` pages on (keyset).

    ``topic`` narrows to one dead-letter topic (``skolit.city.organisation`` or ``skolit.city.organisation.dlq``).
    Reads only the headers the consumer writes (``dlq_*``) and the sender's ``ce_type`` and ``ce_id``; never the
    body, the key or any other header, which may hold personal data."""
    if topic is not None and not topic.endswith(DLQ_SUFFIX):
        topic += DLQ_SUFFIX
    rows = await conn.fetch(_DEAD_LETTERS_SQL, limit, before_seq, topic)
    letters = []
    for r in rows:
        bounded = r["dlq_bounded"] == "true"
        letters.append(DeadLetter(
            seq=r["seq"], id=r["id"], topic=r["topic"],
            original_topic=r["dlq_original_topic"],
            original_partition=_int(r["dlq_original_partition"]),
            original_offset=_int(r["dlq_original_offset"]),
            ce_type=r["type"], ce_id=r["ce_id"], reason=r["dlq_reason"], error_class=r["dlq_error_class"] or None,
            dead_lettered_at=_time(r["dlq_time"], r["created_at"]),
            published_at=r["published_at"],
            # a bounded letter keeps a prefix of the body: its header says how big the whole body was
            body_bytes=_int(r["dlq_body_bytes"]) if bounded else r["payload_bytes"],
            bounded=bounded,
        ))
    return letters


@dataclass(frozen=True)
class ParkedRow:
    """An outbox row the relay can never publish as it is: why, and where it was going; never its body."""

    seq: int
    id: UUID
    topic: str
    event_type: str | None
    created_at: datetime
    parked_at: datetime
    reason: str | None
    discarded_at: datetime | None
    discard_note: str | None
    payload_bytes: int | None
    key_bytes: int | None
    held_behind: int

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "id": str(self.id), "topic": self.topic, "eventType": self.event_type,
            "createdAt": self.created_at.isoformat(), "parkedAt": self.parked_at.isoformat(), "reason": self.reason,
            "discardedAt": self.discarded_at.isoformat() if self.discarded_at else None, "discardNote": self.discard_note,
            "payloadBytes": self.payload_bytes, "keyBytes": self.key_bytes, "heldBehind": self.held_behind,
        }


async def list_parked(conn: asyncpg.Connection, *, limit: int, include_discarded: bool = False) -> tuple[list[ParkedRow], int]:
    """Parked outbox rows, oldest first (shared/outbox.py ``parked_rows``), and how many are parked now (not discarded)."""
    rows = await outbox.parked_rows(conn, limit=limit, include_discarded=include_discarded)
    parked = await conn.fetchval("SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL AND discarded_at IS NULL AND published_at IS NULL")
    return [
        ParkedRow(
            seq=r["seq"], id=r["id"], topic=r["topic"][:MAX_LABEL_CHARS], event_type=(r["event_type"] or "")[:MAX_LABEL_CHARS] or None,
            created_at=r["created_at"], parked_at=r["parked_at"], reason=r["park_reason"], discarded_at=r["discarded_at"],
            discard_note=r["discard_note"], payload_bytes=r["payload_bytes"], key_bytes=r["key_bytes"], held_behind=int(r["held_behind"]),
        )
        for r in rows
    ], int(parked)


async def dead_letters(spec: ServiceSpec, settings: Settings, *, limit: int, before_seq: int | None = None, topic: str | None = None) -> list[DeadLetter]:
    conn = await db.connect(settings.database_url, spec.name)
    try:
        return await list_dead_letters(conn, limit=limit, before_seq=before_seq, topic=topic)
    finally:
        await conn.close()


async def parked(spec: ServiceSpec, settings: Settings, *, limit: int, include_discarded: bool = False) -> tuple[list[ParkedRow], int]:
    conn = await db.connect(settings.database_url, spec.name)
    try:
        return await list_parked(conn, limit=limit, include_discarded=include_discarded)
    finally:
        await conn.close()


async def retry_parked(spec: ServiceSpec, settings: Settings, seqs: Sequence[int] | None) -> int:
    """Put parked rows back in line (None: all of them); the running relay is woken and tries them again."""
    conn = await db.connect(settings.database_url, spec.name)
    try:
        return await outbox.retry_parked(conn, seqs)
    finally:
        await conn.close()


async def discard_parked(spec: ServiceSpec, settings: Settings, seqs: Sequence[int], note: str) -> int:
    """Give up on parked rows for good, with the operator's note; the rows of the same keys behind them go on."""
    conn = await db.connect(settings.database_url, spec.name)
    try:
        return await outbox.discard_parked(conn, seqs, note)
    finally:
        await conn.close()
