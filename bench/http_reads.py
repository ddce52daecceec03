"""Benchmark: HTTP reads under load — locust at a steady total of ``--rate`` requests per second (default 500),
split evenly over three reads: the school report (reporting `GET /school-units/{id}/report`), the catalogue
search (catalog `GET /apps?q=...`) and a guardian's inbox (notification `GET /persons/{id}/messages`),
against data loaded first; p50/p99 and error rate per read.

    .venv/bin/python -m bench.http_reads [--rate 500] [--seconds 60] [--runs 3]    (or: make bench)

The four services run as processes (bench/stack.py). Loaded first: a city of 600 school units in 12 districts
(bench/reporting.py's city) with 20 guardians per school (PersonUpserted, GuardianRelationAdded); 10 years of
self-assessments per school (AssessmentSubmitted via Kafka, as bench/reporting.py loads them); a programbank of
10,000 apps (bench/catalog_search.py's generator, through `store.insert_app`); and 12 broadcasts per district
to its guardians (`POST /broadcasts` as the district's admin), so each guardian's inbox holds 12 messages.

Baseline from the same run: the same three reads one at a time on one keep-alive connection (httpx, no other
load), ``BASELINE_REQUESTS`` each. Then ``--runs`` runs of locust, headless, as its own process on the same
machine (`locust -f bench/locustfile.py --headless -u N -r N --run-time ...`): N = ``USERS`` users of
FastHttpUser, a third per read, each at a constant throughput of rate/N per second (a user waits for its
answer before its next request, so an overloaded service gets fewer requests, not a queue: the achieved rate
is reported). Latencies are locust's own per request (to the full body), percentiles computed exactly from
every request after the first ``RAMP_S`` seconds; errors over every request. Locust's CPU is recorded: it
shares the two cores with the services, PostgreSQL and Tansu.

The floor (issue 24): after the baseline, bench/floor.py serves each read from a process of its own — the same SQL
through asyncpg behind a bare ASGI callable — and each run is followed by the same locust run against the floors, so
every read has its floor's p99 from the same run and the ratio (target: p99 ≤ 1.5× the floor's and < 25 ms).
``--no-floor`` leaves it out.

Writes its section of docs/benchmarks.{md,json} (bench/summary.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx

from bench import summary
from bench.broker_limit import new_producer, send_all
from bench.catalog_search import QUERIES, generate_apps, load as load_apps
from bench.freshness import pct
from bench.reporting import FIRST_YEAR, generate_city, organisation_events, submission_event, wire as reporting_wire
from bench.process import stop_process
from bench.stack import ROOT, Stack, load_average, profile_top, terminate_on_sigterm, wait_quiet
from devkit.embedded import free_port
from shared.auth import mint
from shared.clock import city_today
from shared.events.city import GuardianRelationAdded, PersonUpserted
from shared.settings import DEV_JWT_SECRET, SERVICES, service_database_url

TARGET_P99_MS = 25.0
USERS = 90
RAMP_S = 5.0
BASELINE_REQUESTS = 200
SEED = 42
READS = ("school report", "catalogue search", "inbox")


async def load_data(stack: Stack, schools: int, years: int, guardians_per_school: int, apps: int, broadcasts: int, rng: random.Random) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    city = generate_city(schools, rng)
    guardians: list[tuple[uuid.UUID, uuid.UUID]] = [(uuid.UUID(int=rng.getrandbits(128), version=4), s.id)
                                                    for s in city.schools for _ in range(guardians_per_school)]
    producer = new_producer(stack.bootstrap)
    await producer.start()
    conn = await asyncpg.connect(stack.admin_url)
    try:
        t = time.perf_counter()
        people: list[Any] = []
        for g, school in guardians:
            people.append(PersonUpserted(id=g))
            people.append(GuardianRelationAdded(id=uuid.UUID(int=rng.getrandbits(128), version=4), guardian=g, pupil=uuid.UUID(int=rng.getrandbits(128), version=4),
                                                schoolUnit=school, schoolType="GR", schoolYear=rng.randrange(0, 10)))
        await send_all(producer, [reporting_wire(e) for e in organisation_events(city, rng)] + [reporting_wire(e) for e in people])
        submissions = [reporting_wire(submission_event(s, y, rng)) for s in city.schools for y in range(FIRST_YEAR, FIRST_YEAR + years)]
        await send_all(producer, submissions)
        deadline = time.monotonic() + 900
        while True:
            subs = await conn.fetchval("SELECT count(*) FROM reporting.submission")
            rel = await conn.fetchval("SELECT count(*) FROM notification.guardianship")
            if subs >= len(submissions) and rel >= len(guardians):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {subs} submissions in reporting, {rel} relations in notification")
            await asyncio.sleep(0.25)
        facts["eventsSeconds"] = round(time.perf_counter() - t, 1)
        await conn.execute("ANALYZE reporting.submission, reporting.heading_level, reporting.indicator_level, reporting.pulse_level")
    finally:
        await conn.close()
        await producer.stop()

    t = time.perf_counter()
    today = city_today()
    loaded = await load_apps(service_database_url("catalog", stack.admin_url), generate_apps(apps, today), today)
    facts["catalogSeconds"] = round(time.perf_counter() - t, 1)

    t = time.perf_counter()
    notification = stack.services["notification"].url
    queue: asyncio.Queue[tuple[uuid.UUID, int]] = asyncio.Queue()
    for n in range(broadcasts):
        for d, _name in city.districts:
            queue.put_nowait((d, n))

    async def sender(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            district, n = queue.get_nowait()
            token = mint(DEV_JWT_SECRET, subject=f"bench-admin-{district}", roles=["district_admin"], districts=[district])
            r = await http.post("/broadcasts", headers={"Authorization": "Bearer " + token}, json={
                "audience": {"kind": "guardians"}, "subject": f"Veckobrev {n + 1}",
                "body": "Hej! Här kommer veckans information från skolan: utvecklingssamtal, friluftsdag och läxhjälp på torsdagar.",
                "link": "/inbox"})
            if r.status_code != 201:
                raise RuntimeError(f"POST /broadcasts answered {r.status_code}: {r.text[:300]}")

    async with httpx.AsyncClient(base_url=notification, timeout=300) as http:
        await asyncio.gather(*(sender(http) for _ in range(2)))
    conn = await asyncpg.connect(stack.admin_url)
    try:
        await conn.execute("ANALYZE notification.delivery, notification.message")
        facts["inboxRows"] = await conn.fetchval("SELECT count(*) FROM notification.delivery WHERE channel = 'inapp'")
    finally:
        await conn.close()
    facts["broadcastSeconds"] = round(time.perf_counter() - t, 1)
    facts.update(schoolUnits=len(city.schools), districts=len(city.districts), submissions=len(submissions), guardians=len(guardians),
                 apps=loaded["apps"], broadcastsPerDistrict=broadcasts, messagesPerInbox=broadcasts)
    facts["data"] = {
        "hosts": {name: stack.services[name].url for name in ("reporting", "catalog", "notification")},
        "tokens": {"reporting": mint(DEV_JWT_SECRET, subject="bench", roles=["city_admin"], ttl_seconds=86400),
                   "catalog": mint(DEV_JWT_SECRET, subject="bench-teacher", roles=["teacher"], ttl_seconds=86400)},
        "schools": [str(s.id) for s in city.schools],
        "guardians": [(str(g), mint(DEV_JWT_SECRET, subject=str(g), roles=["guardian"], ttl_seconds=86400)) for g, _ in rng.sample(guardians, min(2000, len(guardians)))],
        "queries": [urlencode(k.params) for k in QUERIES],
    }
    return facts


async def baseline(data: dict[str, Any], n: int) -> dict[str, Any]:
    """Each read ``n`` times, one at a time on one keep-alive connection, nothing else running."""
    rng = random.Random(SEED)
    out = {}
    reads = {
        "school report": (data["hosts"]["reporting"], lambda: (f"/school-units/{rng.choice(data['schools'])}/report", data["tokens"]["reporting"])),
        "catalogue search": (data["hosts"]["catalog"], lambda: ("/apps?" + rng.choice(data["queries"]), data["tokens"]["catalog"])),
        "inbox": (data["hosts"]["notification"], lambda: (lambda g: (f"/persons/{g[0]}/messages", g[1]))(rng.choice(data["guardians"]))),
    }
    for name, (host, pick) in reads.items():
        async with httpx.AsyncClient(base_url=host, timeout=30) as http:
            times = []
            for i in range(n + 20):
                path, token = pick()
                t = time.perf_counter()
                r = await http.get(path, headers={"Authorization": "Bearer " + token})
                if r.status_code != 200:
                    raise RuntimeError(f"{path} answered {r.status_code}: {r.text[:300]}")
                if i >= 20:  # the first 20 warm up
                    times.append((time.perf_counter() - t) * 1000)
        out[name] = {"n": n, "p50": pct(times, 50), "p99": pct(times, 99), "max": round(max(times), 1)}
    return out


ROUTES = {"school report": ("reporting", "/school-units/{school_unit_id}/report"), "catalogue search": ("catalog", "/apps"),
          "inbox": ("notification", "/persons/{person_id}/messages")}


def server_histograms(stack: Stack) -> dict[str, dict[float, float]]:
    """Each read's cumulative bucket counts of the services' own request-duration histogram (from /metrics)."""
    out: dict[str, dict[float, float]] = {}
    for read, (svc, route) in ROUTES.items():
        text = httpx.get(stack.services[svc].url + "/metrics", timeout=10).text
        buckets: dict[float, float] = {}
        for line in text.splitlines():
            if line.startswith("skolit_http_request_duration_seconds_bucket{") and f'route="{route}"' in line and 'method="GET"' in line:
                le = line.split('le="')[1].split('"')[0]
                buckets[float("inf") if le == "+Inf" else float(le)] = buckets.get(float("inf") if le == "+Inf" else float(le), 0.0) + float(line.rsplit(" ", 1)[1])
        out[read] = buckets
    return out


def server_side(before: dict[str, dict[float, float]], after: dict[str, dict[float, float]]) -> dict[str, Any]:
    """From two scrapes: per read, requests served and the bucket bounds holding the p50 and p99 (in the service, no client or queue)."""
    out = {}
    for read, buckets in after.items():
        delta = sorted((le, n - before.get(read, {}).get(le, 0.0)) for le, n in buckets.items())
        total = delta[-1][1] if delta else 0
        def bound(q: float, delta: list[tuple[float, float]] = delta, total: float = total) -> str | None:  # this read's counts
            for le, n in delta:
                if total and n >= q * total:
                    return f"≤ {le * 1000:.0f}" if le != float("inf") else "> 5000"
            return None
        out[read] = {"requests": int(total), "p50Bucket": bound(0.5), "p99Bucket": bound(0.99),
                     "within25ms": round(dict(delta).get(0.025, 0) / total, 4) if total else None}
    return out


class Floors:
    """bench/floor.py, one process per read (as each read has a service of its own), against the same database."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.urls: dict[str, str] = {}

    def start(self, timeout: float = 60) -> dict[str, str]:
        for read, svc in FLOOR_READS.items():
            port = free_port()
            cmd = [sys.executable, "-m", "bench.floor", "--read", read, "--database-url", service_database_url(svc, self.stack.admin_url), "--port", str(port)]
            with open(self.stack.workdir / f"floor-{read}.log", "ab") as log:
                self.procs[read] = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=subprocess.STDOUT,
                                                    start_new_session=True)
            self.urls[svc] = f"http://127.0.0.1:{port}"
            self.stack.sampler.track_tree(f"floor {svc}", self.procs[read].pid)
        deadline = time.monotonic() + timeout
        for read, svc in FLOOR_READS.items():
            while True:
                if self.procs[read].poll() is not None:
                    raise RuntimeError(f"the {read} floor exited: " + (self.stack.workdir / f"floor-{read}.log").read_text(errors="replace")[-2000:])
                try:
                    if httpx.get(self.urls[svc] + "/", timeout=2).status_code == 404:  # up, and its pool made
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the {read} floor did not start within {timeout:.0f} s")
                time.sleep(0.2)
        return self.urls

    def stop(self) -> None:
        for proc in self.procs.values():
            stop_process(proc, grace=10)


FLOOR_READS = {"report": "reporting", "search": "catalog", "inbox": "notification"}


def locust_run(stack: Stack, data_path: Path, rate: float, seconds: float, number: int, against: str = "skolit") -> dict[str, Any]:
    """One locust run at ``rate`` against Skolit's services, or (``against="floor"``) against bench/floor.py's processes."""
    out_path = stack.workdir / f"locust-{against}-{number}.json"
    env = {**os.environ, "BENCH_READS_DATA": str(data_path), "BENCH_READS_PER_USER": str(rate / USERS), "BENCH_READS_OUT": str(out_path),
           "PYTHONPATH": str(ROOT)}
    cmd = [str(Path(sys.executable).with_name("locust")), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "-u", str(USERS), "-r", str(USERS),
           "--run-time", f"{int(seconds)}s", "--stop-timeout", "5", "--only-summary", "--loglevel", "WARNING",
           "--csv", str(stack.workdir / f"locust-{against}-{number}")]
    load = load_average()
    hist0 = server_histograms(stack) if against == "skolit" else {}
    log = open(stack.workdir / f"locust-{against}-{number}.log", "ab")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    stack.sampler.track("locust", proc.pid)
    cpu0 = stack.sampler.cpu_totals()
    try:
        proc.wait(timeout=seconds + 120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
    cpu1 = stack.sampler.cpu_totals()
    served = server_side(hist0, server_histograms(stack)) if against == "skolit" else None
    samples = json.loads(out_path.read_text())
    t0 = min(s[1] for s in samples)
    per: dict[str, Any] = {}
    for name in READS:
        mine = [s for s in samples if s[0] == name]
        steady = [s[2] for s in mine if s[1] - t0 >= RAMP_S and s[3]]
        errors = sum(1 for s in mine if not s[3])
        span = max(s[1] for s in mine) - t0 - RAMP_S if mine else 0
        per[name] = {"requests": len(mine), "errors": errors, "errorRate": round(errors / len(mine), 4) if mine else None,
                     "ratePerSecond": round(sum(1 for s in mine if s[1] - t0 >= RAMP_S) / span, 1) if span > 0 else None,
                     "p50": pct(steady, 50), "p95": pct(steady, 95), "p99": pct(steady, 99), "max": round(max(steady), 1) if steady else None}
    total = len(samples)
    steady_all = [s for s in samples if s[1] - t0 >= RAMP_S]
    span = max(s[1] for s in samples) - t0 - RAMP_S
    out = {"run": number, "against": against, "loadAverageAtStart": load, "users": USERS, "targetRate": rate, "requests": total,
           "errors": sum(1 for s in samples if not s[3]), "achievedRate": round(len(steady_all) / span, 1) if span > 0 else None,
           "perRead": per, "serverSide": served, "locustCpuSeconds": round(cpu1.get("locust", 0.0) - cpu0.get("locust", 0.0), 1),
           "cpuSeconds": {k: round(cpu1.get(k, 0.0) - cpu0.get(k, 0.0), 1) for k in cpu1}}
    out["locustCpuShare"] = round(out["locustCpuSeconds"] / seconds, 2)
    print(f"  reads run {number} ({against}): {out['achievedRate']}/s achieved of {rate:.0f}; " +
          "; ".join(f"{k} p50 {v['p50']} p99 {v['p99']} ms err {v['errors']}" for k, v in per.items()) +
          f"; locust {out['locustCpuShare']:.0%} of a core; load {load}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    terminate_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench.http_reads", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second in all (default 500)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of a locust run (default 60)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--schools", type=int, default=600)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--guardians-per-school", type=int, default=20)
    parser.add_argument("--apps", type=int, default=10_000)
    parser.add_argument("--broadcasts", type=int, default=12, help="broadcasts per district (default 12)")
    parser.add_argument("--profile", action="append", default=[], choices=SERVICES, help="run this service under pyinstrument (slows it)")
    parser.add_argument("--experiment", default=None, help="run the services with a bench-only experiment (bench/experiment.py)")
    parser.add_argument("--no-floor", action="store_true", help="do not measure bench/floor.py beside each run (issue 24's floor)")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine (development)")
    parser.add_argument("--no-summary", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)

    quiet = wait_quiet(enabled=not args.no_wait)
    started = time.monotonic()
    rng = random.Random(SEED)
    profiles = {name: Path(f"/tmp/skolit-bench-profile-reads-{name}.pyisession") for name in args.profile}
    stack = Stack("reads", profile=profiles, experiment=args.experiment, keep=args.keep)
    runs: list[dict[str, Any]] = []
    floor_runs: list[dict[str, Any]] = []
    floors = Floors(stack)
    try:
        stack.start()
        stack.start_services()
        print("loading: city, guardians, submissions, apps, broadcasts ...", flush=True)
        with stack.sampler.phase("load"):
            facts = asyncio.run(load_data(stack, args.schools, args.years, args.guardians_per_school, args.apps, args.broadcasts, rng))
        data = facts.pop("data")
        data_path = stack.workdir / "reads.json"
        data_path.write_text(json.dumps(data))
        print(f"  loaded: {facts}", flush=True)
        # the next measurement needs a quiet machine again, not the load's tail
        time.sleep(5)
        with stack.sampler.phase("baseline"):
            base = asyncio.run(baseline(data, BASELINE_REQUESTS))
        print("  unloaded, one at a time: " + "; ".join(f"{k} p50 {v['p50']} p99 {v['p99']} ms" for k, v in base.items()), flush=True)
        floor_path = stack.workdir / "reads-floor.json"
        if not args.no_floor:
            urls = floors.start()
            floor_path.write_text(json.dumps({**data, "hosts": {svc: urls[svc] for svc in data["hosts"]}}))
            print("  floors: " + ", ".join(f"{k} {v}" for k, v in urls.items()), flush=True)
        with stack.sampler.phase("runs"):
            for number in range(1, args.runs + 1):
                # Skolit, then the floor at the same rate: each run's pair shares the machine's state
                runs.append(locust_run(stack, data_path, args.rate, args.seconds, number))
                if not args.no_floor:
                    time.sleep(3)
                    floor_runs.append(locust_run(stack, floor_path, args.rate, args.seconds, number, against="floor"))
                if number < args.runs:
                    time.sleep(3)
        memory = stack.peak_rss()
        locust_peak = round(stack.sampler.peak.get("locust", 0.0), 1)
        cpu = stack.sampler.phase_cpu
    finally:
        floors.stop()
        stack.stop()
    profile = {name: profile_top(path) for name, path in profiles.items()}
    per_read = {}
    for name in READS:
        p99s = [r["perRead"][name]["p99"] for r in runs]
        per_read[name] = {"p50": summary.spread([r["perRead"][name]["p50"] for r in runs]), "p99": summary.spread(p99s),
                          "errorRate": max(r["perRead"][name]["errorRate"] or 0 for r in runs),
                          "ratePerSecond": summary.spread([r["perRead"][name]["ratePerSecond"] for r in runs]),
                          "baselineP99": base[name]["p99"], "baselineP50": base[name]["p50"],
                          "runsMeetingTarget": sum(p < TARGET_P99_MS for p in p99s), "runs": len(runs)}
        if floor_runs:
            per_read[name].update(summary.floor_figures([r["perRead"][name] for r in runs], [r["perRead"][name] for r in floor_runs]))
    result = {
        "arguments": {"rate": args.rate, "seconds": args.seconds, "runs": args.runs, "floor": not args.no_floor, "users": USERS, "rampSeconds": RAMP_S, "schools": args.schools,
                      "years": args.years, "guardiansPerSchool": args.guardians_per_school, "apps": args.apps, "broadcasts": args.broadcasts,
                      "profiled": args.profile, "experiment": args.experiment},
        "quiet": quiet, "durationSeconds": round(time.monotonic() - started, 1), "load": facts, "baseline": base, "runs": runs, "floorRuns": floor_runs,
        "floorAchievedRate": summary.spread([r["achievedRate"] for r in floor_runs]) if floor_runs else None,
        "achievedRate": summary.spread([r["achievedRate"] for r in runs]), "perRead": per_read,
        "locustCpuShare": summary.spread([r["locustCpuShare"] for r in runs], 2), "locustPeakRssMiB": locust_peak,
        "memory": memory, "cpuSecondsByPhase": cpu, "profile": profile,
    }
    summary.record("httpReads", "bench.http_reads", result, args, argv)
    for name, s in per_read.items():
        print(f"{name:<17} p50 {s['p50']['median']} p99 {s['p99']['median']} ({s['p99']['min']}–{s['p99']['max']}) ms, errors {s['errorRate']:.2%}, "
              f"unloaded p99 {s['baselineP99']} ms" + (f"; floor p99 {s['floorP99']['median']} ms, {s['timesFloor']['median']}× the floor" if s.get("floorP99") else ""))
    print(f"achieved {result['achievedRate']} requests/s; locust {result['locustCpuShare']} of a core")
    print("memory: " + ", ".join(f"{k} {v['peakRssMiB']} MiB" for k, v in memory.items()))
    for name, lines in profile.items():
        print(f"--- profile {name} ---\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
