"""Adoption: which apps schools actually launch, from the city's aggregated counts (never per pupil)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, BeforeValidator

from services.catalog import access, store
from services.catalog.queries import app_or_404
from services.catalog.schemas import Adoption, AppUsage
from services.catalog.views import counted, school_ref
from shared.auth import Principal, require
from shared.clock import city_today
from shared.http.pages import PageRequest, page_request
from shared.problems import documented

router = APIRouter(tags=["usage"])
DEFAULT_DAYS = 90
#: the earliest day usage can be asked about: the city's counts do not go further back (and 0 is not "1970")
EARLIEST_SINCE = date(2000, 1, 1)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: Any) -> Any:
    """A day is written YYYY-MM-DD: a number (``since=0``) is not read as seconds since 1970."""
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError(f"a day is written YYYY-MM-DD (e.g. {city_today().isoformat()}), not {value!r}")
    return value


def _plausible_since(value: date | None) -> date | None:
    today = city_today()
    if value is not None and not EARLIEST_SINCE <= value <= today:
        raise ValueError(f"since is a day between {EARLIEST_SINCE} and today ({today}), not {value}")
    return value


Since = Annotated[date | None, BeforeValidator(_iso_day), AfterValidator(_plausible_since), Query(
    description=f"the first day counted, YYYY-MM-DD between {EARLIEST_SINCE} and today (default: {DEFAULT_DAYS} days ago)")]


@router.get("/usage", summary="Apps in use: launches and school units per app since a date (default: the last 90 days), most launched first",
            description="`schoolsWithoutLicence` counts school units that launched a licensed app without holding a licence for the period.",
            response_model=Adoption, responses=documented(401, 403, 404, 422))
async def adoption(request: Request, caller: Annotated[Principal, Depends(require(*access.STAFF))],
                   page: Annotated[PageRequest, Depends(page_request)],
                   since: Since = None,
                   schoolUnitId: Annotated[UUID | None, Query(description="only this school unit's launches (404 when not known)")] = None) -> dict[str, Any]:
    since = since or city_today() - timedelta(days=DEFAULT_DAYS)
    async with request.app.state.pool.acquire() as conn:
        if schoolUnitId is not None:
            await access.known_school(conn, schoolUnitId)
        rows = await store.adoption(conn, since, [schoolUnitId] if schoolUnitId else None, limit=page.fetch, offset=page.offset)
    return {"since": since.isoformat(), "schoolUnitId": str(schoolUnitId) if schoolUnitId else None, **page.page(rows, total=counted(rows, page.offset), item=lambda r: {
        "appId": str(r["id"]), "name": r["name"], "status": r["status"], "allowsUse": r["allows_use"], "dpaStatus": r["dpa_status"],
        "launches": r["launches"], "schoolUnits": r["schools"], "schoolsWithoutLicence": r["schools_without_licence"]})}


@router.get("/apps/{app_id}/usage", summary="One app's launches per school unit, most launched first", response_model=AppUsage,
            responses=documented(401, 403, 404, 422))
async def app_usage(request: Request, app_id: UUID, caller: Annotated[Principal, Depends(require(*access.STAFF))],
                    page: Annotated[PageRequest, Depends(page_request)], since: Since = None) -> dict[str, Any]:
    since = since or city_today() - timedelta(days=DEFAULT_DAYS)
    async with request.app.state.pool.acquire() as conn:
        app = await app_or_404(conn, app_id)
        rows = await store.app_usage(conn, app_id, since)
    return {"appId": str(app_id), "name": app["name"], "since": since.isoformat(), "schoolUnits": len(rows),
            **page.slice(rows, item=lambda r: {
                "schoolUnit": school_ref(r["school_unit"], r["display_name"], r["school_unit_code"]), "launches": r["launches"],
                "activeUsers": r["active_users"], "lastPeriodEnd": r["last_period"].isoformat()})}
