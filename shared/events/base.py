"""The base of every event contract.

A contract names its CloudEvents type (``se.skolit.<producer>.<what>.v<N>``), the topic it travels
on and the party that produces it. The payload never carries contact details or personnummer:
persons are referred to by id only.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict


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

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "TYPE" in cls.__dict__:
            from shared.events.registry import register

            register(cls)


def subject_of(event: Event) -> str | None:
    """The CloudEvents ``subject``: the entity the event is about, if it has an ``id``."""
    value = getattr(event, "id", None)
    return str(value) if isinstance(value, (UUID, str)) else None
