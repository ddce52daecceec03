"""Event handlers of the reporting service: decode → apply to the read models, in the caller's transaction."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from services.reporting import store
from services.reporting.domain import meets_target
from services.reporting.erasure import on_erasure_requested
from services.reporting.export import on_access_requested
from shared import outbox
from shared.city.replica import ORGANISATIONS, district_of, on_organisation_upserted
from shared.consumer import Handler
from shared.events.assessment import ActionPlanChanged, AssessmentReopened, AssessmentSubmitted, CampaignOpened
from shared.events.base import Event
from shared.events.catalog import AppChanged, AppPublished, AppRetired, AppStatusChanged
from shared.events.city import AppLaunchesCounted, OrganisationType, OrganisationUpserted, SchoolFiguresReported
from shared.events.envelope import Envelope
from shared.events.notification import AccessRequested, ErasureRequested, GuardianReachMeasured
from shared.events.reporting import IndicatorBelowTarget

SOURCE = "skolit.reporting"


async def on_campaign_opened(conn: asyncpg.Connection, env: Envelope[CampaignOpened]) -> None:
    e = env.data
    await store.record_campaign(conn, id=e.id, name=e.name, year=e.year, deadline=e.deadline, opened_at=env.time, school_units=e.schoolUnitIds)


async def on_assessment_submitted(conn: asyncpg.Connection, env: Envelope[AssessmentSubmitted]) -> None:
    await store.record_submission(conn, env.data)


async def on_assessment_reopened(conn: asyncpg.Connection, env: Envelope[AssessmentReopened]) -> None:
    e = env.data
    await store.record_reopening(conn, e.assessmentId, e.reopenedAt)


async def on_action_plan_changed(conn: asyncpg.Connection, env: Envelope[ActionPlanChanged]) -> None:
    await store.record_action(conn, env.data)


async def on_school_figures_reported(conn: asyncpg.Connection, env: Envelope[SchoolFiguresReported]) -> None:
    """Stores the figures; an indicator whose figure goes below its target is announced once."""
    e = env.data
    await record_figures(conn, env, e.schoolUnitId, e.year, e.figures, source="city")


async def on_guardian_reach_measured(conn: asyncpg.Connection, env: Envelope[GuardianReachMeasured]) -> None:
    """Notification's count of guardians reached becomes the school's guardiansReachableShare figure."""
    e = env.data
    await record_figures(conn, env, e.schoolUnitId, e.year, {"guardiansReachableShare": e.share}, source="notification")


async def record_figures(conn: asyncpg.Connection, env: Envelope[Event], school: UUID, year: int, figures: dict[str, float], source: str) -> None:
    await store.record_figures(conn, school, year, figures, env.time)
    for indicator in await store.indicators(conn):
        value = figures.get(indicator.metric)
        verdict = meets_target(value, indicator.target, indicator.direction) if indicator.source == source else None
        if verdict is None:
            continue
        was_below = await store.alert_state(conn, school, year, indicator.code, below=not verdict)
        if not verdict and not was_below:
            await outbox.add(conn, SOURCE, IndicatorBelowTarget(
                schoolUnitId=school, districtId=await district_of(conn, school), year=year, indicator=indicator.code,
                value=value, target=indicator.target, direction=indicator.direction))  # type: ignore[arg-type]


#: every app event carries the same facts about the app
AppFacts = AppPublished | AppChanged | AppStatusChanged | AppRetired


async def on_app_facts(conn: asyncpg.Connection, env: Envelope[AppFacts]) -> None:
    e = env.data
    await store.record_app(conn, id=e.id, headings=list(e.headings), allows_use=e.allowsUse,
                           valid_dpa=e.dpaStatus in ("signed", "not_required") or not e.processesPersonalData,
                           retired=isinstance(e, AppRetired), version=e.version)


async def on_app_launches_counted(conn: asyncpg.Connection, env: Envelope[AppLaunchesCounted]) -> None:
    e = env.data
    await store.record_launches(conn, app_id=e.appId, school_unit=e.schoolUnitId, start=e.periodStart, end=e.periodEnd,
                                launches=e.launches, event_time=env.time)


async def on_organisation_upserted_with_history(conn: asyncpg.Connection, env: Envelope[OrganisationUpserted]) -> None:
    await on_organisation_upserted(conn, env)
    e = env.data
    if e.organisationType == OrganisationType.SKOLENHET:
        await store.append_school_unit_version(
            conn, event_id=env.id, school_unit=e.id, display_name=e.displayName, district=e.parentOrganisation,
            school_types=[t.value for t in e.schoolTypes], valid_from=env.time,
        )


REPLICAS = (ORGANISATIONS,)
HANDLERS: dict[type[Event], Handler] = {
    CampaignOpened: on_campaign_opened,
    OrganisationUpserted: on_organisation_upserted_with_history,
    AssessmentSubmitted: on_assessment_submitted,
    AssessmentReopened: on_assessment_reopened,
    ActionPlanChanged: on_action_plan_changed,
    SchoolFiguresReported: on_school_figures_reported,
    GuardianReachMeasured: on_guardian_reach_measured,
    AppPublished: on_app_facts,
    AppChanged: on_app_facts,
    AppStatusChanged: on_app_facts,
    AppRetired: on_app_facts,
    AppLaunchesCounted: on_app_launches_counted,
    AccessRequested: on_access_requested,
    ErasureRequested: on_erasure_requested,
}
