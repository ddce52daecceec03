"""Annual rounds: one round, the rounds a caller sees, and where each school unit of a round stands."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, Field

from services.assessment.schemas.common import (
    examples,
    ASSESSMENT,
    CAMPAIGN,
    DISTRICT,
    DISTRICT_ADMIN,
    NEXT,
    OTHER_SCHOOL,
    SCHOOL,
    Actor,
    AssessmentStatus,
    CampaignStatus,
    SchoolUnitRef,
)
from shared.http.models import Page

_CAMPAIGN = {
    "id": CAMPAIGN, "name": "Självskattning 2026", "year": 2026, "deadline": "2027-03-31", "status": "open", "frameworkVersion": 2,
    "openedBy": DISTRICT_ADMIN, "openedAt": "2026-09-01T07:30:00Z", "closedBy": None, "closedAt": None,
    "schoolUnitIds": [SCHOOL["id"], OTHER_SCHOOL["id"]],
}


class Progress(BaseModel):
    submitted: int = Field(description="school units that have submitted")
    schoolUnits: int = Field(description="school units in the round")


class CampaignSummary(BaseModel):
    """An annual self-assessment round for a set of school units."""

    model_config = examples(_CAMPAIGN)

    id: UUID
    name: str
    year: int
    deadline: date = Field(description="the last day to submit, in Europe/Stockholm")
    status: CampaignStatus
    frameworkVersion: int
    openedBy: Actor
    openedAt: datetime
    closedBy: Actor | None
    closedAt: datetime | None
    schoolUnitIds: list[UUID]


class Campaign(CampaignSummary):
    """A round with how many of its school units have submitted."""

    model_config = examples(_CAMPAIGN | {"progress": {"submitted": 1, "schoolUnits": 2}})

    progress: Progress


class Campaigns(Page[CampaignSummary]):
    """The rounds that cover at least one of the caller's school units, newest first."""

    model_config = examples({"items": [_CAMPAIGN], "limit": 50, "next": None, "total": 1})


class SchoolUnitStanding(BaseModel):
    assessmentId: UUID
    schoolUnit: SchoolUnitRef
    districtId: UUID | None
    status: AssessmentStatus
    answered: int = Field(description="indicators answered so far")
    submissions: int
    submittedAt: datetime | None


class CampaignAssessments(Page[SchoolUnitStanding]):
    """Where each of the caller's school units in a round stands, by school name."""

    model_config = examples({
        "campaign": _CAMPAIGN,
        "items": [{"assessmentId": ASSESSMENT, "schoolUnit": SCHOOL, "districtId": DISTRICT, "status": "submitted", "answered": 33,
                   "submissions": 1, "submittedAt": "2027-03-12T09:41:07.512000Z"}],
        "limit": 1, "next": NEXT, "total": 2,
    })

    campaign: CampaignSummary
