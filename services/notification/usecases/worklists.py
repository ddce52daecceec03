"""What a school follows up by hand: guardians no channel reached, and the quiet-hours bypass log. Both name
persons: each read is in the access log with its reason; protected identities appear without their id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from services.notification import access
from services.notification.access_audit import Action, log_at
from services.notification.store import broadcasts as broadcast_store
from services.notification.store import worklists as store
from shared.auth import Principal
from shared.uow import UnitOfWork


async def school_audience(uow: UnitOfWork, caller: Principal, school_unit: UUID) -> dict[str, Any]:
    """How many guardians, pupils and staff a message to the school unit reaches (no one is named)."""
    await access.ensure_acts_for_school(uow.conn, caller, school_unit)
    counts = await broadcast_store.audience(uow.conn, school_unit)
    return {"schoolUnitId": str(school_unit), **counts}


async def list_unreached(uow: UnitOfWork, caller: Principal, school_unit: UUID, *, reason: str, days: int, path: str) -> dict[str, Any]:
    await access.ensure_acts_for_school(uow.conn, caller, school_unit)
    rows = await store.unreached(uow.conn, school_unit, datetime.now(UTC) - timedelta(days=days))
    await log_at(uow.conn, path, caller, Action.UNREACHED_READ, why_code=reason, subjects=[r["person"] for r in rows])
    guardians: dict[UUID, dict[str, Any]] = {}
    for r in rows:
        entry = guardians.setdefault(r["person"], {"personId": None if r["protected"] else str(r["person"]),
                                                   "protectedIdentity": r["protected"], "messages": []})
        channels = dict(r["channels"])
        entry["messages"].append({"messageId": str(r["message_id"]), "type": r["message_type"], "createdAt": r["created_at"].isoformat(),
                                  "channels": channels, "reason": "no-contact-details" if set(channels) == {"inapp"} else "all-channels-failed"})
    return {"schoolUnitId": str(school_unit), "days": days, "guardians": len(guardians), "items": list(guardians.values())}


async def list_quiet_hours_bypasses(uow: UnitOfWork, caller: Principal, school_unit: UUID | None, *, reason: str, days: int, limit: int,
                                    path: str) -> dict[str, Any]:
    await access.ensure_reads_bypasses(uow.conn, caller, school_unit)
    rows = await store.bypasses(uow.conn, school_unit, datetime.now(UTC) - timedelta(days=days), limit)
    await log_at(uow.conn, path, caller, Action.BYPASSES_READ, why_code=reason, subjects=[r["person"] for r in rows])
    # a protected identity without its id, as in receipts and the unreached worklist
    return {"items": [{"at": r["at"].isoformat(), "messageId": str(r["message_id"]), "personId": None if r["protected"] else str(r["person"]),
                       "protectedIdentity": r["protected"], "channel": r["channel"],
                       "localTime": r["local_time"].isoformat(timespec="minutes"), "schoolUnitId": str(r["school_unit"]) if r["school_unit"] else None,
                       "messageType": r["message_type"]} for r in rows]}
