"""Teachers' requests for apps, and their review: acknowledge, ask for more, approve (perhaps with
conditions), reject (always with a reason). Every step is an event the notification service turns
into a message to the requester or the reviewers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, model_validator

from services.catalog import access, domain, store
from services.catalog import vocabulary as vocab
from services.catalog.changes import SOURCE
from services.catalog.routes.apps import load_app
from services.catalog.views import request_json
from shared import outbox
from shared.auth import Principal, Role, require
from shared.clock import city_today
from shared.events.catalog import AppRequestDecided, AppRequestProgressed, AppRequestSubmitted, RequestDecision
from shared.privacy import vault
from shared.problems import Problem, documented, rejected

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


class RequestAction(BaseModel):
    action: Literal["acknowledge", "ask_info", "provide_info", "approve", "reject", "withdraw"]
    note: str | None = Field(default=None, max_length=4000, description="the question, the answer or the reason")
    conditions: str | None = Field(default=None, max_length=4000, description="conditions of an approval, e.g. \"only with pseudonymised accounts\"")
    appId: UUID | None = Field(default=None, description="on approving a request for a new app: the app record created for it")


async def request_facts(conn: Any, row: Any) -> dict[str, Any]:
    """What every AppRequest* event says; the requester travels sealed (docs/decisions/0009)."""
    return {"requestId": row["id"], "schoolUnitId": row["school_unit"], "districtId": row["district"],
            "requester": await vault.seal(conn, row["requester"]), "appId": row["app_id"], "appName": row["app_name"]}


@router.post("/requests", status_code=201, summary="Ask for an app for your school (an existing one or a new one)", responses=documented(401, 403, 404, 409, 422))
async def submit_request(request: Request, body: NewRequest, caller: Annotated[Principal, Depends(require(*access.REQUESTERS))]) -> dict[str, Any]:
    now = datetime.now(UTC)
    request_id = uuid4()
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        school = await store.school(conn, body.schoolUnitId)
        if school is None:
            raise rejected(422, f"school unit {body.schoolUnitId} is not known", "schoolUnitId")
        duty = await access.requester_duty(conn, caller, school)
        if body.appId is not None:
            app = await store.get_app(conn, body.appId)
            if app is None:
                raise rejected(422, f"app {body.appId} is not in the programbank; request it as a new app instead", "appId")
            statuses = await store.statuses(conn)
            if statuses[app["status"]].retires:
                raise rejected(409, f"{app['name']} is retired from the programbank", "appId")
            available, _ = domain.availability(status=statuses[app["status"]], app_grades=app["grades"], app_school_types=app["school_types"],
                                               free_use=app["free_use"], school_types=school["school_types"],
                                               licensed=await store.licensed(conn, app["id"], school["id"], city_today()))
            if available:
                raise rejected(409, f"{app['name']} is already available to {school['display_name']}", "appId")
            app_name = app["name"]
        else:
            assert body.newApp is not None
            duplicate = await store.find_duplicate(conn, body.newApp.name, body.newApp.supplier)
            if duplicate is not None:
                raise Problem(409, "Conflict", f"{body.newApp.name!r} is already in the programbank; request it by its appId", field="newApp.name", existingId=str(duplicate))
            app_name = body.newApp.name
        inserted = await store.insert_request(
            conn, id=request_id, school_unit=school["id"], district=school["district"], requester=caller.subject, requester_duty=duty,
            app_id=body.appId, proposed=body.newApp.model_dump() if body.newApp else None, app_name=app_name, purpose=body.purpose,
            grades=body.grades, pupils=body.pupils, now=now,
        )
        if not inserted:
            existing = await store.open_request_for(conn, body.appId, school["id"])  # type: ignore[arg-type]
            raise Problem(409, "Conflict", f"{school['display_name']} already has an open request for {app_name}", field="appId", existingId=str(existing))
        await store.add_request_step(conn, request_id, caller.subject, "submitted", body.purpose, now)
        row = await store.get_request(conn, request_id)
        await outbox.add(conn, SOURCE, AppRequestSubmitted(**await request_facts(conn, row), newApp=body.appId is None, submittedAt=now))
        steps = await store.request_steps(conn, request_id)
    return request_json(row, steps)


@router.get("/requests", summary="Requests the caller made, reviews, or follows for their schools", responses=documented(401, 403, 422))
async def list_requests(request: Request, caller: Annotated[Principal, Depends(require(*access.STAFF))],
                        state: Annotated[list[str], Query()] = [],  # noqa: B006
                        limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict[str, Any]:
    known_states = ("submitted", "acknowledged", "needs_info", "approved", "rejected", "withdrawn")
    bad = [s for s in state if s not in known_states]
    if bad:
        raise rejected(422, f"unknown state(s) {', '.join(bad)}; states: {', '.join(known_states)}", "state")
    follows_schools = caller.has_any(Role.PRINCIPAL, Role.DISTRICT_ADMIN, Role.IT_ADMIN)
    async with request.app.state.pool.acquire() as conn:
        rows = await store.list_requests(
            conn, everything=caller.has_any(Role.CITY_ADMIN, Role.DATA_PROTECTION),
            school_units=[UUID(s) for s in caller.school_units] if caller.has_any(Role.PRINCIPAL) else [],
            districts=[UUID(d) for d in caller.districts] if follows_schools else [],
            requester=caller.subject, states=state, limit=limit, offset=offset,
        )
    return {"items": [request_json(r) for r in rows if access.may_see_request(caller, r)]}


async def _visible_request(conn: Any, caller: Principal, request_id: UUID, *, lock: bool = False) -> Any:
    row = await store.get_request(conn, request_id, lock=lock)
    if row is None:
        raise Problem(404, "Not found", f"request {request_id} does not exist")
    if not access.may_see_request(caller, row):
        raise Problem(403, "Forbidden", f"request {request_id} is neither yours nor one you review or follow")
    return row


@router.get("/requests/{request_id}", summary="One request with its history", responses=documented(401, 403, 404))
async def get_request(request: Request, request_id: UUID, caller: Annotated[Principal, Depends(require(*access.STAFF))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        row = await _visible_request(conn, caller, request_id)
        steps = await store.request_steps(conn, request_id)
    return request_json(row, steps)


@router.post("/requests/{request_id}/actions", summary="Move a request on: acknowledge, ask_info, provide_info, approve, reject, withdraw",
             description="Reviewers (IT admins of the school's district, the data-protection function, city admins) acknowledge, ask for "
                         "information, approve (with optional conditions) or reject (with a reason, in `note`). The requester answers "
                         "(`provide_info`) or withdraws.",
             responses=documented(401, 403, 404, 409, 422))
async def act_on_request(request: Request, request_id: UUID, body: RequestAction, caller: Annotated[Principal, Depends(require(*access.STAFF))]) -> dict[str, Any]:
    now = datetime.now(UTC)
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        row = await _visible_request(conn, caller, request_id, lock=True)
        if body.action in domain.REVIEW_ACTIONS and not access.may_review(caller, row["school_unit"], row["district"]):
            raise Problem(403, "Forbidden", "only reviewers (IT admins of the school's district, the data-protection function, city admins) may " + body.action.replace("_", " "))
        if body.action in domain.REQUESTER_ACTIONS and caller.subject != row["requester"]:
            raise Problem(403, "Forbidden", f"only the requester may {body.action.replace('_', ' ')}")
        try:
            state = domain.next_request_state(row["state"], body.action, body.note)
        except domain.Rejected as exc:
            raise rejected(exc.status, str(exc), exc.field) from None
        app_id = None
        if body.appId is not None:
            if body.action != "approve" or row["app_id"] is not None:
                raise rejected(422, "appId links the app record created for an approved request for a new app", "appId")
            app_id = (await load_app(conn, body.appId))["id"]
        decided = body.action in ("approve", "reject")
        await store.move_request(conn, request_id, state=state, now=now, waiting_since=domain.waiting_since(state, now), app_id=app_id,
                                 conditions=body.conditions if body.action == "approve" else None,
                                 reason=body.note if body.action == "reject" else None, decided_by=caller.subject if decided else None)
        await store.add_request_step(conn, request_id, caller.subject, body.action, body.note or body.conditions, now)
        row = await store.get_request(conn, request_id)
        if decided:
            decision = RequestDecision.APPROVED if body.action == "approve" else RequestDecision.REJECTED
            await outbox.add(conn, SOURCE, AppRequestDecided(**await request_facts(conn, row), decision=decision, conditions=row["conditions"],
                                                             reason=row["reason"], decidedBy=await vault.seal_actor(conn, caller.subject), decidedAt=now))
        else:
            await outbox.add(conn, SOURCE, AppRequestProgressed(**await request_facts(conn, row), step=domain.STEP_OF[body.action],
                                                                by=await vault.seal_actor(conn, caller.subject), note=body.note, at=now))
        steps = await store.request_steps(conn, request_id)
    return request_json(row, steps)
