"""The generated city's entities as SS 12000 JSON, rendered from their index on demand (devkit/ss12000/citygen.py).

Each resource's generated entities were "modified" in index order (strictly increasing timestamps before
citygen.GENERATED_UNTIL), so the order the standard's lists need — by (meta.modified, id) — is simply the index order
for everything not changed since; devkit/ss12000/store.py relies on that to page without sorting.
"""

from __future__ import annotations

import bisect
import functools
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from devkit.demo.names import FAMILY_NAMES, GIVEN_NAMES
from devkit.ss12000.citygen import (CREATED_FROM, DISTRICT_NAMES, GENERATED_UNTIL, MODIFIED_FROM, MUNICIPALITY_CODE, PHONE_COUNT, PHONE_FIRST,
                                    TERM_START, City, IdSpace, School, civic_no, digest, micros, rfc3339, stride)

# the standard's resource (path) → its EndPointsEnum name, as subscriptions and /deletedEntities name it
RESOURCE_TYPES = {"organisations": "Organisation", "persons": "Person", "duties": "Duty", "placements": "Placement", "groups": "Group"}
STREETS = ("Storgatan", "Skolvägen", "Björkvägen", "Kyrkogatan", "Ringvägen", "Parkvägen", "Sjövägen", "Ängsvägen", "Tallstigen", "Hamngatan")


def school_type(school: School, year: int) -> str:
    """The school type of an enrolment or class in ``year`` at ``school``: year 0 of a grundskola is förskoleklass."""
    if school.kind in ("GY", "GRS", "FS"):
        return school.kind
    return "FKLASS" if year == 0 else "GR"


@functools.lru_cache(maxsize=4096)
def _ascii(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if c.isascii() and c.isalnum())


@dataclass
class Resource:
    """One list endpoint's generated entities: how many, their ids, their timestamps and their JSON by index."""

    name: str
    count: int
    ids: IdSpace
    render: Callable[[int], dict[str, Any]]

    def __post_init__(self) -> None:
        n = max(self.count, 1)
        self._created0, self._created_step = micros(CREATED_FROM), (micros(MODIFIED_FROM) - micros(CREATED_FROM)) // n
        self._modified0, self._modified_step = micros(MODIFIED_FROM), (micros(GENERATED_UNTIL) - micros(MODIFIED_FROM)) // n

    def created_us(self, index: int) -> int:
        return self._created0 + index * self._created_step

    def modified_us(self, index: int) -> int:
        return self._modified0 + index * self._modified_step

    def first_modified_at_or_after(self, us: int) -> int:
        """The first index whose generated ``modified`` is at or after ``us`` (count if none)."""
        if us <= self._modified0:
            return 0
        return min(self.count, -(-(us - self._modified0) // self._modified_step))

    def first_created_at_or_after(self, us: int) -> int:
        if us <= self._created0:
            return 0
        return min(self.count, -(-(us - self._created0) // self._created_step))

    def meta(self, index: int) -> dict[str, str]:
        return {"created": rfc3339(self.created_us(index)), "modified": rfc3339(self.modified_us(index))}

    def entity(self, index: int) -> dict[str, Any]:
        return {"id": self.ids.id(index), "meta": self.meta(index)} | self.render(index)


class Entities:
    """The five resources of a generated city."""

    def __init__(self, city: City) -> None:
        self.city = city
        seed = city.seed
        self.resources = {
            "organisations": Resource("organisations", city.counts["organisations"], IdSpace(seed, "organisations"), self.organisation),
            "persons": Resource("persons", city.counts["persons"], IdSpace(seed, "persons"), self.person),
            "duties": Resource("duties", city.counts["duties"], IdSpace(seed, "duties"), self.duty),
            "placements": Resource("placements", city.counts["placements"], IdSpace(seed, "placements"), self.placement),
            "groups": Resource("groups", city.counts["groups"], IdSpace(seed, "groups"), self.group),
        }

    def _id(self, resource: str, index: int) -> str:
        return self.resources[resource].ids.id(index)

    def _ref(self, resource: str, index: int) -> dict[str, str]:
        return {"id": self._id(resource, index)}

    # ---- organisations: the Huvudman, its districts, the school units ---------------------------------------------------
    def organisation(self, index: int) -> dict[str, Any]:
        city = self.city
        common: dict[str, Any] = {"municipalityCode": MUNICIPALITY_CODE, "organisationCode": None, "schoolUnitCode": None, "schoolTypes": [], "endDate": None}
        if index == 0:
            return common | {"displayName": "Stockholms stad", "organisationType": "Huvudman", "parentOrganisation": None, "startDate": "1971-01-01"}
        if index <= city.districts:
            d = index - 1
            name = DISTRICT_NAMES[d % len(DISTRICT_NAMES)] + (f" {d // len(DISTRICT_NAMES) + 1}" if d >= len(DISTRICT_NAMES) else "")
            return common | {"displayName": f"{name} skolområde", "organisationType": "Förvaltning", "parentOrganisation": self._ref("organisations", 0),
                             "startDate": "2007-01-01"}
        school = city.schools[index - 1 - city.districts]
        return common | {"displayName": school.name, "organisationType": "Skolenhet", "schoolUnitCode": school.code, "organisationCode": school.code,
                         "schoolTypes": list(school.school_types), "parentOrganisation": self._ref("organisations", school.district),
                         "startDate": f"{1990 + digest(city.seed, 'opened', index) % 30}-07-01"}

    # ---- persons --------------------------------------------------------------------------------------------------------
    def _family_name(self, family: int) -> str:
        return FAMILY_NAMES[digest(self.city.seed, "family-name", family) % len(FAMILY_NAMES)]

    def name(self, index: int) -> tuple[str, str | None, str]:
        """(givenName, middleName, familyName) of person ``index``: a child carries its family's name, a second guardian
        now and then their own."""
        rng = random.Random(digest(self.city.seed, "name", index))
        given = rng.choice(GIVEN_NAMES)
        middle = rng.choice(FAMILY_NAMES) if rng.random() < 0.05 else None
        kind, k = self.city.person_kind(index)
        if kind == "child":
            family = self._family_name(self.city.family_of_child(k))
        elif kind == "guardian":
            f = self.city.family_of_guardian(k)
            own = k != self.city.family_guardian_start[f] and rng.random() < 0.25
            family = rng.choice(FAMILY_NAMES) if own else self._family_name(f)
        else:
            family = rng.choice(FAMILY_NAMES)
        return given, middle, family

    def _marking(self, index: int, family: int | None) -> str:
        if family is not None and digest(self.city.seed, "skyddad", family) % 100 == 0:
            return "Skyddad folkbokföring"  # the whole family, as the Tax Agency grants it
        if digest(self.city.seed, "sekretess", index) % 100 == 0:
            return "Sekretessmarkering"
        return "Ingen"

    def person(self, index: int) -> dict[str, Any]:
        city = self.city
        rng = random.Random(digest(city.seed, "person", index))
        given, middle, family_name = self.name(index)
        kind, k = city.person_kind(index)
        enrolments: list[dict[str, Any]] = []
        responsibles: list[dict[str, Any]] = []
        family: int | None = None
        if kind == "child":
            family = city.family_of_child(k)
            school = city.schools[city.school_of_child(k)]
            if school.kind == "FS":
                born = date(2020 + rng.randrange(5), 1, 1)
            else:
                year = city.year_of(school, k)
                age = year + (6 if school.kind != "GY" else 15)
                born = date(TERM_START.year - 1 - age, 1, 1)
                enrolments.append({"enroledAt": self._ref("organisations", school.index), "schoolYear": year, "schoolType": school_type(school, year),
                                   "startDate": date(TERM_START.year - (year - school.years[0]), 8, 18).isoformat(), "endDate": None,
                                   "cancelled": False})
            guardians = city.guardians_of_family(family)
            for n, g in enumerate(guardians):
                relation = "Vårdnadshavare"
                if len(guardians) == 1 and digest(city.seed, "god-man", family) % 50 == 0:
                    relation = "God man"
                elif n == 1 and digest(city.seed, "annan", family) % 40 == 0:
                    relation = "Annan ansvarig"
                responsibles.append({"person": self._ref("persons", g), "relationType": relation})
            domain, email_type, phone_type = "elev.skolit.example", "Skola elev", "Hem"
        elif kind == "guardian":
            family = city.family_of_guardian(k)
            born = date(1968 + rng.randrange(28), 1, 1)
            domain, email_type, phone_type = "example.com", "Privat", "Hem"
        else:
            born = date(1960 + rng.randrange(39), 1, 1)
            domain, email_type, phone_type = "skolit.example", "Skola personal", "Arbete"
        born += timedelta(days=rng.randrange(365))
        marking = self._marking(index, family)
        local = f"{_ascii(given)}.{_ascii(family_name)}.{index}"
        person: dict[str, Any] = {
            "givenName": given, "middleName": middle, "familyName": family_name,
            "eduPersonPrincipalNames": [f"{local}@{domain if kind != 'guardian' else 'vh.skolit.example'}"],
            "civicNo": {"value": civic_no(born, rng), "nationality": "SE"},
            "birthDate": born.isoformat(),
            "emails": [{"value": f"{local}@{domain}", "type": email_type}],
            "phoneNumbers": [{"value": f"+4670{PHONE_FIRST + rng.randrange(PHONE_COUNT)}", "type": phone_type, "mobile": True}],
            "addresses": [] if marking == "Skyddad folkbokföring" else [
                {"type": "Folkbokföring", "streetAddress": f"{rng.choice(STREETS)} {rng.randrange(1, 80)}",
                 "postalCode": f"1{rng.randrange(1000, 9999)}", "locality": "Stockholm"}],
            "securityMarking": marking,
            "personStatus": "Aktiv",
            "enrolments": enrolments,
            "responsibles": responsibles,
        }
        return person

    # ---- duties ---------------------------------------------------------------------------------------------------------
    def duty(self, index: int) -> dict[str, Any]:
        city = self.city
        staff = bisect.bisect_right(city.duty_start, index) - 1
        org, role = city.staff_role(staff)
        if index - city.duty_start[staff] == 1:
            role = "Förstelärare"
        person = city.child_count + city.guardian_count + staff
        given, _, family = self.name(person)
        start = date(2010, 8, 1) + timedelta(days=digest(city.seed, "employed", staff) % 5000)
        return {"person": self._ref("persons", person), "dutyAt": self._ref("organisations", org), "dutyRole": role,
                "signature": (_ascii(given)[:2] + _ascii(family)[:2]).upper(), "dutyPercent": 100, "startDate": start.isoformat(),
                "endDate": None}

    # ---- placements: förskola children --------------------------------------------------------------------------------
    def placement(self, index: int) -> dict[str, Any]:
        city = self.city
        k = bisect.bisect_right(city.placement_start, index) - 1
        pos = city.preschools[k]
        child = city.pupil_start[pos] + index - city.placement_start[k]
        start = date(2021, 8, 1) + timedelta(days=digest(city.seed, "placed", index) % 1400)
        return {"placedAt": self._ref("organisations", city.schools[pos].index), "child": self._ref("persons", child), "schoolType": "FS",
                "startDate": start.isoformat(), "endDate": None}

    # ---- groups: a class per school year ------------------------------------------------------------------------------
    def group(self, index: int) -> dict[str, Any]:
        city = self.city
        pos = bisect.bisect_right(city.group_start, index) - 1
        school: School = city.schools[pos]
        y = index - city.group_start[pos]
        year, n = school.years[y], len(school.years)
        first = (y * pow(stride(n), -1, n)) % n if n > 1 else 0
        members = range(city.pupil_start[pos] + first, city.pupil_start[pos + 1], n)
        return {"displayName": f"{'F' if year == 0 else year}A", "groupType": "Klass", "schoolType": school_type(school, year),
                "organisation": self._ref("organisations", school.index),
                "groupMemberships": [{"person": self._ref("persons", p)} for p in members],
                "startDate": TERM_START.isoformat(), "endDate": None}


def examples(e: Entities) -> dict[str, str | None]:
    """Ids of one generated entity of each interesting kind (GET /_test/examples), so a test needs no search to find,
    say, a pupil with a protected identity."""
    city = e.city
    persons = e.resources["persons"]

    def person(index: int | None) -> str | None:
        return None if index is None else persons.ids.id(index)

    skyddad = next((f for f in range(city.family_count) if digest(city.seed, "skyddad", f) % 100 == 0), None)
    sekretess = next((i for i in range(persons.count) if e.person(i)["securityMarking"] == "Sekretessmarkering"), None)
    rektor_duty = 0  # every school's first staff member is its Rektor, and school 0's comes first
    return {
        "huvudman": e._id("organisations", 0),
        "district": e._id("organisations", 1),
        "schoolUnit": e._id("organisations", city.schools[0].index),
        "pupil": person(0),
        "guardian": person(city.guardians_of_family(city.family_of_child(0))[0]),
        "staff": person(city.child_count + city.guardian_count),
        "rektorDuty": e._id("duties", rektor_duty),
        "protectedPupil": person(None if skyddad is None else city.children_of_family(skyddad)[0]),
        "protectedGuardian": person(None if skyddad is None else city.guardians_of_family(skyddad)[0]),
        "confidentialPerson": person(sekretess),
        "preschoolChild": None if not city.preschools else person(city.pupil_start[city.preschools[0]]),
        "placement": e._id("placements", 0) if city.counts["placements"] else None,
        "group": e._id("groups", 0) if city.counts["groups"] else None,
    }
