"""A deterministic demo city: Stockholms stad with four districts and 36 school units.

``demo_city()`` returns the events the city's systems would publish for it: organisations, staff,
duties, pupils and guardians. The same seed gives the same ids and event ids every time, so
publishing it twice is deduplicated by the services' inboxes.

Persons travel by id, protection marking and name (SS 12000 givenName/familyName, devkit/demo/names.py,
derived from the id so the names change no id): the demo, like the contract, carries no e-mail addresses,
phone numbers or personnummer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID

from shared.events.city import (
    DutyAssigned,
    DutyRole,
    GuardianRelationAdded,
    OrganisationType,
    OrganisationUpserted,
    PersonUpserted,
    SchoolType,
    SecurityMarking,
)
from devkit.demo.names import guardian_name, name_of
from shared.events.envelope import Envelope, event_uuid, new_envelope

SOURCE = "city.demo"
EVENT_TIME = datetime(2026, 8, 15, 6, 0, tzinfo=UTC)
TERM_START = date(2026, 8, 17)
MUNICIPALITY_CODE = "0180"
MIN_GUARDIAN_RELATIONS = 1100
PROTECTED_SHARE = 0.02

DISTRICTS = ("Norra innerstaden", "Södra innerstaden", "Västerort", "Söderort")

# What a unit is: its school types and, per type, the school years its pupils are in
# (None: no school years, as in förskola).
KINDS: dict[str, list[tuple[SchoolType, tuple[int | None, ...]]]] = {
    "FS": [(SchoolType.FS, (None,))],
    "F6": [(SchoolType.FKLASS, (0,)), (SchoolType.GR, (1, 2, 3, 4, 5, 6))],
    "F9": [(SchoolType.FKLASS, (0,)), (SchoolType.GR, (1, 2, 3, 4, 5, 6, 7, 8, 9))],
    "79": [(SchoolType.GR, (7, 8, 9))],
    "GRS": [(SchoolType.GRS, (1, 2, 3, 4, 5, 6, 7, 8, 9))],
    "GY": [(SchoolType.GY, (1, 2, 3))],
    "GYS": [(SchoolType.GYS, (1, 2, 3, 4))],
    "VUX": [(SchoolType.VUX, (None,)), (SchoolType.SFI, (None,))],
}
# F-6/F-9 schools also run a fritidshem
EXTRA_TYPES = {"F6": [SchoolType.FTH], "F9": [SchoolType.FTH]}

# (name, district index, kind): nine units per district
SCHOOL_UNITS: tuple[tuple[str, int, str], ...] = (
    ("Förskolan Vasaparken", 0, "FS"),
    ("Förskolan Lärkstaden", 0, "FS"),
    ("Engelbrektsskolan", 0, "F9"),
    ("Matteusskolan", 0, "F6"),
    ("Adolf Fredriks skola", 0, "79"),
    ("Norrmalms anpassade grundskola", 0, "GRS"),
    ("Östermalms gymnasium", 0, "GY"),
    ("Kungsholmens anpassade gymnasium", 0, "GYS"),
    ("Vuxenutbildning Sankt Eriksplan", 0, "VUX"),
    ("Förskolan Mariaberget", 1, "FS"),
    ("Förskolan Vita Bergen", 1, "FS"),
    ("Katarina Södra skola", 1, "F9"),
    ("Sofia skola", 1, "F6"),
    ("Högalidsskolan", 1, "F9"),
    ("Eriksdalsskolan", 1, "79"),
    ("Södermalms anpassade grundskola", 1, "GRS"),
    ("Södra Latins gymnasium", 1, "GY"),
    ("Vuxenutbildning Medborgarplatsen", 1, "VUX"),
    ("Förskolan Blackeberg", 2, "FS"),
    ("Förskolan Tensta allé", 2, "FS"),
    ("Bromma skola", 2, "F6"),
    ("Hässelby Villastads skola", 2, "F9"),
    ("Spånga grundskola", 2, "F9"),
    ("Vällingbyskolan", 2, "79"),
    ("Rinkeby anpassade grundskola", 2, "GRS"),
    ("Bromma gymnasium", 2, "GY"),
    ("Vuxenutbildning Vällingby", 2, "VUX"),
    ("Förskolan Hammarbyhöjden", 3, "FS"),
    ("Förskolan Bagarmossen", 3, "FS"),
    ("Enskede skola", 3, "F9"),
    ("Farsta grundskola", 3, "F6"),
    ("Skarpnäcks skola", 3, "F9"),
    ("Hägerstensåsens skola", 3, "79"),
    ("Skärholmens gymnasium", 3, "GY"),
    ("Farsta anpassade gymnasium", 3, "GYS"),
    ("Vuxenutbildning Globen", 3, "VUX"),
)


@dataclass
class _Unit:
    id: UUID
    name: str
    district: UUID
    kind: str
    code: str


def _uuid(seed: int, *parts: object) -> UUID:
    return UUID(event_uuid("city.demo.entity", seed, *parts))


def _event_id(seed: int, event_type: str, *parts: object) -> str:
    return event_uuid("city.demo.event", seed, event_type, *parts)


def district_admin_id(seed: int, district: UUID) -> UUID:
    """The person who administers a demo district (holds "Övrig arbetsledning" at it)."""
    return _uuid(seed, "person", "district-admin", district)


def demo_city(seed: int = 2026) -> list[Envelope]:
    """Every event of the demo city, organisations first, then staff (with each district's administrator) and duties,
    then pupils and guardians."""
    rng = random.Random(seed)
    envelopes: list[Envelope] = []

    def emit(event, *id_parts: object) -> None:  # type: ignore[no-untyped-def]
        envelopes.append(new_envelope(event, SOURCE, event_id=_event_id(seed, event.TYPE, *id_parts), time=EVENT_TIME))

    # -- organisations --------------------------------------------------------------------------
    huvudman = _uuid(seed, "organisation", "huvudman")
    emit(OrganisationUpserted(id=huvudman, displayName="Stockholms stad", organisationType=OrganisationType.HUVUDMAN,
                              municipalityCode=MUNICIPALITY_CODE, startDate=date(1971, 1, 1)), huvudman)
    districts = [_uuid(seed, "organisation", "district", i) for i in range(len(DISTRICTS))]
    for i, (name, district_id) in enumerate(zip(DISTRICTS, districts, strict=True)):
        emit(OrganisationUpserted(id=district_id, displayName=name, organisationType=OrganisationType.VERKSAMHETSOMRADE,
                                  organisationCode=f"SF-{i + 1:02d}", municipalityCode=MUNICIPALITY_CODE,
                                  parentOrganisation=huvudman, startDate=date(2020, 1, 1)), district_id)

    units: list[_Unit] = []
    used_codes: set[str] = set()
    for i, (name, district_index, kind) in enumerate(SCHOOL_UNITS):
        code = f"{rng.randrange(10_000_000, 99_999_999):08d}"
        while code in used_codes:
            code = f"{rng.randrange(10_000_000, 99_999_999):08d}"
        used_codes.add(code)
        unit = _Unit(id=_uuid(seed, "organisation", "unit", i), name=name, district=districts[district_index], kind=kind, code=code)
        units.append(unit)
        types = [t for t, _ in KINDS[kind]] + EXTRA_TYPES.get(kind, [])
        emit(OrganisationUpserted(id=unit.id, displayName=name, organisationType=OrganisationType.SKOLENHET,
                                  schoolUnitCode=code, municipalityCode=MUNICIPALITY_CODE, schoolTypes=types,
                                  parentOrganisation=unit.district, startDate=date(2015 + i % 8, 7, 1)), unit.id)

    # -- staff and duties ----------------------------------------------------------------------
    def marking() -> SecurityMarking:
        return SecurityMarking.SKYDDAD_FOLKBOKFORING if rng.random() < PROTECTED_SHARE else SecurityMarking.INGEN

    duties: list[DutyAssigned] = []
    staff_count = 0
    for unit in units:
        plan = [DutyRole.REKTOR]
        teacher_role = DutyRole.FORSKOLLARARE if unit.kind == "FS" else DutyRole.LARARE
        for _ in range(rng.randint(4, 12)):
            plan.append(DutyRole.FORSKOLLARARE if unit.kind in ("F6", "F9") and rng.random() < 0.15 else teacher_role)
        for role in plan:
            person = _uuid(seed, "person", "staff", staff_count)
            staff_count += 1
            emit(PersonUpserted(id=person, securityMarking=marking(), **name_of(person)), person)
            duties.append(DutyAssigned(id=_uuid(seed, "duty", unit.id, person), person=person, dutyAt=unit.id,
                                       dutyRole=role, startDate=TERM_START))
    # one administrator per district: "Övrig arbetsledning" held at the district itself (not at a school
    # unit) is how the services find a district's administrators; no random draws, so every other id stays
    for district_id in districts:
        person = district_admin_id(seed, district_id)
        emit(PersonUpserted(id=person, securityMarking=SecurityMarking.INGEN, **name_of(person)), person)
        duties.append(DutyAssigned(id=_uuid(seed, "duty", district_id, person), person=person, dutyAt=district_id,
                                   dutyRole=DutyRole.OVRIG_ARBETSLEDNING, startDate=TERM_START))
    for duty in duties:
        emit(duty, duty.id)

    # -- pupils and their guardians ----------------------------------------------------------------
    pupil_units = [u for u in units if u.kind != "VUX"]  # adult education: pupils are their own guardians
    relations: list[GuardianRelationAdded] = []
    counters = {"pupil": 0, "guardian": 0}
    # families by district, so siblings in the same district share guardians
    families: dict[UUID, list[tuple[list[UUID], SecurityMarking]]] = {d: [] for d in districts}

    def add_pupil(unit: _Unit) -> None:
        school_type, years = rng.choice(KINDS[unit.kind])
        year = rng.choice(years)
        pupil = _uuid(seed, "person", "pupil", counters["pupil"])
        counters["pupil"] += 1
        known = families[unit.district]
        if known and rng.random() < 0.12:
            guardians, family_marking = rng.choice(known)  # a sibling of an earlier pupil
        else:
            family_marking = marking()
            guardians = []
            for _ in range(2 if rng.random() < 0.8 else 1):
                guardian = _uuid(seed, "person", "guardian", counters["guardian"])
                counters["guardian"] += 1
                guardians.append(guardian)
                emit(PersonUpserted(id=guardian, securityMarking=family_marking, **guardian_name(guardian, guardians[0])), guardian)
            known.append((guardians, family_marking))
        emit(PersonUpserted(id=pupil, securityMarking=family_marking, **name_of(pupil, family=guardians[0])), pupil)
        relation_type = "Vårdnadshavare" if rng.random() < 0.97 else "Annan ansvarig"
        for guardian in guardians:
            relations.append(GuardianRelationAdded(
                id=_uuid(seed, "guardianship", guardian, pupil, unit.id), guardian=guardian, pupil=pupil,
                schoolUnit=unit.id, relationType=relation_type, schoolType=school_type, schoolYear=year,
                startDate=TERM_START))

    for unit in pupil_units:
        for _ in range(rng.randint(18, 26)):
            add_pupil(unit)
    i = 0
    while len(relations) < MIN_GUARDIAN_RELATIONS:  # other seeds: top up to the promised size
        add_pupil(pupil_units[i % len(pupil_units)])
        i += 1
    for relation in relations:
        emit(relation, relation.id)
    return envelopes


def demo_ids(seed: int = 2026) -> dict[str, object]:
    """Ids worth knowing when trying the demo: the huvudman, the districts, the school units by name
    each school unit's Rektor (person id) by school unit name, and each district's administrator
    (person id) by district name."""
    units = {name: _uuid(seed, "organisation", "unit", i) for i, (name, _, _) in enumerate(SCHOOL_UNITS)}
    districts = {name: _uuid(seed, "organisation", "district", i) for i, name in enumerate(DISTRICTS)}
    by_id = {v: k for k, v in units.items()}
    rektors = {by_id[e.data.dutyAt]: e.data.person for e in demo_city(seed) if isinstance(e.data, DutyAssigned) and e.data.dutyRole == DutyRole.REKTOR}
    return {
        "huvudman": _uuid(seed, "organisation", "huvudman"),
        "districts": districts,
        "school_units": units,
        "rektors": rektors,
        "district_admins": {name: district_admin_id(seed, d) for name, d in districts.items()},
    }


__all__ = ["DISTRICTS", "EVENT_TIME", "SCHOOL_UNITS", "SOURCE", "demo_city", "demo_ids", "district_admin_id"]
