"""Operator commands: migrate, re-publish the outbox from a point in time, re-process dead letters."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared import db, outbox
from shared.consumer import BatchProcessor
from shared.events.envelope import header_map
from shared.migrate import migrate
from shared.service import ServiceSpec
from shared.settings import Settings
from shared.topics import DLQ_SUFFIX

log = logging.getLogger(__name__)


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
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.consumer_group + ".dlq-reprocess",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
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
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
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
