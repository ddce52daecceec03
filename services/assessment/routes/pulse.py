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

from services.assessment import access, domain, store
from services.assessment.framework import Language, published
from services.assessment.settings import SOURCE
from services.assessment.usecases import pulse as usecases
from services.assessment.usecases.assessments import load_readable
from shared.i18n import language
from shared.auth import Principal, require
from shared.problems import Problem, documented
from shared.uow import unit_of_work

router = APIRouter(tags=["pulse"])


class PulseAnswers(BaseModel):
    group: Literal["staff", "pupils"] = Field(examples=["staff"])
    answers: dict[str, int] = Field(description="heading id → level 1-5; headings left out count as 'do not know'",
                                    examples=[{"infrastruktur": 4, "digital-kompetens": 2, "uppfoljning": 3}])


@router.get("/pulse/{code}", summary="The pulse questionnaire for a school (no login)", responses=documented(404))
async def get_pulse(request: Request, code: str, lang: Annotated[Language | None, Query(description="sv or en")] = None) -> dict[str, Any]:
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
        "deadline": row["effective_deadline"].isoformat(),
        "groups": list(domain.pulse_groups(school.school_types)),
        "scale": [{"level": s.level, "label": s.label(chosen)} for s in framework.scale.levels],
        "headings": [{"id": h.id, "title": h.title(chosen), "description": h.description(chosen)} for h in sorted(framework.headings, key=lambda h: h.order)],
        "privacy": {"sv": "Svaren är anonyma. Inga enskilda svar sparas eller visas; grupper med färre än 5 svarande redovisas inte.",
                    "en": "Answers are anonymous. No individual answer is stored or shown; groups with fewer than 5 respondents are not reported."}[chosen],
    }


@router.post("/pulse/{code}", status_code=202, summary="Answer the pulse anonymously (no login)", responses=documented(404, 409, 422))
async def answer_pulse(request: Request, code: str, body: PulseAnswers) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        await usecases.record_pulse_answer(uow, code, body.group, body.answers)
    return {"recorded": True}


@router.get("/assessments/{assessment_id}/pulse", summary="Pulse results per heading against the principal's view (groups under 5 suppressed)",
            responses=documented(401, 403, 404))
async def pulse_results(request: Request, assessment_id: UUID, caller: Annotated[Principal, Depends(require(*access.READERS))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        a = await load_readable(conn, caller, assessment_id)
        answers = await store.answers(conn, a.id)
        tally = await store.pulse_tally(conn, a.row["campaign_id"], a.school.id)
    principal = domain.heading_results(a.framework, a.school.school_types, answers)
    return {"assessmentId": str(a.id), **domain.pulse_summary(a.framework, tally, principal, domain.pulse_groups(a.school.school_types))}
