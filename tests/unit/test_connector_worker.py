"""The connector's worker (connectors/ss12000/worker.py): a sync soon after start (which resumes a run a crash
stopped), webhook calls debounced into one incremental sync, a full sync asked for winning over an incremental one.
The sync itself is replaced by a recorder: no database, no HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from connectors.ss12000 import worker as worker_module
from connectors.ss12000.settings import Ss12000Settings
from connectors.ss12000.worker import SyncWorker


class FakeConn:
    async def fetch(self, *_: Any) -> list[Any]:
        return []  # no cursors yet


class FakePool:
    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConn]:
        yield FakeConn()


class FakeClient:
    async def aclose(self) -> None:
        pass


async def until(check: Any, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within the timeout")


def test_first_sync_then_debounced_webhooks_then_an_asked_full_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    syncs: list[tuple[str, str]] = []

    async def recorder(pool: Any, client: Any, *, mode: str, trigger: str, **_: Any) -> None:
        syncs.append((mode, trigger))

    monkeypatch.setattr(worker_module, "run_sync", recorder)
    monkeypatch.setattr(worker_module, "FIRST_SYNC_SECONDS", 0.01)
    settings = Ss12000Settings(url="http://ss12000.test", client_id="c", client_secret="s", sync_seconds=3600, debounce_seconds=0.2)

    async def scenario() -> None:
        worker = SyncWorker(FakePool(), settings, client=FakeClient())  # type: ignore[arg-type]
        await worker.start()
        try:
            await until(lambda: syncs == [("incremental", "schedule")])
            for _ in range(5):  # a burst of webhook calls
                worker.notified()
            await until(lambda: len(syncs) == 2)
            await asyncio.sleep(0.5)  # well past the debounce: the burst made one sync
            assert syncs == [("incremental", "schedule"), ("incremental", "webhook")]
            worker.request("incremental")
            worker.request("full")  # asked for while nothing ran yet: the full one wins
            await until(lambda: len(syncs) == 3)
            await asyncio.sleep(0.2)
            assert syncs[2:] == [("full", "operator")]
        finally:
            await worker.stop()

    asyncio.run(scenario())


def test_without_a_url_nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []

    async def recorder(*_: Any, **__: Any) -> None:
        ran.append("sync")

    monkeypatch.setattr(worker_module, "run_sync", recorder)

    async def scenario() -> None:
        worker = SyncWorker(FakePool(), Ss12000Settings())  # type: ignore[arg-type]
        await worker.start()
        await asyncio.sleep(0.05)
        assert not worker.configured and worker.client is None and ran == []
        await worker.stop()

    asyncio.run(scenario())
