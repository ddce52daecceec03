"""A school unit's self-assessment over HTTP: read it, save answers as you go, submit, reopen, guidance,
audit. The changes are use cases (usecases/assessments.py); these routes parse, call them in a unit of work
and answer with the assessment as JSON.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.assessment import access, domain, schemas, store
from services.assessment.framework import Language, published
from services.assessment.settings import SOURCE
from services.assessment.usecases import assessments as usecases
from services.assessment.usecases.assessments import Loaded, load_readable
from services.assessment.views import action_json, action_people, answer_json, assessment_summary, audit_json, heading_json, show, total
from shared.auth import Principal, Role, require
from shared.http.pages import PageRequest, page_request
from shared.i18n import language
from shared.problems import Problem, documented
from shared.uow import unit_of_work
from shared.http.dates import PlausibleDate

router = APIRouter(tags=["assessments"])


class AnswerIn(BaseModel):
    indicatorId: str = Field(examples=["INF-01"])
    level: int | None = Field(default=None, ge=1, le=5, description="1-5; leave out (with notRelevant false) to clear the answer", examples=[3])
    notRelevant: bool = False
    comment: str | None = Field(default=None, max_length=4000, examples=["Täckningen i idrottshallen åtgärdas under våren."])
    evidence: list[str] = Field(default_factory=list, max_length=20, description="links to evidence (http/https)",
                                examples=[["https://intranat.stockholm.se/skolan/natverkskarta"]])


class AnswersIn(BaseModel):
    answers: list[AnswerIn] = Field(min_length=1, max_length=200)


class Reopening(BaseModel):
    reason: str = Field(min_length=3, max_length=2000, examples=["Rektor har begärt att få komplettera digital kompetens."])
    deadline: PlausibleDate | None = Field(default=None, description="more time for this school unit than the round's deadline", examples=["2027-04-30"])


Lang = Annotated[Language | None, Query(description="sv or en, for the titles (else Accept-Language; Swedish by default)", examples=["en"])]


async def assessment_json(conn: asyncpg.Connection, caller: Principal, lang: Language, a: Loaded, rows: list[asyncpg.Record] | None = None,
                          headings: list[domain.HeadingResult] | None = None, missing: list[str] | None = None) -> dict[str, Any]:
    """``rows``, ``headings`` and ``missing``: the answer rows and what follows from them when the caller
    has them already from the same transaction (a submission), so nothing is read or computed twice."""
    if rows is None:
        rows = await store.answer_rows(conn, a.id)
    answers = store.to_answers(rows)
    if headings is None:
        headings = domain.heading_results(a.framework, a.school.school_types, answers)
    if missing is None:
        missing = domain.missing_required(a.framework, a.school.school_types, answers)
    # last year's action plan, for follow-up in this year's assessment
    actions = await store.school_actions(conn, a.school.id, open_only=True)
    shown = await show(conn, lang, caller.subject, [a.row["submitted_by"], *(r["updated_by"] for r in rows), *action_people(actions)])
    body = assessment_summary(a.row, shown)
    body["schoolUnit"] = a.school.ref() | {"districtId": a.school.district, "schoolTypes": list(a.school.school_types)}
    body["language"] = lang
    body["indicators"] = [i.id for i in a.framework.indicators_for(a.school.school_types)]
    body["answers"] = [answer_json(r, shown, a.framework) for r in rows]
    body["missingRequired"] = missing
    body["headings"] = [heading_json(r, shown, a.framework) for r in headings]
    body["openActions"] = [action_json(r, shown) for r in actions]
    body["pulse"] = {"groups": list(domain.pulse_groups(a.school.school_types)), "invitations": f"/assessments/{a.id}/pulse/invitations"}
    return body


@router.get("/assessments/{assessment_id}", summary="A school unit's assessment: answers, what is missing, levels per heading, open actions",
            response_model=schemas.Assessment, responses=documented(401, 403, 404, 422))
async def get_assessment(request: Request, assessment_id: UUID, caller: Annotated[Principal, Depends(require(*access.READERS))],
                         lang: Lang = None) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        a = await load_readable(conn, caller, assessment_id)
        return await assessment_json(conn, caller, language(request, lang), a)


@router.get("/campaigns/{campaign_id}/school-units/{school_unit_id}/assessment", summary="A school unit's assessment in a round",
            response_model=schemas.Assessment, responses=documented(401, 403, 404, 422))
async def find_assessment(request: Request, campaign_id: UUID, school_unit_id: UUID, caller: Annotated[Principal, Depends(require(*access.READERS))],
                          lang: Lang = None) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        school = await access.known_school(conn, school_unit_id)
        access.ensure_reader(caller, school)
        row = await store.find_assessment(conn, campaign_id, school_unit_id)
        if row is None:
            raise Problem(404, "Not found", f"school unit {school_unit_id} is not part of campaign {campaign_id}")
        return await assessment_json(conn, caller, language(request, lang), Loaded(row, school, published()[row["framework_version"]]))


@router.put(
    "/assessments/{assessment_id}/answers",
    summary="Save answers as you go (the Rektor of the school unit)",
    description="Saves the answers sent and leaves the others as they are; an answer with neither level nor notRelevant clears it. "
                "Every answer is checked first: one bad answer saves nothing. Concurrent saves: last write per indicator wins.",
    response_model=schemas.Assessment,
    responses=documented(400, 401, 403, 404, 409, 422),
)
async def save_answers(request: Request, assessment_id: UUID, body: AnswersIn, caller: Annotated[Principal, Depends(require(Role.PRINCIPAL))],
                       lang: Lang = None) -> dict[str, Any]:
    inputs = [domain.AnswerInput(x.indicatorId, x.level, x.notRelevant, x.comment, tuple(x.evidence), n) for n, x in enumerate(body.answers)]
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        a = await usecases.save_answers(uow, caller, assessment_id, inputs)
        return await assessment_json(uow.conn, caller, language(request, lang), a)


@router.post("/assessments/{assessment_id}/submit", summary="Submit and lock the assessment (the Rektor of the school unit)",
             description="Needs every required indicator answered, before the deadline, in an open round. Publishes AssessmentSubmitted.",
             response_model=schemas.Assessment, responses=documented(401, 403, 404, 409, 422))
async def submit(request: Request, assessment_id: UUID, caller: Annotated[Principal, Depends(require(Role.PRINCIPAL))], lang: Lang = None) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        done = await usecases.submit_assessment(uow, caller, assessment_id)
        # nothing is missing: the use case refuses a submission otherwise
        return await assessment_json(uow.conn, caller, language(request, lang), done.assessment, done.answer_rows, done.headings, missing=[])


@router.post("/assessments/{assessment_id}/reopen", summary="Reopen a submitted assessment, with a reason (a district admin of the school's district)",
             response_model=schemas.Assessment, responses=documented(400, 401, 403, 404, 409, 422))
async def reopen(request: Request, assessment_id: UUID, body: Reopening, caller: Annotated[Principal, Depends(require(Role.DISTRICT_ADMIN))],
                 lang: Lang = None) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        a = await usecases.reopen_assessment(uow, caller, assessment_id, body.reason, body.deadline)
        return await assessment_json(uow.conn, caller, language(request, lang), a)


@router.get("/assessments/{assessment_id}/guidance", summary="Per heading: current level, what the next level looks like, suggested actions in order",
            description="Available while drafting too (`final` is false until submitted), so a principal sees the way forward as levels are chosen.",
            response_model=schemas.Guidance, responses=documented(401, 403, 404, 422))
async def get_guidance(request: Request, assessment_id: UUID, caller: Annotated[Principal, Depends(require(*access.READERS))],
                       lang: Lang = None) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        a = await load_readable(conn, caller, assessment_id)
        answers = await store.answers(conn, a.id)
    chosen = language(request, lang)
    return {"assessmentId": a.id, "frameworkVersion": a.framework.version, "language": chosen, "final": a.row["status"] == "submitted",
            "headings": domain.guidance(a.framework, a.school.school_types, answers, chosen)}


@router.get("/assessments/{assessment_id}/audit", summary="Every change to the assessment, oldest first: who, what, when",
            response_model=schemas.AssessmentAudit, responses=documented(401, 403, 404, 422))
async def get_audit(request: Request, assessment_id: UUID,
                    caller: Annotated[Principal, Depends(require(Role.PRINCIPAL, Role.DISTRICT_ADMIN, Role.CITY_ADMIN))],
                    page: Annotated[PageRequest, Depends(page_request)]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        a = await load_readable(conn, caller, assessment_id)
        rows = await store.audit_page(conn, "assessment", str(a.id), limit=page.fetch, offset=page.offset)
        shown = await show(conn, "sv", caller.subject, [r["actor"] for r in rows[: page.limit]])
    return page.page(rows, total=total(rows, page.offset), item=lambda r: audit_json(r, shown)) | {"assessmentId": a.id}
