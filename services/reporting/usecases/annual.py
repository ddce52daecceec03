"""Publishing the annual report: each district with a submitted school is told once (ReportPublished)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from services.reporting import cache, store
from shared.events.reporting import ReportPublished
from shared.privacy import vault
from shared.uow import UnitOfWork


class NothingToPublish(Exception):
    """No school has a submitted self-assessment for the year."""


async def publish_annual_report(uow: UnitOfWork, year: int, actor: str) -> dict[str, Any]:
    """Announces the year's report to every district not told before; which were announced now and which before.
    Raises NothingToPublish when no school has a submitted self-assessment for the year."""
    schools = await cache.school_levels(uow.conn, year, None)
    by_district: dict[str, list[UUID]] = {}
    for s in schools:
        if s.district and s.levels:
            by_district.setdefault(s.district, []).append(UUID(s.id))
    if not by_district:
        raise NothingToPublish(f"no school has a submitted self-assessment for {year}")
    announced = []
    by = await vault.seal_actor(uow.conn, actor)  # a person sealed (docs/decisions/0009)
    for district, ids in sorted(by_district.items()):
        at = await store.mark_published(uow.conn, year, UUID(district), actor)
        if at is None:
            continue
        await uow.publish(ReportPublished(districtId=UUID(district), year=year, schoolUnitIds=ids, publishedBy=by,
                                          publishedAt=at, path=f"/districts/{district}/overview?year={year}"))
        announced.append(district)
    return {"year": year, "announced": announced, "alreadyAnnounced": sorted(set(by_district) - set(announced))}
