"""Benchmark: city-event ingest — a burst of city events (school units, persons, duties, guardian relations
in realistic proportions, bench/citygen.py) published at once, then applied by all four services into their
own databases; events per second until the LAST service has applied the LAST event. Two baselines from the
same run, on the same broker and PostgreSQL: the broker's ceiling (bench/broker_limit.py: raw aiokafka
produce and consume of the same messages) and a naive per-message consumer (bench/naive_consumer.py).

    .venv/bin/python -m bench.city_ingest [--events 200000] [--naive-events 20000] [--broker-runs 3] [--runs 1]    (or: make bench)

Order, so that each measurement has the machine to itself: embedded PostgreSQL and Tansu start; the broker's
ceiling is measured (no services running yet); the naive app runs alone on a subset published to topics of
its own (bench.naive.<city topic>, 6 partitions each) into a scratch schema; then the four services start,
each as its own process, and the burst is published to the real city topics. Completion is read from
PostgreSQL, not from Kafka offsets: each service's ``inbox`` rows for the city topics, polled every 0.25 s,
until every service holds every event it handles (organisations: all four; duties: assessment, catalog,
notification; persons and guardian relations: notification). Before each timed burst one warm-up event is
published and awaited, so consumer-group joins are not timed.

Writes its section of docs/benchmarks.{md,json} (bench/summary.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from importlib import import_module
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench import summary
from bench.broker_limit import measure as measure_broker, new_producer, send_all, wait_for_leaders
from bench.citygen import City, city_events, size_facts, wire, wire_all
from bench.naive_consumer import prepare_schema
from bench.stack import ENGINE_LABEL, ROOT, Stack, engine_argument, load_average, profile_top, replication_factor, terminate_on_sigterm, wait_quiet
from shared.events.city import OrganisationUpserted
from shared.settings import SERVICES
from shared.topics import BY_NAME

POLL_S = 0.25
TIMEOUT_S = 1800.0
TARGET_BROKER_SHARE = 0.20  # ingest ≥ 20% of the broker's produce rate
TARGET_NAIVE_RATIO = 10.0  # ingest ≥ 10× the naive per-message consumer
NAIVE_SCHEMA = "bench_naive"
NAIVE_PREFIX = "bench.naive."


def handled_types() -> dict[str, set[str]]:
    """The event types each service applies (its ServiceSpec's handlers)."""
    return {name: set(import_module(f"services.{name}.app").SPEC.all_handlers().by_type) for name in SERVICES}


def expected_counts(city: City, handled: dict[str, set[str]]) -> dict[str, int]:
    return {name: sum(1 for e in city.events if e.TYPE in types) for name, types in handled.items()}


async def _count(conn: asyncpg.Connection, sql: str) -> int:
    return int(await conn.fetchval(sql))


def _inbox_sql(schema: str, topic_like: str) -> str:
    return f"SELECT count(*) FROM \"{schema}\".inbox WHERE topic LIKE '{topic_like}'"


async def wait_counts(conn: asyncpg.Connection, targets: dict[str, tuple[str, int]], started: float, what: str) -> dict[str, float]:
    """Polls each ``name: (sql, count)`` until it reaches its count; the seconds from ``started`` at which each did."""
    done: dict[str, float] = {}
    deadline = time.monotonic() + TIMEOUT_S
    last: dict[str, int] = {}
    while len(done) < len(targets):
        for name, (sql, want) in targets.items():
            if name in done:
                continue
            last[name] = await _count(conn, sql)
            if last[name] >= want:
                done[name] = time.perf_counter() - started
        if len(done) < len(targets):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: after {TIMEOUT_S:.0f} s only {last} of {targets}")
            await asyncio.sleep(POLL_S)
    return done


# --- the naive baseline --------------------------------------------------------------------------

async def _create_topics(bootstrap: str, topics: dict[str, int]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        await admin.create_topics([NewTopic(n, p, replication_factor()) for n, p in topics.items() if n not in existing])
    finally:
        await admin.close()
    await wait_for_leaders(bootstrap, topics)


def run_naive(stack: Stack, city: City) -> dict[str, Any]:
    messages = wire_all(city.events)
    topics = {NAIVE_PREFIX + t: BY_NAME[t].partitions for t in sorted({m.topic for m in messages})}
    asyncio.run(prepare_schema(stack.admin_url, NAIVE_SCHEMA))
    asyncio.run(_create_topics(stack.bootstrap, topics))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKOLIT_")}
    env.update(DATABASE_URL=stack.admin_url, KAFKA_BOOTSTRAP_SERVERS=stack.bootstrap, BENCH_NAIVE_TOPICS=",".join(topics),
               BENCH_NAIVE_SCHEMA=NAIVE_SCHEMA, PYTHONPATH=str(ROOT))
    log = open(stack.workdir / "naive.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "bench.naive_consumer"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    stack.sampler.track("naive", proc.pid)
    try:
        return asyncio.run(_naive(stack, messages, proc))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


async def _naive(stack: Stack, messages: list[Any], proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    conn = await asyncpg.connect(stack.admin_url)
    producer = new_producer(stack.bootstrap)
    await producer.start()
    try:
        warm = wire(OrganisationUpserted(id=uuid.uuid4(), displayName="Uppvärmning", organisationType="Verksamhetsområde"))
        await (await producer.send(NAIVE_PREFIX + warm.topic, warm.value, key=warm.key, headers=warm.headers))
        started = time.perf_counter()
        await wait_counts(conn, {"naive": (_inbox_sql(NAIVE_SCHEMA, "%"), 1)}, started, "naive warm-up")
        if proc.poll() is not None:
            raise RuntimeError(f"the naive consumer exited with {proc.returncode}")
        load = load_average()
        started = time.perf_counter()
        acked = await send_all(producer, messages, lambda t: NAIVE_PREFIX + t)
        done = await wait_counts(conn, {"naive": (_inbox_sql(NAIVE_SCHEMA, "%"), 1 + len(messages))}, started, "naive")
        seconds = done["naive"]
        rows = {t: await _count(conn, f"SELECT count(*) FROM {NAIVE_SCHEMA}.{t}") for t in ("organisation", "person", "duty", "guardianship")}
    finally:
        await producer.stop()
        await conn.close()
    out = {"events": len(messages), "loadAverageAtStart": load, "producerAckedSeconds": round(acked, 2), "seconds": round(seconds, 2),
           "eventsPerSecond": round(len(messages) / seconds, 1), "rows": rows}
    print(f"  naive: {len(messages)} events in {seconds:.1f} s = {out['eventsPerSecond']:.0f}/s (acked after {acked:.1f} s), load {load}", flush=True)
    return out


# --- the ingest into the four services -----------------------------------------------------------

def expected_rows(cities: list[City]) -> dict[str, int]:
    """Rows the replicas must hold after these bursts (every id in them is new), warm-up organisations included."""
    n = lambda kind: sum(c.counts().get(kind, 0) for c in cities)  # noqa: E731
    return {"notification.person": n("PersonUpserted"), "notification.guardianship": n("GuardianRelationAdded"),
            "assessment.duty": n("DutyAssigned"), "catalog.organisation": n("OrganisationUpserted") + len(cities),
            "reporting.organisation": n("OrganisationUpserted") + len(cities)}


async def _ingest(stack: Stack, messages: list[Any], expected: dict[str, int], run: int, rows_expected: dict[str, int]) -> dict[str, Any]:
    conn = await asyncpg.connect(stack.admin_url)
    producer = new_producer(stack.bootstrap)
    await producer.start()
    try:
        # warm-up: one organisation every service applies, so every consumer group has joined before the clock starts
        warm = wire(OrganisationUpserted(id=uuid.uuid4(), displayName=f"Uppvärmning {run}", organisationType="Verksamhetsområde"))
        before = {s: await _count(conn, _inbox_sql(s, "skolit.city.%")) for s in expected}
        await (await producer.send(warm.topic, warm.value, key=warm.key, headers=warm.headers))
        await wait_counts(conn, {s: (_inbox_sql(s, "skolit.city.%"), before[s] + 1) for s in expected}, time.perf_counter(), "warm-up")
        base = {s: before[s] + 1 for s in expected}
        load = load_average()
        cpu_before = stack.sampler.cpu_totals()
        started = time.perf_counter()
        acked = await send_all(producer, messages)
        done = await wait_counts(conn, {s: (_inbox_sql(s, "skolit.city.%"), base[s] + n) for s, n in expected.items()}, started, "ingest")
        cpu_after = stack.sampler.cpu_totals()
        dead = {s: await _count(conn, f"SELECT count(*) FROM {s}.inbox WHERE outcome = 'dead-lettered'") for s in expected}
        rows = {"notification.person": await _count(conn, "SELECT count(*) FROM notification.person"),
                "notification.guardianship": await _count(conn, "SELECT count(*) FROM notification.guardianship"),
                "assessment.duty": await _count(conn, "SELECT count(*) FROM assessment.duty"),
                "catalog.organisation": await _count(conn, "SELECT count(*) FROM catalog.organisation"),
                "reporting.organisation": await _count(conn, "SELECT count(*) FROM reporting.organisation")}
    finally:
        await producer.stop()
        await conn.close()
    last = max(done, key=done.get)
    seconds = done[last]
    out = {"run": run, "events": len(messages), "loadAverageAtStart": load, "producerAckedSeconds": round(acked, 2),
           "seconds": round(seconds, 2), "eventsPerSecond": round(len(messages) / seconds, 1), "lastService": last,
           "perService": {s: {"events": expected[s], "seconds": round(done[s], 2), "eventsPerSecond": round(expected[s] / done[s], 1)} for s in expected},
           "deadLettered": dead, "rows": rows, "rowsAsExpected": rows == rows_expected,
           "cpuSeconds": {k: round(cpu_after.get(k, 0.0) - cpu_before.get(k, 0.0), 1) for k in cpu_after}}
    print(f"  ingest run {run}: {len(messages)} events, last applied after {seconds:.1f} s by {last} = {out['eventsPerSecond']:.0f}/s "
          f"(acked after {acked:.1f} s; " + ", ".join(f"{s} {v['seconds']} s" for s, v in out["perService"].items()) + f"), load {load}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    terminate_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench.city_ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events in the burst (default 200000)")
    parser.add_argument("--naive-events", type=int, default=20_000, help="events for the naive consumer (default 20000)")
    parser.add_argument("--broker-runs", type=int, default=3, help="runs of the broker's ceiling (default 3; 0 skips it)")
    parser.add_argument("--runs", type=int, default=1, help="bursts into the services, each a fresh city (default 1)")
    parser.add_argument("--profile", action="append", default=[], choices=SERVICES, help="run this service under pyinstrument (slows it)")
    parser.add_argument("--experiment", default=None, help="run the services with a bench-only experiment (bench/experiment.py)")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine (development)")
    parser.add_argument("--no-summary", action="store_true", help="do not write docs/benchmarks.{md,json}")
    parser.add_argument("--keep", action="store_true")
    engine_argument(parser)
    args = parser.parse_args(argv)

    quiet = wait_quiet(enabled=not args.no_wait)
    started = time.monotonic()
    print(f"generating {args.runs} × {args.events} city events and {args.naive_events} for the naive consumer ...", flush=True)
    cities = [city_events(args.events, tag=f"ingest-{r}") for r in range(args.runs)]
    bursts = [wire_all(c.events) for c in cities]
    naive_city = city_events(args.naive_events, tag="naive")
    handled = handled_types()
    expected = [expected_counts(c, handled) for c in cities]
    profiles = {name: Path(f"/tmp/skolit-bench-profile-ingest-{name}.pyisession") for name in args.profile}
    stack = Stack("ingest", profile=profiles, experiment=args.experiment, keep=args.keep, engine=args.engine)
    try:
        stack.start()
        broker = None
        if args.broker_runs:
            with stack.sampler.phase("broker"):
                broker = asyncio.run(measure_broker(stack.bootstrap, bursts[0], args.broker_runs))
        with stack.sampler.phase("naive"):
            naive = run_naive(stack, naive_city)
        stack.start_services()
        runs = []
        with stack.sampler.phase("ingest"):
            for r, (messages, exp) in enumerate(zip(bursts, expected, strict=True)):
                runs.append(asyncio.run(_ingest(stack, messages, exp, r + 1, expected_rows(cities[:r + 1]))))
                if not runs[-1]["rowsAsExpected"]:
                    print(f"  !! rows {runs[-1]['rows']} differ from {expected_rows(cities[:r + 1])}", flush=True)
        memory = stack.peak_rss()
        naive_memory = round(stack.sampler.peak.get("naive", 0.0), 1)
        cpu = stack.sampler.phase_cpu
    finally:
        stack.stop()
    profile = {name: profile_top(path) for name, path in profiles.items()}

    rate = summary.spread([r["eventsPerSecond"] for r in runs])
    result = {
        "arguments": {"events": args.events, "naiveEvents": args.naive_events, "brokerRuns": args.broker_runs, "runs": args.runs,
                      "profiled": args.profile, "experiment": args.experiment, "engine": args.engine},
        "engine": args.engine, "engineLabel": ENGINE_LABEL[args.engine], "replicationFactor": replication_factor(),
        "quiet": quiet, "durationSeconds": round(time.monotonic() - started, 1),
        "eventCounts": cities[0].counts(), "schoolUnits": len(cities[0].schools), "districts": len(cities[0].districts),
        "expectedPerService": expected[0], "sizes": size_facts(bursts[0]),
        "naiveEventCounts": naive_city.counts(),
        "broker": broker, "naive": naive, "runs": runs, "eventsPerSecond": rate,
        "memory": memory, "naivePeakRssMiB": naive_memory, "cpuSecondsByPhase": cpu, "profile": profile,
    }
    if broker:
        result["shareOfBrokerProduce"] = round(rate["median"] / broker["producePerSecond"]["median"], 3)
    result["timesNaive"] = round(rate["median"] / naive["eventsPerSecond"], 2)
    summary.record(summary.part_key("cityIngest", args.engine), "bench.city_ingest", result, args, argv)
    print(f"ingest {rate} events/s; naive {naive['eventsPerSecond']}/s (×{result['timesNaive']}); "
          f"broker produce {broker['producePerSecond'] if broker else '-'} (share {result.get('shareOfBrokerProduce')})")
    print("memory: " + ", ".join(f"{k} {v['peakRssMiB']} MiB" for k, v in memory.items()))
    for name, lines in profile.items():
        print(f"--- profile {name} ---\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
