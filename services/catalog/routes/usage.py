"""Adoption: which apps schools actually launch, from the city's aggregated counts (never per pupil)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request

from services.catalog import access, store
from services.catalog.queries import app_or_404
from shared.auth import Principal, require
from shared.clock import city_today
from shared.problems import documented

router = APIRouter(tags=["usage"])
DEFAULT_DAYS = 90


@router.get("/usage", summary="Apps in use: launches and school units per app since a date (default: the last 90 days)",
            description="`schoolsWithoutLicence` counts school units that launched a licensed app without holding a licence for the period.",
            responses=documented(401, 403, 404))
async def adoption(request: Request, caller: Annotated[Principal, Depends(require(*access.STAFF))],
                   since: date | None = None, schoolUnitId: UUID | None = None) -> dict[str, Any]:
    since = since or city_today() - timedelta(days=DEFAULT_DAYS)
    async with request.app.state.pool.acquire() as conn:
        if schoolUnitId is not None:
            await access.known_school(conn, schoolUnitId)
        rows = await store.adoption(conn, since, [schoolUnitId] if schoolUnitId else None)
    return {"since": since.isoformat(), "schoolUnitId": str(schoolUnitId) if schoolUnitId else None, "items": [
        {"appId": str(r["id"]), "name": r["name"], "status": r["status"], "allowsUse": r["allows_use"], "dpaStatus": r["dpa_status"],
         "launches": r["launches"], "schoolUnits": r["schools"], "schoolsWithoutLicence": r["schools_without_licence"]}
        for r in rows
    ]}


@router.get("/apps/{app_id}/usage", summary="One app's launches per school unit", responses=documented(401, 403, 404))
async def app_usage(request: Request, app_id: UUID, caller: Annotated[Principal, Depends(require(*access.STAFF))], since: date | None = None) -> dict[str, Any]:
    since = since or city_today() - timedelta(days=DEFAULT_DAYS)
    async with request.app.state.pool.acquire() as conn:
        app = await app_or_404(conn, app_id)
        rows = await store.app_usage(conn, app_id, since)
    return {"appId": str(app_id), "name": app["name"], "since": since.isoformat(), "schoolUnits": len(rows), "items": [
        {"schoolUnitId": str(r["school_unit"]), "schoolUnitName": r["display_name"], "launches": r["launches"],
         "activeUsers": r["active_users"], "lastPeriodEnd": r["last_period"].isoformat()}
        for r in rows
    ]}
