"""Shapes the assessment service's answers share, and the realistic values their examples use."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.http.models import CodeLabel, PersonRef, SchoolUnitRef
from shared.http.pages import encode_cursor

__all__ = ["Actor", "AssessmentStatus", "CampaignStatus", "CodeLabel", "Group", "PersonRef", "SchoolUnitRef"]

def examples(value: Any) -> ConfigDict:
    """A model's one realistic example (OpenAPI shows it; tests/unit/test_assessment_schemas.py validates it)."""
    return ConfigDict(json_schema_extra={"examples": [value]})


Actor = Annotated[PersonRef, Field(
    description="Who did it: a person (for a protected identity neither id nor name), or where no person acted `kind` says so: "
                "`system` (e.g. an answer carried from last year) or `erased` (the person's data was erased).")]
AssessmentStatus = Literal["draft", "submitted"]
CampaignStatus = Literal["open", "closed"]
ActionStatus = Literal["planned", "in_progress", "done", "dropped"]
Group = Literal["staff", "pupils"]

# --- the values every example uses, so the examples of one document tell one story ------------------------------

SCHOOL = {"id": "0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b", "name": "Rosengårdsskolan", "schoolUnitCode": "41572369"}
OTHER_SCHOOL = {"id": "6a4b2c1d-8e7f-4a9b-b3c2-d1e0f9a8b7c6", "name": "Sofielundsskolan", "schoolUnitCode": "28461937"}
DISTRICT = "7d2f5a9c-3e41-4b8a-9c6d-2a1b0e9f8c73"
CAMPAIGN = "3c9a7e21-5f4b-4d8e-a1c2-9b8f7e6d5c4a"
ASSESSMENT = "b5e1d3c7-2a4f-4e6b-8d9c-1f0a2b3c4d5e"
EARLIER_ASSESSMENT = "2e4c6a8b-0d1f-4a3c-9e5b-7d6f8a0c2e4b"
ACTION = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
REKTOR = {"id": "5b0c8c1e-4a2e-4f39-9a51-6f3c2e1d7a10", "name": "Anna Lindqvist", "protected": False}
DISTRICT_ADMIN = {"id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", "name": "Lars Berg", "protected": False}
NEXT = encode_cursor(1)  # the next page of an example page of one item


class ScaleLevel(BaseModel):
    level: int = Field(ge=1, le=5)
    label: str = Field(description="the level's name in the reader's language, e.g. Delvis etablerad")


class CampaignRef(BaseModel):
    id: UUID
    name: str
    year: int
    status: CampaignStatus


class AssessmentSummary(BaseModel):
    """An assessment's own facts, without its answers."""

    id: UUID
    campaign: CampaignRef
    schoolUnitId: UUID
    frameworkVersion: int
    status: AssessmentStatus
    deadline: date = Field(description="the last day to submit, in Europe/Stockholm (the round's, or this school unit's own after a reopening)")
    submissions: int = Field(description="how many times it has been submitted (a reopened assessment is submitted again)")
    submittedAt: datetime | None
    submittedBy: Actor | None
    carriedFrom: UUID | None = Field(description="the earlier assessment whose answers were carried into this one")
    updatedAt: datetime


class HeadingResult(BaseModel):
    """Where the school unit stands on one heading: the mean of the levels given, and the level reached (the mean rounded down)."""

    heading: CodeLabel
    level: int | None
    mean: float | None
    answered: int
    notRelevant: int
    indicators: int = Field(description="indicators of this heading the school unit answers")


SUMMARY_EXAMPLE = {
    "id": ASSESSMENT,
    "campaign": {"id": CAMPAIGN, "name": "Självskattning 2026", "year": 2026, "status": "open"},
    "schoolUnitId": SCHOOL["id"], "frameworkVersion": 2, "status": "submitted", "deadline": "2027-03-31", "submissions": 1,
    "submittedAt": "2027-03-12T09:41:07.512000Z", "submittedBy": REKTOR, "carriedFrom": EARLIER_ASSESSMENT,
    "updatedAt": "2027-03-12T09:41:07.512000Z",
}
HEADING_EXAMPLE = {"heading": {"code": "infrastruktur", "label": "Infrastruktur för ökad tillgänglighet"}, "level": 3, "mean": 3.4,
                   "answered": 7, "notRelevant": 1, "indicators": 8}
