"""The consumer's decode step (shared/consumer.py): which consumed records are for this service, how a
record without an id is deduplicated, and what a dead letter's headers say."""

from __future__ import annotations

import uuid
from datetime import date

from shared.consumer import Handlers, dead_letter_headers, decode_record
from shared.events.assessment import CampaignOpened
from shared.events.city import OrganisationUpserted
from shared.events.envelope import encode, new_envelope
from tests.support.records import FakeRecord


async def _noop(conn, env):  # type: ignore[no-untyped-def]
    return None


def record_of(event, offset: int = 7) -> FakeRecord:  # type: ignore[no-untyped-def]
    w = encode(new_envelope(event, "t"))
    return FakeRecord(w.topic, 0, offset, w.key, w.value, w.headers)


def org() -> OrganisationUpserted:
    return OrganisationUpserted(id=uuid.uuid4(), displayName="S", organisationType="Skolenhet")


def test_known_types_for_other_services_are_passed_over_but_unknown_types_are_poison() -> None:
    handlers = Handlers({CampaignOpened: _noop})
    assert decode_record(record_of(org()), handlers) is None  # well-formed, someone else's
    bad = record_of(org())
    bad.value = b"garbage"
    assert decode_record(bad, handlers) is None  # someone else's to dead-letter: the service that applies it
    unknown = record_of(org())
    unknown.headers = [(k, b"se.skolit.city.organisation.upserted.v9" if k == "ce_type" else v) for k, v in unknown.headers]
    item = decode_record(unknown, handlers)
    assert item is not None and item.error_class == "UnknownEventType"
    mine = record_of(CampaignOpened(id=uuid.uuid4(), name="R", year=2026, deadline=date(2026, 12, 1), schoolUnitIds=[uuid.uuid4()], openedBy="x"))
    mine.value = b"garbage"
    item = decode_record(mine, handlers)
    assert item is not None and item.error_class == "UndecodableMessage"


def test_records_without_an_id_are_deduplicated_by_their_origin() -> None:
    handlers = Handlers({OrganisationUpserted: _noop})
    raw = FakeRecord("skolit.city.organisation", 2, 41, b"k", b"x", [])
    item = decode_record(raw, handlers)
    assert item is not None and item.inbox_id == "kafka:skolit.city.organisation:2:41"
    letter = FakeRecord("skolit.city.organisation.dlq", 0, 3, b"k", b"x", [(k, v.encode()) for k, v in dead_letter_headers(item, "catalog", "skolit-catalog")])
    again = decode_record(letter, handlers)
    assert again is not None and again.inbox_id == item.inbox_id


def test_dead_letter_headers_keep_the_original_and_say_why() -> None:
    handlers = Handlers({OrganisationUpserted: _noop})
    rec = record_of(org(), offset=99)
    rec.value = b"{"
    item = decode_record(rec, handlers)
    assert item is not None
    h = dict(dead_letter_headers(item, "catalog", "skolit-catalog"))
    assert h["ce_type"] == OrganisationUpserted.TYPE and h["ce_id"]
    assert h["dlq_original_offset"] == "99" and h["dlq_consumer_group"] == "skolit-catalog"
    assert "not JSON" in h["dlq_reason"]
