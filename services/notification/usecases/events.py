"""What other services' and the city's events make happen in notification: messages to whoever the event
concerns (once per event: ``event_id`` is the message's dedupe key), the assessment rounds kept for the deadline
reminders, and what has not yet gone out to someone no longer related to a school cancelled."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from services.notification import messages
from services.notification.store import campaigns as campaign_store
from services.notification.store import messages as message_store
from services.notification.store import planning as planning_store
from shared.city.replica import district_of, persons_with_duty
from shared.events.assessment import AssessmentReopened, AssessmentSubmitted, CampaignClosed, CampaignOpened
from shared.events.catalog import AppRequestDecided, DpaExpired, LicenceExpiring
from shared.events.city import DutyRole, GuardianRelationEnded, PersonRemoved
from shared.events.envelope import Rejected
from shared.events.reporting import ReportPublished
from shared.privacy import vault
from shared.uow import UnitOfWork


async def apply_app_request_decided(uow: UnitOfWork, e: AppRequestDecided, event_id: str) -> None:
    """The requester hears the decision, with the conditions or the reason."""
    try:
        requester = await vault.open_ref(uow.conn, e.requester)
    except vault.KeyDestroyed:
        return  # the requester was erased (docs/decisions/0009): there is no one to tell
    except vault.NotSealed as exc:
        raise Rejected(f"requester of request {e.requestId}: {exc}") from None
    approved = e.decision == "approved"
    await messages.make(uow.conn, dedupe_key=event_id, message_type="request-decided", school_unit=e.schoolUnitId, recipients=[requester], data={
        "appName": e.appName, "school": await message_store.school_name(uow.conn, e.schoolUnitId) or "",
        "decisionSv": "godkänd" if approved else "avslagen", "decisionEn": "approved" if approved else "rejected",
        "detailsSv": (f"Villkor: {e.conditions}" if e.conditions else "") if approved else f"Skäl: {e.reason or ''}",
        "detailsEn": (f"Conditions: {e.conditions}" if e.conditions else "") if approved else f"Reason: {e.reason or ''}",
        "link": f"/requests/{e.requestId}",
    })


async def to_duty_holders(uow: UnitOfWork, event_id: str, schools: Iterable[UUID], role: DutyRole, message_type: str,
                          data: dict[str, Any]) -> None:
    """One message per school, named for it, to whoever holds the duty there per the city's data."""
    for school in schools:
        recipients = await persons_with_duty(uow.conn, school, role.value)
        if recipients:
            await messages.make(uow.conn, dedupe_key=f"{event_id}:{school}", message_type=message_type, school_unit=school,
                                recipients=recipients, data={**data, "school": await message_store.school_name(uow.conn, school) or ""})


async def to_district_admins(uow: UnitOfWork, event_id: str, school: UUID, district: UUID | None, message_type: str,
                             data: dict[str, Any]) -> None:
    """The district's administrators: whoever holds "Övrig arbetsledning" at the district itself."""
    district = district or await district_of(uow.conn, school)
    if district is None:
        return
    recipients = await persons_with_duty(uow.conn, district, DutyRole.OVRIG_ARBETSLEDNING.value)
    if recipients:
        await messages.make(uow.conn, dedupe_key=event_id, message_type=message_type, school_unit=school, recipients=recipients,
                            data={**data, "school": await message_store.school_name(uow.conn, school) or "", "link": f"/school-units/{school}"})


async def apply_campaign_opened(uow: UnitOfWork, e: CampaignOpened, event_id: str) -> None:
    """Each school's Rektor hears; the round is kept for the deadline reminders."""
    await campaign_store.record_campaign(uow.conn, e.id, e.name, e.deadline, list(e.schoolUnitIds))
    await to_duty_holders(uow, event_id, e.schoolUnitIds, DutyRole.REKTOR, "campaign-opened",
                          {"campaignName": e.name, "deadline": e.deadline.isoformat(), "link": f"/campaigns/{e.id}"})


async def apply_campaign_closed(uow: UnitOfWork, e: CampaignClosed, event_id: str) -> None:
    await campaign_store.close_campaign(uow.conn, e.id)


async def apply_assessment_submitted(uow: UnitOfWork, e: AssessmentSubmitted, event_id: str) -> None:
    """Reminders stop for the school; the district's administrators hear."""
    await campaign_store.mark_submitted(uow.conn, e.campaignId, e.schoolUnitId, True)
    note = {"submissionNote": "första inlämningen" if e.submission == 1 else f"inlämning {e.submission}"}
    await to_district_admins(uow, event_id, e.schoolUnitId, e.districtId, "assessment-submitted", {"year": e.year, **note})


async def apply_assessment_reopened(uow: UnitOfWork, e: AssessmentReopened, event_id: str) -> None:
    """Reminders start again towards the new deadline; the district's administrators hear."""
    await campaign_store.mark_submitted(uow.conn, e.campaignId, e.schoolUnitId, False, e.deadline)
    await to_district_admins(uow, event_id, e.schoolUnitId, None, "assessment-reopened", {"deadline": e.deadline.isoformat()})


async def apply_guardian_relation_ended(uow: UnitOfWork, e: GuardianRelationEnded, event_id: str) -> None:
    """What has not yet gone out to the guardian about that school stops at once, unless another pupil still
    ties them to it (the replica has the relation ended already)."""
    if not await message_store.still_related(uow.conn, e.guardian, e.schoolUnit):
        await message_store.cancel_pending(uow.conn, e.guardian, e.schoolUnit)
        await planning_store.forget(uow.conn, e.guardian, e.schoolUnit)


async def apply_person_removed(uow: UnitOfWork, e: PersonRemoved, event_id: str) -> None:
    """Nothing more goes out to a person the city removed."""
    await message_store.cancel_pending(uow.conn, e.id, None)
    await planning_store.forget(uow.conn, e.id, None)


async def apply_licence_expiring(uow: UnitOfWork, e: LicenceExpiring, event_id: str) -> None:
    await to_duty_holders(uow, event_id, [e.schoolUnitId], DutyRole.IT_SAMORDNARE, "licence-expiring",
                          {"appName": e.appName, "licenceType": e.licenceType, "expiresOn": e.expiresOn.isoformat(), "daysLeft": e.daysLeft,
                           "link": f"/apps/{e.appId}/licences"})


async def apply_dpa_expired(uow: UnitOfWork, e: DpaExpired, event_id: str) -> None:
    await to_duty_holders(uow, event_id, e.schoolUnitIds, DutyRole.IT_SAMORDNARE, "dpa-expired",
                          {"appName": e.appName, "expiredOn": e.expiredOn.isoformat(), "statusAfter": e.statusAfter, "link": f"/apps/{e.appId}"})


async def apply_report_published(uow: UnitOfWork, e: ReportPublished, event_id: str) -> None:
    await to_duty_holders(uow, event_id, e.schoolUnitIds, DutyRole.REKTOR, "report-published", {"year": e.year, "link": e.path})
