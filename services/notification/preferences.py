"""A recipient's own choices: per message type and channel instant, digest or off; language; quiet
hours. The recipient (token subject = their person id) or a city admin may read and change them."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.notification import domain, store
from shared.auth import Principal, Role, require
from shared.problems import Problem, documented, rejected

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


def ensure_self_or_admin(caller: Principal, person: UUID) -> None:
    if caller.subject.lower() != str(person) and not caller.has_any(Role.CITY_ADMIN):
        raise Problem(403, "Forbidden", "only the person themselves or a city admin may see or change these preferences")


def preferences_json(person: UUID, setting: Any, rows: list[Any]) -> dict[str, Any]:
    choices = {(r["message_type"], r["channel"]): r["mode"] for r in rows}
    start, end = (setting["quiet_start"], setting["quiet_end"]) if setting else domain.DEFAULT_QUIET
    return {
        "personId": str(person), "language": setting["language"] if setting else "sv",
        "quietHours": {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")},
        "messageTypes": [{"messageType": t, "description": d, "critical": t in domain.CRITICAL,
                          "channels": {c: domain.effective_mode(choices, t, c) for c in domain.CHANNELS}}
                         for t, d in domain.MESSAGE_TYPES.items()],
    }


@router.get("/persons/{person_id}/preferences", summary="What a recipient gets, how and when", responses=documented(401, 403))
async def get_preferences(request: Request, person_id: UUID, caller: Annotated[Principal, Depends(require())]) -> dict[str, Any]:
    ensure_self_or_admin(caller, person_id)
    async with request.app.state.pool.acquire() as conn:
        setting, rows = await store.preferences(conn, person_id)
    return preferences_json(person_id, setting, rows)


@router.put("/persons/{person_id}/preferences", summary="Change language, quiet hours and per-type, per-channel choices",
            description="Critical messages cannot be turned off or moved to a digest.", responses=documented(401, 403, 422))
async def put_preferences(request: Request, person_id: UUID, body: PreferenceChange, caller: Annotated[Principal, Depends(require())]) -> dict[str, Any]:
    ensure_self_or_admin(caller, person_id)
    for i, c in enumerate(body.choices):
        try:
            domain.check_choice(c.messageType, c.channel, c.mode)
        except domain.Rejected as exc:
            raise rejected(422, str(exc), f"choices.{i}.{exc.field}") from None
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        await store.save_preferences(conn, person_id, language=body.language,
                                     quiet=(body.quietHours.start, body.quietHours.end) if body.quietHours else None,
                                     choices=[(c.messageType, c.channel, c.mode) for c in body.choices])
        setting, rows = await store.preferences(conn, person_id)
    return preferences_json(person_id, setting, rows)
