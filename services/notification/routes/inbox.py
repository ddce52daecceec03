"""The in-app inbox: a recipient's messages in their language, and marking one read. Every read of an
inbox is in the access log (access_audit.py): ``own-data`` for the recipient, a reason for anyone else."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from services.notification import usecases
from services.notification.access_audit import REASON_HELP, Reason
from services.notification.settings import SOURCE
from shared.auth import Principal, require
from shared.problems import documented
from shared.uow import unit_of_work

router = APIRouter(tags=["inbox"])


@router.get("/persons/{person_id}/messages", summary="A recipient's in-app messages, newest first, in their language (logged)",
            responses=documented(401, 403, 422))
async def messages(request: Request, person_id: UUID, caller: Annotated[Principal, Depends(require())],
                   limit: Annotated[int, Query(ge=1, le=200)] = 50,
                   reason: Annotated[Reason | None, Query(description=REASON_HELP + "; not needed for one's own inbox")] = None) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.read_inbox(uow, caller, person_id, limit=limit, reason=reason, path=request.url.path)


@router.post("/persons/{person_id}/messages/{message_id}/read", summary="Mark an in-app message read", responses=documented(401, 403, 404))
async def read(request: Request, person_id: UUID, message_id: UUID, caller: Annotated[Principal, Depends(require())]) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.mark_read(uow, caller, person_id, message_id)
