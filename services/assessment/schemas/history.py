"""History: a school unit's submitted assessments over the years, with the change since the one before."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field

from services.assessment.schemas.common import (
    examples,
    DISTRICT,
    EARLIER_ASSESSMENT,
    HEADING_EXAMPLE,
    SCHOOL,
    SUMMARY_EXAMPLE,
    AssessmentSummary,
    CodeLabel,
    HeadingResult,
    SchoolUnitRef,
)
from shared.http.models import Page


class HeadingChange(BaseModel):
    heading: CodeLabel
    previous: float | None = Field(description="the heading's mean the year before (its answers read through the carry-forward mapping)")
    current: float | None
    change: float | None


class IndicatorChange(BaseModel):
    indicatorId: str
    indicatorTitle: str
    heading: CodeLabel
    previous: int | None
    current: int | None
    change: int | None


class Changes(BaseModel):
    since: UUID = Field(description="the assessment before this one")
    headings: list[HeadingChange]
    indicators: list[IndicatorChange]


class HistoryEntry(AssessmentSummary):
    headings: list[HeadingResult]
    changes: Changes | None = Field(description="null for the school unit's first submitted assessment")


_ENTRY = SUMMARY_EXAMPLE | {
    "headings": [HEADING_EXAMPLE],
    "changes": {
        "since": EARLIER_ASSESSMENT,
        "headings": [{"heading": {"code": "infrastruktur", "label": "Infrastruktur för ökad tillgänglighet"}, "previous": 2.9, "current": 3.4, "change": 0.5}],
        "indicators": [{"indicatorId": "INF-01", "indicatorTitle": "Trådlöst nät i alla lokaler",
                        "heading": {"code": "infrastruktur", "label": "Infrastruktur för ökad tillgänglighet"}, "previous": 2, "current": 3, "change": 1}],
    },
}


class SchoolHistory(Page[HistoryEntry]):
    """A school unit's submitted assessments, oldest first, each with the change since the one before."""

    model_config = examples({"schoolUnit": SCHOOL, "items": [_ENTRY], "limit": 50, "next": None, "total": 1})

    schoolUnit: SchoolUnitRef


class SchoolUnitHistory(BaseModel):
    schoolUnit: SchoolUnitRef
    assessments: list[HistoryEntry]


class DistrictHistory(Page[SchoolUnitHistory]):
    """A district's school units by name, each with its submitted assessments and changes."""

    model_config = examples({
        "districtId": DISTRICT, "items": [{"schoolUnit": SCHOOL, "assessments": [_ENTRY]}], "limit": 50, "next": None, "total": 1})

    districtId: UUID
