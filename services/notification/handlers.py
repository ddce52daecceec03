"""Event handlers of the notification service: recipients come from the city's events — school
units, staff duties, persons' protection markings and guardian relations (contact details never
arrive by event) — and other services' events become messages."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from collections.abc import Iterable
from typing import Any

from services.notification import access_requests, messages, privacy, store
from shared.city.replica import DUTIES, ORGANISATIONS, PERSONS, district_of, on_guardian_relation_ended, on_person_removed, persons_with_duty
from shared.consumer import Handler
from shared.events.assessment import AssessmentReopened, AssessmentSubmitted, CampaignClosed, CampaignOpened
from shared.events.base import Event
from shared.events.catalog import AppRequestDecided, DpaExpired, LicenceExpiring
from shared.events.city import DutyRole, GuardianRelationEnded, PersonRemoved
from shared.events.envelope import Envelope, Rejected
from shared.events.reporting import ReportPublished
from shared.privacy import vault


async def on_app_request_decided(conn: asyncpg.Connection, env: Envelope[AppRequestDecided]) -> None:
    """The requester hears the decision, with the conditions or the reason."""
    e = env.data
    try:
        requester = await vault.open_ref(conn, e.requester)
    except vault.KeyDestroyed:
        return  # the requester was erased (docs/decisions/0009): there is no one to tell
    except vault.NotSealed as exc:
        raise Rejected(f"requester of request {e.requestId}: {exc}") from None
    approved = e.decision == "approved"
    await messages.make(conn, dedupe_key=env.id, message_type="request-decided", school_unit=e.schoolUnitId, recipients=[requester], data={
        "appName": e.appName, "school": await store.school_name(conn, e.schoolUnitId) or "",
        "decisionSv": "godkänd" if approved else "avslagen", "decisionEn": "approved" if approved else "rejected",
        "detailsSv": (f"Villkor: {e.conditions}" if e.conditions else "") if approved else f"Skäl: {e.reason or ''}",
        "detailsEn": (f"Conditions: {e.conditions}" if e.conditions else "") if approved else f"Reason: {e.reason or ''}",
        "link": f"/requests/{e.requestId}",
    })


async def to_duty_holders(conn: asyncpg.Connection, env: Envelope[Event], schools: Iterable[UUID], role: DutyRole, message_type: str,
                          data: dict[str, Any]) -> None:
    """One message per school, named for it, to whoever holds the duty there per the city's data."""
    for school in schools:
        recipients = await persons_with_duty(conn, school, role.value)
        if recipients:
            await messages.make(conn, dedupe_key=f"{env.id}:{school}", message_type=message_type, school_unit=school, recipients=recipients,
                                data={**data, "school": await store.school_name(conn, school) or ""})


async def on_campaign_opened(conn: asyncpg.Connection, env: Envelope[CampaignOpened]) -> None:
    """Each school's Rektor hears; the round is kept for the deadline reminders."""
    e = env.data
    await store.record_campaign(conn, e.id, e.name, e.deadline, list(e.schoolUnitIds))
    await to_duty_holders(conn, env, e.schoolUnitIds, DutyRole.REKTOR, "campaign-opened",
                          {"campaignName": e.name, "deadline": e.deadline.isoformat(), "link": f"/campaigns/{e.id}"})


async def on_campaign_closed(conn: asyncpg.Connection, env: Envelope[CampaignClosed]) -> None:
    e = env.data
    await store.close_campaign(conn, e.id)


async def to_district_admins(conn: asyncpg.Connection, env: Envelope[Event], school: UUID, district: UUID | None, message_type: str,
                             data: dict[str, Any]) -> None:
    """The district's administrators: whoever holds "Övrig arbetsledning" at the district itself."""
    district = district or await district_of(conn, school)
    if district is None:
        return
    recipients = await persons_with_duty(conn, district, DutyRole.OVRIG_ARBETSLEDNING.value)
    if recipients:
        await messages.make(conn, dedupe_key=env.id, message_type=message_type, school_unit=school, recipients=recipients,
                            data={**data, "school": await store.school_name(conn, school) or "", "link": f"/school-units/{school}"})


async def on_assessment_submitted(conn: asyncpg.Connection, env: Envelope[AssessmentSubmitted]) -> None:
    """Reminders stop for the school; the district's administrators hear."""
    e = env.data
    await store.mark_submitted(conn, e.campaignId, e.schoolUnitId, True)
    note = {"submissionNote": "första inlämningen" if e.submission == 1 else f"inlämning {e.submission}"}
    await to_district_admins(conn, env, e.schoolUnitId, e.districtId, "assessment-submitted", {"year": e.year, **note})


async def on_assessment_reopened(conn: asyncpg.Connection, env: Envelope[AssessmentReopened]) -> None:
    """Reminders start again towards the new deadline; the district's administrators hear."""
    e = env.data
    await store.mark_submitted(conn, e.campaignId, e.schoolUnitId, False, e.deadline)
    await to_district_admins(conn, env, e.schoolUnitId, None, "assessment-reopened", {"deadline": e.deadline.isoformat()})


async def on_relation_ended(conn: asyncpg.Connection, env: Envelope[GuardianRelationEnded]) -> None:
    """The relation ends in the replica, and what has not yet gone out to the guardian about that
    school stops at once, unless another pupil still ties them to it."""
    await on_guardian_relation_ended(conn, env)
    e = env.data
    if not await store.still_related(conn, e.guardian, e.schoolUnit):
        await store.cancel_pending(conn, e.guardian, e.schoolUnit)


async def on_removed(conn: asyncpg.Connection, env: Envelope[PersonRemoved]) -> None:
    await on_person_removed(conn, env)
    e = env.data
    await store.cancel_pending(conn, e.id, None)


async def on_licence_expiring(conn: asyncpg.Connection, env: Envelope[LicenceExpiring]) -> None:
    e = env.data
    await to_duty_holders(conn, env, [e.schoolUnitId], DutyRole.IT_SAMORDNARE, "licence-expiring",
                          {"appName": e.appName, "licenceType": e.licenceType, "expiresOn": e.expiresOn.isoformat(), "daysLeft": e.daysLeft,
                           "link": f"/apps/{e.appId}/licences"})


async def on_dpa_expired(conn: asyncpg.Connection, env: Envelope[DpaExpired]) -> None:
    e = env.data
    await to_duty_holders(conn, env, e.schoolUnitIds, DutyRole.IT_SAMORDNARE, "dpa-expired",
                          {"appName": e.appName, "expiredOn": e.expiredOn.isoformat(), "statusAfter": e.statusAfter, "link": f"/apps/{e.appId}"})


async def on_report_published(conn: asyncpg.Connection, env: Envelope[ReportPublished]) -> None:
    e = env.data
    await to_duty_holders(conn, env, e.schoolUnitIds, DutyRole.REKTOR, "report-published", {"year": e.year, "link": e.path})


REPLICAS = (ORGANISATIONS, DUTIES, PERSONS)
HANDLERS: dict[type[Event], Handler] = {
    AppRequestDecided: on_app_request_decided,
    CampaignOpened: on_campaign_opened,
    CampaignClosed: on_campaign_closed,
    AssessmentSubmitted: on_assessment_submitted,
    AssessmentReopened: on_assessment_reopened,
    GuardianRelationEnded: on_relation_ended,
    PersonRemoved: on_removed,
    LicenceExpiring: on_licence_expiring,
    DpaExpired: on_dpa_expired,
    ReportPublished: on_report_published,
    **access_requests.HANDLERS,
    **privacy.HANDLERS,
}
