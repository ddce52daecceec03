"""The consumer applies a batch at once (one transaction, ``executemany`` for runs of one statement) and, when a
handler rejects an event, applies the batch again event by event so that only the rejected one is dead-lettered.
Against a real PostgreSQL, in a scratch schema of its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from shared.city.replica import ORGANISATIONS, on_organisation_upserted
from shared.consumer import BatchProcessor, Handlers, Statement
from shared.events.city import OrganisationUpserted
from shared.events.envelope import Envelope, encode, new_envelope
from shared.migrate import discover
from shared.topics import CITY_ORGANISATION
from tests.support.scratch import scratch_pool
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
HERE = Path(__file__).parent  # no migrations of its own: the shared messaging tables and the organisation replica


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def record(offset: int, org_id: uuid.UUID, name: str, at: datetime) -> Record:
    wire = encode(new_envelope(OrganisationUpserted(id=org_id, displayName=name, organisationType="Skolenhet"), "tests", time=at))
    return Record(wire.topic, 0, offset, wire.key, wire.value, [(k, v) for k, v in wire.headers])


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    async with scratch_pool(stack.admin_url, "batch_", discover(HERE, ORGANISATIONS.migration_files)) as pool:
        yield pool


class Counting(Statement[OrganisationUpserted]):
    """The replica's statement, counting how it was called, and refusing names that start with "REJECT"."""

    def __init__(self) -> None:
        super().__init__(on_organisation_upserted.sql, self._arguments)
        object.__setattr__(self, "calls", [])

    @staticmethod
    def _arguments(env: Envelope[OrganisationUpserted]) -> tuple[Any, ...]:
        if env.data.displayName.startswith("REJECT"):
            raise ValueError("names starting with REJECT are refused")
        return tuple(on_organisation_upserted.arguments(env))

    async def __call__(self, conn: asyncpg.Connection, env: Envelope[OrganisationUpserted]) -> None:
        self.calls.append(("one", 1))  # type: ignore[attr-defined]
        await super().__call__(conn, env)

    async def many(self, conn: asyncpg.Connection, envs: Any) -> None:
        self.calls.append(("many", len(envs)))  # type: ignore[attr-defined]
        await super().many(conn, envs)


async def test_a_clean_batch_is_one_executemany_and_the_newest_state_wins(pool: asyncpg.Pool) -> None:
    handler = Counting()
    processor = BatchProcessor(pool, Handlers({OrganisationUpserted: handler}), service="batch-test", group="batch-test")
    now = datetime.now(UTC)
    a, b = uuid.uuid4(), uuid.uuid4()
    batch = [record(0, a, "A v2", now), record(1, b, "B", now), record(2, a, "A v1 (older, arrives late)", now - timedelta(hours=1))]
    batch += [record(3 + i, uuid.uuid4(), f"S{i}", now) for i in range(20)]

    counts = await processor.process(batch)

    assert counts == {"applied": 23, "duplicate": 0, "dead-lettered": 0}
    assert handler.calls == [("many", 23)]  # type: ignore[attr-defined]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT display_name FROM organisation WHERE id = $1", a) == "A v2"
        assert await conn.fetchval("SELECT count(*) FROM organisation") == 22
        assert await conn.fetchval("SELECT count(*) FROM inbox WHERE outcome = 'applied'") == 23
    assert await processor.process(batch) == {"applied": 0, "duplicate": 23, "dead-lettered": 0}


async def test_a_rejected_event_sends_the_batch_one_by_one_and_only_it_is_dead_lettered(pool: asyncpg.Pool) -> None:
    handler = Counting()
    processor = BatchProcessor(pool, Handlers({OrganisationUpserted: handler}), service="batch-test", group="batch-test")
    now = datetime.now(UTC)
    good = [uuid.uuid4() for _ in range(4)]
    batch = [record(0, good[0], "G0", now), record(1, good[1], "G1", now), record(2, uuid.uuid4(), "REJECT me", now),
             record(3, good[2], "G2", now), record(4, good[3], "G3", now)]
    broken = Record(CITY_ORGANISATION.name, 0, 5, None, b"{not json", [(k, v) for k, v in batch[0].headers if k != "ce_id"] + [("ce_id", b"broken-1")])

    counts = await processor.process([*batch, broken])

    assert counts == {"applied": 4, "duplicate": 0, "dead-lettered": 2}
    # first at once (rolled back by the rejection), then event by event
    assert handler.calls[0] == ("many", 5) and handler.calls[1:] == [("one", 1)] * 5  # type: ignore[attr-defined]
    async with pool.acquire() as conn:
        assert {r["id"] for r in await conn.fetch("SELECT id FROM organisation")} == set(good)
        letters = await conn.fetch("SELECT topic, headers FROM outbox ORDER BY seq")
        assert [r["topic"] for r in letters] == [CITY_ORGANISATION.dlq] * 2
        reasons = [dict(r["headers"])["dlq_reason"] for r in letters]
        assert any("REJECT" in reason for reason in reasons) and any("not JSON" in reason for reason in reasons), reasons
        outcomes = dict(await conn.fetch("SELECT outcome, count(*) FROM inbox GROUP BY outcome"))
        assert outcomes == {"applied": 4, "dead-lettered": 2}
