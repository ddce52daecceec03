"""HTTP routes of the assessment service."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.assessment import domain, store
from shared import outbox
from shared.auth import Principal, Role, require
from shared.events.assessment import CampaignOpened
from shared.problems import Problem

router = APIRouter(tags=["campaigns"])
SOURCE = "skolit.assessment"


class NewCampaign(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["Självskattning 2026"])
    year: int = Field(examples=[2026])
    deadline: date
    schoolUnitIds: list[UUID] = Field(min_length=1, max_length=2000)


def campaign_json(row: Any) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "year": row["year"],
        "deadline": row["deadline"].isoformat(),
        "status": row["status"],
        "openedBy": row["opened_by"],
        "openedAt": row["opened_at"].isoformat(),
        "schoolUnitIds": [str(s) for s in row["school_units"]],
    }


@router.post("/campaigns", status_code=201, summary="Open an annual self-assessment round for a set of school units")
async def open_campaign(request: Request, body: NewCampaign, caller: Annotated[Principal, Depends(require(Role.DISTRICT_ADMIN, Role.CITY_ADMIN))]) -> dict[str, Any]:
    campaign_id = uuid4()
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        known = await store.known_schools(conn, body.schoolUnitIds)
        try:
            schools = domain.check_new_campaign(year=body.year, deadline=body.deadline, today=datetime.now(UTC).date(), requested=body.schoolUnitIds, known=known)
        except domain.CampaignRejected as exc:
            raise Problem(422, "Invalid request", str(exc)) from exc
        outside = [str(s) for s in schools if not caller.may_act_for_school(str(s), str(known[s].district) if known[s].district else None)]
        if outside:
            raise Problem(403, "Forbidden", "not allowed to open a campaign for school unit(s): " + ", ".join(outside))
        await store.insert_campaign(conn, id=campaign_id, name=body.name, year=body.year, deadline=body.deadline, opened_by=caller.subject, school_units=schools)
        await store.audit(conn, caller.subject, "campaign.opened", "campaign", str(campaign_id), {"schoolUnits": len(schools), "year": body.year})
        await outbox.add(
            conn,
            SOURCE,
            CampaignOpened(id=campaign_id, name=body.name, year=body.year, deadline=body.deadline, schoolUnitIds=schools, openedBy=caller.subject),
        )
        row = await store.get_campaign(conn, campaign_id)
    return campaign_json(row)


@router.get("/campaigns", summary="Campaigns covering the caller's school units")
async def list_campaigns(request: Request, caller: Annotated[Principal, Depends(require())]) -> dict[str, Any]:
    by_district = caller.has_any(Role.DISTRICT_ADMIN, Role.IT_ADMIN)
    async with request.app.state.pool.acquire() as conn:
        rows = await store.list_campaigns(
            conn,
            everything=caller.has_any(Role.CITY_ADMIN),
            school_units=[UUID(s) for s in caller.school_units],
            districts=[UUID(d) for d in caller.districts] if by_district else [],
        )
    return {"items": [campaign_json(r) for r in rows]}


@router.get("/campaigns/{campaign_id}", summary="One campaign")
async def get_campaign(request: Request, campaign_id: UUID, caller: Annotated[Principal, Depends(require())]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        row = await store.get_campaign(conn, campaign_id)
        if row is None:
            raise Problem(404, "Not found", f"campaign {campaign_id} does not exist")
        schools = await store.known_schools(conn, list(row["school_units"]))
    visible = any(caller.may_act_for_school(str(s), str(k.district) if k.district else None) for s, k in schools.items())
    if not visible and not caller.has_any(Role.CITY_ADMIN):
        raise Problem(403, "Forbidden", f"campaign {campaign_id} covers none of your school units")
    return campaign_json(row)
