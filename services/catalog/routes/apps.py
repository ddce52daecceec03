"""App records: publish, describe, the data-protection facts, the district-defined status, the audit trail."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.catalog import access, domain, store
from services.catalog import vocabulary as vocab
from services.catalog.domain import DataProtection, NewApp
from services.catalog.queries import app_or_404, usable_at
from services.catalog.schemas import App, AppAudit, SchoolApps
from services.catalog.settings import SOURCE
from services.catalog.usecases import apps as usecases
from services.catalog.views import app_actors, app_json, audit_json, counted, people, reason_json, school_ref
from shared.auth import Principal, require
from shared.clock import city_today
from shared.http.pages import PageRequest, page_request
from shared.i18n import Language, language
from shared.problems import Problem, documented
from shared.uow import unit_of_work

router = APIRouter(tags=["apps"])


class AppDescription(BaseModel):
    """An app's descriptive fields, each optional (a change names only what it changes)."""

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


class AppPatch(AppDescription):
    """Any of an app's descriptive fields; data protection and status have their own endpoints."""

    expectedVersion: int | None = Field(default=None, description="refuse the change if someone else changed the app since this version")


class StatusChange(BaseModel):
    status: str = Field(examples=["approved"])
    reason: str | None = Field(default=None, max_length=2000)


def check_data_protection(dp: DataProtection, today: date, where: str) -> None:
    """422 naming every field of the data-protection facts as sent that is implausible or incomplete (domain)."""
    problems = domain.data_protection_problems(dp, today)
    if problems:
        errors = [{"location": f"{where}.{name}", "message": message} for name, message in problems]
        raise Problem(422, "Invalid request", "; ".join(f"{e['location']}: {e['message']}" for e in errors),
                      field=errors[0]["location"], errors=errors)


async def _app_answer(conn: asyncpg.Connection, made: usecases.AppState, caller: Principal, lang: Language, today: date) -> dict[str, Any]:
    refs = await people(conn, app_actors([made.row]), caller.subject)
    return app_json(made.row, made.status, lang, today, refs)


@router.post("/apps", status_code=201, summary="Add an app or learning resource to the programbank", response_model=App,
             responses=documented(401, 403, 409, 422))
async def create_app(request: Request, body: NewApp, caller: Annotated[Principal, Depends(require(*access.EDITORS))],
                     lang: Language | None = None) -> dict[str, Any]:
    today = city_today()
    check_data_protection(body.dataProtection, today, "body.dataProtection")
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        made = await usecases.publish_app(uow, caller, body.description_only(), body.status, today)
        return await _app_answer(uow.conn, made, caller, language(request, lang), today)


@router.get("/apps/{app_id}", summary="One app, with its data protection and (for a school) whether the school may use it",
            response_model=App, responses=documented(401, 403, 404))
async def get_app(request: Request, app_id: UUID, caller: Annotated[Principal, Depends(require(*access.STAFF))],
                  schoolUnitId: Annotated[UUID | None, Query(description="say whether this school unit may use the app today (404 when not known)")] = None,
                  lang: Language | None = None) -> dict[str, Any]:
    today, chosen = city_today(), language(request, lang)
    async with request.app.state.pool.acquire() as conn:
        row = await app_or_404(conn, app_id)
        statuses = await store.statuses(conn)
        body = app_json(row, statuses[row["status"]], chosen, today, await people(conn, app_actors([row]), caller.subject))
        if schoolUnitId is not None:
            school = await access.known_school(conn, schoolUnitId)
            ok, why = domain.availability(status=statuses[row["status"]], app_grades=row["grades"], app_school_types=row["school_types"],
                                          free_use=row["free_use"], school_types=school["school_types"],
                                          licensed=await store.licensed(conn, app_id, schoolUnitId, today))
            body["availability"] = {"schoolUnitId": str(schoolUnitId), "available": ok, **reason_json(why, chosen)}
    return body


@router.patch("/apps/{app_id}", summary="Change an app's description, subjects, grades, platforms, ...", response_model=App,
              responses=documented(401, 403, 404, 409, 422))
async def change_app(request: Request, app_id: UUID, body: AppPatch, caller: Annotated[Principal, Depends(require(*access.EDITORS))],
                     lang: Language | None = None) -> dict[str, Any]:
    today = city_today()
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        changed = await usecases.change_app(uow, caller, app_id, body.model_dump(exclude_unset=True, exclude={"expectedVersion"}),
                                            body.expectedVersion, today)
        return await _app_answer(uow.conn, changed, caller, language(request, lang), today)


@router.put("/apps/{app_id}/data-protection", summary="Record the app's data-protection facts (DPA, data, countries, DPIA)",
            description="An approval that the new facts no longer support lapses at once to `dpa_lapsed`. Dates are checked for "
                        "plausibility (signed between 1995-01-01 and today, ending at most 30 years ahead; 422 naming the field); "
                        "`transferOutsideEea: true` needs the countries outside the EU/EEA it goes to (`processingCountries` or a "
                        "sub-processor's country; 422 naming `processingCountries`). A transfer without a `transferSafeguard` is "
                        "recorded as found: the app cannot then be approved (its `approvalBlockers` say so) and an approval lapses.", response_model=App,
            responses=documented(401, 403, 404, 409, 422))
async def set_data_protection(request: Request, app_id: UUID, body: DataProtection,
                              caller: Annotated[Principal, Depends(require(*access.PRIVACY))], lang: Language | None = None) -> dict[str, Any]:
    today = city_today()
    check_data_protection(body, today, "body")
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        changed = await usecases.set_data_protection(uow, caller, app_id, body, today)
        return await _app_answer(uow.conn, changed, caller, language(request, lang), today)


@router.post("/apps/{app_id}/status", summary="Set the app's district-defined status (approved, pilot only, retired, ...)",
             description="A status that allows use needs a signed, valid DPA when the app receives personal data, a safeguard for "
                         "transfers outside the EU/EEA and a DPIA for sensitive data.", response_model=App,
             responses=documented(401, 403, 404, 409, 422))
async def set_status(request: Request, app_id: UUID, body: StatusChange, caller: Annotated[Principal, Depends(require(*access.STATUS_SETTERS))],
                     lang: Language | None = None) -> dict[str, Any]:
    today = city_today()
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        changed = await usecases.set_status(uow, caller, app_id, body.status, body.reason, today)
        return await _app_answer(uow.conn, changed, caller, language(request, lang), today)


@router.get("/apps/{app_id}/audit", summary="Every change to the app: who, what, when (oldest first)", response_model=AppAudit,
            responses=documented(401, 403, 404))
async def app_audit(request: Request, app_id: UUID, caller: Annotated[Principal, Depends(require(*access.STATUS_SETTERS))],
                    page: Annotated[PageRequest, Depends(page_request)]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        await app_or_404(conn, app_id)
        rows = await store.audit_page(conn, "app", str(app_id), limit=page.fetch, offset=page.offset)
        refs = await people(conn, (r["actor"] for r in rows), caller.subject)
    return {"appId": str(app_id), **page.page(rows, total=counted(rows, page.offset), item=lambda r: audit_json(r, refs))}


@router.get("/school-units/{school_unit_id}/apps", summary="The apps a school unit may use today (free use or a valid licence, and a status that allows use)",
            description="Ordered by name.", response_model=SchoolApps, responses=documented(401, 403, 404))
async def school_apps(request: Request, school_unit_id: UUID, caller: Annotated[Principal, Depends(require(*access.STAFF))],
                      page: Annotated[PageRequest, Depends(page_request)], lang: Language | None = None) -> dict[str, Any]:
    today, chosen = city_today(), language(request, lang)
    async with request.app.state.pool.acquire() as conn:
        school, statuses, rows = await usable_at(conn, school_unit_id, today)
        shown = rows[page.offset: page.offset + page.fetch]
        refs = await people(conn, app_actors(shown), caller.subject)

    def item(r: asyncpg.Record) -> dict[str, Any]:
        body = app_json(r, statuses[r["status"]], chosen, today, refs)
        because = "free_use" if r["free_use"] else "licence"
        body["availableBecause"] = {"code": because, "label": vocab.AVAILABLE_BECAUSE[because][chosen]}
        return body

    return {"schoolUnit": school_ref(school["id"], school["display_name"], school["school_unit_code"]), "asOf": today.isoformat(),
            **page.slice(rows, item=item)}
