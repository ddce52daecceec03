"""Events produced by the assessment service."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.events.base import ActorRef, DataErased, Event, SealedPersonRef
from shared.topics import ASSESSMENT

PRODUCER = "assessment"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LocalText(_Part):
    sv: str
    en: str


class FrameworkHeading(_Part):
    id: str
    title: LocalText
    selfie: list[str]
    lika: list[str]


class FrameworkIndicator(_Part):
    id: str
    heading: str
    title: LocalText
    schoolTypes: list[str]
    required: bool


class IndicatorLevel(_Part):
    indicatorId: str
    heading: str
    level: int | None = Field(default=None, ge=1, le=5)
    notRelevant: bool = False
    carried: bool = Field(default=False, description="taken over from the previous assessment without change")


class HeadingLevel(_Part):
    heading: str
    level: int | None = Field(default=None, ge=1, le=5, description="the mean of the indicator levels, rounded down")
    mean: float | None = None
    answered: int = Field(ge=0)
    notRelevant: int = Field(ge=0)
    indicators: int = Field(ge=0)


class PulseHeading(_Part):
    heading: str
    mean: float | None = Field(default=None, description="absent when fewer than 5 answered")


class PulseGroupResult(_Part):
    group: str
    respondents: int = Field(ge=0)
    headings: list[PulseHeading]


class ActionStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"


class ActionChange(StrEnum):
    CREATED = "created"
    UPDATED = "updated"


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
    openedBy: ActorRef
    frameworkVersion: int | None = Field(default=None, description="the framework version the round uses")


class CampaignClosed(Event):
    """A district or city admin closed a round: no more drafts, submissions or pulse answers."""

    TYPE = "se.skolit.assessment.campaign-closed.v1"
    TOPIC = ASSESSMENT.name
    PRODUCER = PRODUCER
    KEY_FIELD = "id"

    id: UUID
    closedBy: ActorRef
    closedAt: datetime
    submitted: int = Field(ge=0, description="school units that had submitted when the round closed")
    schoolUnits: int = Field(ge=0)


class FrameworkPublished(Event):
    """A version of the self-assessment framework became available; carries its structure, so
    consumers can label results and read old answers through the explicit carry-forward mapping."""

    TYPE = "se.skolit.assessment.framework-published.v1"
    TOPIC = ASSESSMENT.name
    PRODUCER = PRODUCER
    KEY_FIELD = "version"

    version: int = Field(ge=1)
    title: LocalText
    previousVersion: int | None = None
    carryForward: dict[str, str] = Field(default_factory=dict, description="indicator → indicator of the previous version")
    headings: list[FrameworkHeading]
    indicators: list[FrameworkIndicator]


class AssessmentSubmitted(Event):
    """A school unit's principal submitted the self-assessment; it is locked from now on."""

    TYPE = "se.skolit.assessment.assessment-submitted.v1"
    TOPIC = ASSESSMENT.name
    PRODUCER = PRODUCER

    assessmentId: UUID
    campaignId: UUID
    schoolUnitId: UUID
    districtId: UUID | None = None
    year: int
    frameworkVersion: int
    submittedAt: datetime
    submittedBy: SealedPersonRef = Field(description="the Rektor who submitted: their person id, sealed (shared/privacy/vault.py)")
    submission: int = Field(ge=1, description="1 for the first submission, 2 after one reopening, ...")
    indicators: list[IndicatorLevel]
    headings: list[HeadingLevel]
    pulse: list[PulseGroupResult] = Field(default_factory=list, description="staff/pupil pulse; means only for groups of 5 or more")


class AssessmentReopened(Event):
    """A district admin reopened a submitted assessment so the principal can change it (the reason
    stays in the assessment service's audit trail)."""

    TYPE = "se.skolit.assessment.assessment-reopened.v1"
    TOPIC = ASSESSMENT.name
    PRODUCER = PRODUCER

    assessmentId: UUID
    campaignId: UUID
    schoolUnitId: UUID
    reopenedBy: ActorRef
    reopenedAt: datetime
    deadline: date


class ActionPlanChanged(Event):
    """An action of a school's action plan was added or changed. Carries no free text: titles and
    owners stay in the assessment service."""

    TYPE = "se.skolit.assessment.action-plan-changed.v1"
    TOPIC = ASSESSMENT.name
    PRODUCER = PRODUCER

    actionId: UUID
    schoolUnitId: UUID
    assessmentId: UUID | None = None
    heading: str
    indicatorId: str | None = None
    status: ActionStatus
    deadline: date | None = None
    change: ActionChange
    changedAt: datetime


class AssessmentDataExported(Event):
    """Assessment's part of a right-of-access export (docs/decisions/0010), answering AccessRequested: every row
    it holds about the person, as JSON, compressed and sealed for the request's public key
    (shared/privacy/sealedbox.py), so no personal data travels readable on the topic."""

    TYPE = "se.skolit.assessment.data-exported.v1"
    TOPIC = ASSESSMENT.name
    PRODUCER = PRODUCER
    KEY_FIELD = "requestId"

    requestId: UUID
    part: str = Field(description="base64 of the sealed part (shared/privacy/export.py)")
    rows: int = Field(ge=0, description="how many rows the part holds")


class AssessmentDataErased(DataErased):
    """Assessment erased or anonymised what it held about a person, answering ErasureRequested
    (docs/decisions/0009): duties deleted; who opened, closed, submitted, saved and wrote replaced by
    "erased"; their comments, notes and audit details dropped; levels kept."""

    TYPE = "se.skolit.assessment.data-erased.v1"
    TOPIC = ASSESSMENT.name
    PRODUCER = PRODUCER
