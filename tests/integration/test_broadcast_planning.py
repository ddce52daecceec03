"""Planning after answering (decision 0026): a broadcast answers with its first recipients planned, the planner plans
the rest in chunks — each recipient once, even with two planners side by side — a chunk the database refuses is
recorded and never holds up the others, and a person erased or removed before their chunk is planned gets nothing.
Against a real PostgreSQL, in a scratch schema migrated as the notification service migrates its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import asyncpg
import pytest

from services.notification import messages
from services.notification.app import SPEC
from services.notification.planner import MAX_ATTEMPTS, Planner
from services.notification.settings import SOURCE, NotificationSettings
from services.notification.store import erasure
from services.notification.store import planning as planning_store
from services.notification.usecases import Audience, get_broadcast, send_broadcast
from shared.auth import Principal, Role
from shared.uow import UnitOfWork, unit_of_work
from tests.support.scratch import scratch_pool
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
SETTINGS = replace(NotificationSettings(), plan_chunk_recipients=3, poll_seconds=0.05)
CITY_ADMIN = Principal(subject="city-admin", roles=frozenset({Role.CITY_ADMIN}))
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    async with scratch_pool(stack.admin_url, "plan_", SPEC.migrations()) as pool:
        yield pool


async def city(conn: asyncpg.Connection, per_school: tuple[int, ...]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """School units with that many guardians each (one pupil each, in the notification's replicas)."""
    schools: dict[uuid.UUID, list[uuid.UUID]] = {}
    for n in per_school:
        school = uuid.uuid4()
        await conn.execute("INSERT INTO organisation (id, display_name, organisation_type, event_time) VALUES ($1, $2, 'Skolenhet', now())",
                           school, f"Skola {len(schools) + 1}")
        schools[school] = [uuid.uuid4() for _ in range(n)]
        await conn.executemany(
            "INSERT INTO guardianship (id, guardian, pupil, school_unit, relation_type, school_type, school_year, event_time)"
            " VALUES ($1, $2, $3, $4, 'Vårdnadshavare', 'GR', 3, now())",
            [(uuid.uuid4(), g, uuid.uuid4(), school) for g in schools[school]],
        )
    return schools


async def inbox_copies(conn: asyncpg.Connection) -> dict[uuid.UUID, int]:
    return {r["person"]: r["n"] for r in await conn.fetch("SELECT person, count(*) AS n FROM delivery WHERE channel = 'inapp' GROUP BY person")}


async def test_a_broadcast_answers_with_its_first_recipients_planned_and_two_planners_plan_the_rest_once(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        schools = await city(conn, (4, 5))
    everyone = {g for gs in schools.values() for g in gs}
    async with unit_of_work(pool, SOURCE) as uow:
        answer, new = await send_broadcast(uow, CITY_ADMIN, Audience(kind="guardians"), subject="Skolan stängd", body="I dag.",
                                           critical=True, now=NOW, plan_now=2)
    assert new and answer["recipients"] == 9 and answer["notYetPlanned"] == 7 and answer["status"] == "sending"
    async with pool.acquire() as conn:
        assert sum((await inbox_copies(conn)).values()) == 2
        assert (await planning_store.waiting(conn, MAX_ATTEMPTS))["recipients"] == 7

    # two replicas' planners at once: chunks of 3, each message locked by the one planning it
    await asyncio.gather(Planner(pool, SETTINGS).plan_all(), Planner(pool, SETTINGS).plan_all())

    async with pool.acquire() as conn:
        assert await inbox_copies(conn) == dict.fromkeys(everyone, 1)
        assert await conn.fetchval("SELECT count(*) FROM pending_plan") == 0
        async with conn.transaction():
            done = await get_broadcast(UnitOfWork(conn, SOURCE), CITY_ADMIN, uuid.UUID(answer["id"]))
    assert done["notYetPlanned"] == 0 and done["reached"] == 9 and done["status"] == "sent"


async def test_a_chunk_the_database_refuses_is_recorded_and_never_holds_up_the_others(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        schools = await city(conn, (4, 4))
        (bad_school, bad), (good_school, good) = schools.items()
        async with conn.transaction():
            poisoned = await messages.make(conn, dedupe_key="poisoned", message_type="broadcast", school_unit=bad_school, recipients=bad,
                                           data={"subject": "a", "body": "b"}, now=NOW, plan_now=0)
        async with conn.transaction():
            await messages.make(conn, dedupe_key="fine", message_type="broadcast", school_unit=good_school, recipients=good,
                                data={"subject": "a", "body": "b"}, now=NOW, plan_now=0)
        # the database refuses every delivery of the first message (what a broken row or constraint would do)
        await conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" IF NEW.message_id = '{poisoned}' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$")
        await conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON delivery FOR EACH ROW EXECUTE FUNCTION refuse()")

    await Planner(pool, SETTINGS).plan_all()  # ends although one message cannot be planned

    async with pool.acquire() as conn:
        assert await inbox_copies(conn) == dict.fromkeys(good, 1)
        row = await conn.fetchrow("SELECT attempts, last_error, cardinality(recipients) AS n FROM pending_plan WHERE message_id = $1", poisoned)
        assert row["attempts"] == MAX_ATTEMPTS and "refused for the test" in row["last_error"] and row["n"] == 4
        assert dict(await planning_store.waiting(conn, MAX_ATTEMPTS)) == {"recipients": 4, "failing": 4}
        # the runbook's remedy: fix the cause, let the planner try again
        await conn.execute("DROP TRIGGER refuse ON delivery")
        await conn.execute("UPDATE pending_plan SET attempts = 0 WHERE message_id = $1", poisoned)

    await Planner(pool, SETTINGS).plan_all()

    async with pool.acquire() as conn:
        assert await inbox_copies(conn) == dict.fromkeys(bad + good, 1)
        assert await conn.fetchval("SELECT count(*) FROM pending_plan") == 0


async def test_a_person_erased_or_removed_before_their_chunk_is_planned_gets_nothing(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        [(school, guardians)] = (await city(conn, (6,))).items()
        async with conn.transaction():
            message = await messages.make(conn, dedupe_key="later", message_type="broadcast", school_unit=school, recipients=guardians,
                                          data={"subject": "a", "body": "b"}, now=NOW, plan_now=0)
        erased, removed, ended = guardians[:3]
        async with conn.transaction():
            counts = await erasure.erase_person(conn, erased)
        assert counts["pending_plan"] == 1
        assert await conn.fetchval("SELECT count(*) FROM message WHERE id = $1", message) == 1  # the others' message stays
        assert await planning_store.forget(conn, removed, None) == 1  # PersonRemoved
        assert await planning_store.forget(conn, ended, school) == 1  # the relation to this school ended
        assert await planning_store.forget(conn, ended, uuid.uuid4()) == 0  # another school's is not this one

    await Planner(pool, SETTINGS).plan_all()

    async with pool.acquire() as conn:
        assert await inbox_copies(conn) == dict.fromkeys(guardians[3:], 1)
