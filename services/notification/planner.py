"""The planner: one loop that plans the deliveries a broadcast left for after its answer (usecases/planning.py),
a chunk a transaction, while there are any; several replicas each take other messages (SKIP LOCKED). A chunk that
fails is recorded with its reason and retried after the others, at most ``MAX_ATTEMPTS`` times; what is left then
shows in ``skolit_notification_plan_failing`` and in the broadcast's ``notYetPlanned``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.notification.settings import SOURCE, NotificationSettings
from services.notification.store import planning as store
from services.notification.usecases import planning
from shared import metrics
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
MEASURE_EVERY_S = 5.0


class Planner:
    def __init__(self, pool: asyncpg.Pool, settings: NotificationSettings) -> None:
        self.pool, self.settings = pool, settings
        self._task: asyncio.Task[None] | None = None
        self._measured = 0.0

    async def open(self) -> None:
        """Nothing to open: ``plan_all`` (an operator's "send now") needs only the pool."""

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="notification-planner")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                done = await self.plan_one()
                if time.monotonic() - self._measured >= MEASURE_EVERY_S:
                    await self._measure()
                if done is None:
                    await asyncio.sleep(self.settings.poll_seconds)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the planner failed; trying again shortly")
                await asyncio.sleep(max(1.0, self.settings.poll_seconds))

    async def plan_one(self) -> dict[str, Any] | None:
        """One chunk in its own transaction; None when nothing waits."""
        async with self.pool.acquire() as conn, conn.transaction():
            done = await planning.plan_next_chunk(UnitOfWork(conn, SOURCE), self.settings.plan_chunk_recipients, MAX_ATTEMPTS,
                                                  datetime.now(UTC))
        if done is not None and done.get("failed"):
            log.warning("planning message %s failed: %s", done["messageId"], done["failed"])
        return done

    async def plan_all(self) -> int:
        """Every waiting chunk now (the operators' and tests' "send now"); how many recipients were planned."""
        total = 0
        while (done := await self.plan_one()) is not None:
            total += done.get("recipients", 0)
        return total

    async def _measure(self) -> None:
        async with self.pool.acquire() as conn:
            row = await store.waiting(conn, MAX_ATTEMPTS)
        self._measured = time.monotonic()
        metrics.NOTIFICATION_PLAN_WAITING.set(row["recipients"])
        metrics.NOTIFICATION_PLAN_FAILING.set(row["failing"])
