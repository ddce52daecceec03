"""A city system publishing at a steady rate with a plain aiokafka producer, through the proxy.

What the broker does not acknowledge (it was cut off, the request timed out) is sent again with
the same CloudEvents id until it is acknowledged, as any at-least-once producer would; so the topics
may hold a message twice, which is the consumers' inboxes' business. Sending is paced to ``rate``
messages per second; after an outage the backlog is caught up at no more than twice the rate.

The acknowledgement's partition and offset are kept on the message: poison that the consumers can only
know by its Kafka coordinates (chaos/workload.py, COORDINATE_KINDS) is audited by them. A copy that landed
without an acknowledgement is found by the audit, which reads the topics back (chaos/audit.py).
The producer takes records up to 4 MiB (``max_request_size``; aiokafka's default is 1 MiB): room to spare
for the oversized poison, which is over Skolit's 1,000,000-byte size policy but under the topics' limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from chaos.workload import Message, Workload

log = logging.getLogger("chaos")
TICK_S = 0.05
#: the largest record the producer hands to the broker (aiokafka refuses larger ones itself)
MAX_REQUEST_BYTES = 4 << 20


class SteadyProducer:
    def __init__(self, bootstrap: str, workload: Workload, rate: float) -> None:
        self.bootstrap = bootstrap
        self.workload = workload
        self.rate = rate
        self.sent = 0  # messages handed to the producer (first attempts)
        self.acked = 0
        self.resends = 0
        self.send_errors: dict[str, int] = {}
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._outstanding: set[asyncio.Task[None]] = set()
        self._producer: AIOKafkaProducer | None = None

    async def run(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, enable_idempotence=False, acks="all", linger_ms=10,
            request_timeout_ms=20_000, retry_backoff_ms=250, client_id="skolit-chaos-city", max_request_size=MAX_REQUEST_BYTES,
        )
        await self._start()
        self.started_at = time.monotonic()
        try:
            total = len(self.workload)
            credit_start = self.started_at
            while self.sent < total:
                now = time.monotonic()
                due = min(total, int((now - credit_start) * self.rate) + 1)
                burst = max(1, int(2 * self.rate * TICK_S))  # catching up: at most twice the rate
                for _ in range(min(due - self.sent, burst)):
                    message = self.workload.next()
                    await self._send(message)
                    self.sent += 1
                if due - self.sent > self.rate * 30:
                    # more than 30 s behind (a long outage): forget the debt beyond that, stay steady
                    credit_start = now - (self.sent + self.rate * 30) / self.rate
                await asyncio.sleep(TICK_S)
            while self._outstanding:
                await asyncio.gather(*list(self._outstanding), return_exceptions=True)
            self.finished_at = time.monotonic()
        finally:
            for task in self._outstanding:
                task.cancel()
            with contextlib.suppress(Exception):
                await self._producer.stop()

    async def _start(self) -> None:
        assert self._producer is not None
        for attempt in range(30):
            try:
                await self._producer.start()
                return
            except KafkaError as exc:
                log.warning("producer cannot reach the broker yet (%r)", exc)
                await asyncio.sleep(min(1.0 + attempt, 5.0))
        raise RuntimeError("the producer could not reach the broker")

    async def _send(self, message: Message) -> None:
        assert self._producer is not None and message.headers is not None  # a tombstone has value None, never headers None
        while True:
            message.attempts += 1
            try:
                future = await self._producer.send(message.topic, message.value, key=message.key, headers=message.headers)
                break
            except KafkaError as exc:
                self._error(exc)
                await asyncio.sleep(0.5)
        task = asyncio.ensure_future(self._acknowledged(future, message))
        self._outstanding.add(task)
        task.add_done_callback(self._outstanding.discard)

    async def _acknowledged(self, future: Any, message: Message) -> None:
        try:
            metadata = await future
        except KafkaError as exc:
            self._error(exc)
            self.resends += 1
            await asyncio.sleep(0.5)
            await self._send(message)
            return
        if message.acked:
            return
        message.acked = True
        message.partition, message.offset = metadata.partition, metadata.offset
        message.headers = message.value = None  # 100,000 of them: keep only what the audit needs
        self.acked += 1
        if message.on_ack is not None:
            message.on_ack()
            message.on_ack = None

    def _error(self, exc: BaseException) -> None:
        name = type(exc).__name__
        self.send_errors[name] = self.send_errors.get(name, 0) + 1

    def figures(self) -> dict[str, Any]:
        seconds = (self.finished_at or time.monotonic()) - (self.started_at or time.monotonic())
        return {"messages": self.sent, "acknowledged": self.acked, "resends": self.resends, "sendErrors": dict(self.send_errors),
                "targetRate": self.rate, "seconds": round(seconds, 1), "achievedRate": round(self.acked / seconds, 1) if seconds > 0 else None}
