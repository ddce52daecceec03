"""Annual rounds: a district or city admin opens one for a set of school units, and closes it.

Opening a round creates each school unit's draft, with the answers of its latest submitted
assessment carried forward (through the framework's explicit mapping when the version changed).
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

import asyncpg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.assessment import access, domain, store
from services.assessment.framework import Framework, latest, published
from services.assessment.views import campaign_json
from shared import outbox
from shared.auth import Principal, Role, require
from shared.events.assessment import CampaignClosed, CampaignOpened
from shared.privacy import vault
from shared.problems import Problem, documented, rejected

router = APIRouter(tags=["campaigns"])
SOURCE = "skolit.assessment"
CARRIED_BY = "skolit:carry-forward"
# Unambiguous characters only: the code is read aloud and typed on phones.
PULSE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


class NewCampaign(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["Självskattning 2026"])
    year: int = Field(examples=[2026])
    deadline: date = Field(examples=["2027-03-31"])
    schoolUnitIds: list[UUID] = Field(min_length=1, max_length=2000)
    frameworkVersion: int | None = Field(default=None, description="defaults to the latest published version", examples=[2])


def pulse_code() -> str:
    return "".join(secrets.choice(PULSE_ALPHABET) for _ in range(10))


async def start_assessment(conn: asyncpg.Connection, campaign_id: UUID, school: domain.KnownSchool, framework: Framework, actor: str) -> None:
    """The school's draft for a new round, prefilled with what it answered last time."""
    assessment_id = uuid4()
    previous = await store.latest_submitted(conn, school.id)
    carried: dict[str, domain.Answer] = {}
    if previous is not None:
        chain = domain.version_chain(published(), previous["framework_version"], framework.version)
        if chain is not None:
            applicable = {i.id for i in framework.indicators_for(school.school_types)}
            carried = {k: v for k, v in domain.carry_forward(chain, await store.answers(conn, previous["id"]), source=str(previous["id"])).items() if k in applicable}
    await store.insert_assessment(conn, id=assessment_id, campaign_id=campaign_id, school_unit=school.id, framework_version=framework.version,
                                  carried_from=previous["id"] if previous is not None else None)
    if carried:
        await store.save_answers(conn, assessment_id, carried, CARRIED_BY)
    await store.audit(conn, actor, "assessment.created", "assessment", str(assessment_id), {
        "campaignId": str(campaign_id), "frameworkVersion": framework.version,
        "carriedFrom": str(previous["id"]) if previous is not None else None, "carriedAnswers": sorted(carried),
    })


@router.post("/campaigns", status_code=201, summary="Open an annual self-assessment round for a set of school units",
             description="Creates each school unit's draft, prefilled with the answers of its latest submitted assessment.",
             responses=documented(401, 403, 422))
async def open_campaign(request: Request, body: NewCampaign, caller: Annotated[Principal, Depends(require(*access.ADMINS))]) -> dict[str, Any]:
    framework = latest() if body.frameworkVersion is None else published().get(body.frameworkVersion)
    if framework is None:
        raise rejected(422, f"framework version {body.frameworkVersion} does not exist; published: {sorted(published())}", "frameworkVersion")
    campaign_id = uuid4()
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        known = await store.known_schools(conn, body.schoolUnitIds)
        try:
            ids = domain.check_new_campaign(year=body.year, deadline=body.deadline, today=domain.city_today(datetime.now(UTC)), requested=body.schoolUnitIds, known=known)
        except domain.Rejected as exc:
            raise rejected(exc.status, str(exc), exc.field) from exc
        schools = [known[s] for s in ids]
        access.ensure_admin_for_all(caller, schools)
        await store.insert_campaign(conn, id=campaign_id, name=body.name, year=body.year, deadline=body.deadline, opened_by=caller.subject,
                                    framework_version=framework.version, pulse_codes={s: pulse_code() for s in ids})
        for school in schools:
            await start_assessment(conn, campaign_id, school, framework, caller.subject)
        await store.audit(conn, caller.subject, "campaign.opened", "campaign", str(campaign_id),
                          {"schoolUnits": len(ids), "year": body.year, "deadline": body.deadline.isoformat(), "frameworkVersion": framework.version})
        await outbox.add(conn, SOURCE, CampaignOpened(id=campaign_id, name=body.name, year=body.year, deadline=body.deadline, schoolUnitIds=ids,
                                                      openedBy=await vault.seal_actor(conn, caller.subject), frameworkVersion=framework.version))
        row = await store.get_campaign(conn, campaign_id)
        progress = await store.campaign_progress(conn, campaign_id)
    return campaign_json(row, progress)


@router.post("/campaigns/{campaign_id}/close", summary="Close a round: no more drafts, submissions or pulse answers", responses=documented(401, 403, 404, 409))
async def close_campaign(request: Request, campaign_id: UUID, caller: Annotated[Principal, Depends(require(*access.ADMINS))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        row = await store.get_campaign(conn, campaign_id, lock=True)
        if row is None:
            raise Problem(404, "Not found", f"campaign {campaign_id} does not exist")
        schools = await store.known_schools(conn, list(row["school_units"]))
        access.ensure_admin_for_all(caller, list(schools.values()))
        closed = await store.close_campaign(conn, campaign_id, caller.subject)
        if closed is None:
            raise rejected(409, f"campaign {campaign_id} is already closed", "status")
        submitted, total = await store.campaign_progress(conn, campaign_id)
        await store.audit(conn, caller.subject, "campaign.closed", "campaign", str(campaign_id), {"submitted": submitted, "schoolUnits": total})
        await outbox.add(conn, SOURCE, CampaignClosed(id=campaign_id, closedBy=await vault.seal_actor(conn, caller.subject), closedAt=closed["closed_at"], submitted=submitted, schoolUnits=total))
        row = await store.get_campaign(conn, campaign_id)
    return campaign_json(row, (submitted, total))


@router.get("/campaigns", summary="Campaigns covering the caller's school units", responses=documented(401))
async def list_campaigns(request: Request, caller: Annotated[Principal, Depends(require(*access.READERS))]) -> dict[str, Any]:
    by_district = caller.has_any(Role.DISTRICT_ADMIN, Role.IT_ADMIN)
    async with request.app.state.pool.acquire() as conn:
        rows = await store.list_campaigns(
            conn,
            everything=caller.has_any(Role.CITY_ADMIN),
            school_units=[UUID(s) for s in caller.school_units],
            districts=[UUID(d) for d in caller.districts] if by_district else [],
        )
    return {"items": [campaign_json(r) for r in rows]}


async def visible_campaign(conn: asyncpg.Connection, caller: Principal, campaign_id: UUID) -> tuple[asyncpg.Record, dict[UUID, domain.KnownSchool]]:
    row = await store.get_campaign(conn, campaign_id)
    if row is None:
        raise Problem(404, "Not found", f"campaign {campaign_id} does not exist")
    schools = await store.known_schools(conn, list(row["school_units"]))
    visible = {s: k for s, k in schools.items() if caller.may_act_for_school(s, k.district)}
    if not visible:
        raise Problem(403, "Forbidden", f"campaign {campaign_id} covers none of your school units")
    return row, visible


@router.get("/campaigns/{campaign_id}", summary="One campaign, with how many school units have submitted", responses=documented(401, 403, 404))
async def get_campaign(request: Request, campaign_id: UUID, caller: Annotated[Principal, Depends(require(*access.READERS))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        row, _ = await visible_campaign(conn, caller, campaign_id)
        progress = await store.campaign_progress(conn, campaign_id)
    return campaign_json(row, progress)


@router.get("/campaigns/{campaign_id}/assessments", summary="Where each school unit of a round stands (the caller's school units only)",
            responses=documented(401, 403, 404))
async def campaign_assessments(request: Request, campaign_id: UUID, caller: Annotated[Principal, Depends(require(*access.READERS))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        row, visible = await visible_campaign(conn, caller, campaign_id)
        rows = [r for r in await store.campaign_assessments(conn, campaign_id) if r["school_unit"] in visible]
    return {"campaign": campaign_json(row), "items": [
        {"assessmentId": str(r["id"]), "schoolUnitId": str(r["school_unit"]), "schoolUnitName": r["display_name"],
         "districtId": str(r["district"]) if r["district"] else None, "status": r["status"], "answered": r["answered"],
         "submissions": r["submissions"], "submittedAt": r["submitted_at"].isoformat() if r["submitted_at"] else None}
        for r in rows
    ]}
