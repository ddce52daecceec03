"""Self-assessment rounds, results and action plans from the assessment service, applied to the read models."""

from __future__ import annotations

from datetime import datetime

from services.reporting import store
from shared.events.assessment import ActionPlanChanged, AssessmentReopened, AssessmentSubmitted, CampaignOpened
from shared.uow import UnitOfWork


async def apply_campaign_opened(uow: UnitOfWork, e: CampaignOpened, *, opened_at: datetime) -> None:
    await store.record_campaign(uow.conn, id=e.id, name=e.name, year=e.year, deadline=e.deadline, opened_at=opened_at,
                                school_units=e.schoolUnitIds)


async def apply_assessment_submitted(uow: UnitOfWork, e: AssessmentSubmitted) -> bool:
    """False when a later submission of the same assessment is here already (a replay or a redelivery)."""
    return await store.record_submission(uow.conn, e)


async def apply_assessment_reopened(uow: UnitOfWork, e: AssessmentReopened) -> None:
    await store.record_reopening(uow.conn, e.assessmentId, e.reopenedAt)


async def apply_action_plan_changed(uow: UnitOfWork, e: ActionPlanChanged) -> None:
    await store.record_action(uow.conn, e)
