"""Event handlers of the reporting service: decode → apply to the read models, in the caller's transaction."""

from __future__ import annotations

import asyncpg

from services.reporting import store
from shared.city.replica import ORGANISATIONS, on_organisation_upserted
from shared.events.assessment import AssessmentReopened, AssessmentSubmitted, CampaignOpened
from shared.events.city import OrganisationType, OrganisationUpserted
from shared.events.envelope import Envelope


async def on_campaign_opened(conn: asyncpg.Connection, env: Envelope) -> None:
    e: CampaignOpened = env.data  # type: ignore[assignment]
    await store.record_campaign(conn, id=e.id, name=e.name, year=e.year, deadline=e.deadline, opened_at=env.time, school_units=e.schoolUnitIds)


async def on_assessment_submitted(conn: asyncpg.Connection, env: Envelope) -> None:
    await store.record_submission(conn, env.data)  # type: ignore[arg-type]


async def on_assessment_reopened(conn: asyncpg.Connection, env: Envelope) -> None:
    e: AssessmentReopened = env.data  # type: ignore[assignment]
    await store.record_reopening(conn, e.assessmentId, e.reopenedAt)


async def on_organisation_upserted_with_history(conn: asyncpg.Connection, env: Envelope) -> None:
    await on_organisation_upserted(conn, env)
    e: OrganisationUpserted = env.data  # type: ignore[assignment]
    if e.organisationType == OrganisationType.SKOLENHET:
        await store.append_school_unit_version(
            conn, event_id=env.id, school_unit=e.id, display_name=e.displayName, district=e.parentOrganisation,
            school_types=[t.value for t in e.schoolTypes], valid_from=env.time,
        )


REPLICAS = (ORGANISATIONS,)
HANDLERS = {
    CampaignOpened: on_campaign_opened,
    OrganisationUpserted: on_organisation_upserted_with_history,
    AssessmentSubmitted: on_assessment_submitted,
    AssessmentReopened: on_assessment_reopened,
}
