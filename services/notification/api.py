"""HTTP routes of the notification service."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request

from services.notification import store
from services.notification.access_audit import router as access_audit_router
from services.notification.access_requests import router as access_requests_router
from services.notification.broadcasts import router as broadcasts_router
from services.notification.contacts import router as contacts_router
from services.notification.gateways import router as gateways_router
from services.notification.inbox import router as inbox_router
from services.notification.preferences import router as preferences_router
from services.notification.privacy import router as privacy_router
from services.notification.worklists import router as worklists_router
from shared.auth import Principal, Role, ensure_school_access, require
from shared.city.replica import district_of

router = APIRouter(tags=["audiences"])


@router.get("/school-units/{school_unit_id}/audience", summary="How many guardians, pupils and staff a message to the school unit reaches")
async def school_audience(
    request: Request,
    school_unit_id: UUID,
    caller: Annotated[Principal, Depends(require(Role.PRINCIPAL, Role.DISTRICT_ADMIN, Role.CITY_ADMIN))],
) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        district = await district_of(conn, school_unit_id)
        ensure_school_access(caller, str(school_unit_id), str(district) if district else None)
        counts = await store.audience(conn, school_unit_id)
    return {"schoolUnitId": str(school_unit_id), **counts}


router.include_router(contacts_router)
router.include_router(preferences_router)
router.include_router(inbox_router)
router.include_router(broadcasts_router)
router.include_router(gateways_router)
router.include_router(worklists_router)
router.include_router(access_audit_router)
router.include_router(access_requests_router)
router.include_router(privacy_router)
