"""App records: publish, describe, the data-protection facts, the district-defined status, the audit trail."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID, uuid4

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, ValidationError

from services.catalog import access, domain, store
from services.catalog.changes import SOURCE, change_status, lapse_if_unprotected
from services.catalog.domain import AppInput, DataProtection, Rejected, StatusDefinition
from services.catalog.publishing import app_facts
from services.catalog.views import app_json
from shared import outbox
from shared.audit import trail_json
from shared.auth import Principal, require
from shared.clock import city_today
from shared.events.catalog import AppChanged, AppPublished
from shared.i18n import Language, language
from shared.privacy import vault
from shared.problems import Problem, documented, invalid, rejected

router = APIRouter(tags=["apps"])


class NewApp(AppInput):
    status: str = Field(default=domain.INITIAL_STATUS, description="the district-defined status to start with", examples=["under_review"])


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


def problem_of(exc: Rejected) -> Problem:
    return rejected(exc.status, str(exc), exc.field)


async def load_app(conn: asyncpg.Connection, app_id: UUID, *, lock: bool = False) -> asyncpg.Record:
    row = await store.get_app(conn, app_id, lock=lock)
    if row is None:
        raise Problem(404, "Not found", f"app {app_id} is not in the programbank")
    return row


async def ensure_unique(conn: asyncpg.Connection, name: str, supplier: str, other_than: UUID | None = None) -> None:
    existing = await store.find_duplicate(conn, name, supplier, other_than)
    if existing is not None:
        raise Problem(409, "Conflict", f"the programbank already has {name!r} from {supplier!r}", field="name", existingId=str(existing))


def initial_status(statuses: dict[str, StatusDefinition], code: str, app: AppInput) -> StatusDefinition:
    wanted = statuses.get(code)
    if wanted is None:
        raise rejected(422, f"unknown status {code!r}; statuses: {', '.join(statuses)}", "status")
    if code != domain.INITIAL_STATUS:
        try:
            domain.check_status_change(statuses[domain.INITIAL_STATUS], wanted, app.dataProtection, app.grades, city_today())
        except Rejected as exc:
            raise problem_of(exc) from None
    return wanted


async def publish_app(conn: asyncpg.Connection, app: AppInput, status: StatusDefinition, actor: str, *,
                      sealed_actor: str | None = None) -> asyncpg.Record:
    """Inserts a new app with its audit row and AppPublished event (the caller holds the transaction).
    ``sealed_actor``: the actor as events carry it, when the caller sealed it already (an import)."""
    app_id, today = uuid4(), city_today()
    await store.insert_app(conn, app_id, app, status.code, actor, today)
    await store.audit(conn, actor, "app.published", "app", str(app_id), {"name": app.name, "status": status.code})
    row = await load_app(conn, app_id)
    await outbox.add(conn, SOURCE, AppPublished(**app_facts(row, status, today), publishedBy=sealed_actor or await vault.seal_actor(conn, actor)))
    return row


@router.post("/apps", status_code=201, summary="Add an app or learning resource to the programbank", responses=documented(401, 403, 409, 422))
async def create_app(request: Request, body: NewApp, caller: Annotated[Principal, Depends(require(*access.EDITORS))]) -> dict[str, Any]:
    app = AppInput.model_validate(body.model_dump(exclude={"status"}))
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        statuses = await store.statuses(conn)
        status = initial_status(statuses, body.status, app)
        await ensure_unique(conn, app.name, app.supplier)
        row = await publish_app(conn, app, status, caller.subject)
    return app_json(row, status, language(request, None), city_today())


@router.get("/apps/{app_id}", summary="One app, with its data protection and (for a school) whether the school may use it",
            responses=documented(401, 403, 404))
async def get_app(request: Request, app_id: UUID, caller: Annotated[Principal, Depends(require(*access.STAFF))],
                  schoolUnitId: UUID | None = None, lang: Language | None = None) -> dict[str, Any]:
    today = city_today()
    async with request.app.state.pool.acquire() as conn:
        row = await load_app(conn, app_id)
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
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        row = await load_app(conn, app_id, lock=True)
        if body.expectedVersion is not None and body.expectedVersion != row["version"]:
            raise rejected(409, f"the app has changed since version {body.expectedVersion} (now {row['version']}); reload it and try again", "expectedVersion")
        statuses = await store.statuses(conn)
        if statuses[row["status"]].retires:
            raise rejected(409, "the app is retired and can no longer be changed", "status")
        before = store.app_input(row).model_dump(mode="json")
        try:
            app = AppInput.model_validate({**before, **body.model_dump(exclude_unset=True, exclude={"expectedVersion"})})
        except ValidationError as exc:
            raise invalid(exc) from None
        changed = domain.changed_fields(before, app.model_dump(mode="json"))
        if changed:
            await ensure_unique(conn, app.name, app.supplier, other_than=app_id)
            await store.update_app(conn, app_id, app, caller.subject, today)
            await store.audit(conn, caller.subject, "app.changed", "app", str(app_id), {"fields": changed})
            row = await load_app(conn, app_id)
            await outbox.add(conn, SOURCE, AppChanged(**app_facts(row, statuses[row["status"]], today), changedFields=changed,
                                                      changedBy=await vault.seal_actor(conn, caller.subject)))
    return app_json(row, statuses[row["status"]], language(request, None), today)


@router.put("/apps/{app_id}/data-protection", summary="Record the app's data-protection facts (DPA, data, countries, DPIA)",
            description="An approval that the new facts no longer support lapses at once to `dpa_lapsed`.",
            responses=documented(401, 403, 404, 409, 422))
async def set_data_protection(request: Request, app_id: UUID, body: DataProtection,
                              caller: Annotated[Principal, Depends(require(*access.PRIVACY))]) -> dict[str, Any]:
    today = city_today()
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        row = await load_app(conn, app_id, lock=True)
        statuses = await store.statuses(conn)
        if statuses[row["status"]].retires:
            raise rejected(409, "the app is retired and can no longer be changed", "status")
        current = store.app_input(row)
        before = current.dataProtection.model_dump(mode="json")
        changed = [f"dataProtection.{f}" for f in domain.changed_fields(before, body.model_dump(mode="json"))]
        if changed:
            await store.update_app(conn, app_id, current.model_copy(update={"dataProtection": body}), caller.subject, today)
            await store.audit(conn, caller.subject, "app.data-protection-changed", "app", str(app_id), {"fields": changed, "after": body.model_dump(mode="json")})
            row = await load_app(conn, app_id)
            await outbox.add(conn, SOURCE, AppChanged(**app_facts(row, statuses[row["status"]], today), changedFields=changed,
                                                      changedBy=await vault.seal_actor(conn, caller.subject)))
            row = await lapse_if_unprotected(conn, row, statuses, today, "the app's data protection no longer supports its approval")
    return app_json(row, statuses[row["status"]], language(request, None), today)


@router.post("/apps/{app_id}/status", summary="Set the app's district-defined status (approved, pilot only, retired, ...)",
             description="A status that allows use needs a signed, valid DPA when the app receives personal data, a safeguard for "
                         "transfers outside the EU/EEA and a DPIA for sensitive data.",
             responses=documented(401, 403, 404, 409, 422))
async def set_status(request: Request, app_id: UUID, body: StatusChange, caller: Annotated[Principal, Depends(require(*access.STATUS_SETTERS))]) -> dict[str, Any]:
    today = city_today()
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        row = await load_app(conn, app_id, lock=True)
        statuses = await store.statuses(conn)
        wanted = statuses.get(body.status)
        if wanted is None:
            raise rejected(422, f"unknown status {body.status!r}; statuses: {', '.join(statuses)}", "status")
        current = statuses[row["status"]]
        try:
            domain.check_status_change(current, wanted, store.data_protection(row), row["grades"], today)
        except Rejected as exc:
            raise problem_of(exc) from None
        row = await change_status(conn, app_id, current, wanted, actor=caller.subject, reason=body.reason, today=today)
    return app_json(row, wanted, language(request, None), today)


@router.get("/apps/{app_id}/audit", summary="Every change to the app: who, what, when", responses=documented(401, 403, 404))
async def app_audit(request: Request, app_id: UUID, caller: Annotated[Principal, Depends(require(*access.STATUS_SETTERS))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        await load_app(conn, app_id)
        rows = await store.audit_trail(conn, "app", str(app_id))
    return {"appId": str(app_id), "items": trail_json(rows)}


async def usable_at(request: Request, school_unit_id: UUID, today: date) -> tuple[asyncpg.Record, dict[str, StatusDefinition], list[asyncpg.Record]]:
    """The school unit, the statuses, and the apps it may use today (for staff and for guardians)."""
    async with request.app.state.pool.acquire() as conn:
        school = await access.known_school(conn, school_unit_id)
        statuses = await store.statuses(conn)
        rows = await store.approved_for_school(conn, school_unit_id, list(school["school_types"]), today)
    return school, statuses, rows


@router.get("/school-units/{school_unit_id}/apps", summary="The apps a school unit may use today (free use or a valid licence, and a status that allows use)",
            responses=documented(401, 403, 404))
async def school_apps(request: Request, school_unit_id: UUID, caller: Annotated[Principal, Depends(require(*access.STAFF))],
                      lang: Language | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> dict[str, Any]:
    today, chosen = city_today(), language(request, lang)
    school, statuses, rows = await usable_at(request, school_unit_id, today)
    items = []
    for r in rows[:limit]:
        body = app_json(r, statuses[r["status"]], chosen, today)
        body["availableBecause"] = "free use" if r["free_use"] else "licence"
        items.append(body)
    return {"schoolUnitId": str(school_unit_id), "schoolUnitName": school["display_name"], "asOf": today.isoformat(), "total": len(rows), "items": items}
