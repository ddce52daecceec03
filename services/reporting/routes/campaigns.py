"""Rounds and school-unit history (the first read models)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from services.reporting import store
from services.reporting.access import READERS, readable_school
from services.reporting.schemas import Campaign, SchoolUnitVersion, page_example
from shared.auth import Principal, Role, require
from shared.http.models import Page
from shared.http.openapi import example
from shared.http.pages import PageRequest, page_request
from shared.problems import documented

router = APIRouter(tags=["follow-up"])


@router.get("/campaigns", summary="Self-assessment rounds and participating school units per district", response_model=Page[Campaign],
            description="Newest year first, then by name. `total` counts every round the caller may see.",
            responses=documented(401, 403) | example(page_example(Campaign)))
async def campaigns(
    request: Request,
    caller: Annotated[Principal, Depends(require(Role.DISTRICT_ADMIN, Role.CITY_ADMIN))],
    page: Annotated[PageRequest, Depends(page_request)],
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        rows = await store.campaigns_by_district(
            conn, everything=caller.has_any(Role.CITY_ADMIN), districts=[UUID(d) for d in caller.districts], year=year
        )
    # one row per round and district: a round's districts are gathered before the page is cut
    items: dict[UUID, dict[str, Any]] = {}
    for r in rows:
        c = items.setdefault(r["id"], {"id": r["id"], "name": r["name"], "year": r["year"], "deadline": r["deadline"], "districts": []})
        c["districts"].append({"id": r["district_id"], "displayName": r["district_name"], "schoolUnits": r["school_units"]})
    return page.slice(list(items.values()))


@router.get("/school-units/{school_unit_id}/history", summary="Every version of a school unit: name, district and school types over time",
            response_model=Page[SchoolUnitVersion], description="Oldest version first. `total` counts every version.",
            responses=documented(401, 403) | example(page_example(SchoolUnitVersion)))
async def school_unit_history(request: Request, school_unit_id: UUID, caller: Annotated[Principal, Depends(require(*READERS))],
                              page: Annotated[PageRequest, Depends(page_request)]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        await readable_school(conn, caller, school_unit_id)
        rows = await store.school_unit_history(conn, school_unit_id, limit=page.fetch, offset=page.offset)
    total = rows[0]["total"] if rows else (None if page.offset else 0)
    return page.page(rows, total=total, item=lambda r: {
        "displayName": r["display_name"],
        "district": {"id": r["district"], "displayName": r["district_name"]} if r["district"] else None,
        "schoolTypes": list(r["school_types"]),
        "validFrom": r["valid_from"],
    })
