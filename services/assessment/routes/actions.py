"""The school's action plan over HTTP: read it, add an action, change one or add a follow-up note (use
cases in usecases/actions.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.assessment import access, schemas, store
from services.assessment.framework import Language
from services.assessment.settings import SOURCE
from services.assessment.usecases import actions as usecases
from services.assessment.views import action_json, action_people, show, total
from shared.auth import Principal, Role, require
from shared.http.pages import PageRequest, page_request
from shared.i18n import language
from shared.problems import documented
from shared.uow import unit_of_work
from shared.http.dates import PlausibleDate

router = APIRouter(tags=["action plan"])
Status = Literal["planned", "in_progress", "done", "dropped"]


class NewAction(BaseModel):
    heading: str = Field(examples=["digital-kompetens"])
    indicatorId: str | None = Field(default=None, examples=["KOM-01"])
    title: str = Field(min_length=3, max_length=300, examples=["Inför kollegialt lärande om digitala verktyg varannan vecka"])
    owner: str = Field(min_length=1, max_length=200, description="a role or name at the school", examples=["Förstelärare i digitalisering"])
    deadline: PlausibleDate | None = Field(default=None, examples=["2027-06-15"])
    successCriterion: str = Field(min_length=3, max_length=1000, examples=["Alla lärare har deltagit i minst fyra träffar"])
    status: Status = "planned"
    assessmentId: UUID | None = Field(default=None, description="the assessment the action answers to")


class ActionChangeIn(BaseModel):
    title: str | None = Field(default=None, min_length=3, max_length=300)
    owner: str | None = Field(default=None, min_length=1, max_length=200)
    deadline: PlausibleDate | None = None
    successCriterion: str | None = Field(default=None, min_length=3, max_length=1000)
    status: Status | None = Field(default=None, examples=["done"])
    note: str | None = Field(default=None, min_length=1, max_length=4000, description="a follow-up note, e.g. in next year's assessment",
                             examples=["Genomfört: sju träffar under läsåret."])
    assessmentId: UUID | None = Field(default=None, description="the assessment in which the note is written")


Lang = Annotated[Language | None, Query(description="sv or en, for the titles (else Accept-Language; Swedish by default)", examples=["en"])]


@router.get("/school-units/{school_unit_id}/action-plan", summary="The school unit's action plan: open actions first, then by deadline",
            response_model=schemas.ActionPlan, responses=documented(401, 403, 404, 422))
async def get_plan(request: Request, school_unit_id: UUID, caller: Annotated[Principal, Depends(require(*access.READERS))],
                   page: Annotated[PageRequest, Depends(page_request)],
                   status: Annotated[Literal["open", "all"], Query(description="open: planned and in progress only")] = "all",
                   lang: Lang = None) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        school = await access.known_school(conn, school_unit_id)
        access.ensure_reader(caller, school)
        rows = await store.school_actions(conn, school_unit_id, open_only=status == "open", limit=page.fetch, offset=page.offset)
        shown = await show(conn, language(request, lang), caller.subject, action_people(rows[: page.limit]))
    return page.page(rows, total=total(rows, page.offset), item=lambda r: action_json(r, shown)) | {"schoolUnit": school.ref()}


@router.post("/school-units/{school_unit_id}/actions", status_code=201, summary="Add an action (the Rektor of the school unit)",
             response_model=schemas.Action, responses=documented(400, 401, 403, 404, 422))
async def add_action(request: Request, school_unit_id: UUID, body: NewAction, caller: Annotated[Principal, Depends(require(Role.PRINCIPAL))],
                     lang: Lang = None) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        row = await usecases.add_action(uow, caller, school_unit_id, heading=body.heading, indicator_id=body.indicatorId, title=body.title,
                                        owner=body.owner, deadline=body.deadline, success_criterion=body.successCriterion, status=body.status,
                                        assessment_id=body.assessmentId, audited=body.model_dump(mode="json"))
        shown = await show(uow.conn, language(request, lang), caller.subject, action_people([row]))
    return action_json(row, shown)


@router.patch("/actions/{action_id}", summary="Change an action or add a follow-up note (the Rektor of the school unit)",
              response_model=schemas.Action, responses=documented(400, 401, 403, 404, 422))
async def change_action(request: Request, action_id: UUID, body: ActionChangeIn, caller: Annotated[Principal, Depends(require(Role.PRINCIPAL))],
                        lang: Lang = None) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        row = await usecases.change_action(uow, caller, action_id, title=body.title, owner=body.owner, deadline=body.deadline,
                                           success_criterion=body.successCriterion, status=body.status, note=body.note,
                                           assessment_id=body.assessmentId, audited=body.model_dump(exclude_unset=True, mode="json"))
        shown = await show(uow.conn, language(request, lang), caller.subject, action_people([row]))
    return action_json(row, shown)
