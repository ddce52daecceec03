"""What a school must follow up by hand: guardians no channel reached, and every time a critical
message went out inside someone's quiet hours. Both name persons, so each read needs a reason and is in
the access log (access_audit.py); protected identities appear without their id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from services.notification import store
from services.notification.access_audit import REASON_HELP, Action, Reason, log
from shared.auth import Principal, Role, ensure_school_access, require
from shared.city.replica import district_of
from shared.problems import Problem, documented

router = APIRouter(tags=["worklists"])


@router.get("/school-units/{school_unit_id}/unreached", summary="Guardians of the school unit whom no channel reached, per message",
            responses=documented(401, 403, 422))
async def unreached(request: Request, school_unit_id: UUID,
                    caller: Annotated[Principal, Depends(require(Role.PRINCIPAL, Role.DISTRICT_ADMIN, Role.CITY_ADMIN))],
                    reason: Annotated[Reason, Query(description=REASON_HELP)],
                    days: Annotated[int, Query(ge=1, le=366, description="messages of the last this many days")] = 30) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        district = await district_of(conn, school_unit_id)
        ensure_school_access(caller, str(school_unit_id), str(district) if district else None)
        rows = await store.unreached(conn, school_unit_id, datetime.now(UTC) - timedelta(days=days))
        await log(conn, request, caller, Action.UNREACHED_READ, why_code=reason, subjects=[r["person"] for r in rows])
    guardians: dict[UUID, dict[str, Any]] = {}
    for r in rows:
        entry = guardians.setdefault(r["person"], {"personId": None if r["protected"] else str(r["person"]),
                                                   "protectedIdentity": r["protected"], "messages": []})
        channels = dict(r["channels"])
        entry["messages"].append({"messageId": str(r["message_id"]), "type": r["message_type"], "createdAt": r["created_at"].isoformat(),
                                  "channels": channels, "reason": "no-contact-details" if set(channels) == {"inapp"} else "all-channels-failed"})
    return {"schoolUnitId": str(school_unit_id), "days": days, "guardians": len(guardians), "items": list(guardians.values())}


@router.get("/quiet-hours-bypasses", summary="Every critical message sent inside a recipient's quiet hours (the bypass log)",
            responses=documented(401, 403, 422))
async def quiet_hours_bypasses(request: Request,
                               caller: Annotated[Principal, Depends(require(Role.PRINCIPAL, Role.DISTRICT_ADMIN, Role.CITY_ADMIN, Role.DATA_PROTECTION))],
                               reason: Annotated[Reason, Query(description=REASON_HELP)],
                               schoolUnitId: UUID | None = None,
                               days: Annotated[int, Query(ge=1, le=3660)] = 30,
                               limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        if schoolUnitId is None:
            if not caller.has_any(Role.CITY_ADMIN, Role.DATA_PROTECTION):
                raise Problem(403, "Forbidden", "name a schoolUnitId you act for; the whole city's log is for city admins and data protection")
        elif not caller.has_any(Role.DATA_PROTECTION):
            district = await district_of(conn, schoolUnitId)
            ensure_school_access(caller, str(schoolUnitId), str(district) if district else None)
        rows = await store.bypasses(conn, schoolUnitId, datetime.now(UTC) - timedelta(days=days), limit)
        await log(conn, request, caller, Action.BYPASSES_READ, why_code=reason, subjects=[r["person"] for r in rows])
    # a protected identity without its id, as in receipts and the unreached worklist
    return {"items": [{"at": r["at"].isoformat(), "messageId": str(r["message_id"]), "personId": None if r["protected"] else str(r["person"]),
                       "protectedIdentity": r["protected"], "channel": r["channel"],
                       "localTime": r["local_time"].isoformat(timespec="minutes"), "schoolUnitId": str(r["school_unit"]) if r["school_unit"] else None,
                       "messageType": r["message_type"]} for r in rows]}
