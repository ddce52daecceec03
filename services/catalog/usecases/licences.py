"""Licences per school unit: adding them (all school units or none), ending one, and the advance notice job."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

import asyncpg

from services.catalog import access, domain, store
from services.catalog.queries import app_or_404
from services.catalog.settings import CATALOG
from services.catalog.usecases import refused
from shared.auth import Principal
from shared.events.catalog import LicenceExpiring
from shared.problems import Problem, rejected
from shared.uow import UnitOfWork


async def add_licences(uow: UnitOfWork, caller: Principal, *, app_id: UUID, school_unit_ids: list[UUID], licence_type: str,
                       seats: int | None, group_name: str | None, starts: date, expires: date, note: str) -> list[asyncpg.Record]:
    """One licence per school unit; the caller must be a licenser for every one of them."""
    try:
        domain.check_licence(licence_type, seats, group_name, starts, expires)
    except domain.Rejected as exc:
        raise refused(exc) from None
    app = await app_or_404(uow.conn, app_id)
    if (await store.statuses(uow.conn))[app["status"]].retires:
        raise rejected(409, f"{app['name']} is retired; it cannot be licensed", "appId")
    known = await store.schools(uow.conn, school_unit_ids)
    unknown = [str(s) for s in school_unit_ids if s not in known]
    if unknown:
        raise rejected(422, "unknown school unit(s): " + ", ".join(unknown), "schoolUnitIds")
    for school in known.values():
        access.ensure_licenser_for(caller, school)
    created = []
    for school_unit in dict.fromkeys(school_unit_ids):
        licence_id = uuid4()
        await store.insert_licence(uow.conn, id=licence_id, app_id=app_id, school_unit=school_unit, licence_type=licence_type, seats=seats,
                                   group_name=group_name, starts=starts, expires=expires, note=note, actor=caller.subject)
        await store.audit(uow.conn, caller.subject, "licence.added", "licence", str(licence_id), {
            "appId": str(app_id), "schoolUnitId": str(school_unit), "type": licence_type, "seats": seats,
            "starts": starts.isoformat(), "expires": expires.isoformat()})
        row = await store.get_licence(uow.conn, licence_id)
        assert row is not None
        created.append(row)
    return created


async def end_licence(uow: UnitOfWork, caller: Principal, licence_id: UUID) -> asyncpg.Record:
    """Ends a licence now (cancelled, or registered in error)."""
    row = await store.get_licence(uow.conn, licence_id, lock=True)
    if row is None:
        raise Problem(404, "Not found", f"licence {licence_id} does not exist")
    school = await access.known_school(uow.conn, row["school_unit"])
    access.ensure_licenser_for(caller, school)
    if row["ended_at"] is not None:
        raise rejected(409, f"licence {licence_id} has already ended", "licenceId")
    await store.end_licence(uow.conn, licence_id)
    await store.audit(uow.conn, caller.subject, "licence.ended", "licence", str(licence_id),
                      {"appId": str(row["app_id"]), "schoolUnitId": str(row["school_unit"])})
    ended = await store.get_licence(uow.conn, licence_id)
    assert ended is not None
    return ended


async def run_licence_notices(uow: UnitOfWork, today: date) -> dict[str, int]:
    """One advance notice per licence and end date, ``licence_notice_days`` ahead."""
    rows = await store.licences_needing_notice(uow.conn, today, CATALOG.licence_notice_days)
    for r in rows:
        await uow.publish(LicenceExpiring(
            licenceId=r["id"], appId=r["app_id"], appName=r["app_name"], schoolUnitId=r["school_unit"], licenceType=r["licence_type"],
            seats=r["seats"], expiresOn=r["expires"], daysLeft=(r["expires"] - today).days,
        ))
        await store.mark_notice_sent(uow.conn, r["id"], r["expires"])
    return {"notices": len(rows)}
