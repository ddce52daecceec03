"""A service's moving parts: the database pool, the Kafka broker with its batch subscriber, and the
outbox relay; started in the FastAPI lifespan and stopped in the order that loses nothing.

Start: pool → migrations → relay → scheduled jobs → workers → broker (connected in the background, so a service whose
broker is away still serves HTTP and keeps writing events to its outbox). Stop (SIGTERM): the consumer first,
which lets the batch in flight finish and commit its offsets; then the publisher, the relay, the pool.

Two roles: ``serve`` (the API's process: all of the above) and ``work`` (`python -m services.<name> work`: the pool,
the relay that publishes what the workers write, and the workers' loops — no consumer, no scheduled jobs, no API).
A service's `serve` processes run its workers' loops themselves unless SKOLIT_<SERVICE>_WORKERS=elsewhere says that
`work` processes do (decision 0029); each role has its own pool and event loop.

FastStream's broker publishes (the relay's producer: acks=all, idempotent where the broker supports it, as
shared/kafka_producer.py finds out before the first connect); topics are read by Skolit's own consume loop
(shared/kafka_consumer.py), so that no library parser stands between a record and the rule that it ends
applied or dead-lettered.
"""

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker

from shared import db, outbox
from shared.consumer import BatchProcessor, Handlers
from shared.kafka_consumer import BatchConsumer
from shared.kafka_producer import producer_settings, supports_idempotence
from shared.jobs import Scheduler
from shared.migrate import migrate
from shared.service import ServiceSpec
from shared.settings import Settings
from shared.topics import MAX_MESSAGE_BYTES, ensure_topics

log = logging.getLogger(__name__)


SERVE, WORK = "serve", "work"


class Runtime:
    def __init__(self, spec: ServiceSpec, settings: Settings, role: str = SERVE) -> None:
        if role not in (SERVE, WORK):
            raise ValueError(f"unknown role {role!r}")
        self.spec = spec
        self.settings = settings
        self.role = role
        # a work process consumes nothing: the serve processes apply the events (and their group's partitions stay theirs)
        self.handlers = spec.all_handlers() if role == SERVE else Handlers({})
        self.pool: asyncpg.Pool | None = None
        #: whether the relay's producer is idempotent: None until the broker was asked (shared/kafka_producer.py)
        self.idempotent: bool | None = None
        self.broker = self._new_broker(idempotent=False)
        self.processor: BatchProcessor | None = None
        self.consumer: BatchConsumer | None = None
        self.relay: outbox.OutboxRelay | None = None
        self.scheduler: Scheduler | None = None
        self.workers: dict[str, Any] = {}
        self.broker_connected = asyncio.Event()
        self._connect_task: asyncio.Task[None] | None = None

    def _new_broker(self, *, idempotent: bool) -> KafkaBroker:
        """The relay's producer: acks=all, and idempotent when the broker supports it (asked before each first connect)."""
        return KafkaBroker(
            # a list: FastStream hands a string to aiokafka as one host, so "a:9092,b:9092" would not bootstrap
            [server.strip() for server in self.settings.kafka_bootstrap_servers.split(",") if server.strip()],
            **producer_settings(idempotent),  # correctness still comes from outbox + inbox
            linger_ms=5,
            max_request_size=MAX_MESSAGE_BYTES,  # the size policy (shared/topics.py)
            graceful_timeout=30.0,
            client_id=f"skolit-{self.spec.name}",
            security=self.settings.kafka_security.faststream(),  # TLS / SASL (shared/settings.py KafkaSecurity)
            logger=logging.getLogger(f"skolit.{self.spec.name}.broker"),
            log_level=logging.DEBUG,  # one line per consumed batch is too much at INFO
        )

    async def _publish(self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> Any:
        if not self.broker_connected.is_set():
            raise ConnectionError("broker not connected yet")
        return await self.broker.publish(value or b"", topic, key=key, headers={k: v.decode() for k, v in headers}, no_confirm=True)

    async def start(self) -> None:
        s = self.settings
        self.pool = await db.create_pool(s.database_url, s.schema)
        async with self.pool.acquire() as conn:
            await migrate(conn, s.schema, self.spec.migrations())
            if self.spec.on_start is not None:
                await self.spec.on_start(conn)
        self.processor = BatchProcessor(self.pool, self.handlers, service=self.spec.name, group=s.consumer_group)
        self.relay = outbox.OutboxRelay(self.pool, self._publish, service=self.spec.name, batch_size=s.outbox_batch_size, poll_seconds=s.outbox_poll_seconds)
        await self.relay.start()
        jobs = self.spec.all_jobs()
        if jobs and self.role == SERVE:
            self.scheduler = Scheduler(self.pool, self.spec.name, jobs)
            self.scheduler.start()
        loops = self.role == WORK or self.settings.workers_here
        for name, make in self.spec.workers.items():
            self.workers[name] = make(self.pool)
            await (self.workers[name].start() if loops else self.workers[name].open())
        self._connect_task = asyncio.create_task(self._connect_broker(), name=f"{self.spec.name}-broker-connect")

    async def _connect_broker(self) -> None:
        delay = 0.5
        while True:
            try:
                security = self.settings.kafka_security
                await ensure_topics(self.settings.kafka_bootstrap_servers, self.settings.topic_replication_factor, security=security)
                if self.idempotent is None:
                    idempotent = await supports_idempotence(self.settings.kafka_bootstrap_servers, security=security)
                    if idempotent:
                        self.broker = self._new_broker(idempotent=True)  # never started yet: nothing to stop
                    self.idempotent = idempotent
                    log.info("%s: producer acks=all, idempotence %s", self.spec.name, "on" if idempotent else "off (the broker does not support it)")
                await self.broker.start()
                if self.handlers.topics and self.consumer is None:
                    assert self.processor is not None
                    consumer = BatchConsumer(
                        self.processor,
                        bootstrap_servers=self.settings.kafka_bootstrap_servers,
                        topics=self.handlers.topics,
                        group=self.settings.consumer_group,
                        client_id=f"skolit-{self.spec.name}",
                        max_records=self.settings.consumer_max_records,
                        security=security,
                    )
                    await consumer.start()
                    self.consumer = consumer
                self.broker_connected.set()
                log.info("%s connected to Kafka at %s (%s)", self.spec.name, self.settings.kafka_bootstrap_servers, security.describe())
                return
            except Exception as exc:
                log.warning("Kafka at %s not reachable (%s); retrying in %.0fs", self.settings.kafka_bootstrap_servers, exc, delay)
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def stop(self) -> None:
        if self._connect_task and not self._connect_task.done():
            self._connect_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connect_task
        if self.scheduler:
            await self.scheduler.stop()
        for worker in self.workers.values():
            await worker.stop()
        if self.consumer is not None:
            await self.consumer.stop()  # waits for the batch in flight, which commits before it returns
        await self.broker.stop()
        self.broker_connected.clear()
        if self.relay:
            await self.relay.stop()
        if self.pool:
            await self.pool.close()

    async def readiness(self) -> dict[str, str]:
        """``ok`` per part, ``unreachable: ...`` (not ready), or ``degraded: ...`` (ready, but an operator is needed:
        a restart would fix nothing, so readiness must not turn it into a crash loop)."""
        checks: dict[str, str] = {}
        try:
            assert self.pool is not None
            async with self.pool.acquire(timeout=2) as conn:
                await conn.fetchval("SELECT 1")
                h = await outbox.health(conn, self.relay.stalled_seconds if self.relay else 0.0)
            outbox.set_gauges(self.spec.name, h)
            checks["database"] = "ok"
            checks["outbox"] = h.verdict(self.settings.outbox_stall_seconds)
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            ok = self.broker_connected.is_set() and await self.broker.ping(timeout=2.0)
            checks["broker"] = "ok" if ok else "unreachable"
        except Exception as exc:
            checks["broker"] = f"unreachable: {type(exc).__name__}"
        if self.handlers.topics and checks["broker"] == "ok":
            checks["consumer"] = "ok" if self.consumer is not None and self.consumer.running else "not running"
        return checks
