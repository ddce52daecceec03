"""Pure logic: which consumed records are for this service, dead-letter headers, campaign rules,
migration ordering, settings, and that the committed AsyncAPI document is current."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from services.assessment.domain import CampaignRejected, KnownSchool, check_new_campaign
from shared.consumer import Handlers, dead_letter_headers, decode_record
from shared.events.assessment import CampaignOpened
from shared.events.city import OrganisationUpserted
from shared.events.envelope import encode, new_envelope
from shared.settings import service_database_url

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FakeRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


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


def test_campaign_rules() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    known = {a: KnownSchool(a, None), b: KnownSchool(b, None)}
    today = date(2026, 9, 1)
    assert check_new_campaign(year=2026, deadline=date(2026, 12, 1), today=today, requested=[a, b, a], known=known) == [a, b]
    with pytest.raises(CampaignRejected, match="already passed"):
        check_new_campaign(year=2026, deadline=date(2026, 8, 1), today=today, requested=[a], known=known)
    with pytest.raises(CampaignRejected, match="year 2030"):
        check_new_campaign(year=2030, deadline=date(2026, 12, 1), today=today, requested=[a], known=known)
    unknown = uuid.uuid4()
    with pytest.raises(CampaignRejected, match=str(unknown)):
        check_new_campaign(year=2026, deadline=date(2026, 12, 1), today=today, requested=[a, unknown], known=known)


def test_migrations_apply_shared_then_replicas_then_the_service() -> None:
    from services.notification.app import SPEC

    versions = [m.version for m in SPEC.migrations()]
    assert versions[0] == "shared/0001_messaging"
    assert versions.index("city/organisation") < versions.index("city/person")
    assert all(not v.startswith(("assessment/", "catalog/", "reporting/")) for v in versions)


def test_service_login_is_derived_from_the_admin_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKOLIT_CATALOG_DATABASE_URL", raising=False)
    monkeypatch.setenv("SKOLIT_CATALOG_DB_PASSWORD", "s3cr/t")
    url = service_database_url("catalog", "postgresql://postgres:pw@db.example:5432/skolit")
    assert url == "postgresql://skolit_catalog:s3cr%2Ft@db.example:5432/skolit"


def test_committed_asyncapi_document_is_current() -> None:
    from services.__main__ import combined_asyncapi

    committed = json.loads((ROOT / "docs" / "asyncapi.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(combined_asyncapi())), "run `make asyncapi` and commit docs/asyncapi.json"
    assert "city.publish.GuardianRelationAdded" in committed["operations"]
    assert "reporting.consume.CampaignOpened" in committed["operations"]
