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

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from shared import operations
from shared.auth import Principal, Role, require
from shared.problems import documented

#: the most an answer lists; page on with ``before`` (dead letters)
MAX_LIMIT = 500
#: PostgreSQL's bigint: a larger ``before`` could not be a seq
MAX_SEQ = 2**63 - 1

router = APIRouter(prefix="/operations", tags=["operations"])
Operator = Annotated[Principal, Depends(require(Role.CITY_ADMIN))]


class DeadLetterItem(BaseModel):
    seq: int = Field(description="the letter's place in the service's outbox; newest first, page on with `before`")
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


class DeadLetterPage(BaseModel):
    items: list[DeadLetterItem]
    nextBefore: int | None = Field(description="pass as `before` for the next, older page; null on the last page")


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


class ParkedPage(BaseModel):
    items: list[ParkedItem] = Field(description="parked rows not yet discarded, oldest first")
    parked: int = Field(description="how many rows are parked now, listed or not")


@router.get("/dead-letters", summary="The service's dead letters, newest first: reason, type, time, coordinates (never bodies)",
            responses=documented(401, 403, 422))
async def list_dead_letters(
    request: Request,
    caller: Operator,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"at most this many (1..{MAX_LIMIT})")] = 100,
    before: Annotated[int | None, Query(ge=1, le=MAX_SEQ, description="only letters older than this seq: the previous page's `nextBefore`")] = None,
) -> DeadLetterPage:
    async with request.app.state.pool.acquire() as conn:
        letters = await operations.list_dead_letters(conn, limit=limit + 1, before_seq=before)
    page, more = letters[:limit], len(letters) > limit
    return DeadLetterPage(items=[DeadLetterItem(**d.to_json()) for d in page], nextBefore=page[-1].seq if more else None)


@router.get("/outbox/parked", summary="Outbox rows the relay can never publish as they are, oldest first, with the reason (never bodies)",
            responses=documented(401, 403, 422))
async def list_parked(
    request: Request,
    caller: Operator,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"at most this many (1..{MAX_LIMIT})")] = 100,
) -> ParkedPage:
    async with request.app.state.pool.acquire() as conn:
        rows, parked = await operations.list_parked(conn, limit=limit)
    return ParkedPage(items=[ParkedItem(**r.to_json()) for r in rows], parked=parked)
