"""Annual rounds over HTTP: open one for a set of school units, close it (use cases in
usecases/campaigns.py), list them and see where each school unit stands."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.assessment import access, domain, schemas, store
from services.assessment.settings import SOURCE
from services.assessment.usecases import campaigns as usecases
from services.assessment.views import campaign_json, show, total
from shared.auth import Principal, Role, require
from shared.http.pages import PageRequest, page_request
from shared.problems import Problem, documented
from shared.uow import unit_of_work
from shared.http.dates import PlausibleDate

router = APIRouter(tags=["campaigns"])


class NewCampaign(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["Självskattning 2026"])
    year: int = Field(examples=[2026])
    deadline: PlausibleDate = Field(examples=["2027-03-31"])
    schoolUnitIds: list[UUID] = Field(min_length=1, max_length=2000)
    frameworkVersion: int | None = Field(default=None, description="defaults to the latest published version", examples=[2])


@router.post("/campaigns", status_code=201, summary="Open an annual self-assessment round for a set of school units",
             description="Creates each school unit's draft, prefilled with the answers of its latest submitted assessment.",
             response_model=schemas.Campaign, responses=documented(400, 401, 403, 422))
async def open_campaign(request: Request, body: NewCampaign, caller: Annotated[Principal, Depends(require(*access.ADMINS))]) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        opened = await usecases.open_campaign(uow, caller, name=body.name, year=body.year, deadline=body.deadline,
                                              school_units=body.schoolUnitIds, framework_version=body.frameworkVersion)
        shown = await show(uow.conn, "sv", caller.subject, [opened.row["opened_by"]])
    return campaign_json(opened.row, shown, opened.progress)


@router.post("/campaigns/{campaign_id}/close", summary="Close a round: no more drafts, submissions or pulse answers",
             response_model=schemas.Campaign, responses=documented(401, 403, 404, 409, 422))
async def close_campaign(request: Request, campaign_id: UUID, caller: Annotated[Principal, Depends(require(*access.ADMINS))]) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        closed = await usecases.close_campaign(uow, caller, campaign_id)
        shown = await show(uow.conn, "sv", caller.subject, [closed.row["opened_by"], closed.row["closed_by"]])
    return campaign_json(closed.row, shown, closed.progress)


@router.get("/campaigns", summary="Campaigns covering the caller's school units, newest first", response_model=schemas.Campaigns,
            responses=documented(401, 422))
async def list_campaigns(request: Request, caller: Annotated[Principal, Depends(require(*access.READERS))],
                         page: Annotated[PageRequest, Depends(page_request)]) -> dict[str, Any]:
    by_district = caller.has_any(Role.DISTRICT_ADMIN, Role.IT_ADMIN)
    async with request.app.state.pool.acquire() as conn:
        rows = await store.list_campaigns(
            conn,
            everything=caller.has_any(Role.CITY_ADMIN),
            school_units=[UUID(s) for s in caller.school_units],
            districts=[UUID(d) for d in caller.districts] if by_district else [],
            limit=page.fetch, offset=page.offset,
        )
        shown = await show(conn, "sv", caller.subject, [p for r in rows[: page.limit] for p in (r["opened_by"], r["closed_by"])])
    return page.page(rows, total=total(rows, page.offset), item=lambda r: campaign_json(r, shown))


async def visible_campaign(conn: asyncpg.Connection, caller: Principal, campaign_id: UUID) -> tuple[asyncpg.Record, dict[UUID, domain.KnownSchool]]:
    row = await store.get_campaign(conn, campaign_id)
    if row is None:
        raise Problem(404, "Not found", f"campaign {campaign_id} does not exist")
    schools = await store.known_schools(conn, list(row["school_units"]))
    visible = {s: k for s, k in schools.items() if caller.may_act_for_school(s, k.district)}
    if not visible:
        raise Problem(403, "Forbidden", f"campaign {campaign_id} covers none of your school units")
    return row, visible


@router.get("/campaigns/{campaign_id}", summary="One campaign, with how many school units have submitted", response_model=schemas.Campaign,
            responses=documented(401, 403, 404, 422))
async def get_campaign(request: Request, campaign_id: UUID, caller: Annotated[Principal, Depends(require(*access.READERS))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        row, _ = await visible_campaign(conn, caller, campaign_id)
        progress = await store.campaign_progress(conn, campaign_id)
        shown = await show(conn, "sv", caller.subject, [row["opened_by"], row["closed_by"]])
    return campaign_json(row, shown, progress)


@router.get("/campaigns/{campaign_id}/assessments", summary="Where each school unit of a round stands (the caller's school units only), by name",
            response_model=schemas.CampaignAssessments, responses=documented(401, 403, 404, 422))
async def campaign_assessments(request: Request, campaign_id: UUID, caller: Annotated[Principal, Depends(require(*access.READERS))],
                               page: Annotated[PageRequest, Depends(page_request)]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        row, visible = await visible_campaign(conn, caller, campaign_id)
        rows = await store.campaign_assessments(conn, campaign_id, list(visible), limit=page.fetch, offset=page.offset)
        shown = await show(conn, "sv", caller.subject, [row["opened_by"], row["closed_by"]])
    body = page.page(rows, total=total(rows, page.offset), item=lambda r: {
        "assessmentId": r["id"], "schoolUnit": {"id": r["school_unit"], "name": r["display_name"], "schoolUnitCode": r["school_unit_code"]},
        "districtId": r["district"], "status": r["status"], "answered": r["answered"], "submissions": r["submissions"], "submittedAt": r["submitted_at"],
    })
    return body | {"campaign": campaign_json(row, shown)}
