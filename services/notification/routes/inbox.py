"""The in-app inbox: a recipient's messages in their language, and marking one read. Every read of an
inbox is in the access log (access_audit.py): ``own-data`` for the recipient, a reason for anyone else."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from services.notification import usecases
from services.notification.access_audit import REASON_HELP, Reason
from services.notification.schemas import Inbox, MessageRead
from services.notification.settings import SOURCE
from shared.auth import Principal, require
from shared.http.pages import PageRequest, page_request
from shared.i18n import Language, language
from shared.json_response import json_response
from shared.problems import documented
from shared.uow import unit_of_work

router = APIRouter(tags=["inbox"])


# A hot read (bench/http_reads.py): answered with orjson directly; ``Inbox`` documents the shape.
@router.get("/persons/{person_id}/messages", summary="A recipient's in-app messages, newest first, in their language (logged)",
            description="One page of the inbox (`?limit=`, `?cursor=`). `unread` and `total` count the whole inbox, not the page. "
                        "Messages are written in `?lang=` when given, else in the recipient's chosen language, else in the "
                        "Accept-Language's (Swedish by default).",
            response_model=None, responses={200: {"model": Inbox}, **documented(401, 403, 422)})
async def list_messages(request: Request, person_id: UUID, caller: Annotated[Principal, Depends(require())],
                   page: Annotated[PageRequest, Depends(page_request)],
                   reason: Annotated[Reason | None, Query(description=REASON_HELP + "; not needed for one's own inbox")] = None,
                   lang: Annotated[Language | None, Query(description="the language to read the messages in")] = None) -> Response:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        body = await usecases.read_inbox(uow, caller, person_id, page=page, reason=reason, path=request.url.path, lang=lang,
                                         default_lang=language(request, None))
    return json_response(body)


@router.post("/persons/{person_id}/messages/{message_id}/read", summary="Mark an in-app message read", response_model=MessageRead,
             responses=documented(401, 403, 404))
async def mark_message_read(request: Request, person_id: UUID, message_id: UUID, caller: Annotated[Principal, Depends(require())]) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.mark_read(uow, caller, person_id, message_id)
