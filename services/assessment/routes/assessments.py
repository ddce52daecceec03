"""A school unit's self-assessment: read it, save answers as you go, submit, reopen, guidance, audit.

Concurrent saves: last write per indicator wins. Each answer is its own row and a save locks the
assessment for its transaction, so two saves of different indicators both persist and a save
racing a submission either lands before it or is refused after it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.assessment import access, domain, store
from services.assessment.framework import Framework, Language, published
from services.assessment.views import action_json, answer_json, assessment_summary, heading_json
from shared.i18n import language
from shared import outbox
from shared.audit import trail_json
from shared.auth import Principal, Role, require
from shared.events.assessment import AssessmentReopened, AssessmentSubmitted
from shared.privacy import vault
from shared.problems import Problem, documented, rejected

router = APIRouter(tags=["assessments"])
SOURCE = "skolit.assessment"


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
    deadline: date | None = Field(default=None, description="more time for this school unit than the round's deadline", examples=["2027-04-30"])


class Loaded:
    """An assessment with its school unit and framework version."""

    def __init__(self, row: asyncpg.Record, school: domain.KnownSchool, framework: Framework) -> None:
        self.row, self.school, self.framework = row, school, framework

    @property
    def id(self) -> UUID:
        return self.row["id"]


async def load(conn: asyncpg.Connection, assessment_id: UUID, *, lock: bool = False) -> Loaded:
    row = await store.get_assessment(conn, assessment_id, lock=lock)
    if row is None:
        raise Problem(404, "Not found", f"assessment {assessment_id} does not exist")
    school = await access.known_school(conn, row["school_unit"])
    return Loaded(row, school, published()[row["framework_version"]])


async def load_readable(conn: asyncpg.Connection, caller: Principal, assessment_id: UUID) -> Loaded:
    a = await load(conn, assessment_id)
    access.ensure_reader(caller, a.school)
    return a


def ensure_open(a: Loaded, now: datetime) -> None:
    """Refuses changes to a locked assessment, a closed round, or after the deadline."""
    if a.row["status"] == "submitted":
        raise rejected(409, f"assessment {a.id} is submitted and locked; a district admin can reopen it", "status")
    if a.row["campaign_status"] != "open":
        raise rejected(409, f"the round {a.row['campaign_id']} is closed", "campaign.status")
    if domain.deadline_passed(a.row["effective_deadline"], now):
        raise rejected(409, f"the deadline {a.row['effective_deadline'].isoformat()} has passed", "deadline")


async def reload(conn: asyncpg.Connection, a: Loaded) -> Loaded:
    """The assessment's row again after a change (its school and framework stay as they were)."""
    row = await store.get_assessment(conn, a.id)
    assert row is not None
    return Loaded(row, a.school, a.framework)


async def assessment_json(conn: asyncpg.Connection, a: Loaded, rows: list[asyncpg.Record] | None = None) -> dict[str, Any]:
    """``rows``: the answer rows when the caller has just read them in the same transaction."""
    if rows is None:
        rows = await store.answer_rows(conn, a.id)
    answers = store.to_answers(rows)
    body = assessment_summary(a.row)
    body["schoolUnit"] = {"id": str(a.school.id), "districtId": str(a.school.district) if a.school.district else None, "schoolTypes": list(a.school.school_types)}
    body["indicators"] = [i.id for i in a.framework.indicators_for(a.school.school_types)]
    body["answers"] = [answer_json(r) for r in rows]
    body["missingRequired"] = domain.missing_required(a.framework, a.school.school_types, answers)
    body["headings"] = [heading_json(r) for r in domain.heading_results(a.framework, a.school.school_types, answers)]
    # last year's action plan, for follow-up in this year's assessment
    body["openActions"] = [action_json(r) for r in await store.school_actions(conn, a.school.id, open_only=True)]
    body["pulse"] = {"groups": list(domain.pulse_groups(a.school.school_types)), "code": a.row["pulse_code"]}
    return body


@router.get("/assessments/{assessment_id}", summary="A school unit's assessment: answers, what is missing, levels per heading, open actions",
            responses=documented(401, 403, 404))
async def get_assessment(request: Request, assessment_id: UUID, caller: Annotated[Principal, Depends(require(*access.READERS))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        a = await load_readable(conn, caller, assessment_id)
        return await assessment_json(conn, a)


@router.get("/campaigns/{campaign_id}/school-units/{school_unit_id}/assessment", summary="A school unit's assessment in a round",
            responses=documented(401, 403, 404))
async def find_assessment(request: Request, campaign_id: UUID, school_unit_id: UUID, caller: Annotated[Principal, Depends(require(*access.READERS))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        school = await access.known_school(conn, school_unit_id)
        access.ensure_reader(caller, school)
        row = await store.find_assessment(conn, campaign_id, school_unit_id)
        if row is None:
            raise Problem(404, "Not found", f"school unit {school_unit_id} is not part of campaign {campaign_id}")
        return await assessment_json(conn, Loaded(row, school, published()[row["framework_version"]]))


@router.put(
    "/assessments/{assessment_id}/answers",
    summary="Save answers as you go (the Rektor of the school unit)",
    description="Saves the answers sent and leaves the others as they are; an answer with neither level nor notRelevant clears it. "
                "Every answer is checked first: one bad answer saves nothing. Concurrent saves: last write per indicator wins.",
    responses=documented(401, 403, 404, 409, 422),
)
async def save_answers(request: Request, assessment_id: UUID, body: AnswersIn, caller: Annotated[Principal, Depends(require(Role.PRINCIPAL))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        a = await load(conn, assessment_id, lock=True)
        await access.ensure_rektor(conn, caller, a.school)
        ensure_open(a, datetime.now(UTC))
        inputs = [domain.AnswerInput(x.indicatorId, x.level, x.notRelevant, x.comment, tuple(x.evidence), n) for n, x in enumerate(body.answers)]
        try:
            checked = domain.check_answers(a.framework, a.school.school_types, inputs)
        except domain.Rejected as exc:
            raise rejected(exc.status, str(exc), exc.field) from exc
        await store.save_answers(conn, a.id, checked, caller.subject)
        await store.audit(conn, caller.subject, "answers.saved", "assessment", str(a.id), {
            "answers": {k: {"level": v.level, "notRelevant": v.not_relevant, "comment": v.comment, "evidence": list(v.evidence)} for k, v in checked.items()},
        })
        return await assessment_json(conn, await reload(conn, a))


@router.post("/assessments/{assessment_id}/submit", summary="Submit and lock the assessment (the Rektor of the school unit)",
             description="Needs every required indicator answered, before the deadline, in an open round. Publishes AssessmentSubmitted.",
             responses=documented(401, 403, 404, 409, 422))
async def submit(request: Request, assessment_id: UUID, caller: Annotated[Principal, Depends(require(Role.PRINCIPAL))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        a = await load(conn, assessment_id, lock=True)
        await access.ensure_rektor(conn, caller, a.school)
        ensure_open(a, datetime.now(UTC))
        rows = await store.answer_rows(conn, a.id)
        answers = store.to_answers(rows)
        missing = domain.missing_required(a.framework, a.school.school_types, answers)
        if missing:
            raise rejected(422, f"{len(missing)} required indicator(s) are not answered: {', '.join(missing)}", "answers")
        done = await store.mark_submitted(conn, a.id, caller.subject)
        groups = domain.pulse_groups(a.school.school_types)
        tally = await store.pulse_tally(conn, a.row["campaign_id"], a.school.id)
        indicators, headings, pulse = domain.submission_results(a.framework, a.school.school_types, answers, tally, groups)
        await store.audit(conn, caller.subject, "assessment.submitted", "assessment", str(a.id), {"submission": done["submissions"]})
        await outbox.add(conn, SOURCE, AssessmentSubmitted(
            assessmentId=a.id, campaignId=a.row["campaign_id"], schoolUnitId=a.school.id, districtId=a.school.district, year=a.row["year"],
            frameworkVersion=a.framework.version, submittedAt=done["submitted_at"], submittedBy=await vault.seal(conn, caller.subject), submission=done["submissions"],
            indicators=indicators, headings=headings, pulse=pulse,
        ))
        return await assessment_json(conn, await reload(conn, a), rows)


@router.post("/assessments/{assessment_id}/reopen", summary="Reopen a submitted assessment, with a reason (a district admin of the school's district)",
             responses=documented(401, 403, 404, 409, 422))
async def reopen(request: Request, assessment_id: UUID, body: Reopening, caller: Annotated[Principal, Depends(require(Role.DISTRICT_ADMIN))]) -> dict[str, Any]:
    now = datetime.now(UTC)
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        a = await load(conn, assessment_id, lock=True)
        access.ensure_district_admin(caller, a.school)
        if a.row["status"] != "submitted":
            raise rejected(409, f"assessment {a.id} is not submitted; there is nothing to reopen", "status")
        if a.row["campaign_status"] != "open":
            raise rejected(409, f"the round {a.row['campaign_id']} is closed", "campaign.status")
        if body.deadline is not None and body.deadline < domain.city_today(now):
            raise rejected(422, f"the new deadline {body.deadline.isoformat()} has already passed", "deadline")
        await store.mark_reopened(conn, a.id, body.deadline)
        await store.audit(conn, caller.subject, "assessment.reopened", "assessment", str(a.id),
                          {"reason": body.reason, "deadline": body.deadline.isoformat() if body.deadline else None})
        a = await reload(conn, a)
        await outbox.add(conn, SOURCE, AssessmentReopened(assessmentId=a.id, campaignId=a.row["campaign_id"], schoolUnitId=a.school.id,
                                                          reopenedBy=await vault.seal_actor(conn, caller.subject), reopenedAt=now, deadline=a.row["effective_deadline"]))
        return await assessment_json(conn, a)


@router.get("/assessments/{assessment_id}/guidance", summary="Per heading: current level, what the next level looks like, suggested actions in order",
            description="Available while drafting too (`final` is false until submitted), so a principal sees the way forward as levels are chosen.",
            responses=documented(401, 403, 404, 422))
async def get_guidance(request: Request, assessment_id: UUID, caller: Annotated[Principal, Depends(require(*access.READERS))],
                       lang: Annotated[Language | None, Query(description="sv or en")] = None) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        a = await load_readable(conn, caller, assessment_id)
        answers = await store.answers(conn, a.id)
    chosen = language(request, lang)
    return {"assessmentId": str(a.id), "frameworkVersion": a.framework.version, "language": chosen, "final": a.row["status"] == "submitted",
            "headings": domain.guidance(a.framework, a.school.school_types, answers, chosen)}


@router.get("/assessments/{assessment_id}/audit", summary="Every change to the assessment: who, what, when", responses=documented(401, 403, 404))
async def get_audit(request: Request, assessment_id: UUID,
                    caller: Annotated[Principal, Depends(require(Role.PRINCIPAL, Role.DISTRICT_ADMIN, Role.CITY_ADMIN))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        a = await load_readable(conn, caller, assessment_id)
        rows = await store.audit_trail(conn, "assessment", str(a.id))
    return {"assessmentId": str(a.id), "items": trail_json(rows)}
