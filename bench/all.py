"""`make bench`: every benchmark, one after another, each as a process of its own, then the one summary
docs/benchmarks.md + docs/benchmarks.json (bench/summary.py).

    .venv/bin/python -m bench.all [--only PART ...] [--skip PART ...] [--fold-only]

Parts, in order, with the sizes `make bench` uses (about 40 minutes on two cores without cityBroadcast, whose
baseline and three runs with and three without the read storm take about 1 h 50 min more — each run ~15 minutes on
two cores, 2026-12-07; fewer runs for the slow per-area ones, and the
summary says how many each had):

  cityIngest     python -m bench.city_ingest --events 200000 --naive-events 20000 --broker-runs 3 --runs 3
                 (the broker's ceiling is measured inside it, on the same broker, before the services start)
  freshness      python -m bench.freshness --rate 200 --seconds 60 --runs 3
  cityIngestKafka  python -m bench.city_ingest --engine kafka --events 100000 --naive-events 10000 --broker-runs 3 --runs 3
  freshnessKafka   python -m bench.freshness --engine kafka --rate 200 --seconds 60 --runs 2
                 (the same two on a three-node Apache Kafka cluster, devkit/kafka, each against that cluster's own raw
                 produce/consume ceiling and round trip measured in the same run; smaller, three JVMs share the two cores)
  httpReads      python -m bench.http_reads --rate 500 --seconds 60 --runs 3
  broadcast      python -m bench.broadcast --guardians 50000 --runs 2 --runs-without-callbacks 1 --out docs/benchmarks/broadcast
  catalogSearch  python -m bench.catalog_search --runs 1 --requests 200
  reporting      python -m bench.reporting --runs 1 --requests 100 --samples 100
  web            python -m bench.web --runs 3 --requests 300 --warmup 30   (server time per web page, docs/benchmarks/web.md)
  cityBroadcast  python -m bench.broadcast --guardians 200000 --critical --baseline-runs 1 --runs 3 --storm-runs 3 ...
                 (issue 24: the whole-city critical message against the sinks' own intake alone, and with the 1,000/s inbox
                 storm; ~310,000 messages a run, so this part alone takes almost two hours — `--skip cityBroadcast` leaves it out)
  ss12000Sync    python -m bench.ss12000_sync   (the SS 12000 connector syncing a city of docs/scaling.md's size from the test
                 server devkit/ss12000: a first sync and a no-change full and incremental resync, docs/benchmarks/ss12000-sync.md)

Before the first part the machine must be quiet: the 1-minute load average below 1.0 (checked every 10 s, for
up to 30 minutes). Before each later part: the same, or the whole machine's CPU use over 5 s below 20% (the
load average still carries the part that just ended for a minute or two). What was found is recorded per part.
While a per-area benchmark runs, every process of its tree started as `-m services.<name>` is sampled every
0.5 s for its resident set (psutil), so the memory target covers those runs too.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import summary
from bench.stack import ROOT, ResourceSampler, wait_quiet
from shared.settings import SERVICES

PY = sys.executable
BETWEEN_BUSY_PERCENT = 20.0
PARTS: dict[str, list[str]] = {
    "cityIngest": [PY, "-m", "bench.city_ingest", "--events", "200000", "--naive-events", "20000", "--broker-runs", "3", "--runs", "3", "--no-wait"],
    "freshness": [PY, "-m", "bench.freshness", "--rate", "200", "--seconds", "60", "--runs", "3", "--no-wait"],
    "cityIngestKafka": [PY, "-m", "bench.city_ingest", "--engine", "kafka", "--events", "100000", "--naive-events", "10000", "--broker-runs", "3",
                        "--runs", "3", "--no-wait"],
    "freshnessKafka": [PY, "-m", "bench.freshness", "--engine", "kafka", "--rate", "200", "--seconds", "60", "--runs", "2", "--no-wait"],
    "httpReads": [PY, "-m", "bench.http_reads", "--rate", "500", "--seconds", "60", "--runs", "3", "--no-wait"],
    "broadcast": [PY, "-m", "bench.broadcast", "--guardians", "50000", "--runs", "2", "--runs-without-callbacks", "1", "--out", "docs/benchmarks/broadcast"],
    "catalogSearch": [PY, "-m", "bench.catalog_search", "--runs", "1", "--requests", "200"],
    "reporting": [PY, "-m", "bench.reporting", "--runs", "1", "--requests", "100", "--samples", "100"],
    "web": [PY, "-m", "bench.web", "--runs", "3", "--requests", "300", "--warmup", "30"],
    "ss12000Sync": [PY, "-m", "bench.ss12000_sync", "--no-wait"],
    "cityBroadcast": [PY, "-m", "bench.broadcast", "--guardians", "200000", "--critical", "--baseline-runs", "1", "--runs", "3",
                      "--storm-runs", "3", "--storm-rate", "1000", "--storm-seconds", "60", "--runs-without-callbacks", "0",
                      "--out", "docs/benchmarks/city-broadcast", "--summary-part", "cityBroadcast"],
}
FOLDED = {"broadcast": "broadcast.json", "catalogSearch": "catalog-search.json", "reporting": "reporting.json", "web": "web.json"}


def _shown(cmd: list[str]) -> str:
    return " ".join([".venv/bin/python" if c == PY else c for c in cmd])


def headline(part: str, d: dict[str, Any]) -> dict[str, Any]:
    """The figures of a per-area benchmark's own JSON that the summary shows."""
    if part == "catalogSearch":
        http, sql = d["summary"]["http"], d["summary"]["sql"]
        labels = {q["key"]: f"({q['key']}) {q['label']}" for q in d["queries"]}
        worst = max(http, key=lambda k: http[k]["p99"])
        return {"apps": d["arguments"]["apps"], "runs": d["arguments"]["runs"], "requests": d["arguments"]["requests"],
                "worstLabel": labels[worst], "worstP99": http[worst]["p99"], "worstP99Min": http[worst]["p99Min"], "worstP99Max": http[worst]["p99Max"],
                "worstSqlP99": sql[worst]["p99"], "p99ByKind": {labels[k]: v["p99"] for k, v in http.items()},
                "kinds": len(http), "kindsMet": sum(v["runsMeetingTarget"] == v["runs"] for v in http.values()),
                "allMet": all(v["runsMeetingTarget"] == v["runs"] for v in http.values())}
    if part == "reporting":
        http, fresh = d["summary"]["http"], d["summary"]["freshness"]
        labels = {v["key"]: f"({v['key']}) {v['label']}" for v in d["views"]}
        worst = max(http, key=lambda k: http[k]["p99"])
        return {"schools": d["arguments"]["schools"], "years": d["arguments"]["years"], "runs": d["arguments"]["runs"],
                "worstLabel": labels[worst], "worstP99": http[worst]["p99"], "worstP99Min": http[worst]["p99Min"], "worstP99Max": http[worst]["p99Max"],
                "p99ByView": {labels[k]: v["p99"] for k, v in http.items()}, "allMet": all(v["runsMeetingTarget"] == v["runs"] for v in http.values()),
                "freshIdleP99": fresh["idle"]["p99"], "freshBackgroundP99": fresh["background"]["p99"],
                "freshBackgroundP99Min": fresh["background"]["p99Min"], "freshBackgroundP99Max": fresh["background"]["p99Max"],
                "backgroundRate": d["arguments"].get("backgroundRate", 100.0),
                "freshMet": all(f["runsMeetingTarget"] == f["runs"] for f in fresh.values())}
    if part == "web":
        return {"runs": d["arguments"]["runs"], "requests": d["arguments"]["requests"], "measuredBy": d.get("measuredBy"),
                "pages": {p["label"]: {"path": p["path"], **p["summary"]} for p in d["pages"]}, "allMet": d.get("allMet")}
    return {}


PER_AREA_DIR = ROOT / "docs" / "benchmarks"


def fold(part: str, extra: dict[str, Any] | None = None) -> bool:
    """Copies a per-area benchmark's figures (from its own file) into the summary; False if there is no file."""
    path = PER_AREA_DIR / FOLDED[part]
    if not path.exists():
        return False
    d = json.loads(path.read_text(encoding="utf-8"))
    previous = summary.load().get("parts", {}).get(part, {})
    entry: dict[str, Any] = {"source": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path), "arguments": d.get("arguments"), "durationSeconds": d.get("durationSeconds")}
    if part == "broadcast":
        entry["summary"] = d.get("summary")
        entry["runs"] = [{"run": r.get("run"), "loadAverageAtStart": r.get("loadAverageBefore"), "allAtSinksSeconds": r.get("allAtSinksSeconds")}
                         for r in d.get("runs", [])]
    else:
        entry["headline"] = headline(part, d)
    for key in ("memory", "quiet", "command"):  # what the orchestrator observed, kept when only re-folding
        if key in previous:
            entry[key] = previous[key]
    if d.get("code"):  # the code the per-area benchmark measured, not whatever is checked out when folding
        entry["code"] = d["code"]
    entry.update(extra or {})
    summary.update(part, entry, measured_at=d.get("measuredAt"))
    return True


def run_part(part: str, cmd: list[str], first: bool) -> dict[str, Any]:
    quiet = wait_quiet(busy_below=None if first else BETWEEN_BUSY_PERCENT)
    print(f"\n=== {part}: {_shown(cmd)}  (load {quiet['loadAverage']}, waited {quiet['waitedSeconds']} s)", flush=True)
    sampler = ResourceSampler()
    for name in SERVICES:
        sampler.match(name, rf"-m services\.{name}(\s|$)")
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT)
    sampler.track_tree(part, proc.pid)
    sampler.start()
    try:
        rc = proc.wait()
    except BaseException:
        proc.send_signal(signal.SIGTERM)  # the part stops what it started in its own finally
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise
    finally:
        sampler.stop()
    seconds = round(time.monotonic() - started, 1)
    step = {"part": part, "command": _shown(cmd), "seconds": seconds, "returncode": rc, "quiet": quiet}
    if rc != 0:
        print(f"!!! {part} failed with exit code {rc}", flush=True)
        return step
    if part in FOLDED:
        memory = {name: {"peakRssMiB": round(mib, 1), "idleRssMiB": round(sampler.first.get(name, 0.0), 1) or None}
                  for name, mib in sampler.peak.items() if name in SERVICES}
        fold(part, {"memory": memory, "quiet": quiet, "command": _shown(cmd)})
    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.all", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=list(PARTS), default=None)
    parser.add_argument("--skip", nargs="*", choices=list(PARTS), default=[])
    parser.add_argument("--engine", choices=["tansu", "kafka", "both"], default="both",
                        help="which engine's ingest and freshness parts run: tansu (cityIngest, freshness), kafka (cityIngestKafka, "
                             "freshnessKafka) or both (default); the other parts run on Tansu either way")
    parser.add_argument("--fold-only", action="store_true", help="run nothing: fold the per-area files into the summary and re-render it")
    parser.add_argument("--per-area-dir", type=Path, default=None,
                        help="where the per-area benchmarks write (default docs/benchmarks; for trial runs that must not replace those files)")
    args = parser.parse_args(argv)
    global PER_AREA_DIR
    if args.per_area_dir is not None:
        PER_AREA_DIR = args.per_area_dir.resolve()
        PARTS["broadcast"][PARTS["broadcast"].index("--out") + 1] = str(PER_AREA_DIR / "broadcast")
        PARTS["cityBroadcast"][PARTS["cityBroadcast"].index("--out") + 1] = str(PER_AREA_DIR / "city-broadcast")
        for part in ("catalogSearch", "reporting", "web", "ss12000Sync"):
            PARTS[part] += ["--out-dir", str(PER_AREA_DIR)]

    if args.fold_only:
        for part in FOLDED:
            fold(part)
        summary.save(summary.load())
        print(f"folded into {summary.out_dir() / 'benchmarks.md'}")
        return 0

    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    started = time.monotonic()
    kafka_parts = {"cityIngestKafka", "freshnessKafka"}
    parts = [p for p in (args.only or list(PARTS)) if p not in args.skip
             and not (args.engine == "tansu" and p in kafka_parts) and not (args.engine == "kafka" and p in {"cityIngest", "freshness"})]
    steps = []
    for i, part in enumerate(parts):
        steps.append(run_part(part, PARTS[part], first=i == 0))
    data = summary.load()
    data["run"] = {"command": "make bench" if not args.only and not args.skip else "python -m bench.all " + " ".join(argv or sys.argv[1:]),
                   "startedAt": started_at, "durationSeconds": round(time.monotonic() - started, 1), "steps": steps,
                   "quietRule": "Quiet: before the first part, the 1-minute load average below 1.0 (checked every 10 s, up to 30 min); before each "
                                f"later part, the same or the machine's CPU use over 5 s below {BETWEEN_BUSY_PERCENT:.0f}% of both cores."}
    summary.save(data)
    failed = [s["part"] for s in steps if s["returncode"] != 0]
    print(f"\nwrote {summary.out_dir() / 'benchmarks.md'} and benchmarks.json ({(time.monotonic() - started) / 60:.1f} min)"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
