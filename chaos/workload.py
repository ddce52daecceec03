"""The city whose events the chaos run produces, and what each service should hold afterwards.

A few hundred school units in a dozen districts are published first; then a steady random mix:
schools renamed, persons (staff, guardians, pupils) created or their protection marking changed,
duties assigned, changed and ended, guardian relations added and ended — and a small share of
poison: bodies that are not JSON, an event type nobody knows, a known type whose payload breaks
its schema. Every message has its own CloudEvents id.

The expected final state of an entity is its last event (each event's ``ce_time`` is taken when it
is generated, so generation order is time order, and the replicas keep the newest state by event
time). An ending (duty or guardian relation) is generated only once the broker has acknowledged the
event that created the row, so it can never be consumed before the row exists: the replicas keep no
tombstones, and this is a property of the city's systems the run must not violate by itself.
"""

from __future__ import annotations

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
from shared.events.envelope import encode, new_envelope
from shared.topics import CITY_DUTY, CITY_GUARDIANSHIP, CITY_ORGANISATION, CITY_PERSON

SOURCE = "skolit.chaos"
CITY_TOPICS = (CITY_ORGANISATION.name, CITY_DUTY.name, CITY_PERSON.name, CITY_GUARDIANSHIP.name)
UNKNOWN_TYPE = "se.skolit.city.chaos-unknown.v1"
POISON_KINDS = ("undecodable-body", "unknown-type", "invalid-payload")

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
    headers: list[tuple[str, bytes]] | None
    value: bytes | None
    entity: str | None = None  # "<table>:<uuid>" for a valid event
    attempts: int = 0
    partition: int | None = None
    offset: int | None = None
    acked: bool = False
    #: called once the broker acknowledged it (e.g. a relation may be ended from then on)
    on_ack: Any = None

    @property
    def valid(self) -> bool:
        return self.kind == "valid"

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "topic": self.topic, "type": self.type, "kind": self.kind, "key": self.key.decode(errors="replace"),
                "partition": self.partition, "offset": self.offset, "attempts": self.attempts}


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
        self.n_poison = round(events * poison_rate)
        self.total = events + self.n_poison
        first = len(self.districts) + len(self.schools)
        self._poison_at = set(self.rng.sample(range(first, self.total), self.n_poison)) if self.total > first else set()
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
        entity = self._record_expected(env.id, event)
        return Message(seq, env.id, wire.topic, env.type, "valid", wire.key, wire.headers, wire.value, entity=entity, on_ack=on_ack)

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

    def _poison(self, seq: int) -> Message:
        topic = self.rng.choice(CITY_TOPICS)
        kind = self.rng.choice(POISON_KINDS)
        entity = self._uuid()
        schools = self.schools or [(self._uuid(), self._uuid())]
        school = self.rng.choice(schools)[0]
        sample: Event = {
            CITY_ORGANISATION.name: lambda: OrganisationUpserted(id=entity, displayName="Giftskolan", organisationType=OrganisationType.SKOLENHET),
            CITY_DUTY.name: lambda: DutyAssigned(id=entity, person=self._uuid(), dutyAt=school, dutyRole=DutyRole.LARARE),
            CITY_PERSON.name: lambda: PersonUpserted(id=entity),
            CITY_GUARDIANSHIP.name: lambda: GuardianRelationAdded(id=entity, guardian=self._uuid(), pupil=self._uuid(), schoolUnit=school),
        }[topic]()
        wire = encode(new_envelope(sample, SOURCE, time=datetime.now(UTC)))
        headers = dict(wire.headers)
        value = wire.value
        if kind == "undecodable-body":
            value = b"\x00\xff chaos poison, not JSON: " + os.urandom(self.rng.randrange(4, 64))
        elif kind == "unknown-type":
            headers["ce_type"] = UNKNOWN_TYPE.encode()
        else:  # invalid-payload: a known type, JSON, but not its schema
            body = orjson.loads(value)
            broken = {
                CITY_ORGANISATION.name: lambda: {k: v for k, v in body.items() if k != "displayName"} | {"organisationType": "Slott"},
                CITY_DUTY.name: lambda: body | {"dutyRole": "Trollkarl", "person": "not-a-uuid"},
                CITY_PERSON.name: lambda: body | {"securityMarking": "Hemligstämplad"},
                CITY_GUARDIANSHIP.name: lambda: body | {"schoolYear": 99, "relationType": "Granne"},
            }[topic]()
            value = orjson.dumps(broken)
        return Message(seq, headers["ce_id"].decode(), wire.topic, headers["ce_type"].decode(), kind, wire.key, list(headers.items()), value)

    # -- summaries -------------------------------------------------------------------------------

    def valid(self) -> list[Message]:
        return [m for m in self.messages if m.valid]

    def poison(self) -> list[Message]:
        return [m for m in self.messages if not m.valid]
