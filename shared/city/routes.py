"""``/school-units``: every service shows the school units it knows, scoped to the caller."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from shared.auth import Principal, Role, ensure_school_access, require
from shared.city import replica
from shared.problems import Problem

router = APIRouter(tags=["city data"])
SEE_ALL = {Role.CITY_ADMIN}
BY_DISTRICT = {Role.DISTRICT_ADMIN, Role.IT_ADMIN}


@router.get("/school-units", summary="School units the caller acts for, as this service knows them")
async def list_school_units(
    request: Request,
    caller: Annotated[Principal, Depends(require())],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,  # bounded: a huge offset overflows PostgreSQL's bigint
) -> dict[str, Any]:
    districts = [UUID(d) for d in caller.districts] if caller.roles & BY_DISTRICT else []
    async with request.app.state.pool.acquire() as conn:
        rows = await replica.list_school_units(
            conn,
            everything=bool(caller.roles & SEE_ALL),
            ids=[UUID(s) for s in caller.school_units],
            districts=districts,
            limit=limit,
            offset=offset,
        )
    return {"items": [replica.school_unit_json(r) for r in rows], "limit": limit, "offset": offset}


@router.get("/school-units/{school_unit_id}", summary="One school unit as this service knows it")
async def get_school_unit(request: Request, school_unit_id: UUID, caller: Annotated[Principal, Depends(require())]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        row = await replica.get_school_unit(conn, school_unit_id)
    district = str(row["district_id"]) if row and row["district_id"] else None
    ensure_school_access(caller, str(school_unit_id), district)
    if row is None:
        raise Problem(404, "Not found", f"school unit {school_unit_id} is not known to this service")
    return replica.school_unit_json(row)
