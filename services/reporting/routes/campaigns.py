"""Rounds and school-unit history (the first read models)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from services.reporting import store
from services.reporting.access import READERS, readable_school
from shared.auth import Principal, Role, require

router = APIRouter(tags=["follow-up"])


@router.get("/campaigns", summary="Self-assessment rounds and participating school units per district")
async def campaigns(
    request: Request,
    caller: Annotated[Principal, Depends(require(Role.DISTRICT_ADMIN, Role.CITY_ADMIN))],
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        rows = await store.campaigns_by_district(
            conn, everything=caller.has_any(Role.CITY_ADMIN), districts=[UUID(d) for d in caller.districts], year=year
        )
    items: dict[str, dict[str, Any]] = {}
    for r in rows:
        c = items.setdefault(str(r["id"]), {"id": str(r["id"]), "name": r["name"], "year": r["year"], "deadline": r["deadline"].isoformat(), "districts": []})
        c["districts"].append(
            {"id": str(r["district_id"]) if r["district_id"] else None, "displayName": r["district_name"], "schoolUnits": r["school_units"]}
        )
    return {"items": list(items.values())}


@router.get("/school-units/{school_unit_id}/history", summary="Every version of a school unit: name, district and school types over time")
async def school_unit_history(request: Request, school_unit_id: UUID, caller: Annotated[Principal, Depends(require(*READERS))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        await readable_school(conn, caller, school_unit_id)
        rows = await store.school_unit_history(conn, school_unit_id)
    return {
        "schoolUnitId": str(school_unit_id),
        "versions": [
            {
                "displayName": r["display_name"],
                "district": {"id": str(r["district"]), "displayName": r["district_name"]} if r["district"] else None,
                "schoolTypes": list(r["school_types"]),
                "validFrom": r["valid_from"].isoformat(),
            }
            for r in rows
        ],
    }
