"""Skolit on Apache Kafka, the production engine: a three-node KRaft cluster of this module's own (devkit/kafka).

Topics are created as the manifests declare them (replication factor 3, min.insync.replicas 2, Skolit's message size
limit; no automatic topic creation), the services' producer is idempotent there (asked, and seen on the wire), an event a
service writes to its outbox reaches another service's consumer, and SIGKILL of the broker leading the partitions the
service writes to, while events flow, loses none and applies none twice.

The module starts only what it needs (PostgreSQL, the cluster, assessment and reporting), whatever SKOLIT_TEST_BROKER says.
"""

from __future__ import annotations

import asyncio
import os
import struct
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from devkit.embedded import EmbeddedPostgres, free_port
from devkit.kafka import KafkaCluster
from devkit.process import ROOT, ServiceProcess
from shared.events.assessment import CampaignOpened
from shared.kafka_producer import supports_idempotence
from shared.settings import DEV_JWT_SECRET
from shared.topics import ASSESSMENT, MAX_MESSAGE_BYTES, all_topic_names
from tests.support.city import District
from tests.support.kafka import eventually, send, wire
from tests.support.stack import auth, started_in_own_folder

pytestmark = pytest.mark.integration

SERVICES = ("assessment", "reporting")


class KafkaStack:
    """PostgreSQL, a three-node Apache Kafka cluster and two services (processes) that talk through it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.cluster = KafkaCluster(workdir / "kafka", nodes=3)
        self.postgres = EmbeddedPostgres(workdir / "pgdata", free_port())
        self.services: dict[str, ServiceProcess] = {}
        self.admin_url = ""
        self.bootstrap = ""
        self.district = District()

    def start(self) -> None:
        self.bootstrap = self.cluster.start()
        self.admin_url = self.postgres.start()
        from shared.db import ensure_database, provision
        from shared.topics import ensure_topics

        async def prepare() -> None:
            await ensure_database(self.admin_url)
            await provision(self.admin_url)
            await ensure_topics(self.bootstrap, self.cluster.replication_factor)
            await send(self.bootstrap, [wire(e) for e in self.district.events(n_schools=2)])

        asyncio.run(prepare())
        for name in SERVICES:
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("SKOLIT_")}
            env.update(DATABASE_URL=self.admin_url, KAFKA_BOOTSTRAP_SERVERS=self.bootstrap, SKOLIT_JWT_SECRET=DEV_JWT_SECRET,
                       SKOLIT_OUTBOX_POLL_SECONDS="0.2", SKOLIT_LOG_LEVEL="INFO", PYTHONPATH=str(ROOT),
                       SKOLIT_TOPIC_REPLICATION_FACTOR=str(self.cluster.replication_factor), **{f"SKOLIT_{name.upper()}_PORT": str(port)})
            self.services[name] = ServiceProcess(name, port, env, self.workdir / f"{name}.log")
            self.services[name].start()
        for svc in self.services.values():
            svc.wait_ready(timeout=120)

    def stop(self) -> None:
        for svc in self.services.values():
            svc.stop(grace=20)
        self.cluster.stop()
        self.postgres.stop()


@pytest.fixture(scope="module")
def kafka() -> Iterator[KafkaStack]:
    with started_in_own_folder(KafkaStack, "skolit-test-kafka-", "Apache Kafka test") as started:
        yield started


def _configs(responses: list[Any]) -> dict[str, dict[str, str]]:
    """DescribeConfigs answers as {resource name: {config: value}}."""
    out: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            assert resource["error_code"] == 0, resource
            entries = resource["config_entries"]
            out[resource["resource_name"]] = {e.get("config_names", e.get("config_name")): e["config_value"] for e in entries}
    return out


async def test_topics_are_replicated_as_the_manifests_declare(kafka: KafkaStack) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        declared = dict(all_topic_names())
        described = {t["topic"]: t for t in await admin.describe_topics(list(declared))}
        assert set(described) == set(declared)
        for name, partitions in declared.items():
            parts = described[name]["partitions"]
            assert len(parts) == partitions, name
            for p in parts:
                assert len(p["replicas"]) == 3 and len(p["isr"]) == 3, (name, p)
        topics = _configs(await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name) for name in declared]))
        for name in declared:
            assert topics[name]["min.insync.replicas"] == "2", name
            assert topics[name]["max.message.bytes"] == str(MAX_MESSAGE_BYTES), name
        brokers = _configs(await admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, str(n)) for n in kafka.cluster.node_ids]))
        for node, config in brokers.items():
            assert config["auto.create.topics.enable"] == "false", node
            assert config["default.replication.factor"] == "3", node
            assert config["min.insync.replicas"] == "2", node
            assert config["message.max.bytes"] == str(MAX_MESSAGE_BYTES), node
    finally:
        await admin.close()


def producer_ids(data_dir: Path, topic: str) -> list[int]:
    """The producer id of every record batch in the topic's log segments on one broker (-1: not an idempotent producer).

    A v2 record batch: baseOffset int64, batchLength int32, partitionLeaderEpoch int32, magic int8, crc int32, attributes
    int16, lastOffsetDelta int32, baseTimestamp int64, maxTimestamp int64, producerId int64, ..."""
    ids: list[int] = []
    for segment in sorted(data_dir.glob(f"{topic}-*/*.log")):
        data = segment.read_bytes()
        pos = 0
        while pos + 12 <= len(data):
            _, length = struct.unpack_from(">qi", data, pos)
            if length <= 0 or pos + 12 + length > len(data):
                break
            (producer_id,) = struct.unpack_from(">q", data, pos + 43)
            ids.append(producer_id)
            pos += 12 + length
    return ids


async def _open_campaign(http: httpx.AsyncClient, kafka: KafkaStack, name: str) -> str:
    year = date.today().year
    school = kafka.district.schools[0]
    response = await http.post(f"{kafka.services['assessment'].url}/campaigns", headers=auth("district_admin", districts=(str(kafka.district.id),)),
                               json={"name": name, "year": year, "deadline": f"{year + 1}-01-31", "schoolUnitIds": [str(school)]})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _school_known(http: httpx.AsyncClient, kafka: KafkaStack) -> bool:
    url = f"{kafka.services['assessment'].url}/school-units/{kafka.district.schools[0]}"
    return (await http.get(url, headers=auth("city_admin"))).status_code == 200


async def test_an_outbox_event_reaches_another_service_through_an_idempotent_producer(kafka: KafkaStack) -> None:
    assert await supports_idempotence(kafka.bootstrap)
    async with httpx.AsyncClient(timeout=10) as http:
        await eventually(lambda: _school_known(http, kafka), timeout=60, what="the city's school unit in assessment")
        campaign = await _open_campaign(http, kafka, "Självskattning på Apache Kafka")

        async def in_reporting() -> bool:
            r = await http.get(f"{kafka.services['reporting'].url}/campaigns", headers=auth("city_admin"))
            return r.status_code == 200 and any(c["id"] == campaign for c in r.json()["items"])

        await eventually(in_reporting, timeout=60, what="the campaign in reporting")
    # the service said so, and the wire shows it: every batch the relay wrote carries a producer id
    assert "producer acks=all, idempotence on" in kafka.services["assessment"].log_tail(400)
    written = producer_ids(kafka.cluster.data_dir(1), ASSESSMENT.name)
    # an idempotent producer's batches carry the producer id the broker gave it; without idempotence it is -1
    assert written and -1 not in written, written


async def _count_applied(conn: asyncpg.Connection, event_ids: list[str]) -> tuple[int, int]:
    """Reporting's inbox rows of these events: (applied, dead-lettered)."""
    row = await conn.fetchrow("SELECT count(*) FILTER (WHERE outcome = 'applied') AS applied, count(*) FILTER (WHERE outcome <> 'applied') AS dead"
                              " FROM reporting.inbox WHERE event_id = ANY($1::text[])", event_ids)
    return int(row["applied"]), int(row["dead"])


async def _events_on_topic(bootstrap: str, wanted: set[str], timeout: float = 30) -> Counter[str]:
    """How many records of each wanted event id the topic holds (read from the beginning)."""
    consumer = AIOKafkaConsumer(ASSESSMENT.name, bootstrap_servers=bootstrap, group_id=f"test-count-{uuid.uuid4()}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen: Counter[str] = Counter()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not wanted <= set(seen):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    event_id = dict(r.headers).get("ce_id", b"").decode()
                    if event_id in wanted:
                        seen[event_id] += 1
        # a little longer: duplicates of the last ones may still follow
        for records in (await consumer.getmany(timeout_ms=1000)).values():
            for r in records:
                event_id = dict(r.headers).get("ce_id", b"").decode()
                if event_id in wanted:
                    seen[event_id] += 1
    finally:
        await consumer.stop()
    return seen


async def test_sigkill_of_the_partition_leader_loses_nothing_and_applies_nothing_twice(kafka: KafkaStack) -> None:
    total, kill_after = 120, 40
    cluster = kafka.cluster
    leaders = Counter(cluster.leader(ASSESSMENT.name, p) for p in range(ASSESSMENT.partitions))
    victim = leaders.most_common(1)[0][0]
    assert victim in cluster.node_ids
    campaigns: list[str] = []
    killed_at: list[float] = []
    conn = await asyncpg.connect(kafka.admin_url)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            await eventually(lambda: _school_known(http, kafka), timeout=60, what="the city's school unit in assessment")
            queue: asyncio.Queue[int] = asyncio.Queue()
            for n in range(total):
                queue.put_nowait(n)

            async def worker() -> None:
                while not queue.empty():
                    n = queue.get_nowait()
                    campaigns.append(await _open_campaign(http, kafka, f"Runda {n}"))
                    if len(campaigns) == kill_after and not killed_at:
                        # the broker leading most of skolit.assessment's partitions dies while events flow
                        await asyncio.to_thread(cluster.kill, victim)
                        killed_at.append(time.monotonic())

            await asyncio.gather(*(worker() for _ in range(4)))
        assert killed_at and not cluster.is_running(victim)

        event_ids = [r["id"] for r in await conn.fetch(
            "SELECT id::text AS id FROM assessment.outbox WHERE event_type = $1 AND key = ANY($2::bytea[])",
            CampaignOpened.TYPE, [c.encode() for c in campaigns])]
        assert len(event_ids) == total

        async def all_applied() -> bool:
            applied, _ = await _count_applied(conn, event_ids)
            return applied == total

        await eventually(all_applied, timeout=120, interval=0.5, what=f"all {total} CampaignOpened events applied by reporting")
        applied, dead = await _count_applied(conn, event_ids)
        assert (applied, dead) == (total, 0)
        rows = await conn.fetchval("SELECT count(*) FROM reporting.campaign WHERE id = ANY($1::uuid[])", [uuid.UUID(c) for c in campaigns])
        assert rows == total
        # nothing lost on the topic either (read through the two brokers left)
        on_topic = await _events_on_topic(cluster.direct_bootstrap_running(), set(event_ids))
        assert set(on_topic) == set(event_ids)
        doubled = {e: n for e, n in on_topic.items() if n > 1}
        print(f"leader node {victim} SIGKILLed after {kill_after} of {total} campaigns; all {total} applied once; "
              f"records on the topic written more than once (outbox republish, harmless for the inbox): {len(doubled)}")
    finally:
        await conn.close()
