"""Benchmark: the SS 12000 connector syncing a city of the size docs/scaling.md plans for (~270 school units,
~100,000 pupils, ~115,000 guardians, ~14,000 staff) from the SS 12000 test server (devkit/ss12000) into the four
running services — a first sync, then a full resync and an incremental sync with nothing changed.

    .venv/bin/python -m bench.ss12000_sync [--schools 270] [--districts 6] [--school-size 1.0] [--page-size 1000] [--no-wait]

Everything is a process of its own, as in production: embedded PostgreSQL and the Tansu broker and the four services
(bench/stack.py), the SS 12000 test server (``python -m devkit.ss12000``, its generated city deterministic by seed) and
the connector (``python -m connectors.ss12000``, configured with the server's URL and client credentials; its periodic
sync set to a day so that only the syncs below run). The connector starts its first sync a second after it starts (a
state with no sync yet: every entity is new); the benchmark then asks for a full resync and an incremental one
(``POST /sync`` as a city administrator) and waits for each to finish (``GET /sync``).

Measured per sync: its seconds (the run's own start and finish), the entities it read, the events it staged; for the
first sync also the seconds until the connector's outbox is published and every service has applied every event it
handles (their ``inbox`` rows on the city topics), and events/s over that time; the connector's and the server's peak
resident set (psutil, every 0.5 s) and the server's request counts. A no-change resync must stage no event and change
no service's inbox: its figures say whether it did. The results go to docs/benchmarks/ss12000-sync.{json,md} and to the
summary (bench/summary.py, part ``ss12000Sync``).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import summary
from bench.process import ServiceProcess, code_line, machine_line, write_json
from bench.stack import ROOT, Stack, load_average, terminate_on_sigterm, wait_quiet
from shared.auth import Role, mint
from shared.db import provision
from shared.settings import CONNECTOR, DEV_JWT_SECRET, SERVICES

PY = sys.executable
OUT_DIR = ROOT / "docs" / "benchmarks"
CLIENT_ID, CLIENT_SECRET = "skolit-bench", "bench-secret-not-for-production"
POLL_S = 0.5  # the services' inboxes, once the sync has finished
RUN_POLL_S = 2.0
SYNC_TIMEOUT_S = 3600.0
CITY_TOPICS = "skolit.city.%"


def handled_types() -> dict[str, set[str]]:
    """The event types each service applies (its ServiceSpec's handlers), as bench/city_ingest.py counts them."""
    return {name: set(import_module(f"services.{name}.app").SPEC.all_handlers().by_type) for name in SERVICES}


# --- the processes ----------------------------------------------------------------------------------------------------

def start_server(args: argparse.Namespace, log: Path) -> tuple[subprocess.Popen[str], str]:
    """The SS 12000 test server; its URL from the one line it prints when it listens."""
    cmd = [PY, "-m", "devkit.ss12000", "--port", "0", "--schools", str(args.schools), "--districts", str(args.districts), "--seed", str(args.seed),
           "--school-size", str(args.school_size), "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET, "--max-page", str(args.page_size),
           "--token-seconds", "300"]
    with open(log, "ab") as err:  # the child keeps its own descriptor
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("ss12000 listening on "):
        proc.kill()
        raise RuntimeError(f"the SS 12000 server did not start: {line!r} (log {log})")
    return proc, line.removeprefix("ss12000 listening on ")


def start_connector(stack: Stack, url: str, page_size: int) -> ServiceProcess:
    asyncio.run(provision(stack.admin_url, (CONNECTOR,)))  # its role and schema (bench/stack.py provisions the four services')
    connector = ServiceProcess(CONNECTOR, stack.admin_url, stack.workdir, stack.bootstrap)
    connector.env.update(SKOLIT_SS12000_URL=url, SKOLIT_SS12000_CLIENT_ID=CLIENT_ID, SKOLIT_SS12000_CLIENT_SECRET=CLIENT_SECRET,
                         SKOLIT_SS12000_PAGE_SIZE=str(page_size), SKOLIT_SS12000_SYNC_SECONDS=str(86400))
    connector.start([PY, "-m", "connectors.ss12000"])
    connector.wait_until(lambda c: c.get("/readyz").status_code == 200, "ready", 120)
    return connector


# --- the connector's runs ---------------------------------------------------------------------------------------------

_ADMIN: dict[str, str] = {}


def admin_headers() -> dict[str, str]:
    if not _ADMIN:
        _ADMIN["Authorization"] = "Bearer " + mint(DEV_JWT_SECRET, subject="bench-city-admin", roles=[Role.CITY_ADMIN], ttl_seconds=6 * 3600)
    return _ADMIN


def runs(connector: ServiceProcess) -> list[dict[str, Any]]:
    with httpx.Client(base_url=connector.url, timeout=30) as c:
        r = c.get("/sync", headers=admin_headers())
        r.raise_for_status()
        return list(r.json()["runs"])


def wait_run(connector: ServiceProcess, after_id: int | None, what: str) -> dict[str, Any]:
    """The first run with an id above ``after_id`` once it has finished (ok or failed). Polled through the connector's
    ``GET /sync`` every ``RUN_POLL_S``: the run's own timestamps give its duration, so the poll need not be frequent
    (and stays out of the measurement's way)."""
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    while time.monotonic() < deadline:
        if connector.exited() is not None:
            raise RuntimeError(f"the connector exited with {connector.exited()}:\n{connector.log_tail()}")
        newer = [r for r in runs(connector) if after_id is None or r["id"] > after_id]
        done = [r for r in newer if r["outcome"] != "running"]
        if done:
            run = min(done, key=lambda r: r["id"])
            print(f"  {what}: run {run['id']} ({run['mode']}, {run['trigger']}) {run['outcome']}: {run['counts'].get('events')} events", flush=True)
            return run
        time.sleep(RUN_POLL_S)
    raise TimeoutError(f"{what}: no finished sync within {SYNC_TIMEOUT_S:.0f} s")


def ask_sync(connector: ServiceProcess, mode: str) -> None:
    with httpx.Client(base_url=connector.url, timeout=30) as c:
        r = c.post("/sync", json={"mode": mode}, headers=admin_headers())
        if r.status_code != 202:
            raise RuntimeError(f"POST /sync {mode}: {r.status_code} {r.text}")


def seconds_of(run: dict[str, Any]) -> float:
    started = datetime.fromisoformat(run["startedAt"])
    finished = datetime.fromisoformat(run["finishedAt"])
    return round((finished - started).total_seconds(), 2)


# --- what reached the services ------------------------------------------------------------------------------------------

async def outbox_and_inboxes(admin_url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(admin_url)
    try:
        staged = await conn.fetch(f'SELECT event_type, count(*) AS n, count(published_at) AS published FROM "{CONNECTOR}".outbox GROUP BY event_type')
        inbox = {name: int(await conn.fetchval(f'SELECT count(*) FROM "{name}".inbox WHERE topic LIKE $1', CITY_TOPICS)) for name in SERVICES}
    finally:
        await conn.close()
    return {"staged": {r["event_type"]: int(r["n"]) for r in staged}, "published": sum(int(r["published"]) for r in staged), "inbox": inbox}


def wait_applied(admin_url: str, handled: dict[str, set[str]], connector: ServiceProcess) -> tuple[dict[str, Any], dict[str, float]]:
    """Until the connector's outbox is published and each service's inbox holds every staged event it handles; the state
    then and the wall-clock time (epoch seconds) at which the outbox was published and each service was done. Called
    once the sync has finished (counting 400,000 inbox rows every half second would load the database it measures)."""
    done: dict[str, float] = {}
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    while time.monotonic() < deadline:
        state = asyncio.run(outbox_and_inboxes(admin_url))
        staged = state["staged"]
        expected = {name: sum(n for t, n in staged.items() if t in types) for name, types in handled.items()}
        state["expected"] = expected
        now = time.time()
        if "published" not in done and state["published"] >= sum(staged.values()):
            done["published"] = now
        for name in SERVICES:
            if name not in done and state["inbox"][name] >= expected[name]:
                done[name] = now
        if len(done) == len(SERVICES) + 1:
            return state, done
        if connector.exited() is not None:
            raise RuntimeError(f"the connector exited with {connector.exited()}:\n{connector.log_tail()}")
        time.sleep(POLL_S)
    raise TimeoutError(f"the services did not apply the connector's events within {SYNC_TIMEOUT_S:.0f} s")


def server_stats(url: str) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=30) as c:
        return dict(c.get("/_test/stats").json())


# --- one measurement ------------------------------------------------------------------------------------------------------

def measure(args: argparse.Namespace) -> dict[str, Any]:
    handled = handled_types()
    stack = Stack("ss12000", services=SERVICES)
    server: subprocess.Popen[str] | None = None
    connector: ServiceProcess | None = None
    try:
        stack.start()
        stack.start_services()
        server, url = start_server(args, stack.workdir / "ss12000-server.log")
        stack.sampler.track("ss12000-server", server.pid)
        stack.sampler.track_tree("ss12000-server", server.pid)
        city = server_stats(url)["entities"]
        print(f"SS 12000 test server at {url}: " + ", ".join(f"{n} {k}" for k, n in city.items()), flush=True)
        load_at_start = load_average()
        with stack.sampler.phase("first sync"):
            connector = start_connector(stack, url, args.page_size)
            assert connector.proc is not None
            stack.sampler.track("connector", connector.proc.pid)
            stack.sampler.track_tree("connector", connector.proc.pid)
            first = wait_run(connector, None, "first sync")
            if first["outcome"] != "ok":
                raise RuntimeError(f"the first sync failed: {first.get('error')}\n{connector.log_tail()}")
            applied, done_at = wait_applied(stack.admin_url, handled, connector)
        stats_first = server_stats(url)
        started = datetime.fromisoformat(first["startedAt"]).timestamp()
        events = int(first["counts"].get("events") or 0)
        until_applied = round(max(done_at.values()) - started, 2)
        first_figures = {
            "run": first, "seconds": seconds_of(first), "events": events, "eventsPublished": applied["published"],
            "eventsPerSecondStaged": round(events / seconds_of(first), 1) if seconds_of(first) else None,
            "secondsUntilPublished": round(done_at["published"] - started, 2),
            "secondsUntilAppliedByAll": until_applied,
            "secondsUntilAppliedBy": {name: round(done_at[name] - started, 2) for name in SERVICES},
            "eventsPerSecond": round(events / until_applied, 1) if until_applied > 0 else None,
            "eventsByType": applied["staged"], "appliedByService": applied["inbox"], "expectedByService": applied["expected"],
            "entitiesRead": stats_first["entitiesServed"], "requests": stats_first["requests"], "tokensIssued": stats_first["tokensIssued"],
            "loadAverageAtStart": load_at_start,
        }
        print(f"  first sync: {events} events, {first_figures['seconds']} s; applied by every service after {until_applied} s "
              f"({first_figures['eventsPerSecond']} events/s)", flush=True)

        resyncs: dict[str, Any] = {}
        for mode in ("full", "incremental"):
            before = server_stats(url)["entitiesServed"]
            load = load_average()
            with stack.sampler.phase(f"{mode} resync"):
                latest = max(r["id"] for r in runs(connector))
                ask_sync(connector, mode)
                run = wait_run(connector, latest, f"no-change {mode} resync")
            time.sleep(3.0)  # anything it staged would be published and applied within this
            after_state = asyncio.run(outbox_and_inboxes(stack.admin_url))
            served = server_stats(url)["entitiesServed"]
            resyncs[mode] = {"run": run, "seconds": seconds_of(run), "events": int(run["counts"].get("events") or 0),
                             "entitiesRead": {k: served.get(k, 0) - before.get(k, 0) for k in served},
                             "inboxUnchanged": after_state["inbox"] == applied["inbox"],
                             "outboxUnchanged": after_state["staged"] == applied["staged"], "loadAverageAtStart": load}
            print(f"  no-change {mode} resync: {resyncs[mode]['events']} events, {resyncs[mode]['seconds']} s, "
                  f"inboxes unchanged: {resyncs[mode]['inboxUnchanged']}", flush=True)
        peaks = {name: round(stack.sampler.peak.get(name, 0.0), 1) or None for name in ("connector", "ss12000-server", *SERVICES)}
        phases = {label: {name: round(mib, 1) for name, mib in by.items()} for label, by in stack.sampler.phase_peak.items()}
        return {"city": city, "first": first_figures, "resync": resyncs, "peakRssMiB": peaks, "phasePeakRssMiB": phases,
                "cpuSecondsByPhase": dict(stack.sampler.phase_cpu),
                "serverStats": {k: v for k, v in server_stats(url).items() if k != "webhooks"}}
    finally:
        if connector is not None:
            connector.stop()
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        stack.stop()


# --- the report -----------------------------------------------------------------------------------------------------------

def render(result: dict[str, Any]) -> str:
    a, f, city = result["arguments"], result["first"], result["city"]
    lines = [
        "# SS 12000 sync: a city of the planned size through the connector",
        "",
        f"Measured {result['measuredAt']} by `{result['command']}` (bench/ss12000_sync.py).",
        "",
        machine_line(result["machine"]),
        code_line(result["code"]),
        "",
        f"The city (devkit/ss12000, seed {a['seed']}, {a['schools']} school units in {a['districts']} districts): "
        + ", ".join(f"{n:,} {k}".replace(",", " ") for k, n in city.items()) + f". Pages of {a['page_size']}.",
        "",
        "| Sync | Seconds (the run) | Events staged | Events published | Until applied by all four services | Events/s (until applied) | Entities read |",
        "|---|--:|--:|--:|--:|--:|--:|",
        f"| first (every entity new) | {f['seconds']} | {f['events']:,} | {f['eventsPublished']:,} | {f['secondsUntilAppliedByAll']} s | {f['eventsPerSecond']} | "
        f"{sum(f['entitiesRead'].values()):,} |".replace(",", " "),
    ]
    for mode, r in result["resync"].items():
        lines.append(f"| no-change {mode} resync | {r['seconds']} | {r['events']} | {'none' if r['outboxUnchanged'] else 'some'} | "
                     f"inboxes unchanged: {r['inboxUnchanged']} | – | {sum(r['entitiesRead'].values()):,} |".replace(",", " "))
    lines += [
        "",
        "Until published (polled every 0.5 s once the run had finished, so never below the run's own seconds): the connector's "
        f"outbox relay had published every staged event {f['secondsUntilPublished']} s after the first sync started; per service, "
        "all it handles applied after: "
        + ", ".join(f"{n} {s} s" for n, s in f["secondsUntilAppliedBy"].items()) + ".",
        "",
        "Events by type (first sync): " + ", ".join(f"{t} {n:,}".replace(",", " ") for t, n in sorted(f["eventsByType"].items())) + ".",
        "",
        "Peak resident set (MiB, sampled every 0.5 s over the whole benchmark): "
        + ", ".join(f"{n} {v}" for n, v in result["peakRssMiB"].items() if v) + ".",
        "",
        "A no-change resync must stage no event (deterministic event ids and fingerprints): "
        + ("it staged none and no service's inbox grew." if all(r["events"] == 0 and r["inboxUnchanged"] for r in result["resync"].values())
           else "**it did not** (see the table)."),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    terminate_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench.ss12000_sync", description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=270, help="school units (default 270: ~100,000 pupils)")
    parser.add_argument("--districts", type=int, default=6)
    parser.add_argument("--school-size", type=float, default=1.0, help="scales each school's pupils (a smaller trial: 0.1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--page-size", type=int, default=1000, help="the connector's page size and the server's largest page")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine (development)")
    parser.add_argument("--no-summary", action="store_true", help="do not write docs/benchmarks.{md,json}")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where ss12000-sync.{json,md} go (default docs/benchmarks)")
    args = parser.parse_args(argv)

    from bench.catalog_search import code_version, machine_facts

    quiet = wait_quiet(enabled=not args.no_wait)
    started = time.monotonic()
    figures = measure(args)
    command = "python -m bench.ss12000_sync " + " ".join(argv if argv is not None else sys.argv[1:])
    result = {"measuredAt": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "command": command.strip(), "arguments": vars(args) | {"out_dir": str(args.out_dir)},
              "machine": machine_facts(), "code": code_version(), "quiet": quiet, "durationSeconds": round(time.monotonic() - started, 1), **figures}
    write_json(result, args.out_dir / "ss12000-sync.json")
    (args.out_dir / "ss12000-sync.md").write_text(render(result), encoding="utf-8")
    print(f"wrote {args.out_dir / 'ss12000-sync.md'}", flush=True)
    if not args.no_summary:
        f = figures["first"]
        summary.update("ss12000Sync", {
            "source": "docs/benchmarks/ss12000-sync.json", "arguments": result["arguments"], "durationSeconds": result["durationSeconds"],
            "quiet": quiet, "city": figures["city"],
            # the summary's memory table (bench/summary.py memory_table) and load column (_load) read these two
            "memory": {name: {"peakRssMiB": figures["peakRssMiB"].get(name), "idleRssMiB": None} for name in SERVICES},
            "runs": [{"run": 1, "loadAverageAtStart": f["loadAverageAtStart"]}],
            "headline": {"firstSeconds": f["seconds"], "firstEvents": f["events"], "firstUntilAppliedSeconds": f["secondsUntilAppliedByAll"],
                         "eventsPerSecond": f["eventsPerSecond"], "resyncFullSeconds": figures["resync"]["full"]["seconds"],
                         "resyncFullEvents": figures["resync"]["full"]["events"],
                         "resyncIncrementalSeconds": figures["resync"]["incremental"]["seconds"],
                         "resyncIncrementalEvents": figures["resync"]["incremental"]["events"],
                         "connectorPeakRssMiB": figures["peakRssMiB"].get("connector")},
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
