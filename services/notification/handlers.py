"""Event handlers of the notification service: recipients come from the city's events — school
units, staff duties, persons' protection markings and guardian relations (contact details never
arrive by event) — and other services' events become messages (usecases/events.py). Each handler is
an adapter: the consumer's transaction as the unit of work, the event's data and id to the use case."""

from __future__ import annotations

import asyncpg

from services.notification import access_requests, privacy, usecases
from services.notification.settings import SOURCE
from services.notification.usecases import workflow
from shared.city.replica import DUTIES, ORGANISATIONS, PERSONS, on_guardian_relation_ended, on_person_removed
from shared.consumer import Handler
from shared.events.assessment import AssessmentReopened, AssessmentSubmitted, CampaignClosed, CampaignOpened
from shared.events.base import Event
from shared.events.catalog import (
    AppRequestDecided,
    AppRequestProgressed,
    AppRequestStalled,
    AppRequestSubmitted,
    DpaExpired,
    LicenceExpiring,
)
from shared.events.city import GuardianRelationEnded, PersonRemoved
from shared.events.envelope import Envelope
from shared.events.reporting import IndicatorBelowTarget, ReportPublished
from shared.uow import UnitOfWork


async def on_app_request_submitted(conn: asyncpg.Connection, env: Envelope[AppRequestSubmitted]) -> None:
    """The reviewers of the school's district hear of a new request (usecases/workflow.py says who they are)."""
    await workflow.apply_app_request_submitted(UnitOfWork(conn, SOURCE), env.data, env.id)


async def on_app_request_progressed(conn: asyncpg.Connection, env: Envelope[AppRequestProgressed]) -> None:
    """A question or an acknowledgement reaches the requester; their answer or withdrawal the reviewers."""
    await workflow.apply_app_request_progressed(UnitOfWork(conn, SOURCE), env.data, env.id)


async def on_app_request_stalled(conn: asyncpg.Connection, env: Envelope[AppRequestStalled]) -> None:
    """The reviewers are reminded of a request that has waited too long."""
    await workflow.apply_app_request_stalled(UnitOfWork(conn, SOURCE), env.data, env.id)


async def on_app_request_decided(conn: asyncpg.Connection, env: Envelope[AppRequestDecided]) -> None:
    """The requester hears the decision, with the conditions or the reason."""
    await usecases.apply_app_request_decided(UnitOfWork(conn, SOURCE), env.data, env.id)


async def on_campaign_opened(conn: asyncpg.Connection, env: Envelope[CampaignOpened]) -> None:
    """Each school's Rektor hears; the round is kept for the deadline reminders."""
    await usecases.apply_campaign_opened(UnitOfWork(conn, SOURCE), env.data, env.id)


async def on_campaign_closed(conn: asyncpg.Connection, env: Envelope[CampaignClosed]) -> None:
    await usecases.apply_campaign_closed(UnitOfWork(conn, SOURCE), env.data, env.id)


async def on_assessment_submitted(conn: asyncpg.Connection, env: Envelope[AssessmentSubmitted]) -> None:
    """Reminders stop for the school; the district's administrators hear."""
    await usecases.apply_assessment_submitted(UnitOfWork(conn, SOURCE), env.data, env.id)


async def on_assessment_reopened(conn: asyncpg.Connection, env: Envelope[AssessmentReopened]) -> None:
    """Reminders start again towards the new deadline; the district's administrators and the school's Rektor hear."""
    uow = UnitOfWork(conn, SOURCE)
    await usecases.apply_assessment_reopened(uow, env.data, env.id)
    await workflow.apply_assessment_reopened_to_school(uow, env.data, env.id)


async def on_relation_ended(conn: asyncpg.Connection, env: Envelope[GuardianRelationEnded]) -> None:
    """The relation ends in the replica, and what has not yet gone out to the guardian about that
    school stops at once, unless another pupil still ties them to it."""
    await on_guardian_relation_ended(conn, env)
    await usecases.apply_guardian_relation_ended(UnitOfWork(conn, SOURCE), env.data, env.id)


async def on_removed(conn: asyncpg.Connection, env: Envelope[PersonRemoved]) -> None:
    await on_person_removed(conn, env)
    await usecases.apply_person_removed(UnitOfWork(conn, SOURCE), env.data, env.id)


async def on_licence_expiring(conn: asyncpg.Connection, env: Envelope[LicenceExpiring]) -> None:
    await usecases.apply_licence_expiring(UnitOfWork(conn, SOURCE), env.data, env.id)


async def on_dpa_expired(conn: asyncpg.Connection, env: Envelope[DpaExpired]) -> None:
    await usecases.apply_dpa_expired(UnitOfWork(conn, SOURCE), env.data, env.id)


async def on_indicator_below_target(conn: asyncpg.Connection, env: Envelope[IndicatorBelowTarget]) -> None:
    """The district's administrators hear that a school's figure went below its target."""
    await workflow.apply_indicator_below_target(UnitOfWork(conn, SOURCE), env.data, env.id)


async def on_report_published(conn: asyncpg.Connection, env: Envelope[ReportPublished]) -> None:
    await usecases.apply_report_published(UnitOfWork(conn, SOURCE), env.data, env.id)


REPLICAS = (ORGANISATIONS, DUTIES, PERSONS)
HANDLERS: dict[type[Event], Handler] = {
    AppRequestSubmitted: on_app_request_submitted,
    AppRequestProgressed: on_app_request_progressed,
    AppRequestStalled: on_app_request_stalled,
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
    IndicatorBelowTarget: on_indicator_below_target,
    **access_requests.HANDLERS,
    **privacy.HANDLERS,
}
