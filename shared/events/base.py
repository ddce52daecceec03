"""The base of every event contract.

A contract names its CloudEvents type (``se.skolit.<producer>.<what>.v<N>``), the topic it travels
on and the party that produces it. The payload never carries contact details or personnummer:
persons are referred to by id only — and in Skolit's own events that id is *sealed* with the person's own
key (``SealedPersonRef``, shared/privacy/vault.py), so erasing the person leaves every copy unreadable
(docs/decisions/0009). The city's events (shared/events/city.py) are not Skolit's and carry plain ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Annotated, ClassVar
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

SEALED_PATTERN = r"^pk1\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[A-Za-z0-9_-]{16,}$"

#: A person's id sealed with that person's own key: ``pk1.<key id>.<ciphertext>`` (shared/privacy/vault.py
#: ``seal``). Consumers that need the id open it (``vault.open_ref``); once the person is erased their key is
#: destroyed and the reference opens to nothing (docs/decisions/0009).
SealedPersonRef = Annotated[str, Field(
    max_length=200, pattern=SEALED_PATTERN,
    description="a person id sealed with the person's own key (pk1.<key id>.<ciphertext>, shared/privacy/vault.py); "
                "unreadable once the person is erased (docs/decisions/0009)",
    examples=["pk1.0b7e2a4e-6f1d-4c1a-9a51-3c2d1e000002.q3Jm0s1pYk9x4b2Z7c8d9e0fAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw"],
)]


def _not_a_plain_person_id(value: str) -> str:
    try:
        UUID(value)
    except ValueError:
        return value
    raise ValueError("a person id must travel sealed (pk1.…, shared/privacy/vault.py), never plain")


#: Who did something: a person (their id sealed, as ``SealedPersonRef``) or, for a system or an account that
#: is not a person id (``skolit:dpa-expiry``, a city system's account), that name as it is. The rule that
#: tells them apart: a UUID-shaped actor is a person and is sealed; anything else stays plain. A plain UUID
#: is refused.
ActorRef = Annotated[str, AfterValidator(_not_a_plain_person_id), Field(
    min_length=1, max_length=200,
    description="who did it: a person id sealed with the person's own key (pk1.<key id>.<ciphertext>, "
                "shared/privacy/vault.py), or the name of a system or account that is not a person id; never a plain UUID",
)]


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    TYPE: ClassVar[str]
    TOPIC: ClassVar[str]
    PRODUCER: ClassVar[str]
    #: the attribute whose value becomes the Kafka message key, so each school's events stay ordered
    KEY_FIELD: ClassVar[str] = "schoolUnitId"

    def key(self) -> str:
        value = getattr(self, self.KEY_FIELD)
        return str(value) if value is not None else ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "TYPE" in cls.__dict__:
            from shared.events.registry import register

            register(cls)


def subject_of(event: Event) -> str | None:
    """The CloudEvents ``subject``: the entity the event is about, if it has an ``id``."""
    value = getattr(event, "id", None)
    return str(value) if isinstance(value, (UUID, str)) else None


class DataErased(Event):
    """What every service's confirmation of an erasure says (each service has its own type, in its own
    module): the request it answers and how many rows of each of its tables it deleted or anonymised —
    counts only, never an id (docs/decisions/0009)."""

    KEY_FIELD: ClassVar[str] = "requestId"

    requestId: UUID
    erasedAt: datetime
    counts: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.]{0,62}$")], Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="rows deleted or anonymised, per table (a table's name, never an id)")
