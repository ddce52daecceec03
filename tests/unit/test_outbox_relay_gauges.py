"""The outbox relay counts its gauges (two counts over the outbox) at most once a GAUGE_SECONDS while it publishes, and
once more when it goes idle, not after every batch (issue 24: each gateway callback's commit woke it for a row or two,
and the counts doubled its statements). The loop alone: publishing and the database replaced."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from shared import outbox


class NoConnection:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


class Pool:
    def acquire(self, timeout: float | None = None) -> NoConnection:
        return NoConnection()


class Relay(outbox.OutboxRelay):
    """The relay's loop over given batch sizes; it stops after the first empty batch."""

    def __init__(self, batches: list[int], seconds_per_batch: float = 0.0, clock: list[float] | None = None) -> None:
        super().__init__(Pool(), None, service="test", poll_seconds=0.001)  # type: ignore[arg-type]
        self.batches, self.seconds_per_batch, self.clock = batches, seconds_per_batch, clock
        self.refreshes = 0

    async def _listen(self) -> None:
        return None

    async def publish_once(self) -> int:
        if self.clock is not None:
            self.clock[0] += self.seconds_per_batch
        sent = self.batches.pop(0) if self.batches else 0
        if sent == 0:
            self._stopping.set()
        return sent

    async def refresh_gauges(self) -> Any:
        self.refreshes += 1
        return await super().refresh_gauges()


@pytest.fixture(autouse=True)
def no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    async def health(conn: Any, stalled: float = 0.0) -> outbox.Health:
        return outbox.Health(0, 0.0, 0, 0, stalled)

    monkeypatch.setattr(outbox, "health", health)


def test_a_burst_of_small_batches_counts_the_gauges_once_at_the_start_and_once_when_idle() -> None:
    relay = Relay([1] * 200)  # two hundred wake-ups of one row each, well within a second, then nothing
    asyncio.run(relay._run())
    assert relay.refreshes == 2  # the first pass, and the first idle pass after the burst (was 201)


def test_the_gauges_are_counted_again_after_each_second_of_publishing(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(outbox, "time", SimpleNamespace(monotonic=lambda: clock[0]))  # the relay's clock, not the event loop's
    relay = Relay([1] * 10, seconds_per_batch=0.25, clock=clock)
    asyncio.run(relay._run())
    # ten batches of a quarter of a second: the first pass, after batches 4 and 8 (a second each), and idle at the end
    assert relay.refreshes == 4


def test_an_idle_relay_does_not_count_after_every_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(outbox, "time", SimpleNamespace(monotonic=lambda: clock[0]))  # the relay's clock, not the event loop's
    relay = Relay([0])
    asyncio.run(relay._run())
    assert relay.refreshes == 1  # nothing published: the first pass only
