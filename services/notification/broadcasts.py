"""Broadcasts: a principal or district admin writes to chosen audiences — all guardians of school
units, of a school type or of given year groups, or staff with given duty roles. The audience's size
is shown before sending; sending makes one message per school unit (named for it), each recipient
in exactly one of them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

import asyncpg
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.notification import messages, store
from services.notification.access_audit import REASON_HELP, Action, Reason, log
from shared.auth import Principal, Role, require
from shared.city.replica import protected_persons
from shared.events.city import DutyRole, SchoolType
from shared.problems import Problem, documented, rejected

router = APIRouter(tags=["broadcasts"])
SENDERS = (Role.PRINCIPAL, Role.DISTRICT_ADMIN, Role.CITY_ADMIN)


class Audience(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["guardians", "staff"] = Field(description="guardians of pupils, or staff with duties at the school units")
    schoolUnitIds: list[UUID] = Field(default_factory=list, max_length=5000,
                                      description="empty: every school unit the sender acts for")
    schoolTypes: list[SchoolType] = Field(default_factory=list, description="guardians only: the pupil's school type")
    schoolYears: list[Annotated[int, Field(ge=0, le=13)]] = Field(default_factory=list, description="guardians only: the pupil's year group")
    dutyRoles: list[DutyRole] = Field(default_factory=list, description="staff only: empty means all staff")

    @model_validator(mode="after")
    def _filters_fit_kind(self) -> Audience:
        if self.kind == "staff" and (self.schoolTypes or self.schoolYears):
            raise ValueError("schoolTypes and schoolYears choose guardians; for staff choose dutyRoles")
        if self.kind == "guardians" and self.dutyRoles:
            raise ValueError("dutyRoles choose staff; for guardians choose schoolTypes or schoolYears")
        return self


class BroadcastIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: UUID | None = Field(default=None, description="the client's id for this broadcast: sending it again changes nothing")
    audience: Audience
    subject: str = Field(min_length=1, max_length=150)
    body: str = Field(min_length=1, max_length=5000)
    critical: bool = Field(default=False, description="urgent (e.g. the school is closed today): cannot be turned off, goes out in quiet hours")
    link: str | None = Field(default=None, max_length=500, pattern=r"^(/|https://)", description="a deep link: a path of the web client or an https address")
    asOf: datetime | None = Field(default=None, description="send as if it were this time; only where the clock may be overridden (tests, demo)")

    @field_validator("subject", "body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the message is empty")
        return value.strip()


async def resolve(conn: asyncpg.Connection, caller: Principal, audience: Audience) -> tuple[list[asyncpg.Record], list[UUID]]:
    """The recipients (person, school unit) and the school units, after checking the sender acts for each."""
    if audience.schoolUnitIds:
        schools = await store.school_units(conn, audience.schoolUnitIds, None)
        unknown = set(audience.schoolUnitIds) - {s["id"] for s in schools}
        if unknown:
            raise rejected(422, f"unknown or closed school unit(s): {', '.join(sorted(map(str, unknown)))}", "audience.schoolUnitIds")
    elif caller.has_any(Role.CITY_ADMIN):
        schools = await store.school_units(conn, None, None)
    else:
        schools = await store.school_units(conn, [UUID(s) for s in caller.school_units],
                                           [UUID(d) for d in caller.districts] if caller.has_any(Role.DISTRICT_ADMIN) else [])
    for school in schools:
        if not caller.may_act_for_school(school["id"], school["district"]):
            raise Problem(403, "Forbidden", f"you do not act for school unit {school['id']}; a broadcast goes only to your own schools")
    ids = [s["id"] for s in schools]
    members = await store.audience_members(conn, audience.kind, ids, [t.value for t in audience.schoolTypes], list(audience.schoolYears),
                                           [r.value for r in audience.dutyRoles])
    return members, ids


async def size(conn: asyncpg.Connection, members: list[asyncpg.Record]) -> dict[str, Any]:
    per_school = Counter(str(m["school_unit"]) for m in members)
    coverage = await store.channel_coverage(conn, [m["person"] for m in members])
    return {"recipients": len(members), "perSchoolUnit": dict(sorted(per_school.items())),
            "withContact": {"email": coverage["email"], "sms": coverage["sms"], "push": coverage["push"], "none": coverage["none"]}}


@router.post("/broadcasts/audience", summary="How many a broadcast to this audience reaches, and on which channels (nothing is sent)",
             responses=documented(401, 403, 422))
async def preview(request: Request, audience: Audience, caller: Annotated[Principal, Depends(require(*SENDERS))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        members, _ = await resolve(conn, caller, audience)
        return await size(conn, members)


@router.post("/broadcasts", status_code=201, summary="Send a message to an audience", responses=documented(401, 403, 409, 422))
async def send(request: Request, response: Response, body: BroadcastIn, caller: Annotated[Principal, Depends(require(*SENDERS))]) -> dict[str, Any]:
    now = datetime.now(UTC)
    if body.asOf is not None:
        if not request.app.state.settings.allow_clock_override:
            raise rejected(422, "asOf is only accepted where SKOLIT_ALLOW_CLOCK_OVERRIDE is set (tests and the demo)", "asOf")
        now = body.asOf
    broadcast_id = body.id or uuid4()
    message_type = "critical" if body.critical else "broadcast"
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        members, _ = await resolve(conn, caller, body.audience)
        if not members:
            raise rejected(422, "the audience reaches no one: no guardians or staff match at these school units", "audience")
        audience = body.audience.model_dump(mode="json")
        if not await store.create_broadcast(conn, id=broadcast_id, sender=caller.subject, audience=audience, subject=body.subject,
                                            body=body.body, critical=body.critical, recipients=len(members)):
            existing = await store.broadcast(conn, broadcast_id)
            if existing is None or existing["sender"] != caller.subject:
                raise Problem(409, "Conflict", f"broadcast id {broadcast_id} is taken; leave id out or use a new one")
            response.status_code = 200  # the same broadcast again: nothing new is sent
            return await summary(conn, broadcast_id, caller)
        by_school: dict[UUID, list[UUID]] = {}
        for m in members:
            by_school.setdefault(m["school_unit"], []).append(m["person"])
        data = {"subject": body.subject, "body": body.body, "link": body.link or "", "broadcastId": str(broadcast_id)}
        for school, persons in by_school.items():
            await messages.make(conn, dedupe_key=f"broadcast:{broadcast_id}:{school}", message_type=message_type, school_unit=school,
                                recipients=persons, data=data, now=now, broadcast_id=broadcast_id)
        return await summary(conn, broadcast_id, caller)


async def shown_sender(conn: asyncpg.Connection, sender: str, viewer: Principal | None) -> str | None:
    """The sender as the viewer may see them: a sender with a protected identity only to themselves."""
    if viewer is not None and viewer.subject == sender:
        return sender
    try:
        person = UUID(sender)
    except ValueError:
        return sender  # an account, not a person id
    return None if await protected_persons(conn, [person]) else sender


async def summary(conn: asyncpg.Connection, broadcast_id: UUID, viewer: Principal | None = None) -> dict[str, Any]:
    b = await store.broadcast(conn, broadcast_id)
    assert b is not None
    reach = await store.broadcast_reach(conn, broadcast_id)
    channels: dict[str, dict[str, int]] = {}
    read = 0
    for r in await store.broadcast_counts(conn, broadcast_id):
        channels.setdefault(r["channel"], {})[r["state"]] = r["n"]
        read += r["read"]
    return {"id": str(b["id"]), "subject": b["subject"], "critical": b["critical"], "audience": b["audience"],
            "sender": await shown_sender(conn, b["sender"], viewer),
            "createdAt": b["created_at"].isoformat(), "recipients": b["recipients"], "reached": reach["reached"], "read": read,
            "unreached": reach["unreached"], "deliveries": channels}


async def _schools_of(conn: asyncpg.Connection, broadcast_id: UUID) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
    """The broadcast and the school units (with districts) it went to; 404 when there is no such broadcast."""
    b = await store.broadcast(conn, broadcast_id)
    if b is None:
        raise Problem(404, "Not found", f"no broadcast {broadcast_id}")
    return b, await store.broadcast_schools(conn, broadcast_id)


@router.get("/broadcasts/{broadcast_id}", summary="A broadcast's reach and read receipts as counts (sender, or who acts for all its schools)",
            responses=documented(401, 403, 404))
async def get_broadcast(request: Request, broadcast_id: UUID, caller: Annotated[Principal, Depends(require(*SENDERS))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        b, schools = await _schools_of(conn, broadcast_id)
        if b["sender"] != caller.subject and not all(caller.may_act_for_school(s["school_unit"], s["district"]) for s in schools):
            raise Problem(403, "Forbidden", "only the sender, or someone who acts for every school of the broadcast, sees its receipts")
        return await summary(conn, broadcast_id, caller)


@router.get("/broadcasts/{broadcast_id}/receipts", summary="Per guardian at one school unit: read or not, and each channel's state (logged)",
            responses=documented(401, 403, 404, 422))
async def receipts(request: Request, broadcast_id: UUID, caller: Annotated[Principal, Depends(require(*SENDERS))],
                   schoolUnitId: Annotated[UUID, Query(description="the school unit whose recipients to list")],
                   reason: Annotated[Reason, Query(description=REASON_HELP)]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        _, went_to = await _schools_of(conn, broadcast_id)
        schools = {s["school_unit"]: s["district"] for s in went_to}
        if schoolUnitId not in schools:
            raise Problem(404, "Not found", f"broadcast {broadcast_id} went to no one at school unit {schoolUnitId}")
        if not caller.may_act_for_school(schoolUnitId, schools[schoolUnitId]):
            raise Problem(403, "Forbidden", "per-recipient receipts are for the school's principal (the sender sees counts)")
        rows = await store.receipts(conn, broadcast_id, schoolUnitId)
        await log(conn, request, caller, Action.RECEIPTS_READ, why_code=reason, subjects=[r["person"] for r in rows])
    return {"broadcastId": str(broadcast_id), "schoolUnitId": str(schoolUnitId), "items": [recipient_json(r) for r in rows]}


def recipient_json(row: asyncpg.Record) -> dict[str, Any]:
    """A recipient as others see them: by id, and not even that for a protected identity."""
    return {"personId": None if row["protected"] else str(row["person"]), "protectedIdentity": row["protected"],
            "read": row["read_at"] is not None, "channels": dict(row["channels"])}
