"""Whatever bytes a Kafka topic carries, every record ends applied exactly once or dead-lettered exactly once
with a reason, in every service that consumes it, and no offset moves past a record that did not (issue 17).

A real Kafka client (aiokafka's producer, not Skolit's code) writes record batches of its own making: valid
city events of every type — in binary and in structured content mode, some with garbage in headers that are
not CloudEvents attributes — interleaved *in the same batches* with hostile records: attribute headers that
are not UTF-8, header names that are not UTF-8, repeated and missing attributes, tombstones, empty records,
records over the size limit, unknown types, broken structured events, random bytes. The batches are built
with aiokafka's pure-Python batch builder so that header names can carry any bytes (its producer would
refuse to encode them), and sent with ``send_batch``, which is how a whole batch reaches the broker at once.

Each record says beforehand what must become of it (``Expect``), from the contracts and the services'
declared handlers — not from the decoder under test. Afterwards, per service: every valid event has an
``applied`` inbox row; every hostile record a ``dead-lettered`` row under the id it is known by and exactly
one dead letter with a reason and its coordinates; nothing else of ours is in the inbox; the group's committed
offsets reached the end of every partition written; and no service process restarted.

``SKOLIT_WIRE_RECORDS`` (default 400) and ``SKOLIT_WIRE_SEED`` set the size and the seed of a run, for long hunts.

On Apache Kafka (SKOLIT_TEST_BROKER=kafka) the broker enforces ``max.message.bytes`` (MAX_MESSAGE_BYTES) on each record
batch, as Tansu does not: a batch over it is refused whole (MESSAGE_TOO_LARGE). There the oversized records stay between
Skolit's size policy (MAX_EVENT_BYTES) and the broker's limit, and a batch is closed before it would pass the limit — the
records still share batches with valid ones; what the broker refuses never reaches a consumer.
"""

from __future__ import annotations

import base64
import os
import random
import uuid
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy

from services.assessment.app import SPEC as ASSESSMENT
from services.catalog.app import SPEC as CATALOG
from services.notification.app import SPEC as NOTIFICATION
from services.reporting.app import SPEC as REPORTING
from shared.events.base import Event
from shared.events.city import (
    AppLaunchesCounted, DutyAssigned, DutyEnded, GuardianRelationAdded, GuardianRelationEnded, OrganisationEnded, OrganisationUpserted,
    PersonRemoved, PersonUpserted, SchoolFiguresReported,
)
from shared.events.envelope import encode, new_envelope
from shared.topics import BY_NAME, MAX_EVENT_BYTES, MAX_MESSAGE_BYTES
from tests.support.city import District, school_unit
from tests.support.kafka import eventually, send, wire
from tests.support.stack import Stack, chosen_broker

pytestmark = pytest.mark.integration
RECORDS = int(os.environ.get("SKOLIT_WIRE_RECORDS", "400"))
SEED = int(os.environ.get("SKOLIT_WIRE_SEED", str(random.randrange(1 << 30))))
SPECS = {s.name: s for s in (ASSESSMENT, CATALOG, REPORTING, NOTIFICATION)}
HANDLERS = {name: spec.all_handlers() for name, spec in SPECS.items()}
GROUPS = {name: f"skolit-{name}" for name in SPECS}
#: Apache Kafka refuses a record batch over max.message.bytes; Tansu takes it (see the module's docstring)
BROKER_LIMITS_BATCHES = chosen_broker() == "kafka"
#: on Apache Kafka: the most a batch may carry, with room for the batch's framing and the records' own
BATCH_LIMIT = MAX_MESSAGE_BYTES - 8 * 1024


class RawName(str):
    """A header name whose bytes are not UTF-8 (aiokafka's builders encode names; this one encodes to anything)."""

    def __new__(cls, raw: bytes) -> RawName:
        obj = super().__new__(cls, raw.decode("latin-1"))
        obj.raw = raw  # type: ignore[attr-defined]
        return obj

    def encode(self, *args: Any, **kwargs: Any) -> bytes:  # type: ignore[override]
        return self.raw  # type: ignore[attr-defined,no-any-return]


@dataclass
class Record:
    kind: str
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    #: "apply": a valid event every service handling ``event_type`` applies; "dead-handlers": dead-lettered by the
    #: services handling ``event_type`` (the attributes are fine, the data is not); "dead-all": dead-lettered by
    #: every service reading the topic (the attributes cannot be read, or the type is unknown)
    expect: str
    event_type: str | None
    event_id: str | None
    #: False when the service cannot read the attributes: it is known by its coordinates then
    id_readable: bool = True
    partition: int = 0
    offset: int = -1

    def consumers(self) -> list[str]:
        if self.expect == "dead-all":
            return [n for n, h in HANDLERS.items() if self.topic in h.topics]
        return [n for n, h in HANDLERS.items() if self.event_type and h.for_type(self.event_type)]

    def inbox_id(self) -> str:
        return self.event_id if self.id_readable and self.event_id else f"kafka:{self.topic}:{self.partition}:{self.offset}"


@dataclass
class City:
    """What the valid events refer to: made and applied before the hostile batches."""

    district: District = field(default_factory=District)
    persons: list[uuid.UUID] = field(default_factory=list)
    duties: list[DutyAssigned] = field(default_factory=list)
    relations: list[GuardianRelationAdded] = field(default_factory=list)
    spare_schools: list[uuid.UUID] = field(default_factory=list)
    spare_persons: list[uuid.UUID] = field(default_factory=list)
    app: uuid.UUID | None = None

    def events(self, n_end: int) -> list[Event]:
        evs: list[Event] = list(self.district.events(n_schools=4))
        for _ in range(n_end):
            sid, pid, guardian, pupil = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            self.spare_schools.append(sid)
            self.spare_persons.append(pid)
            evs += [school_unit(sid, self.district.id), PersonUpserted(id=pid), PersonUpserted(id=guardian), PersonUpserted(id=pupil)]
            school = self.district.schools[0]
            duty = DutyAssigned(id=uuid.uuid4(), person=guardian, dutyAt=school, dutyRole="Lärare")
            rel = GuardianRelationAdded(id=uuid.uuid4(), guardian=guardian, pupil=pupil, schoolUnit=school, schoolType="GR", schoolYear=3)
            self.duties.append(duty)
            self.relations.append(rel)
            evs += [duty, rel]
        for _ in range(6):
            pid = uuid.uuid4()
            self.persons.append(pid)
            evs.append(PersonUpserted(id=pid))
        return evs


def valid_event(rng: random.Random, city: City) -> Event:
    school = rng.choice(city.district.schools)
    choice = rng.randrange(10)
    if choice == 0:
        return school_unit(rng.choice(city.district.schools), city.district.id, name=f"Skola {rng.randrange(1000)}")
    if choice == 1:
        return PersonUpserted(id=uuid.uuid4(), securityMarking=rng.choice(["Ingen", "Skyddad folkbokföring"]))
    if choice == 2:
        return DutyAssigned(id=uuid.uuid4(), person=rng.choice(city.persons), dutyAt=school, dutyRole=rng.choice(["Lärare", "Rektor", "IT-samordnare"]))
    if choice == 3:
        return GuardianRelationAdded(id=uuid.uuid4(), guardian=rng.choice(city.persons), pupil=uuid.uuid4(), schoolUnit=school, schoolType="GR",
                                     schoolYear=rng.randrange(1, 10))
    if choice == 4:
        return SchoolFiguresReported(schoolUnitId=school, year=2026, figures={"wifiCoverage": rng.random(), "pupils": float(rng.randrange(50, 900))})
    if choice == 5 and city.app is not None:
        return AppLaunchesCounted(appId=city.app, schoolUnitId=school, periodStart=date(2026, 9, 1), periodEnd=date(2026, 9, 30),
                                  launches=rng.randrange(0, 5000))
    if choice == 6 and city.duties:
        d = city.duties.pop()
        return DutyEnded(id=d.id, person=d.person, dutyAt=d.dutyAt, endDate=date(2026, 12, 1))
    if choice == 7 and city.relations:
        r = city.relations.pop()
        return GuardianRelationEnded(id=r.id, guardian=r.guardian, pupil=r.pupil, schoolUnit=r.schoolUnit, endDate=date(2026, 12, 1))
    if choice == 8 and city.spare_persons:
        return PersonRemoved(id=city.spare_persons.pop())
    if choice == 9 and city.spare_schools:
        return OrganisationEnded(id=city.spare_schools.pop(), endDate=date(2026, 12, 1))
    return PersonUpserted(id=uuid.uuid4())


def garbage(rng: random.Random, n: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(n))


def bad_utf8(rng: random.Random) -> bytes:
    return rng.choice([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"]) + garbage(rng, rng.randrange(0, 8))


def structured_body(headers: dict[str, bytes], value: bytes, *, base64_data: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {h.removeprefix("ce_"): v.decode() for h, v in headers.items() if h.startswith("ce_")}
    doc["datacontenttype"] = "application/json"
    if base64_data:
        doc["data_base64"] = base64.b64encode(value).decode()
    else:
        doc["data"] = orjson.loads(value)
    return doc


KINDS = (
    "valid", "valid-structured", "valid-structured-base64", "valid-garbage-header", "valid-bad-header-name", "valid-null-header",
    "bad-utf8-attribute", "repeated-attribute", "missing-attribute", "tombstone", "empty", "oversized", "unknown-type", "structured-no-id",
    "structured-broken-data", "structured-not-object", "random", "schema", "batch-mode",
)


def make_record(rng: random.Random, city: City) -> Record:
    event = valid_event(rng, city)
    w = encode(new_envelope(event, "tests.wire", event_id=str(uuid.uuid4())))
    h = dict((k, v) for k, v in w.headers)
    eid, etype = h["ce_id"].decode(), h["ce_type"].decode()

    def rec(kind: str, expect: str, headers: list[tuple[str, bytes | None]], value: bytes | None, *, key: bytes | None = w.key,
            readable: bool = True, topic: str = w.topic) -> Record:
        return Record(kind, topic, key, value, headers, expect, etype, eid, readable)

    kind = rng.choice(("valid", "valid") + KINDS)
    base = list(h.items())
    if kind == "valid":
        return rec(kind, "apply", base, w.value)
    if kind in ("valid-structured", "valid-structured-base64"):
        body = orjson.dumps(structured_body(h, w.value, base64_data=kind.endswith("base64")))
        return rec(kind, "apply", [("content-type", b"application/cloudevents+json; charset=UTF-8")], body)
    if kind == "valid-garbage-header":
        return rec(kind, "apply", base + [("traceparent", bad_utf8(rng)), ("x-city", garbage(rng, 40))], w.value)
    if kind == "valid-bad-header-name":
        return rec(kind, "apply", base + [(RawName(b"x-" + bad_utf8(rng)), garbage(rng, 10))], w.value)
    if kind == "valid-null-header":
        return rec(kind, "apply", base + [("ce_subject", None), ("x-empty", None)] if "ce_subject" not in h else base + [("x-empty", None)], w.value)
    if kind == "bad-utf8-attribute":
        name = rng.choice(["ce_id", "ce_type", "ce_source", "ce_subject", "ce_specversion"])
        return rec(kind, "dead-all", [(k, v) for k, v in base if k != name] + [(name, bad_utf8(rng))], w.value, readable=False)
    if kind == "repeated-attribute":
        name = rng.choice(["ce_id", "ce_type", "ce_source"])
        return rec(kind, "dead-all", base + [(name, h[name])], w.value, readable=False)
    if kind == "missing-attribute":
        name = rng.choice(["ce_id", "ce_type", "ce_source", "ce_specversion"])
        return rec(kind, "dead-all", [(k, v) for k, v in base if k != name], w.value, readable=False)
    if kind == "tombstone":
        return rec(kind, "dead-handlers", base, None)
    if kind == "empty":
        return rec(kind, "dead-all", [], rng.choice([None, b""]), key=rng.choice([None, b"", garbage(rng, 16)]), readable=False)
    if kind == "oversized":
        over = 20_000 if BROKER_LIMITS_BATCHES else 200_000  # on Kafka the whole record must stay under MAX_MESSAGE_BYTES
        pad = b"x" * rng.randrange(MAX_EVENT_BYTES + 1, MAX_EVENT_BYTES + over)
        return rec(kind, "dead-all", base, w.value[:-1] + b',"padding":"' + pad + b'"}', readable=False)
    if kind == "unknown-type":
        headers = [(k, v) for k, v in base if k != "ce_type"] + [("ce_type", b"se.skolit.city.wire-unknown.v1")]
        r = rec(kind, "dead-all", headers, w.value)
        r.event_type = "se.skolit.city.wire-unknown.v1"
        return r
    if kind == "structured-no-id":
        doc = structured_body(h, w.value)
        del doc["id"]
        return rec(kind, "dead-all", [("content-type", b"application/cloudevents+json")], orjson.dumps(doc), readable=False)
    if kind == "structured-broken-data":
        doc = structured_body(h, w.value)
        doc["data"] = {"unexpected": True}
        return rec(kind, "dead-handlers", [("content-type", b"application/cloudevents+json")], orjson.dumps(doc))
    if kind == "structured-not-object":
        return rec(kind, "dead-all", [("content-type", b"application/cloudevents+json")], rng.choice([b"[1,2]", b"\"x\"", b"{nope", garbage(rng, 30)]),
                   readable=False)
    if kind == "schema":
        return rec(kind, "dead-handlers", base, b'{"id": 12}')
    if kind == "batch-mode":
        body = orjson.dumps([structured_body(h, w.value)])
        return rec(kind, "dead-all", [("content-type", b"application/cloudevents-batch+json")], body, readable=False)
    # random: names and bytes with nothing a CloudEvent needs
    headers = [(RawName(garbage(rng, rng.randrange(1, 10))) if rng.random() < 0.3 else f"h{i}", rng.choice([None, garbage(rng, rng.randrange(0, 30))]))
               for i in range(rng.randrange(0, 5))]
    return rec("random", "dead-all", headers, rng.choice([None, garbage(rng, rng.randrange(0, 200))]), key=rng.choice([None, garbage(rng, 8)]), readable=False)


async def produce(bootstrap: str, records: list[Record], rng: random.Random) -> None:
    """Per partition, batches of 5–40 records in the order given, each sent whole; coordinates taken from the broker."""
    by_partition: dict[tuple[str, int], list[Record]] = defaultdict(list)
    for r in records:
        partitions = BY_NAME[r.topic].partitions
        r.partition = zlib.crc32(r.key) % partitions if r.key else rng.randrange(partitions)
        by_partition[(r.topic, r.partition)].append(r)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", max_request_size=8 << 20)
    await producer.start()
    try:
        for (topic, partition), recs in by_partition.items():
            i = 0
            while i < len(recs):
                chunk = recs[i: i + rng.randrange(5, 41)]
                if BROKER_LIMITS_BATCHES:  # close the batch before it would pass the broker's limit (always at least one record)
                    size, n = 0, 0
                    for r in chunk:
                        size += record_bytes(r)
                        if n and size > BATCH_LIMIT:
                            break
                        n += 1
                    chunk = chunk[:n]
                i += len(chunk)
                batch = producer.create_batch()
                # the pure-Python builder takes header names that are not UTF-8 (see RawName)
                batch._builder = _DefaultRecordBatchBuilderPy(2, 0, is_transactional=0, producer_id=-1, producer_epoch=-1, base_sequence=0,
                                                              batch_size=8 << 20)
                for r in chunk:
                    assert batch.append(timestamp=None, key=r.key, value=r.value, headers=r.headers) is not None
                batch.close()
                meta = await (await producer.send_batch(batch, topic, partition=partition))
                for n, r in enumerate(chunk):
                    r.offset = meta.offset + n
    finally:
        await producer.stop()


def record_bytes(r: Record) -> int:
    """A record's key, value and headers, about as a batch carries them (a few bytes of varints aside)."""
    headers = sum(len(k.encode("utf-8", "replace")) + len(v or b"") + 8 for k, v in r.headers)
    return len(r.key or b"") + len(r.value or b"") + headers + 32


async def committed_offsets(bootstrap: str, group: str, parts: list[TopicPartition]) -> dict[TopicPartition, int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return {tp: await consumer.committed(tp) for tp in parts}
    finally:
        await consumer.stop()


async def test_no_bytes_on_the_wire_make_a_record_lost_applied_twice_or_stuck(stack: Stack) -> None:
    rng = random.Random(SEED)
    print(f"wire property: {RECORDS} records, SKOLIT_WIRE_SEED={SEED}")
    city = City()
    base = [wire(e) for e in city.events(n_end=max(RECORDS // 40, 3))]
    await send(stack.bootstrap, base)
    conn = await asyncpg.connect(stack.admin_url)
    try:
        city.app = await conn.fetchval("SELECT id FROM catalog.app ORDER BY id LIMIT 1")
        for schema, handlers in HANDLERS.items():
            ids = [dict(m.headers)["ce_id"].decode() for m in base if handlers.for_type(dict(m.headers)["ce_type"].decode())]
            await eventually(lambda: conn.fetchval(f"SELECT count(*) = $2 FROM {schema}.inbox WHERE event_id = ANY($1::text[]) AND outcome = 'applied'",
                                                   ids, len(ids)), timeout=60, what=f"the base city applied in {schema}")
        starts = {name: (svc.starts, svc.proc.pid if svc.proc else None) for name, svc in stack.services.items()}

        records = [make_record(rng, city) for _ in range(RECORDS)]
        await produce(stack.bootstrap, records, rng)
        kinds = Counter(r.kind for r in records)
        print("wire property kinds: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))

        expected: dict[str, dict[str, tuple[str, Record]]] = {name: {} for name in SPECS}
        for r in records:
            outcome = "applied" if r.expect == "apply" else "dead-lettered"
            for name in r.consumers():
                assert r.inbox_id() not in expected[name], f"two records known by one id: {r.inbox_id()}"
                expected[name][r.inbox_id()] = (outcome, r)

        async def inbox_rows(name: str) -> dict[str, str]:
            rows = await conn.fetch(f"SELECT event_id, outcome FROM {name}.inbox WHERE event_id = ANY($1::text[])", list(expected[name]))
            return {row["event_id"]: row["outcome"] for row in rows}

        for name in SPECS:
            await eventually(lambda: _all_there(inbox_rows, name, expected[name]), timeout=180, interval=1, what=f"every record accounted for in {name}")

        for name, wanted in expected.items():
            got = await inbox_rows(name)
            wrong = {i: (w[0], got.get(i), w[1].kind) for i, w in wanted.items() if got.get(i) != w[0]}
            assert not wrong, f"{name}: records that did not end as expected: {list(wrong.items())[:10]}"
            # exactly one dead letter per dead-lettered record, with a reason and where the record was
            letters = await conn.fetch(
                f"SELECT headers FROM {name}.outbox WHERE topic LIKE '%.dlq' AND headers @> $1::jsonb",
                orjson.dumps([["dlq_service", name]]).decode(),
            )
            by_origin = Counter()
            reasons = {}
            for row in letters:
                hd = dict(orjson.loads(row["headers"]) if isinstance(row["headers"], str) else row["headers"])
                origin = (hd.get("dlq_original_topic"), int(hd.get("dlq_original_partition", -1)), int(hd.get("dlq_original_offset", -1)))
                by_origin[origin] += 1
                reasons[origin] = hd.get("dlq_reason", "")
            for outcome, r in wanted.values():
                origin = (r.topic, r.partition, r.offset)
                if outcome == "dead-lettered":
                    assert by_origin[origin] == 1, f"{name}: {by_origin[origin]} dead letters for a {r.kind} record at {origin}"
                    assert reasons[origin].strip(), f"{name}: the dead letter of a {r.kind} record has no reason"
                else:
                    assert by_origin[origin] == 0, f"{name}: a valid {r.kind} event was dead-lettered: {reasons.get(origin)}"
            # a record the service does not handle (another service's type) leaves no trace in its inbox
            others = [r.inbox_id() for r in records if name not in r.consumers()]
            assert not await conn.fetchval(f"SELECT count(*) FROM {name}.inbox WHERE event_id = ANY($1::text[])", others)

        # effects, not just the inbox: every school-unit version appended once in reporting's history
        schools = [r.event_id for r in records if r.expect == "apply" and r.event_type == OrganisationUpserted.TYPE]
        counts = await conn.fetch("SELECT event_id, count(*) AS n FROM reporting.school_unit_history WHERE event_id = ANY($1::text[]) GROUP BY event_id",
                                  schools)
        assert sorted(row["n"] for row in counts) == [1] * len(schools)

        # the offsets moved to the end of every partition written, and only past accounted records (all are)
        written = sorted({(r.topic, r.partition) for r in records})
        ends = {TopicPartition(t, p): max(r.offset for r in records if (r.topic, r.partition) == (t, p)) + 1 for t, p in written}
        for name in SPECS:
            mine = [tp for tp in ends if tp.topic in HANDLERS[name].topics]
            committed: dict[TopicPartition, int | None] = {}

            async def caught_up() -> bool:
                committed.update(await committed_offsets(stack.bootstrap, GROUPS[name], mine))
                return all((committed[tp] or 0) >= ends[tp] for tp in mine)

            await eventually(caught_up, timeout=60, interval=1, what=f"{name}'s committed offsets at the end")
        # no service restarted or crashed on the way
        for name, svc in stack.services.items():
            assert svc.proc is not None and svc.proc.poll() is None, f"{name} exited"
            assert (svc.starts, svc.proc.pid) == starts[name], f"{name} was restarted"
    finally:
        await conn.close()


async def _all_there(rows: Any, name: str, wanted: dict[str, tuple[str, Record]]) -> bool:
    got = await rows(name)
    return len(got) == len(wanted)


def test_the_generator_makes_every_kind() -> None:
    rng = random.Random(1)
    city = City()
    city.events(n_end=5)
    city.app = uuid.uuid4()
    made = Counter(make_record(rng, city).kind for _ in range(2000))
    assert set(made) == set(KINDS), made
