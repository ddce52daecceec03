"""The right of access over HTTP (art. 15 GDPR; access_requests.py has the flow): ask for everything Skolit
holds about a person, and fetch the export once every service's part is in."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.notification import access, access_audit
from services.notification.access_requests import RETENTION_DAYS, SERVICES, SOURCE, gather, status_path
from services.notification.schemas import AccessExport, AccessRequestCreated, AccessRequestList, AccessRequestPending
from services.notification.settings import KEYS, SERVICE
from services.notification.store import access_requests as q
from services.notification.views import person_json
from shared.auth import Principal, require
from shared.city.people import person_refs
from shared.events.notification import AccessRequested
from shared.http.pages import PageRequest, page_request
from shared.privacy import export, sealedbox, vault
from shared.problems import Problem, documented
from shared.uow import unit_of_work

router = APIRouter(tags=["privacy"])
ReasonCode = Literal["data-subject-request", "guardian-request", "supervisory-authority", "internal-review"]


class AccessRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    personId: UUID = Field(description="the person (SS 12000 person id) whose data is asked for")
    reasonCode: ReasonCode = Field(description="why: the person asked (themselves, or a guardian for a child, through the data "
                                               "protection officer), the supervisory authority asked, or an internal review")


@router.post("/privacy/access-requests", status_code=202, response_model=AccessRequestCreated, responses=documented(401, 403, 422),
             summary="Ask for everything Skolit holds about a person (right of access); the export is gathered from every service",
             description="data_protection and city_admin for anyone; every other signed-in person for themselves only "
                         "(personId = their token subject). Answers at once with where to fetch the export.")
async def create_access_request(request: Request, response: Response, body: AccessRequestIn,
                 caller: Annotated[Principal, Depends(require())]) -> dict[str, Any]:
    access.ensure_may_request_access(caller, body.personId)
    request_id, now = uuid4(), datetime.now(UTC)
    private_key, public_key = sealedbox.keypair()
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        conn = uow.conn
        await q.create_request(conn, id=request_id, person=body.personId, requested_by=caller.subject, reason_code=body.reasonCode,
                               requested_at=now, private_key_id=KEYS.current,
                               private_key=KEYS.encrypt(request_id, base64.b64encode(private_key).decode()))  # type: ignore[arg-type]
        tables = await gather(conn, body.personId)
        part, rows = export.sealed_answer(public_key, request_id, SERVICE, tables)
        await q.add_part(conn, request_id, SERVICE, base64.b64decode(part), rows)
        sealed = await vault.seal(conn, body.personId)
        await uow.publish(AccessRequested(requestId=request_id, person=sealed, publicKey=base64.b64encode(public_key).decode(),
                                          requestedAt=now))
    response.headers["Location"] = status_path(request_id)
    return {"id": str(request_id), "status": "pending", "statusUrl": status_path(request_id), "personId": str(body.personId),
            "requestedAt": now.isoformat()}


@router.get("/privacy/access-requests", response_model=AccessRequestList, responses=documented(401, 422),
            summary="The access requests the caller made, newest first, each with its progress (never the export itself)",
            description="Every signed-in person sees only the requests they asked for themselves (token subject = requested_by).")
async def list_access_requests(request: Request, caller: Annotated[Principal, Depends(require())],
                               page: Annotated[PageRequest, Depends(page_request)],
                               status: Annotated[Literal["pending", "ready", "expired"] | None, Query(description="only requests in this state")] = None,
                               ) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        rows = await q.requests_by_caller(conn, caller.subject, status=status, limit=page.fetch, offset=page.offset)
        refs = await person_refs(conn, [r["person"] for r in rows[: page.limit]], viewer=caller.subject)

    def item(r: Any) -> dict[str, Any]:
        received = list(SERVICES) if r["ready"] else [s for s in SERVICES if s in (r["received"] or [])]
        state = "ready" if r["ready"] else "expired" if r["expired_at"] is not None else "pending"
        return {"id": str(r["id"]), "status": state, "personId": str(r["person"]), "person": person_json(refs, r["person"]),
                "reasonCode": r["reason_code"], "requestedAt": r["requested_at"].isoformat(),
                "completedAt": r["completed_at"].isoformat() if r["completed_at"] else None,
                "expiresAt": r["expires_at"].isoformat() if r["expires_at"] else None,
                "received": received, "pending": [s for s in SERVICES if s not in received]}

    return page.page(rows, item=item)


@router.get("/privacy/access-requests/{access_request_id}", response_model=None,
            responses={200: {"model": AccessExport, "description": "The export: every service's part, its rows free-form per table"},
                       202: {"model": AccessRequestPending, "description": "Still gathering: which services' parts are in, which pending"},
                       **documented(401, 403, 404, 410, 422)},
            summary="The export once every service's part is in (202 with what is pending until then); for whoever asked")
async def get_access_request(request: Request, response: Response, access_request_id: UUID, caller: Annotated[Principal, Depends(require())]) -> dict[str, Any]:
    request_id = access_request_id
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        row = await q.request(conn, request_id)
        if row is None:
            raise Problem(404, "Not found", f"no access request {request_id}")
        access.ensure_requested_by(caller, row["requested_by"])
        if row["export"] is not None:
            # the export holds the contact details and messages in clear: every read is logged (services/notification/access_audit.py)
            why = access_audit.why(caller, row["person"], "access-request")
            for action in (access_audit.Action.CONTACT_READ, access_audit.Action.MESSAGES_READ):
                await access_audit.log(conn, request, caller, action, why_code=why, subject=row["person"])
            return orjson.loads(KEYS.decrypt(row["export_key_id"], request_id, row["export"]))  # type: ignore[arg-type]
        if row["expired_at"] is not None:
            raise Problem(410, "Gone", f"the export was removed on {row['expired_at'].date().isoformat()}, {RETENTION_DAYS} days after it was "
                                       "ready (or the request could not be completed in time); ask again")
        received = await q.received(conn, request_id)
    response.status_code = 202
    return {"id": str(request_id), "status": "pending", "personId": str(row["person"]), "requestedAt": row["requested_at"].isoformat(),
            "received": [s for s in SERVICES if s in received], "pending": [s for s in SERVICES if s not in received]}
