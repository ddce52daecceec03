"""Adoption: the city's aggregated app launch counts (never per pupil), as the login portal reports them."""

from __future__ import annotations

from datetime import datetime

from services.catalog import domain, store
from shared.events.city import AppLaunchesCounted
from shared.events.envelope import Rejected
from shared.uow import UnitOfWork


async def apply_app_launches_counted(uow: UnitOfWork, e: AppLaunchesCounted, event_time: datetime) -> None:
    """Records a school's launches of an app for a period; a re-count (a later ``event_time``) replaces it."""
    domain.check_usage_period(e.periodStart, e.periodEnd)
    if not await store.app_exists(uow.conn, e.appId):
        # dead-lettered with this reason; it cannot become valid by waiting
        raise Rejected(f"app {e.appId} is not in the programbank")
    await store.record_usage(uow.conn, app_id=e.appId, school_unit=e.schoolUnitId, start=e.periodStart, end=e.periodEnd,
                             launches=e.launches, active_users=e.activeUsers, event_time=event_time)
