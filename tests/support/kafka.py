"""Publishing and reading raw Kafka messages in tests, the way a city system (or an attacker) would."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.events.base import Event
from shared.events.envelope import WireMessage, encode, new_envelope

T = TypeVar("T")


def wire(event: Event, *, event_id: str | None = None, source: str = "tests") -> WireMessage:
    return encode(new_envelope(event, source, event_id=event_id))


async def send(bootstrap: str, messages: list[WireMessage]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(m.topic, m.value, key=m.key, headers=m.headers) for m in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str, *, expect: int, timeout: float = 30) -> list[Any]:
    """Read a topic from the beginning until ``expect`` messages arrived (or the timeout)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"test-{uuid.uuid4()}", auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    out: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(out) < expect and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                out.extend(records)
    finally:
        await consumer.stop()
    return out


async def eventually(check: Callable[[], Awaitable[T]], *, timeout: float = 30, interval: float = 0.2, what: str = "condition") -> T:
    """Poll ``check`` until it returns a truthy value; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class EventLog:
    """Every event on a topic, read by a real consumer from the beginning, decoded as a consumer would."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"test-log-{uuid.uuid4()}",
                                          auto_offset_reset="earliest", enable_auto_commit=False)
        self.events: list[Any] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> EventLog:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        from shared.events.envelope import PermanentError, decode, header_map

        while True:
            batches = await self._consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for r in records:
                    with contextlib.suppress(PermanentError):  # not ours to judge here
                        self.events.append(decode(header_map(r.headers), r.value))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def wait_for(self, event_type: type[Event], match: Callable[[Any], bool], *, timeout: float = 30) -> Any:
        """The first event of this type whose data matches; fails after ``timeout``."""

        async def found() -> Any:
            return next((e.data for e in self.events if isinstance(e.data, event_type) and match(e.data)), None)

        return await eventually(found, timeout=timeout, what=f"a {event_type.__name__} event")
