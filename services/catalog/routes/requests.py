"""Teachers' requests for apps, and their review: acknowledge, ask for more, approve (perhaps with
conditions), reject (always with a reason). Every step is an event the notification service turns
into a message to the requester or the reviewers."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.catalog import access, store
from services.catalog import vocabulary as vocab
from services.catalog.routes.apps import AppDescription
from services.catalog.routes.licences import LicenceTerms
from services.catalog.settings import SOURCE
from services.catalog.usecases import requests as usecases
from services.catalog.schemas import AppRequest, RequestPage
from services.catalog.views import counted, people, request_actors, request_json
from shared.auth import Principal, require
from shared.clock import city_today
from shared.http.pages import PageRequest, page_request
from shared.i18n import Language, language
from shared.problems import documented, rejected
from shared.uow import unit_of_work

router = APIRouter(tags=["requests"])


class ProposedApp(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    supplier: str = Field(default="", max_length=200)
    url: str | None = Field(default=None, max_length=500, pattern=r"^https?://\S+$")
    description: str = Field(default="", max_length=5000)


class NewRequest(BaseModel):
    schoolUnitId: UUID
    appId: UUID | None = Field(default=None, description="an app already in the programbank")
    newApp: ProposedApp | None = Field(default=None, description="an app not yet in the programbank")
    purpose: str = Field(min_length=1, max_length=4000, description="what the app is for in teaching")
    grades: list[str] = Field(default_factory=list)
    pupils: int | None = Field(default=None, ge=1, le=100_000)

    @model_validator(mode="after")
    def _one_app(self) -> NewRequest:
        if (self.appId is None) == (self.newApp is None):
            raise ValueError("name either appId (an app in the programbank) or newApp (one that is not), not both or neither")
        unknown = [g for g in self.grades if g not in vocab.GRADES]
        if unknown:
            raise ValueError(f"unknown grade(s) {', '.join(unknown)}; grades: {', '.join(vocab.GRADES)}")
        return self


class DecisionLicence(LicenceTerms):
    """The licence an approval gives the requester's school (as POST /licences takes one, for that school)."""

    model_config = ConfigDict(extra="forbid")


class DraftDescription(AppDescription):
    """Corrections to the draft record made from a request for a new app (its data protection is the data-protection
    function's to record, its status the review's)."""

    model_config = ConfigDict(extra="forbid")


class RequestAction(BaseModel):
    action: Literal["acknowledge", "ask_info", "provide_info", "approve", "reject", "withdraw"]
    note: str | None = Field(default=None, max_length=4000, description="the question, the answer or the reason")
    conditions: str | None = Field(default=None, max_length=4000, description="conditions of an approval, e.g. \"only with pseudonymised accounts\"")
    appId: UUID | None = Field(default=None, description="on acknowledging or approving a request for a new app: the app record in the "
                                                         "programbank it is for (instead of a new draft)")
    app: DraftDescription | None = Field(default=None, description="on acknowledging or approving a request for a new app: corrections "
                                                                    "to the draft record made from the proposal")
    status: str | None = Field(default=None, description="on approving: the status the app gets (default: it keeps a status that allows "
                                                         "use, else `approved`)", examples=["approved"])
    licence: DecisionLicence | None = Field(default=None, description="on approving: a licence for the requester's school, for an app that "
                                                                      "is not free to use and not yet licensed there (IT admins of the "
                                                                      "district and city admins)")


@router.post("/requests", status_code=201, summary="Ask for an app for your school (an existing one or a new one)", response_model=AppRequest,
             responses=documented(401, 403, 409, 422))
async def submit_request(request: Request, body: NewRequest, caller: Annotated[Principal, Depends(require(*access.REQUESTERS))]) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        made = await usecases.submit_request(uow, caller, school_unit_id=body.schoolUnitId, app_id=body.appId,
                                             new_app=body.newApp.model_dump() if body.newApp else None, purpose=body.purpose,
                                             grades=body.grades, pupils=body.pupils, today=city_today())
        return await _answer(uow.conn, made, caller)


async def _answer(conn: asyncpg.Connection, state: usecases.RequestState, caller: Principal) -> dict[str, Any]:
    refs = await people(conn, request_actors([state.row], state.steps), caller.subject)
    return request_json(state.row, refs, state.steps)


KNOWN_STATES = ("submitted", "acknowledged", "needs_info", "approved", "rejected", "withdrawn")


@router.get("/requests", summary="Requests the caller made, reviews, or follows for their schools (newest first)", response_model=RequestPage,
            responses=documented(401, 403, 422))
async def list_requests(request: Request, caller: Annotated[Principal, Depends(require(*access.STAFF))],
                        page: Annotated[PageRequest, Depends(page_request)],
                        state: Annotated[list[str], Query(description="only requests in these states: " + ", ".join(KNOWN_STATES))] = [],  # noqa: B006
                        ) -> dict[str, Any]:
    bad = [s for s in state if s not in KNOWN_STATES]
    if bad:
        raise rejected(422, f"unknown state(s) {', '.join(bad)}; states: {', '.join(KNOWN_STATES)}", "state")
    scope = access.request_scope(caller)
    async with request.app.state.pool.acquire() as conn:
        rows = await store.list_requests(conn, everything=scope.everything, school_units=scope.school_units, districts=scope.districts,
                                         requester=scope.requester, states=state, limit=page.fetch, offset=page.offset)
        refs = await people(conn, request_actors(rows[: page.limit]), caller.subject)
    return page.page(rows, total=counted(rows, page.offset), item=lambda r: request_json(r, refs))


@router.get("/requests/{request_id}", summary="One request with its history", response_model=AppRequest, responses=documented(401, 403, 404))
async def get_request(request: Request, request_id: UUID, caller: Annotated[Principal, Depends(require(*access.STAFF))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        row = await access.visible_request(conn, caller, request_id)
        steps = await store.request_steps(conn, request_id)
        return await _answer(conn, usecases.RequestState(row, steps), caller)


@router.post("/requests/{request_id}/actions", summary="Move a request on: acknowledge, ask_info, provide_info, approve, reject, withdraw",
             description="Reviewers (IT admins of the school's district, the data-protection function, city admins) acknowledge, ask for "
                         "information, approve (with optional conditions) or reject (with a reason, in `note`). The requester answers "
                         "(`provide_info`) or withdraws.\n\n"
                         "Approving makes the app available to the requester's school by the rules of a direct approval: the app gets "
                         "`status` (or keeps one that allows use; `approved` by default), which its data protection must support (a signed "
                         "agreement, a safeguard for transfers outside the EU/EEA, a DPIA for sensitive data), and the school gets `licence` "
                         "unless the app is free to use or licensed there already. Otherwise the approval is refused: 409, every blocker "
                         "named in `blockers` (`code`, `text` in the reader's language).\n\n"
                         "A request for a new app gets its catalogue record when acknowledged or approved: the app named by `appId`, or a "
                         "draft made from the proposal (corrected by `app`), under review. Its use cannot be approved until the "
                         "data-protection function has recorded its data protection (PUT /apps/{id}/data-protection): approving such a "
                         "request makes the draft, acknowledges the request and answers 409 naming the blockers.",
             response_model=AppRequest, responses=documented(401, 403, 404, 409, 422))
async def act_on_request(request: Request, request_id: UUID, body: RequestAction, caller: Annotated[Principal, Depends(require(*access.STAFF))],
                         lang: Language | None = None) -> dict[str, Any]:
    given = body.licence
    licence = None if given is None else usecases.LicenceTerms(licence_type=given.type, starts=given.starts, expires=given.expires,
                                                               seats=given.seats, group_name=given.groupName, note=given.note)
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        moved = await usecases.act_on_request(uow, caller, request_id, action=body.action, note=body.note, conditions=body.conditions,
                                              app_id=body.appId, status=body.status, licence=licence,
                                              draft=body.app.model_dump(exclude_unset=True) if body.app else None, today=city_today(),
                                              lang=language(request, lang))
        answer = await _answer(uow.conn, moved, caller)
    if moved.refusal is not None:
        raise moved.refusal  # what the step did is committed (the draft record); the approval is refused
    return answer
