"""What a school follows up by hand: guardians no channel reached, and the quiet-hours bypass log. Both name
persons (``PersonRef``): each read is in the access log with its reason; protected identities appear as neither id nor name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from services.notification import access
from services.notification.access_audit import Action, log_at
from services.notification.store import broadcasts as broadcast_store
from services.notification.store import worklists as store
from services.notification.views import person_json
from shared.auth import Principal
from shared.city.people import person_refs
from shared.http.pages import PageRequest
from shared.uow import UnitOfWork


async def school_audience(uow: UnitOfWork, caller: Principal, school_unit: UUID) -> dict[str, Any]:
    """How many guardians, pupils and staff a message to the school unit reaches (no one is named)."""
    await access.ensure_acts_for_school(uow.conn, caller, school_unit)
    counts = await broadcast_store.audience(uow.conn, school_unit)
    return {"schoolUnitId": str(school_unit), **counts}


async def list_unreached(uow: UnitOfWork, caller: Principal, school_unit: UUID, *, reason: str, days: int, page: PageRequest,
                         path: str, broadcast: UUID | None = None) -> dict[str, Any]:
    """A page of the guardians no channel reached, each with the messages that did not reach them; ``guardians`` (and
    ``total``) count them all. The read is logged with the page's guardians."""
    await access.ensure_acts_for_school(uow.conn, caller, school_unit)
    rows = await store.unreached(uow.conn, school_unit, datetime.now(UTC) - timedelta(days=days), broadcast)
    messages: dict[UUID, list[dict[str, Any]]] = {}
    for r in rows:
        channels = dict(r["channels"])
        messages.setdefault(r["person"], []).append({
            "messageId": str(r["message_id"]), "broadcastId": str(r["broadcast_id"]) if r["broadcast_id"] else None, "type": r["message_type"], "createdAt": r["created_at"].isoformat(), "channels": channels,
            "reason": "no-contact-details" if set(channels) == {"inapp"} else "all-channels-failed"})
    guardians = list(messages)
    shown = guardians[page.offset: page.offset + page.limit]
    await log_at(uow.conn, path, caller, Action.UNREACHED_READ, why_code=reason, subjects=shown)
    refs = await person_refs(uow.conn, shown, viewer=caller.subject)
    answer = page.slice(guardians, item=lambda g: {"person": person_json(refs, g), "messages": messages[g]})
    return {**answer, "schoolUnitId": str(school_unit), "days": days, "guardians": len(guardians)}


async def list_quiet_hours_bypasses(uow: UnitOfWork, caller: Principal, school_unit: UUID | None, *, reason: str, days: int,
                                    page: PageRequest, path: str) -> dict[str, Any]:
    """A page of the bypass log, newest first, each recipient a ``PersonRef``; the read is logged with the page's recipients."""
    await access.ensure_reads_bypasses(uow.conn, caller, school_unit)
    rows = await store.bypasses(uow.conn, school_unit, datetime.now(UTC) - timedelta(days=days), page.fetch, page.offset)
    shown = rows[: page.limit]
    await log_at(uow.conn, path, caller, Action.BYPASSES_READ, why_code=reason, subjects=[r["person"] for r in shown])
    refs = await person_refs(uow.conn, [r["person"] for r in shown], viewer=caller.subject)
    total = rows[0]["total"] if rows else (0 if page.offset == 0 else None)
    # a protected identity as neither id nor name, as in receipts and the unreached worklist
    return page.page(rows, total=total, item=lambda r: {
        "at": r["at"].isoformat(), "messageId": str(r["message_id"]), "person": person_json(refs, r["person"]), "channel": r["channel"],
        "localTime": r["local_time"].isoformat(timespec="minutes"), "schoolUnitId": str(r["school_unit"]) if r["school_unit"] else None,
        "messageType": r["message_type"]})
