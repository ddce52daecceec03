"""The catalog's answers as pydantic models: what its OpenAPI document promises and a generated client builds on.

The shapes every service shares come from shared/http/models.py: a person is ``PersonRef``, a school unit
``SchoolUnitRef``, a subject or heading ``CodeLabel``, a list a ``Page``. Routes on the hot read path (the
search) write their answer with orjson and document the model with ``responses={200: {"model": ...}}``;
tests/unit/test_catalog_schemas.py checks that what views.py builds is what these models say.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.http.models import CodeLabel, Page, PersonRef, SchoolUnitRef

# --- examples: one Swedish programbank ------------------------------------------------------------------------------

APP_ID = "3f6c1d2e-8b4a-4c7e-9f10-2a5b6c7d8e9f"
SCHOOL_ID = "0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b"
DISTRICT_ID = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
REQUEST_ID = "c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f"
LICENCE_ID = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
TEACHER = {"id": "5b0c8c1e-4a2e-4f39-9a51-6f3c2e1d7a10", "name": "Anna Lindqvist", "protected": False}
IT_ADMIN = {"id": "8d2e4f60-1a3b-4c5d-9e7f-0a1b2c3d4e5f", "name": "Johan Berg", "protected": False}
SCHOOL = {"id": SCHOOL_ID, "name": "Rosengårdsskolan", "schoolUnitCode": "12345678"}
STATUS = {"code": "approved", "label": "Godkänd", "allowsUse": True, "grades": [], "retires": False}
SUBJECTS = [{"code": "MA", "label": "Matematik"}]
HEADINGS = [{"code": "digitalt-innehall", "label": "Digitalt innehåll"}]
DATA_PROTECTION = {
    "dataCategories": [{"code": "identity", "label": "Namn och användar-id"}, {"code": "learning_activity", "label": "Aktivitet och resultat i tjänsten"}],
    "dpaStatus": "signed", "dpaStatusLabel": "Undertecknat", "dpaSigned": "2025-08-01", "dpaExpires": "2027-07-31",
    "subProcessors": [{"name": "Molntjänst Norden AB", "country": "SE", "purpose": "Drift och lagring"}], "processingCountries": ["SE"],
    "transferOutsideEea": False, "transferSafeguard": None, "dpiaRef": None, "minAge": None, "privacy": "meets", "approvalBlockers": [],
}
APP = {
    "id": APP_ID, "name": "Räknestigen", "supplier": "Nordlärande AB",
    "description": "Eleverna tränar taluppfattning och huvudräkning med korta spel och får direkt återkoppling.",
    "url": "https://raknestigen.example.se", "kind": "commercial", "costModel": "per_pupil", "freeUse": False,
    "subjects": SUBJECTS, "grades": ["4", "5", "6"], "schoolTypes": ["GR"], "platforms": ["web", "ios"], "languages": ["sv", "en"],
    "accessibility": "Talsyntes och justerbar textstorlek", "headings": HEADINGS, "keywords": ["huvudräkning"],
    "status": STATUS, "usableGrades": ["4", "5", "6"], "statusChangedAt": "2026-03-02T09:14:05.120000+00:00",
    "dataProtection": DATA_PROTECTION, "version": 3,
    "createdBy": IT_ADMIN, "createdAt": "2026-02-20T13:45:10.504000+00:00",
    "updatedBy": IT_ADMIN, "updatedAt": "2026-03-02T09:14:05.120000+00:00", "availability": None,
}
CURSOR = "bzo1MA"


def _examples(*values: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(values)})


# --- apps -----------------------------------------------------------------------------------------------------------

class LabelPair(BaseModel):
    """A term's label in Swedish and English."""

    sv: str
    en: str


class Status(CodeLabel):
    """A district-defined status of an app, labelled in the reader's language."""

    model_config = _examples(STATUS)

    allowsUse: bool = Field(description="schools may use an app with this status (with free use or a licence)")
    grades: list[str] = Field(description="when not empty, use is allowed only in these grades")
    retires: bool = Field(description="the app leaves the programbank; its record can no longer change")


class StatusPage(Page[Status]):
    model_config = _examples({"items": [STATUS, {"code": "under_review", "label": "Granskas", "allowsUse": False, "grades": [], "retires": False}],
                              "limit": 50, "next": None, "total": 2})


class SubProcessor(BaseModel):
    name: str
    country: str = Field(description="ISO 3166 alpha-2 country where it processes the data")
    purpose: str


class DataProtectionView(BaseModel):
    """The app's data-protection facts, with what they mean: the privacy rating and why it may not be approved."""

    model_config = _examples(DATA_PROTECTION)

    dataCategories: list[CodeLabel] = Field(description="personal data the app receives; empty: none")
    dpaStatus: str = Field(description="the data processing agreement: not_required, missing, requested, signed or expired")
    dpaStatusLabel: str
    dpaSigned: date | None
    dpaExpires: date | None
    subProcessors: list[SubProcessor]
    processingCountries: list[str]
    transferOutsideEea: bool
    transferSafeguard: str | None = Field(description="adequacy, dpf, scc or bcr")
    dpiaRef: str | None
    minAge: int | None
    privacy: str = Field(description="meets, meets_with_reservations or does_not_meet (the TrustEd Apps scale)")
    approvalBlockers: list[str] = Field(description="why a status that allows use cannot be given now, as sentences in the reader's language")


class Availability(BaseModel):
    """Whether the school unit asked about (``?schoolUnitId=``) may use the app today, and why."""

    model_config = _examples({"schoolUnitId": SCHOOL_ID, "available": False, "reason": "no_licence",
                              "because": "Skolenheten saknar giltig licens för appen."})

    schoolUnitId: UUID
    available: bool
    reason: str = Field(description="status_disallows_use, not_for_school_types, no_usable_grades, free_use, licence or no_licence")
    because: str = Field(description="the reason as a sentence in the reader's language")


class App(BaseModel):
    """An app or learning resource in the programbank, with its data protection and status."""

    model_config = _examples(APP)

    id: UUID
    name: str
    supplier: str
    description: str
    url: str | None
    kind: str = Field(description="commercial, open or teacher_made")
    costModel: str
    freeUse: bool = Field(description="every school may use it without a licence")
    subjects: list[CodeLabel]
    grades: list[str]
    schoolTypes: list[str]
    platforms: list[str]
    languages: list[str]
    accessibility: str
    headings: list[CodeLabel] = Field(description="the digitalisation strategy's headings the app serves")
    keywords: list[str]
    status: Status
    usableGrades: list[str] = Field(description="the grades the status allows the app in")
    statusChangedAt: datetime | None
    dataProtection: DataProtectionView
    version: int = Field(description="send as expectedVersion to refuse a change over someone else's")
    createdBy: PersonRef | None = Field(description="who added the app (a rule of the service or an erased person: id null, name says which)")
    createdAt: datetime
    updatedBy: PersonRef | None
    updatedAt: datetime
    availability: Availability | None = Field(default=None, description="only with ?schoolUnitId=")


class AuditEntry(BaseModel):
    at: datetime
    actor: PersonRef | None = Field(description="who; a rule of the service (skolit:…) or an erased person has id null and the name says which")
    action: str = Field(description="app.published, app.changed, app.data-protection-changed, app.status-changed, app.dpa-expired")
    detail: dict[str, Any] = Field(description="what changed; its keys depend on the action")


class AppAudit(Page[AuditEntry]):
    """Every change to an app, oldest first."""

    model_config = _examples({"appId": APP_ID, "items": [
        {"at": "2026-02-20T13:45:10.504000+00:00", "actor": IT_ADMIN, "action": "app.published", "detail": {"name": "Räknestigen", "status": "under_review"}},
        {"at": "2026-03-02T09:14:05.120000+00:00", "actor": {"id": None, "name": "skolit:catalog-rules", "protected": False},
         "action": "app.status-changed", "detail": {"from": "approved", "to": "dpa_lapsed", "reason": None, "automatic": True}},
    ], "limit": 50, "next": None, "total": 2})

    appId: UUID


class SchoolApp(App):
    model_config = _examples({**APP, "availableBecause": {"code": "licence", "label": "Licens"}})

    availableBecause: CodeLabel = Field(description="free_use or licence")


class SchoolApps(Page[SchoolApp]):
    """The apps a school unit may use today."""

    model_config = _examples({"schoolUnit": SCHOOL, "asOf": "2026-03-02", "items": [
        {**APP, "availableBecause": {"code": "licence", "label": "Licens"}}], "limit": 50, "next": None, "total": 1})

    schoolUnit: SchoolUnitRef
    asOf: date


# --- search ---------------------------------------------------------------------------------------------------------

HIT = {
    "id": APP_ID, "name": "Räknestigen", "supplier": "Nordlärande AB", "description": APP["description"], "url": APP["url"],
    "kind": "commercial", "costModel": "per_pupil", "freeUse": False, "subjects": SUBJECTS, "grades": ["4", "5", "6"],
    "schoolTypes": ["GR"], "platforms": ["web", "ios"], "languages": ["sv", "en"], "headings": HEADINGS, "status": STATUS,
    "dpaStatus": "signed", "dpaExpires": "2027-07-31", "score": 0.6079, "href": f"/apps/{APP_ID}",
    "usableHere": True, "availability": {"schoolUnitId": SCHOOL_ID, "available": True, "reason": "licence",
                                         "because": "Skolenheten har en giltig licens."},
}


class SearchHit(BaseModel):
    """One search result: enough for a list, with a link to the whole record."""

    model_config = _examples(HIT)

    id: UUID
    name: str
    supplier: str
    description: str
    url: str | None
    kind: str
    costModel: str
    freeUse: bool
    subjects: list[CodeLabel]
    grades: list[str]
    schoolTypes: list[str]
    platforms: list[str]
    languages: list[str]
    headings: list[CodeLabel]
    status: Status
    dpaStatus: str
    dpaExpires: date | None
    score: float = Field(description="relevance to q (0 without q)")
    href: str
    usableHere: bool | None = Field(default=None, description="whether the school unit the search is for may use the app today; "
                                                              "null when the search is for no school unit")
    availability: Availability | None = Field(default=None, description="why (not): as GET /apps/{id}?schoolUnitId=; null without a school unit")


class FacetValue(BaseModel):
    value: str
    label: str
    count: int


class Facets(BaseModel):
    """Each facet's values with their counts over every match, most frequent first."""

    subject: list[FacetValue]
    grade: list[FacetValue]
    schoolType: list[FacetValue]
    heading: list[FacetValue]
    platform: list[FacetValue]
    status: list[FacetValue]
    dpaStatus: list[FacetValue]
    kind: list[FacetValue]


class SearchResults(Page[SearchHit]):
    """A page of the programbank's apps matching the words and filters, with facet counts over all matches."""

    model_config = _examples({
        "query": "matemtik", "corrections": {"matemtik": ["matematik"]}, "suggestion": "matematik", "schoolUnit": SCHOOL,
        "usableTotal": 37, "items": [HIT], "limit": 20, "next": CURSOR, "total": 412,
        "facets": {"subject": [{"value": "MA", "label": "Matematik", "count": 412}], "grade": [{"value": "5", "label": "Årskurs 5", "count": 198}],
                   "schoolType": [{"value": "GR", "label": "GR", "count": 350}], "heading": [{"value": "digitalt-innehall", "label": "Digitalt innehåll", "count": 301}],
                   "platform": [{"value": "web", "label": "Webb", "count": 377}], "status": [{"value": "approved", "label": "Godkänd", "count": 240}],
                   "dpaStatus": [{"value": "signed", "label": "Undertecknat", "count": 260}], "kind": [{"value": "commercial", "label": "Kommersiell tjänst", "count": 300}]},
    })

    query: str | None = Field(description="q as asked")
    corrections: dict[str, list[str]] = Field(description="for each word of q that matches nothing as typed, the programbank's words it "
                                                          "was also matched as (a word that matches something is never corrected)")
    suggestion: str | None = Field(default=None, description="\"did you mean\": q with each corrected word replaced by its nearest word; "
                                                            "null when no word was corrected")
    schoolUnit: SchoolUnitRef | None = Field(default=None, description="the school unit the search is for (schoolUnitId or the caller's "
                                                                       "own); null when none")
    usableTotal: int | None = Field(default=None, description="how many of the matches that school unit may use today (they come first); "
                                                              "null without a school unit")
    facets: Facets | None = Field(description="on the first page by default (?facets= to choose); null otherwise")


class Vocabulary(BaseModel):
    """The controlled lists an app record uses, each code with its Swedish and English label."""

    model_config = _examples({
        "subjects": {"MA": {"sv": "Matematik", "en": "Mathematics"}}, "grades": {"5": {"sv": "Årskurs 5", "en": "Year 5"}},
        "schoolTypes": ["FS", "FKLASS", "GR", "GY"], "headings": {"digitalt-innehall": {"sv": "Digitalt innehåll", "en": "Digital content"}},
        "platforms": {"web": {"sv": "Webb", "en": "Web"}}, "kinds": {"open": {"sv": "Öppen/fri resurs", "en": "Open resource"}},
        "costModels": {"free": {"sv": "Kostnadsfri", "en": "Free"}}, "dataCategories": {"civic_no": {"sv": "Personnummer", "en": "Personal identity number"}},
        "sensitiveDataCategories": ["civic_no", "health_support"], "dpaStatuses": {"signed": {"sv": "Undertecknat", "en": "Signed"}},
        "transferSafeguards": {"scc": {"sv": "Standardavtalsklausuler", "en": "Standard contractual clauses"}},
    })

    subjects: dict[str, LabelPair]
    grades: dict[str, LabelPair]
    schoolTypes: list[str]
    headings: dict[str, LabelPair]
    platforms: dict[str, LabelPair]
    kinds: dict[str, LabelPair]
    costModels: dict[str, LabelPair]
    dataCategories: dict[str, LabelPair]
    sensitiveDataCategories: list[str]
    dpaStatuses: dict[str, LabelPair]
    transferSafeguards: dict[str, LabelPair]


# --- bulk -----------------------------------------------------------------------------------------------------------

class RowError(BaseModel):
    location: str
    message: str


class RejectedRow(BaseModel):
    line: int
    name: str
    errors: list[RowError]


class ImportResult(BaseModel):
    """What an import checked and made (a rejected import is a 422 problem carrying the same counts and rejectedRows)."""

    model_config = _examples({"rows": 2, "accepted": 2, "rejected": 0, "rejectedRows": [], "imported": 2, "dryRun": False,
                              "ids": [APP_ID, "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d"]})

    rows: int
    accepted: int
    rejected: int
    rejectedRows: list[RejectedRow]
    imported: int
    dryRun: bool
    ids: list[UUID] = Field(default_factory=list, description="the apps made (none on a dry run)")


class ExportedDataProtection(BaseModel):
    dataCategories: list[str]
    dpaStatus: str
    dpaSigned: date | None
    dpaExpires: date | None
    subProcessors: list[SubProcessor]
    processingCountries: list[str]
    transferOutsideEea: bool
    transferSafeguard: str | None
    dpiaRef: str | None
    minAge: int | None


class ExportedApp(BaseModel):
    """An app as POST /apps takes it, with its id, status and version."""

    id: UUID
    name: str
    supplier: str
    description: str
    url: str | None
    kind: str
    costModel: str
    freeUse: bool
    subjects: list[str]
    grades: list[str]
    schoolTypes: list[str]
    platforms: list[str]
    languages: list[str]
    accessibility: str
    headings: list[str]
    keywords: list[str]
    dataProtection: ExportedDataProtection
    status: str
    version: int


class ProgrambankExport(BaseModel):
    """The whole programbank (a file to download, not a paged list)."""

    model_config = _examples({"asOf": "2026-03-02", "items": [{
        "id": APP_ID, "name": "Räknestigen", "supplier": "Nordlärande AB", "description": APP["description"], "url": APP["url"],
        "kind": "commercial", "costModel": "per_pupil", "freeUse": False, "subjects": ["MA"], "grades": ["4", "5", "6"], "schoolTypes": ["GR"],
        "platforms": ["web", "ios"], "languages": ["sv", "en"], "accessibility": "", "headings": ["digitalt-innehall"], "keywords": [],
        "dataProtection": {"dataCategories": ["identity"], "dpaStatus": "signed", "dpaSigned": "2025-08-01", "dpaExpires": "2027-07-31",
                           "subProcessors": [], "processingCountries": ["SE"], "transferOutsideEea": False, "transferSafeguard": None,
                           "dpiaRef": None, "minAge": None},
        "status": "approved", "version": 3}]})

    asOf: date
    items: list[ExportedApp]


EXPORT_CSV_EXAMPLE = ("name;supplier;description;url;kind;costModel;freeUse;subjects;grades;schoolTypes;platforms;languages;accessibility;"
                      "headings;keywords;status;dataCategories;dpaStatus;dpaSigned;dpaExpires;processingCountries\n"
                      "Räknestigen;Nordlärande AB;Eleverna tränar huvudräkning.;https://raknestigen.example.se;commercial;per_pupil;nej;MA;4,5,6;GR;"
                      "web,ios;sv;;digitalt-innehall;;approved;identity;signed;2025-08-01;2027-07-31;SE\n")


# --- licences -------------------------------------------------------------------------------------------------------

LICENCE = {
    "id": LICENCE_ID, "appId": APP_ID, "appName": "Räknestigen", "schoolUnit": SCHOOL, "type": "group", "seats": 30, "groupName": "6B",
    "starts": "2026-01-01", "expires": "2026-12-31", "note": "Avtal 2026-114", "active": True, "daysLeft": 304,
    "createdBy": IT_ADMIN, "createdAt": "2026-01-02T08:30:00+00:00", "endedAt": None,
}


class Licence(BaseModel):
    model_config = _examples(LICENCE)

    id: UUID
    appId: UUID
    appName: str
    schoolUnit: SchoolUnitRef
    type: str = Field(description="school, group or single")
    seats: int | None
    groupName: str | None
    starts: date
    expires: date
    note: str
    active: bool = Field(description="started, not expired and not ended")
    daysLeft: int | None = Field(description="days until it expires, while active")
    createdBy: PersonRef | None
    createdAt: datetime
    endedAt: datetime | None


class LicencesCreated(BaseModel):
    """The licences made: one per school unit asked for."""

    model_config = _examples({"items": [LICENCE]})

    items: list[Licence]


class LicencePage(Page[Licence]):
    model_config = _examples({"items": [LICENCE], "limit": 50, "next": None, "total": 1})


# --- requests -------------------------------------------------------------------------------------------------------

class ProposedAppView(BaseModel):
    name: str
    supplier: str = ""
    url: str | None = None
    description: str | None = Field(default=None, description="removed when the requester is erased")


class RequestStepView(BaseModel):
    at: datetime
    actor: PersonRef | None
    step: str = Field(description="submitted or the action taken: acknowledge, ask_info, provide_info, approve, reject, withdraw")
    note: str | None


REQUEST = {
    "id": REQUEST_ID, "schoolUnit": SCHOOL, "districtId": DISTRICT_ID, "requester": TEACHER, "requesterDuty": "Lärare",
    "appId": APP_ID, "appName": "Räknestigen", "proposed": None, "purpose": "Färdighetsträning i matematik för åk 5", "grades": ["5"],
    "pupils": 50, "state": "approved", "conditions": "Endast pseudonyma konton", "reason": None, "decidedBy": IT_ADMIN,
    "decidedAt": "2026-03-04T10:02:00+00:00", "createdAt": "2026-03-01T07:55:00+00:00", "updatedAt": "2026-03-04T10:02:00+00:00",
    "waitingForReviewSince": None,
}


class AppRequest(BaseModel):
    """A request for an app for a school: an app in the programbank (appId) or a new one (proposed)."""

    model_config = _examples({**REQUEST, "history": [
        {"at": "2026-03-01T07:55:00+00:00", "actor": TEACHER, "step": "submitted", "note": "Färdighetsträning i matematik för åk 5"},
        {"at": "2026-03-04T10:02:00+00:00", "actor": IT_ADMIN, "step": "approve", "note": "Endast pseudonyma konton"}]})

    id: UUID
    schoolUnit: SchoolUnitRef
    districtId: UUID | None
    requester: PersonRef | None
    requesterDuty: str = Field(description="the requester's duty at the school per the city's data (Lärare, Rektor, …)")
    appId: UUID | None
    appName: str
    proposed: ProposedAppView | None = Field(description="the app asked for when it is not in the programbank")
    purpose: str
    grades: list[str]
    pupils: int | None
    state: str = Field(description="submitted, acknowledged, needs_info, approved, rejected or withdrawn")
    conditions: str | None
    reason: str | None
    decidedBy: PersonRef | None
    decidedAt: datetime | None
    createdAt: datetime
    updatedAt: datetime
    waitingForReviewSince: datetime | None = Field(description="since when the reviewers have had the next move; null otherwise")
    history: list[RequestStepView] | None = Field(default=None, description="every step, oldest first (one request's answers only, not lists)")


class RequestPage(Page[AppRequest]):
    model_config = _examples({"items": [REQUEST], "limit": 50, "next": None, "total": 1})


# --- usage ----------------------------------------------------------------------------------------------------------

class AdoptionItem(BaseModel):
    appId: UUID
    name: str
    status: str
    allowsUse: bool
    dpaStatus: str
    launches: int
    schoolUnits: int = Field(description="school units that launched it")
    schoolsWithoutLicence: int = Field(description="school units that launched a licensed app without a licence for the period")


class Adoption(Page[AdoptionItem]):
    """Apps in use since a date, most launched first."""

    model_config = _examples({"since": "2025-12-02", "schoolUnitId": None, "items": [
        {"appId": APP_ID, "name": "Räknestigen", "status": "approved", "allowsUse": True, "dpaStatus": "signed", "launches": 1840,
         "schoolUnits": 12, "schoolsWithoutLicence": 1}], "limit": 50, "next": None, "total": 1})

    since: date
    schoolUnitId: UUID | None


class AppUsageItem(BaseModel):
    schoolUnit: SchoolUnitRef
    launches: int
    activeUsers: int | None
    lastPeriodEnd: date


class AppUsage(Page[AppUsageItem]):
    """One app's launches per school unit since a date."""

    model_config = _examples({"appId": APP_ID, "name": "Räknestigen", "since": "2025-12-02", "schoolUnits": 1, "items": [
        {"schoolUnit": SCHOOL, "launches": 420, "activeUsers": 61, "lastPeriodEnd": "2026-02-28"}], "limit": 50, "next": None, "total": 1})

    appId: UUID
    name: str
    since: date
    schoolUnits: int = Field(description="school units that launched the app (all pages)")


# --- the guardians' view --------------------------------------------------------------------------------------------

class Place(BaseModel):
    country: str
    insideEuEea: bool


class PublicSubProcessor(BaseModel):
    name: str
    country: str
    insideEuEea: bool


class PublicApp(BaseModel):
    """An app as guardians see it: what it is and what personal data it receives, where."""

    name: str
    supplier: str
    description: str
    url: str | None
    grades: list[str]
    personalData: list[CodeLabel]
    receivesPersonalData: bool
    dataProcessingAgreement: bool = Field(description="receives personal data under a signed data processing agreement")
    processedIn: list[Place]
    subProcessors: list[PublicSubProcessor]
    transferOutsideEuEea: bool
    transferSafeguard: str | None = Field(description="the safeguard's name in the reader's language")
    minimumAge: int | None
    privacy: str


class PublicSchoolApps(Page[PublicApp]):
    """The apps a school uses, for guardians (no login)."""

    model_config = _examples({"schoolUnit": SCHOOL, "asOf": "2026-03-02", "items": [{
        "name": "Räknestigen", "supplier": "Nordlärande AB", "description": APP["description"], "url": APP["url"], "grades": ["4", "5", "6"],
        "personalData": [{"code": "identity", "label": "Namn och användar-id"}], "receivesPersonalData": True, "dataProcessingAgreement": True,
        "processedIn": [{"country": "SE", "insideEuEea": True}], "subProcessors": [{"name": "Molntjänst Norden AB", "country": "SE", "insideEuEea": True}],
        "transferOutsideEuEea": False, "transferSafeguard": None, "minimumAge": None, "privacy": "meets"}], "limit": 50, "next": None, "total": 1})

    schoolUnit: SchoolUnitRef
    asOf: date

