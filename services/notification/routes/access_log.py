"""The access log of personal data, for the data-protection officer (access_audit.py); the read is logged too."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from services.notification import access
from services.notification.access_audit import Action, Reason, log, row_json
from services.notification.schemas import AccessLog
from services.notification.store import audit as audit_store
from services.notification.views import person_json
from shared.auth import Principal, require
from shared.city.people import person_refs
from shared.http.pages import KeysetRequest, keyset_request
from shared.problems import documented, rejected

router = APIRouter(tags=["privacy"])


@router.get("/privacy/access-log", summary="Who read or wrote whose personal data, when and why (data protection; this read is logged too)",
            description="Newest first, a page at a time (`?limit=`, `?cursor=`); `total` is not counted. Each actor is shown as the "
                        "account (`actor`, what `?actor=` filters on) and, when the account is a person, as a person reference.",
            response_model=AccessLog, responses=documented(401, 403, 422))
async def access_log(
    request: Request,
    caller: Annotated[Principal, Depends(require(*access.ACCESS_LOG_READERS))],
    page: Annotated[KeysetRequest, Depends(keyset_request)],
    person: Annotated[UUID | None, Query(description="only accesses to this person's data (alone or in a list)")] = None,
    actor: Annotated[str | None, Query(max_length=200, description="only accesses by this account (token subject)")] = None,
    since: Annotated[datetime | None, Query(alias="from", description="from this time (inclusive)")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="until this time (exclusive)")] = None,
    action: Annotated[Action | None, Query(description="only this kind of access")] = None,
    reason: Annotated[Reason, Query(description="why the log is read")] = "dpo-review",
) -> dict[str, Any]:
    for name, value in (("from", since), ("to", until)):
        if value is not None and value.tzinfo is None:
            raise rejected(422, "a time with its UTC offset, e.g. 2026-11-01T00:00:00+01:00", name)
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        rows = await audit_store.search(conn, person=person, actor=actor, since=since, until=until,
                                        action=action.value if action else None, limit=page.fetch, before=page.before)
        shown = rows[: page.limit]
        seen = [r["subject"] for r in shown if r["subject"] is not None]
        await log(conn, request, caller, Action.LOG_READ, why_code=reason, subject=person, subjects=seen)
        refs = await person_refs(conn, [r["actor"] for r in shown] + seen + [s for r in shown for s in (r["subjects"] or [])],
                                 viewer=caller.subject)
    return page.page(rows, lambda r: r["id"], item=lambda r: {
        **row_json(r), "actorPerson": person_json(refs, r["actor"]), "subjectPerson": person_json(refs, r["subject"]),
        "subjectPeople": [p for p in (person_json(refs, s) for s in (r["subjects"] or [])) if p is not None]})
