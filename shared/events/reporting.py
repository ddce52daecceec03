"""Events produced by the reporting service."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from shared.events.base import Event
from shared.topics import REPORTING

PRODUCER = "reporting"


class IndicatorBelowTarget(Event):
    """A school's figure went below its indicator's target (direction-aware): once per school, year
    and indicator until it meets the target again."""

    TYPE = "se.skolit.reporting.indicator-below-target.v1"
    TOPIC = REPORTING.name
    PRODUCER = PRODUCER

    schoolUnitId: UUID
    districtId: UUID | None = Field(default=None, description="when reporting knew the school's district at the time")
    year: int
    indicator: str = Field(description="the indicator's code")
    value: float
    target: float
    direction: str = Field(description="higher: higher is better; lower: lower is better")


class ReportPublished(Event):
    """A year's follow-up report is ready for a district (the principals of its schools can read it)."""

    TYPE = "se.skolit.reporting.report-published.v1"
    TOPIC = REPORTING.name
    PRODUCER = PRODUCER
    KEY_FIELD = "districtId"

    districtId: UUID
    year: int
    schoolUnitIds: list[UUID]
    publishedBy: str
    publishedAt: datetime
    path: str = Field(description="where the report is, relative to the reporting service")
