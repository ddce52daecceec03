"""What notification's routes answer: one pydantic model per answer, each with one realistic example.

The routes declare them (``response_model``, or ``responses={200: {"model": ...}}`` where a hot read answers
with orjson directly), so the OpenAPI document says what a client gets and schemathesis checks each answer
against it. People are ``PersonRef`` (shared/http/models.py): a protected identity shows as neither id nor name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.notification.usecases.broadcasts import Audience
from shared.http.models import Page, PersonRef, example_of
from shared.i18n import Language

Mode = Literal["instant", "digest", "off"]
DeliveryState = Literal["queued", "sending", "delivered", "temporary-failure", "permanent-failure", "bounced", "cancelled"]
ExternalChannel = Literal["email", "sms", "push"]

_SCHOOL = "0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b"
_GUARDIAN = "5b0c8c1e-4a2e-4f39-9a51-6f3c2e1d7a10"
_REKTOR = "8d2f6a3b-7c1e-4b0a-9f5d-2e4c6a8b0d1f"
_MESSAGE = "3c9a1e7f-5b2d-4e8a-b6c0-9d1f3a5e7b2c"
_BROADCAST = "a7e3c1b9-2d4f-4a6b-8c0e-1f3b5d7a9c2e"
_REQUEST = "e4b2d6f8-1a3c-4e5b-9d7f-0a2c4e6b8d1f"
_AT = "2026-11-03T07:42:10.512Z"


def _examples(*values: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(values)})


# --- audiences ---------------------------------------------------------------------------------

class SchoolAudience(BaseModel):
    model_config = _examples({"schoolUnitId": _SCHOOL, "guardians": 412, "pupils": 356,
                              "staffByDutyRole": {"Lärare": 31, "Rektor": 1, "Skolsköterska": 1}})

    schoolUnitId: UUID
    guardians: int = Field(description="active guardians of the school unit's pupils")
    pupils: int = Field(description="pupils with an active guardian at the school unit")
    staffByDutyRole: dict[str, int] = Field(description="staff with an active duty at the school unit, per SS 12000 duty role")


# --- contact details ---------------------------------------------------------------------------

class ContactsStored(BaseModel):
    model_config = _examples({"personId": _GUARDIAN, "channels": ["email", "sms"], "language": "sv"})

    personId: UUID
    channels: list[ExternalChannel] = Field(description="the channels the person can now be reached on")
    language: str


class ContactBatchStored(BaseModel):
    model_config = _examples({"stored": 250})

    stored: int = Field(description="how many persons' contact details were stored (all or nothing)")


class ContactDetails(BaseModel):
    model_config = _examples({"personId": _GUARDIAN, "email": "anna.lindqvist@example.se", "mobile": "+46701234567", "pushToken": None,
                              "language": "sv", "updatedAt": _AT})

    personId: UUID
    email: str | None
    mobile: str | None = Field(description="E.164")
    pushToken: str | None = Field(default=None, description="the push token the city's systems set, if any")
    language: str
    updatedAt: datetime


# --- preferences -------------------------------------------------------------------------------

class LocalQuietHours(BaseModel):
    start: str = Field(pattern=r"^\d{2}:\d{2}$", description="local time (Europe/Stockholm), HH:MM")
    end: str = Field(pattern=r"^\d{2}:\d{2}$", description="local time (Europe/Stockholm), HH:MM; before start means across midnight")


class ChannelModes(BaseModel):
    push: Mode
    sms: Mode
    email: Mode
    inapp: Mode


class MessageTypePreference(BaseModel):
    messageType: str = Field(description="the message type's code")
    description: str = Field(description="what the message type is, in the reader's language (?lang=, Accept-Language; Swedish by default)")
    critical: bool = Field(description="critical messages are always instant and cannot be turned off")
    channels: ChannelModes = Field(description="per channel: the recipient's choice, else the default")


class Preferences(BaseModel):
    model_config = _examples({
        "personId": _GUARDIAN, "language": "sv", "quietHours": {"start": "21:00", "end": "07:00"},
        "messageTypes": [{"messageType": "broadcast", "description": "Meddelanden från skolan eller förvaltningen", "critical": False,
                          "channels": {"push": "instant", "sms": "off", "email": "digest", "inapp": "instant"}}],
    })

    personId: UUID
    language: str = Field(description="the language messages are written in for this recipient")
    quietHours: LocalQuietHours | None = Field(description="when nothing but critical messages goes out; null: no quiet hours")
    messageTypes: list[MessageTypePreference]


# --- inbox -------------------------------------------------------------------------------------

class InboxMessage(BaseModel):
    id: UUID
    type: str = Field(description="the message type's code")
    critical: bool
    subject: str
    body: str
    language: str = Field(description="the language the message is written in")
    createdAt: datetime
    read: bool


class Inbox(Page[InboxMessage]):
    """A page of the inbox, newest first; ``unread`` and ``total`` count the whole inbox, not the page."""

    model_config = _examples({
        "items": [{"id": _MESSAGE, "type": "broadcast", "critical": False, "subject": "Studiedag fredag",
                   "body": "Hej! Fredag 14 november är det studiedag på Rosengårdsskolan och eleverna är lediga.\n\nhttps://skolit.malmo.se/inbox",
                   "language": "sv", "createdAt": _AT, "read": False}],
        "limit": 50, "next": None, "total": 1, "personId": _GUARDIAN, "unread": 1,
    })

    personId: UUID
    unread: int = Field(description="unread messages in the whole inbox")


class MessageRead(BaseModel):
    model_config = _examples({"messageId": _MESSAGE, "read": True})

    messageId: UUID
    read: bool


# --- broadcasts --------------------------------------------------------------------------------

class ContactCoverage(BaseModel):
    email: int
    sms: int
    push: int
    none: int = Field(description="recipients with no contact details: the app's inbox only")


class AudienceSize(BaseModel):
    model_config = _examples({"recipients": 412, "perSchoolUnit": {_SCHOOL: 412},
                              "withContact": {"email": 398, "sms": 120, "push": 260, "none": 9}})

    recipients: int
    perSchoolUnit: dict[str, int] = Field(description="recipients per school unit id")
    withContact: ContactCoverage


BroadcastStatus = Literal["sending", "scheduled", "sent"]


class TranslatedSubject(BaseModel):
    subject: str


_SUMMARY = {
    "id": _BROADCAST, "subject": "Studiedag fredag", "critical": False,
    "audience": {"kind": "guardians", "schoolUnitIds": [_SCHOOL], "schoolTypes": [], "schoolYears": [], "dutyRoles": []},
    "sender": _REKTOR, "sentBy": {"id": _REKTOR, "name": "Karin Ekström", "protected": False}, "createdAt": _AT,
    "status": "scheduled", "scheduledFor": "2026-11-04T06:00:00Z", "scheduledUntil": "2026-11-04T06:00:00Z",
    "languages": ["sv", "en"], "fallbackLanguage": "sv", "translations": {"en": {"subject": "Study day on Friday"}},
    "recipientsByLanguage": {"sv": 376, "en": 36},
    "recipients": 412, "reached": 412, "read": 301, "unreached": 0, "unnotified": 9,
    "reachedByChannel": {"email": 0, "inapp": 412, "push": 0}, "inDigest": 14,
    "deliveries": {"email": {"queued": 396, "permanent-failure": 2}, "inapp": {"delivered": 412}, "push": {"queued": 260}},
    "notYetPlanned": 0,
}


class BroadcastSummary(BaseModel):
    model_config = _examples(_SUMMARY)

    id: UUID
    subject: str = Field(description="the Swedish subject (the version every recipient without one in their language reads)")
    critical: bool
    audience: Audience
    sender: str | None = Field(description="the sender's account (token subject); null for a sender with a protected identity")
    sentBy: PersonRef | None = Field(description="the sender as a person; null when the sender is an account, not a person")
    createdAt: datetime
    status: BroadcastStatus = Field(description="sending: notifications are due or on their way; scheduled: what is left is held "
                                                "until recipients' quiet hours end (scheduledFor); sent: nothing is left but "
                                                "items for the recipients' daily digest (inDigest)")
    scheduledFor: datetime | None = Field(default=None, description="when the first notification held by quiet hours goes; null when none is held")
    scheduledUntil: datetime | None = Field(default=None, description="when the last notification held by quiet hours goes (recipients' "
                                                                      "quiet hours differ); null when none is held")
    languages: list[Language] = Field(description="the languages the broadcast is written in: Swedish, and its translations")
    fallbackLanguage: Language = Field(description="what a recipient whose language has no version reads: Swedish")
    translations: dict[Language, TranslatedSubject] = Field(default_factory=dict, description="the subject of each translation, per language")
    recipientsByLanguage: dict[Language, int] = Field(description="per version, how many recipients read it: by the language they "
                                                                      "read in now, those without a version counted under the fallback")
    recipients: int
    reached: int = Field(description="recipients a copy was delivered to on any channel (the in-app inbox too), or who read it")
    read: int = Field(description="recipients who opened it in the app")
    unreached: int = Field(description="recipients no copy was delivered to on any channel and none is still on its way "
                                       "(reached + unreached + those still waiting = recipients)")
    unnotified: int = Field(description="recipients no notification (push, SMS, e-mail) reached and none is on its way, who have not "
                                        "read it in the app: it waits unread in their inbox (the school's unreached worklist)")
    reachedByChannel: dict[str, int] = Field(description="per channel, the recipients it was delivered to")
    inDigest: int = Field(description="notifications waiting for the recipients' daily digest")
    deliveries: dict[str, dict[str, int]] = Field(description="per channel, per delivery state: how many")
    notYetPlanned: int = Field(default=0, description="recipients whose deliveries are still being prepared: a large broadcast "
                                                      "is accepted at once and planned in chunks just after (status stays sending "
                                                      "until none is left); their copies are not in the counts above yet")


class Broadcasts(Page[BroadcastSummary]):
    """A page of the caller's broadcasts, newest first: a city admin's are every one, a principal's or district
    admin's the ones they sent. ``total`` counts them all."""

    model_config = _examples({"items": [_SUMMARY], "limit": 50, "next": None, "total": 1})


class Receipt(BaseModel):
    person: PersonRef
    read: bool
    channels: dict[str, DeliveryState] = Field(description="per channel, the delivery's state")


class Receipts(Page[Receipt]):
    model_config = _examples({
        "items": [{"person": {"id": _GUARDIAN, "name": "Anna Lindqvist", "protected": False}, "read": True,
                   "channels": {"email": "delivered", "inapp": "delivered"}},
                  {"person": {"id": None, "name": None, "protected": True}, "read": False, "channels": {"inapp": "delivered"}}],
        "limit": 50, "next": None, "total": 2, "broadcastId": _BROADCAST, "schoolUnitId": _SCHOOL,
    })

    broadcastId: UUID
    schoolUnitId: UUID


# --- delivery ----------------------------------------------------------------------------------

class CallbackResult(BaseModel):
    model_config = _examples({"reference": "184467", "state": "delivered", "changed": True})

    reference: str
    state: DeliveryState | None = Field(description="the delivery's state after the report")
    changed: bool = Field(description="false for a late or repeated report, which changes nothing")


class SendNowResult(BaseModel):
    model_config = _examples({"asOf": _AT, "claimed": {"email": 12, "sms": 0, "push": 7, "inapp": 0}})

    asOf: datetime
    claimed: dict[str, int] = Field(description="deliveries sent, per channel")


# --- worklists ---------------------------------------------------------------------------------

class UnreachedMessage(BaseModel):
    messageId: UUID
    broadcastId: UUID | None = Field(default=None, description="the broadcast the message is one of; null for other messages")
    type: str
    createdAt: datetime
    channels: dict[str, DeliveryState]
    reason: Literal["no-contact-details", "all-channels-failed"]


class UnreachedGuardian(BaseModel):
    person: PersonRef
    messages: list[UnreachedMessage]


class UnreachedPage(Page[UnreachedGuardian]):
    """Guardians no channel reached, a page of them; ``guardians`` counts them all (as ``total`` does)."""

    model_config = _examples({
        "items": [{"person": {"id": _GUARDIAN, "name": "Anna Lindqvist", "protected": False},
                   "messages": [{"messageId": _MESSAGE, "type": "broadcast", "createdAt": _AT,
                                 "channels": {"inapp": "delivered"}, "reason": "no-contact-details"}]}],
        "limit": 50, "next": None, "total": 1, "schoolUnitId": _SCHOOL, "days": 30, "guardians": 1,
    })

    schoolUnitId: UUID
    days: int
    guardians: int


class QuietHoursBypass(BaseModel):
    model_config = _examples({"at": _AT, "messageId": _MESSAGE, "person": {"id": _GUARDIAN, "name": "Anna Lindqvist", "protected": False},
                              "channel": "push", "localTime": "22:15", "schoolUnitId": _SCHOOL, "messageType": "critical"})

    at: datetime
    messageId: UUID
    person: PersonRef
    channel: str
    localTime: str = Field(description="the recipient's local time when it went out, HH:MM")
    schoolUnitId: UUID | None
    messageType: str


class QuietHoursBypasses(Page[QuietHoursBypass]):
    model_config = _examples({"items": [example_of(QuietHoursBypass)],
                              "limit": 50, "next": None, "total": 1})


# --- privacy -----------------------------------------------------------------------------------

class AccessLogEntry(BaseModel):
    model_config = _examples({"id": 90211, "at": _AT, "actor": _REKTOR, "actorPerson": {"id": _REKTOR, "name": "Karin Ekström", "protected": False},
                              "actorRoles": ["principal"], "action": "receipts.read", "subject": None, "subjects": [_GUARDIAN],
                              "why": "delivery-problem", "path": f"/broadcasts/{_BROADCAST}/receipts"})

    id: int
    at: datetime
    actor: str = Field(description="the account that read or wrote (token subject); what ?actor= filters on")
    actorPerson: PersonRef | None = Field(description="the actor as a person; null when the account is not a person")
    actorRoles: list[str]
    action: str
    subject: UUID | None = Field(description="the person the access was about, when it was about one")
    subjects: list[UUID] = Field(description="every person whose data the answer carried")
    subjectPerson: PersonRef | None = Field(default=None, description="the subject as a person reference (a protected identity "
                                                                      "without id or name); null when the access was about no one")
    subjectPeople: list[PersonRef] = Field(default_factory=list, description="``subjects`` as person references, in the same order")
    why: str = Field(description="own-data, city-sync, or the reason given")
    path: str


class AccessLog(Page[AccessLogEntry]):
    """A page of the access log, newest first; ``total`` is not counted (the log is long), so it is null."""

    model_config = _examples({"items": [example_of(AccessLogEntry)],
                              "limit": 50, "next": "bzo1MA", "total": None})


class AccessRequestCreated(BaseModel):
    model_config = _examples({"id": _REQUEST, "status": "pending", "statusUrl": f"/privacy/access-requests/{_REQUEST}",
                              "personId": _GUARDIAN, "requestedAt": _AT})

    id: UUID
    status: Literal["pending"]
    statusUrl: str
    personId: UUID
    requestedAt: datetime


class AccessRequestPending(BaseModel):
    model_config = _examples({"id": _REQUEST, "status": "pending", "personId": _GUARDIAN, "requestedAt": _AT,
                              "received": ["notification", "catalog"], "pending": ["assessment", "reporting"]})

    id: UUID
    status: Literal["pending"]
    personId: UUID
    requestedAt: datetime
    received: list[str] = Field(description="services whose part is in")
    pending: list[str] = Field(description="services whose part is awaited")


class AccessRequestSummary(BaseModel):
    model_config = _examples({"id": _REQUEST, "status": "ready", "personId": _GUARDIAN,
                              "person": {"id": _GUARDIAN, "name": "Anna Lindqvist", "protected": False},
                              "reasonCode": "data-subject-request", "requestedAt": _AT, "completedAt": _AT,
                              "expiresAt": "2026-12-03T07:42:11.020Z", "received": ["assessment", "catalog", "notification", "reporting"],
                              "pending": []})

    id: UUID
    status: Literal["pending", "ready", "expired"] = Field(description="pending: parts awaited; ready: the export can be fetched; "
                                                                      "expired: the export was removed (or never completed in time)")
    personId: UUID
    person: PersonRef = Field(description="whose data, as a person reference (a protected identity without id or name)")
    reasonCode: str
    requestedAt: datetime
    completedAt: datetime | None
    expiresAt: datetime | None
    received: list[str] = Field(description="services whose part is in")
    pending: list[str] = Field(description="services whose part is awaited")


class AccessRequestList(Page[AccessRequestSummary]):
    """The caller's own access requests, newest first."""

    model_config = _examples({"items": [example_of(AccessRequestSummary)], "limit": 50, "next": None, "total": 1})


class ExportPart(BaseModel):
    rows: int
    receivedAt: datetime
    erased: bool = Field(default=False, description="the person's key was destroyed: nothing readable is held")
    tables: dict[str, list[dict[str, Any]]] = Field(default_factory=dict, description="each kind of data held, as rows (free-form)")


class AccessExport(BaseModel):
    model_config = _examples({
        "id": _REQUEST, "person": _GUARDIAN, "reasonCode": "data-subject-request", "requestedAt": _AT, "completedAt": _AT,
        "expiresAt": "2026-12-03T07:42:11.020Z", "rows": 3,
        "services": {"notification": {"rows": 3, "receivedAt": _AT, "erased": False,
                                      "tables": {"contacts": [{"email": "anna.lindqvist@example.se", "mobile": None, "pushToken": None,
                                                               "language": "sv", "updatedAt": _AT}]}}},
    })

    id: UUID
    person: UUID
    reasonCode: str
    requestedAt: datetime
    completedAt: datetime
    expiresAt: datetime
    rows: int
    services: dict[str, ExportPart]


class ErasureRequestCreated(BaseModel):
    model_config = _examples({"id": _REQUEST, "status": "pending", "statusUrl": f"/privacy/erasure-requests/{_REQUEST}", "new": True})

    id: UUID
    status: Literal["pending"]
    statusUrl: str
    new: bool = Field(description="false when a pending request for the person was answered instead")


class ErasureConfirmation(BaseModel):
    status: Literal["confirmed", "pending"]
    erasedAt: datetime | None = None
    counts: dict[str, int] | None = Field(default=None, description="rows erased, per kind")


class ErasureRequestStatus(BaseModel):
    model_config = _examples({
        "id": _REQUEST, "status": "pending", "source": "api", "reasonCode": "no-longer-necessary", "requestedAt": _AT, "completedAt": None,
        "keyDestroyed": False,
        "services": {"assessment": {"status": "confirmed", "erasedAt": _AT, "counts": {"actions": 2}}, "catalog": {"status": "pending"},
                     "reporting": {"status": "pending"}, "notification": {"status": "confirmed", "erasedAt": _AT, "counts": {"contact": 1}}},
    })

    id: UUID
    status: Literal["pending", "complete"]
    source: str
    reasonCode: str
    requestedAt: datetime
    completedAt: datetime | None
    keyDestroyed: bool | None = Field(description="whether the person's key was destroyed; null until the request is complete")
    services: dict[str, ErasureConfirmation]


class ErasureRequestList(Page[ErasureRequestStatus]):
    """Erasure requests, newest first (never the person: only the request and each service's confirmation)."""

    model_config = _examples({"items": [example_of(ErasureRequestStatus)], "limit": 50, "next": None, "total": 1})
