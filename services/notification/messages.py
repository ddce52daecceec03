"""Making a message for its recipients: once per cause, at most once per recipient and channel, by
each recipient's preferences and quiet hours. Set-based, so a broadcast to a whole city costs a few
statements, not a few per recipient."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from services.notification import domain
from services.notification.store import messages as store
from services.notification.store import planning as planning_store
from shared.clock import CITY_TZ


@dataclass(frozen=True)
class Planned:
    person: UUID
    channel: str
    mode: str
    state: str
    send_after: datetime
    quiet_bypassed: bool


def plan(facts: list[asyncpg.Record], message_type: str, critical: bool, now: datetime) -> list[Planned]:
    """Which channels each recipient gets the message on, and when (pure; ``facts`` from store.recipient_facts)."""
    planned = []
    for f in facts:
        choices = {(message_type, c): m for c, m in (pair.split("=", 1) for pair in f["choices"])}
        quiet = (f["quiet_start"], f["quiet_end"]) if f["quiet_start"] is not None else domain.DEFAULT_QUIET
        reachable = {"inapp"} | {c for c in ("email", "sms", "push") if f[c]}
        for channel in domain.CHANNELS:
            mode = domain.effective_mode(choices, message_type, channel, reachable)
            if mode == "off" or channel not in reachable:
                continue
            if channel == "inapp":  # the inbox is not a notification: it has the message at once, quiet hours or not
                planned.append(Planned(f["person"], channel, mode, "delivered", now, False))
                continue
            at, bypassed = domain.send_at(now, quiet, critical)
            planned.append(Planned(f["person"], channel, mode, "queued", at, bypassed))
    return planned


async def make(conn: asyncpg.Connection, *, dedupe_key: str, message_type: str, school_unit: UUID | None, recipients: list[UUID],
               data: dict[str, Any], now: datetime | None = None, broadcast_id: UUID | None = None,
               plan_now: int | None = None) -> UUID | None:
    """The message's id, or None when this cause already made one (a redelivered event). Its deliveries are planned
    here for the first ``plan_now`` recipients (all when None); the rest wait for the planner (usecases/planning.py),
    which plans them in chunks after the caller's transaction commits."""
    message_id = uuid4()
    critical = message_type in domain.CRITICAL
    if not await store.create_message(conn, id=message_id, dedupe_key=dedupe_key, message_type=message_type, school_unit=school_unit,
                                      critical=critical, data=data, broadcast_id=broadcast_id):
        return None
    now_ = recipients if plan_now is None else recipients[:max(plan_now, 0)]
    await plan_for(conn, message_id, now_, message_type, now or datetime.now(UTC))
    if len(now_) < len(recipients):
        await planning_store.defer(conn, message_id, recipients[len(now_):])
    return message_id


async def plan_for(conn: asyncpg.Connection, message_id: UUID, recipients: list[UUID], message_type: str, now: datetime) -> int:
    """The deliveries of a message to these recipients, by their preferences and quiet hours, and the log of every
    quiet-hours bypass; how many deliveries were planned."""
    if not recipients:
        return 0
    planned = plan(await store.recipient_facts(conn, recipients, message_type), message_type, message_type in domain.CRITICAL, now)
    await store.add_deliveries(conn, message_id, planned)
    bypasses = [p for p in planned if p.quiet_bypassed]
    if bypasses:
        await store.log_bypasses(conn, message_id, [(p.person, p.channel) for p in bypasses], now.astimezone(CITY_TZ).time())
    return len(planned)
