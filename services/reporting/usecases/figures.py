"""A school's figures for a year (from the city, or derived by another service), and the announcement of an
indicator whose figure goes below its target: once per school, year and indicator until it is met again."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.reporting import store
from services.reporting.domain import meets_target
from shared.city.replica import district_of
from shared.events.city import SchoolFiguresReported
from shared.events.notification import GuardianReachMeasured
from shared.events.reporting import IndicatorBelowTarget
from shared.uow import UnitOfWork


async def apply_school_figures_reported(uow: UnitOfWork, e: SchoolFiguresReported, *, event_time: datetime) -> list[IndicatorBelowTarget]:
    """The city's figures (typed: a yes-no becomes 1.0 or 0.0, SchoolFigures.metrics); returns the announcements published."""
    return await apply_figures(uow, e.schoolUnitId, e.year, e.figures.metrics(), event_time=event_time, source="city")


async def apply_guardian_reach_measured(uow: UnitOfWork, e: GuardianReachMeasured, *, event_time: datetime) -> list[IndicatorBelowTarget]:
    """Notification's count of guardians reached becomes the school's guardiansReachableShare figure."""
    return await apply_figures(uow, e.schoolUnitId, e.year, {"guardiansReachableShare": e.share}, event_time=event_time, source="notification")


async def apply_figures(uow: UnitOfWork, school: UUID, year: int, figures: dict[str, float], *, event_time: datetime,
                        source: str) -> list[IndicatorBelowTarget]:
    """Stores the figures; only the indicators fed by ``source`` are judged (another source's metric of the
    same name is not theirs). Returns the IndicatorBelowTarget events published."""
    await store.record_figures(uow.conn, school, year, figures, event_time)
    announced: list[IndicatorBelowTarget] = []
    for indicator in await store.indicators(uow.conn):
        value = figures.get(indicator.metric)
        verdict = meets_target(value, indicator.target, indicator.direction) if indicator.source == source else None
        if verdict is None:
            continue
        was_below = await store.alert_state(uow.conn, school, year, indicator.code, below=not verdict)
        if not verdict and not was_below:
            event = IndicatorBelowTarget(
                schoolUnitId=school, districtId=await district_of(uow.conn, school), year=year, indicator=indicator.code,
                value=value, target=indicator.target, direction=indicator.direction)  # type: ignore[arg-type]
            await uow.publish(event)
            announced.append(event)
    return announced
