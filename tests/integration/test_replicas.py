"""Replicas on one machine: two processes of each service in one consumer group, one of them stopped
mid-stream, and every event still applied exactly once.

The session stack is left alone (other tests expect its four processes as they are): this module
starts a stack of its own with chaos/cluster.py — embedded PostgreSQL, Tansu behind a proxy, the
four services — and a second process of each service next to it (same database and schema, same
consumer group, its own HTTP port). Then:

1. both processes of every service hold partitions: the broker (Kafka admin API, DescribeGroups)
   lists exactly their two member ids in a Stable group, and the processes' own latest assignments
   (from their logs: Tansu leaves DescribeGroups' assignment bytes empty, see tests/support/replicas.py)
   are disjoint, non-empty, and together every partition of every topic the service consumes;
2. a city system (chaos/producer.py, chaos/workload.py) publishes several thousand city events with
   fresh ids — organisations, persons, duties, guardian relations, also renames, changes and
   endings — at a steady rate; once part of them is acknowledged, one process of each service is stopped: SIGTERM
   (graceful: the batch in flight commits, the member leaves the group) for assessment and catalog,
   SIGKILL (no goodbye: the broker notices when the session times out) for reporting and notification;
   publishing goes on meanwhile;
3. the survivor of each group is its only member (the same member id as before) and owns every
   partition (admin API + its log); before the stop it had consumed only from its own partitions of the
   city topics, afterwards from every one of them (its skolit_consumer_lag labels);
4. exactly once (chaos/audit.py): each service's inbox holds every event it handles, once, applied —
   none missing, none dead-lettered, nothing else; its replica tables hold exactly the expected rows
   in the state of each entity's last event; reporting's school_unit_history — an append without a
   unique key, the effect that would double if an event were applied twice — holds exactly one row
   per school-unit event; no dead letter was staged.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from chaos.audit import audit_history, audit_inbox, audit_outbox, audit_table, expectations, service_handlers
from chaos.cluster import Cluster, Node
from chaos.producer import SteadyProducer
from chaos.workload import CITY_TOPICS, Workload
from shared.settings import SERVICES
from tests.support.kafka import eventually
from tests.support.replicas import Membership, all_partitions, describe_groups, membership, metric_partitions, metric_sum, per_topic

pytestmark = pytest.mark.integration

EVENTS = 5000
RATE = 170.0  # events per second: production lasts ~30 s, so even the SIGKILL takeover (~17 s) happens while it goes on
STOP_AFTER = 0.2  # share of the events acknowledged by the broker when one process of each service is stopped
#: which process of each service is stopped, and how (both kinds of process, both kinds of stop)
STOPS = {
    "assessment": ("replica", "SIGTERM"),
    "catalog": ("primary", "SIGTERM"),
    "reporting": ("primary", "SIGKILL"),
    "notification": ("replica", "SIGKILL"),
}
OTHER = {"primary": "replica", "replica": "primary"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("replicas"))
    try:
        c.start()
        yield c
    finally:
        problems = c.stop()  # every process it started, replicas included, whatever state the test left them in
        for p in problems:
            print(f"cleanup: {p}")
        print(f"replica test logs in {c.workdir}")


def group(service: str) -> str:
    return f"skolit-{service}"


def describe_assignment(m: Membership) -> str:
    return f"{len(m.partitions):2d} partitions {per_topic(m.partitions)}"


async def scrape(node: Node) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.get(node.proc.url + "/metrics")).text


async def test_two_instances_per_service_share_partitions_and_survive_a_stop_exactly_once(cluster: Cluster) -> None:
    t0 = time.monotonic()

    def say(line: str) -> None:
        print(line, flush=True)  # the evidence: run with -s to see it as it happens

    topics = {s: service_handlers(s)[0].topics for s in SERVICES}
    everything = {s: all_partitions(topics[s]) for s in SERVICES}

    # -- a second process of each service, in the same group -------------------------------------
    replicas = {s: cluster.node(s, "replica") for s in SERVICES}
    cluster.replicas.extend(replicas.values())  # so cluster.stop() ends them too
    for node in replicas.values():
        node.proc.start()
        node.starts += 1
    await asyncio.gather(*(asyncio.to_thread(cluster.wait_ready, node, 120) for node in replicas.values()))
    nodes: dict[str, dict[str, Node]] = {s: {"primary": cluster.primaries[s], "replica": replicas[s]} for s in SERVICES}
    say(f"[{time.monotonic() - t0:5.1f}s] second process of each service ready: "
        + ", ".join(f"{s} pids {nodes[s]['primary'].proc.proc.pid}+{nodes[s]['replica'].proc.proc.pid}" for s in SERVICES))  # type: ignore[union-attr]

    async def settled(expect: dict[str, list[str]]) -> dict[str, dict[str, Membership]] | None:
        """Each group Stable with exactly the members of the ``expect``ed processes, whose latest
        assignments (same generation) are disjoint, non-empty and cover every partition."""
        described = await describe_groups(cluster.bootstrap, [group(s) for s in expect])
        views: dict[str, dict[str, Membership]] = {}
        for s, roles in expect.items():
            g = described.get(group(s))
            views[s] = {r: membership(nodes[s][r].proc.log_path, group(s)) for r in roles}
            ms = list(views[s].values())
            if g is None or g.error_code or g.state != "Stable" or g.members != {m.member_id for m in ms} or len(g.members) != len(roles):
                return None
            if len({m.generation for m in ms}) != 1 or any(not m.partitions for m in ms):
                return None
            if sum(len(m.partitions) for m in ms) != len(everything[s]) or frozenset().union(*(m.partitions for m in ms)) != everything[s]:
                return None
        return views

    before = await eventually(lambda: settled({s: ["primary", "replica"] for s in SERVICES}), timeout=60, interval=0.5,
                              what="both processes of every service holding partitions in their group")
    say(f"[{time.monotonic() - t0:5.1f}s] BEFORE: two members per group (admin API DescribeGroups: Stable; assignments from each process)")
    for s in SERVICES:
        for role in ("primary", "replica"):
            m = before[s][role]
            say(f"    {s:12s} {role:7s} member {m.member_id} gen {m.generation}: {describe_assignment(m)}")

    # -- a stream of city events; one process of each service stopped mid-stream -----------------
    seed = random.SystemRandom().randrange(1 << 31)
    workload = Workload(EVENTS, poison_rate=0.0, districts=8, schools=150, seed=seed)  # fresh ids every run
    producer = SteadyProducer(cluster.bootstrap, workload, RATE)
    producing = asyncio.create_task(producer.run())
    try:
        async def mid_stream() -> bool:
            return producer.acked >= STOP_AFTER * EVENTS or producing.done()

        await eventually(mid_stream, timeout=60, what=f"{STOP_AFTER:.0%} of the events acknowledged")
        assert not producing.done() or producing.result() is None

        victims = {s: nodes[s][role] for s, (role, _) in STOPS.items()}

        async def applied_by(node: Node, service: str) -> float:
            return metric_sum(await scrape(node), "skolit_events_consumed_total", service=service, outcome="applied")

        # each process to be stopped is really consuming its share mid-stream
        for s in SERVICES:
            await eventually(lambda s=s: applied_by(victims[s], s), timeout=30, what=f"{s}'s {STOPS[s][0]} applying events")
        survivors = {s: nodes[s][OTHER[STOPS[s][0]]] for s in SERVICES}
        victim_metrics, survivor_metrics = await asyncio.gather(asyncio.gather(*(scrape(victims[s]) for s in SERVICES)),
                                                                asyncio.gather(*(scrape(survivors[s]) for s in SERVICES)))
        victim_applied = {s: metric_sum(text, "skolit_events_consumed_total", service=s, outcome="applied") for s, text in zip(SERVICES, victim_metrics, strict=True)}
        # the city partitions each survivor has consumed records from so far (skolit.catalog etc. carry catalog's startup events)
        consumed_before = {s: metric_partitions(text, s) & all_partitions([t for t in topics[s] if t in CITY_TOPICS])
                           for s, text in zip(SERVICES, survivor_metrics, strict=True)}
        acked_at_stop = producer.acked
        log_size = {s: victims[s].proc.log_path.stat().st_size for s in SERVICES}

        async def stop(service: str) -> tuple[str, int | None, float]:
            node = victims[service]
            node.expected_up = False
            started = time.monotonic()
            await asyncio.to_thread(cluster.sigterm if STOPS[service][1] == "SIGTERM" else cluster.sigkill, node)
            return service, node.proc.proc.returncode if node.proc.proc else None, time.monotonic() - started

        stopped_at = time.monotonic()
        stopped = await asyncio.gather(*(stop(s) for s in SERVICES))
        say(f"[{stopped_at - t0:5.1f}s] STOP at {acked_at_stop}/{EVENTS} events acknowledged; publishing goes on")
        for s, code, took in stopped:
            role, how = STOPS[s]
            with victims[s].proc.log_path.open("rb") as f:
                f.seek(log_size[s])
                last_words = f.read().decode(errors="replace")
            graceful = "LeaveGroup request succeeded" in last_words and "Application shutdown complete" in last_words
            say(f"    {s:12s} {role:7s} {how}: exit status {code} after {took:.1f} s; it had applied {victim_applied[s]:.0f} events;"
                f" left the group and shut down cleanly: {graceful}")
            if how == "SIGTERM":
                assert graceful, f"{s}'s {role} did not shut down gracefully:\n{last_words[-3000:]}"
            else:
                assert code == -9 and not graceful

        # -- the survivor takes every partition over -----------------------------------------------
        async def taken_over(service: str) -> tuple[str, Membership, float, int]:
            survivor = OTHER[STOPS[service][0]]
            views = await eventually(lambda: settled({service: [survivor]}), timeout=60, interval=0.5,
                                     what=f"{service}'s {survivor} as the only member, owning every partition")
            return service, views[service][survivor], time.monotonic() - stopped_at, producer.acked

        after = {s: (m, secs, acked) for s, m, secs, acked in await asyncio.gather(*(taken_over(s) for s in SERVICES))}
        say(f"[{time.monotonic() - t0:5.1f}s] AFTER: one member per group, owning every partition")
        for s in SERVICES:
            m, secs, acked = after[s]
            survivor = OTHER[STOPS[s][0]]
            assert m.member_id == before[s][survivor].member_id  # the same process, not a newcomer
            say(f"    {s:12s} {survivor:7s} member {m.member_id} gen {m.generation}: {describe_assignment(m)}"
                f" — {secs:.1f} s after the {STOPS[s][1]}, {acked}/{EVENTS} acknowledged by then")
            say(f"    {'':12s} {'':7s} took over {len(before[s][STOPS[s][0]].partitions)} partitions from the stopped {STOPS[s][0]};"
                f" city partitions it had consumed from before the stop: {len(consumed_before[s])}, all of them its own")
            assert consumed_before[s] <= before[s][survivor].partitions, (s, sorted(consumed_before[s] - before[s][survivor].partitions))

        await producing
    finally:
        if not producing.done():
            producing.cancel()
            with contextlib.suppress(BaseException):
                await producing
    produced_s = (producer.finished_at or time.monotonic()) - (producer.started_at or t0)
    say(f"[{time.monotonic() - t0:5.1f}s] all {producer.acked} events acknowledged in {produced_s:.1f} s "
        f"({producer.resends} resends); by type {dict(workload.by_type)}")
    assert producer.acked == EVENTS == len(workload.valid())

    # -- every event applied exactly once ---------------------------------------------------------
    exp = expectations(workload)
    conn = await asyncpg.connect(cluster.admin_url)
    try:
        async def caught_up() -> dict[str, int] | None:
            counts = {s: await conn.fetchval(f'SELECT count(*) FROM "{s}".inbox WHERE topic = ANY($1::text[])', list(CITY_TOPICS)) for s in SERVICES}
            return counts if all(counts[s] >= len(exp[s]["valid"]) for s in SERVICES) else None

        await eventually(caught_up, timeout=90, interval=0.5, what="every service's inbox holding every city event it handles")
        say(f"[{time.monotonic() - t0:5.1f}s] EXACTLY ONCE (inbox, replica tables, reporting's append-only history, dead letters)")
        history: dict[str, Any] = {}
        for s in SERVICES:
            inbox = await audit_inbox(conn, s, exp[s])
            tables = {t: await audit_table(conn, s, t, getattr(workload.expected, t)) for t in service_handlers(s)[1]}
            outbox = await audit_outbox(conn, s, set())
            metrics = await scrape(survivors[s])
            duplicates = metric_sum(metrics, "skolit_events_consumed_total", service=s, outcome="duplicate")
            say(f"    {s:12s} events it handles {inbox['validExpected']} {inbox['validExpectedByTopic']}: inbox applied {inbox['validApplied']},"
                f" lost {inbox['lost']} (dead-lettered {inbox['lostDeadLettered']}), doubled {inbox['doubled']}, unexpected {inbox['unexpected']};"
                f" dead letters staged {outbox['deadLettersStaged']}; survivor applied {metric_sum(metrics, 'skolit_events_consumed_total', service=s, outcome='applied'):.0f},"
                f" skipped as duplicates {duplicates:.0f}")
            for t, r in tables.items():
                say(f"    {'':12s} {t:13s} expected {r['expected']:5d} rows {r['rows']:5d} missing {r['missing']} extra {r['extra']} wrong state {r['wrongState']}"
                    + (f" (inactive {r['inactiveFound']}/{r['inactiveExpected']})" if "inactiveExpected" in r else ""))
            assert inbox["validExpected"] == len(exp[s]["valid"]) > 0
            assert (inbox["lost"], inbox["doubled"], inbox["unexpected"]) == (0, 0, 0), inbox
            assert inbox["validApplied"] == inbox["inboxRowsCityTopics"] == inbox["validExpected"], inbox
            for t, r in tables.items():
                assert (r["missing"], r["extra"], r["wrongState"]) == (0, 0, 0), (s, t, r)
                assert r["rows"] == r["expected"] > 0, (s, t, r)
            assert outbox["deadLettersStaged"] == 0, outbox
            # the survivor consumed from every partition of the city topics it reads: its own and the stopped one's
            city = all_partitions([t for t in topics[s] if t in CITY_TOPICS])
            consumed = metric_partitions(metrics, s)
            assert city <= consumed, f"{s}'s survivor never consumed from {sorted(city - consumed)}"
            say(f"    {'':12s} survivor consumed from {len(consumed & city)}/{len(city)} city partitions (skolit_consumer_lag labels),"
                f" {len(consumed_before[s])} before the stop")
            if s == "reporting":
                history = await audit_history(conn, workload.expected.school_unit_events)
        say(f"    reporting    school_unit_history (append, no unique key): school-unit events {history['expected']}, rows {history['rows']},"
            f" missing {history['missing']}, doubled {history['doubled']}, extra {history['extra']}")
        assert history["rows"] == history["expected"] > 0 and (history["missing"], history["doubled"], history["extra"]) == (0, 0, 0), history
        dead = await conn.fetchval(
            "SELECT count(*) FROM (" + " UNION ALL ".join(f'SELECT 1 FROM "{s}".inbox WHERE outcome = \'dead-lettered\'' for s in SERVICES) + ") x")
        assert dead == 0
    finally:
        await conn.close()
    say(f"[{time.monotonic() - t0:5.1f}s] done (seed {seed})")
