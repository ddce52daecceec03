"""Type string → contract model. A type not found here is unknown and goes to the dead-letter topic."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.events.base import Event

REGISTRY: dict[str, type[Event]] = {}


def register(model: type[Event]) -> None:
    existing = REGISTRY.get(model.TYPE)
    if existing is not None and existing is not model:
        raise RuntimeError(f"event type {model.TYPE} is declared twice ({existing.__name__}, {model.__name__})")
    REGISTRY[model.TYPE] = model


def model_for(event_type: str) -> type[Event] | None:
    return REGISTRY.get(event_type)
