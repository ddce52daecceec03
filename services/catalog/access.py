"""Who may do what in the programbank.

Reading the catalogue: all staff roles. Describing apps and importing: IT admins and city admins.
Data-protection facts: the data-protection function and city admins (separation of duties: the
person who wants an app is not the one who signs off its agreement). Statuses: IT admins, the
data-protection function, city admins; defining new statuses: city admins. Licences: IT admins of
the school's district, city admins. Requests: a teacher or principal whom the city's duty data
places at the school; reviewed by IT admins of the school's district, the data-protection function
and city admins. The guardian view needs no login.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from services.catalog import store
from shared.auth import Principal, Role
from shared.problems import Problem

STAFF = (Role.TEACHER, Role.PRINCIPAL, Role.DISTRICT_ADMIN, Role.CITY_ADMIN, Role.IT_ADMIN, Role.DATA_PROTECTION)
EDITORS = (Role.IT_ADMIN, Role.CITY_ADMIN)
PRIVACY = (Role.DATA_PROTECTION, Role.CITY_ADMIN)
STATUS_SETTERS = (Role.IT_ADMIN, Role.DATA_PROTECTION, Role.CITY_ADMIN)
LICENSERS = (Role.IT_ADMIN, Role.CITY_ADMIN)
REQUESTERS = (Role.TEACHER, Role.PRINCIPAL)
REVIEWERS = (Role.IT_ADMIN, Role.DATA_PROTECTION, Role.CITY_ADMIN)


async def known_school(conn: asyncpg.Connection, school_unit: UUID, field: str = "schoolUnitId") -> asyncpg.Record:
    row = await store.school(conn, school_unit)
    if row is None:
        raise Problem(404, "Not found", f"school unit {school_unit} is not known", field=field)
    return row


def ensure_licenser_for(caller: Principal, school: asyncpg.Record) -> None:
    if not caller.has_any(*LICENSERS):
        raise Problem(403, "Forbidden", "requires one of the roles: " + ", ".join(sorted(LICENSERS)))
    if not caller.may_act_for_school(school["id"], school["district"]):
        raise Problem(403, "Forbidden", f"school unit {school['id']} is not in one of your districts")


async def requester_duty(conn: asyncpg.Connection, caller: Principal, school: asyncpg.Record) -> str:
    """A request comes from someone who works at the school: in the token and in the duty data."""
    if not caller.may_act_for_school(school["id"], school["district"]):
        raise Problem(403, "Forbidden", f"not allowed to act for school unit {school['id']}")
    duty = await store.duty_at(conn, caller.subject, school["id"])
    if duty is None:
        raise Problem(403, "Forbidden", f"the city's duty data does not list you at school unit {school['id']}")
    return duty


def may_review(caller: Principal, school_unit: UUID, district: UUID | None) -> bool:
    if caller.has_any(Role.DATA_PROTECTION, Role.CITY_ADMIN):
        return True
    return caller.has_any(Role.IT_ADMIN) and district is not None and str(district) in caller.districts


def may_see_request(caller: Principal, request: asyncpg.Record) -> bool:
    if request["requester"] == caller.subject or may_review(caller, request["school_unit"], request["district"]):
        return True
    # the school's principal and district admins follow their schools' requests
    return caller.has_any(Role.PRINCIPAL, Role.DISTRICT_ADMIN) and caller.may_act_for_school(request["school_unit"], request["district"])


@dataclass(frozen=True)
class RequestScope:
    """The requests a caller may see, as a query can select them: all of them, those of some schools or districts,
    and always their own. It selects exactly what ``may_see_request`` allows, so a page of requests is full."""

    everything: bool
    school_units: list[UUID]
    districts: list[UUID]
    requester: str


def request_scope(caller: Principal) -> RequestScope:
    follows_schools = caller.has_any(Role.PRINCIPAL, Role.DISTRICT_ADMIN)  # the schools in their token
    reviews_or_follows_districts = caller.has_any(Role.IT_ADMIN, Role.DISTRICT_ADMIN)
    return RequestScope(
        everything=caller.has_any(Role.CITY_ADMIN, Role.DATA_PROTECTION),
        school_units=[UUID(s) for s in caller.school_units] if follows_schools else [],
        districts=[UUID(d) for d in caller.districts] if reviews_or_follows_districts else [],
        requester=caller.subject,
    )


async def visible_request(conn: asyncpg.Connection, caller: Principal, request_id: UUID, *, lock: bool = False) -> asyncpg.Record:
    """The request, if the caller may see it: 404 when there is none, 403 when it is not theirs to see."""
    row = await store.get_request(conn, request_id, lock=lock)
    if row is None:
        raise Problem(404, "Not found", f"request {request_id} does not exist")
    if not may_see_request(caller, row):
        raise Problem(403, "Forbidden", f"request {request_id} is neither yours nor one you review or follow")
    return row
