"""Events produced by the notification service: what reached whom, by ids only — never an address,
a number, a token or the text of a message."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from shared.events.base import Event
from shared.topics import NOTIFICATION

PRODUCER = "notification"


class MessageDelivered(Event):
    """A message reached a recipient over a channel (the mail server or gateway took it for good)."""

    TYPE = "se.skolit.notification.message-delivered.v1"
    TOPIC = NOTIFICATION.name
    PRODUCER = PRODUCER
    KEY_FIELD = "recipient"

    messageId: UUID
    deliveryId: int
    recipient: UUID = Field(description="the person's id")
    channel: str = Field(description="push, sms or email")
    messageType: str
    schoolUnitId: UUID | None = None


class MessageFailed(Event):
    """A message could not reach a recipient over a channel, for good; ``fallbackChannel`` names the
    channel tried next, if any."""

    TYPE = "se.skolit.notification.message-failed.v1"
    TOPIC = NOTIFICATION.name
    PRODUCER = PRODUCER
    KEY_FIELD = "recipient"

    messageId: UUID
    deliveryId: int
    recipient: UUID
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
