"""Licences per school unit: school, group or single, with seats, start and expiry."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.catalog import access, store
from services.catalog.settings import SOURCE
from services.catalog.usecases import licences as usecases
from services.catalog.schemas import Licence, LicencePage, LicencesCreated
from services.catalog.views import counted, licence_json, people
from shared.auth import Principal, Role, require
from shared.clock import city_today
from shared.http.pages import PageRequest, page_request
from shared.problems import documented
from shared.uow import unit_of_work
from shared.http.dates import PlausibleDate

router = APIRouter(tags=["licences"])


class LicenceTerms(BaseModel):
    """What a licence says, wherever one is given (here, and in the approval of a request)."""

    type: Literal["school", "group", "single"] = Field(examples=["school"])
    seats: int | None = Field(default=None, gt=0, le=100_000, description="needed for group and single licences")
    groupName: str | None = Field(default=None, max_length=200)
    starts: PlausibleDate
    expires: PlausibleDate
    note: str = Field(default="", max_length=1000, description="e.g. the order or agreement number")


class NewLicence(LicenceTerms):
    appId: UUID
    schoolUnitIds: list[UUID] = Field(min_length=1, max_length=1000, description="one licence per school unit, all or none")


@router.post("/licences", status_code=201, summary="Record licences for an app at one or more school units", response_model=LicencesCreated,
             responses=documented(401, 403, 404, 409, 422))
async def add_licences(request: Request, body: NewLicence, caller: Annotated[Principal, Depends(require(*access.LICENSERS))]) -> dict[str, Any]:
    today = city_today()
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        created = await usecases.add_licences(uow, caller, app_id=body.appId, school_unit_ids=body.schoolUnitIds, licence_type=body.type,
                                              seats=body.seats, group_name=body.groupName, starts=body.starts, expires=body.expires, note=body.note)
        refs = await people(uow.conn, (r["created_by"] for r in created), caller.subject)
    return {"items": [licence_json(row, today, refs) for row in created]}


@router.get("/licences", summary="Licences of the caller's school units (IT admins and district admins: their districts; city admins "
                                 "and the data-protection function: all)", description="Ordered by expiry date, soonest first.",
            response_model=LicencePage, responses=documented(401, 403))
async def list_licences(request: Request, caller: Annotated[Principal, Depends(require(*access.STAFF))],
                        page: Annotated[PageRequest, Depends(page_request)], appId: UUID | None = None) -> dict[str, Any]:
    everything = caller.has_any(Role.CITY_ADMIN, Role.DATA_PROTECTION)
    async with request.app.state.pool.acquire() as conn:
        schools = [UUID(s) for s in caller.school_units]
        if caller.has_any(Role.IT_ADMIN, Role.DISTRICT_ADMIN) and caller.districts:
            schools += await store.schools_in_districts(conn, [UUID(d) for d in caller.districts])
        rows = await store.licences(conn, app_id=appId, school_units=schools, everything=everything, limit=page.fetch, offset=page.offset)
        refs = await people(conn, (r["created_by"] for r in rows[: page.limit]), caller.subject)
    today = city_today()
    return page.page(rows, total=counted(rows, page.offset), item=lambda r: licence_json(r, today, refs))


@router.delete("/licences/{licence_id}", summary="End a licence now (cancelled or registered in error)", response_model=Licence,
               responses=documented(401, 403, 404, 409))
async def end_licence(request: Request, licence_id: UUID, caller: Annotated[Principal, Depends(require(*access.LICENSERS))]) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        row = await usecases.end_licence(uow, caller, licence_id)
        refs = await people(uow.conn, [row["created_by"]], caller.subject)
    return licence_json(row, city_today(), refs)
