"""App records: publish, describe, the data-protection facts, the district-defined status, the audit trail."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.catalog import access, domain, store
from services.catalog.domain import DataProtection, NewApp
from services.catalog.queries import app_or_404, usable_at
from services.catalog.settings import SOURCE
from services.catalog.usecases import apps as usecases
from services.catalog.views import app_json
from shared.audit import trail_json
from shared.auth import Principal, require
from shared.clock import city_today
from shared.i18n import Language, language
from shared.problems import documented
from shared.uow import unit_of_work

router = APIRouter(tags=["apps"])


class AppPatch(BaseModel):
    """Any of an app's descriptive fields; data protection and status have their own endpoints."""

    name: str | None = None
    supplier: str | None = None
    description: str | None = None
    url: str | None = None
    kind: str | None = None
    costModel: str | None = None
    freeUse: bool | None = None
    subjects: list[str] | None = None
    grades: list[str] | None = None
    schoolTypes: list[str] | None = None
    platforms: list[str] | None = None
    languages: list[str] | None = None
    accessibility: str | None = None
    headings: list[str] | None = None
    keywords: list[str] | None = None
    expectedVersion: int | None = Field(default=None, description="refuse the change if someone else changed the app since this version")


class StatusChange(BaseModel):
    status: str = Field(examples=["approved"])
    reason: str | None = Field(default=None, max_length=2000)


@router.post("/apps", status_code=201, summary="Add an app or learning resource to the programbank", responses=documented(401, 403, 409, 422))
async def create_app(request: Request, body: NewApp, caller: Annotated[Principal, Depends(require(*access.EDITORS))]) -> dict[str, Any]:
    today = city_today()
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        made = await usecases.publish_app(uow, caller, body.description_only(), body.status, today)
    return app_json(made.row, made.status, language(request, None), today)


@router.get("/apps/{app_id}", summary="One app, with its data protection and (for a school) whether the school may use it",
            responses=documented(401, 403, 404))
async def get_app(request: Request, app_id: UUID, caller: Annotated[Principal, Depends(require(*access.STAFF))],
                  schoolUnitId: UUID | None = None, lang: Language | None = None) -> dict[str, Any]:
    today = city_today()
    async with request.app.state.pool.acquire() as conn:
        row = await app_or_404(conn, app_id)
        statuses = await store.statuses(conn)
        body = app_json(row, statuses[row["status"]], language(request, lang), today)
        if schoolUnitId is not None:
            school = await access.known_school(conn, schoolUnitId)
            ok, why = domain.availability(status=statuses[row["status"]], app_grades=row["grades"], app_school_types=row["school_types"],
                                          free_use=row["free_use"], school_types=school["school_types"],
                                          licensed=await store.licensed(conn, app_id, schoolUnitId, today))
            body["availability"] = {"schoolUnitId": str(schoolUnitId), "available": ok, "because": why}
    return body


@router.patch("/apps/{app_id}", summary="Change an app's description, subjects, grades, platforms, ...", responses=documented(401, 403, 404, 409, 422))
async def change_app(request: Request, app_id: UUID, body: AppPatch, caller: Annotated[Principal, Depends(require(*access.EDITORS))]) -> dict[str, Any]:
    today = city_today()
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        changed = await usecases.change_app(uow, caller, app_id, body.model_dump(exclude_unset=True, exclude={"expectedVersion"}),
                                            body.expectedVersion, today)
    return app_json(changed.row, changed.status, language(request, None), today)


@router.put("/apps/{app_id}/data-protection", summary="Record the app's data-protection facts (DPA, data, countries, DPIA)",
            description="An approval that the new facts no longer support lapses at once to `dpa_lapsed`.",
            responses=documented(401, 403, 404, 409, 422))
async def set_data_protection(request: Request, app_id: UUID, body: DataProtection,
                              caller: Annotated[Principal, Depends(require(*access.PRIVACY))]) -> dict[str, Any]:
    today = city_today()
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        changed = await usecases.set_data_protection(uow, caller, app_id, body, today)
    return app_json(changed.row, changed.status, language(request, None), today)


@router.post("/apps/{app_id}/status", summary="Set the app's district-defined status (approved, pilot only, retired, ...)",
             description="A status that allows use needs a signed, valid DPA when the app receives personal data, a safeguard for "
                         "transfers outside the EU/EEA and a DPIA for sensitive data.",
             responses=documented(401, 403, 404, 409, 422))
async def set_status(request: Request, app_id: UUID, body: StatusChange, caller: Annotated[Principal, Depends(require(*access.STATUS_SETTERS))]) -> dict[str, Any]:
    today = city_today()
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        changed = await usecases.set_status(uow, caller, app_id, body.status, body.reason, today)
    return app_json(changed.row, changed.status, language(request, None), today)


@router.get("/apps/{app_id}/audit", summary="Every change to the app: who, what, when", responses=documented(401, 403, 404))
async def app_audit(request: Request, app_id: UUID, caller: Annotated[Principal, Depends(require(*access.STATUS_SETTERS))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        await app_or_404(conn, app_id)
        rows = await store.audit_trail(conn, "app", str(app_id))
    return {"appId": str(app_id), "items": trail_json(rows)}


@router.get("/school-units/{school_unit_id}/apps", summary="The apps a school unit may use today (free use or a valid licence, and a status that allows use)",
            responses=documented(401, 403, 404))
async def school_apps(request: Request, school_unit_id: UUID, caller: Annotated[Principal, Depends(require(*access.STAFF))],
                      lang: Language | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> dict[str, Any]:
    today, chosen = city_today(), language(request, lang)
    async with request.app.state.pool.acquire() as conn:
        school, statuses, rows = await usable_at(conn, school_unit_id, today)
    items = []
    for r in rows[:limit]:
        body = app_json(r, statuses[r["status"]], chosen, today)
        body["availableBecause"] = "free use" if r["free_use"] else "licence"
        items.append(body)
    return {"schoolUnitId": str(school_unit_id), "schoolUnitName": school["display_name"], "asOf": today.isoformat(), "total": len(rows), "items": items}
