"""Events produced by the catalog service (the programbank).

App events carry the facts other services need to count and label apps (headings, school types,
status, data-protection state) and never a person's contact details; people appear by id only.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from shared.events.base import ActorRef, DataErased, Event, SealedPersonRef
from shared.topics import CATALOG

PRODUCER = "catalog"


class DpaStatus(StrEnum):
    NOT_REQUIRED = "not_required"
    MISSING = "missing"
    REQUESTED = "requested"
    SIGNED = "signed"
    EXPIRED = "expired"


class PrivacyRating(StrEnum):
    """The 1EdTech TrustEd Apps / Common Sense scale, computed from the data-protection fields."""

    MEETS = "meets"
    MEETS_WITH_RESERVATIONS = "meets_with_reservations"
    DOES_NOT_MEET = "does_not_meet"


class RequestDecision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class RequestStep(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    INFO_REQUESTED = "info_requested"
    INFO_PROVIDED = "info_provided"
    WITHDRAWN = "withdrawn"


class _AppFacts(Event):
    """What every app event says about the app: enough to count apps per heading and school type
    and to know whether the app may be used and has a valid data processing agreement."""

    TOPIC = CATALOG.name
    PRODUCER = PRODUCER
    KEY_FIELD = "id"

    id: UUID
    name: str = Field(min_length=1, max_length=200)
    supplier: str = Field(max_length=200)
    kind: str
    headings: list[str]
    schoolTypes: list[str]
    subjects: list[str]
    status: str = Field(description="the district-defined status code, e.g. approved")
    allowsUse: bool = Field(description="whether the status lets schools use the app")
    dpaStatus: DpaStatus
    dpaExpires: date | None = None
    processesPersonalData: bool
    transferOutsideEea: bool
    privacy: PrivacyRating
    freeUse: bool = Field(description="every school may use it without a licence")
    version: int = Field(ge=1, description="increases with every change, so consumers can ignore older states")


class AppPublished(_AppFacts):
    """A new app or learning resource entered the programbank."""

    TYPE = "se.skolit.catalog.app-published.v1"

    publishedBy: ActorRef


class AppChanged(_AppFacts):
    """An app's record changed (description, subjects, data protection, ...); carries its new facts."""

    TYPE = "se.skolit.catalog.app-changed.v1"

    changedFields: list[str]
    changedBy: ActorRef


class AppStatusChanged(_AppFacts):
    """An app's district-defined status changed, by a person or automatically (a lapsed DPA)."""

    TYPE = "se.skolit.catalog.app-status-changed.v1"

    previousStatus: str
    reason: str | None = Field(default=None, max_length=2000)
    changedBy: ActorRef
    automatic: bool = False


class AppRetired(_AppFacts):
    """An app was retired from the programbank: no school may use it any longer."""

    TYPE = "se.skolit.catalog.app-retired.v1"

    retiredBy: ActorRef
    reason: str | None = Field(default=None, max_length=2000)


class DpaExpired(Event):
    """An app's data processing agreement (personuppgiftsbiträdesavtal) reached its end date; when
    the app's approval depended on it, the app's status changed with it (see ``statusAfter``)."""

    TYPE = "se.skolit.catalog.dpa-expired.v1"
    TOPIC = CATALOG.name
    PRODUCER = PRODUCER
    KEY_FIELD = "appId"

    appId: UUID
    appName: str
    expiredOn: date
    statusBefore: str
    statusAfter: str
    schoolUnitIds: list[UUID] = Field(description="school units holding a licence for the app: their IT admins need to know")


class LicenceExpiring(Event):
    """A school unit's licence for an app ends soon (published once per licence and notice period)."""

    TYPE = "se.skolit.catalog.licence-expiring.v1"
    TOPIC = CATALOG.name
    PRODUCER = PRODUCER

    licenceId: UUID
    appId: UUID
    appName: str
    schoolUnitId: UUID
    licenceType: str
    seats: int | None = None
    expiresOn: date
    daysLeft: int = Field(ge=0)


class _RequestFacts(Event):
    TOPIC = CATALOG.name
    PRODUCER = PRODUCER

    requestId: UUID
    schoolUnitId: UUID
    districtId: UUID | None = None
    requester: SealedPersonRef = Field(description="the requesting teacher: their person id, sealed (shared/privacy/vault.py)")
    appId: UUID | None = Field(default=None, description="absent for a request for an app not yet in the programbank")
    appName: str


class AppRequestSubmitted(_RequestFacts):
    """A teacher asked for an app for their school: the reviewers (IT and data protection) have work."""

    TYPE = "se.skolit.catalog.app-request-submitted.v1"

    newApp: bool
    submittedAt: datetime


class AppRequestProgressed(_RequestFacts):
    """A request moved on without a decision: acknowledged, more information asked for or given, withdrawn."""

    TYPE = "se.skolit.catalog.app-request-progressed.v1"

    step: RequestStep
    by: ActorRef
    note: str | None = Field(default=None, max_length=4000, description="the question to the requester, or their answer")
    at: datetime


class AppRequestDecided(_RequestFacts):
    """A request was approved (perhaps with conditions) or rejected (always with a reason)."""

    TYPE = "se.skolit.catalog.app-request-decided.v1"

    decision: RequestDecision
    conditions: str | None = Field(default=None, max_length=4000)
    reason: str | None = Field(default=None, max_length=4000)
    decidedBy: ActorRef
    decidedAt: datetime


class AppRequestStalled(_RequestFacts):
    """A request has waited for the reviewers longer than the review period: a reminder to them."""

    TYPE = "se.skolit.catalog.app-request-stalled.v1"

    state: str
    waitingSince: datetime
    daysWaiting: int = Field(ge=0)


class CatalogDataExported(Event):
    """Catalog's part of a right-of-access export (docs/decisions/0010), answering AccessRequested: every row
    it holds about the person, as JSON, compressed and sealed for the request's public key
    (shared/privacy/sealedbox.py), so no personal data travels readable on the topic."""

    TYPE = "se.skolit.catalog.data-exported.v1"
    TOPIC = CATALOG.name
    PRODUCER = PRODUCER
    KEY_FIELD = "requestId"

    requestId: UUID
    part: str = Field(description="base64 of the sealed part (shared/privacy/export.py)")
    rows: int = Field(ge=0, description="how many rows the part holds")


class CatalogDataErased(DataErased):
    """Catalog erased or anonymised what it held about a person, answering ErasureRequested
    (docs/decisions/0009): duties deleted; who requested, decided, added and changed replaced by "erased";
    the free text of their requests dropped and their open requests withdrawn."""

    TYPE = "se.skolit.catalog.data-erased.v1"
    TOPIC = CATALOG.name
    PRODUCER = PRODUCER
