"""What operators rely on: metrics, health, AsyncAPI, migrations that are safe to run twice at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.catalog.app import SPEC as CATALOG
from shared.events.envelope import encode, new_envelope
from shared.migrate import Migration, MigrationChanged, migrate
from shared.settings import SERVICES
from tests.support.city import District, school_unit
from tests.support.kafka import eventually, send, wire
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


async def test_metrics_move_when_events_flow(stack: Stack) -> None:
    district = District()
    await send(stack.bootstrap, [wire(e) for e in district.events(n_schools=3)])
    catalog = stack.services["catalog"].url

    async def consumed() -> str | None:
        text = httpx.get(f"{catalog}/metrics").text
        return text if 'skolit_events_consumed_total{outcome="applied",service="catalog",topic="skolit.city.organisation"' in text else None

    text = await eventually(consumed, what="consumed events in catalog's metrics")
    for name in (
        "skolit_http_request_duration_seconds",
        "skolit_handler_duration_seconds",
        "skolit_outbox_backlog",
        "skolit_outbox_oldest_unpublished_age_seconds",
        "skolit_consumer_lag",
    ):
        assert name in text, name
    httpx.get(f"{catalog}/readyz")
    assert 'route="/readyz"' in httpx.get(f"{catalog}/metrics").text


def lag_seconds(url: str) -> dict[str, float]:
    """skolit_read_model_lag_seconds by topic, as the service's /metrics serves it now."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        if family.name == "skolit_read_model_lag_seconds":
            out.update({s.labels["topic"]: s.value for s in family.samples})
    return out


async def test_a_quiet_topic_reads_caught_up_however_old_its_last_event(stack: Stack) -> None:
    """Issue 20: city events carry the time of the change at the source; applied, with nothing more waiting, the read
    model is caught up (0), not months behind. (The old gauge kept the age of the last applied event: 113 days.)"""
    months_ago = datetime.now(UTC) - timedelta(days=113)
    district = uuid.uuid4()
    event = new_envelope(school_unit(uuid.uuid4(), district), "tests", time=months_ago)
    await send(stack.bootstrap, [encode(event)])
    # Every service applies the organisation topic; once it has, its gauge for the topic reads 0 (not 113 days).
    for name in SERVICES:
        url = stack.services[name].url
        conn = await asyncpg.connect(stack.service_url(name), server_settings={"search_path": name})
        try:
            async def applied() -> bool:
                return bool(await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event.id))

            await eventually(applied, what=f"{name} applied the school unit dated 113 days back")
        finally:
            await conn.close()

        async def caught_up() -> dict[str, float] | None:
            lag = lag_seconds(url)
            return lag if lag.get("skolit.city.organisation") == 0.0 else None

        lag = await eventually(caught_up, timeout=15, what=f"{name}'s read-model lag on skolit.city.organisation at 0")
        assert all(v < 60 for v in lag.values()), (name, lag)  # a quiet stack: nothing has waited long anywhere


def test_each_service_serves_health_openapi_and_asyncapi(stack: Stack) -> None:
    for name, svc in stack.services.items():
        assert httpx.get(f"{svc.url}/healthz").json() == {"status": "ok", "service": name}
        ready = httpx.get(f"{svc.url}/readyz").json()
        assert ready["checks"] == {"database": "ok", "broker": "ok", "outbox": "ok", "consumer": "ok"}
        assert httpx.get(f"{svc.url}/docs").status_code == 200
        assert "/school-units" in httpx.get(f"{svc.url}/openapi.json").json()["paths"]
        doc = httpx.get(f"{svc.url}/asyncapi.json").json()
        assert doc["asyncapi"] == "3.0.0"
        assert any(op.endswith("OrganisationUpserted") for op in doc["operations"]), name


async def test_migrations_run_once_even_when_started_twice_at_once(stack: Stack) -> None:
    url = stack.service_url("catalog")
    conns = [await asyncpg.connect(url, server_settings={"search_path": "catalog"}) for _ in range(2)]
    extra = Migration("catalog/9999_test_probe", "CREATE TABLE migration_probe (id int); INSERT INTO migration_probe VALUES (1);")
    try:
        results = await asyncio.gather(*(migrate(c, "catalog", CATALOG.migrations() + [extra]) for c in conns))
        assert sorted(len(r) for r in results) == [0, 1]  # one applied it, the other found it done
        assert await conns[0].fetchval("SELECT count(*) FROM migration_probe") == 1
        changed = Migration(extra.version, extra.sql + " -- edited")
        with pytest.raises(MigrationChanged):
            await migrate(conns[0], "catalog", CATALOG.migrations() + [changed])
    finally:
        await conns[0].execute("DROP TABLE IF EXISTS migration_probe; DELETE FROM schema_migrations WHERE version = 'catalog/9999_test_probe'")
        for c in conns:
            await c.close()
