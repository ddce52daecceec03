"""The access log of personal data, for the data-protection officer (access_audit.py); the read is logged too."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from services.notification import access
from services.notification.access_audit import Action, Reason, log, row_json
from services.notification.store import audit as audit_store
from shared.auth import Principal, require
from shared.problems import documented, rejected

router = APIRouter(tags=["privacy"])


@router.get("/privacy/access-log", summary="Who read or wrote whose personal data, when and why (data protection; this read is logged too)",
            responses=documented(401, 403, 422))
async def access_log(
    request: Request,
    caller: Annotated[Principal, Depends(require(*access.ACCESS_LOG_READERS))],
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
