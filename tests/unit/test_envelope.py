"""CloudEvents binary mode: encoding, decoding, and how bad input is classified."""

from __future__ import annotations

import re
import uuid

import pytest

from shared.events import REGISTRY
from shared.events.city import GuardianRelationAdded, OrganisationUpserted, PersonUpserted
from shared.events.envelope import SchemaViolation, UndecodableMessage, UnknownEventType, decode, encode, header_map, new_envelope
from shared.topics import CITY_PERSON


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
    forbidden = re.compile(r"mail|phone|civic|personnummer|address", re.I)
    for event_type, model in REGISTRY.items():
        assert re.fullmatch(r"se\.skolit\.[a-z]+\.[a-z.-]+\.v\d+", event_type), event_type
        assert model.PRODUCER in {"city", "assessment", "catalog", "reporting", "notification"}
        assert not [f for f in model.model_fields if forbidden.search(f)], model.__name__
        assert model.KEY_FIELD in model.model_fields, model.__name__


NAME_FIELD = re.compile(r"name$|^(given|family|first|last|middle|full|nick)", re.I)
#: the only contract fields that name something, and what: none of Skolit's own names a person
NAMED_THINGS = {("CampaignOpened", "name"), ("OrganisationUpserted", "displayName"),
                *((app, "name") for app in ("AppPublished", "AppChanged", "AppStatusChanged", "AppRetired")),
                *((app, "appName") for app in ("DpaExpired", "LicenceExpiring", "AppRequestSubmitted", "AppRequestProgressed",
                                               "AppRequestDecided", "AppRequestStalled"))}


def test_names_of_people_travel_only_on_the_citys_person_topic() -> None:
    """SS 12000 givenName/familyName are in the city's PersonUpserted alone (issue 19): Skolit's own events carry
    persons sealed and never by name, and every other field ending in "name" is the name of a thing."""
    person_names = {"givenName", "familyName"}
    for model in REGISTRY.values():
        named = {f for f in model.model_fields if NAME_FIELD.search(f)}
        if model is PersonUpserted:
            assert named == person_names and model.PRODUCER == "city" and model.TOPIC == CITY_PERSON.name
            continue
        assert not named & person_names, model.__name__
        assert {(model.__name__, f) for f in named} <= NAMED_THINGS, f"{model.__name__}: {named} (a person's name? add it here if not)"


# ---- structured content mode and the attribute rules (issue 17) ----------------------------------------------

def _structured(event: OrganisationUpserted | None = None, **changes: object) -> tuple[list[tuple[str, bytes | None]], bytes, object]:
    import orjson

    event = event or school()
    wire = encode(new_envelope(event, "city.ist"))
    h = {k: v.decode() for k, v in wire.headers}
    doc: dict[str, object] = {"specversion": "1.0", "id": h["ce_id"], "type": h["ce_type"], "source": h["ce_source"], "time": h["ce_time"],
                              "datacontenttype": "application/json", "data": orjson.loads(wire.value)}
    for k, v in changes.items():
        if v is None:
            doc.pop(k, None)
        else:
            doc[k] = v
    return [("content-type", b"application/cloudevents+json; charset=UTF-8")], orjson.dumps(doc), event


def test_a_structured_event_decodes_to_the_same_envelope_as_binary_mode() -> None:
    from shared.events.envelope import decode_data, read_cloudevent

    headers, body, event = _structured()
    attrs = read_cloudevent(headers, body)
    env = decode_data(attrs, body)
    assert attrs.structured and env.data == event and env.type == OrganisationUpserted.TYPE and env.source == "city.ist"


def test_structured_data_may_come_as_base64() -> None:
    import base64

    import orjson

    from shared.events.envelope import decode_data, read_cloudevent

    event = school()
    headers, body, _ = _structured(event)
    doc = orjson.loads(body)
    doc["data_base64"] = base64.b64encode(orjson.dumps(doc.pop("data"))).decode()
    env = decode_data(read_cloudevent(headers, orjson.dumps(doc)), None)
    assert env.data == event


@pytest.mark.parametrize(
    ("changes", "error", "reason"),
    [
        ({"id": None}, UndecodableMessage, "missing CloudEvents attribute.*: id"),
        ({"specversion": "0.3"}, UndecodableMessage, "specversion"),
        ({"type": 7}, UndecodableMessage, "attribute type is a JSON int"),
        ({"data": None}, UndecodableMessage, "missing CloudEvents data"),
        ({"datacontenttype": "text/xml"}, UndecodableMessage, "datacontenttype"),
        ({"data": {"id": "x"}}, SchemaViolation, "does not match its schema"),
        ({"type": "se.skolit.city.nothing.v1"}, UnknownEventType, "unknown event type"),
        ({"time": "2026-01-01T00:00:00"}, UndecodableMessage, "no UTC offset"),
    ],
)
def test_a_broken_structured_event_is_refused_with_the_same_reasons_as_binary_mode(changes, error, reason) -> None:  # type: ignore[no-untyped-def]
    from shared.events.envelope import decode_data, read_cloudevent

    headers, body, _ = _structured(**changes)
    with pytest.raises(error, match=reason):
        decode_data(read_cloudevent(headers, body), body)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h: h + [("ce_id", b"again")], "repeated CloudEvents header.*ce_id"),
        (lambda h: [(k, b"\xff\xfe" if k == "ce_type" else v) for k, v in h], "header ce_type is not UTF-8"),
        (lambda h: [(k, b"\xc3(" if k == "ce_subject" else v) for k, v in h] + [("ce_subject", b"\xc3(")], "ce_subject"),
        (lambda h: [(k, v) for k, v in h if k != "ce_source"], "missing CloudEvents header.*ce_source"),
        (lambda h: [("content-type", b"application/cloudevents-batch+json")], "batch of events"),
    ],
)
def test_attribute_headers_must_be_text_and_appear_once(mutate, reason) -> None:  # type: ignore[no-untyped-def]
    from shared.events.envelope import read_cloudevent

    wire = encode(new_envelope(school(), "tests"))
    with pytest.raises(UndecodableMessage, match=reason):
        read_cloudevent(mutate(list(wire.headers)), wire.value)


def test_garbage_in_headers_that_are_not_attributes_does_not_stop_a_valid_event() -> None:
    from shared.events.envelope import decode_data, read_cloudevent

    event = school()
    wire = encode(new_envelope(event, "tests"))
    headers = list(wire.headers) + [("traceparent", b"\xff\x00\xfe"), ("x-null", None), ("\ufffdname", b"\x80")]
    assert decode_data(read_cloudevent(headers, wire.value), wire.value).data == event
    assert header_map(headers)["traceparent"] == "\ufffd\ufffd\ufffd" and header_map(headers)["x-null"] == ""
