"""Skolit's own events carry persons sealed (docs/decisions/0009): every contract field that names a person is a
``SealedPersonRef`` or an ``ActorRef`` and refuses a plain id; no Kafka key and no ``ce_subject`` is a person.
The city's contracts are the city's and carry ids plain."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.events import REGISTRY
from shared.events.base import ActorRef, SealedPersonRef
from tests.support.sealing import unknown_ref

#: field names that say "a person": who did it (…By, by), whom it is for or about
PERSON_FIELD = re.compile(r"^(by|person|requester|recipient|guardian|pupil|teacher|actor)$|By$")
SKOLIT = sorted((t, m) for t, m in REGISTRY.items() if m.PRODUCER != "city")


def _adapter(model: Any, name: str) -> TypeAdapter:
    field = model.model_fields[name]
    return TypeAdapter(Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation)


def person_fields() -> list[tuple[str, str]]:
    return [(t, name) for t, m in SKOLIT for name in m.model_fields if PERSON_FIELD.search(name)]


def test_the_guard_sees_the_person_fields() -> None:
    found = {(REGISTRY[t].__name__, name) for t, name in person_fields()}
    assert {("AssessmentSubmitted", "submittedBy"), ("AppRequestDecided", "requester"), ("AppRequestDecided", "decidedBy"),
            ("MessageDelivered", "recipient"), ("ErasureRequested", "person"), ("CampaignOpened", "openedBy")} <= found


@pytest.mark.parametrize(("event_type", "name"), person_fields())
def test_a_person_field_refuses_a_plain_id_and_takes_a_sealed_one(event_type: str, name: str) -> None:
    adapter = _adapter(REGISTRY[event_type], name)
    for plain in (str(uuid.uuid4()), str(uuid.uuid4()).upper(), uuid.uuid4().hex):
        with pytest.raises(ValidationError):
            adapter.validate_python(plain)
    sealed = unknown_ref()
    assert adapter.validate_python(sealed) == sealed


@pytest.mark.parametrize("event_type", [t for t, _ in SKOLIT])
def test_no_key_or_subject_is_a_person(event_type: str) -> None:
    model = REGISTRY[event_type]
    assert not PERSON_FIELD.search(model.KEY_FIELD), f"{model.__name__} is keyed by {model.KEY_FIELD}: a key is never sealed"
    if "id" in model.model_fields:  # the CloudEvents subject (shared/events/base.py subject_of)
        assert model.model_fields["id"].annotation is uuid.UUID


def test_actors_are_sealed_persons_or_names_that_are_not_ids() -> None:
    actor, person = TypeAdapter(ActorRef), TypeAdapter(SealedPersonRef)
    for name in ("skolit:dpa-expiry", "city.ist", "matrix-setup", "erased"):
        assert actor.validate_python(name) == name
        with pytest.raises(ValidationError):
            person.validate_python(name)
    for bad in ("", "x" * 201, str(uuid.uuid4()), "{" + str(uuid.uuid4()) + "}"):
        with pytest.raises(ValidationError):
            actor.validate_python(bad)
    assert "sealed" in (actor.json_schema()["description"]) and person.json_schema()["pattern"].startswith("^pk1")
