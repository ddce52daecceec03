"""A recipient's own choices: per message type and channel instant, digest or off; language; quiet
hours. The recipient (token subject = their person id) or a city admin may read and change them."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.notification import usecases
from services.notification.schemas import Preferences
from services.notification.settings import SOURCE
from shared.auth import Principal, require
from shared.i18n import Language, language
from shared.problems import documented
from shared.uow import unit_of_work

router = APIRouter(tags=["preferences"])


class Choice(BaseModel):
    messageType: str = Field(examples=["broadcast"])
    channel: str = Field(examples=["sms"])
    mode: str = Field(examples=["digest"])


class QuietHours(BaseModel):
    start: time = Field(examples=["21:00"])
    end: time = Field(examples=["07:00"])


class PreferenceChange(BaseModel):
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    quietHours: QuietHours | None = None
    choices: list[Choice] = Field(default_factory=list, max_length=200)


LANG = Query(description="the language of the descriptions (else Accept-Language; Swedish by default)")


@router.get("/persons/{person_id}/preferences", summary="What a recipient gets, how and when", response_model=Preferences,
            responses=documented(401, 403, 422))
async def get_preferences(request: Request, person_id: UUID, caller: Annotated[Principal, Depends(require())],
                          lang: Annotated[Language | None, LANG] = None) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.get_preferences(uow, caller, person_id, lang=language(request, lang))


@router.put("/persons/{person_id}/preferences", summary="Change language, quiet hours and per-type, per-channel choices",
            description="Critical messages cannot be turned off or moved to a digest.", response_model=Preferences,
            responses=documented(401, 403, 422))
async def put_preferences(request: Request, person_id: UUID, body: PreferenceChange, caller: Annotated[Principal, Depends(require())],
                          lang: Annotated[Language | None, LANG] = None) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.set_preferences(uow, caller, person_id, language=body.language,
                                              quiet=(body.quietHours.start, body.quietHours.end) if body.quietHours else None,
                                              choices=[(c.messageType, c.channel, c.mode) for c in body.choices],
                                              lang=language(request, lang))
