"""Bad input is dead-lettered with its reason while valid events keep flowing; dead letters can be
applied again after a fix."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import asyncpg
import pytest

from services.reporting.app import SPEC as REPORTING
from services.reporting.handlers import on_organisation_upserted_with_history
from shared import operations
from shared.events import REGISTRY
from shared.events.city import OrganisationUpserted
from shared.events.envelope import WireMessage, header_map
from shared.service import ServiceSpec
from shared.settings import Settings
from shared.topics import CITY_ORGANISATION
from tests.support.city import District, school_unit
from tests.support.kafka import eventually, read_all, send, wire
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
V9 = "se.skolit.city.organisation.upserted.v9"


def poison(district: uuid.UUID) -> dict[str, WireMessage]:
    good = wire(school_unit(uuid.uuid4(), district))
    headers = dict(good.headers)

    def variant(value: bytes, **changes: bytes | None) -> WireMessage:
        h = {**headers, "ce_id": str(uuid.uuid4()).encode(), **changes}
        return WireMessage(good.topic, good.key, [(k, v) for k, v in h.items() if v is not None], value)

    return {
        "not-json": variant(b"{this is not json"),
        "schema": variant(b'{"id": "%s", "organisationType": "Skolenhet"}' % str(uuid.uuid4()).encode()),
        "unknown-type": variant(good.value, ce_type=V9.encode()),
        "no-headers": WireMessage(good.topic, good.key, [], good.value),
    }


async def test_poison_goes_to_the_dlq_with_its_reason_and_valid_events_keep_flowing(stack: Stack) -> None:
    district = District()
    bad = poison(district.id)
    before, after = uuid.uuid4(), uuid.uuid4()
    messages = [wire(e) for e in district.events(n_schools=0)]
    messages += [wire(school_unit(before, district.id))] + list(bad.values()) + [wire(school_unit(after, district.id))]
    await send(stack.bootstrap, messages)

    conn = await asyncpg.connect(stack.admin_url)
    try:
        for schema in ("assessment", "catalog", "reporting", "notification"):
            await eventually(lambda: conn.fetchval(f"SELECT count(*) = 2 FROM {schema}.organisation WHERE id = ANY($1::uuid[])", [before, after]), what=f"valid events in {schema}")
        # Each service dead-letters its own copy, through its outbox.
        await eventually(lambda: conn.fetchval("SELECT count(*) = 4 FROM reporting.outbox WHERE topic = $1 AND published_at IS NOT NULL AND convert_from(payload, 'UTF8') LIKE $2 || '%'", CITY_ORGANISATION.dlq, ""), what="reporting's four dead letters published")  # noqa: E501
    finally:
        await conn.close()

    letters = await read_all(stack.bootstrap, CITY_ORGANISATION.dlq, expect=16, timeout=30)
    mine = [header_map(r.headers) | {"value": r.value} for r in letters if header_map(r.headers).get("dlq_consumer_group") == "skolit-reporting"]
    reasons = sorted(h["dlq_reason"] for h in mine)
    assert len(mine) == 4, reasons
    assert any("body is not JSON" in r for r in reasons)
    assert any("does not match its schema" in r and "displayName" in r for r in reasons)
    assert any(f"unknown event type '{V9}'" in r for r in reasons)
    assert any("missing CloudEvents header" in r for r in reasons)
    for h in mine:  # the original message travels intact, with where it came from
        assert h["dlq_original_topic"] == CITY_ORGANISATION.name
        assert h["dlq_original_offset"].isdigit()
    not_json = next(h for h in mine if "body is not JSON" in h["dlq_reason"])
    assert not_json["value"] == b"{this is not json" and not_json["ce_type"] == OrganisationUpserted.TYPE


@pytest.fixture
def request_cleanup() -> Iterator[list[Callable[[], object]]]:
    undo: list[Callable[[], object]] = []
    yield undo
    for fn in undo:
        fn()


async def test_dead_letters_are_applied_after_a_fix(stack: Stack, monkeypatch: pytest.MonkeyPatch, request_cleanup: list[Callable[[], object]]) -> None:
    """A producer starts sending a version the services do not know yet; once a release handles it,
    ``dlq-reprocess`` applies the letters — here the 'release' is a spec with a handler for v9."""
    district = District()
    await send(stack.bootstrap, [wire(e) for e in district.events(n_schools=0)])
    sid = uuid.uuid4()
    future = wire(school_unit(sid, district.id, name="Framtida"))
    future = WireMessage(future.topic, future.key, [(k, V9.encode() if k == "ce_type" else v) for k, v in future.headers], future.value)
    await send(stack.bootstrap, [future])
    event_id = dict(future.headers)["ce_id"].decode()

    conn = await asyncpg.connect(stack.admin_url)
    try:
        await eventually(lambda: conn.fetchval("SELECT outcome = 'dead-lettered' FROM reporting.inbox WHERE event_id = $1", event_id), what="the v9 event dead-lettered")
        await eventually(lambda: conn.fetchval("SELECT count(*) > 0 FROM reporting.outbox WHERE topic = $1 AND published_at IS NOT NULL", CITY_ORGANISATION.dlq), what="letter published")

        class OrganisationUpsertedV9(OrganisationUpserted):
            TYPE = V9

        # the 'release' exists only inside this test: keep it out of the registry other tests read
        request_cleanup.append(lambda: REGISTRY.pop(V9, None))

        fixed = ServiceSpec(**{**REPORTING.__dict__, "handlers": {**REPORTING.handlers, OrganisationUpsertedV9: on_organisation_upserted_with_history}})
        for k, v in stack.env_for("reporting").items():
            monkeypatch.setenv(k, v)
        counts = await operations.reprocess_dead_letters(fixed, Settings.from_env("reporting"), idle_seconds=3)
        assert counts["applied"] >= 1, counts
        assert await conn.fetchval("SELECT display_name FROM reporting.organisation WHERE id = $1", sid) == "Framtida"
        assert await conn.fetchval("SELECT outcome FROM reporting.inbox WHERE event_id = $1", event_id) == "applied"
        assert await conn.fetchval("SELECT count(*) FROM reporting.school_unit_history WHERE event_id = $1", event_id) == 1
        # Running it again applies nothing twice.
        again = await operations.reprocess_dead_letters(fixed, Settings.from_env("reporting"), idle_seconds=2)
        assert again["applied"] == 0, again
        assert await conn.fetchval("SELECT count(*) FROM reporting.school_unit_history WHERE event_id = $1", event_id) == 1
    finally:
        await conn.close()
