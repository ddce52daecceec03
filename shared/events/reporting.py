"""Events produced by the reporting service."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from shared.events.base import ActorRef, DataErased, Event
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
    publishedBy: ActorRef
    publishedAt: datetime
    path: str = Field(description="where the report is, relative to the reporting service")


class ReportingDataExported(Event):
    """Reporting's part of a right-of-access export (docs/decisions/0010), answering AccessRequested: every row
    it holds about the person, as JSON, compressed and sealed for the request's public key
    (shared/privacy/sealedbox.py), so no personal data travels readable on the topic."""

    TYPE = "se.skolit.reporting.data-exported.v1"
    TOPIC = REPORTING.name
    PRODUCER = PRODUCER
    KEY_FIELD = "requestId"

    requestId: UUID
    part: str = Field(description="base64 of the sealed part (shared/privacy/export.py)")
    rows: int = Field(ge=0, description="how many rows the part holds")


class ReportingDataErased(DataErased):
    """Reporting anonymised what it held about a person, answering ErasureRequested (docs/decisions/0009):
    who published a report or defined an indicator becomes "erased"; the figures stay."""

    TYPE = "se.skolit.reporting.data-erased.v1"
    TOPIC = REPORTING.name
    PRODUCER = PRODUCER
