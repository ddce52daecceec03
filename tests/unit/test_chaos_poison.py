"""The chaos run's poison mix and structured-mode events, offline (chaos/workload.py, chaos/audit.py).

Each poison kind the workload produces must be what the audit says it is: run through the consumers' own
``shared.consumer.decode_record`` (the services' real handler sets, a fake Kafka record), it decodes to an
error for every service it concerns and to nothing for the others, under the inbox id the audit expects —
its CloudEvents id, or ``kafka:<topic>:<partition>:<offset>`` for the kinds whose attributes cannot be read
and for oversized records. Valid events sent in structured content mode decode like their binary twins. And
the dead letter a consumer writes for each poison record maps back, by the audit's rule, to that inbox id.
No broker, no database.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from chaos.audit import _ids, letter_id, service_handlers
from chaos.workload import (
    CITY_TOPICS,
    COORDINATE_KINDS,
    MAX_OVERSIZED,
    POISON_HEADER,
    POISON_KINDS,
    STRUCTURED_SHARE,
    Message,
    Workload,
    concerns,
    coordinates_id,
)
from shared.consumer import Handlers, dead_letter, decode_record, record_bytes
from shared.events.envelope import STRUCTURED_CONTENT_TYPE, encode
from shared.settings import SERVICES
from shared.topics import MAX_EVENT_BYTES, MAX_MESSAGE_BYTES

HANDLERS: dict[str, Handlers] = {name: service_handlers(name)[0] for name in SERVICES}
PARTITION, OFFSET = 4, 1234


@dataclass
class FakeRecord:
    """What aiokafka hands the consumer: the fields shared.consumer.Record names."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    partition: int = PARTITION
    offset: int = OFFSET


def record(m: Message, partition: int = PARTITION, offset: int = OFFSET) -> FakeRecord:
    assert m.headers is not None
    return FakeRecord(m.topic, m.key, m.value, list(m.headers), partition, offset)


def expected_inbox_id(m: Message, partition: int = PARTITION, offset: int = OFFSET) -> str:
    return coordinates_id(m.topic, partition, offset) if m.kind in COORDINATE_KINDS else m.id


@pytest.fixture(scope="module")
def workload() -> Workload:
    w = Workload(4000, poison_rate=0.01, seed=17)
    for _ in range(len(w)):
        w.next()
    return w


@pytest.fixture(scope="module")
def every_kind_on_every_topic() -> list[Message]:
    """Each poison kind on each city topic (the workload picks the topic at random): enough draws to see them all."""
    w = Workload(400, seed=3)
    out: dict[tuple[str, str], Message] = {}
    for i in range(2000):
        kind = POISON_KINDS[i % len(POISON_KINDS)]
        m = w._poison(i, kind)
        out.setdefault((kind, m.topic), m)
        if len(out) == len(POISON_KINDS) * len(CITY_TOPICS):
            break
    assert len(out) == len(POISON_KINDS) * len(CITY_TOPICS)
    return list(out.values())


def test_the_workload_produces_every_poison_kind_and_few_oversized(workload: Workload) -> None:
    kinds = Counter(m.kind for m in workload.poison())
    assert set(kinds) == set(POISON_KINDS)
    assert sum(kinds.values()) == workload.n_poison
    assert 1 <= kinds["oversized"] <= MAX_OVERSIZED
    # the other kinds take turns: none is more than a round ahead of another
    others = [n for k, n in kinds.items() if k != "oversized"]
    assert max(others) - min(others) <= 1
    assert COORDINATE_KINDS < set(POISON_KINDS)
    for m in workload.poison():
        assert m.by_coordinates == (m.kind in COORDINATE_KINDS)
        assert (POISON_HEADER, m.id.encode()) in (m.headers or [])


def test_a_few_percent_of_valid_events_go_in_structured_mode(workload: Workload) -> None:
    valid = workload.valid()
    structured = [m for m in valid if m.mode == "structured"]
    assert workload.by_mode["structured"] == len(structured)
    assert 0.5 * STRUCTURED_SHARE < len(structured) / len(valid) < 2 * STRUCTURED_SHARE
    for m in structured:
        assert m.headers is not None and m.headers[0][0] == "content-type"
        assert (m.headers[0][1] or b"").decode().startswith(STRUCTURED_CONTENT_TYPE)
        assert not any(k.startswith("ce_") for k, _ in m.headers)
    # both ways of carrying the data occur
    assert any(b'"data_base64"' in (m.value or b"") for m in structured)
    assert any(b'"data":' in (m.value or b"") for m in structured)


def test_valid_structured_events_decode_like_their_binary_twins(workload: Workload) -> None:
    checked = 0
    for m in workload.valid():
        if m.mode != "structured":
            continue
        for name, handlers in HANDLERS.items():
            if m.topic not in handlers.topics:
                continue
            item = decode_record(record(m), handlers)
            if not concerns(m, handlers.topics, handlers.by_type):
                assert item is None, (name, m.type)  # a type another service applies: skipped
                continue
            assert item is not None and item.error is None, (name, item and item.error)
            assert item.inbox_id == m.id
            assert item.envelope is not None and item.envelope.id == m.id and item.envelope.type == m.type
            binary = encode(item.envelope)
            assert binary.key == m.key and binary.topic == m.topic
            checked += 1
    assert checked > 0


def test_valid_binary_events_still_decode(workload: Workload) -> None:
    for m in workload.valid()[:300]:
        for handlers in HANDLERS.values():
            if m.topic in handlers.topics and concerns(m, handlers.topics, handlers.by_type):
                item = decode_record(record(m), handlers)
                assert item is not None and item.error is None and item.inbox_id == m.id


def _check_poison(m: Message) -> int:
    """Decode ``m`` as every service consuming its topic would; returns how many services dead-letter it."""
    dead_lettering = 0
    for name, handlers in HANDLERS.items():
        if m.topic not in handlers.topics:
            assert not concerns(m, handlers.topics, handlers.by_type)
            continue
        item = decode_record(record(m), handlers)
        if not concerns(m, handlers.topics, handlers.by_type):
            # a well-formed event of a known type another service applies: not this one's business
            assert m.kind in ("invalid-payload", "structured-invalid-data"), (name, m.kind)
            assert item is None, (name, m.kind, item and item.error)
            continue
        assert item is not None, (name, m.kind)
        assert item.error, (name, m.kind)
        assert item.envelope is None
        assert item.inbox_id == expected_inbox_id(m), (name, m.kind, item.inbox_id)
        dead_lettering += 1
    return dead_lettering


def test_every_poison_kind_decodes_to_an_error_under_the_expected_inbox_id(every_kind_on_every_topic: list[Message]) -> None:
    for m in every_kind_on_every_topic:
        n = _check_poison(m)
        if m.kind in COORDINATE_KINDS or m.kind in ("undecodable-body", "unknown-type"):
            # nobody can tell what it is (or nobody knows its type): every consumer of the topic dead-letters it
            assert n == sum(1 for h in HANDLERS.values() if m.topic in h.topics), m.kind
        else:
            assert n == sum(1 for h in HANDLERS.values() if m.type in h.by_type), m.kind
            assert n >= 1


def test_every_poison_in_a_workload_decodes_to_an_error(workload: Workload) -> None:
    for m in workload.poison():
        _check_poison(m)


@pytest.mark.parametrize("kind", sorted(POISON_KINDS))
def test_each_kind_fails_for_its_own_reason(kind: str, every_kind_on_every_topic: list[Message]) -> None:
    reasons = {
        "undecodable-body": "body is not JSON",
        "unknown-type": "unknown event type",
        "invalid-payload": "does not match its schema",
        "structured-invalid-data": "does not match its schema",
        "bad-utf8-header": "is not UTF-8 text",
        "repeated-attribute": "repeated CloudEvents header(s): ce_id",
        "tombstone": "missing CloudEvents header(s)",
        "structured-missing-id": "missing CloudEvents attribute(s) in the structured event: id",
        "oversized": f"over the {MAX_EVENT_BYTES} bytes",
    }
    for m in every_kind_on_every_topic:
        if m.kind != kind:
            continue
        handlers = HANDLERS["notification"]  # it consumes all four city topics and applies every type the poison imitates
        item = decode_record(record(m), handlers)
        assert item is not None and item.error is not None
        assert reasons[kind] in item.error, (kind, item.error)


def test_poison_shapes(every_kind_on_every_topic: list[Message]) -> None:
    for m in every_kind_on_every_topic:
        headers = m.headers or []
        names = [k for k, _ in headers]
        if m.kind == "tombstone":
            assert m.value is None and m.key
            assert not {"ce_id", "ce_type", "ce_source", "ce_specversion"} <= {k for k, v in headers if v}
        elif m.kind == "repeated-attribute":
            assert names.count("ce_id") == 2
        elif m.kind == "bad-utf8-header":
            bad = [k for k, v in headers if k.startswith("ce_") and v is not None and not _is_utf8(v)]
            assert len(bad) == 1 and bad[0] in ("ce_id", "ce_type", "ce_source", "ce_subject")
        elif m.kind == "oversized":
            size = record_bytes(record(m))
            # over the size policy, under the topics' max.message.bytes (so the broker takes it)
            assert MAX_EVENT_BYTES < size < MAX_MESSAGE_BYTES - 1024
            assert "ce_id" in names  # a ce_id it has, and still its inbox id is its coordinates
        elif m.kind.startswith("structured-"):
            assert names == ["content-type", POISON_HEADER]


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_dead_letters_map_back_to_the_expected_inbox_id(every_kind_on_every_topic: list[Message]) -> None:
    """The audit matches a letter to its poison by the POISON_HEADER it kept, and coordinates-id poison by
    dlq_original_*: whatever the consumer writes for each kind must lead back to the id its inbox has."""
    handlers = HANDLERS["notification"]
    poison = {m.id: m for m in every_kind_on_every_topic}
    for m in every_kind_on_every_topic:
        item = decode_record(record(m), handlers)
        assert item is not None
        letter = dead_letter(item, "notification", "skolit-notification")
        headers: dict[str, Any] = dict(letter.headers)
        assert headers[POISON_HEADER] == m.id
        inbox_id, found = letter_id(headers, poison)
        assert found is m
        assert inbox_id == item.inbox_id == expected_inbox_id(m)
        assert letter.size <= MAX_EVENT_BYTES
        assert (headers.get("dlq_bounded") == "true") == (m.kind == "oversized")


def test_letters_of_something_else_are_not_taken_for_poison(workload: Workload) -> None:
    poison = {m.id: m for m in workload.poison()}
    valid = workload.valid()[0]
    assert letter_id({"ce_id": valid.id, "dlq_original_topic": valid.topic}, poison) == (valid.id, None)
    assert letter_id({"dlq_original_topic": "t", "dlq_original_partition": "1", "dlq_original_offset": "2"}, poison) == ("kafka:t:1:2", None)


def test_every_landed_copy_of_coordinates_poison_is_an_inbox_id_of_its_own(workload: Workload) -> None:
    by_coordinates = next(m for m in workload.poison() if m.by_coordinates)
    by_id = next(m for m in workload.poison() if not m.by_coordinates)
    for m in (by_coordinates, by_id):
        m.partition, m.offset, m.landed = 2, 40, []
    assert by_coordinates.inbox_ids() == {f"kafka:{by_coordinates.topic}:2:40"}
    # a send the broker did not acknowledge landed too (offset 31), then the resend was acknowledged (40)
    for m in (by_coordinates, by_id):
        m.landed = [(2, 31), (2, 40)]
    assert by_coordinates.inbox_ids() == {f"kafka:{by_coordinates.topic}:2:31", f"kafka:{by_coordinates.topic}:2:40"}
    assert by_id.inbox_ids() == {by_id.id}  # the second copy is a duplicate in the inbox
    assert _ids([by_coordinates, by_id]) == by_coordinates.inbox_ids() | {by_id.id}
    # both copies decode to their own coordinates id
    for p, o in by_coordinates.copies():
        for h in HANDLERS.values():
            if by_coordinates.topic in h.topics:
                item = decode_record(record(by_coordinates, p, o), h)
                assert item is not None and item.inbox_id == coordinates_id(by_coordinates.topic, p, o)
    for m in (by_coordinates, by_id):
        m.partition = m.offset = None
        m.landed = []
