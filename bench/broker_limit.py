"""Benchmark: the broker's ceiling — raw aiokafka produce and consume rates on the embedded Tansu broker,
with the city's own messages (the same keys, headers and bodies the ingest benchmark publishes) into
topics shaped like the city topics (one mirror topic per city topic, the same partition count: 6).

    .venv/bin/python -m bench.broker_limit [--messages 200000] [--runs 3]    (or: make bench, inside bench.city_ingest)

Alone it starts only Tansu; ``bench.city_ingest`` calls ``measure`` on its own broker before the services
start, so the ingest's ratio is to a ceiling measured in the same run. Produce: one AIOKafkaProducer (acks=all,
linger 20 ms, batches up to 1 MiB: the publisher the ingest uses), every ``send`` awaited into the
accumulator, then every acknowledgement; timed from the first send to the last acknowledgement. Consume:
one AIOKafkaConsumer without a group, every partition assigned from the earliest offset, ``getmany`` until every
message is in hand; timed from the first fetch to the last record. Each run uses fresh topics, deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench import summary
from bench.citygen import city_events, size_facts, wire_all
from bench.stack import load_average, replication_factor, terminate_on_sigterm, wait_quiet
from shared.topics import BY_NAME

PRODUCER_SETTINGS = {"enable_idempotence": False, "acks": "all", "linger_ms": 20, "max_batch_size": 1 << 20, "max_request_size": 8 << 20}


def new_producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_SETTINGS)


async def send_all(producer: AIOKafkaProducer, messages: list[Any], topic_of: Any = lambda t: t) -> float:
    """Sends every message, then waits for every acknowledgement; returns the seconds from the first send."""
    started = time.perf_counter()
    futures = [await producer.send(topic_of(m.topic), m.value, key=m.key, headers=m.headers) for m in messages]
    await asyncio.gather(*futures)
    return time.perf_counter() - started


async def _create(bootstrap: str, topics: dict[str, int]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, replication_factor()) for name, partitions in topics.items()])
    finally:
        await admin.close()
    await wait_for_leaders(bootstrap, topics)


async def wait_for_leaders(bootstrap: str, topics: dict[str, int], timeout: float = 60.0) -> None:
    """Until metadata names a leader for every partition of ``topics``: on a cluster of several brokers a new topic reaches
    every broker's metadata a moment after CreateTopics answers, and a produce before that is refused and retried, which
    would be timed. (Tansu answers at once.)"""
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        deadline = time.monotonic() + timeout
        while True:
            md = await client.fetch_all_metadata()
            missing = [(t, p) for t, n in topics.items() for p in range(n)
                       if (leader := md.leader_for_partition(TopicPartition(t, p))) is None or leader < 0]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"no leader after {timeout:.0f} s for {missing[:5]}")
            await asyncio.sleep(0.2)
    finally:
        await client.close()


async def _delete(bootstrap: str, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    except Exception as exc:  # noqa: BLE001 - memory is all it costs
        print(f"  (could not delete {topics}: {exc})", flush=True)
    finally:
        await admin.close()


async def one_run(bootstrap: str, messages: list[Any], run: int) -> dict[str, Any]:
    prefix = f"bench.raw.{uuid.uuid4().hex[:8]}."
    mirror = {prefix + t: BY_NAME[t].partitions for t in sorted({m.topic for m in messages})}
    await _create(bootstrap, mirror)
    load = load_average()
    try:
        producer = new_producer(bootstrap)
        await producer.start()
        try:
            produce_s = await send_all(producer, messages, lambda t: prefix + t)
        finally:
            await producer.stop()
        # no group: every partition assigned directly, so no group join is timed, only fetching
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        consumer.assign([TopicPartition(t, p) for t, n in mirror.items() for p in range(n)])
        got, deadline = 0, time.monotonic() + 600
        started = time.perf_counter()
        try:
            while got < len(messages):
                batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
                got += sum(len(r) for r in batches.values())
                if time.monotonic() > deadline:
                    raise TimeoutError(f"consumed only {got} of {len(messages)}")
            consume_s = time.perf_counter() - started
        finally:
            await consumer.stop()
    finally:
        await _delete(bootstrap, list(mirror))
    out = {"run": run, "loadAverageAtStart": load, "messages": len(messages), "produceSeconds": round(produce_s, 3),
           "producePerSecond": round(len(messages) / produce_s, 1), "consumeSeconds": round(consume_s, 3),
           "consumePerSecond": round(len(messages) / consume_s, 1), "topics": len(mirror), "partitions": sum(mirror.values())}
    print(f"  broker run {run}: produce {out['producePerSecond']:.0f}/s ({produce_s:.1f} s), consume {out['consumePerSecond']:.0f}/s "
          f"({consume_s:.1f} s), load {load}", flush=True)
    return out


async def measure(bootstrap: str, messages: list[Any], runs: int) -> dict[str, Any]:
    raw = [await one_run(bootstrap, messages, r + 1) for r in range(runs)]
    return {"runs": raw, "producePerSecond": summary.spread([r["producePerSecond"] for r in raw]),
            "consumePerSecond": summary.spread([r["consumePerSecond"] for r in raw]), "producer": {k: v for k, v in PRODUCER_SETTINGS.items()},
            "sizes": size_facts(messages), "replicationFactor": replication_factor()}


def main(argv: list[str] | None = None) -> int:
    terminate_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench.broker_limit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine (development)")
    parser.add_argument("--no-summary", action="store_true", help="print, do not write docs/benchmarks.{md,json}")
    args = parser.parse_args(argv)
    from devkit.embedded import EmbeddedBroker, free_port
    import tempfile
    from pathlib import Path

    quiet = wait_quiet(enabled=not args.no_wait)
    started = time.monotonic()
    city = city_events(args.messages, tag="broker")
    messages = wire_all(city.events)
    workdir = Path(tempfile.mkdtemp(prefix="skolit-bench-broker-"))
    broker = EmbeddedBroker(free_port(), log_path=workdir / "tansu.log")
    try:
        bootstrap = broker.start()
        result = asyncio.run(measure(bootstrap, messages, args.runs))
    finally:
        broker.stop()
    result.update(quiet=quiet, durationSeconds=round(time.monotonic() - started, 1), eventCounts=city.counts(),
                  arguments={"messages": args.messages, "runs": args.runs}, context="Tansu alone (no PostgreSQL, no services)")
    if not args.no_summary:
        summary.update("broker", result)
    print(f"produce {result['producePerSecond']}, consume {result['consumePerSecond']} messages/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
