"""Making a message for its recipients: once per cause, at most once per recipient and channel, by
the recipient's preferences and quiet hours. Sending over e-mail, SMS and push comes with the channel
workers; the in-app inbox has it at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from services.notification import domain, store


async def make(conn: asyncpg.Connection, *, dedupe_key: str, message_type: str, school_unit: UUID | None, recipients: list[UUID],
               data: dict[str, Any], now: datetime | None = None) -> UUID | None:
    """The message's id, or None when this cause already made one (a redelivered event)."""
    message_id = uuid4()
    critical = message_type in domain.CRITICAL
    if not await store.create_message(conn, id=message_id, dedupe_key=dedupe_key, message_type=message_type, school_unit=school_unit,
                                      critical=critical, data=data):
        return None
    now = now or datetime.now(UTC)
    for person in recipients:
        setting, rows = await store.preferences(conn, person)
        choices = {(r["message_type"], r["channel"]): r["mode"] for r in rows}
        quiet = (setting["quiet_start"], setting["quiet_end"]) if setting else domain.DEFAULT_QUIET
        reachable = await store.reachable_channels(conn, person)
        for channel in domain.CHANNELS:
            mode = domain.effective_mode(choices, message_type, channel)
            if mode == "off" or channel not in reachable:
                continue
            if channel == "inapp":  # the inbox is not a notification: it has the message at once, quiet hours or not
                at, bypassed, state = now, False, "delivered"
            else:
                at, bypassed = domain.send_at(now, quiet, critical)
                state = "queued"
            await store.add_delivery(conn, message_id=message_id, person=person, channel=channel, mode=mode, state=state,
                                     send_after=at, quiet_bypassed=bypassed)
    return message_id
