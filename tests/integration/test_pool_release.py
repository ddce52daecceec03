"""A pool connection goes back to the pool without a statement of its own (shared/db.py, decision 0030): asyncpg's
default sent ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on every release, a round trip on every
request. What that reset protected is kept otherwise: a transaction's settings end with it, and a connection that
cannot let go of a session lock is closed rather than returned holding it; a transaction's settings end with it
(PostgreSQL's own rule, relied on by shared/retention.py's ``set_config(..., true)``)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared import db
from shared.migrate import migrate
from tests.support.scratch import scratch_pool
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

KEY = "skolit.test.pool-release"


async def test_a_connection_goes_back_to_the_pool_without_a_reset_statement(stack: Stack) -> None:
    async with scratch_pool(stack.admin_url, "pool_", []) as pool:
        seen: list[str] = []
        async with pool.acquire() as conn:
            raw = conn._con  # the connection behind the pool's proxy: its query logger outlives the release
            raw.add_query_logger(lambda record: seen.append(record.query))
            async with conn.transaction():
                await conn.fetchval("SELECT 1")
        assert "SELECT 1" in seen  # the logger saw this connection's statements
        assert not any("unlock_all" in q or "RESET ALL" in q for q in seen), seen  # and none on its way back


async def test_a_connection_that_cannot_let_go_of_its_session_lock_is_closed_not_returned(stack: Stack) -> None:
    async with scratch_pool(stack.admin_url, "pool_", []) as pool:
        admin = await asyncpg.connect(stack.admin_url)
        try:
            async with pool.acquire() as conn:
                raw = conn._con  # the connection behind the pool's proxy
                assert await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", KEY)
                assert not await admin.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", KEY)  # held
                letting_go = asyncio.create_task(db.unlock(conn, KEY))
                await asyncio.sleep(0)  # the unlock is on the wire, its answer not read yet
                letting_go.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await letting_go
                assert raw.is_closed()  # closed, so the pool opens a new one rather than handing this one out
            for _ in range(100):  # the server lets go of a closed session's locks as its backend ends
                if await admin.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", KEY):
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("the lock outlived the connection that held it")
            await admin.execute("SELECT pg_advisory_unlock(hashtext($1))", KEY)
            async with pool.acquire() as conn:  # the pool goes on with a new connection
                assert await conn.fetchval("SELECT 1") == 1
        finally:
            await admin.close()


async def test_migrations_let_go_of_their_lock(stack: Stack) -> None:
    async with scratch_pool(stack.admin_url, "pool_", []) as pool:
        async with pool.acquire() as conn:
            schema = await conn.fetchval("SELECT current_schema()")
            await migrate(conn, schema, [])
            held = await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        assert held == 0
