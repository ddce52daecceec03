"""A scratch schema on the test stack's PostgreSQL, migrated as a service migrates its own, with a pool on it:
for tests that drive a service's use cases or the consumer directly against a real database."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence

import asyncpg

from shared.db import create_pool
from shared.migrate import Migration, migrate


@contextlib.asynccontextmanager
async def scratch_pool(admin_url: str, prefix: str, migrations: Sequence[Migration]) -> AsyncIterator[asyncpg.Pool]:
    schema = prefix + uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(admin_url)
    await admin.execute("CREATE SCHEMA " + schema)
    await admin.execute("SET search_path = " + schema)
    await migrate(admin, schema, list(migrations))
    pool = await create_pool(admin_url, schema)
    try:
        yield pool
    finally:
        await pool.close()
        await admin.execute("DROP SCHEMA " + schema + " CASCADE")
        await admin.close()
