"""The size policy, bounded dead letters, how a record is known in the inbox, and the relay's parking rules
(issue 17, decision 0012). No broker, no database: the integration tests do those."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared import outbox, problems
from shared.consumer import Handlers, dead_letter, decode_record, record_bytes
from shared.events.city import OrganisationUpserted, PersonUpserted
from shared.events.envelope import encode, new_envelope
from shared.outbox import EventTooLarge, Health, unpublishable
from tests.support.records import FakeRecord
from shared.topics import (
    CITY_ORGANISATION, DEAD_LETTER_BODY_PREFIX_BYTES, MAX_EVENT_BYTES, MAX_MESSAGE_BYTES, TOPIC_CONFIGS, is_declared,
)


HANDLERS = Handlers({OrganisationUpserted: lambda conn, env: asyncio.sleep(0)})  # type: ignore[arg-type,return-value]


def organisation_record(pad: int = 0, **kw: Any) -> FakeRecord:
    ev = OrganisationUpserted(id=uuid.uuid4(), displayName="Ekbacken", organisationType="Skolenhet")
    w = encode(new_envelope(ev, "tests"))
    value = w.value[:-1] + b',"padding":"' + b"x" * pad + b'"}' if pad else w.value
    return FakeRecord(w.topic, 3, 42, w.key, value, list(w.headers), **kw)


def test_the_policy_leaves_room_for_batch_framing_and_topics_carry_it() -> None:
    assert MAX_EVENT_BYTES + 4096 <= MAX_MESSAGE_BYTES
    assert TOPIC_CONFIGS["max.message.bytes"] == str(MAX_MESSAGE_BYTES)
    assert is_declared(CITY_ORGANISATION.name) and is_declared(CITY_ORGANISATION.dlq)
    assert not is_declared("skolit.nowhere") and not is_declared("skolit.nowhere.dlq")


def test_an_oversized_record_is_dead_lettered_under_its_coordinates_even_with_a_valid_id() -> None:
    rec = organisation_record(pad=MAX_EVENT_BYTES)
    assert record_bytes(rec) > MAX_EVENT_BYTES
    item = decode_record(rec, HANDLERS)
    assert item is not None and item.envelope is None and item.error_class == "RecordTooLarge"
    assert str(MAX_EVENT_BYTES) in (item.error or "")
    assert item.inbox_id == f"kafka:{rec.topic}:3:42", "an oversized record must not take the id it carries"


def test_a_record_just_under_the_limit_is_judged_on_its_content() -> None:
    rec = organisation_record()
    rec.value = rec.value[:-1] + b',"padding":"' + b"x" * (MAX_EVENT_BYTES - record_bytes(rec) - 20) + b'"}'
    assert record_bytes(rec) <= MAX_EVENT_BYTES
    item = decode_record(rec, HANDLERS)
    assert item is not None and item.error_class == "SchemaViolation" and "padding" in (item.error or "")
    assert item.inbox_id == dict(rec.headers)["ce_id"].decode()


def test_a_dead_letter_keeps_the_original_when_it_fits() -> None:
    rec = organisation_record()
    rec.value = b"{not json"
    item = decode_record(rec, HANDLERS)
    assert item is not None
    letter = dead_letter(item, "reporting", "skolit-reporting")
    h = dict(letter.headers)
    assert letter.value == b"{not json" and letter.key == rec.key and "dlq_bounded" not in h
    assert h["ce_id"] == dict(rec.headers)["ce_id"].decode() and h["dlq_original_offset"] == "42" and "not JSON" in h["dlq_reason"]


def test_an_oversized_record_becomes_a_bounded_letter_that_fits_the_dead_letter_topic() -> None:
    rec = organisation_record(pad=2 * MAX_EVENT_BYTES)
    rec.headers += [(f"x-{i}", b"y" * 20_000) for i in range(10)] + [("x-huge", b"z" * 300_000)]
    rec.key = b"k" * 5000
    item = decode_record(rec, HANDLERS)
    assert item is not None
    letter = dead_letter(item, "reporting", "skolit-reporting")
    h = dict(letter.headers)
    assert letter.size <= MAX_EVENT_BYTES
    assert h["dlq_bounded"] == "true" and h["dlq_body_bytes"] == str(len(rec.value or b""))
    assert h["dlq_body_sha256"] == hashlib.sha256(rec.value or b"").hexdigest()
    assert letter.value == (rec.value or b"")[:DEAD_LETTER_BODY_PREFIX_BYTES]
    assert h["ce_type"] == OrganisationUpserted.TYPE and h["dlq_original_topic"] == rec.topic and h["dlq_original_partition"] == "3"
    assert int(h["dlq_headers_dropped"]) >= 1 and all(len(v.encode()) <= 8 * 1024 for k, v in letter.headers if k.startswith("x-"))
    assert letter.key is not None and len(letter.key) == 64, "a huge key is replaced by its digest"


def test_a_record_with_unreadable_attributes_is_known_by_its_coordinates() -> None:
    rec = organisation_record()
    rec.headers = rec.headers + [("ce_id", b"another id")]
    item = decode_record(rec, HANDLERS)
    assert item is not None and "repeated" in (item.error or "") and item.inbox_id == f"kafka:{rec.topic}:3:42"


def test_a_structured_event_of_another_services_type_is_skipped() -> None:
    w = encode(new_envelope(PersonUpserted(id=uuid.uuid4()), "city"))
    h = {k: v.decode() for k, v in w.headers}
    body = orjson.dumps({"specversion": "1.0", "id": h["ce_id"], "type": h["ce_type"], "source": "city", "data": orjson.loads(w.value)})
    assert decode_record(FakeRecord(w.topic, 0, 1, w.key, body, [("content-type", b"application/cloudevents+json")]), HANDLERS) is None


# ---- events of our own --------------------------------------------------------------------------------------


class NoWrites:
    async def executemany(self, *args: Any) -> None:
        raise AssertionError("an event over the limit must not be written to the outbox")


def test_an_event_of_our_own_over_the_limit_is_refused_before_the_outbox() -> None:
    huge = OrganisationUpserted(id=uuid.uuid4(), displayName="x", organisationType="Skolenhet", schoolTypes=["GR"] * 200_000)
    with pytest.raises(EventTooLarge, match=f"over the {MAX_EVENT_BYTES} bytes"):
        asyncio.run(outbox.add(NoWrites(), "tests", huge))  # type: ignore[arg-type]


def test_http_answers_an_event_too_large_with_a_413_problem_naming_the_body() -> None:
    app = FastAPI()
    problems.install(app)

    @app.post("/things")
    async def make() -> None:
        raise EventTooLarge("se.skolit.catalog.app-changed.v1", MAX_EVENT_BYTES + 5)

    r = TestClient(app).post("/things")
    assert r.status_code == 413 and r.headers["content-type"] == problems.MEDIA_TYPE
    body = r.json()
    assert body["status"] == 413 and body["field"] == "body" and str(MAX_EVENT_BYTES + 5) in body["detail"] and body["errors"][0]["location"] == "body"


# ---- the relay's rules --------------------------------------------------------------------------------------


def row(topic: str = CITY_ORGANISATION.dlq, headers: Any = None, payload: bytes = b"{}", key: bytes | None = b"k") -> dict[str, Any]:
    return {"topic": topic, "headers": [["ce_id", "x"]] if headers is None else headers, "payload": payload, "key": key}


@pytest.mark.parametrize(
    ("r", "reason"),
    [
        (row(topic="skolit.nowhere"), "not one Skolit declares"),
        (row(headers={"ce_id": "x"}), "headers are not a list"),
        (row(headers=[["ce_id", 5]]), "headers are not a list"),
        (row(payload=b"x" * (MAX_EVENT_BYTES + 1)), "over the"),
    ],
)
def test_the_relay_knows_a_row_it_can_never_publish(r: dict[str, Any], reason: str) -> None:
    assert reason in (unpublishable(r) or "")


def test_the_relay_publishes_an_ordinary_row() -> None:
    assert unpublishable(row()) is None and unpublishable(row(key=None, payload=b"x" * 1000)) is None


def test_health_is_degraded_not_failed_when_an_operator_is_needed() -> None:
    assert Health(0, 0.0, 0, 0, 999.0).verdict(120) == "ok", "an idle relay with nothing waiting is fine"
    assert Health(5, 3.0, 0, 0, 10.0).verdict(120) == "ok"
    stalled = Health(5, 300.0, 0, 0, 300.0).verdict(120)
    assert stalled.startswith("degraded:") and "nothing published for 300 s while 5 row(s) wait" in stalled
    parked = Health(2, 9.0, 1, 2, 0.0).verdict(120)
    assert parked.startswith("degraded:") and "1 parked row(s)" in parked and "2 row(s) of the same keys wait" in parked
