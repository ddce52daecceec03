"""A deterministic city as its systems would publish it, in realistic proportions, for the ingest and
broker benchmarks: districts and school units (OrganisationUpserted), pupils, guardians and staff
(PersonUpserted), staff duties (DutyAssigned) and guardian → pupil relations (GuardianRelationAdded).

Proportions (per pupil): ~1.2 guardians (a family has 1–2 guardians, mostly 2, and 1–3 children, ~1.45 on
average), ~1.7 guardian relations, 0.1 staff with ~1.15 duties each (every school unit has a Rektor), one
school unit per ~350 pupils, one district per ~40 school units; 2% of pupils have a protected identity.
``city_events(n)`` gives exactly ``n`` events (the last family may be cut short), organisations first.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from shared.events.base import Event
from shared.events.city import DutyAssigned, GuardianRelationAdded, OrganisationUpserted, PersonUpserted
from shared.events.envelope import WireMessage, encode, new_envelope

SOURCE = "bench.city"
PUPILS_PER_SCHOOL = 350
SCHOOLS_PER_DISTRICT = 40
EVENTS_PER_PUPIL = 4.13  # 1 pupil + ~1.21 guardians + ~1.7 relations + 0.1 staff + ~0.115 duties + orgs
STAFF_ROLES = ["Lärare"] * 12 + ["Förskollärare", "Barnskötare", "Fritidspedagog", "Lärarassistent", "Speciallärare/specialpedagog", "Kurator",
                                 "Skolsköterska", "IT-samordnare", "Skoladministratör", "Förstelärare"]
SCHOOL_KINDS = [(["GR"], range(0, 10)), (["FKLASS", "GR", "FTH"], range(0, 7)), (["GR"], range(7, 10)), (["GY"], range(1, 4)),
                (["GRS"], range(1, 10))]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


@dataclass
class City:
    events: list[Event]
    districts: list[uuid.UUID] = field(default_factory=list)
    schools: list[uuid.UUID] = field(default_factory=list)
    rektors: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # school → its Rektor
    guardians: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)  # (guardian, school)

    def counts(self) -> dict[str, int]:
        return dict(Counter(type(e).__name__ for e in self.events))


def city_events(n: int, seed: int = 42, *, tag: str = "") -> City:
    """Exactly ``n`` events (n >= 50). Different ``seed``s give different ids (a fresh city)."""
    rng = random.Random(f"{seed}:{tag}")
    pupils_estimate = max(1, round(n / EVENTS_PER_PUPIL))
    n_schools = max(2, round(pupils_estimate / PUPILS_PER_SCHOOL))
    n_districts = max(1, round(n_schools / SCHOOLS_PER_DISTRICT))
    city = City(events=[])
    for d in range(n_districts):
        did = _uuid(rng)
        city.districts.append(did)
        city.events.append(OrganisationUpserted(id=did, displayName=f"Område {d + 1}", organisationType="Verksamhetsområde",
                                                municipalityCode="0180"))
    kinds: dict[uuid.UUID, tuple[list[str], range]] = {}
    for s in range(n_schools):
        sid = _uuid(rng)
        city.schools.append(sid)
        kinds[sid] = rng.choice(SCHOOL_KINDS)
        city.events.append(OrganisationUpserted(id=sid, displayName=f"Skola {s + 1:04d}", organisationType="Skolenhet",
                                                schoolUnitCode=f"{rng.randrange(10**8):08d}", schoolTypes=kinds[sid][0],
                                                parentOrganisation=city.districts[s % n_districts], municipalityCode="0180"))
    # every school unit's Rektor first
    for sid in city.schools:
        person = _uuid(rng)
        city.rektors[sid] = person
        city.events += [PersonUpserted(id=person), DutyAssigned(id=_uuid(rng), person=person, dutyAt=sid, dutyRole="Rektor")]
    pupils_at: Counter[uuid.UUID] = Counter()
    while len(city.events) < n:
        school = rng.choice(city.schools)
        types, years = kinds[school]
        family: list[Event] = []
        guardians = [_uuid(rng) for _ in range(2 if rng.random() < 0.75 else 1)]
        family += [PersonUpserted(id=g) for g in guardians]
        for _ in range(rng.choices([1, 2, 3], weights=[62, 31, 7])[0]):
            child_school = school if rng.random() < 0.8 else rng.choice(city.schools)
            types, years = kinds[child_school]
            pupil = _uuid(rng)
            marking = "Skyddad folkbokföring" if rng.random() < 0.02 else "Ingen"
            family.append(PersonUpserted(id=pupil, securityMarking=marking))
            for g in guardians:
                family.append(GuardianRelationAdded(id=_uuid(rng), guardian=g, pupil=pupil, schoolUnit=child_school,
                                                    schoolType=types[-1] if types[-1] != "FTH" else "GR", schoolYear=rng.choice(years)))
                city.guardians.append((g, child_school))
            pupils_at[child_school] += 1
            # one staff member per ten pupils at the school, 15% with a second duty
            if pupils_at[child_school] % 10 == 0:
                staff = _uuid(rng)
                family += [PersonUpserted(id=staff), DutyAssigned(id=_uuid(rng), person=staff, dutyAt=child_school, dutyRole=rng.choice(STAFF_ROLES))]
                if rng.random() < 0.15:
                    family.append(DutyAssigned(id=_uuid(rng), person=staff, dutyAt=child_school, dutyRole=rng.choice(STAFF_ROLES)))
        city.events += family
    del city.events[n:]
    return city


def wire(event: Event) -> WireMessage:
    return encode(new_envelope(event, SOURCE))


def wire_all(events: list[Event]) -> list[WireMessage]:
    return [wire(e) for e in events]


def size_facts(messages: list[WireMessage]) -> dict[str, Any]:
    values = [len(m.value) for m in messages]
    headers = [sum(len(k) + len(v) for k, v in m.headers) for m in messages]
    return {"messages": len(messages), "meanValueBytes": round(sum(values) / len(values)), "meanHeaderBytes": round(sum(headers) / len(headers)),
            "totalMiB": round((sum(values) + sum(headers) + sum(len(m.key) for m in messages)) / 2**20, 1)}
