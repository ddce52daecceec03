"""``/operations/...``: what a city admin (Skolit's operators, who also run ``/jobs``) sees of a service's
dead letters and parked outbox rows, read-only.

The same listings as ``python -m services.<name> dead-letters`` and ``outbox list`` (shared/operations.py):
coordinates, type, id, reason, time and size; never a record's body, key or other header values, which are
whatever a sender wrote and may hold personal data. Retrying and discarding stay on the command line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from shared import operations
from shared.auth import Principal, Role, require
from shared.http.models import Page
from shared.http.openapi import example
from shared.http.pages import KeysetRequest, PageRequest, keyset_request, page_request
from shared.problems import documented

router = APIRouter(prefix="/operations", tags=["operations"])
Operator = Annotated[Principal, Depends(require(Role.CITY_ADMIN))]


class DeadLetterItem(BaseModel):
    seq: int = Field(description="the letter's place in the service's outbox; newest first")
    id: UUID = Field(description="the letter's outbox id")
    topic: str = Field(description="the dead-letter topic, `<topic>.dlq`")
    originalTopic: str | None = Field(description="where the record arrived")
    originalPartition: int | None
    originalOffset: int | None
    ceType: str | None = Field(description="the event type the sender wrote (cut to 200 characters)")
    ceId: str | None = Field(description="the event id the sender wrote (cut to 200 characters)")
    reason: str | None = Field(description="why the record could not be applied")
    errorClass: str | None
    deadLetteredAt: datetime
    published: bool = Field(description="whether the relay has sent the letter to the dead-letter topic yet")
    publishedAt: datetime | None
    bodyBytes: int | None = Field(description="the size of the record's body (of the whole body, for a bounded letter); the body itself is never shown")
    bounded: bool = Field(description="the record was too large to keep whole: the letter keeps the body's size, SHA-256 and first bytes")




class ParkedItem(BaseModel):
    seq: int
    id: UUID = Field(description="the row's outbox id (for an event of the service's own, its CloudEvents id)")
    topic: str = Field(description="where the row was going (cut to 200 characters)")
    eventType: str | None
    createdAt: datetime
    parkedAt: datetime
    reason: str | None = Field(description="why the relay cannot publish it")
    discardedAt: datetime | None
    discardNote: str | None
    payloadBytes: int | None = Field(description="the size of the body; the body itself is never shown")
    keyBytes: int | None
    heldBehind: int = Field(description="rows of the same topic and key waiting behind this one (per-key order)")




EXAMPLE_LETTERS = {"items": [{
    "seq": 48213, "id": "8f14e45f-ceea-467f-a0e6-1a2b3c4d5e6f", "topic": "skolit.city.person.dlq", "originalTopic": "skolit.city.person",
    "originalPartition": 2, "originalOffset": 190233, "ceType": "se.skolit.city.person.upserted.v1", "ceId": "a1b2c3d4-0000-4000-8000-000000000001",
    "reason": "data does not match its schema: securityMarking: Input should be 'Ingen', 'Sekretessmarkering' or 'Skyddad folkbokföring'",
    "errorClass": "contract", "deadLetteredAt": "2026-12-07T08:15:02Z", "published": True, "publishedAt": "2026-12-07T08:15:03Z",
    "bodyBytes": 212, "bounded": False}], "limit": 50, "next": None, "total": None}
EXAMPLE_PARKED = {"items": [{
    "seq": 90211, "id": "0b5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f70", "topic": "skolit.catalog.app", "eventType": "se.skolit.catalog.app.published.v1",
    "createdAt": "2026-12-07T08:00:00Z", "parkedAt": "2026-12-07T08:00:01Z", "reason": "the broker refused the record: MessageSizeTooLarge",
    "discardedAt": None, "discardNote": None, "payloadBytes": 1048800, "keyBytes": 36, "heldBehind": 0}], "limit": 50, "next": None, "total": 1}


@router.get("/dead-letters", summary="The service's dead letters, newest first: reason, type, time, coordinates (never bodies)",
            responses=documented(401, 403, 422) | example(EXAMPLE_LETTERS))
async def list_dead_letters(request: Request, caller: Operator, page: Annotated[KeysetRequest, Depends(keyset_request)]) -> Page[DeadLetterItem]:
    async with request.app.state.pool.acquire() as conn:
        letters = await operations.list_dead_letters(conn, limit=page.fetch, before_seq=page.before)
    return Page[DeadLetterItem](**page.page(letters, lambda d: d.seq, item=lambda d: DeadLetterItem(**d.to_json())))


@router.get("/outbox/parked", summary="Outbox rows the relay can never publish as they are, oldest first, with the reason (never bodies)",
            description="`total` is how many rows are parked now, listed or not.", responses=documented(401, 403, 422) | example(EXAMPLE_PARKED))
async def list_parked(request: Request, caller: Operator, page: Annotated[PageRequest, Depends(page_request)]) -> Page[ParkedItem]:
    async with request.app.state.pool.acquire() as conn:
        rows, parked = await operations.list_parked(conn, limit=page.offset + page.fetch)
    return Page[ParkedItem](**page.page(rows[page.offset:], total=parked, item=lambda r: ParkedItem(**r.to_json())))

