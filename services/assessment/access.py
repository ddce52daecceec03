"""Who may do what in the assessment service.

Reading a school's assessment: its principal and teachers (school units in the token), the
district's admins, city admins. Writing it: only the school unit's Rektor according to the city's
duty data (the token's subject is the SS 12000 person id) - holding the principal role is not
enough. Reopening: only a district admin of the school's district.

The pulse (docs/decisions/0016): its results are read by the school's principal and the district's and
city's admins, not by teachers (they are its respondents; the figures reach the staff through the
submitted report); its invitations are issued by the school's Rektor.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from services.assessment import store
from services.assessment.domain import KnownSchool
from shared.auth import Principal, Role
from shared.problems import Problem

READERS = (Role.PRINCIPAL, Role.TEACHER, Role.DISTRICT_ADMIN, Role.CITY_ADMIN)
ADMINS = (Role.DISTRICT_ADMIN, Role.CITY_ADMIN)
PULSE_READERS = (Role.PRINCIPAL, Role.DISTRICT_ADMIN, Role.CITY_ADMIN)
PULSE_ISSUERS = (Role.PRINCIPAL,)


async def known_school(conn: asyncpg.Connection, school_unit: UUID) -> KnownSchool:
    school = await store.school(conn, school_unit)
    if school is None:
        raise Problem(404, "Not found", f"school unit {school_unit} is not known")
    return school


def ensure_reader(caller: Principal, school: KnownSchool) -> None:
    if not caller.has_any(*READERS):
        raise Problem(403, "Forbidden", "requires one of the roles: " + ", ".join(sorted(READERS)))
    if not caller.may_act_for_school(school.id, school.district):
        raise Problem(403, "Forbidden", f"not allowed to act for school unit {school.id}")


async def ensure_rektor(conn: asyncpg.Connection, caller: Principal, school: KnownSchool) -> None:
    if not caller.has_any(Role.PRINCIPAL):
        raise Problem(403, "Forbidden", "only the school unit's Rektor may change its assessment or action plan (requires the role principal)")
    if not await store.is_rektor(conn, caller.subject, school.id):
        raise Problem(403, "Forbidden", f"the city's duty data does not list you as Rektor of school unit {school.id}")


def ensure_district_admin(caller: Principal, school: KnownSchool) -> None:
    if not caller.has_any(Role.DISTRICT_ADMIN):
        raise Problem(403, "Forbidden", "only a district admin may reopen a submitted assessment")
    if school.district is None or str(school.district) not in caller.districts:
        raise Problem(403, "Forbidden", f"school unit {school.id} is not in one of your districts")


def ensure_admin_for_all(caller: Principal, schools: list[KnownSchool]) -> None:
    outside = [str(s.id) for s in schools if not caller.may_act_for_school(s.id, s.district)]
    if outside:
        raise Problem(403, "Forbidden", "not allowed to act for school unit(s): " + ", ".join(outside))
