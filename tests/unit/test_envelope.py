"""CloudEvents binary mode: encoding, decoding, and how bad input is classified."""

from __future__ import annotations

import re
import uuid

import pytest

from shared.events import REGISTRY
from shared.events.city import GuardianRelationAdded, OrganisationUpserted
from shared.events.envelope import SchemaViolation, UndecodableMessage, UnknownEventType, decode, encode, header_map, new_envelope


def school() -> OrganisationUpserted:
    return OrganisationUpserted(id=uuid.uuid4(), displayName="Ekbackens skola", organisationType="Skolenhet", schoolUnitCode="12345678", schoolTypes=["GR"])


def test_round_trip_keeps_attributes_data_and_key() -> None:
    event = school()
    env = new_envelope(event, "tests")
    wire = encode(env)
    headers = header_map(wire.headers)
    assert {"ce_id", "ce_type", "ce_source", "ce_time", "ce_specversion", "content-type"} <= set(headers)
    assert headers["ce_type"] == "se.skolit.city.organisation.upserted.v1" and headers["content-type"] == "application/json"
    assert wire.key == str(event.id).encode() and wire.topic == "skolit.city.organisation"
    back = decode(headers, wire.value)
    assert back.data == event and back.id == env.id and back.time == env.time


def test_guardian_relation_is_keyed_by_the_school_unit() -> None:
    rel = GuardianRelationAdded(id=uuid.uuid4(), guardian=uuid.uuid4(), pupil=uuid.uuid4(), schoolUnit=uuid.uuid4())
    assert encode(new_envelope(rel, "t")).key == str(rel.schoolUnit).encode()


@pytest.mark.parametrize(
    ("mutate", "error", "reason"),
    [
        (lambda h, v: (h, b"{nope"), UndecodableMessage, "not JSON"),
        (lambda h, v: ({**h, "ce_type": "se.skolit.city.organisation.upserted.v7"}, v), UnknownEventType, "unknown event type"),
        (lambda h, v: ({k: x for k, x in h.items() if k != "ce_id"}, v), UndecodableMessage, "ce_id"),
        (lambda h, v: ({**h, "ce_specversion": "0.3"}, v), UndecodableMessage, "specversion"),
        (lambda h, v: ({**h, "content-type": "text/plain"}, v), UndecodableMessage, "content-type"),
        (lambda h, v: (h, b'{"id": "x"}'), SchemaViolation, "id"),
        (lambda h, v: (h, v.replace(b'"12345678"', b'"1234"')), SchemaViolation, "schoolUnitCode"),
        (lambda h, v: (h, v[:-1] + b',"email":"a@b.se"}'), SchemaViolation, "email"),
    ],
)
def test_bad_input_is_a_permanent_error_with_a_reason(mutate, error, reason) -> None:  # type: ignore[no-untyped-def]
    wire = encode(new_envelope(school(), "tests"))
    headers, value = mutate(header_map(wire.headers), wire.value)
    with pytest.raises(error, match=reason):
        decode(headers, value)


def test_contracts_are_versioned_namespaced_and_carry_no_contact_fields() -> None:
    forbidden = re.compile(r"mail|phone|civic|personnummer|address|givenName|familyName", re.I)
    for event_type, model in REGISTRY.items():
        assert re.fullmatch(r"se\.skolit\.[a-z]+\.[a-z.-]+\.v\d+", event_type), event_type
        assert model.PRODUCER in {"city", "assessment", "catalog", "reporting", "notification"}
        assert not [f for f in model.model_fields if forbidden.search(f)], model.__name__
        assert model.KEY_FIELD in model.model_fields, model.__name__
