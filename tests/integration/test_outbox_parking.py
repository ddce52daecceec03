"""One row that can never be published does not block an outbox (issue 17, decision 0012).

The row here is the one that was observed: a ~2 MB dead letter written before the size policy existed. The
relay parks it with its reason and moves on, so an erasure request made afterwards completes in all four
services; a later row of the same topic and key waits behind the parked one (per-key order) until an
operator discards it. The metrics and ``/readyz`` say so while it lasts.
"""

from __future__ import annotations

import re
import uuid

import asyncpg
import httpx
import orjson
import pytest

from shared.topics import CITY_PERSON, MAX_EVENT_BYTES
from tests.support.kafka import eventually
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration
OFFICER = auth("data_protection", subject="dpo-parking")
CITY_ADMIN = auth("city_admin", subject="operator-parking")


def gauge(text: str, name: str, service: str) -> float:
    m = re.search(rf'^{name}\{{service="{service}"\}} (\S+)$', text, re.M)
    assert m, f"{name} for {service} not exported"
    return float(m.group(1))


async def test_a_row_that_cannot_be_published_is_parked_and_the_rows_behind_it_go_out(stack: Stack) -> None:
    n = stack.services["notification"].url
    key = f"parking-{uuid.uuid4()}".encode()
    headers = orjson.dumps([["dlq_reason", "body is not JSON"], ["dlq_service", "notification"], ["dlq_original_topic", CITY_PERSON.name]]).decode()
    conn = await asyncpg.connect(stack.admin_url)
    try:
        big, behind = await conn.fetch(
            "INSERT INTO notification.outbox (id, topic, key, headers, payload, event_type)"
            " SELECT gen_random_uuid(), $1, $2, $3::jsonb, p, NULL FROM unnest($4::bytea[]) AS p RETURNING seq",
            CITY_PERSON.dlq, key, headers, [b"x" * (2 * MAX_EVENT_BYTES), b"a letter of the same key, written after it"],
        )
        big_seq, behind_seq = big["seq"], behind["seq"]

        async def parked() -> asyncpg.Record | None:
            return await conn.fetchrow("SELECT parked_at, park_reason, published_at FROM notification.outbox WHERE seq = $1 AND parked_at IS NOT NULL", big_seq)

        row = await eventually(parked, what="the oversized row parked")
        assert row["published_at"] is None and f"over the {MAX_EVENT_BYTES} bytes" in row["park_reason"], row["park_reason"]

        async with httpx.AsyncClient(timeout=30) as http:
            # Events written after the parked row go out: an erasure request completes in all four services.
            r = await http.post(f"{n}/privacy/erasure-requests", json={"personId": str(uuid.uuid4()), "reasonCode": "objection"}, headers=CITY_ADMIN)
            assert r.status_code == 202, r.text
            request_id = r.json()["id"]

            async def complete() -> bool:
                status = (await http.get(f"{n}/privacy/erasure-requests/{request_id}", headers=OFFICER)).json()
                return status["status"] == "complete"

            await eventually(complete, timeout=90, interval=0.5, what="the erasure request complete in all four services")

            # The row of the same key waits behind the parked one, and everyone can see why.
            assert await conn.fetchval("SELECT published_at IS NULL AND parked_at IS NULL FROM notification.outbox WHERE seq = $1", behind_seq)

            async def metrics_say_so() -> bool:
                text = (await http.get(f"{n}/metrics")).text
                return gauge(text, "skolit_outbox_parked_rows", "notification") >= 1 and gauge(text, "skolit_outbox_held_rows", "notification") >= 1

            await eventually(metrics_say_so, what="the parked and held gauges")
            ready = await http.get(f"{n}/readyz")
            assert ready.status_code == 200, "parked rows need an operator, not a restart"
            assert ready.json()["status"] == "degraded" and "parked" in ready.json()["checks"]["outbox"], ready.json()

            # An operator discards the row: the one behind it is published, the gauges return to 0, ready again.
            from shared import outbox

            service_conn = await asyncpg.connect(stack.service_url("notification"))
            try:
                assert await outbox.discard_parked(service_conn, [big_seq], "the 2 MB letter from before the size policy; original on its topic") == 1
            finally:
                await service_conn.close()
            await eventually(lambda: conn.fetchval("SELECT published_at IS NOT NULL FROM notification.outbox WHERE seq = $1", behind_seq),
                             what="the held row published")

            async def clear() -> bool:
                text = (await http.get(f"{n}/metrics")).text
                body = (await http.get(f"{n}/readyz")).json()
                return gauge(text, "skolit_outbox_parked_rows", "notification") == 0 and body["checks"]["outbox"] == "ok"

            await eventually(clear, what="gauges back to 0 and readiness ok")
            row = await conn.fetchrow("SELECT discarded_at, discard_note, published_at FROM notification.outbox WHERE seq = $1", big_seq)
            assert row["discarded_at"] is not None and row["published_at"] is None and "size policy" in row["discard_note"]
    finally:
        await conn.close()


async def test_a_parked_row_can_be_retried_after_a_fix(stack: Stack) -> None:
    """A row for a topic Skolit does not declare is parked; once 'fixed' (here: pointed at a declared topic), retry publishes it."""
    from shared import outbox

    conn = await asyncpg.connect(stack.service_url("reporting"))
    try:
        seq = await conn.fetchval(
            "INSERT INTO outbox (id, topic, key, headers, payload) VALUES (gen_random_uuid(), 'skolit.nowhere', $1, '[]'::jsonb, $2) RETURNING seq",
            b"k", b"{}",
        )
        reason = await eventually(lambda: conn.fetchval("SELECT park_reason FROM outbox WHERE seq = $1 AND parked_at IS NOT NULL", seq),
                                  what="the row for an undeclared topic parked")
        assert "'skolit.nowhere' is not one Skolit declares" in reason
        [listed] = [r for r in await outbox.parked_rows(conn) if r["seq"] == seq]
        assert listed["park_reason"] == reason and listed["payload_bytes"] == 2
        await conn.execute("UPDATE outbox SET topic = $2 WHERE seq = $1", seq, CITY_PERSON.dlq)
        assert await outbox.retry_parked(conn, [seq]) == 1
        await eventually(lambda: conn.fetchval("SELECT published_at IS NOT NULL FROM outbox WHERE seq = $1", seq), what="the retried row published")
    finally:
        await conn.close()
