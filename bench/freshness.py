"""Benchmark: submission → report freshness under a steady stream of submissions over HTTP — each
`POST /assessments/{id}/submit` (assessment commits the submission and its AssessmentSubmitted in the outbox)
until reporting's read model holds it (its consumer has committed the row in `reporting.submission`).

    .venv/bin/python -m bench.freshness [--schools 600] [--rate 200] [--seconds 60] [--runs 3]    (or: make bench)

The four services run as processes (bench/stack.py). A city of ``--schools`` school units in 12 districts,
each with its Rektor (OrganisationUpserted, PersonUpserted, DutyAssigned), is published; a first round is
answered and submitted over HTTP by every school's Rektor; then further rounds are opened (`POST /campaigns`),
whose drafts carry every answer forward, so each is ready to submit. Those drafts are what a run submits.

A run sends `POST /assessments/{id}/submit` as the school's Rektor on an open-loop schedule of ``--rate`` per
second for ``--seconds`` (a request is not held back because an earlier one is still waiting; at most
``MAX_IN_FLIGHT`` at once, beyond which a send is skipped and counted). Freshness of a submission = the time
reporting's transaction that applied it committed, minus the time the HTTP answer (sent after assessment's
commit) reached the client. The commit is observed, not polled: the benchmark adds to its own database a
trigger on `reporting.submission` that calls `pg_notify` with the assessment id and submission number, and
PostgreSQL delivers a notification when the transaction commits; a listener thread timestamps each one on the
same monotonic clock. (The trigger adds one `pg_notify` per row to reporting's transaction.)

The first run is at ``--rate``. If that rate is not sustained — fewer than 95% of the scheduled submissions
answered within the window, or the HTTP answers or the freshness still growing at the end — the rate the
service did manage is taken as its capacity, and the remaining runs are at a lower rate (90%, then 75% of it),
stepping down until one is sustained; the report names the highest sustained rate and says what happened.

Writes its section of docs/benchmarks.{md,json} (bench/summary.py).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import threading
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import summary
from bench.broker_limit import new_producer, send_all, wait_for_leaders
from bench.citygen import wire
from bench.stack import ENGINE_LABEL, Stack, engine_argument, load_average, profile_top, replication_factor, terminate_on_sigterm, wait_quiet
from services.assessment.framework import published
from shared.auth import mint
from shared.events.city import DutyAssigned, OrganisationUpserted, PersonUpserted
from shared.settings import DEV_JWT_SECRET, SERVICES

TARGET_P99_MS = 1000.0
MAX_IN_FLIGHT = 256
DRAIN_S = 60.0
SUSTAINED_SHARE = 0.95
DISTRICTS = 12
SEED = 42
CHANNEL = "bench_fresh"
TRIGGER_SQL = f"""
CREATE OR REPLACE FUNCTION reporting.bench_fresh_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', NEW.assessment_id::text || ' ' || NEW.submission::text);
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS bench_fresh_notify ON reporting.submission;
CREATE TRIGGER bench_fresh_notify AFTER INSERT OR UPDATE ON reporting.submission FOR EACH ROW EXECUTE FUNCTION reporting.bench_fresh_notify();
"""


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


class City:
    def __init__(self, n_schools: int, rng: random.Random) -> None:
        self.districts = [_uuid(rng) for _ in range(DISTRICTS)]
        self.schools = [_uuid(rng) for _ in range(n_schools)]
        self.district_of = {s: self.districts[i % DISTRICTS] for i, s in enumerate(self.schools)}
        self.rektor = {s: _uuid(rng) for s in self.schools}
        self.tokens = {s: mint(DEV_JWT_SECRET, subject=str(self.rektor[s]), roles=["principal"], school_units=[s], ttl_seconds=86400)
                       for s in self.schools}

    def events(self, rng: random.Random) -> list[Any]:
        out: list[Any] = [OrganisationUpserted(id=d, displayName=f"Område {i + 1}", organisationType="Verksamhetsområde")
                          for i, d in enumerate(self.districts)]
        for i, s in enumerate(self.schools):
            out.append(OrganisationUpserted(id=s, displayName=f"Skola {i + 1:04d}", organisationType="Skolenhet", schoolUnitCode=f"{rng.randrange(10**8):08d}",
                                            schoolTypes=rng.choice([["GR"], ["FKLASS", "GR", "FTH"], ["GY"]]), parentOrganisation=self.district_of[s]))
            out += [PersonUpserted(id=self.rektor[s]), DutyAssigned(id=_uuid(rng), person=self.rektor[s], dutyAt=s, dutyRole="Rektor")]
        return out


# --- preparation ---------------------------------------------------------------------------------

async def publish_city(stack: Stack, city: City, rng: random.Random) -> float:
    started = time.perf_counter()
    producer = new_producer(stack.bootstrap)
    await producer.start()
    try:
        await send_all(producer, [wire(e) for e in city.events(rng)])
    finally:
        await producer.stop()
    conn = await asyncpg.connect(stack.admin_url)
    try:
        deadline = time.monotonic() + 300
        while True:
            units = await conn.fetchval("SELECT count(*) FROM assessment.organisation WHERE organisation_type = 'Skolenhet'")
            duties = await conn.fetchval("SELECT count(*) FROM assessment.duty WHERE duty_role = 'Rektor'")
            orgs = await conn.fetchval("SELECT count(*) FROM reporting.organisation")
            if units >= len(city.schools) and duties >= len(city.schools) and orgs >= len(city.schools) + DISTRICTS:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the city did not arrive: {units} units, {duties} Rektor duties in assessment, {orgs} organisations in reporting")
            await asyncio.sleep(0.2)
        await conn.execute(TRIGGER_SQL)
    finally:
        await conn.close()
    return time.perf_counter() - started


def answers_for(assessment: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    framework = published()[assessment["frameworkVersion"]]
    base = rng.uniform(1.5, 4.0)
    out = []
    for indicator_id in assessment["indicators"]:
        if framework.by_id[indicator_id].allowNotRelevant and rng.random() < 0.1:
            out.append({"indicatorId": indicator_id, "notRelevant": True})
        else:
            out.append({"indicatorId": indicator_id, "level": min(5, max(1, round(base + rng.gauss(0, 0.8))))})
    return out


async def open_round(http: httpx.AsyncClient, city: City, admin: dict[str, str], n: int) -> str:
    year = date.today().year
    r = await http.post("/campaigns", headers=admin, json={"name": f"Självskattning {year} (bench {n})", "year": year,
                                                           "deadline": f"{year + 1}-03-31", "schoolUnitIds": [str(s) for s in city.schools]})
    if r.status_code != 201:
        raise RuntimeError(f"POST /campaigns answered {r.status_code}: {r.text[:500]}")
    return r.json()["id"]


async def first_round(url: str, city: City, rng: random.Random) -> dict[str, Any]:
    """Every school answers and submits once, so later rounds' drafts carry every answer forward."""
    admin = {"Authorization": "Bearer " + mint(DEV_JWT_SECRET, subject="bench-city-admin", roles=["city_admin"])}
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        campaign = await open_round(http, city, admin, 0)
        opened = time.perf_counter() - started
        queue: asyncio.Queue[uuid.UUID] = asyncio.Queue()
        for s in city.schools:
            queue.put_nowait(s)

        async def worker() -> None:
            while not queue.empty():
                s = queue.get_nowait()
                who = {"Authorization": "Bearer " + city.tokens[s]}
                draft = (await http.get(f"/campaigns/{campaign}/school-units/{s}/assessment", headers=who)).json()
                r = await http.put(f"/assessments/{draft['id']}/answers", headers=who, json={"answers": answers_for(draft, rng)})
                if r.status_code != 200:
                    raise RuntimeError(f"PUT answers answered {r.status_code}: {r.text[:300]}")
                r = await http.post(f"/assessments/{draft['id']}/submit", headers=who)
                if r.status_code != 200:
                    raise RuntimeError(f"submit answered {r.status_code}: {r.text[:300]}")

        await asyncio.gather(*(worker() for _ in range(8)))
    return {"campaignOpenSeconds": round(opened, 2), "seconds": round(time.perf_counter() - started, 2)}


async def more_drafts(url: str, admin_url: str, city: City, rounds: int, first: int) -> tuple[list[tuple[uuid.UUID, uuid.UUID]], float]:
    """``rounds`` more rounds over every school: drafts ready to submit, (assessment, school) in a shuffled order."""
    admin = {"Authorization": "Bearer " + mint(DEV_JWT_SECRET, subject="bench-city-admin", roles=["city_admin"])}
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=600) as http:
        campaigns = [await open_round(http, city, admin, first + i) for i in range(rounds)]
    conn = await asyncpg.connect(admin_url)
    try:
        rows = await conn.fetch("SELECT id, school_unit FROM assessment.assessment WHERE campaign_id = ANY($1::uuid[]) AND status = 'draft'",
                                [uuid.UUID(c) for c in campaigns])
    finally:
        await conn.close()
    drafts = [(r["id"], r["school_unit"]) for r in rows]
    random.Random(first).shuffle(drafts)
    return drafts, time.perf_counter() - started


# --- observing reporting's commits ---------------------------------------------------------------

class CommitListener:
    """LISTEN on its own connection in its own thread: the monotonic time each (assessment, submission) committed in reporting."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.seen: dict[tuple[str, int], float] = {}
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="commit-listener", daemon=True)

    def start(self) -> CommitListener:
        self._thread.start()
        if not self._ready.wait(30):
            raise TimeoutError("the commit listener did not start")
        return self

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        conn = await asyncpg.connect(self.admin_url)

        def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            t = time.perf_counter()
            aid, sub = payload.split(" ")
            self.seen.setdefault((aid, int(sub)), t)

        await conn.add_listener(CHANNEL, heard)
        self._ready.set()
        await self._stop.wait()
        await conn.close()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)


# --- a run ---------------------------------------------------------------------------------------

def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return round(s[lo] + (s[hi] - s[lo]) * (k - lo), 1)


async def one_run(url: str, city: City, drafts: list[tuple[uuid.UUID, uuid.UUID]], listener: CommitListener, rate: float, seconds: float,
                  number: int) -> dict[str, Any]:
    n = int(rate * seconds)
    load = load_average()
    sent: list[dict[str, Any]] = []
    skipped, in_flight, lags = 0, 0, []
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)

    async def submit(http: httpx.AsyncClient, aid: uuid.UUID, school: uuid.UUID, rec: dict[str, Any]) -> None:
        nonlocal in_flight
        try:
            r = await http.post(f"/assessments/{aid}/submit", headers={"Authorization": "Bearer " + city.tokens[school]})
            rec["answered"] = time.perf_counter()
            rec["status"] = r.status_code
            if r.status_code == 200:
                rec["submission"] = r.json()["submissions"]
            else:
                rec["error"] = r.text[:200]
        except httpx.HTTPError as exc:
            rec["answered"], rec["status"], rec["error"] = time.perf_counter(), None, repr(exc)
        finally:
            in_flight -= 1

    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        tasks = []
        t0 = time.perf_counter()
        for i in range(n):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            lags.append((time.perf_counter() - due) * 1000)
            if in_flight >= MAX_IN_FLIGHT:
                skipped += 1
                continue
            aid, school = drafts.pop()
            rec = {"aid": str(aid), "sent": time.perf_counter()}
            sent.append(rec)
            in_flight += 1
            tasks.append(asyncio.create_task(submit(http, aid, school, rec)))
        window_end = t0 + seconds
        await asyncio.gather(*tasks)
    answered_end = time.perf_counter()
    ok = [r for r in sent if r.get("status") == 200]
    deadline = time.perf_counter() + DRAIN_S
    while time.perf_counter() < deadline and any((r["aid"], r["submission"]) not in listener.seen for r in ok):
        await asyncio.sleep(0.05)
    fresh, missing = [], 0
    for r in ok:
        seen = listener.seen.get((r["aid"], r["submission"]))
        if seen is None:
            missing += 1
        else:
            r["fresh"] = (seen - r["answered"]) * 1000
            fresh.append(r["fresh"])
    http_ms = [(r["answered"] - r["sent"]) * 1000 for r in ok]
    in_window = sum(1 for r in ok if r["answered"] <= window_end)
    # growth: the last fifth of the window against the first fifth (by send time)
    fifth = max(1, len(ok) // 5)
    by_send = sorted(ok, key=lambda r: r["sent"])
    head, tail = by_send[:fifth], by_send[-fifth:]
    growth = {
        "httpP50FirstFifth": pct([(r["answered"] - r["sent"]) * 1000 for r in head], 50), "httpP50LastFifth": pct([(r["answered"] - r["sent"]) * 1000 for r in tail], 50),
        "freshP50FirstFifth": pct([r["fresh"] for r in head if "fresh" in r], 50), "freshP50LastFifth": pct([r["fresh"] for r in tail if "fresh" in r], 50),
    }
    achieved = in_window / seconds
    growing = (growth["httpP50LastFifth"] or 0) > max(3 * (growth["httpP50FirstFifth"] or 0), 250) or \
              (growth["freshP50LastFifth"] or 0) > max(3 * (growth["freshP50FirstFifth"] or 0), 500)
    sustained = achieved >= SUSTAINED_SHARE * rate and not growing and not skipped and not missing
    out = {
        "run": number, "loadAverageAtStart": load, "targetRate": rate, "seconds": seconds, "scheduled": n, "sent": len(sent), "skipped": skipped,
        "answeredOk": len(ok), "errors": len(sent) - len(ok), "answeredInWindow": in_window, "achievedRate": round(achieved, 1),
        "completionRate": round(len(ok) / (answered_end - t0), 1), "lastAnswerAfterSeconds": round(answered_end - t0, 1),
        "sendLagP99Ms": pct(lags, 99), "httpP50Ms": pct(http_ms, 50), "httpP99Ms": pct(http_ms, 99),
        "p50": pct(fresh, 50), "p95": pct(fresh, 95), "p99": pct(fresh, 99), "max": round(max(fresh), 1) if fresh else None,
        "min": round(min(fresh), 1) if fresh else None, "notSeen": missing, "growth": growth, "sustained": sustained,
        "errorSamples": list({r.get("error") for r in sent if r.get("status") != 200})[:3],
    }
    print(f"  freshness run {number} at {rate:.0f}/s: answered {len(ok)}/{n} ({out['achievedRate']}/s in the window, skipped {skipped}), "
          f"HTTP p50 {out['httpP50Ms']} p99 {out['httpP99Ms']} ms; freshness p50 {out['p50']} p99 {out['p99']} ms, not seen {missing}; "
          f"{'sustained' if sustained else 'NOT sustained'}; load {load}", flush=True)
    return out


async def transport_floor(bootstrap: str, rate: float, seconds: float, *, idempotent: bool = False) -> dict[str, Any]:
    """The same-run baseline: a raw aiokafka producer → consumer round trip at ``rate`` on a fresh 6-partition
    topic (AssessmentSubmitted-sized bodies): the broker's share of any freshness."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"bench.floor.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 6, replication_factor())])
    finally:
        await admin.close()
    await wait_for_leaders(bootstrap, {topic: 6})
    producer = AIOKafkaProducer_for_floor(bootstrap, idempotent)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await producer.start()
    await consumer.start()
    consumer.assign([TopicPartition(topic, p) for p in range(6)])
    body = b"x" * 5000
    sent: dict[int, float] = {}
    got: list[float] = []
    n = int(rate * seconds)

    async def read() -> None:
        while len(got) < n:
            batches = await consumer.getmany(timeout_ms=200)
            t = time.perf_counter()
            for records in batches.values():
                for r in records:
                    got.append((t - sent[int(r.key)]) * 1000)

    reader = asyncio.create_task(read())
    t0 = time.perf_counter()
    for i in range(n):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent[i] = time.perf_counter()
        await producer.send(topic, body, key=str(i).encode())
    await asyncio.wait_for(reader, 60)
    await producer.stop()
    await consumer.stop()
    return {"messages": n, "rate": rate, "p50": pct(got, 50), "p99": pct(got, 99), "max": round(max(got), 1)}


def AIOKafkaProducer_for_floor(bootstrap: str, idempotent: bool = False) -> Any:  # noqa: N802 - the services' producer settings (shared/runtime.py)
    """acks=all, linger 5 ms; the idempotent producer where the services have it (Apache Kafka grants it, Tansu does not)."""
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=idempotent, acks="all", linger_ms=5)


def main(argv: list[str] | None = None) -> int:
    terminate_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench.freshness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=600)
    parser.add_argument("--rate", type=float, default=200.0, help="submissions per second aimed at (default 200)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of a run (default 60)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="append", default=[], choices=SERVICES, help="run this service under pyinstrument (slows it)")
    parser.add_argument("--experiment", default=None, help="run the services with a bench-only experiment (bench/experiment.py)")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine (development)")
    parser.add_argument("--no-summary", action="store_true")
    parser.add_argument("--keep", action="store_true")
    engine_argument(parser)
    args = parser.parse_args(argv)

    quiet = wait_quiet(enabled=not args.no_wait)
    started = time.monotonic()
    rng = random.Random(SEED)
    city = City(args.schools, rng)
    profiles = {name: Path(f"/tmp/skolit-bench-profile-freshness-{name}.pyisession") for name in args.profile}
    stack = Stack("freshness", profile=profiles, experiment=args.experiment, keep=args.keep, engine=args.engine)
    listener: CommitListener | None = None
    runs: list[dict[str, Any]] = []
    try:
        stack.start()
        with stack.sampler.phase("floor"):
            floor = asyncio.run(transport_floor(stack.bootstrap, args.rate, min(args.seconds, 10.0), idempotent=args.engine == "kafka"))
        print(f"  transport floor at {args.rate:.0f}/s: p50 {floor['p50']} p99 {floor['p99']} ms", flush=True)
        stack.start_services()
        url = stack.services["assessment"].url
        print(f"publishing {args.schools} school units with their Rektors ...", flush=True)
        city_s = asyncio.run(publish_city(stack, city, rng))
        print("first round: every school answers and submits ...", flush=True)
        first = asyncio.run(first_round(url, city, rng))
        listener = CommitListener(stack.admin_url).start()
        rounds_done, drafts, prep_s = 1, [], 0.0
        rate = args.rate
        with stack.sampler.phase("runs"):
            for number in range(1, args.runs + 1):
                need = int(rate * args.seconds) + 1
                if len(drafts) < need:
                    rounds = math.ceil((need - len(drafts)) / args.schools)
                    print(f"  opening {rounds} more round(s) for {need} drafts ...", flush=True)
                    more, s = asyncio.run(more_drafts(url, stack.admin_url, city, rounds, rounds_done))
                    rounds_done += rounds
                    drafts = more + drafts
                    prep_s += s
                run = asyncio.run(one_run(url, city, drafts, listener, rate, args.seconds, number))
                runs.append(run)
                if not run["sustained"]:
                    capacity = run["completionRate"] if run["completionRate"] < rate else run["achievedRate"]
                    rate = float(max(5, int(min(rate, capacity) * (0.9 if len([r for r in runs if not r['sustained']]) == 1 else 0.75) / 5) * 5))
        memory = stack.peak_rss()
        cpu = stack.sampler.phase_cpu
    finally:
        if listener is not None:
            listener.stop()
        stack.stop()
    profile = {name: profile_top(path) for name, path in profiles.items()}
    sustained = [r for r in runs if r["sustained"]]
    at_target = [r for r in runs if r["targetRate"] == args.rate]
    best = max((r["targetRate"] for r in sustained), default=None)
    headline = [r for r in runs if r["targetRate"] == best] if best is not None else at_target
    result = {
        "arguments": {"schools": args.schools, "rate": args.rate, "seconds": args.seconds, "runs": args.runs, "profiled": args.profile, "experiment": args.experiment,
                      "engine": args.engine},
        "engine": args.engine, "engineLabel": ENGINE_LABEL[args.engine], "replicationFactor": replication_factor(),
        "quiet": quiet, "durationSeconds": round(time.monotonic() - started, 1),
        "preparation": {"citySeconds": round(city_s, 2), "firstRound": first, "rounds": rounds_done, "draftRoundsSeconds": round(prep_s, 1)},
        "floor": floor, "runs": runs, "targetSustained": any(r["sustained"] for r in at_target), "highestSustainedRate": best,
        "headlineRate": headline[0]["targetRate"] if headline else None,
        "p50": summary.spread([r["p50"] for r in headline if r["p50"] is not None]) if headline else None,
        "p99": summary.spread([r["p99"] for r in headline if r["p99"] is not None]) if headline else None,
        "memory": memory, "cpuSecondsByPhase": cpu, "profile": profile,
    }
    summary.record(summary.part_key("freshness", args.engine), "bench.freshness", result, args, argv)
    print(f"freshness at {result['headlineRate']}/s: p50 {result['p50']} p99 {result['p99']} ms; target rate sustained: {result['targetSustained']}; "
          f"highest sustained {best}/s")
    print("memory: " + ", ".join(f"{k} {v['peakRssMiB']} MiB" for k, v in memory.items()))
    for name, lines in profile.items():
        print(f"--- profile {name} ---\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
