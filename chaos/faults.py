"""The fault plan and its injection.

Kinds:

- ``sigkill``: SIGKILL a service's primary process at a random moment, wait a random short pause,
  start it again and wait until it is ready (database and broker reachable);
- ``postgres-restart``: stop PostgreSQL (``fast`` or ``immediate`` — the latter is a crash, the
  server recovers from its WAL) and start it on the same data directory and port;
- ``broker-outage``: cut the proxy in front of Tansu for 5–30 s (every client loses its
  connections and cannot reconnect), then restore it;
- ``rebalance``: a second replica of a service (another process, another HTTP port, the same
  consumer group) joins, stays a while, and leaves with SIGTERM — two rebalances of the group.

On Apache Kafka (``--engine kafka``, a three-node cluster) also, each in a slot of its own like the above:

- ``broker-kill``: SIGKILL the broker that leads the most partitions of the city topics (the busy ones: every
  event the producer sends goes there), down a few seconds, started again (its replicas catch up; its leaderships stay
  with the others until the next preferred-leader election, every 300 s by default — so after a full restart one
  node may lead everything, and the next kill takes all of it);
- ``broker-stop``: a controlled shutdown of one broker (SIGTERM: it hands its leaderships over first), down a while,
  started again;
- ``broker-pause``: one broker cut off from the others — SIGSTOP of its process for longer than the broker session
  timeout (9 s), so the controllers fence it and its partitions elect new leaders, then SIGCONT. (The launcher has
  no per-link network partition: the brokers' replication and controller listeners are direct loopback ports, so a
  stopped process stands in for a broker nobody can reach — it also stops answering its clients.)
- ``cluster-restart``: all three brokers stopped (controlled) and started again on their data.

PostgreSQL restarts, broker outages and the broker faults are spread over separate slots of the window so one does not
hide another; kills and rebalances fall anywhere, also on top of them. Every fault is logged with
when it was planned, when it began and ended, and what it met (how long the restart took).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from chaos.cluster import Cluster, Stopping, kafka_signal
from devkit.kafka import KafkaCluster
from shared.settings import SERVICES

log = logging.getLogger("chaos")


@dataclass
class Fault:
    kind: str
    target: str
    at: float  # planned, seconds after the run's start
    duration: float = 0.0  # outage / pause / stay, as planned
    mode: str | None = None
    began: float | None = None
    ended: float | None = None
    began_utc: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def row(self) -> dict[str, Any]:
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass
class FaultOptions:
    kills: int = 20
    postgres_restarts: int = 3
    broker_outages: int = 3
    rebalances_per_service: int = 1
    outage_min_s: float = 5.0
    outage_max_s: float = 30.0
    #: Apache Kafka only (0 on Tansu)
    broker_kills: int = 0
    broker_stops: int = 0
    broker_pauses: int = 0
    cluster_restarts: int = 0


#: how long each broker fault keeps its broker(s) down, seconds (uniform in the range)
BROKER_DOWN_S = {"broker-kill": (3.0, 10.0), "broker-stop": (5.0, 15.0), "broker-pause": (12.0, 25.0), "cluster-restart": (2.0, 6.0)}
BROKER_FAULTS = tuple(BROKER_DOWN_S)


def plan(rng: random.Random, start: float, end: float, opts: FaultOptions) -> list[Fault]:
    """Every fault with its time in [start, end] (seconds after the run's start)."""
    window = end - start
    faults: list[Fault] = []
    infra = (["postgres-restart"] * opts.postgres_restarts + ["broker-outage"] * opts.broker_outages + ["broker-kill"] * opts.broker_kills
             + ["broker-stop"] * opts.broker_stops + ["broker-pause"] * opts.broker_pauses + ["cluster-restart"] * opts.cluster_restarts)
    rng.shuffle(infra)
    if infra:
        slot = window / len(infra)
        modes = iter(["immediate", "fast"] * opts.postgres_restarts)
        for i, kind in enumerate(infra):
            if kind == "broker-outage":
                duration = rng.uniform(opts.outage_min_s, min(opts.outage_max_s, max(opts.outage_min_s, slot * 0.6)))
                mode = None
            elif kind in BROKER_DOWN_S:
                duration = rng.uniform(*BROKER_DOWN_S[kind])
                mode = None
            else:
                duration = rng.uniform(1.0, 4.0)  # how long PostgreSQL stays down
                mode = next(modes)
            latest = max(0.0, slot - duration - 5.0)
            target = {"broker-outage": "broker via proxy", "postgres-restart": "postgresql", "cluster-restart": "all three brokers",
                      "broker-kill": "busiest leader", "broker-pause": "a broker", "broker-stop": "a broker"}[kind]
            faults.append(Fault(kind, target, start + i * slot + rng.uniform(0, latest), duration=duration, mode=mode))
    targets: list[str] = []
    while len(targets) < opts.kills:  # every service in turn, in a shuffled order each round
        round_ = list(SERVICES)
        rng.shuffle(round_)
        targets += round_
    for target in targets[: opts.kills]:
        faults.append(Fault("sigkill", target, rng.uniform(start, end), duration=rng.uniform(0.5, 5.0)))
    for service in SERVICES:
        for _ in range(opts.rebalances_per_service):
            stay = rng.uniform(min(20.0, window / 4), min(60.0, window / 2))
            faults.append(Fault("rebalance", service, rng.uniform(start, max(start, end - stay)), duration=stay))
    return sorted(faults, key=lambda f: f.at)


class Injector:
    def __init__(self, cluster: Cluster, faults: list[Fault], t0: float, rng: random.Random) -> None:
        self.cluster = cluster
        self.faults = faults
        self.t0 = t0
        self.rng = rng
        self.incidents: list[dict[str, Any]] = []  # what nobody injected: a process that died on its own
        self._watch: asyncio.Task[None] | None = None
        self._brokers = asyncio.Lock()  # one broker fault at a time: two brokers down would be below min.insync.replicas

    def now(self) -> float:
        return time.monotonic() - self.t0

    async def run(self) -> None:
        """Inject every fault at its time (each in its own task, so they may overlap); returns when all are over."""
        self._watch = asyncio.create_task(self._watchdog())
        try:
            await asyncio.gather(*(self._at(f) for f in self.faults))
        finally:
            self._watch.cancel()

    async def _at(self, fault: Fault) -> None:
        await asyncio.sleep(max(0.0, fault.at - self.now()))
        handler = {"sigkill": self._sigkill, "postgres-restart": self._postgres, "broker-outage": self._outage, "rebalance": self._rebalance,
                   "broker-kill": self._broker_kill, "broker-stop": self._broker_stop, "broker-pause": self._broker_pause,
                   "cluster-restart": self._cluster_restart}[fault.kind]
        try:
            await handler(fault)
        except (Stopping, asyncio.CancelledError):
            raise
        except Exception as exc:  # noqa: BLE001 - a fault that could not be completed is reported, the run goes on
            fault.error = f"{type(exc).__name__}: {exc}"[:2000]
            log.error("fault %s on %s failed: %s", fault.kind, fault.target, fault.error)
        finally:
            if fault.began is not None and fault.ended is None:
                fault.ended = self.now()

    def _begin(self, fault: Fault) -> None:
        fault.began = self.now()
        fault.began_utc = datetime.now(UTC).isoformat(timespec="milliseconds")

    async def _sigkill(self, fault: Fault) -> None:
        node = self.cluster.primaries[fault.target]
        async with node.lock:
            node.expected_up = False
            self._begin(fault)
            pid = await asyncio.to_thread(self.cluster.sigkill, node)
            log.info("[%7.1fs] SIGKILL %s (pid %s); restart in %.1f s", self.now(), node.label, pid, fault.duration)
            await asyncio.sleep(fault.duration)
            fault.detail["pid"] = pid
            attempts = node.restart_attempts
            fault.detail["readyAfterS"] = round(await asyncio.to_thread(self.cluster.start_node, node), 2)
            fault.detail["restartsWhileStarting"] = node.restart_attempts - attempts
            node.expected_up = True
            fault.ended = self.now()
            log.info("[%7.1fs] %s ready again after %.1f s", self.now(), node.label, fault.detail["readyAfterS"])

    async def _postgres(self, fault: Fault) -> None:
        pg = self.cluster.postgres
        assert pg is not None and fault.mode is not None
        self._begin(fault)
        log.info("[%7.1fs] PostgreSQL stop -m %s, down for %.1f s", self.now(), fault.mode, fault.duration)
        started = time.monotonic()
        await asyncio.to_thread(pg.stop, fault.mode, 60.0)
        fault.detail["stopS"] = round(time.monotonic() - started, 2)
        await asyncio.sleep(fault.duration)
        started = time.monotonic()
        await asyncio.to_thread(pg.start, 120.0)
        fault.detail["startS"] = round(time.monotonic() - started, 2)
        fault.ended = self.now()
        log.info("[%7.1fs] PostgreSQL accepting connections again (start took %.1f s)", self.now(), fault.detail["startS"])

    async def _outage(self, fault: Fault) -> None:
        proxy = self.cluster.proxy
        assert proxy is not None
        self._begin(fault)
        await asyncio.to_thread(proxy.cut)
        log.info("[%7.1fs] broker cut off for %.1f s", self.now(), fault.duration)
        try:
            await asyncio.sleep(fault.duration)
        finally:
            await asyncio.to_thread(proxy.restore)
        fault.ended = self.now()
        log.info("[%7.1fs] broker reachable again", self.now())

    # -- Apache Kafka broker faults -------------------------------------------------------------------------------------

    def _kafka(self) -> KafkaCluster:
        kafka = self.cluster.kafka
        if kafka is None:
            raise RuntimeError("broker faults need the Apache Kafka engine (--engine kafka)")
        return kafka

    async def _leaders(self) -> dict[int, int]:
        """Partitions of the city topics each broker leads now."""
        return await city_leaders(self._kafka().direct_bootstrap_running())

    async def _restart_node(self, fault: Fault, node_id: int) -> None:
        started = time.monotonic()
        await asyncio.to_thread(self._kafka().start_node, node_id, 180.0)
        fault.detail["readyAfterS"] = round(time.monotonic() - started, 2)
        with contextlib.suppress(Exception):
            fault.detail["leadersAfter"] = await self._leaders()

    async def _broker_kill(self, fault: Fault) -> None:
        kafka = self._kafka()
        async with self._brokers:
            leaders = await self._leaders()
            victim = max(sorted(leaders), key=lambda n: leaders[n])
            fault.target = f"node {victim} (led {leaders[victim]} of {sum(leaders.values())} city partitions)"
            fault.detail["leadersBefore"] = leaders
            self._begin(fault)
            fault.detail["pid"] = kafka.pid(victim)
            await asyncio.to_thread(kafka.kill, victim)
            log.info("[%7.1fs] SIGKILL Kafka node %d (leader of %d city partitions); start again in %.1f s", self.now(), victim, leaders[victim], fault.duration)
            await asyncio.sleep(fault.duration)
            with contextlib.suppress(Exception):
                fault.detail["leadersWhileDown"] = await self._leaders()
            await self._restart_node(fault, victim)
            fault.ended = self.now()
            log.info("[%7.1fs] Kafka node %d back after %.1f s", self.now(), victim, fault.detail["readyAfterS"])

    async def _broker_stop(self, fault: Fault) -> None:
        kafka = self._kafka()
        async with self._brokers:
            node_id = self.rng.choice(kafka.node_ids)
            fault.target = f"node {node_id}"
            self._begin(fault)
            started = time.monotonic()
            await asyncio.to_thread(kafka.stop_node, node_id, 60.0)
            fault.detail["stopS"] = round(time.monotonic() - started, 2)
            log.info("[%7.1fs] Kafka node %d stopped (controlled, %.1f s); start again in %.1f s", self.now(), node_id, fault.detail["stopS"], fault.duration)
            await asyncio.sleep(fault.duration)
            await self._restart_node(fault, node_id)
            fault.ended = self.now()
            log.info("[%7.1fs] Kafka node %d back after %.1f s", self.now(), node_id, fault.detail["readyAfterS"])

    async def _broker_pause(self, fault: Fault) -> None:
        kafka = self._kafka()
        async with self._brokers:
            node_id = self.rng.choice(kafka.node_ids)
            fault.target = f"node {node_id}"
            self._begin(fault)
            fault.detail["pid"] = kafka_signal(kafka, node_id, signal.SIGSTOP)
            log.info("[%7.1fs] Kafka node %d SIGSTOPped (cut off from the others) for %.1f s", self.now(), node_id, fault.duration)
            try:
                await asyncio.sleep(fault.duration)
                with contextlib.suppress(Exception):
                    fault.detail["leadersWhileCutOff"] = await asyncio.wait_for(self._leaders(), 20)
            finally:
                kafka_signal(kafka, node_id, signal.SIGCONT)
            started = time.monotonic()
            await asyncio.to_thread(kafka.wait_ready, 180.0)
            fault.detail["readyAfterS"] = round(time.monotonic() - started, 2)
            fault.ended = self.now()
            log.info("[%7.1fs] Kafka node %d SIGCONTed; cluster ready after %.1f s", self.now(), node_id, fault.detail["readyAfterS"])

    async def _cluster_restart(self, fault: Fault) -> None:
        kafka = self._kafka()
        async with self._brokers:
            self._begin(fault)
            started = time.monotonic()
            await asyncio.to_thread(kafka.stop, 60.0)
            fault.detail["stopS"] = round(time.monotonic() - started, 2)
            log.info("[%7.1fs] all three Kafka nodes stopped (%.1f s); start again in %.1f s", self.now(), fault.detail["stopS"], fault.duration)
            await asyncio.sleep(fault.duration)
            started = time.monotonic()
            await asyncio.to_thread(kafka.start, 240.0)
            fault.detail["startS"] = round(time.monotonic() - started, 2)
            with contextlib.suppress(Exception):
                fault.detail["leadersAfter"] = await self._leaders()
            fault.ended = self.now()
            log.info("[%7.1fs] the Kafka cluster is back (start took %.1f s)", self.now(), fault.detail["startS"])

    async def _rebalance(self, fault: Fault) -> None:
        node = self.cluster.node(fault.target, "replica")
        self.cluster.replicas.append(node)
        self._begin(fault)
        log.info("[%7.1fs] a second %s replica joins the group for %.0f s", self.now(), fault.target, fault.duration)
        fault.detail["port"] = node.proc.port
        async with node.lock:
            fault.detail["readyAfterS"] = round(await asyncio.to_thread(self.cluster.start_node, node), 2)
        await asyncio.sleep(fault.duration)
        async with node.lock:
            node.expected_up = False
            started = time.monotonic()
            code = await asyncio.to_thread(self.cluster.sigterm, node, 60.0)
        fault.detail["restartsWhileStarting"] = node.restart_attempts
        fault.detail["exitStatus"] = code
        fault.detail["stopS"] = round(time.monotonic() - started, 2)
        fault.ended = self.now()
        log.info("[%7.1fs] the %s replica left (exit status %s after %.1f s)", self.now(), fault.target, code, fault.detail["stopS"])

    async def _watchdog(self) -> None:
        """A process that exits although no fault stopped it is an incident: logged, and the primary started again."""
        while True:
            await asyncio.sleep(1.0)
            for node in [*self.cluster.primaries.values(), *self.cluster.replicas]:
                if not node.expected_up or node.lock.locked() or node.proc.proc is None or node.alive():
                    continue
                code = node.proc.proc.returncode
                incident = {"at": round(self.now(), 1), "process": node.label, "exitStatus": code, "logTail": node.proc.log_tail(30)}
                self.incidents.append(incident)
                log.error("[%7.1fs] %s exited on its own with %s", self.now(), node.label, code)
                if node.role == "primary":
                    async with node.lock:
                        incident["readyAfterS"] = round(await asyncio.to_thread(self.cluster.start_node, node), 2)
                else:
                    node.expected_up = False


async def city_leaders(bootstrap: str) -> dict[int, int]:
    """How many partitions of the city topics each registered broker leads (-1: partitions without a leader)."""
    from aiokafka.client import AIOKafkaClient
    from aiokafka.structs import TopicPartition

    from chaos.workload import CITY_TOPICS

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await client.bootstrap()
    try:
        metadata = await client.fetch_all_metadata()
        counts = {b.nodeId: 0 for b in metadata.brokers()}
        for topic in CITY_TOPICS:
            for partition in sorted(metadata.partitions_for_topic(topic) or ()):
                leader = metadata.leader_for_partition(TopicPartition(topic, partition))
                key = -1 if leader is None or leader < 0 else int(leader)
                counts[key] = counts.get(key, 0) + 1
        return counts
    finally:
        await client.close()


def summary(faults: list[Fault]) -> dict[str, Any]:
    by_kind: dict[str, dict[str, Any]] = {}
    for f in faults:
        k = by_kind.setdefault(f.kind, {"planned": 0, "done": 0, "failed": 0, "targets": {}})
        k["planned"] += 1
        k["done"] += f.error is None and f.ended is not None
        k["failed"] += f.error is not None
        k["targets"][f.target] = k["targets"].get(f.target, 0) + 1
    return by_kind
