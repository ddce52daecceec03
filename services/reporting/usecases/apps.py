"""The catalog's facts about apps and the city's count of their launches, applied to the read models
(they give the derived figure usedAppsWithValidDpaShare and the apps per heading)."""

from __future__ import annotations

from datetime import datetime

from services.reporting import store
from shared.events.catalog import AppChanged, AppPublished, AppRetired, AppStatusChanged
from shared.events.city import AppLaunchesCounted
from shared.uow import UnitOfWork

#: every app event carries the same facts about the app
AppFacts = AppPublished | AppChanged | AppStatusChanged | AppRetired


async def apply_app_facts(uow: UnitOfWork, e: AppFacts) -> None:
    await store.record_app(uow.conn, id=e.id, headings=list(e.headings), allows_use=e.allowsUse,
                           valid_dpa=e.dpaStatus in ("signed", "not_required") or not e.processesPersonalData,
                           retired=isinstance(e, AppRetired), version=e.version)


async def apply_app_launches_counted(uow: UnitOfWork, e: AppLaunchesCounted, *, event_time: datetime) -> None:
    await store.record_launches(uow.conn, app_id=e.appId, school_unit=e.schoolUnitId, start=e.periodStart, end=e.periodEnd,
                                launches=e.launches, event_time=event_time)
