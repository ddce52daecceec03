"""Skolit on Apache Kafka secured as production is (docs/decisions/0019-kafka-security.md): SASL_SSL with SCRAM-SHA-512 on
the client listener, the StandardAuthorizer on, and the ACLs generated from the code (devkit/kafka/acls.py, the ones
deploy/kafka/acls.txt and the Strimzi KafkaUsers carry) — nothing else.

Each service runs as a real process logging in as its own user only: the city publishes with the city's login, assessment
reads the city's topics and writes its own, reporting reads assessment's. A client with one service's credentials is
refused another service's topic, another service's consumer group and a topic it does not write; a client without
credentials does not get in at all.

One Apache Kafka node (a three-node cluster shows nothing more about authorization and takes longer to start here).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import GroupAuthorizationFailedError, KafkaConnectionError, KafkaError, TopicAuthorizationFailedError

from devkit.embedded import EmbeddedPostgres, free_port
from devkit.kafka import KafkaCluster
from devkit.kafka.acls import CITY, all_acls, principal, service_access
from devkit.process import ROOT, ServiceProcess
from shared.kafka_producer import supports_idempotence
from shared.settings import DEV_JWT_SECRET, SERVICES, KafkaSecurity
from shared.topics import ASSESSMENT, CATALOG, NOTIFICATION, REPORTING, ensure_topics
from tests.support.city import District
from tests.support.kafka import eventually, wire
from tests.support.stack import auth, started_in_own_folder

pytestmark = pytest.mark.integration

RUNNING = ("assessment", "reporting")


class SecureStack:
    """PostgreSQL, one secured Apache Kafka node and two services, each logging in as itself."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.cluster = KafkaCluster(workdir / "kafka", nodes=1, security="sasl_ssl",
                                    users=[principal(s) for s in SERVICES] + [CITY], acls=all_acls())
        self.postgres = EmbeddedPostgres(workdir / "pgdata", free_port())
        self.services: dict[str, ServiceProcess] = {}
        self.bootstrap = ""
        self.district = District()

    def start(self) -> None:
        self.bootstrap = self.cluster.start()
        admin_url = self.postgres.start()
        from shared.db import ensure_database, provision

        async def prepare() -> None:
            await ensure_database(admin_url)
            await provision(admin_url)
            # topics are the operator's (Strimzi's KafkaTopics): here the super user creates them
            await ensure_topics(self.bootstrap, 1, security=self.cluster.security_for("admin"))
            # the city's systems publish with the city's own login
            await produce(self.bootstrap, self.cluster.security_for(CITY), [wire(e) for e in self.district.events(n_schools=2)])

        asyncio.run(prepare())
        for name in RUNNING:
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith(("SKOLIT_", "KAFKA_"))}
            env.update(DATABASE_URL=admin_url, KAFKA_BOOTSTRAP_SERVERS=self.bootstrap, SKOLIT_JWT_SECRET=DEV_JWT_SECRET,
                       SKOLIT_OUTBOX_POLL_SECONDS="0.2", SKOLIT_LOG_LEVEL="INFO", PYTHONPATH=str(ROOT),
                       **self.cluster.client_env(principal(name)), **{f"SKOLIT_{name.upper()}_PORT": str(port)})
            self.services[name] = ServiceProcess(name, port, env, self.workdir / f"{name}.log")
            self.services[name].start()
        for svc in self.services.values():
            svc.wait_ready(timeout=120)

    def stop(self) -> None:
        for svc in self.services.values():
            svc.stop(grace=20)
        self.cluster.stop()
        self.postgres.stop()


async def produce(bootstrap: str, security: KafkaSecurity, messages: list) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=10_000, **security.client_kwargs())
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(m.topic, m.value, key=m.key, headers=m.headers) for m in messages])
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
def secure() -> Iterator[SecureStack]:
    with started_in_own_folder(SecureStack, "skolit-test-kafka-sec-", "secured Apache Kafka test") as started:
        yield started


async def test_each_service_works_with_only_its_own_login(secure: SecureStack) -> None:
    assessment, reporting = secure.services["assessment"], secure.services["reporting"]
    async with httpx.AsyncClient(timeout=10) as http:
        school = secure.district.schools[0]

        async def school_known() -> bool:  # assessment read the city's topics
            return (await http.get(f"{assessment.url}/school-units/{school}", headers=auth("city_admin"))).status_code == 200

        await eventually(school_known, timeout=60, what="the city's school unit in assessment")
        year = date.today().year
        response = await http.post(f"{assessment.url}/campaigns", headers=auth("district_admin", districts=(str(secure.district.id),)),
                                   json={"name": "Självskattning med ACL", "year": year, "deadline": f"{year + 1}-01-31",
                                         "schoolUnitIds": [str(school)]})
        assert response.status_code == 201, response.text
        campaign = str(response.json()["id"])

        async def in_reporting() -> bool:  # assessment wrote its topic, reporting read it in its own group
            r = await http.get(f"{reporting.url}/campaigns", headers=auth("city_admin"))
            return r.status_code == 200 and any(c["id"] == campaign for c in r.json()["items"])

        await eventually(in_reporting, timeout=60, what="the campaign in reporting")
    for name, svc in secure.services.items():
        tail = svc.log_tail(400)
        assert f"SASL_SSL SCRAM-SHA-512 as {principal(name)}" in tail, tail[-2000:]
        # KIP-679: a principal that may write a topic gets a producer id without any cluster permission
        assert "producer acks=all, idempotence on" in tail, tail[-2000:]
    assert await supports_idempotence(secure.bootstrap, security=secure.cluster.security_for(principal("reporting")))


async def test_a_service_login_is_refused_outside_its_acls(secure: SecureStack) -> None:
    mine = secure.cluster.security_for(principal("assessment"))
    access = service_access("assessment")
    assert CATALOG.name not in access.reads and REPORTING.name not in access.writes and NOTIFICATION.name in access.reads

    # another service's topic: not to be read, not even without a group
    consumer = AIOKafkaConsumer(bootstrap_servers=secure.bootstrap, group_id=None, auto_offset_reset="earliest", **mine.client_kwargs())
    await consumer.start()
    try:
        consumer.assign([TopicPartition(CATALOG.name, 0)])
        with pytest.raises(TopicAuthorizationFailedError):
            for _ in range(20):
                await consumer.getmany(timeout_ms=500)
    finally:
        await consumer.stop()

    # another service's consumer group, on a topic assessment may read
    consumer = AIOKafkaConsumer(NOTIFICATION.name, bootstrap_servers=secure.bootstrap, group_id=principal("reporting"), **mine.client_kwargs())
    with pytest.raises(GroupAuthorizationFailedError):
        await consumer.start()
        for _ in range(20):
            await consumer.getmany(timeout_ms=500)
    await consumer.stop()

    # a topic it does not write: reporting's (and the city's)
    producer = AIOKafkaProducer(bootstrap_servers=secure.bootstrap, acks="all", request_timeout_ms=10_000, **mine.client_kwargs())
    await producer.start()
    try:
        for topic in (REPORTING.name, "skolit.city.person"):
            with pytest.raises(TopicAuthorizationFailedError):
                await producer.send_and_wait(topic, b"{}", key=str(uuid.uuid4()).encode())
        await producer.send_and_wait(NOTIFICATION.dlq, b"{}")  # ... but the dead letters of what it reads are its to write
    finally:
        await producer.stop()


@pytest.mark.parametrize("how", ["no credentials (TLS only)", "plaintext", "a wrong password"])
async def test_a_client_without_valid_credentials_cannot_connect(secure: SecureStack, how: str) -> None:
    cluster = secure.cluster
    security = {
        "no credentials (TLS only)": cluster.security_for(None),
        "plaintext": KafkaSecurity(),
        "a wrong password": KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", principal("reporting"), "not-the-password", cafile=str(cluster.ca_file)),
    }[how]
    consumer = AIOKafkaConsumer(ASSESSMENT.name, bootstrap_servers=secure.bootstrap, group_id=principal("reporting"), request_timeout_ms=5000,
                                **security.client_kwargs())
    with pytest.raises((KafkaConnectionError, KafkaError)):
        await asyncio.wait_for(consumer.start(), 30)
    await consumer.stop()
