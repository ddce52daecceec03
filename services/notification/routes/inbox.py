"""The in-app inbox: a recipient's messages in their language, and marking one read. Every read of an
inbox is in the access log (access_audit.py): ``own-data`` for the recipient, a reason for anyone else."""

from __future__ import annotations

from typing import Annotated, Any, get_args
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from services.notification import usecases
from services.notification.access_audit import REASON_HELP, Reason
from services.notification.schemas import Inbox, MessageRead
from services.notification.settings import SOURCE
from shared.auth import Principal, require
from shared.http.hot_reads import HotRead, PassOn, one_of, query_of, uuid_text, whole_number
from shared.http.pages import DEFAULT_LIMIT, MAX_LIMIT, PageRequest, decode_cursor, page_request
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
    return await _inbox(request, caller, person_id, page, reason, lang)


async def _inbox(request: Request, caller: Principal, person: UUID, page: PageRequest, reason: str | None, lang: Language | None) -> Response:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        body = await usecases.read_inbox(uow, caller, person, page=page, reason=reason, path=request.url.path, lang=lang,
                                         default_lang=language(request, None))
    return json_response(body)


_QUERY = frozenset({"limit", "cursor", "reason", "lang"})
_REASONS = frozenset(get_args(Reason))
_LANGUAGES = frozenset(get_args(Language))


async def _inbox_hot(request: Request, caller: Principal, params: dict[str, str]) -> Response:
    """``list_messages`` for the plain case, without FastAPI (shared/http/hot_reads.py): the guardians' read at city
    scale. Whatever it does not read as the route would, it passes on to the route."""
    query = query_of(request, _QUERY)
    limit = whole_number(query.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT)
    cursor = query.get("cursor")
    if cursor is not None and (not cursor or len(cursor) > 200):
        raise PassOn
    page = PageRequest(limit=limit, offset=decode_cursor(cursor) if cursor else 0)
    return await _inbox(request, caller, UUID(uuid_text(params["person_id"])), page, one_of(query.get("reason"), _REASONS),
                        one_of(query.get("lang"), _LANGUAGES))  # type: ignore[arg-type]


#: shared/http/hot_reads.py; the service's spec lists it
HOT_READS = (HotRead("/persons/{person_id}/messages", _inbox_hot),)


@router.post("/persons/{person_id}/messages/{message_id}/read", summary="Mark an in-app message read", response_model=MessageRead,
             responses=documented(401, 403, 404))
async def mark_message_read(request: Request, person_id: UUID, message_id: UUID, caller: Annotated[Principal, Depends(require())]) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.mark_read(uow, caller, person_id, message_id)
