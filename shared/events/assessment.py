"""Events produced by the assessment service."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import Field

from shared.events.base import Event
from shared.topics import ASSESSMENT

PRODUCER = "assessment"


class CampaignOpened(Event):
    """A district or city admin opened an annual self-assessment round for a set of school units."""

    TYPE = "se.skolit.assessment.campaign-opened.v1"
    TOPIC = ASSESSMENT.name
    PRODUCER = PRODUCER
    KEY_FIELD = "id"

    id: UUID
    name: str = Field(min_length=1, max_length=200)
    year: int = Field(ge=2000, le=2100)
    deadline: date
    schoolUnitIds: list[UUID] = Field(min_length=1)
    openedBy: str
