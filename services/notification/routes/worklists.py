"""What a school must follow up by hand: guardians no channel reached, and every time a critical
message went out inside someone's quiet hours. Both name persons, so each read needs a reason and is in
the access log (access_audit.py); people are person references, protected identities as neither id nor name."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from services.notification import access, usecases
from services.notification.access_audit import REASON_HELP, Reason
from services.notification.schemas import QuietHoursBypasses, UnreachedPage
from services.notification.settings import SOURCE
from shared.auth import Principal, require
from shared.http.pages import PageRequest, page_request
from shared.problems import documented
from shared.uow import unit_of_work

router = APIRouter(tags=["worklists"])


@router.get("/school-units/{school_unit_id}/unreached", summary="Guardians of the school unit whom no channel reached, per message",
            description="A page of the guardians (`?limit=`, `?cursor=`), each a person reference (a protected identity as neither id "
                        "nor name) with the messages that did not reach them. The read is logged with the page's guardians.",
            response_model=UnreachedPage, responses=documented(401, 403, 422))
async def list_unreached(request: Request, school_unit_id: UUID,
                    caller: Annotated[Principal, Depends(require(*access.SCHOOL_READERS))],
                    reason: Annotated[Reason, Query(description=REASON_HELP)],
                    page: Annotated[PageRequest, Depends(page_request)],
                    days: Annotated[int, Query(ge=1, le=366, description="messages of the last this many days")] = 30,
                    broadcastId: Annotated[UUID | None, Query(description="only the messages of this broadcast")] = None) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.list_unreached(uow, caller, school_unit_id, reason=reason, days=days, page=page, path=request.url.path,
                                             broadcast=broadcastId)


@router.get("/quiet-hours-bypasses", summary="Every critical message sent inside a recipient's quiet hours (the bypass log)",
            description="Newest first, a page at a time (`?limit=`, `?cursor=`); each recipient a person reference. The read is logged.",
            response_model=QuietHoursBypasses, responses=documented(401, 403, 422))
async def list_quiet_hours_bypasses(request: Request,
                               caller: Annotated[Principal, Depends(require(*access.BYPASS_READERS))],
                               reason: Annotated[Reason, Query(description=REASON_HELP)],
                               page: Annotated[PageRequest, Depends(page_request)],
                               schoolUnitId: Annotated[UUID | None, Query(description="only messages about this school unit")] = None,
                               days: Annotated[int, Query(ge=1, le=3660, description="the last this many days")] = 30) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.list_quiet_hours_bypasses(uow, caller, schoolUnitId, reason=reason, days=days, page=page,
                                                        path=request.url.path)
