"""The anonymous pulse over HTTP: staff (and upper-secondary pupils) rate the school on the same headings
(the rules are use cases in usecases/pulse.py; the design is docs/decisions/0016-anonymous-pulse.md).

The school's Rektor issues single-use invitation codes per group; answering needs no account, only a
code, which then is spent, and stores no identity: only a count per heading and level. Results show
the figures of the last release (a group or heading from five answers, and again only after five more),
to the school's principal and the district's and city's admins, not to the respondents' colleagues.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from services.assessment import access, domain, schemas, store
from services.assessment.framework import Language, published
from services.assessment.settings import SOURCE
from services.assessment.usecases import pulse as usecases
from services.assessment.usecases.assessments import load, load_readable
from services.assessment.vocabulary import PULSE_PRIVACY, heading_label
from shared.auth import Principal, require
from shared.i18n import language
from shared.problems import Problem, documented
from shared.uow import unit_of_work

router = APIRouter(tags=["pulse"])


class PulseAnswers(BaseModel):
    group: Literal["staff", "pupils"] | None = Field(default=None, examples=["staff"],
                                                     description="optional: the invitation decides the group; if given it must match")
    answers: dict[str, int] = Field(description="heading id → level 1-5; headings left out count as 'do not know'",
                                    examples=[{"infrastruktur": 4, "digital-kompetens": 2, "uppfoljning": 3}])


class InvitationRequest(BaseModel):
    group: Literal["staff", "pupils"] = Field(examples=["staff"])
    count: int = Field(ge=1, le=domain.PULSE_MAX_INVITATIONS, examples=[30], description="how many single-use codes to issue")


Code = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{4,64}$", description="a single-use invitation code (letters and digits)",
                           examples=["k7mq3xr9twbh4p"])]
Lang = Annotated[Language | None, Query(description="sv or en (else Accept-Language; Swedish by default)", examples=["en"])]


@router.post("/assessments/{assessment_id}/pulse/invitations", status_code=201,
             summary="Issue single-use pulse invitations for a group (the school's Rektor; the codes are shown once)",
             response_model=schemas.PulseInvitations, responses=documented(401, 403, 404, 409, 422))
async def issue_invitations(request: Request, assessment_id: UUID, body: InvitationRequest,
                            caller: Annotated[Principal, Depends(require(*access.PULSE_ISSUERS))]) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        a = await load(uow.conn, assessment_id, lock=True)
        codes = await usecases.issue_invitations(uow, caller, a, body.group, body.count)
        issued, answered = (await store.pulse_invitation_counts(uow.conn, a.row["campaign_id"], a.school.id)).get(body.group, (0, 0))
    return {"assessmentId": a.id, "group": body.group, "codes": codes, "path": "/pulse/{code}", "issued": issued, "answered": answered}


@router.get("/pulse/{code}", summary="The pulse questionnaire of an invitation (no login)", response_model=schemas.PulseQuestionnaire,
            responses=documented(404, 422))
async def get_pulse(request: Request, code: Code, lang: Lang = None) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        invitation = await usecases.open_pulse(conn, code)
    row = invitation.row
    framework = published()[row["framework_version"]]
    chosen = language(request, lang)
    try:
        usecases.refuse_if_closed(row, datetime.now(UTC))
        is_open = not invitation.used
    except Problem:
        is_open = False
    return {
        "open": is_open,
        "used": invitation.used,
        "group": invitation.group,
        "deadline": row["effective_deadline"],
        "language": chosen,
        "groups": [invitation.group],
        "scale": [{"level": s.level, "label": s.label(chosen)} for s in framework.scale.levels],
        "headings": [{"id": h.id, "title": h.title(chosen), "description": h.description(chosen)} for h in sorted(framework.headings, key=lambda h: h.order)],
        "privacy": PULSE_PRIVACY[chosen],
    }


@router.post("/pulse/{code}", status_code=202, summary="Answer the pulse anonymously, once per invitation (no login)",
             response_model=schemas.PulseRecorded, responses=documented(400, 404, 409, 413, 422))
async def answer_pulse(request: Request, code: Code, body: PulseAnswers) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        await usecases.record_pulse_answer(uow, code, body.group, body.answers)
    return {"recorded": True}


@router.get("/assessments/{assessment_id}/pulse",
            summary="Pulse results per heading against the principal's view, as of the last release (groups under 5 suppressed)",
            response_model=schemas.PulseResults, responses=documented(401, 403, 404, 422))
async def pulse_results(request: Request, assessment_id: UUID, caller: Annotated[Principal, Depends(require(*access.PULSE_READERS))],
                        lang: Lang = None) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        a = await load_readable(conn, caller, assessment_id)
        answers = await store.answers(conn, a.id)
        released = await store.pulse_tally(conn, a.row["campaign_id"], a.school.id, released=True)
        live = await store.pulse_tally(conn, a.row["campaign_id"], a.school.id)
        invitations = await store.pulse_invitation_counts(conn, a.row["campaign_id"], a.school.id)
    chosen = language(request, lang)
    principal = domain.heading_results(a.framework, a.school.school_types, answers)
    summary = domain.pulse_summary(a.framework, released, principal, domain.pulse_groups(a.school.school_types))
    for group in summary["groups"]:
        issued, used = invitations.get(group["group"], (0, 0))
        received = live.respondents.get(group["group"], 0)
        group["invited"], group["answered"] = issued, used
        group["awaitingRelease"] = received - released.respondents.get(group["group"], 0)
        for h in group["headings"]:
            h["heading"] = heading_label(h["heading"], chosen, a.framework)
    return {"assessmentId": a.id, "language": chosen, **summary}
