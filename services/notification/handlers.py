"""Event handlers of the notification service: recipients come from the city's events — school
units, staff duties, persons' protection markings and guardian relations (contact details never
arrive by event) — and other services' events become messages."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from services.notification import messages, store
from shared.city.replica import DUTIES, ORGANISATIONS, PERSONS
from shared.events.catalog import AppRequestDecided
from shared.events.envelope import Envelope


async def on_app_request_decided(conn: asyncpg.Connection, env: Envelope) -> None:
    """The requester hears the decision, with the conditions or the reason."""
    e: AppRequestDecided = env.data  # type: ignore[assignment]
    try:
        requester = UUID(e.requester)
    except ValueError:
        raise ValueError(f"requester {e.requester!r} is not a person id") from None
    approved = e.decision == "approved"
    await messages.make(conn, dedupe_key=env.id, message_type="request-decided", school_unit=e.schoolUnitId, recipients=[requester], data={
        "appName": e.appName, "school": await store.school_name(conn, e.schoolUnitId) or "",
        "decisionSv": "godkänd" if approved else "avslagen", "decisionEn": "approved" if approved else "rejected",
        "detailsSv": (f"Villkor: {e.conditions}" if e.conditions else "") if approved else f"Skäl: {e.reason or ''}",
        "detailsEn": (f"Conditions: {e.conditions}" if e.conditions else "") if approved else f"Reason: {e.reason or ''}",
        "link": f"/requests/{e.requestId}",
    })


REPLICAS = (ORGANISATIONS, DUTIES, PERSONS)
HANDLERS = {AppRequestDecided: on_app_request_decided}
