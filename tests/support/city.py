"""Small city fixtures for tests: a district with school units, fresh ids each call; persons with names."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from devkit.demo.names import name_of
from shared.events.city import DutyAssigned, GuardianRelationAdded, OrganisationUpserted, PersonUpserted, SecurityMarking


@dataclass
class District:
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    schools: list[uuid.UUID] = field(default_factory=list)

    def events(self, n_schools: int = 2) -> list:
        evs: list = [OrganisationUpserted(id=self.id, displayName=f"Område {str(self.id)[:6]}", organisationType="Verksamhetsområde")]
        for _ in range(n_schools):
            sid = uuid.uuid4()
            self.schools.append(sid)
            evs.append(school_unit(sid, self.id))
        return evs


def school_unit(sid: uuid.UUID, district: uuid.UUID, name: str | None = None, types: tuple[str, ...] = ("GR",)) -> OrganisationUpserted:
    return OrganisationUpserted(
        id=sid,
        displayName=name or f"Skola {str(sid)[:6]}",
        organisationType="Skolenhet",
        schoolUnitCode=f"{random.randint(0, 99_999_999):08d}",
        schoolTypes=list(types),
        parentOrganisation=district,
    )


def person(pid: uuid.UUID, marking: str = "Ingen", *, given: str | None = None, family: str | None = None,
           named: bool = True) -> PersonUpserted:
    """The city's record of a person: with a realistic Swedish name derived from the id (devkit/demo/names.py) unless
    ``given``/``family`` say otherwise, or with none (``named=False``)."""
    name = name_of(pid)
    return PersonUpserted(id=pid, securityMarking=SecurityMarking(marking), givenName=(given or name["givenName"]) if named else None,
                          familyName=(family or name["familyName"]) if named else None)


def display_name(pid: uuid.UUID) -> str:
    """How ``person(pid)`` is shown (shared/city/people.py display_name)."""
    name = name_of(pid)
    return f"{name['givenName']} {name['familyName']}"


def principal_and_family(school: uuid.UUID) -> tuple[uuid.UUID, list]:
    rektor, guardian, pupil = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    return rektor, [
        person(rektor),
        DutyAssigned(id=uuid.uuid4(), person=rektor, dutyAt=school, dutyRole="Rektor"),
        person(guardian),
        person(pupil, "Skyddad folkbokföring"),
        GuardianRelationAdded(id=uuid.uuid4(), guardian=guardian, pupil=pupil, schoolUnit=school, schoolType="GR", schoolYear=4),
    ]
