"""The city whose events the chaos run produces, and what each service should hold afterwards.

A few hundred school units in a dozen districts are published first; then a steady random mix:
schools renamed, persons (staff, guardians, pupils) created or their protection marking changed,
duties assigned, changed and ended, guardian relations added and ended. Most valid events go in
CloudEvents *binary* mode (``ce_*`` headers, the data as the body), a few percent (STRUCTURED_SHARE)
in *structured* mode (``content-type: application/cloudevents+json``, the whole event as one JSON
object, its data as ``data`` or now and then as ``data_base64``); both are the same valid event to the
audit. Every message has its own CloudEvents id.

A small share is poison (POISON_KINDS), as shared/consumer.py ``decode_record`` sorts it:

- *known by its CloudEvents id* (the attributes can be read): ``undecodable-body`` (not JSON),
  ``unknown-type`` (dead-lettered by every consumer of the topic), ``invalid-payload`` and
  ``structured-invalid-data`` (a known type whose data breaks its schema, in binary or structured
  mode: dead-lettered by the services that apply that type, skipped by the others);
- *known by its Kafka coordinates* (COORDINATE_KINDS: the attributes cannot be read, or the record is
  over the size policy), inbox id ``kafka:<topic>:<partition>:<offset>``, dead-lettered by every
  consumer of the topic: ``bad-utf8-header`` (a ``ce_id``/``ce_type``/``ce_source``/``ce_subject`` value
  that is not UTF-8), ``repeated-attribute`` (two ``ce_id`` headers), ``tombstone`` (no body, a key, no
  or partial ``ce_*`` headers), ``structured-missing-id`` (structured mode without an ``id``) and
  ``oversized`` (a valid event padded to OVERSIZED_RECORD_BYTES, over MAX_EVENT_BYTES: a bounded dead
  letter, always by coordinates even though it carries a ``ce_id``). Oversized records are rare
  (MAX_OVERSIZED a run at most) and stay under the topics' ``max.message.bytes`` (MAX_MESSAGE_BYTES), so
  the broker takes them and it is the consumers' size policy that is exercised, not the broker's.

Every poison record carries one more, ordinary header, POISON_HEADER, with the message's id (the
consumers ignore headers that are not ``ce_*``; a dead letter keeps it). The coordinates of a poison
message are only known once it landed: the producer stores the broker's acknowledgement
(``Message.partition``/``offset``). A send the broker did not acknowledge is sent again, and the first
copy may have landed all the same (written, but the acknowledgement lost in a broker outage): for
coordinate kinds that is a second record with a second inbox id. The audit does not guess: it reads
the city topics back and records every copy carrying POISON_HEADER (``Message.landed``), and expects
*every* landed copy to be dead-lettered once by each service it concerns (``Message.inbox_ids``), the
acknowledged one included. (For poison known by its CloudEvents id a second copy is an inbox duplicate,
as for valid events.)

The expected final state of an entity is its last event (each event's ``ce_time`` is taken when it
is generated, so generation order is time order, and the replicas keep the newest state by event
time). An ending (duty or guardian relation) is generated only once the broker has acknowledged the
event that created the row, so it can never be consumed before the row exists: the replicas keep no
tombstones, and this is a property of the city's systems the run must not violate by itself.
"""

from __future__ import annotations

import base64
import os
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from shared.events.base import Event
from shared.events.city import (
    DutyAssigned,
    DutyEnded,
    DutyRole,
    GuardianRelationAdded,
    GuardianRelationEnded,
    OrganisationType,
    OrganisationUpserted,
    PersonUpserted,
    SchoolType,
    SecurityMarking,
)
from shared.events.envelope import STRUCTURED_CONTENT_TYPE, Envelope, WireMessage, encode, new_envelope
from shared.events.registry import model_for
from shared.topics import CITY_DUTY, CITY_GUARDIANSHIP, CITY_ORGANISATION, CITY_PERSON, MAX_EVENT_BYTES, MAX_MESSAGE_BYTES

SOURCE = "skolit.chaos"
CITY_TOPICS = (CITY_ORGANISATION.name, CITY_DUTY.name, CITY_PERSON.name, CITY_GUARDIANSHIP.name)
UNKNOWN_TYPE = "se.skolit.city.chaos-unknown.v1"
POISON_KINDS = ("undecodable-body", "unknown-type", "invalid-payload", "structured-invalid-data",
                "bad-utf8-header", "repeated-attribute", "tombstone", "structured-missing-id", "oversized")
#: poison whose CloudEvents attributes cannot be read (or that is over the size policy): its inbox id is its Kafka coordinates
COORDINATE_KINDS = frozenset({"bad-utf8-header", "repeated-attribute", "tombstone", "structured-missing-id", "oversized"})
#: an ordinary header on every poison record, with the message's id: how the audit finds every copy that landed
POISON_HEADER = "chaos-poison"
#: the share of valid events sent in structured content mode
STRUCTURED_SHARE = 0.03
#: at most this many oversized records a run (each is a megabyte through the broker and every consumer of its topic)
MAX_OVERSIZED = 4
#: an oversized record's size as the size policy counts it: over MAX_EVENT_BYTES, under the topics' max.message.bytes
OVERSIZED_RECORD_BYTES = MAX_EVENT_BYTES + 20_000
assert MAX_EVENT_BYTES < OVERSIZED_RECORD_BYTES < MAX_MESSAGE_BYTES - 1024

#: what follows the initial organisations, by share of the valid events
MIX: tuple[tuple[str, float], ...] = (
    ("organisation-renamed", 0.16),
    ("person-new", 0.22),
    ("person-changed", 0.06),
    ("duty-assigned", 0.15),
    ("duty-changed", 0.04),
    ("duty-ended", 0.03),
    ("relation-added", 0.22),
    ("relation-ended", 0.12),
)
DISTRICT_NAMES = ["Centrum", "Norr", "Söder", "Öster", "Väster", "Hamnen", "Skogsbacken", "Älvdalen", "Ängby", "Kvarnby", "Sjöstaden", "Bergsjö"]
SCHOOL_HEADS = ["Björk", "Ek", "Lind", "Sol", "Äng", "Sjö", "Berg", "Hav", "Kvarn", "Rosen", "Tall", "Gran", "Al", "Lönn", "Vide", "Hassel"]
SCHOOL_TAILS = ["skolan", "backeskolan", "dalsskolan", "ängsskolan", "viksskolan", "hagaskolan", "lundsskolan", "gårdsskolan"]
STAFF_ROLES = [DutyRole.LARARE, DutyRole.LARARE, DutyRole.LARARE, DutyRole.REKTOR, DutyRole.FORSKOLLARARE, DutyRole.KURATOR,
               DutyRole.IT_SAMORDNARE, DutyRole.SPECIALPEDAGOG, DutyRole.SKOLADMINISTRATOR, DutyRole.FORSTELARARE]


@dataclass
class Message:
    """One message the run produces, and what became of it at the broker."""

    seq: int
    id: str
    topic: str
    type: str  # ce_type as sent
    kind: str  # "valid" or one of POISON_KINDS
    key: bytes
    headers: list[tuple[str, bytes | None]] | None
    value: bytes | None
    entity: str | None = None  # "<table>:<uuid>" for a valid event
    mode: str = "binary"  # the CloudEvents content mode: "binary" or "structured"
    attempts: int = 0
    #: where the broker's acknowledgement says it landed
    partition: int | None = None
    offset: int | None = None
    acked: bool = False
    #: poison: (partition, offset) of every copy the audit found on the topic (a send that was not acknowledged may have landed too)
    landed: list[tuple[int, int]] = field(default_factory=list)
    #: called once the broker acknowledged it (e.g. a relation may be ended from then on)
    on_ack: Any = None

    @property
    def valid(self) -> bool:
        return self.kind == "valid"

    @property
    def by_coordinates(self) -> bool:
        """Known to the consumers' inboxes by its Kafka coordinates, not by a CloudEvents id."""
        return self.kind in COORDINATE_KINDS

    def copies(self) -> list[tuple[int, int]]:
        """Every (partition, offset) it is known to have landed at: the acknowledged one and whatever else the topic holds."""
        acked = [(self.partition, self.offset)] if self.partition is not None and self.offset is not None else []
        return sorted(set(acked) | set(self.landed))

    def inbox_ids(self) -> set[str]:
        """The inbox ids a consumer must record for it: its CloudEvents id, or one coordinates id per landed copy."""
        if not self.by_coordinates:
            return {self.id}
        return {coordinates_id(self.topic, p, o) for p, o in self.copies()}

    def summary(self) -> dict[str, Any]:
        out = {"id": self.id, "topic": self.topic, "type": self.type, "kind": self.kind, "key": self.key.decode(errors="replace"),
               "partition": self.partition, "offset": self.offset, "attempts": self.attempts}
        if self.mode != "binary":
            out["mode"] = self.mode
        if not self.valid:
            out["inboxIds"] = sorted(self.inbox_ids())
            if len(self.copies()) > 1:
                out["landed"] = [list(c) for c in self.copies()]
        return out


def coordinates_id(topic: str, partition: int | str, offset: int | str) -> str:
    """The inbox id shared/consumer.py gives a record whose attributes cannot be read."""
    return f"kafka:{topic}:{partition}:{offset}"


def concerns(message: Message, topics: Any, by_type: Any) -> bool:
    """Whether a service consuming ``topics`` and applying the types ``by_type`` must take ``message`` into its inbox,
    as shared.consumer.decode_record sorts records: a valid event of a type it applies; poison on a topic it consumes,
    unless it is a well-formed event of a known type that another service applies (not its business). A record whose
    attributes cannot be read has no type anyone can trust: every consumer of the topic dead-letters it."""
    if message.valid:
        return message.type in by_type
    if message.topic not in topics:
        return False
    return message.by_coordinates or message.type in by_type or model_for(message.type) is None


def structured(env: Envelope, wire: WireMessage, *, data_base64: bool = False, content_type: str = STRUCTURED_CONTENT_TYPE,
               **changes: Any) -> WireMessage:
    """The same event in structured content mode: its attributes and data as one JSON object. ``changes`` replace
    (or, as None, remove) attributes of that object."""
    doc: dict[str, Any] = {"specversion": "1.0", "id": env.id, "type": env.type, "source": env.source,
                           "time": env.time.isoformat(), "datacontenttype": "application/json"}
    if env.subject:
        doc["subject"] = env.subject
    if data_base64:
        doc["data_base64"] = base64.b64encode(wire.value).decode()
    else:
        doc["data"] = orjson.loads(wire.value)
    for name, value in changes.items():
        if value is None:
            doc.pop(name, None)
        else:
            doc[name] = value
    return WireMessage(wire.topic, wire.key, [("content-type", content_type.encode())], orjson.dumps(doc))


@dataclass
class Expected:
    """The final state each replica table should hold, entity by entity (the last event wins)."""

    organisation: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    person: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    duty: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    guardianship: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    #: reporting appends a school_unit_history row per school-unit upsert: exactly one per event id
    school_unit_events: list[str] = field(default_factory=list)


class Workload:
    def __init__(self, events: int, *, poison_rate: float = 0.005, districts: int = 12, schools: int = 400, seed: int = 8) -> None:
        self.rng = random.Random(seed)
        self.total_valid = events
        self.districts = [uuid.UUID(int=self.rng.getrandbits(128), version=4) for _ in range(min(districts, max(1, events // 20)))]
        n_schools = max(0, min(schools, events // 4 - len(self.districts)))
        self.schools = [(self._uuid(), self.rng.choice(self.districts)) for _ in range(n_schools)]
        self.school_names: dict[uuid.UUID, str] = {}
        self.by_type: Counter[str] = Counter()
        self.by_step: Counter[str] = Counter()
        self.by_mode: Counter[str] = Counter()
        self.n_poison = round(events * poison_rate)
        self.total = events + self.n_poison
        first = len(self.districts) + len(self.schools)
        self._poison_at = set(self.rng.sample(range(first, self.total), self.n_poison)) if self.total > first else set()
        # a handful of oversized records at random places; the other poison kinds in turn, each round in a random order
        n_oversized = min(MAX_OVERSIZED, max(1, self.n_poison // 40)) if len(self._poison_at) >= 2 else 0
        self._oversized_at = set(self.rng.sample(sorted(self._poison_at), n_oversized))
        self._kind_round: list[str] = []
        self._initial: list[Event] = [self._district(i, d) for i, d in enumerate(self.districts)] + [self._school(s, d) for s, d in self.schools]
        self.staff: list[uuid.UUID] = []
        self.guardians: list[uuid.UUID] = []
        self.pupils: list[uuid.UUID] = []
        self.persons: dict[uuid.UUID, SecurityMarking] = {}
        self.duties: dict[uuid.UUID, DutyAssigned] = {}
        self.duty_ids: list[uuid.UUID] = []
        self.duties_endable: list[uuid.UUID] = []  # assigned, acknowledged, not ended
        self.relations: dict[uuid.UUID, GuardianRelationAdded] = {}
        self.relations_endable: list[uuid.UUID] = []  # added, acknowledged, not ended
        self._in_pool: set[uuid.UUID] = set()
        self.expected = Expected()
        self.messages: list[Message] = []
        self._mix_steps = [s for s, _ in MIX]
        self._mix_weights = [w for _, w in MIX]
        self._valid = 0

    # -- the stream ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.total

    def next(self) -> Message:
        seq = len(self.messages)
        if seq >= self.total:
            raise StopIteration
        if seq in self._poison_at:
            message = self._poison(seq)
        else:
            if self._valid < len(self._initial):
                event, step, on_ack = self._initial[self._valid], "organisation-initial", None
            else:
                event, step, on_ack = self._step()
            self._valid += 1
            self.by_step[step] += 1
            message = self._message(seq, event, on_ack)
        self.messages.append(message)
        self.by_type[message.type if message.valid else f"poison:{message.kind}"] += 1
        return message

    def _message(self, seq: int, event: Event, on_ack: Any) -> Message:
        env = new_envelope(event, SOURCE, time=datetime.now(UTC))
        wire = encode(env)
        mode = "binary"
        if self.rng.random() < STRUCTURED_SHARE:
            mode = "structured"
            wire = structured(env, wire, data_base64=self.rng.random() < 0.25,
                              content_type=self.rng.choice([STRUCTURED_CONTENT_TYPE, STRUCTURED_CONTENT_TYPE + "; charset=UTF-8"]))
        self.by_mode[mode] += 1
        entity = self._record_expected(env.id, event)
        return Message(seq, env.id, wire.topic, env.type, "valid", wire.key, wire.headers, wire.value, entity=entity, mode=mode, on_ack=on_ack)

    def _step(self) -> tuple[Event, str, Any]:
        step = self.rng.choices(self._mix_steps, self._mix_weights)[0]
        if step == "organisation-renamed" and self.schools:
            sid, district = self.rng.choice(self.schools)
            return self._school(sid, district), step, None
        if step == "person-changed" and self.persons:
            pid = self.rng.choice(self.staff + self.guardians + self.pupils) if len(self.persons) < 50 else self._any_person()
            marking = self.rng.choice([m for m in SecurityMarking if m != self.persons[pid]])
            self.persons[pid] = marking
            return PersonUpserted(id=pid, securityMarking=marking), step, None
        if step in ("duty-assigned", "duty-changed", "duty-ended") and self.staff and self.schools:
            if step == "duty-ended" and self.duties_endable:
                did = self._take(self.duties_endable)
                d = self.duties[did]
                return DutyEnded(id=did, person=d.person, dutyAt=d.dutyAt, endDate=datetime.now(UTC).date()), step, None
            if step == "duty-changed" and self.duties:
                did = self.rng.choice(self.duty_ids)
                old = self.duties[did]
                duty = DutyAssigned(id=did, person=old.person, dutyAt=old.dutyAt,  # same key: same partition, in order
                                    dutyRole=self.rng.choice([r for r in STAFF_ROLES if r != old.dutyRole]))
            else:
                step = "duty-assigned"
                duty = DutyAssigned(id=self._uuid(), person=self.rng.choice(self.staff), dutyAt=self.rng.choice(self.schools)[0],
                                    dutyRole=self.rng.choice(STAFF_ROLES))
                self.duty_ids.append(duty.id)
            self.duties[duty.id] = duty
            return duty, step, (lambda did=duty.id: self._endable(self.duties_endable, did))
        if step in ("relation-added", "relation-ended") and self.guardians and self.pupils and self.schools:
            if step == "relation-ended" and self.relations_endable:
                rid = self._take(self.relations_endable)
                r = self.relations[rid]
                return GuardianRelationEnded(id=rid, guardian=r.guardian, pupil=r.pupil, schoolUnit=r.schoolUnit,
                                             endDate=datetime.now(UTC).date()), step, None
            relation = GuardianRelationAdded(id=self._uuid(), guardian=self.rng.choice(self.guardians), pupil=self.rng.choice(self.pupils),
                                             schoolUnit=self.rng.choice(self.schools)[0], schoolType=SchoolType.GR,
                                             schoolYear=self.rng.randrange(0, 10))
            self.relations[relation.id] = relation
            return relation, "relation-added", (lambda rid=relation.id: self._endable(self.relations_endable, rid))
        # a new person: staff, a guardian or a pupil (also whenever the chosen step has nothing to act on yet)
        pid = self._uuid()
        group = self.rng.choices([self.staff, self.guardians, self.pupils], [0.3, 0.35, 0.35])[0]
        group.append(pid)
        marking = self.rng.choices(list(SecurityMarking), [0.96, 0.03, 0.01])[0]
        self.persons[pid] = marking
        return PersonUpserted(id=pid, securityMarking=marking), "person-new", None

    def _endable(self, pool: list[uuid.UUID], entity: uuid.UUID) -> None:
        if entity not in self._in_pool:
            self._in_pool.add(entity)
            pool.append(entity)

    def _take(self, pool: list[uuid.UUID]) -> uuid.UUID:
        i = self.rng.randrange(len(pool))
        pool[i], pool[-1] = pool[-1], pool[i]
        entity = pool.pop()
        self._in_pool.discard(entity)
        return entity

    def _any_person(self) -> uuid.UUID:
        group = self.rng.choices([self.staff, self.guardians, self.pupils], [len(self.staff), len(self.guardians), len(self.pupils)])[0]
        return self.rng.choice(group)


    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _district(self, i: int, did: uuid.UUID) -> OrganisationUpserted:
        return OrganisationUpserted(id=did, displayName=f"{DISTRICT_NAMES[i % len(DISTRICT_NAMES)]} {i // len(DISTRICT_NAMES) or ''}".strip(),
                                    organisationType=OrganisationType.VERKSAMHETSOMRADE, municipalityCode="1480")

    def _school(self, sid: uuid.UUID, district: uuid.UUID) -> OrganisationUpserted:
        version = self.by_step["organisation-renamed"]
        name = f"{self.rng.choice(SCHOOL_HEADS)}{self.rng.choice(SCHOOL_TAILS)} {version}"
        self.school_names[sid] = name
        return OrganisationUpserted(id=sid, displayName=name, organisationType=OrganisationType.SKOLENHET,
                                    schoolUnitCode=f"{sid.int % 100_000_000:08d}", municipalityCode="1480",
                                    schoolTypes=self.rng.choice([[SchoolType.GR], [SchoolType.GR, SchoolType.FKLASS], [SchoolType.GY]]),
                                    parentOrganisation=district)

    # -- what should be true afterwards ---------------------------------------------------------

    def _record_expected(self, event_id: str, e: Event) -> str:
        x = self.expected
        if isinstance(e, OrganisationUpserted):
            x.organisation[e.id] = {"display_name": e.displayName, "organisation_type": e.organisationType.value,
                                    "parent_organisation": e.parentOrganisation, "school_types": [t.value for t in e.schoolTypes]}
            if e.organisationType == OrganisationType.SKOLENHET:
                x.school_unit_events.append(event_id)
            return f"organisation:{e.id}"
        if isinstance(e, PersonUpserted):
            x.person[e.id] = {"security_marking": e.securityMarking.value}
            return f"person:{e.id}"
        if isinstance(e, DutyAssigned):
            x.duty[e.id] = {"person": e.person, "duty_at": e.dutyAt, "duty_role": e.dutyRole.value, "active": True}
            return f"duty:{e.id}"
        if isinstance(e, DutyEnded):
            x.duty[e.id] = {**x.duty[e.id], "active": False}
            return f"duty:{e.id}"
        if isinstance(e, GuardianRelationAdded):
            x.guardianship[e.id] = {"guardian": e.guardian, "pupil": e.pupil, "school_unit": e.schoolUnit, "active": True}
            return f"guardianship:{e.id}"
        if isinstance(e, GuardianRelationEnded):
            x.guardianship[e.id] = {**x.guardianship[e.id], "active": False}
            return f"guardianship:{e.id}"
        raise TypeError(f"no expectation for {type(e).__name__}")

    # -- poison ----------------------------------------------------------------------------------

    def _poison_kind(self, seq: int) -> str:
        if seq in self._oversized_at:
            return "oversized"
        if not self._kind_round:
            self._kind_round = [k for k in POISON_KINDS if k != "oversized"]
            self.rng.shuffle(self._kind_round)
        return self._kind_round.pop()

    def _poison(self, seq: int, kind: str | None = None) -> Message:
        topic = self.rng.choice(CITY_TOPICS)
        kind = kind or self._poison_kind(seq)
        entity = self._uuid()
        schools = self.schools or [(self._uuid(), self._uuid())]
        school = self.rng.choice(schools)[0]
        sample: Event = {
            CITY_ORGANISATION.name: lambda: OrganisationUpserted(id=entity, displayName="Giftskolan", organisationType=OrganisationType.SKOLENHET),
            CITY_DUTY.name: lambda: DutyAssigned(id=entity, person=self._uuid(), dutyAt=school, dutyRole=DutyRole.LARARE),
            CITY_PERSON.name: lambda: PersonUpserted(id=entity),
            CITY_GUARDIANSHIP.name: lambda: GuardianRelationAdded(id=entity, guardian=self._uuid(), pupil=self._uuid(), schoolUnit=school),
        }[topic]()
        env = new_envelope(sample, SOURCE, time=datetime.now(UTC))
        wire = encode(env)
        headers: list[tuple[str, bytes | None]] = list(wire.headers)
        value: bytes | None = wire.value
        typ = env.type
        mode = "binary"

        def broken_data() -> dict[str, Any]:  # a known type, JSON, but not its schema
            body = orjson.loads(wire.value)
            return {
                CITY_ORGANISATION.name: lambda: {k: v for k, v in body.items() if k != "displayName"} | {"organisationType": "Slott"},
                CITY_DUTY.name: lambda: body | {"dutyRole": "Trollkarl", "person": "not-a-uuid"},
                CITY_PERSON.name: lambda: body | {"securityMarking": "Hemligstämplad"},
                CITY_GUARDIANSHIP.name: lambda: body | {"schoolYear": 99, "relationType": "Granne"},
            }[topic]()

        if kind == "undecodable-body":
            value = b"\x00\xff chaos poison, not JSON: " + os.urandom(self.rng.randrange(4, 64))
        elif kind == "unknown-type":
            headers = [(k, UNKNOWN_TYPE.encode() if k == "ce_type" else v) for k, v in headers]
            typ = UNKNOWN_TYPE
        elif kind == "invalid-payload":
            value = orjson.dumps(broken_data())
        elif kind == "structured-invalid-data":
            mode = "structured"
            s = structured(env, wire, data=broken_data())
            headers, value = list(s.headers), s.value
        elif kind == "structured-missing-id":
            mode = "structured"
            s = structured(env, wire, data_base64=self.rng.random() < 0.3, id=self.rng.choice([None, ""]))
            headers, value = list(s.headers), s.value
        elif kind == "bad-utf8-header":
            name = self.rng.choice(["ce_id", "ce_type", "ce_source", "ce_subject"])
            garbage = self.rng.choice([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"])  # never UTF-8: BOM-ish, bad continuation, surrogate, lone continuation
            headers = [(k, (v or b"")[:8] + garbage + (v or b"")[8:] if k == name else v) for k, v in headers]
        elif kind == "repeated-attribute":
            twin = env.id.encode() if self.rng.random() < 0.5 else str(self._uuid()).encode()  # the same id again, or another one
            at = self.rng.randrange(len(headers) + 1)
            headers.insert(at, ("ce_id", twin))
        elif kind == "tombstone":
            value = None
            keep = self.rng.choice([(), ("ce_id", "ce_type"), ("ce_specversion", "ce_id", "ce_type", "ce_time")])
            headers = [(k, v) for k, v in headers if k in keep]
            if headers and self.rng.random() < 0.5:
                headers.append(("ce_source", None))  # a null header value: an empty attribute
        elif kind == "oversized":
            # a valid event whose body is padded until the record is over the size policy (but not over the broker's limit)
            base = len(wire.key) + len(wire.value) + sum(len(k.encode()) + len(v or b"") for k, v in headers)
            base += len(POISON_HEADER) + len(env.id) + len(b',"chaosPadding":""')
            value = wire.value[:-1] + b',"chaosPadding":"' + b"x" * (OVERSIZED_RECORD_BYTES - base) + b'"}'
        else:
            raise ValueError(f"unknown poison kind {kind!r}")
        headers.append((POISON_HEADER, env.id.encode()))
        return Message(seq, env.id, wire.topic, typ, kind, wire.key, headers, value, mode=mode)

    # -- summaries -------------------------------------------------------------------------------

    def valid(self) -> list[Message]:
        return [m for m in self.messages if m.valid]

    def poison(self) -> list[Message]:
        return [m for m in self.messages if not m.valid]
