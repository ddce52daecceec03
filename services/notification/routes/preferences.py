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
    start: time = Field(examples=["21:00"], description="local time (Europe/Stockholm)")
    end: time = Field(examples=["07:00"], description="local time (Europe/Stockholm); before start means across midnight; "
                                                        "not equal to start (null quietHours means none)")


class PreferenceChange(BaseModel):
    language: Language | None = Field(default=None, description="the language messages are written in: one with templates for every message")
    quietHours: QuietHours | None = Field(default=None, description="left out: unchanged; null: no quiet hours at all")
    choices: list[Choice] = Field(default_factory=list, max_length=200)


LANG = Query(description="the language of the descriptions (else Accept-Language; Swedish by default)")


@router.get("/persons/{person_id}/preferences", summary="What a recipient gets, how and when", response_model=Preferences,
            responses=documented(401, 403, 422))
async def get_preferences(request: Request, person_id: UUID, caller: Annotated[Principal, Depends(require())],
                          lang: Annotated[Language | None, LANG] = None) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.get_preferences(uow, caller, person_id, lang=language(request, lang))


@router.put("/persons/{person_id}/preferences", summary="Change language, quiet hours and per-type, per-channel choices",
            description="What is left out stays as it was; `quietHours: null` means no quiet hours. Refused (422 naming the field): "
                        "a language without templates (sv, en), quiet hours that start when they end, a digest on a channel "
                        "without contact details, choices that leave no channel the person can be reached on for broadcasts "
                        "(the in-app inbox counts), and critical messages turned off or moved to a digest.", response_model=Preferences,
            responses=documented(401, 403, 422))
async def put_preferences(request: Request, person_id: UUID, body: PreferenceChange, caller: Annotated[Principal, Depends(require())],
                          lang: Annotated[Language | None, LANG] = None) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.set_preferences(uow, caller, person_id, language=body.language,
                                              quiet=(body.quietHours.start, body.quietHours.end) if body.quietHours else None,
                                              no_quiet="quietHours" in body.model_fields_set and body.quietHours is None,
                                              choices=[(c.messageType, c.channel, c.mode) for c in body.choices],
                                              lang=language(request, lang))
