"""Broadcasts over HTTP: preview an audience, send, and follow reach and read receipts (usecases/broadcasts.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.notification import access, usecases
from services.notification.access_audit import REASON_HELP, Reason
from services.notification.schemas import AudienceSize, Broadcasts, BroadcastSummary, Receipts
from services.notification.settings import NOTIFICATION, SOURCE
from services.notification.usecases import Audience
from services.notification.usecases.broadcasts import Body, Subject, Text, list_broadcasts
from shared.auth import Principal, require
from shared.http.pages import PageRequest, page_request
from shared.problems import documented, rejected
from shared.uow import unit_of_work

router = APIRouter(tags=["broadcasts"])


class Translations(BaseModel):
    """A broadcast's versions besides the Swedish, per language (``domain.TRANSLATION_LANGUAGES``)."""

    model_config = ConfigDict(extra="forbid")

    en: Text | None = Field(default=None, description="in English")


class BroadcastIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: UUID | None = Field(default=None, description="the client's id for this broadcast: sending it again changes nothing")
    audience: Audience
    subject: Subject = Field(description="in Swedish: what everyone without a version in their language reads")
    body: Body = Field(description="in Swedish")
    critical: bool = Field(default=False, description="urgent (e.g. the school is closed today): cannot be turned off, goes out in quiet hours")
    link: str | None = Field(default=None, max_length=500, pattern=r"^(/|https://)", description="a deep link: a path of the web client or an https address")
    translations: Translations = Field(
        default_factory=Translations,
        description="the same message in other languages than Swedish: each recipient reads the version in their language; "
                    "a recipient whose language has none reads the Swedish `subject` and `body`")
    asOf: datetime | None = Field(default=None, description="send as if it were this time; only where the clock may be overridden (tests, demo)")


@router.post("/broadcasts/audience", summary="How many a broadcast to this audience reaches, and on which channels (nothing is sent)",
             response_model=AudienceSize, responses=documented(401, 403, 422))
async def preview_broadcast(request: Request, audience: Audience, caller: Annotated[Principal, Depends(require(*access.SENDERS))]) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.preview_broadcast(uow, caller, audience)


@router.post("/broadcasts", status_code=201, summary="Send a message to an audience", response_model=BroadcastSummary,
             responses={200: {"model": BroadcastSummary, "description": "The same broadcast (same id, same sender) again: nothing new was sent"},
                        **documented(401, 403, 409, 422)})
async def send_broadcast(request: Request, response: Response, body: BroadcastIn, caller: Annotated[Principal, Depends(require(*access.SENDERS))]) -> dict[str, Any]:
    now = datetime.now(UTC)
    if body.asOf is not None:
        if not request.app.state.settings.allow_clock_override:
            raise rejected(422, "asOf is only accepted where SKOLIT_ALLOW_CLOCK_OVERRIDE is set (tests and the demo)", "asOf")
        now = body.asOf
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        result, new = await usecases.send_broadcast(uow, caller, body.audience, subject=body.subject, body=body.body, critical=body.critical,
                                                    link=body.link, broadcast_id=body.id, now=now,
                                                    translations={lang: t for lang, t in body.translations if t is not None},
                                                    plan_now=NOTIFICATION.plan_inline_recipients)
    if not new:
        response.status_code = 200  # the same broadcast again: nothing new is sent
    return result


@router.get("/broadcasts", summary="My broadcasts, newest first, with status and reach (a city admin: everyone's)",
            description="A page (`?limit=`, `?cursor=`) of the broadcasts the caller sent, newest first; a city admin's list is every "
                        "broadcast. Each says whether it is still going out (`sending`), held by recipients' quiet hours until "
                        "`scheduledFor` (`scheduled`), or `sent`; how many it reached per channel as delivered (the in-app inbox "
                        "too); its languages and how many recipients read each version (Swedish for those whose language has none). "
                        "`total` counts them all.",
            response_model=Broadcasts, responses=documented(401, 403, 422))
async def get_broadcasts(request: Request, caller: Annotated[Principal, Depends(require(*access.SENDERS))],
                         page: Annotated[PageRequest, Depends(page_request)]) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await list_broadcasts(uow, caller, page=page)


@router.get("/broadcasts/{broadcast_id}", summary="A broadcast's reach and read receipts as counts (sender, or who acts for all its schools)",
            response_model=BroadcastSummary, responses=documented(401, 403, 404, 422))
async def get_broadcast(request: Request, broadcast_id: UUID, caller: Annotated[Principal, Depends(require(*access.SENDERS))]) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.get_broadcast(uow, caller, broadcast_id)


@router.get("/broadcasts/{broadcast_id}/receipts", summary="Per guardian at one school unit: read or not, and each channel's state (logged)",
            description="A page of the recipients (`?limit=`, `?cursor=`), by person id; a protected identity is shown as neither "
                        "id nor name. The read is logged with the page's recipients.",
            response_model=Receipts, responses=documented(401, 403, 404, 422))
async def list_receipts(request: Request, broadcast_id: UUID, caller: Annotated[Principal, Depends(require(*access.SENDERS))],
                   schoolUnitId: Annotated[UUID, Query(description="the school unit whose recipients to list")],
                   reason: Annotated[Reason, Query(description=REASON_HELP)],
                   page: Annotated[PageRequest, Depends(page_request)]) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.broadcast_receipts(uow, caller, broadcast_id, schoolUnitId, reason=reason, page=page,
                                                 path=request.url.path)
