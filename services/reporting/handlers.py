"""Event handlers of the reporting service: thin adapters from an event to its use case (usecases/), in the
consumer's transaction. The right-of-access and erasure answers come from its privacy part (privacy.py, shared/privacy/part.py)."""

from __future__ import annotations

import asyncpg

from services.reporting import usecases
from services.reporting.settings import SOURCE
from services.reporting.usecases import AppFacts
from shared.city.replica import DUTIES, GUARDIANSHIPS, ORGANISATIONS, on_organisation_upserted
from shared.consumer import Handler
from shared.events.assessment import ActionPlanChanged, AssessmentReopened, AssessmentSubmitted, CampaignOpened
from shared.events.base import Event
from shared.events.catalog import AppChanged, AppPublished, AppRetired, AppStatusChanged
from shared.events.city import AppLaunchesCounted, OrganisationUpserted, SchoolFiguresReported
from shared.events.envelope import Envelope
from shared.events.notification import GuardianReachMeasured
from shared.uow import UnitOfWork


async def on_campaign_opened(conn: asyncpg.Connection, env: Envelope[CampaignOpened]) -> None:
    await usecases.apply_campaign_opened(UnitOfWork(conn, SOURCE), env.data, opened_at=env.time)


async def on_assessment_submitted(conn: asyncpg.Connection, env: Envelope[AssessmentSubmitted]) -> None:
    await usecases.apply_assessment_submitted(UnitOfWork(conn, SOURCE), env.data)


async def on_assessment_reopened(conn: asyncpg.Connection, env: Envelope[AssessmentReopened]) -> None:
    await usecases.apply_assessment_reopened(UnitOfWork(conn, SOURCE), env.data)


async def on_action_plan_changed(conn: asyncpg.Connection, env: Envelope[ActionPlanChanged]) -> None:
    await usecases.apply_action_plan_changed(UnitOfWork(conn, SOURCE), env.data)


async def on_school_figures_reported(conn: asyncpg.Connection, env: Envelope[SchoolFiguresReported]) -> None:
    await usecases.apply_school_figures_reported(UnitOfWork(conn, SOURCE), env.data, event_time=env.time)


async def on_guardian_reach_measured(conn: asyncpg.Connection, env: Envelope[GuardianReachMeasured]) -> None:
    await usecases.apply_guardian_reach_measured(UnitOfWork(conn, SOURCE), env.data, event_time=env.time)


async def on_app_facts(conn: asyncpg.Connection, env: Envelope[AppFacts]) -> None:
    await usecases.apply_app_facts(UnitOfWork(conn, SOURCE), env.data)


async def on_app_launches_counted(conn: asyncpg.Connection, env: Envelope[AppLaunchesCounted]) -> None:
    await usecases.apply_app_launches_counted(UnitOfWork(conn, SOURCE), env.data, event_time=env.time)


async def on_organisation_upserted_with_history(conn: asyncpg.Connection, env: Envelope[OrganisationUpserted]) -> None:
    # this handler replaces the replica's for the type (app.py: overrides), so it does the replica's upsert too
    await on_organisation_upserted(conn, env)
    await usecases.apply_organisation_upserted(UnitOfWork(conn, SOURCE), env.data, event_id=env.id, valid_from=env.time)


REPLICAS = (ORGANISATIONS, DUTIES, GUARDIANSHIPS)
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
}
