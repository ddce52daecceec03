"""A school unit's assessment: its answers, what is missing, levels per heading; guidance; the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from services.assessment.schemas.actions import ACTION_EXAMPLE, Action
from services.assessment.schemas.common import (
    examples,
    ASSESSMENT,
    DISTRICT,
    DISTRICT_ADMIN,
    EARLIER_ASSESSMENT,
    HEADING_EXAMPLE,
    REKTOR,
    SCHOOL,
    SUMMARY_EXAMPLE,
    Actor,
    AssessmentSummary,
    CodeLabel,
    Group,
    HeadingResult,
    SchoolUnitRef,
)
from shared.http.models import Page
from shared.i18n import Language


class AssessedSchoolUnit(SchoolUnitRef):
    """The school unit assessed, with what decides its questions: its school types (SS 12000 codes)."""

    districtId: UUID | None
    schoolTypes: list[str]


class Answer(BaseModel):
    indicatorId: str
    indicatorTitle: str = Field(description="the indicator's title in the reader's language")
    level: int | None = Field(description="1-5; null when marked not relevant")
    notRelevant: bool
    comment: str | None
    evidence: list[str] = Field(description="links to evidence")
    carriedFrom: UUID | None = Field(description="the earlier assessment this answer was carried from, unchanged since")
    updatedBy: Actor
    updatedAt: datetime


class PulseAccess(BaseModel):
    groups: list[Group] = Field(description="who may answer the school's anonymous pulse")
    invitations: str = Field(description="where the school's Rektor issues single-use invitation codes (POST {group, count}); "
                                         "each code answers the pulse once, without login, at /pulse/{code}")


_ANSWER = {"indicatorId": "INF-01", "indicatorTitle": "Trådlöst nät i alla lokaler", "level": 3, "notRelevant": False,
           "comment": "Täckningen i idrottshallen åtgärdas under våren.", "evidence": ["https://intranat.malmo.se/rosengardsskolan/natverkskarta"],
           "carriedFrom": None, "updatedBy": REKTOR, "updatedAt": "2027-02-20T14:02:51.870000Z"}


class Assessment(AssessmentSummary):
    """The assessment as the school and its district see it, with titles in the reader's language."""

    model_config = examples(SUMMARY_EXAMPLE | {
        "schoolUnit": SCHOOL | {"districtId": DISTRICT, "schoolTypes": ["FKLASS", "GR", "FTH"]},
        "language": "sv",
        "indicators": ["INF-01", "INF-02", "INF-03"],
        "answers": [_ANSWER, _ANSWER | {"indicatorId": "INF-02", "indicatorTitle": "Digitala verktyg för alla elever", "level": 4, "comment": None,
                                        "evidence": [], "carriedFrom": EARLIER_ASSESSMENT, "updatedBy": {"id": None, "name": "Skolit (överfört från förra årets självskattning)", "protected": False, "kind": "system"}}],
        "missingRequired": ["INF-03"],
        "headings": [HEADING_EXAMPLE],
        "openActions": [ACTION_EXAMPLE],
        "pulse": {"groups": ["staff"], "invitations": f"/assessments/{ASSESSMENT}/pulse/invitations"},
    })

    schoolUnit: AssessedSchoolUnit
    language: Language = Field(description="the language of the titles: ?lang= or Accept-Language, Swedish by default")
    indicators: list[str] = Field(description="the indicators this school unit answers, in heading and indicator order")
    answers: list[Answer]
    missingRequired: list[str] = Field(description="required indicators not answered yet: submitting needs none")
    headings: list[HeadingResult]
    openActions: list[Action] = Field(description="the school unit's open actions, for follow-up in this assessment")
    pulse: PulseAccess


class NextLevelStatement(BaseModel):
    indicatorId: str
    title: str
    description: str = Field(description="what the indicator looks like at the heading's next level")


class SuggestedAction(BaseModel):
    order: int
    indicatorId: str
    title: str
    currentLevel: int
    action: str = Field(description="the step the framework suggests from the current level")
    priority: int = Field(description="1: a prerequisite, do first; 3: advanced")


class HeadingGuidance(BaseModel):
    heading: CodeLabel
    level: int | None
    mean: float | None
    label: str | None = Field(description="the name of the level reached")
    nextLevel: int | None
    nextLevelLabel: str | None
    nextLevelLooksLike: list[NextLevelStatement]
    suggestedActions: list[SuggestedAction]


class Guidance(BaseModel):
    """Per heading: the level reached, what the next one looks like, and what to do, in order."""

    model_config = examples({
        "assessmentId": ASSESSMENT, "frameworkVersion": 2, "language": "sv", "final": False,
        "headings": [{
            "heading": {"code": "infrastruktur", "label": "Infrastruktur för ökad tillgänglighet"}, "level": 3, "mean": 3.4,
            "label": "Delvis etablerad", "nextLevel": 4, "nextLevelLabel": "Etablerad",
            "nextLevelLooksLike": [{"indicatorId": "INF-01", "title": "Trådlöst nät i alla lokaler",
                                    "description": "Nätet fungerar i alla lokaler och fel åtgärdas enligt en fast rutin."}],
            "suggestedActions": [{"order": 1, "indicatorId": "INF-01", "title": "Trådlöst nät i alla lokaler", "currentLevel": 3,
                                  "action": "Bygg ut nätet till de återstående lokalerna och inför en fast rutin för felanmälan.", "priority": 1}],
        }],
    })

    assessmentId: UUID
    frameworkVersion: int
    language: Language
    final: bool = Field(description="false while the assessment is a draft: the levels may still change")
    headings: list[HeadingGuidance]


class AuditEntry(BaseModel):
    at: datetime
    actor: Actor
    action: str = Field(description="what happened, e.g. answers.saved, assessment.submitted, action.changed")
    detail: dict[str, Any] = Field(description="what was sent or changed, as recorded (free-form per action)")


_AUDIT = [
    {"at": "2026-09-01T07:30:00.118000Z", "actor": DISTRICT_ADMIN, "action": "assessment.created",
     "detail": {"campaignId": "3c9a7e21-5f4b-4d8e-a1c2-9b8f7e6d5c4a", "frameworkVersion": 2, "carriedFrom": EARLIER_ASSESSMENT, "carriedAnswers": ["INF-02"]}},
    {"at": "2027-02-20T14:02:51.870000Z", "actor": REKTOR, "action": "answers.saved",
     "detail": {"answers": {"INF-01": {"level": 3, "notRelevant": False, "comment": "Täckningen i idrottshallen åtgärdas under våren.", "evidence": []}}}},
]


class AssessmentAudit(Page[AuditEntry]):
    """Every change to an assessment, oldest first: who, what, when."""

    model_config = examples({"assessmentId": ASSESSMENT, "items": _AUDIT, "limit": 50, "next": None, "total": 2})

    assessmentId: UUID


class ActionAudit(Page[AuditEntry]):
    """Every change to an action, oldest first: who, what, when."""

    model_config = examples({
        "actionId": ACTION_EXAMPLE["id"], "limit": 50, "next": None, "total": 1,
        "items": [{"at": "2027-03-14T13:05:22.104000Z", "actor": REKTOR, "action": "action.created",
                   "detail": {"heading": "digital-kompetens", "title": "Inför kollegialt lärande om digitala verktyg varannan vecka"}}],
    })

    actionId: UUID
