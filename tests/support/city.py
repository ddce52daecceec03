"""Small city fixtures for tests: a district with school units, fresh ids each call."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from shared.events.city import DutyAssigned, GuardianRelationAdded, OrganisationUpserted, PersonUpserted


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


def principal_and_family(school: uuid.UUID) -> tuple[uuid.UUID, list]:
    rektor, guardian, pupil = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    return rektor, [
        PersonUpserted(id=rektor),
        DutyAssigned(id=uuid.uuid4(), person=rektor, dutyAt=school, dutyRole="Rektor"),
        PersonUpserted(id=guardian),
        PersonUpserted(id=pupil, securityMarking="Skyddad folkbokföring"),
        GuardianRelationAdded(id=uuid.uuid4(), guardian=guardian, pupil=pupil, schoolUnit=school, schoolType="GR", schoolYear=4),
    ]
