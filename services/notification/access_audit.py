"""The access log of personal data: every read of a person's contact details or messages through the
API — their inbox, a broadcast's receipts per recipient, the unreached worklist, the quiet-hours bypass
log — and every write of contact details leaves one row in ``personal_data_access`` (who, with which
roles, what, about whom, when, why, by which path), in the same transaction as the read. The table is
append-only in the database (migrations/0006_access_audit.sql); only the retention job removes rows, after
five years (services/notification/retention.py).

Why: someone reading another person's data names a reason (the ``reason`` query parameter, one of
``REASONS``; a read without one is a 422). A person reading their own data needs none: the row says
``own-data``. The city's systems writing contact details: ``city-sync``.

The data-protection officer (role ``data_protection``) reads the log at ``GET /privacy/access-log``;
that read is logged too.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request

from services.notification import audit_store
from shared.auth import Principal, Role, require
from shared.problems import documented, rejected

router = APIRouter(tags=["privacy"])

#: why someone reads another person's data
Reason = Literal["support", "correction", "access-request", "delivery-problem", "guardian-request", "dpo-review"]
REASONS: tuple[str, ...] = Reason.__args__  # type: ignore[attr-defined]
REASON_HELP = ("why you read another person's data, logged with the read: support, correction, access-request (answering a "
               "person's request for their data), delivery-problem, guardian-request, dpo-review")
OWN_DATA = "own-data"
CITY_SYNC = "city-sync"


class Action(StrEnum):
    CONTACT_READ = "contact.read"
    CONTACT_WRITE = "contact.write"
    MESSAGES_READ = "messages.read"
    RECEIPTS_READ = "receipts.read"
    UNREACHED_READ = "unreached.read"
    BYPASSES_READ = "quiet-hours-bypasses.read"
    LOG_READ = "access-log.read"


def own(caller: Principal, person: UUID) -> bool:
    return caller.subject.strip().lower() == str(person)


def why(caller: Principal, person: UUID | None, reason: str | None) -> str:
    """The why-code of a read: ``own-data`` for one's own, else the reason given — required (422 without)."""
    if person is not None and own(caller, person):
        return OWN_DATA
    if reason is None:
        raise rejected(422, "reading another person's data needs a reason: " + ", ".join(REASONS), "reason")
    return reason


async def log(conn: asyncpg.Connection, request: Request, caller: Principal, action: Action, *, why_code: str,
              subject: UUID | None = None, subjects: list[UUID] | tuple[UUID, ...] = ()) -> None:
    """One row: a read (or write) about ``subject``, or a list that carried ``subjects``."""
    everyone = list(dict.fromkeys([*([subject] if subject is not None else []), *subjects]))
    await audit_store.record(conn, actor=caller.subject, roles=sorted(str(r) for r in caller.roles), action=action.value,
                             subject=subject, subjects=everyone, why=why_code, path=request.url.path)


async def log_each(conn: asyncpg.Connection, request: Request, caller: Principal, action: Action, *, why_code: str,
                   subjects: list[UUID]) -> None:
    """One row per person, e.g. a bulk write of contact details."""
    await audit_store.record_each(conn, actor=caller.subject, roles=sorted(str(r) for r in caller.roles), action=action.value,
                                  subjects=subjects, why=why_code, path=request.url.path)


def row_json(r: asyncpg.Record) -> dict[str, Any]:
    return {"id": r["id"], "at": r["at"].isoformat(), "actor": r["actor"], "actorRoles": list(r["actor_roles"]), "action": r["action"],
            "subject": str(r["subject"]) if r["subject"] else None, "subjects": [str(s) for s in r["subjects"]], "why": r["why_code"],
            "path": r["path"]}


@router.get("/privacy/access-log", summary="Who read or wrote whose personal data, when and why (data protection; this read is logged too)",
            responses=documented(401, 403, 422))
async def access_log(
    request: Request,
    caller: Annotated[Principal, Depends(require(Role.DATA_PROTECTION))],
    person: Annotated[UUID | None, Query(description="only accesses to this person's data (alone or in a list)")] = None,
    actor: Annotated[str | None, Query(max_length=200, description="only accesses by this account (token subject)")] = None,
    since: Annotated[datetime | None, Query(alias="from", description="from this time (inclusive)")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="until this time (exclusive)")] = None,
    action: Annotated[Action | None, Query(description="only this kind of access")] = None,
    reason: Annotated[Reason, Query(description="why the log is read")] = "dpo-review",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    for name, value in (("from", since), ("to", until)):
        if value is not None and value.tzinfo is None:
            raise rejected(422, "a time with its UTC offset, e.g. 2026-11-01T00:00:00+01:00", name)
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        rows = await audit_store.search(conn, person=person, actor=actor, since=since, until=until,
                                        action=action.value if action else None, limit=limit, offset=offset)
        seen = [r["subject"] for r in rows if r["subject"] is not None]
        await log(conn, request, caller, Action.LOG_READ, why_code=reason, subject=person, subjects=seen)
    return {"items": [row_json(r) for r in rows], "limit": limit, "offset": offset,
            "next": offset + limit if len(rows) == limit else None}
