"""The exactness audit, as the database administrator and as a fresh Kafka consumer.

For each service and each city topic it consumes:

- **inbox**: every valid event it handles is there exactly once with outcome ``applied`` (lost =
  expected − present, or present but dead-lettered; doubled = more than one row per event id — the
  inbox's primary key makes that impossible, so it is also checked on an effect that has no such key:
  reporting's ``school_unit_history``, one appended row per school-unit event); every poison message
  for it is there once with outcome ``dead-lettered``; nothing else is;
- **effects**: the replica tables hold one row per entity produced, each in the state of the
  entity's last event (renamed school, changed marking, duty ended, relation ended → ``active``
  false), and no row for anything else;
- **outbox**: no row left unpublished; one dead letter staged per poison message;
- **dead-letter topics**, read from the beginning with a fresh consumer group until they stay
  quiet (Tansu's end offsets are not trusted): for each service (``dlq_consumer_group``) exactly the
  poison ids expected of it, each with a ``dlq_reason``; a letter that arrived more than once is
  counted as a copy (the relay publishes at least once), never silently merged.
"""

from __future__ import annotations

import importlib
import time
import uuid
from collections import Counter, defaultdict
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer

from chaos.workload import CITY_TOPICS, Message, Workload
from shared.consumer import Handlers
from shared.events.envelope import header_map
from shared.events.registry import model_for
from shared.settings import SERVICES
from shared.topics import ALL as ALL_TOPICS

EXAMPLES = 20


def service_handlers(name: str) -> tuple[Handlers, list[str]]:
    """What the service consumes (as its runtime computes it) and the replica tables it keeps."""
    spec = importlib.import_module(f"services.{name}.app").SPEC
    tables: list[str] = []
    for replica in spec.replicas:
        # the persons replica keeps guardian relations too; the markings replica (person_marking.sql) only the person table
        tables += {"person": ["person", "guardianship"], "person_marking": ["person"]}.get(replica.name, [replica.name])
    return spec.all_handlers(), tables


def expectations(workload: Workload) -> dict[str, dict[str, Any]]:
    """Per service: the valid events and the poison messages its consumer must take in."""
    out: dict[str, dict[str, Any]] = {}
    for name in SERVICES:
        handlers, tables = service_handlers(name)
        topics = [t for t in handlers.topics if t in CITY_TOPICS]
        valid = [m for m in workload.messages if m.valid and m.type in handlers.by_type]
        # as shared.consumer.decode_record sorts them: a known type the service does not handle is not its business
        poison = [m for m in workload.messages if not m.valid and m.topic in handlers.topics
                  and (m.type in handlers.by_type or model_for(m.type) is None)]
        out[name] = {"topics": topics, "tables": tables, "valid": valid, "poison": poison}
    return out


def _ids(messages: list[Message]) -> set[str]:
    return {m.id for m in messages}


def _sample(items: Any) -> list[Any]:
    return sorted(str(i) for i in items)[:EXAMPLES]


async def audit_inbox(conn: asyncpg.Connection, name: str, exp: dict[str, Any]) -> dict[str, Any]:
    rows = await conn.fetch(f'SELECT event_id, outcome, topic FROM "{name}".inbox WHERE topic = ANY($1::text[])', list(CITY_TOPICS))
    present: dict[str, str] = {r["event_id"]: r["outcome"] for r in rows}
    doubled = await conn.fetch(f'SELECT event_id, count(*) AS n FROM "{name}".inbox GROUP BY event_id HAVING count(*) > 1')
    valid, poison = _ids(exp["valid"]), _ids(exp["poison"])
    missing = valid - present.keys()
    dead_lettered_valid = {i for i in valid & present.keys() if present[i] != "applied"}
    poison_missing = poison - present.keys()
    poison_applied = {i for i in poison & present.keys() if present[i] != "dead-lettered"}
    unexpected = present.keys() - valid - poison
    by_topic = Counter(m.topic for m in exp["valid"])
    return {
        "validExpected": len(valid), "validExpectedByTopic": dict(by_topic),
        "validApplied": len(valid) - len(missing) - len(dead_lettered_valid),
        "lost": len(missing) + len(dead_lettered_valid), "lostMissing": len(missing), "lostDeadLettered": len(dead_lettered_valid),
        "lostExamples": _sample(missing | dead_lettered_valid),
        "doubled": len(doubled), "doubledExamples": _sample(r["event_id"] for r in doubled),
        "poisonExpected": len(poison), "poisonDeadLettered": len(poison) - len(poison_missing) - len(poison_applied),
        "poisonMissing": len(poison_missing), "poisonApplied": len(poison_applied),
        "poisonMissingExamples": _sample(poison_missing | poison_applied),
        "unexpected": len(unexpected), "unexpectedExamples": _sample(unexpected),
        "inboxRowsCityTopics": len(rows),
    }


TABLE_COLUMNS = {
    "organisation": ("display_name", "organisation_type", "parent_organisation", "school_types"),
    "person": ("security_marking",),
    "duty": ("person", "duty_at", "duty_role", "active"),
    "guardianship": ("guardian", "pupil", "school_unit", "active"),
}


async def audit_table(conn: asyncpg.Connection, name: str, table: str, expected: dict[uuid.UUID, dict[str, Any]]) -> dict[str, Any]:
    cols = TABLE_COLUMNS[table]
    rows = await conn.fetch(f'SELECT id, {", ".join(cols)} FROM "{name}".{table}')
    found = {r["id"]: {c: (list(r[c]) if c == "school_types" else r[c]) for c in cols} for r in rows}
    missing = expected.keys() - found.keys()
    extra = found.keys() - expected.keys()
    wrong = {i: {"expected": expected[i], "found": found[i]} for i in expected.keys() & found.keys() if found[i] != expected[i]}
    out: dict[str, Any] = {"expected": len(expected), "rows": len(rows), "missing": len(missing), "extra": len(extra), "wrongState": len(wrong),
                           "missingExamples": _sample(missing), "extraExamples": _sample(extra),
                           "wrongStateExamples": [{"id": str(i), **{k: {c: str(v) for c, v in d.items()} for k, d in w.items()}}
                                                  for i, w in list(wrong.items())[:EXAMPLES]]}
    if "active" in cols:
        out["inactiveExpected"] = sum(1 for v in expected.values() if not v["active"])
        out["inactiveFound"] = sum(1 for i, v in found.items() if not v["active"] and i in expected)
    return out


async def audit_history(conn: asyncpg.Connection, event_ids: list[str]) -> dict[str, Any]:
    """reporting.school_unit_history: an append-only row per applied school-unit event, no unique key."""
    rows = await conn.fetch("SELECT event_id, count(*) AS n FROM reporting.school_unit_history GROUP BY event_id")
    counts = {r["event_id"]: r["n"] for r in rows}
    expected = set(event_ids)
    doubled = {i for i, n in counts.items() if n > 1}
    return {"expected": len(expected), "rows": sum(counts.values()), "missing": len(expected - counts.keys()), "doubled": len(doubled),
            "extra": len(counts.keys() - expected), "doubledExamples": _sample(doubled), "missingExamples": _sample(expected - counts.keys())}


async def audit_outbox(conn: asyncpg.Connection, name: str, poison: set[str]) -> dict[str, Any]:
    totals = await conn.fetchrow(f'SELECT count(*) AS n, count(*) FILTER (WHERE published_at IS NULL) AS unpublished FROM "{name}".outbox')
    by_topic = await conn.fetch(f'SELECT topic, count(*) AS n, count(*) FILTER (WHERE published_at IS NULL) AS unpublished FROM "{name}".outbox GROUP BY topic ORDER BY topic')
    letters = await conn.fetch(
        f"SELECT (SELECT h->>1 FROM jsonb_array_elements(headers) h WHERE h->>0 = 'ce_id' LIMIT 1) AS ce_id, count(*) AS n"
        f' FROM "{name}".outbox WHERE topic LIKE $1 GROUP BY 1', "%.dlq",
    )
    staged = {r["ce_id"]: r["n"] for r in letters}
    return {
        "rows": totals["n"], "unpublished": totals["unpublished"],
        "byTopic": {r["topic"]: {"rows": r["n"], "unpublished": r["unpublished"]} for r in by_topic},
        "deadLettersStaged": sum(staged.values()), "deadLettersStagedTwice": sum(1 for n in staged.values() if n > 1),
        "deadLettersNotStaged": len(poison - staged.keys()), "deadLettersUnexpected": len(staged.keys() - poison),
    }


async def read_dead_letters(bootstrap: str, *, expect: int, idle_s: float = 8.0, timeout_s: float = 180.0) -> tuple[list[dict[str, Any]], float]:
    """Every message on every dead-letter topic, from the beginning, with a fresh group: read until
    ``expect`` arrived and then nothing more for ``idle_s`` (or nothing at all for 3 × ``idle_s``)."""
    topics = [t.dlq for t in ALL_TOPICS]
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=f"skolit-chaos-audit-{uuid.uuid4()}",
                                auto_offset_reset="earliest", enable_auto_commit=False, max_partition_fetch_bytes=4 << 20)
    started = time.monotonic()
    await consumer.start()
    letters: list[dict[str, Any]] = []
    try:
        last = time.monotonic()
        while time.monotonic() - started < timeout_s:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            got = 0
            for tp, records in batches.items():
                for r in records:
                    h = header_map(r.headers)
                    letters.append({"topic": tp.topic, "partition": tp.partition, "offset": r.offset, "ce_id": h.get("ce_id"),
                                    "ce_type": h.get("ce_type"), "group": h.get("dlq_consumer_group"), "service": h.get("dlq_service"),
                                    "reason": h.get("dlq_reason"), "errorClass": h.get("dlq_error_class"), "originalTopic": h.get("dlq_original_topic")})
                    got += 1
            if got:
                last = time.monotonic()
            idle = time.monotonic() - last
            if (len(letters) >= expect and idle >= idle_s) or idle >= 3 * idle_s:
                break
    finally:
        await consumer.stop()
    return letters, time.monotonic() - started


def audit_dead_letter_topics(letters: list[dict[str, Any]], exp: dict[str, dict[str, Any]], workload: Workload) -> dict[str, Any]:
    kind_of = {m.id: m.kind for m in workload.poison()}
    topic_of = {m.id: m.topic for m in workload.messages}
    per: dict[str, Counter[str]] = defaultdict(Counter)
    no_reason: Counter[str] = Counter()
    misplaced: Counter[str] = Counter()
    reasons: dict[str, dict[str, str]] = defaultdict(dict)
    for letter in letters:
        service = (letter["group"] or "").removeprefix("skolit-") or "?"
        per[service][letter["ce_id"]] += 1
        if not letter["reason"]:
            no_reason[service] += 1
        if letter["ce_id"] in topic_of and (letter["originalTopic"] != topic_of[letter["ce_id"]] or letter["topic"] != topic_of[letter["ce_id"]] + ".dlq"):
            misplaced[service] += 1
        kind = kind_of.get(letter["ce_id"], "not poison")
        reasons[service].setdefault(kind, letter["reason"] or "")
    out: dict[str, Any] = {}
    for name in [*SERVICES, *sorted(set(per) - set(SERVICES))]:
        expected = _ids(exp[name]["poison"]) if name in exp else set()
        found = per.get(name, Counter())
        out[name] = {
            "expected": len(expected), "distinct": len(found), "messages": sum(found.values()),
            "missing": len(expected - found.keys()), "unexpected": len(found.keys() - expected),
            "copies": sum(n - 1 for n in found.values() if n > 1), "withoutReason": no_reason[name], "misplaced": misplaced[name],
            "missingExamples": _sample(expected - found.keys()), "unexpectedExamples": _sample(found.keys() - expected),
            "reasonByKind": reasons.get(name, {}),
        }
    return out


async def run_audit(admin_url: str, bootstrap: str, workload: Workload) -> dict[str, Any]:
    started = time.monotonic()
    exp = expectations(workload)
    x = workload.expected
    expected_tables = {"organisation": x.organisation, "person": x.person, "duty": x.duty, "guardianship": x.guardianship}
    services: dict[str, Any] = {}
    conn = await asyncpg.connect(admin_url)
    try:
        for name in SERVICES:
            e = exp[name]
            result: dict[str, Any] = {"consumes": e["topics"], "inbox": await audit_inbox(conn, name, e), "effects": {}}
            for table in e["tables"]:
                result["effects"][table] = await audit_table(conn, name, table, expected_tables[table])
            if name == "reporting":
                result["effects"]["school_unit_history"] = await audit_history(conn, x.school_unit_events)
            result["outbox"] = await audit_outbox(conn, name, _ids(e["poison"]))
            services[name] = result
    finally:
        await conn.close()
    letters, read_s = await read_dead_letters(bootstrap, expect=sum(len(e["poison"]) for e in exp.values()))
    dlq = audit_dead_letter_topics(letters, exp, workload)
    for name in SERVICES:
        services[name]["deadLetterTopic"] = dlq.pop(name)
    totals = {
        "lost": sum(s["inbox"]["lost"] for s in services.values()),
        "doubled": sum(s["inbox"]["doubled"] for s in services.values()) + services["reporting"]["effects"]["school_unit_history"]["doubled"],
        "effectsMissing": sum(t["missing"] for s in services.values() for t in s["effects"].values()),
        "effectsWrongState": sum(t.get("wrongState", 0) for s in services.values() for t in s["effects"].values()),
        "effectsExtra": sum(t["extra"] for s in services.values() for t in s["effects"].values()),
        "unexpectedInbox": sum(s["inbox"]["unexpected"] for s in services.values()),
        "poisonExpected": sum(s["inbox"]["poisonExpected"] for s in services.values()),
        "poisonDeadLettered": sum(s["inbox"]["poisonDeadLettered"] for s in services.values()),
        "poisonNotDeadLettered": sum(s["inbox"]["poisonMissing"] + s["inbox"]["poisonApplied"] for s in services.values()),
        "deadLettersOnTopics": sum(s["deadLetterTopic"]["distinct"] for s in services.values()),
        "deadLettersMissingOnTopics": sum(s["deadLetterTopic"]["missing"] for s in services.values()),
        "deadLettersUnexpectedOnTopics": sum(s["deadLetterTopic"]["unexpected"] for s in services.values()) + sum(d["distinct"] for d in dlq.values()),
        "deadLetterCopies": sum(s["deadLetterTopic"]["copies"] for s in services.values()),
        "deadLettersWithoutReason": sum(s["deadLetterTopic"]["withoutReason"] for s in services.values()),
        "outboxUnpublished": sum(s["outbox"]["unpublished"] for s in services.values()),
    }
    exact = (totals["lost"] == 0 and totals["doubled"] == 0 and totals["effectsMissing"] == 0 and totals["effectsWrongState"] == 0
             and totals["effectsExtra"] == 0 and totals["unexpectedInbox"] == 0 and totals["poisonNotDeadLettered"] == 0
             and totals["deadLettersMissingOnTopics"] == 0 and totals["deadLettersUnexpectedOnTopics"] == 0
             and totals["deadLettersWithoutReason"] == 0 and totals["outboxUnpublished"] == 0)
    return {"services": services, "otherDeadLetters": dlq, "totals": totals, "exact": exact,
            "deadLetterMessagesRead": len(letters), "deadLetterReadSeconds": round(read_s, 1), "seconds": round(time.monotonic() - started, 1)}
