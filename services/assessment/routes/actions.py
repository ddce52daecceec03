"""The school's action plan: actions with owner, deadline, success criterion and status.

Actions outlive the round they came from: next year's assessment lists the open ones for
follow-up, and a note written then records what happened.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.assessment import access, store
from services.assessment.framework import latest, published
from services.assessment.views import action_json
from shared import outbox
from shared.auth import Principal, Role, require
from shared.events.assessment import ActionChange, ActionPlanChanged, ActionStatus
from shared.problems import Problem, documented, rejected

router = APIRouter(tags=["action plan"])
SOURCE = "skolit.assessment"
Status = Literal["planned", "in_progress", "done", "dropped"]


class NewAction(BaseModel):
    heading: str = Field(examples=["digital-kompetens"])
    indicatorId: str | None = Field(default=None, examples=["KOM-01"])
    title: str = Field(min_length=3, max_length=300, examples=["Inför kollegialt lärande om digitala verktyg varannan vecka"])
    owner: str = Field(min_length=1, max_length=200, description="a role or name at the school", examples=["Förstelärare i digitalisering"])
    deadline: date | None = Field(default=None, examples=["2027-06-15"])
    successCriterion: str = Field(min_length=3, max_length=1000, examples=["Alla lärare har deltagit i minst fyra träffar"])
    status: Status = "planned"
    assessmentId: UUID | None = Field(default=None, description="the assessment the action answers to")


class ActionChangeIn(BaseModel):
    title: str | None = Field(default=None, min_length=3, max_length=300)
    owner: str | None = Field(default=None, min_length=1, max_length=200)
    deadline: date | None = None
    successCriterion: str | None = Field(default=None, min_length=3, max_length=1000)
    status: Status | None = Field(default=None, examples=["done"])
    note: str | None = Field(default=None, min_length=1, max_length=4000, description="a follow-up note, e.g. in next year's assessment",
                             examples=["Genomfört: sju träffar under läsåret."])
    assessmentId: UUID | None = Field(default=None, description="the assessment in which the note is written")


def _event(row: Any, change: ActionChange) -> ActionPlanChanged:
    return ActionPlanChanged(actionId=row["id"], schoolUnitId=row["school_unit"], assessmentId=row["assessment_id"], heading=row["heading"],
                             indicatorId=row["indicator_id"], status=ActionStatus(row["status"]), deadline=row["deadline"], change=change,
                             changedAt=datetime.now(UTC))


@router.get("/school-units/{school_unit_id}/action-plan", summary="The school unit's action plan", responses=documented(401, 403, 404))
async def get_plan(request: Request, school_unit_id: UUID, caller: Annotated[Principal, Depends(require(*access.READERS))],
                   status: Annotated[Literal["open", "all"], Query()] = "all") -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        school = await access.known_school(conn, school_unit_id)
        access.ensure_reader(caller, school)
        rows = await store.school_actions(conn, school_unit_id, open_only=status == "open")
    return {"schoolUnitId": str(school_unit_id), "items": [action_json(r) for r in rows]}


@router.post("/school-units/{school_unit_id}/actions", status_code=201, summary="Add an action (the Rektor of the school unit)",
             responses=documented(401, 403, 404, 422))
async def add_action(request: Request, school_unit_id: UUID, body: NewAction, caller: Annotated[Principal, Depends(require(Role.PRINCIPAL))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        school = await access.known_school(conn, school_unit_id)
        await access.ensure_rektor(conn, caller, school)
        framework = latest()
        if body.assessmentId is not None:
            origin = await store.get_assessment(conn, body.assessmentId)
            if origin is None or origin["school_unit"] != school_unit_id:
                raise rejected(422, f"assessment {body.assessmentId} is not an assessment of this school unit", "assessmentId")
            framework = published()[origin["framework_version"]]
        if body.heading not in {h.id for h in framework.headings}:
            raise rejected(422, f"unknown heading {body.heading!r}", "heading")
        if body.indicatorId is not None:
            indicator = framework.by_id.get(body.indicatorId)
            if indicator is None or indicator.heading != body.heading:
                raise rejected(422, f"indicator {body.indicatorId!r} is not an indicator of heading {body.heading} in framework version {framework.version}", "indicatorId")
        row = await store.insert_action(conn, id=uuid4(), school_unit=school_unit_id, assessment_id=body.assessmentId, heading=body.heading,
                                        indicator_id=body.indicatorId, title=body.title, owner=body.owner, deadline=body.deadline,
                                        success_criterion=body.successCriterion, status=body.status, created_by=caller.subject)
        await store.audit(conn, caller.subject, "action.created", "action", str(row["id"]), body.model_dump(mode="json"))
        await outbox.add(conn, SOURCE, _event(row, ActionChange.CREATED))
    return action_json(row)


@router.patch("/actions/{action_id}", summary="Change an action or add a follow-up note (the Rektor of the school unit)",
              responses=documented(401, 403, 404, 422))
async def change_action(request: Request, action_id: UUID, body: ActionChangeIn, caller: Annotated[Principal, Depends(require(Role.PRINCIPAL))]) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True, mode="json")
    if not changes:
        raise rejected(422, "nothing to change", "body")
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        row = await store.get_action(conn, action_id, lock=True)
        if row is None:
            raise Problem(404, "Not found", f"action {action_id} does not exist")
        school = await access.known_school(conn, row["school_unit"])
        await access.ensure_rektor(conn, caller, school)
        if body.assessmentId is not None:
            at = await store.get_assessment(conn, body.assessmentId)
            if at is None or at["school_unit"] != row["school_unit"]:
                raise rejected(422, f"assessment {body.assessmentId} is not an assessment of this school unit", "assessmentId")
        status = body.status or row["status"]
        row = await store.update_action(conn, action_id, {"title": body.title, "owner": body.owner, "deadline": body.deadline,
                                                          "success_criterion": body.successCriterion, "status": body.status})
        if body.note:
            await store.add_action_note(conn, action_id, body.assessmentId, body.note, status, caller.subject)
            row = await store.get_action(conn, action_id)
        await store.audit(conn, caller.subject, "action.changed", "action", str(action_id), changes)
        await outbox.add(conn, SOURCE, _event(row, ActionChange.UPDATED))
    return action_json(row)
