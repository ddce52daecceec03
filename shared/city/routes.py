"""``/school-units``: every service shows the school units it knows, scoped to the caller."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from shared.auth import Principal, Role, ensure_school_access, require
from shared.city import replica
from shared.city.people import person_refs
from shared.http.models import Page, PersonRef, SchoolUnitRef
from shared.http.openapi import example
from shared.http.pages import PageRequest, page_request
from shared.problems import Problem, documented

router = APIRouter(tags=["city data"])
SEE_ALL = {Role.CITY_ADMIN}
BY_DISTRICT = {Role.DISTRICT_ADMIN, Role.IT_ADMIN}
EXAMPLE: dict[str, Any] = {"id": "0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b", "name": "Rosengårdsskolan", "schoolUnitCode": "12345678", "schoolTypes": ["GR"],
           "district": {"id": "7d1e2f3a-4b5c-4d6e-8f70-81a2b3c4d5e6", "name": "Område Öster"}, "startDate": "1972-08-15", "endDate": None}


class DistrictRef(BaseModel):
    id: UUID
    name: str | None = Field(description="the district's (verksamhetsområde's) display name")


class SchoolUnit(SchoolUnitRef):
    """A school unit as the city's organisation data (SS 12000 Organisation) describes it."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    schoolTypes: list[str] = Field(description="SS 12000 school types: FS, GR, GY …")
    district: DistrictRef | None
    startDate: date | None
    endDate: date | None


@router.get("/school-units", summary="School units the caller acts for, as this service knows them",
            responses=example({"items": [EXAMPLE], "limit": 50, "next": None, "total": None}))
async def list_school_units(
    request: Request,
    caller: Annotated[Principal, Depends(require())],
    page: Annotated[PageRequest, Depends(page_request)],
) -> Page[SchoolUnit]:
    districts = [UUID(d) for d in caller.districts] if caller.roles & BY_DISTRICT else []
    async with request.app.state.pool.acquire() as conn:
        rows = await replica.list_school_units(
            conn,
            everything=bool(caller.roles & SEE_ALL),
            ids=[UUID(s) for s in caller.school_units],
            districts=districts,
            limit=page.fetch,
            offset=page.offset,
        )
    return Page[SchoolUnit](**page.page(rows, item=replica.school_unit_json))


@router.get("/school-units/{school_unit_id}", summary="One school unit as this service knows it", responses=documented(404))
async def get_school_unit(request: Request, school_unit_id: UUID, caller: Annotated[Principal, Depends(require())]) -> SchoolUnit:
    async with request.app.state.pool.acquire() as conn:
        row = await replica.get_school_unit(conn, school_unit_id)
    district = str(row["district_id"]) if row and row["district_id"] else None
    ensure_school_access(caller, str(school_unit_id), district)
    if row is None:
        raise Problem(404, "Not found", f"school unit {school_unit_id} is not known to this service")
    return SchoolUnit(**replica.school_unit_json(row))


ME_EXAMPLE: dict[str, Any] = {
    "person": {"id": "3b1f0c2e-9a4d-4c8e-b1f2-7a6d5e4c3b2a", "name": "Rut Ek", "protected": False, "kind": "person"},
    "roles": ["principal"], "schoolUnits": [{"id": EXAMPLE["id"], "name": EXAMPLE["name"], "schoolUnitCode": EXAMPLE["schoolUnitCode"]}],
    "districts": [],
}


class Me(BaseModel):
    """The caller as this service sees them: what a client needs to show a person their own start page."""

    model_config = ConfigDict(json_schema_extra={"examples": [ME_EXAMPLE]})

    person: PersonRef = Field(description="the signed-in person (their own name, even under a protected identity)")
    roles: list[Role] = Field(description="Skolit's roles, from the city's data and the identity provider's groups")
    schoolUnits: list[SchoolUnitRef] = Field(description="the school units the caller acts for (a guardian: the children's)")
    districts: list[DistrictRef] = Field(description="the districts the caller acts for (district roles)")


@router.get("/me", summary="Who the caller is here: person, roles, school units and districts with their names", response_model=Me,
            responses=documented(401))
async def who_am_i(request: Request, caller: Annotated[Principal, Depends(require())]) -> dict[str, Any]:
    schools = sorted(caller.school_units)
    districts = sorted(caller.districts)
    async with request.app.state.pool.acquire() as conn:
        names = {r["id"]: r for r in await conn.fetch(
            "SELECT id, display_name, school_unit_code FROM organisation WHERE id = ANY($1::uuid[])", [UUID(i) for i in schools + districts])}
        # a service that keeps no person replica (reporting holds no person) knows the caller by the token only
        has_people = await conn.fetchval("SELECT to_regclass('person') IS NOT NULL")
        refs = await person_refs(conn, [caller.subject], viewer=caller.subject) if has_people else {}
    own = next(iter(refs.values()), None)
    person = own or PersonRef(id=None, name=caller.name)
    if person.name is None and caller.name:
        person = person.model_copy(update={"name": caller.name})

    def named(i: str) -> dict[str, Any]:
        row = names.get(UUID(i))
        return {"id": i, "name": row["display_name"] if row else None, **({"schoolUnitCode": row["school_unit_code"] if row else None})}

    return {
        "person": person,
        "roles": sorted(caller.roles),
        "schoolUnits": sorted((named(i) for i in schools), key=lambda s: (s["name"] or "", s["id"])),
        "districts": sorted(({"id": i, "name": named(i)["name"]} for i in districts), key=lambda d: (d["name"] or "", d["id"])),
    }
