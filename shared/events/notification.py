"""Events produced by the notification service: what reached whom, by ids only — never an address,
a number, a token or the text of a message."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import Field

from shared.events.base import ActorRef, DataErased, Event, SealedPersonRef
from shared.topics import NOTIFICATION

PRODUCER = "notification"


class MessageDelivered(Event):
    """A message reached a recipient over a channel (the mail server or gateway took it for good)."""

    TYPE = "se.skolit.notification.message-delivered.v1"
    TOPIC = NOTIFICATION.name
    PRODUCER = PRODUCER
    KEY_FIELD = "messageId"  # never the recipient: a key is not sealed

    messageId: UUID
    deliveryId: int
    recipient: SealedPersonRef = Field(description="the recipient: their person id, sealed (shared/privacy/vault.py)")
    channel: str = Field(description="push, sms or email")
    messageType: str
    schoolUnitId: UUID | None = None


class MessageFailed(Event):
    """A message could not reach a recipient over a channel, for good; ``fallbackChannel`` names the
    channel tried next, if any."""

    TYPE = "se.skolit.notification.message-failed.v1"
    TOPIC = NOTIFICATION.name
    PRODUCER = PRODUCER
    KEY_FIELD = "messageId"  # never the recipient: a key is not sealed

    messageId: UUID
    deliveryId: int
    recipient: SealedPersonRef = Field(description="the recipient: their person id, sealed (shared/privacy/vault.py)")
    channel: str
    state: str = Field(description="permanent-failure or bounced")
    reason: str = Field(description="a code such as smtp-550, http-400, attempts-exhausted, no-contact; never the gateway's text")
    messageType: str
    schoolUnitId: UUID | None = None
    fallbackChannel: str | None = None


class GuardianReachMeasured(Event):
    """How many of a school unit's current guardians a digital channel reached in the year so far
    (delivered by e-mail, SMS or push, or read in the app). Counted daily; the newest count replaces."""

    TYPE = "se.skolit.notification.guardian-reach-measured.v1"
    TOPIC = NOTIFICATION.name
    PRODUCER = PRODUCER

    schoolUnitId: UUID
    year: int = Field(description="the calendar year counted, as in the reporting figures")
    guardians: int = Field(ge=0)
    reached: int = Field(ge=0)
    share: float = Field(ge=0, le=1)


class AccessRequested(Event):
    """Someone asked for everything Skolit holds about a person (right of access, art. 15 GDPR;
    docs/decisions/0010). Each other service answers with its own ``…DataExported`` event, its part sealed
    for ``publicKey``. The person travels sealed with their own key (shared/privacy/vault.py), never plain."""

    TYPE = "se.skolit.notification.access-requested.v1"
    TOPIC = NOTIFICATION.name
    PRODUCER = PRODUCER
    KEY_FIELD = "requestId"

    requestId: UUID
    person: SealedPersonRef
    publicKey: str = Field(min_length=44, max_length=44, description="base64 of the request's X25519 public key (32 bytes); "
                                                                      "every part is sealed for it (shared/privacy/sealedbox.py)")
    requestedAt: datetime


class ErasureReason(StrEnum):
    """Why a person's data is erased (art. 17.1 GDPR); a code, never free text."""

    NO_LONGER_NECESSARY = "no-longer-necessary"  # 17.1 a
    OBJECTION = "objection"  # 17.1 c
    UNLAWFUL_PROCESSING = "unlawful-processing"  # 17.1 d
    LEGAL_OBLIGATION = "legal-obligation"  # 17.1 e
    REGISTERED_IN_ERROR = "registered-in-error"  # the city's systems registered a person who should not be there


class ErasureRequested(Event):
    """A person's data is to be erased everywhere (docs/decisions/0009): every service erases or anonymises
    what it holds and confirms with its own ``…DataErased`` event; when all four have, notification destroys
    the person's key. The person travels sealed with their own key, never plain."""

    TYPE = "se.skolit.notification.erasure-requested.v1"
    TOPIC = NOTIFICATION.name
    PRODUCER = PRODUCER
    KEY_FIELD = "requestId"

    requestId: UUID
    person: SealedPersonRef
    reasonCode: ErasureReason
    requestedAt: datetime
    requestedBy: ActorRef = Field(description="who asked: a city admin or data protection officer (sealed), or the city system's account")
    source: Literal["api", "city"] = Field(description="api: POST /privacy/erasure-requests; city: the city's PersonErasureRequested event")


class NotificationDataErased(DataErased):
    """Notification erased what it held about a person, answering ErasureRequested (docs/decisions/0009):
    the person, their relations and duties, contact details, preferences, deliveries, the messages that were
    theirs alone, quiet-hours bypasses and contact-access log; as an actor (broadcast sender) "erased"."""

    TYPE = "se.skolit.notification.data-erased.v1"
    TOPIC = NOTIFICATION.name
    PRODUCER = PRODUCER
