"""History: every submitted assessment of a school unit, with the change per heading and indicator
since the one before (old answers read through the framework's carry-forward mapping)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Request

from services.assessment import access, domain, store
from services.assessment.framework import published
from services.assessment.views import assessment_summary, heading_json
from shared.audit import trail_json
from shared.auth import Principal, Role, require
from shared.problems import Problem, documented

router = APIRouter(tags=["history"])


async def school_history(conn: asyncpg.Connection, school: domain.KnownSchool) -> list[dict[str, Any]]:
    versions = published()
    out: list[dict[str, Any]] = []
    previous: tuple[Any, dict[str, domain.Answer]] | None = None
    for row in await store.school_assessments(conn, school.id, submitted_only=True):
        framework = versions[row["framework_version"]]
        answers = await store.answers(conn, row["id"])
        results = domain.heading_results(framework, school.school_types, answers)
        entry = assessment_summary(row)
        entry["headings"] = [heading_json(r) for r in results]
        entry["changes"] = None
        if previous is not None:
            prev_row, prev_answers = previous
            chain = domain.version_chain(versions, prev_row["framework_version"], framework.version)
            before = domain.carry_forward(chain, prev_answers, source=str(prev_row["id"])) if chain else {}
            before_results = {r.heading: r for r in domain.heading_results(framework, school.school_types, before)}
            entry["changes"] = {
                "since": str(prev_row["id"]),
                "headings": [{"heading": r.heading, "previous": before_results[r.heading].mean, "current": r.mean,
                              "change": _change(before_results[r.heading].mean, r.mean)}
                             for r in results],
                "indicators": domain.indicator_changes(framework, before, answers),
            }
        out.append(entry)
        previous = (row, answers)
    return out


@router.get("/school-units/{school_unit_id}/assessments", summary="A school unit's submitted assessments over the years, with changes",
            responses=documented(401, 403, 404))
async def get_school_history(request: Request, school_unit_id: UUID, caller: Annotated[Principal, Depends(require(*access.READERS))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        school = await access.known_school(conn, school_unit_id)
        access.ensure_reader(caller, school)
        return {"schoolUnitId": str(school_unit_id), "items": await school_history(conn, school)}


@router.get("/districts/{district_id}/assessments", summary="Every school unit of a district with its submitted assessments and changes",
            responses=documented(401, 403, 404))
async def get_district_history(request: Request, district_id: UUID,
                               caller: Annotated[Principal, Depends(require(Role.DISTRICT_ADMIN, Role.CITY_ADMIN))]) -> dict[str, Any]:
    if not caller.has_any(Role.CITY_ADMIN) and str(district_id) not in caller.districts:
        raise Problem(403, "Forbidden", f"district {district_id} is not one of your districts")
    async with request.app.state.pool.acquire() as conn:
        rows = await store.district_schools(conn, district_id)
        if not rows:
            raise Problem(404, "Not found", f"district {district_id} has no known school units")
        items = []
        for r in rows:
            school = domain.KnownSchool(r["id"], district_id, tuple(r["school_types"]))
            items.append({"schoolUnitId": str(r["id"]), "displayName": r["display_name"], "assessments": await school_history(conn, school)})
    return {"districtId": str(district_id), "items": items}


@router.get("/actions/{action_id}/audit", summary="Every change to an action: who, what, when", responses=documented(401, 403, 404))
async def get_action_audit(request: Request, action_id: UUID,
                           caller: Annotated[Principal, Depends(require(Role.PRINCIPAL, Role.DISTRICT_ADMIN, Role.CITY_ADMIN))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        row = await store.get_action(conn, action_id)
        if row is None:
            raise Problem(404, "Not found", f"action {action_id} does not exist")
        access.ensure_reader(caller, await access.known_school(conn, row["school_unit"]))
        rows = await store.audit_trail(conn, "action", str(action_id))
    return {"actionId": str(action_id), "items": trail_json(rows)}


def _change(previous: float | None, current: float | None) -> float | None:
    return round(current - previous, 2) if current is not None and previous is not None else None
