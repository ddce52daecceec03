"""The anonymous pulse over HTTP: staff (and upper-secondary pupils) rate the school on the same headings
(the answer is a use case in usecases/pulse.py).

Answering needs no account, only the school's code for the round, and stores no identity: only a
count per heading and level goes into the database. Results show a group only from five
respondents up, and say per heading where it sees the school differently from the principal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.assessment import access, domain, schemas, store
from services.assessment.framework import Language, published
from services.assessment.settings import SOURCE
from services.assessment.usecases import pulse as usecases
from services.assessment.usecases.assessments import load_readable
from services.assessment.vocabulary import PULSE_PRIVACY, heading_label
from shared.auth import Principal, require
from shared.i18n import language
from shared.problems import Problem, documented
from shared.uow import unit_of_work

router = APIRouter(tags=["pulse"])


class PulseAnswers(BaseModel):
    group: Literal["staff", "pupils"] = Field(examples=["staff"])
    answers: dict[str, int] = Field(description="heading id → level 1-5; headings left out count as 'do not know'",
                                    examples=[{"infrastruktur": 4, "digital-kompetens": 2, "uppfoljning": 3}])


Lang = Annotated[Language | None, Query(description="sv or en (else Accept-Language; Swedish by default)", examples=["en"])]


@router.get("/pulse/{code}", summary="The pulse questionnaire for a school (no login)", response_model=schemas.PulseQuestionnaire,
            responses=documented(404, 422))
async def get_pulse(request: Request, code: str, lang: Lang = None) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        row, school = await usecases.open_pulse(conn, code)
    framework = published()[row["framework_version"]]
    chosen = language(request, lang)
    try:
        usecases.refuse_if_closed(row, datetime.now(UTC))
        is_open = True
    except Problem:
        is_open = False
    return {
        "open": is_open,
        "deadline": row["effective_deadline"],
        "language": chosen,
        "groups": list(domain.pulse_groups(school.school_types)),
        "scale": [{"level": s.level, "label": s.label(chosen)} for s in framework.scale.levels],
        "headings": [{"id": h.id, "title": h.title(chosen), "description": h.description(chosen)} for h in sorted(framework.headings, key=lambda h: h.order)],
        "privacy": PULSE_PRIVACY[chosen],
    }


@router.post("/pulse/{code}", status_code=202, summary="Answer the pulse anonymously (no login)", response_model=schemas.PulseRecorded,
             responses=documented(400, 404, 409, 413, 422))
async def answer_pulse(request: Request, code: str, body: PulseAnswers) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        await usecases.record_pulse_answer(uow, code, body.group, body.answers)
    return {"recorded": True}


@router.get("/assessments/{assessment_id}/pulse", summary="Pulse results per heading against the principal's view (groups under 5 suppressed)",
            response_model=schemas.PulseResults, responses=documented(401, 403, 404, 422))
async def pulse_results(request: Request, assessment_id: UUID, caller: Annotated[Principal, Depends(require(*access.READERS))],
                        lang: Lang = None) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        a = await load_readable(conn, caller, assessment_id)
        answers = await store.answers(conn, a.id)
        tally = await store.pulse_tally(conn, a.row["campaign_id"], a.school.id)
    chosen = language(request, lang)
    principal = domain.heading_results(a.framework, a.school.school_types, answers)
    summary = domain.pulse_summary(a.framework, tally, principal, domain.pulse_groups(a.school.school_types))
    for group in summary["groups"]:
        for h in group["headings"]:
            h["heading"] = heading_label(h["heading"], chosen, a.framework)
    return {"assessmentId": a.id, "language": chosen, **summary}
