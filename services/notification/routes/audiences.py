"""How many a message to a school unit reaches (no one is named)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request

from services.notification import access, usecases
from services.notification.schemas import SchoolAudience
from services.notification.settings import SOURCE
from shared.auth import Principal, require
from shared.problems import documented
from shared.uow import unit_of_work

router = APIRouter(tags=["audiences"])


@router.get("/school-units/{school_unit_id}/audience", summary="How many guardians, pupils and staff a message to the school unit reaches",
            response_model=SchoolAudience, responses=documented(401, 403, 422))
async def school_audience(
    request: Request,
    school_unit_id: UUID,
    caller: Annotated[Principal, Depends(require(*access.SCHOOL_READERS))],
) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.school_audience(uow, caller, school_unit_id)
