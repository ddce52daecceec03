"""The exactness audit, as the database administrator and as a fresh Kafka consumer.

For each service and each city topic it consumes:

- **inbox**: every valid event it handles is there exactly once with outcome ``applied`` (lost =
  expected − present, or present but dead-lettered; doubled = more than one row per event id — the
  inbox's primary key makes that impossible, so it is also checked on an effect that has no such key:
  reporting's ``school_unit_history``, one appended row per school-unit event); every poison message
  for it is there once with outcome ``dead-lettered``, under the id the consumer must give it: its
  CloudEvents id, or for poison whose attributes cannot be read (chaos/workload.py, COORDINATE_KINDS)
  ``kafka:<topic>:<partition>:<offset>``, once per copy that landed; nothing else is;
- **effects**: the replica tables hold one row per entity produced, each in the state of the
  entity's last event (renamed school, changed marking, duty ended, relation ended → ``active``
  false), and no row for anything else;
- **outbox**: no row left unpublished; one dead letter staged per poison message;
- **dead-letter topics**, read from the beginning with a fresh consumer group until they stay
  quiet (Tansu's end offsets are not trusted): for each service (``dlq_consumer_group``) exactly the
  poison ids expected of it, each with a ``dlq_reason``; a letter that arrived more than once is
  counted as a copy (the relay publishes at least once), never silently merged. A letter is matched to
  its poison message by the POISON_HEADER it kept; one for coordinates-id poison by its
  ``dlq_original_topic``/``partition``/``offset`` (so each landed copy has its own letter); an oversized
  record's letter must be a bounded one (``dlq_bounded``).

Where coordinates-id poison landed is the broker's word, not the producer's: the producer keeps the
acknowledged partition and offset, and before anything else the audit reads the city topics back
(``read_landed_poison``) and records every copy that carries POISON_HEADER, also one whose send was
not acknowledged (and sent again). Every landed copy must be dead-lettered once by each service it
concerns.
"""

from __future__ import annotations

import importlib
import json
import time
import uuid
from collections import Counter, defaultdict
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from chaos.workload import CITY_TOPICS, POISON_HEADER, Message, Workload, concerns, coordinates_id
from shared import kafka_records
from shared.consumer import Handlers
from shared.events.envelope import header_map
from shared.settings import SERVICES
from shared.topics import ALL as ALL_TOPICS
from shared.topics import BY_NAME

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
        valid = [m for m in workload.messages if m.valid and concerns(m, handlers.topics, handlers.by_type)]
        poison = [m for m in workload.messages if not m.valid and concerns(m, handlers.topics, handlers.by_type)]
        out[name] = {"topics": topics, "tables": tables, "valid": valid, "poison": poison}
    return out


def _ids(messages: list[Message]) -> set[str]:
    """The inbox ids the messages must have: a CloudEvents id each, or a coordinates id per landed copy."""
    return {i for m in messages for i in m.inbox_ids()}


def letter_id(h: dict[str, Any], poison: dict[str, Message]) -> tuple[str, Message | None]:
    """The inbox id a dead letter stands for, and its poison message if it is one: by the POISON_HEADER the letter
    kept, and for coordinates-id poison by where the record it came from was (``dlq_original_*``)."""
    m = poison.get(h.get(POISON_HEADER) or "")
    coordinates = coordinates_id(h.get("dlq_original_topic") or "?", h.get("dlq_original_partition") or "?", h.get("dlq_original_offset") or "?")
    if m is None:
        return h.get("ce_id") or coordinates, None
    return (coordinates if m.by_coordinates else m.id), m


async def read_landed_poison(bootstrap: str, workload: Workload, *, idle_s: float = 3.0, timeout_s: float = 300.0) -> dict[str, Any]:
    """Every copy of a poison message on the city topics (``Message.landed``), read back from the beginning.

    Read until every partition is past the last offset the producer had acknowledged on it, then until nothing
    more comes for ``idle_s`` (Tansu's end offsets are not relied on). A copy whose send was not acknowledged
    has the key of its acknowledged twin, so it is on the same partition, and was written before the resend."""
    kafka_records.install()  # header names need not be UTF-8 (this run sends none such, but reading must not fail)
    poison = {m.id: m for m in workload.poison()}
    for m in poison.values():
        m.landed = []
    until: dict[TopicPartition, int] = {}
    for m in workload.messages:
        if m.partition is not None and m.offset is not None:
            tp = TopicPartition(m.topic, m.partition)
            until[tp] = max(until.get(tp, 0), m.offset + 1)
    parts = [TopicPartition(t, p) for t in CITY_TOPICS for p in range(BY_NAME[t].partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=4 << 20)
    started = time.monotonic()
    await consumer.start()
    records = 0
    complete = False
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        last = time.monotonic()
        while time.monotonic() - started < timeout_s:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for tp, rs in batches.items():
                for r in rs:
                    records += 1
                    for name, value in r.headers or ():
                        if name == POISON_HEADER and value is not None:
                            m = poison.get(value.decode("utf-8", "replace"))
                            if m is not None and m.topic == tp.topic and (tp.partition, r.offset) not in m.landed:
                                m.landed.append((tp.partition, r.offset))
            if batches:
                last = time.monotonic()
            if not complete:
                complete = all([await consumer.position(tp) >= n for tp, n in until.items()])
            if complete and time.monotonic() - last >= idle_s:
                break
    finally:
        await consumer.stop()
    acked_missing = [m for m in poison.values() if m.acked and (m.partition, m.offset) not in m.landed]
    coordinate = [m for m in poison.values() if m.by_coordinates]
    return {
        "recordsRead": records, "seconds": round(time.monotonic() - started, 1), "complete": complete,
        "poisonLanded": sum(1 for m in poison.values() if m.landed), "poisonCopiesLanded": sum(len(m.landed) for m in poison.values()),
        "landedMoreThanOnce": sum(1 for m in poison.values() if len(m.landed) > 1),
        "coordinatePoison": len(coordinate), "coordinateInboxIds": sum(len(m.inbox_ids()) for m in coordinate),
        "acknowledgedNotFound": len(acked_missing), "acknowledgedNotFoundExamples": _sample(m.id for m in acked_missing),
    }


def _sample(items: Any) -> list[Any]:
    return sorted(str(i) for i in items)[:EXAMPLES]


async def audit_inbox(conn: asyncpg.Connection, name: str, exp: dict[str, Any]) -> dict[str, Any]:
    rows = await conn.fetch(f'SELECT event_id, outcome, topic FROM "{name}".inbox WHERE topic = ANY($1::text[])', list(CITY_TOPICS))
    present: dict[str, str] = {r["event_id"]: r["outcome"] for r in rows}
    doubled = await conn.fetch(f'SELECT event_id, count(*) AS n FROM "{name}".inbox GROUP BY event_id HAVING count(*) > 1')
    valid, poison = {m.id for m in exp["valid"]}, _ids(exp["poison"])
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
        "poisonMessages": len(exp["poison"]), "poisonByCoordinates": sum(1 for m in exp["poison"] if m.by_coordinates),
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


LETTER_HEADERS = ["ce_id", POISON_HEADER, "dlq_original_topic", "dlq_original_partition", "dlq_original_offset"]


async def audit_outbox(conn: asyncpg.Connection, name: str, poison: set[str], workload: Workload | None = None) -> dict[str, Any]:
    """``poison``: the inbox ids of the poison the service must dead-letter (``_ids``); ``workload`` tells a letter's
    poison message by its POISON_HEADER (without it letters are known by ``ce_id``, or by their coordinates)."""
    totals = await conn.fetchrow(f'SELECT count(*) AS n, count(*) FILTER (WHERE published_at IS NULL) AS unpublished FROM "{name}".outbox')
    by_topic = await conn.fetch(f'SELECT topic, count(*) AS n, count(*) FILTER (WHERE published_at IS NULL) AS unpublished FROM "{name}".outbox GROUP BY topic ORDER BY topic')
    letters = await conn.fetch(
        "SELECT (SELECT jsonb_object_agg(h->>0, h->>1) FROM jsonb_array_elements(headers) h WHERE h->>0 = ANY($2::text[]))::text AS h"
        f' FROM "{name}".outbox WHERE topic LIKE $1', "%.dlq", LETTER_HEADERS,
    )
    by_id = {m.id: m for m in workload.poison()} if workload is not None else {}
    staged = Counter(letter_id(json.loads(r["h"] or "{}"), by_id)[0] for r in letters)
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
                                    "poison": h.get(POISON_HEADER), "bounded": h.get("dlq_bounded") == "true",
                                    "originalPartition": h.get("dlq_original_partition"), "originalOffset": h.get("dlq_original_offset"),
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
    poison = {m.id: m for m in workload.poison()}
    topic_of = {m.id: m.topic for m in workload.messages}
    per: dict[str, Counter[str]] = defaultdict(Counter)
    no_reason: Counter[str] = Counter()
    misplaced: Counter[str] = Counter()
    unbounded: Counter[str] = Counter()
    reasons: dict[str, dict[str, str]] = defaultdict(dict)
    for letter in letters:
        service = (letter["group"] or "").removeprefix("skolit-") or "?"
        headers = {POISON_HEADER: letter["poison"], "ce_id": letter["ce_id"], "dlq_original_topic": letter["originalTopic"],
                   "dlq_original_partition": letter["originalPartition"], "dlq_original_offset": letter["originalOffset"]}
        inbox_id, m = letter_id(headers, poison)
        per[service][inbox_id] += 1
        if not letter["reason"]:
            no_reason[service] += 1
        topic = m.topic if m is not None else topic_of.get(inbox_id)
        if topic is not None and (letter["originalTopic"] != topic or letter["topic"] != topic + ".dlq"):
            misplaced[service] += 1
        if m is not None and m.kind == "oversized" and not letter["bounded"]:
            unbounded[service] += 1
        kind = m.kind if m is not None else "not poison"
        reasons[service].setdefault(kind, letter["reason"] or "")
    out: dict[str, Any] = {}
    for name in [*SERVICES, *sorted(set(per) - set(SERVICES))]:
        expected = _ids(exp[name]["poison"]) if name in exp else set()
        found = per.get(name, Counter())
        out[name] = {
            "expected": len(expected), "distinct": len(found), "messages": sum(found.values()),
            "missing": len(expected - found.keys()), "unexpected": len(found.keys() - expected),
            "copies": sum(n - 1 for n in found.values() if n > 1), "withoutReason": no_reason[name], "misplaced": misplaced[name],
            "oversizedNotBounded": unbounded[name],
            "missingExamples": _sample(expected - found.keys()), "unexpectedExamples": _sample(found.keys() - expected),
            "reasonByKind": reasons.get(name, {}),
        }
    return out


async def run_audit(admin_url: str, bootstrap: str, workload: Workload) -> dict[str, Any]:
    started = time.monotonic()
    landed = await read_landed_poison(bootstrap, workload)
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
            result["outbox"] = await audit_outbox(conn, name, _ids(e["poison"]), workload)
            services[name] = result
    finally:
        await conn.close()
    letters, read_s = await read_dead_letters(bootstrap, expect=sum(len(_ids(e["poison"])) for e in exp.values()))
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
        "deadLettersMisplaced": sum(s["deadLetterTopic"]["misplaced"] for s in services.values()),
        "deadLettersOversizedNotBounded": sum(s["deadLetterTopic"]["oversizedNotBounded"] for s in services.values()),
        "poisonCopiesLanded": landed["poisonCopiesLanded"], "poisonLandedMoreThanOnce": landed["landedMoreThanOnce"],
        "outboxUnpublished": sum(s["outbox"]["unpublished"] for s in services.values()),
    }
    exact = (totals["lost"] == 0 and totals["doubled"] == 0 and totals["effectsMissing"] == 0 and totals["effectsWrongState"] == 0
             and totals["effectsExtra"] == 0 and totals["unexpectedInbox"] == 0 and totals["poisonNotDeadLettered"] == 0
             and totals["deadLettersMissingOnTopics"] == 0 and totals["deadLettersUnexpectedOnTopics"] == 0
             and totals["deadLettersWithoutReason"] == 0 and totals["deadLettersMisplaced"] == 0
             and totals["deadLettersOversizedNotBounded"] == 0
             and totals["outboxUnpublished"] == 0)
    return {"services": services, "otherDeadLetters": dlq, "totals": totals, "exact": exact, "landedPoison": landed,
            "deadLetterMessagesRead": len(letters), "deadLetterReadSeconds": round(read_s, 1), "seconds": round(time.monotonic() - started, 1)}
