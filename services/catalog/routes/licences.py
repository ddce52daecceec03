"""Licences per school unit: school, group or single, with seats, start and expiry."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.catalog import access, domain, store
from services.catalog.routes.apps import load_app
from services.catalog.views import licence_json
from shared.auth import Principal, Role, require
from shared.clock import city_today
from shared.problems import Problem, documented, rejected

router = APIRouter(tags=["licences"])


class NewLicence(BaseModel):
    appId: UUID
    schoolUnitIds: list[UUID] = Field(min_length=1, max_length=1000, description="one licence per school unit, all or none")
    type: Literal["school", "group", "single"] = Field(examples=["school"])
    seats: int | None = Field(default=None, gt=0, le=100_000, description="needed for group and single licences")
    groupName: str | None = Field(default=None, max_length=200)
    starts: date
    expires: date
    note: str = Field(default="", max_length=1000, description="e.g. the order or agreement number")


@router.post("/licences", status_code=201, summary="Record licences for an app at one or more school units", responses=documented(401, 403, 404, 409, 422))
async def add_licences(request: Request, body: NewLicence, caller: Annotated[Principal, Depends(require(*access.LICENSERS))]) -> dict[str, Any]:
    try:
        domain.check_licence(body.type, body.seats, body.groupName, body.starts, body.expires)
    except domain.Rejected as exc:
        raise rejected(exc.status, str(exc), exc.field) from None
    today = city_today()
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        app = await load_app(conn, body.appId)
        if (await store.statuses(conn))[app["status"]].retires:
            raise rejected(409, f"{app['name']} is retired; it cannot be licensed", "appId")
        known = await store.schools(conn, body.schoolUnitIds)
        unknown = [str(s) for s in body.schoolUnitIds if s not in known]
        if unknown:
            raise rejected(422, "unknown school unit(s): " + ", ".join(unknown), "schoolUnitIds")
        for school in known.values():
            access.ensure_licenser_for(caller, school)
        created = []
        for school_unit in dict.fromkeys(body.schoolUnitIds):
            licence_id = uuid4()
            await store.insert_licence(conn, id=licence_id, app_id=body.appId, school_unit=school_unit, licence_type=body.type, seats=body.seats,
                                       group_name=body.groupName, starts=body.starts, expires=body.expires, note=body.note, actor=caller.subject)
            await store.audit(conn, caller.subject, "licence.added", "licence", str(licence_id), {
                "appId": str(body.appId), "schoolUnitId": str(school_unit), "type": body.type, "seats": body.seats,
                "starts": body.starts.isoformat(), "expires": body.expires.isoformat()})
            row = await store.get_licence(conn, licence_id)
            assert row is not None
            created.append(licence_json(row, today))
    return {"items": created}


@router.get("/licences", summary="Licences of the caller's school units (IT admins: their districts; city admins: all)", responses=documented(401, 403))
async def list_licences(request: Request, caller: Annotated[Principal, Depends(require(*access.STAFF))], appId: UUID | None = None) -> dict[str, Any]:
    everything = caller.has_any(Role.CITY_ADMIN, Role.DATA_PROTECTION)
    async with request.app.state.pool.acquire() as conn:
        schools = [UUID(s) for s in caller.school_units]
        if caller.has_any(Role.IT_ADMIN, Role.DISTRICT_ADMIN) and caller.districts:
            schools += await store.schools_in_districts(conn, [UUID(d) for d in caller.districts])
        rows = await store.licences(conn, app_id=appId, school_units=schools, everything=everything)
    today = city_today()
    return {"items": [licence_json(r, today) for r in rows]}


@router.delete("/licences/{licence_id}", summary="End a licence now (cancelled or registered in error)", responses=documented(401, 403, 404, 409))
async def end_licence(request: Request, licence_id: UUID, caller: Annotated[Principal, Depends(require(*access.LICENSERS))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        row = await store.get_licence(conn, licence_id, lock=True)
        if row is None:
            raise Problem(404, "Not found", f"licence {licence_id} does not exist")
        school = await access.known_school(conn, row["school_unit"])
        access.ensure_licenser_for(caller, school)
        if row["ended_at"] is not None:
            raise rejected(409, f"licence {licence_id} has already ended", "licenceId")
        await store.end_licence(conn, licence_id)
        await store.audit(conn, caller.subject, "licence.ended", "licence", str(licence_id), {"appId": str(row["app_id"]), "schoolUnitId": str(row["school_unit"])})
        row = await store.get_licence(conn, licence_id)
    return licence_json(row, city_today())
