"""Erasure over HTTP (art. 17 GDPR; privacy.py has the flow): ask for a person's data to be erased everywhere,
and follow each service's confirmation."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.notification import access
from services.notification.privacy import SERVICES, request_erasure, status_path
from services.notification.schemas import ErasureRequestCreated, ErasureRequestList, ErasureRequestStatus
from services.notification.store import erasure as q
from shared.auth import Principal, require
from shared.events.notification import ErasureReason
from shared.http.pages import PageRequest, page_request
from shared.problems import Problem, documented

router = APIRouter(tags=["privacy"])


class ErasureRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    personId: UUID = Field(description="the person (SS 12000 person id) whose data every service erases")
    reasonCode: ErasureReason = Field(description="why (art. 17.1 GDPR)")


@router.post("/privacy/erasure-requests", status_code=202, response_model=ErasureRequestCreated, responses=documented(401, 403, 422),
             summary="Erase everything Skolit holds about a person (city_admin, data_protection); every service confirms",
             description="Answers at once with where to follow the request. A person unknown to Skolit is not an error: there is "
                         "nothing to erase, and every service confirms that. While a request for the person is pending, asking "
                         "again answers with that request.")
async def create_erasure_request(request: Request, response: Response, body: ErasureRequestIn,
                 caller: Annotated[Principal, Depends(require(*access.ERASURE_OFFICERS))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        request_id, new = await request_erasure(conn, person=body.personId, reason=body.reasonCode.value, requested_by=caller.subject,
                                                source="api")
    response.headers["Location"] = status_path(request_id)
    return {"id": str(request_id), "status": "pending", "statusUrl": status_path(request_id), "new": new}


def _status(row: Any, confirmed: dict[str, Any]) -> dict[str, Any]:
    services = {s: ({"status": "confirmed", "erasedAt": confirmed[s]["erased_at"].isoformat(), "counts": confirmed[s]["counts"]}
                    if s in confirmed else {"status": "pending"}) for s in SERVICES}
    return {"id": str(row["id"]), "status": "complete" if row["completed_at"] else "pending", "source": row["source"],
            "reasonCode": row["reason_code"], "requestedAt": row["requested_at"].isoformat(),
            "completedAt": row["completed_at"].isoformat() if row["completed_at"] else None,
            "keyDestroyed": row["key_destroyed"], "services": services}


@router.get("/privacy/erasure-requests", response_model=ErasureRequestList, responses=documented(401, 403, 422),
            summary="Erasure requests, newest first, each with every service's confirmation (never the person)")
async def list_erasure_requests(request: Request, caller: Annotated[Principal, Depends(require(*access.ERASURE_OFFICERS))],
                                page: Annotated[PageRequest, Depends(page_request)],
                                status: Annotated[Literal["pending", "complete"] | None, Query(description="only requests in this state")] = None,
                                ) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        rows = await q.requests_page(conn, status=status, limit=page.fetch, offset=page.offset)
        confirmations = await q.confirmations_of(conn, [r["id"] for r in rows[: page.limit]])
    by_request: dict[Any, dict[str, Any]] = {}
    for c in confirmations:
        by_request.setdefault(c["request_id"], {})[c["service"]] = c
    return page.page(rows, item=lambda r: _status(r, by_request.get(r["id"], {})))


@router.get("/privacy/erasure-requests/{erasure_request_id}", response_model=ErasureRequestStatus, responses=documented(401, 403, 404, 422),
            summary="An erasure request: each service confirmed or pending; complete only when all four confirmed")
async def get_erasure_request(request: Request, erasure_request_id: UUID, caller: Annotated[Principal, Depends(require(*access.ERASURE_OFFICERS))]) -> dict[str, Any]:
    request_id = erasure_request_id
    async with request.app.state.pool.acquire() as conn:
        row = await q.request(conn, request_id)
        if row is None:
            raise Problem(404, "Not found", f"no erasure request {request_id}")
        confirmed = {c["service"]: c for c in await q.confirmations(conn, request_id)}
    return _status(row, confirmed)
