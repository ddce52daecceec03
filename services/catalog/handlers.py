"""Event handlers of the catalog service: the city's school units and duties (who works where, for
requests and licences) and the city's aggregated app launches."""

from __future__ import annotations

import asyncpg

from services.catalog import domain, store
from services.catalog.erasure import on_erasure_requested
from services.catalog.export import on_access_requested
from shared.city.replica import DUTIES, MARKINGS, ORGANISATIONS
from shared.consumer import Handler
from shared.events.base import Event
from shared.events.city import AppLaunchesCounted
from shared.events.envelope import Envelope, Rejected
from shared.events.notification import AccessRequested, ErasureRequested


async def on_app_launches_counted(conn: asyncpg.Connection, env: Envelope[AppLaunchesCounted]) -> None:
    e = env.data
    domain.check_usage_period(e.periodStart, e.periodEnd)
    if not await store.app_exists(conn, e.appId):
        # dead-lettered with this reason; it cannot become valid by waiting
        raise Rejected(f"app {e.appId} is not in the programbank")
    await store.record_usage(conn, app_id=e.appId, school_unit=e.schoolUnitId, start=e.periodStart, end=e.periodEnd,
                             launches=e.launches, active_users=e.activeUsers, event_time=env.time)


# MARKINGS: who has a protected identity, hidden from others in every answer (shared/city/markings.py)
REPLICAS = (ORGANISATIONS, DUTIES, MARKINGS)
HANDLERS: dict[type[Event], Handler] = {AppLaunchesCounted: on_app_launches_counted, AccessRequested: on_access_requested, ErasureRequested: on_erasure_requested}
