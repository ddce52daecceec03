"""The people you can be in the demo city: each a person of the demo city whose duties, relations or IdP groups make
their persona (docs/decisions/0014).

- teacher: a Lärare at Engelbrektsskolan (a duty in demo_city);
- principal: the Rektor of the school with a self-assessment draft (devkit/demo/assessment.py DRAFT);
- district admin: the administrator of Norra innerstaden (Övrig arbetsledning at the district) in the IdP's district-admin group;
- IT admin: an IT-samordnare of Norra innerstaden (a duty at the district, published by ``persona_events``) in the IT group;
- data protection: the city's data-protection officer (a person; the role is the IdP group's);
- city admin: a person in the IdP's city-admin group;
- guardian: a guardian of a pupil at Engelbrektsskolan.

``make run`` publishes ``persona_events`` after the demo city, registers every persona with the OpenID provider it starts
(login and password below) and prints a development token per persona with the same person as subject and the claims
the city's data gives them, so both kinds of token can do what the persona says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any
from uuid import UUID

from devkit.demo.city import DISTRICTS, EVENT_TIME, SCHOOL_UNITS, SOURCE, TERM_START, demo_city, demo_ids
from shared.events.city import DutyAssigned, DutyRole, GuardianRelationAdded, PersonUpserted, SecurityMarking
from shared.events.envelope import Envelope, event_uuid, new_envelope

SEED = 2026
PASSWORD = "skolit-demo"
#: the IdP groups the demo's provider and services agree on (SKOLIT_OIDC_ROLE_GROUPS)
ROLE_GROUPS = {"city_admin": "skolit-stadsadmin", "district_admin": "skolit-omradesadmin", "it_admin": "skolit-it",
               "data_protection": "skolit-dataskydd"}
TEACHER_SCHOOL = SCHOOL_UNITS[2][0]  # Engelbrektsskolan
DISTRICT = DISTRICTS[0]  # Norra innerstaden
# after the demo city's own events, a little later, so nothing of the city changes
PERSONA_TIME = EVENT_TIME + timedelta(minutes=30)


@dataclass(frozen=True)
class Persona:
    login: str
    label: str
    person: UUID
    role: str
    school_units: tuple[UUID, ...] = ()
    districts: tuple[UUID, ...] = ()

    @property
    def groups(self) -> list[str]:
        return [ROLE_GROUPS[self.role]] if self.role in ROLE_GROUPS else []


def _person(seed: int, kind: str) -> UUID:
    return UUID(event_uuid("city.demo.entity", seed, "person", "persona", kind))


def persona_events(seed: int = SEED) -> list[Envelope]:
    """The demo's administrative people the city's data has no other reason to know: an IT-samordnare of the district,
    the data-protection officer (with a Dataskydd duty there) and a city admin (deterministic ids, deduplicated when published again)."""
    district = demo_ids(seed)["districts"][DISTRICT]  # type: ignore[index]
    it, dpo, city = _person(seed, "it-admin"), _person(seed, "data-protection"), _person(seed, "city-admin")
    events: list[tuple[Any, UUID]] = [
        (PersonUpserted(id=it, securityMarking=SecurityMarking.INGEN, givenName="Ines", familyName="Lind"), it),
        (PersonUpserted(id=dpo, securityMarking=SecurityMarking.INGEN, givenName="Dan", familyName="Persson"), dpo),
        (PersonUpserted(id=city, securityMarking=SecurityMarking.INGEN, givenName="Stina", familyName="Adler"), city),
        (DutyAssigned(id=UUID(event_uuid("city.demo.entity", seed, "duty", "persona", district, it)), person=it, dutyAt=district,
                      dutyRole=DutyRole.IT_SAMORDNARE, startDate=TERM_START), it),
        # the data-protection function is told of new app requests (notification addresses it by this duty)
        (DutyAssigned(id=UUID(event_uuid("city.demo.entity", seed, "duty", "persona", district, dpo)), person=dpo, dutyAt=district,
                      dutyRole=DutyRole.DATASKYDD, startDate=TERM_START), dpo),
    ]
    return [new_envelope(e, SOURCE, event_id=event_uuid("city.demo.event", seed, e.TYPE, "persona", key), time=PERSONA_TIME)
            for e, key in events]


@cache
def personas(seed: int = SEED) -> tuple[Persona, ...]:
    from devkit.demo.assessment import DRAFT

    ids = demo_ids(seed)
    units: dict[str, UUID] = ids["school_units"]  # type: ignore[assignment]
    districts: dict[str, UUID] = ids["districts"]  # type: ignore[assignment]
    school, district = units[TEACHER_SCHOOL], districts[DISTRICT]
    city = demo_city(seed)
    protected = {e.data.id for e in city if isinstance(e.data, PersonUpserted) and e.data.securityMarking != SecurityMarking.INGEN}
    teacher = next(e.data.person for e in city if isinstance(e.data, DutyAssigned) and e.data.dutyAt == school
                   and e.data.dutyRole == DutyRole.LARARE and e.data.person not in protected)
    guardian = next(e.data.guardian for e in city if isinstance(e.data, GuardianRelationAdded) and e.data.schoolUnit == school
                    and e.data.guardian not in protected)
    rektor: UUID = ids["rektors"][DRAFT]  # type: ignore[index]
    return (
        Persona("larare", f"teacher (Lärare) at {TEACHER_SCHOOL} ({DISTRICT})", teacher, "teacher", (school,)),
        Persona("rektor", f"principal (Rektor) at {DRAFT}, with a self-assessment draft in progress", rektor, "principal", (units[DRAFT],)),
        Persona("omradesadmin", f"district_admin for {DISTRICT} (may reopen submitted assessments)",
                ids["district_admins"][DISTRICT], "district_admin", (), (district,)),  # type: ignore[index]
        Persona("it", f"it_admin for {DISTRICT} (describes apps, licenses its schools, reviews requests)",
                _person(seed, "it-admin"), "it_admin", (), (district,)),
        Persona("dataskydd", "data_protection (records DPAs, approves apps, reviews requests)", _person(seed, "data-protection"),
                "data_protection"),
        Persona("stadsadmin", "city_admin (every district)", _person(seed, "city-admin"), "city_admin"),
        Persona("vardnadshavare", f"guardian of a pupil at {TEACHER_SCHOOL} (reads their inbox)", guardian, "guardian", (school,)),
    )


def persona(login: str, seed: int = SEED) -> Persona:
    found = {p.login: p for p in personas(seed)}
    if login not in found:
        raise KeyError(f"no demo persona {login!r}; there are: {', '.join(found)}")
    return found[login]


__all__ = ["PASSWORD", "ROLE_GROUPS", "Persona", "persona", "persona_events", "personas"]
