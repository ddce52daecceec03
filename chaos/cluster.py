"""The processes of a chaos run: embedded PostgreSQL on a data directory that survives restarts, the
memory-only Tansu broker advertised at a proxy's port (so cutting the proxy cuts every client off),
the proxy in a process of its own, and each service as a process — the primary, and for a while a
second replica in the same consumer group.

Set up as ``tests/support/stack.py`` sets up the integration-test stack; ``stop()`` ends every
process this module started, whatever state the run left them in.

``engine="kafka"`` (``make chaos ARGS="--engine kafka"``): a three-node Apache Kafka cluster (devkit/kafka: three brokers
that are also the three controllers, replication factor 3, ``min.insync.replicas`` 2) in place of Tansu, each broker
behind a proxy process of its own (its client listener advertises the proxy's port; the brokers replicate among
themselves directly), topics created with replication factor 3. The broker faults (``chaos/faults.py``) act on the
cluster's nodes: SIGKILL, a controlled shutdown, SIGSTOP/SIGCONT, a full restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from chaos.proxy import ProxyProcess
from services.notification.settings import DEV_CALLBACK_TOKEN
from devkit.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from devkit.kafka import KafkaCluster
from shared.settings import DEV_JWT_SECRET, SERVICES
from devkit.sinks import Sinks
from tests.support.stack import ROOT, ProxyGroup, ServiceProcess

log = logging.getLogger("chaos")


class Stopping(Exception):
    """The run is being interrupted: stop waiting."""


@dataclass
class Node:
    """One service process, primary or replica, with the lock that keeps the faults on it in order."""

    service: str
    role: str  # "primary" or "replica"
    proc: ServiceProcess
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: False while a fault has it down on purpose (the watchdog leaves it alone then)
    expected_up: bool = True
    starts: int = 0
    restart_attempts: int = 0

    @property
    def label(self) -> str:
        return self.service if self.role == "primary" else f"{self.service} (replica)"

    def alive(self) -> bool:
        return self.proc.proc is not None and self.proc.proc.poll() is None


#: the engines a chaos run can use (``--engine``, or CHAOS_ENGINE)
ENGINES = ("tansu", "kafka")


class Cluster:
    def __init__(self, workdir: Path, *, log_level: str = "INFO", engine: str = "tansu") -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine {engine!r}: one of {', '.join(ENGINES)}")
        self.workdir = workdir
        self.log_level = log_level
        self.engine = engine
        self.kafka: KafkaCluster | None = None
        self.stopping = threading.Event()
        self.sinks: Sinks | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.broker: EmbeddedBroker | None = None
        self.proxy: ProxyProcess | ProxyGroup | None = None
        self.admin_url = ""
        self.bootstrap = ""
        self.primaries: dict[str, Node] = {}
        self.replicas: list[Node] = []

    # -- start ---------------------------------------------------------------------------------

    def start(self) -> None:
        """PostgreSQL, the proxy, Tansu, the databases and topics; then the four services, ready."""
        self.sinks = Sinks(callbacks=True, callback_headers={"Authorization": f"Bearer {DEV_CALLBACK_TOKEN}"}).start()
        self.postgres = EmbeddedPostgres(self.workdir / "pgdata", free_port(), log_path=self.workdir / "postgres.log")
        self.admin_url = self.postgres.start()
        if self.engine == "kafka":
            ports, proxy_ports = [free_port() for _ in range(3)], [free_port() for _ in range(3)]
            self.proxy = ProxyGroup([ProxyProcess(pp, bp, self.workdir / f"proxy-{i}.log")
                                     for i, (pp, bp) in enumerate(zip(proxy_ports, ports, strict=True), 1)])
            self.proxy.start()
            self.kafka = KafkaCluster(self.workdir / "kafka", nodes=3, ports=ports, advertised_ports=proxy_ports)
            self.bootstrap = self.kafka.start()
        else:
            broker_port, proxy_port = free_port(), free_port()
            self.broker = EmbeddedBroker(broker_port, advertised_port=proxy_port, log_path=self.workdir / "tansu.log")
            self.proxy = ProxyProcess(proxy_port, broker_port, self.workdir / "proxy.log")
            self.proxy.start()
            self.bootstrap = self.broker.start().replace(str(broker_port), str(proxy_port))

        from shared.db import ensure_database, provision
        from shared.topics import ensure_topics

        async def prepare() -> None:
            await ensure_database(self.admin_url)
            await provision(self.admin_url)
            await ensure_topics(self.bootstrap, self.replication_factor)

        asyncio.run(prepare())
        for name in SERVICES:
            self.primaries[name] = self.node(name, "primary")
            self.primaries[name].proc.start()
            self.primaries[name].starts += 1
        for node in self.primaries.values():
            self.wait_ready(node, timeout=180)

    @property
    def replication_factor(self) -> int:
        """What topics are created with: the cluster's (3) on Apache Kafka, 1 on Tansu."""
        return self.kafka.replication_factor if self.kafka is not None else 1

    def node(self, service: str, role: str) -> Node:
        port = free_port()
        suffix = "" if role == "primary" else f"-replica-{port}"
        return Node(service, role, ServiceProcess(service, port, self.env_for(service, port), self.workdir / f"{service}{suffix}.log"))

    def env_for(self, name: str, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKOLIT_")}
        env.update(
            DATABASE_URL=self.admin_url,
            KAFKA_BOOTSTRAP_SERVERS=self.bootstrap,
            SKOLIT_JWT_SECRET=DEV_JWT_SECRET,
            SKOLIT_OUTBOX_POLL_SECONDS="0.5",
            SKOLIT_LOG_LEVEL=self.log_level,
            PYTHONPATH=str(ROOT),
        )
        env[f"SKOLIT_{name.upper()}_PORT"] = str(port)
        if self.kafka is not None:
            env["SKOLIT_TOPIC_REPLICATION_FACTOR"] = str(self.replication_factor)
        if name == "notification" and self.sinks is not None:
            env.update(self.sinks.env())
        return env

    # -- service processes (blocking: call them in a thread) -----------------------------------

    def wait_ready(self, node: Node, timeout: float = 180) -> float:
        """Wait until ``/readyz`` answers 200 (database and broker reachable); a process that exits
        while starting (its database was away, say) is started again. Returns the seconds waited."""
        started = time.monotonic()
        deadline = started + timeout
        backoff = 1.0
        while time.monotonic() < deadline:
            if self.stopping.is_set():
                raise Stopping()
            proc = node.proc.proc
            if proc is not None and proc.poll() is not None:
                # as an orchestrator would: start it again, backing off (1, 2, 4, 8 s) so a crash loop does not eat the CPU
                log.warning("%s exited with %s while starting; starting it again in %.0f s", node.label, proc.returncode, backoff)
                node.restart_attempts += 1
                self._sleep(backoff)
                backoff = min(backoff * 2, 8.0)
                node.proc.start()
                node.starts += 1
                continue
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(node.proc.url + "/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.25)
        raise TimeoutError(f"{node.label} not ready after {timeout:.0f} s:\n{node.proc.log_tail()}")

    def _sleep(self, seconds: float) -> None:
        if self.stopping.wait(seconds):
            raise Stopping()

    def start_node(self, node: Node, timeout: float = 180) -> float:
        node.proc.start()
        node.starts += 1
        return self.wait_ready(node, timeout)

    @staticmethod
    def sigkill(node: Node) -> int | None:
        proc = node.proc.proc
        if proc is None or proc.poll() is not None:
            return None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        return proc.pid

    @staticmethod
    def sigterm(node: Node, timeout: float = 60) -> int | None:
        """SIGTERM and wait for a clean exit; SIGKILL after ``timeout``. Returns the exit status."""
        proc = node.proc.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                return proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        return proc.returncode

    # -- stop ----------------------------------------------------------------------------------

    def stop(self) -> list[str]:
        """End every process, in an order that lets the services shut down cleanly; returns problems met."""
        self.stopping.set()
        problems: list[str] = []

        def attempt(what: str, fn: object) -> None:
            try:
                fn()  # type: ignore[operator]
            except BaseException as exc:  # noqa: BLE001 - keep stopping the rest
                problems.append(f"{what}: {exc!r}")

        nodes = [*self.replicas, *self.primaries.values()]
        for node in nodes:  # SIGTERM all first so they shut down in parallel
            proc = node.proc.proc
            if proc is not None and proc.poll() is None:
                attempt(f"SIGTERM {node.label}", lambda p=proc: p.send_signal(signal.SIGTERM))
        deadline = time.monotonic() + 30
        for node in nodes:
            proc = node.proc.proc
            if proc is None:
                continue
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                problems.append(f"{node.label} ignored SIGTERM for 30 s; killed")
                attempt(f"SIGKILL {node.label}", proc.kill)
                attempt(f"wait {node.label}", lambda p=proc: p.wait(timeout=10))
        if self.broker:
            attempt("stop Tansu", self.broker.stop)
        if self.kafka:
            kafka = self.kafka
            for node_id in kafka.node_ids:  # a broker left SIGSTOPped by an interrupted fault would ignore SIGTERM
                attempt(f"SIGCONT Kafka node {node_id}", lambda n=node_id: kafka_signal(kafka, n, signal.SIGCONT))
            attempt("stop Apache Kafka", kafka.stop)
        if self.proxy:
            attempt("stop proxy", self.proxy.stop)
        if self.postgres:
            attempt("stop PostgreSQL", lambda: self.postgres.stop(mode="fast", timeout=30))  # type: ignore[union-attr]
        if self.sinks:
            attempt("stop sinks", self.sinks.stop)
        return problems


def kafka_signal(kafka: KafkaCluster, node_id: int, sig: signal.Signals) -> int | None:
    """Send ``sig`` to one Kafka node's process group (the launcher starts each node in a session of its own)."""
    pid = kafka.pid(node_id)
    if pid is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
    return pid
