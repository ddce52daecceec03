"""History: every submitted assessment of a school unit, with the change per heading and indicator
since the one before (old answers read through the framework's carry-forward mapping)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request

from services.assessment import access, domain, schemas, store
from services.assessment.framework import Language, published
from services.assessment.views import Show, assessment_summary, audit_json, heading_json, show, total
from shared.auth import Principal, Role, require
from shared.http.pages import PageRequest, page_request
from shared.i18n import language
from shared.problems import Problem, documented

router = APIRouter(tags=["history"])
Lang = Annotated[Language | None, Query(description="sv or en, for the titles (else Accept-Language; Swedish by default)", examples=["en"])]


async def school_history(conn: asyncpg.Connection, school: domain.KnownSchool, caller: Principal, lang: Language) -> list[dict[str, Any]]:
    """The school unit's submitted assessments, oldest first: each entry's changes need the one before."""
    versions = published()
    rows = await store.school_assessments(conn, school.id, submitted_only=True)
    shown = await show(conn, lang, caller.subject, [r["submitted_by"] for r in rows])
    out: list[dict[str, Any]] = []
    previous: tuple[Any, dict[str, domain.Answer]] | None = None
    for row in rows:
        framework = versions[row["framework_version"]]
        answers = await store.answers(conn, row["id"])
        results = domain.heading_results(framework, school.school_types, answers)
        entry = assessment_summary(row, shown)
        entry["headings"] = [heading_json(r, shown, framework) for r in results]
        entry["changes"] = None
        if previous is not None:
            prev_row, prev_answers = previous
            chain = domain.version_chain(versions, prev_row["framework_version"], framework.version)
            before = domain.carry_forward(chain, prev_answers, source=str(prev_row["id"])) if chain else {}
            before_results = {r.heading: r for r in domain.heading_results(framework, school.school_types, before)}
            entry["changes"] = {
                "since": prev_row["id"],
                "headings": [{"heading": shown.heading(r.heading, framework), "previous": before_results[r.heading].mean, "current": r.mean,
                              "change": _change(before_results[r.heading].mean, r.mean)}
                             for r in results],
                "indicators": [_indicator_change(c, shown, framework) for c in domain.indicator_changes(framework, before, answers)],
            }
        out.append(entry)
        previous = (row, answers)
    return out


def _indicator_change(change: dict[str, Any], shown: Show, framework: Any) -> dict[str, Any]:
    return change | {"indicatorTitle": shown.indicator(change["indicatorId"], framework), "heading": shown.heading(change["heading"], framework)}


@router.get("/school-units/{school_unit_id}/assessments", summary="A school unit's submitted assessments over the years, oldest first, with changes",
            response_model=schemas.SchoolHistory, responses=documented(401, 403, 404, 422))
async def get_school_history(request: Request, school_unit_id: UUID, caller: Annotated[Principal, Depends(require(*access.READERS))],
                             page: Annotated[PageRequest, Depends(page_request)], lang: Lang = None) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        school = await access.known_school(conn, school_unit_id)
        access.ensure_reader(caller, school)
        history = await school_history(conn, school, caller, language(request, lang))
    return page.slice(history) | {"schoolUnit": school.ref()}


@router.get("/districts/{district_id}/assessments", summary="Every school unit of a district, by name, with its submitted assessments and changes",
            response_model=schemas.DistrictHistory, responses=documented(401, 403, 404, 422))
async def get_district_history(request: Request, district_id: UUID,
                               caller: Annotated[Principal, Depends(require(Role.DISTRICT_ADMIN, Role.CITY_ADMIN))],
                               page: Annotated[PageRequest, Depends(page_request)], lang: Lang = None) -> dict[str, Any]:
    if not caller.has_any(Role.CITY_ADMIN) and str(district_id) not in caller.districts:
        raise Problem(403, "Forbidden", f"district {district_id} is not one of your districts")
    chosen = language(request, lang)
    async with request.app.state.pool.acquire() as conn:
        rows = await store.district_schools(conn, district_id)
        if not rows:
            raise Problem(404, "Not found", f"district {district_id} has no known school units")
        body = page.slice(rows)  # the histories only of the page's school units
        items = []
        for r in body["items"]:
            school = domain.KnownSchool(r["id"], district_id, tuple(r["school_types"]), r["display_name"], r["school_unit_code"])
            items.append({"schoolUnit": school.ref(), "assessments": await school_history(conn, school, caller, chosen)})
    return body | {"items": items, "districtId": district_id}


@router.get("/actions/{action_id}/audit", summary="Every change to an action, oldest first: who, what, when",
            response_model=schemas.ActionAudit, responses=documented(401, 403, 404, 422))
async def get_action_audit(request: Request, action_id: UUID,
                           caller: Annotated[Principal, Depends(require(Role.PRINCIPAL, Role.DISTRICT_ADMIN, Role.CITY_ADMIN))],
                           page: Annotated[PageRequest, Depends(page_request)]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        row = await store.get_action(conn, action_id)
        if row is None:
            raise Problem(404, "Not found", f"action {action_id} does not exist")
        access.ensure_reader(caller, await access.known_school(conn, row["school_unit"]))
        rows = await store.audit_page(conn, "action", str(action_id), limit=page.fetch, offset=page.offset)
        shown = await show(conn, "sv", caller.subject, [r["actor"] for r in rows[: page.limit]])
    return page.page(rows, total=total(rows, page.offset), item=lambda r: audit_json(r, shown)) | {"actionId": action_id}


def _change(previous: float | None, current: float | None) -> float | None:
    return round(current - previous, 2) if current is not None and previous is not None else None
