"""Event handlers of the notification service: recipients come from the city's events — school
units, staff duties, persons' protection markings and guardian relations (contact details never
arrive by event) — and other services' events become messages."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from collections.abc import Iterable
from typing import Any

from services.notification import messages, store
from shared.city.replica import DUTIES, ORGANISATIONS, PERSONS, persons_with_duty
from shared.events.assessment import CampaignOpened
from shared.events.catalog import AppRequestDecided, DpaExpired, LicenceExpiring
from shared.events.city import DutyRole
from shared.events.envelope import Envelope
from shared.events.reporting import ReportPublished


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


async def to_duty_holders(conn: asyncpg.Connection, env: Envelope, schools: Iterable[UUID], role: DutyRole, message_type: str,
                          data: dict[str, Any]) -> None:
    """One message per school, named for it, to whoever holds the duty there per the city's data."""
    for school in schools:
        recipients = await persons_with_duty(conn, school, role.value)
        if recipients:
            await messages.make(conn, dedupe_key=f"{env.id}:{school}", message_type=message_type, school_unit=school, recipients=recipients,
                                data={**data, "school": await store.school_name(conn, school) or ""})


async def on_campaign_opened(conn: asyncpg.Connection, env: Envelope) -> None:
    e: CampaignOpened = env.data  # type: ignore[assignment]
    await to_duty_holders(conn, env, e.schoolUnitIds, DutyRole.REKTOR, "campaign-opened",
                          {"campaignName": e.name, "deadline": e.deadline.isoformat()})


async def on_licence_expiring(conn: asyncpg.Connection, env: Envelope) -> None:
    e: LicenceExpiring = env.data  # type: ignore[assignment]
    await to_duty_holders(conn, env, [e.schoolUnitId], DutyRole.IT_SAMORDNARE, "licence-expiring",
                          {"appName": e.appName, "licenceType": e.licenceType, "expiresOn": e.expiresOn.isoformat(), "daysLeft": e.daysLeft})


async def on_dpa_expired(conn: asyncpg.Connection, env: Envelope) -> None:
    e: DpaExpired = env.data  # type: ignore[assignment]
    await to_duty_holders(conn, env, e.schoolUnitIds, DutyRole.IT_SAMORDNARE, "dpa-expired",
                          {"appName": e.appName, "expiredOn": e.expiredOn.isoformat(), "statusAfter": e.statusAfter})


async def on_report_published(conn: asyncpg.Connection, env: Envelope) -> None:
    e: ReportPublished = env.data  # type: ignore[assignment]
    await to_duty_holders(conn, env, e.schoolUnitIds, DutyRole.REKTOR, "report-published", {"year": e.year, "link": e.path})


REPLICAS = (ORGANISATIONS, DUTIES, PERSONS)
HANDLERS = {
    AppRequestDecided: on_app_request_decided,
    CampaignOpened: on_campaign_opened,
    LicenceExpiring: on_licence_expiring,
    DpaExpired: on_dpa_expired,
    ReportPublished: on_report_published,
}
