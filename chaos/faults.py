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

PostgreSQL restarts and broker outages are spread over separate slots of the window so one does not
hide another; kills and rebalances fall anywhere, also on top of them. Every fault is logged with
when it was planned, when it began and ended, and what it met (how long the restart took).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from chaos.cluster import Cluster, Stopping
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


def plan(rng: random.Random, start: float, end: float, opts: FaultOptions) -> list[Fault]:
    """Every fault with its time in [start, end] (seconds after the run's start)."""
    window = end - start
    faults: list[Fault] = []
    infra = ["postgres-restart"] * opts.postgres_restarts + ["broker-outage"] * opts.broker_outages
    rng.shuffle(infra)
    if infra:
        slot = window / len(infra)
        modes = iter(["immediate", "fast"] * opts.postgres_restarts)
        for i, kind in enumerate(infra):
            if kind == "broker-outage":
                duration = rng.uniform(opts.outage_min_s, min(opts.outage_max_s, max(opts.outage_min_s, slot * 0.6)))
                mode = None
            else:
                duration = rng.uniform(1.0, 4.0)  # how long PostgreSQL stays down
                mode = next(modes)
            latest = max(0.0, slot - duration - 5.0)
            faults.append(Fault(kind, "tansu via proxy" if kind == "broker-outage" else "postgresql", start + i * slot + rng.uniform(0, latest),
                                duration=duration, mode=mode))
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
        handler = {"sigkill": self._sigkill, "postgres-restart": self._postgres, "broker-outage": self._outage, "rebalance": self._rebalance}[fault.kind]
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


def summary(faults: list[Fault]) -> dict[str, Any]:
    by_kind: dict[str, dict[str, Any]] = {}
    for f in faults:
        k = by_kind.setdefault(f.kind, {"planned": 0, "done": 0, "failed": 0, "targets": {}})
        k["planned"] += 1
        k["done"] += f.error is None and f.ended is not None
        k["failed"] += f.error is not None
        k["targets"][f.target] = k["targets"].get(f.target, 0) + 1
    return by_kind
