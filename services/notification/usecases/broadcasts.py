"""Broadcasts: a principal or district admin writes to chosen audiences — all guardians of school units, of a
school type or of given year groups, or staff with given duty roles. The audience's size is shown before
sending; sending makes one message per school unit (named for it), each recipient in exactly one of them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

import asyncpg
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from services.notification import access, domain, messages
from services.notification.access_audit import Action, log_at
from services.notification.store import broadcasts as store
from services.notification.store import planning as planning_store
from services.notification.views import person_json
from shared.auth import Principal, Role
from shared.city.people import person_refs
from shared.city.replica import protected_persons
from shared.events.city import DutyRole, SchoolType
from shared.http.models import PersonRef
from shared.http.pages import PageRequest
from shared.problems import Problem, rejected
from shared.uow import UnitOfWork


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


async def resolve(conn: asyncpg.Connection, caller: Principal, audience: Audience) -> tuple[dict[UUID, list[UUID]], list[UUID]]:
    """The recipients per school unit (each recipient at one of them) and the school units, after checking the sender
    acts for each."""
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
    access.ensure_sends_to(caller, schools)
    ids = [s["id"] for s in schools]
    rows = await store.audience_members(conn, audience.kind, ids, [t.value for t in audience.schoolTypes], list(audience.schoolYears),
                                        [r.value for r in audience.dutyRoles])
    return {r["school_unit"]: r["persons"] for r in rows}, ids


async def size(conn: asyncpg.Connection, members: dict[UUID, list[UUID]]) -> dict[str, Any]:
    per_school = {str(school): len(persons) for school, persons in members.items()}
    coverage = await store.channel_coverage(conn, [p for persons in members.values() for p in persons])
    return {"recipients": sum(map(len, members.values())), "perSchoolUnit": dict(sorted(per_school.items())),
            "withContact": {"email": coverage["email"], "sms": coverage["sms"], "push": coverage["push"], "none": coverage["none"]}}


async def preview_broadcast(uow: UnitOfWork, caller: Principal, audience: Audience) -> dict[str, Any]:
    """How many a broadcast to the audience reaches, and on which channels; nothing is sent."""
    members, _ = await resolve(uow.conn, caller, audience)
    return await size(uow.conn, members)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("the message is empty")
    return value.strip()


#: a broadcast's subject and body: never only spaces, stored without the spaces around them
Subject = Annotated[str, Field(min_length=1, max_length=150), AfterValidator(_not_blank)]
Body = Annotated[str, Field(min_length=1, max_length=5000), AfterValidator(_not_blank)]


class Text(BaseModel):
    """A broadcast's subject and body in one language."""

    model_config = ConfigDict(extra="forbid")

    subject: Subject
    body: Body


async def send_broadcast(uow: UnitOfWork, caller: Principal, audience: Audience, *, subject: str, body: str, critical: bool = False,
                         link: str | None = None, broadcast_id: UUID | None = None, now: datetime | None = None,
                         translations: Mapping[str, Text] | None = None, plan_now: int | None = None) -> tuple[dict[str, Any], bool]:
    """The broadcast's summary, and whether it is new: the same id again by the same sender sends nothing new.
    The deliveries of the first ``plan_now`` recipients (all when None) are planned in this transaction, the rest
    after it (usecases/planning.py); the summary's ``notYetPlanned`` counts those.
    ``subject`` and ``body`` are the Swedish; ``translations`` the same in other languages (``domain.TRANSLATION_LANGUAGES``):
    each recipient reads the version in their language, else the Swedish (templates.written_in)."""
    now = now or datetime.now(UTC)
    broadcast_id = broadcast_id or uuid4()
    message_type = "critical" if critical else "broadcast"
    versions = {lang: {"subject": t.subject, "body": t.body} for lang, t in sorted((translations or {}).items())}
    members, _ = await resolve(uow.conn, caller, audience)
    if not members:
        raise rejected(422, "the audience reaches no one: no guardians or staff match at these school units", "audience")
    if not await store.create_broadcast(uow.conn, id=broadcast_id, sender=caller.subject, audience=audience.model_dump(mode="json"),
                                        subject=subject, body=body, critical=critical, recipients=sum(map(len, members.values())),
                                        translations=versions):
        existing = await store.broadcast(uow.conn, broadcast_id)
        if existing is None or existing["sender"] != caller.subject:
            raise Problem(409, "Conflict", f"broadcast id {broadcast_id} is taken; leave id out or use a new one")
        return await summary(uow.conn, broadcast_id, caller, now=now), False
    data: dict[str, Any] = {"subject": subject, "body": body, "link": link or "", "broadcastId": str(broadcast_id),
                            "writtenIn": domain.FALLBACK_LANGUAGE}
    if versions:
        data["versions"] = versions
    # Up to ``plan_now`` recipients get their deliveries before the answer; the rest wait for the planner (planner.py),
    # which plans them in chunks once this commits — so a whole city's broadcast answers in a second, not in the time
    # its half a million delivery rows take to write, and the senders start on the first chunk.
    budget = sum(map(len, members.values())) if plan_now is None else plan_now
    for school, persons in members.items():
        await messages.make(uow.conn, dedupe_key=f"broadcast:{broadcast_id}:{school}", message_type=message_type, school_unit=school,
                            recipients=persons, data=data, now=now, broadcast_id=broadcast_id, plan_now=budget)
        budget = max(budget - len(persons), 0)
    return await summary(uow.conn, broadcast_id, caller, now=now), True


async def shown_sender(conn: asyncpg.Connection, sender: str, viewer: Principal | None) -> str | None:
    """The sender as the viewer may see them: a sender with a protected identity only to themselves."""
    if viewer is not None and viewer.subject == sender:
        return sender
    try:
        person = UUID(sender)
    except ValueError:
        return sender  # an account, not a person id
    return None if await protected_persons(conn, [person]) else sender


def status_of(progress: asyncpg.Record | None) -> tuple[str, datetime | None]:
    """(status, scheduledFor): ``sending`` while a notification is due or on its way; ``scheduled`` when what is left
    waits for recipients' quiet hours to end (scheduledFor: when the first of it goes); else ``sent`` (digest items wait
    for the recipients' daily digest, counted in ``inDigest``)."""
    if progress is None:
        return "sent", None
    if progress["due"]:
        return "sending", progress["next_at"]
    if progress["held"]:
        return "scheduled", progress["next_at"]
    return "sent", None


async def summaries(conn: asyncpg.Connection, rows: list[asyncpg.Record], viewer: Principal | None, now: datetime) -> list[dict[str, Any]]:
    """Each broadcast's summary (``BroadcastSummary``), a few statements for all of them."""
    ids = [b["id"] for b in rows]
    if not ids:
        return []
    reach = {r["broadcast_id"]: r for r in await store.broadcast_reach(conn, ids)}
    progress = {r["broadcast_id"]: r for r in await store.broadcast_progress(conn, ids, now)}
    unplanned = {r["broadcast_id"]: r["n"] for r in await planning_store.waiting_per_broadcast(conn, ids)}
    channels: dict[UUID, dict[str, dict[str, int]]] = {}
    for r in await store.broadcast_counts(conn, ids):
        channels.setdefault(r["broadcast_id"], {}).setdefault(r["channel"], {})[r["state"]] = r["n"]
    readers: dict[UUID, Counter[str]] = {}
    for r in await store.recipient_languages(conn, ids):
        readers.setdefault(r["broadcast_id"], Counter())[r["language"]] += r["n"]
    senders = list(dict.fromkeys(b["sender"] for b in rows))
    refs = await person_refs(conn, senders, viewer=viewer.subject if viewer else None)
    shown = {sender: await shown_sender(conn, sender, viewer) for sender in senders}
    out = []
    for b in rows:
        languages = [domain.FALLBACK_LANGUAGE, *sorted(b["translations"])]
        by_version: Counter[str] = Counter()
        for lang, n in readers.get(b["id"], Counter()).items():
            by_version[lang if lang in languages else domain.FALLBACK_LANGUAGE] += n
        per_channel = channels.get(b["id"], {})
        r = reach.get(b["id"])
        p = progress.get(b["id"])
        status, scheduled_for = status_of(p)
        if unplanned.get(b["id"]):
            status, scheduled_for = "sending", None  # recipients still being planned: more is on its way
        out.append({
            "id": str(b["id"]), "subject": b["subject"], "critical": b["critical"], "audience": b["audience"],
            "sender": shown[b["sender"]], "sentBy": person_json(refs, b["sender"]),
            "createdAt": b["created_at"].isoformat(), "status": status,
            "scheduledFor": scheduled_for.isoformat() if scheduled_for else None,
            "scheduledUntil": p["last_at"].isoformat() if status != "sent" and p and p["last_at"] else None,
            "languages": languages, "fallbackLanguage": domain.FALLBACK_LANGUAGE,
            "translations": {lang: {"subject": t["subject"]} for lang, t in sorted(b["translations"].items())},
            "recipientsByLanguage": {lang: by_version.get(lang, 0) for lang in languages},
            "recipients": b["recipients"], "reached": r["reached"] if r else 0, "read": r["read"] if r else 0,
            "unreached": r["unreached"] if r else 0, "unnotified": r["unnotified"] if r else 0,
            "reachedByChannel": {c: states.get("delivered", 0) for c, states in sorted(per_channel.items())},
            "inDigest": p["in_digest"] if p else 0, "deliveries": per_channel, "notYetPlanned": unplanned.get(b["id"], 0),
        })
    return out


async def summary(conn: asyncpg.Connection, broadcast_id: UUID, viewer: Principal | None = None, *, now: datetime | None = None) -> dict[str, Any]:
    b = await store.broadcast(conn, broadcast_id)
    assert b is not None
    [one] = await summaries(conn, [b], viewer, now or datetime.now(UTC))
    return one


async def list_broadcasts(uow: UnitOfWork, caller: Principal, *, page: PageRequest, now: datetime | None = None) -> dict[str, Any]:
    """A page of the caller's broadcasts, newest first, each with its status and reach: a city admin's list is every
    broadcast, a principal's or district admin's the ones they sent."""
    sender = None if caller.has_any(Role.CITY_ADMIN) else caller.subject
    rows = await store.sent_by(uow.conn, sender, page.fetch, page.offset)
    total = rows[0]["total"] if rows else (await store.count_sent_by(uow.conn, sender) if page.offset else 0)
    items = await summaries(uow.conn, rows[: page.limit], caller, now or datetime.now(UTC))
    return {**page.page(rows, total=total), "items": items}


async def _schools_of(conn: asyncpg.Connection, broadcast_id: UUID) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
    """The broadcast and the school units (with districts) it went to; 404 when there is no such broadcast."""
    b = await store.broadcast(conn, broadcast_id)
    if b is None:
        raise Problem(404, "Not found", f"no broadcast {broadcast_id}")
    return b, await store.broadcast_schools(conn, broadcast_id)


async def get_broadcast(uow: UnitOfWork, caller: Principal, broadcast_id: UUID, *, now: datetime | None = None) -> dict[str, Any]:
    """A broadcast's status, reach and read receipts as counts."""
    b, schools = await _schools_of(uow.conn, broadcast_id)
    access.ensure_sees_broadcast(caller, b, schools)
    return await summary(uow.conn, broadcast_id, caller, now=now)


async def broadcast_receipts(uow: UnitOfWork, caller: Principal, broadcast_id: UUID, school_unit: UUID, *, reason: str,
                             page: PageRequest, path: str) -> dict[str, Any]:
    """A page of the recipients at one school unit: read or not, each channel's state; the read is logged (the page's
    recipients)."""
    _, went_to = await _schools_of(uow.conn, broadcast_id)
    schools = {s["school_unit"]: s["district"] for s in went_to}
    if school_unit not in schools:
        raise Problem(404, "Not found", f"broadcast {broadcast_id} went to no one at school unit {school_unit}")
    access.ensure_sees_receipts(caller, school_unit, schools[school_unit])
    rows = await store.receipts(uow.conn, broadcast_id, school_unit, page.fetch, page.offset)
    shown = rows[: page.limit]
    await log_at(uow.conn, path, caller, Action.RECEIPTS_READ, why_code=reason, subjects=[r["person"] for r in shown])
    refs = await person_refs(uow.conn, [r["person"] for r in shown], viewer=caller.subject)
    total = rows[0]["total"] if rows else (0 if page.offset == 0 else None)
    return {**page.page(rows, total=total, item=lambda r: recipient_json(r, refs)), "broadcastId": str(broadcast_id),
            "schoolUnitId": str(school_unit)}


def recipient_json(row: asyncpg.Record, refs: dict[UUID, PersonRef]) -> dict[str, Any]:
    """A recipient as others see them: a ``PersonRef``, which for a protected identity carries neither id nor name."""
    return {"person": person_json(refs, row["person"]), "read": row["read_at"] is not None, "channels": dict(row["channels"])}
