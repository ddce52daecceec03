"""The connector's background work: the periodic sync (the safety net), syncs asked for (POST /sync, a webhook
call, debounced), and the webhook subscription at the city's API.

At start it resumes a run that did not finish (a crash mid-sync) within a second, and makes its subscription
(the one it made before is deleted first, so a restart also recreates one the city's side has lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from datetime import timedelta

import asyncpg

from connectors.ss12000 import metrics, store
from connectors.ss12000.client import RESOURCES, Ss12000Client, Ss12000Error
from connectors.ss12000.settings import Ss12000Settings
from connectors.ss12000.sync import Busy, Report, run_sync

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/ss12000/"
#: the first sync after start: soon, so a run a crash interrupted goes on at once
FIRST_SYNC_SECONDS = 1.0


class SyncWorker:
    def __init__(self, pool: asyncpg.Pool, settings: Ss12000Settings, client: Ss12000Client | None = None) -> None:
        self.pool = pool
        self.settings = settings
        self.client = client
        self.running = False
        self.last_report: Report | None = None
        self.last_error: str | None = None
        self._wanted: tuple[str, str] | None = None  # (mode, trigger) asked for
        self._notified_at: float | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def configured(self) -> bool:
        return self.settings.configured

    async def open(self) -> None:
        """The gauges and the client, for the routes' syncs on demand where the loop runs in a `work` process."""
        await self._restore_gauges()
        if self.settings.configured and self.client is None:
            self.client = Ss12000Client(self.settings)

    async def start(self) -> None:
        await self.open()
        if not self.settings.configured:
            log.warning("SS 12000 sync not configured (SKOLIT_SS12000_URL is not set): the connector serves its imports only")
            return
        self._task = asyncio.create_task(self._loop(), name="connector-ss12000-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.client is not None:
            await self.client.aclose()

    def request(self, mode: str, trigger: str = "operator") -> None:
        """A sync as soon as the running one (if any) is done; a full one wins over an incremental one."""
        if self._wanted is None or mode == "full":
            self._wanted = (mode, trigger)
        self._wake.set()

    def notified(self) -> None:
        """A webhook call: an incremental sync after the debounce, so a burst of calls makes one sync."""
        if self._notified_at is None:
            self._notified_at = time.monotonic() + self.settings.debounce_seconds
        self._wake.set()

    async def _restore_gauges(self) -> None:
        """The last success per resource from the sync state, so the stale-sync alert is right after a restart."""
        try:
            async with self.pool.acquire() as conn:
                for c in await store.cursors(conn):
                    if c.last_success_at is not None:
                        metrics.LAST_SUCCESS.labels(c.resource).set(c.last_success_at.timestamp())
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("SS 12000: last successes not restored (%s)", exc)

    async def _loop(self) -> None:
        subscribed = await self._subscribe()
        next_periodic = time.monotonic() + FIRST_SYNC_SECONDS
        while True:
            due = [next_periodic] + ([self._notified_at] if self._notified_at is not None else [])
            timeout = max(min(due) - time.monotonic(), 0.0)
            if self._wanted is None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            self._wake.clear()
            now = time.monotonic()
            if self._wanted is not None:
                (mode, trigger), self._wanted = self._wanted, None
            elif self._notified_at is not None and now >= self._notified_at:
                mode, trigger = "incremental", "webhook"
            elif now >= next_periodic:
                mode, trigger = "incremental", "schedule"
            else:
                continue
            if self._notified_at is not None and now >= self._notified_at:
                self._notified_at = None  # this sync reads what the call announced
            await self._sync(mode, trigger)
            next_periodic = time.monotonic() + self.settings.sync_seconds
            if not subscribed:
                subscribed = await self._subscribe()

    async def _sync(self, mode: str, trigger: str) -> None:
        assert self.client is not None
        self.running = True
        try:
            self.last_report = await run_sync(self.pool, self.client, mode=mode, trigger=trigger,
                                              overlap=timedelta(seconds=self.settings.overlap_seconds))
            self.last_error = None
        except Busy:
            log.info("SS 12000 sync (%s, %s) skipped: another sync is running", mode, trigger)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("SS 12000 sync (%s, %s) failed; the next one resumes it", mode, trigger)
        finally:
            self.running = False

    async def _subscribe(self) -> bool:
        """Make the webhook subscription (after deleting the one made before); True when done or not wanted."""
        if not self.settings.webhook_url:
            return True
        assert self.client is not None
        try:
            async with self.pool.acquire() as conn:
                before = await store.subscription(conn)
            if before is not None:
                await self.client.unsubscribe(before["subscription_id"])
            secret = before["path_secret"] if before is not None else secrets.token_urlsafe(24)
            target = f"{self.settings.webhook_url}{WEBHOOK_PATH}{secret}"
            subscription_id = await self.client.subscribe("skolit", target, RESOURCES)
            async with self.pool.acquire() as conn:
                await store.save_subscription(conn, subscription_id, target, secret)
            log.info("SS 12000 webhook subscription %s made", subscription_id)
            return True
        except (Ss12000Error, OSError, asyncpg.PostgresError) as exc:
            log.warning("SS 12000 webhook subscription not made (%s); the periodic sync goes on, the next one tries again", exc)
            return False
