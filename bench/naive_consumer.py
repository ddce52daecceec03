"""The naive baseline for the city-event ingest: a small FastStream app that applies the city's events
one message at a time — FastStream's default Kafka subscriber (AckPolicy.ACK_FIRST: aiokafka's auto-commit),
one transaction per message — into a scratch schema, with the same SQL as shared/city/replica.py (it calls
the replica's own handlers) and the same idempotency (an inbox row per event, ``ON CONFLICT DO NOTHING``).

It is what a consumer looks like before batching: no shared transaction per batch, no savepoints, no
dead-lettering. bench/city_ingest.py runs it as a process of its own, like a service:

    DATABASE_URL=... KAFKA_BOOTSTRAP_SERVERS=... BENCH_NAIVE_TOPICS=a,b,c BENCH_NAIVE_SCHEMA=bench_naive \\
        .venv/bin/python -m bench.naive_consumer

``prepare_schema`` (run by the benchmark beforehand) creates the scratch schema from the replica migrations
(shared/city/migrations/{organisation,duty,person}.sql) and the inbox of shared/migrations/0001_messaging.sql.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from pathlib import Path

import asyncpg
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from shared.city.replica import DUTIES, ORGANISATIONS, PERSONS
from shared.events.envelope import decode, header_map

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = {model.TYPE: fn for replica in (ORGANISATIONS, DUTIES, PERSONS) for model, fn in replica.handlers.items()}
INBOX_DDL = re.search(r"CREATE TABLE inbox \(.*?\);", (ROOT / "shared" / "migrations" / "0001_messaging.sql").read_text(), re.S)
GROUP = "bench-naive"


async def prepare_schema(admin_url: str, schema: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"')
        await conn.execute(f'SET search_path = "{schema}"')
        for replica in (ORGANISATIONS, DUTIES, PERSONS):
            for migration in replica.migration_files:
                await conn.execute(migration.read_text())
        assert INBOX_DDL is not None
        await conn.execute(INBOX_DDL.group(0))
    finally:
        await conn.close()


def build() -> tuple[FastStream, KafkaBroker]:
    topics = [t for t in os.environ["BENCH_NAIVE_TOPICS"].split(",") if t]
    schema = os.environ.get("BENCH_NAIVE_SCHEMA", "bench_naive")
    # a list: FastStream hands a comma-separated string to aiokafka as one host (docs/decisions/0018)
    bootstrap = [b.strip() for b in os.environ["KAFKA_BOOTSTRAP_SERVERS"].split(",") if b.strip()]
    broker = KafkaBroker(bootstrap, logger=logging.getLogger("bench.naive"), log_level=logging.DEBUG)
    app = FastStream(broker, logger=logging.getLogger("bench.naive"))
    state: dict[str, asyncpg.Pool] = {}

    @app.on_startup
    async def connect() -> None:
        state["pool"] = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=10,
                                                  server_settings={"search_path": schema, "application_name": "bench-naive"})

    @app.after_shutdown
    async def close() -> None:
        await state["pool"].close()

    @broker.subscriber(*topics, group_id=GROUP, auto_offset_reset="earliest")  # the default: ACK_FIRST, auto-commit
    async def apply(msg: KafkaMessage) -> None:
        record = msg.raw_message
        envelope = decode(header_map(record.headers), record.value)
        async with state["pool"].acquire() as conn, conn.transaction():
            fresh = await conn.fetchval(
                'INSERT INTO inbox (event_id, event_type, topic, partition, "offset", outcome) VALUES ($1, $2, $3, $4, $5, \'applied\')'
                " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
                envelope.id, envelope.type, record.topic, record.partition, record.offset)
            if fresh is not None:
                await HANDLERS[envelope.type](conn, envelope)

    return app, broker


def main() -> None:
    logging.basicConfig(level=os.environ.get("BENCH_NAIVE_LOG_LEVEL", "WARNING"))
    app, _ = build()
    asyncio.run(app.run())


if __name__ == "__main__":
    main()
