"""issue 24's broadcast benchmark, the parts that need no database: the city's expected mix for a critical message, the
sinks' baseline client against the real local sinks (devkit/sinks.py in-process), its figures, and the floor's answers."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import time
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest

from bench import floor, sink_baseline
from bench.broadcast import City, generate_city
from devkit.embedded import free_port
from devkit.sinks import Sinks


def test_a_critical_message_reaches_app_users_by_push_and_email() -> None:
    city: City = generate_city(1000, 4, random.Random(1))
    plain, critical = city.expected(), city.expected(critical=True)
    assert plain == {"push": city.count("app"), "email": city.count("email"), "sms": city.count("sms")}
    assert critical == {"push": city.count("app"), "email": city.count("app") + city.count("email"), "sms": city.count("sms")}
    assert sum(critical.values()) == 1000 - city.count("none") + city.count("app")


@pytest.fixture
def sinks() -> Iterator[Sinks]:
    with Sinks(callbacks=True) as s:
        yield s


@contextlib.contextmanager
def callback_receiver() -> Iterator[tuple[str, list[int]]]:
    """sink_baseline.receive in a thread of its own, counting nothing but that it answered (the sinks count their errors)."""
    port = free_port()
    loop = asyncio.new_event_loop()
    task: list[asyncio.Task[None]] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        task.append(loop.create_task(sink_baseline.receive(port)))
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task[0])
        left = asyncio.all_tasks(loop)  # the connections' handlers: ended too, so nothing is left pending
        for t in left:
            t.cancel()
        loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    sink_baseline._wait_listening(port)
    try:
        yield f"http://127.0.0.1:{port}/callbacks", []
    finally:
        loop.call_soon_threadsafe(task[0].cancel)
        thread.join(timeout=5)


async def test_the_baseline_client_puts_every_message_at_the_sinks(sinks: Sinks) -> None:
    mix = {"push": 60, "email": 40, "sms": 20}
    with callback_receiver() as (url, _):
        sent = await sink_baseline.send_all(sinks.mail.port, sinks.http.url, mix, smtp_connections=2, http_concurrency=4, callback_url=url)
        stats = httpx.get(sinks.http.url + "/stats").json()
        for _ in range(100):  # the callbacks go after the answers: wait for the sinks to have sent them
            if httpx.get(sinks.http.url + "/stats").json()["callbackErrors"] == 0 and stats:
                break
    assert sent["accepted"] == 120
    counts = {c: stats["channels"][c]["distinct"] for c in mix}
    assert counts == mix  # every message once, a distinct reference each
    assert stats["callbackErrors"] == 0  # the sinks could call back to the receiver
    f = sink_baseline.baseline_figures(mix, sent, stats["channels"], callbacks=True, sinks_cpu=None)
    assert f["total"] == 120 and f["allAtSinksSeconds"] == max(f["perChannelLastSeconds"].values()) > 0
    assert f["messagesPerSecond"] == pytest.approx(120 / f["allAtSinksSeconds"], rel=0.01)


def test_baseline_figures_run_from_the_senders_clock() -> None:
    stats = {"push": {"lastNewAt": 1010.0}, "email": {"lastNewAt": 1020.0}}
    f = sink_baseline.baseline_figures({"push": 10, "email": 10, "sms": 0}, {"startedAt": 1000.0, "clientSeconds": 19.0}, stats, callbacks=False,
                                       sinks_cpu=3.0)
    assert f["perChannelLastSeconds"] == {"push": 10.0, "email": 20.0} and f["allAtSinksSeconds"] == 20.0 and f["messagesPerSecond"] == 1.0


def test_the_floor_writes_rows_and_the_types_orjson_does_not_know() -> None:
    body = orjson.loads(floor.dumps({"mean": Decimal("2.50"), "at": time(7, 0), "codes": {"a"}, 3: "x"}))
    assert body == {"mean": "2.50", "at": "07:00:00", "codes": ["a"], "3": "x"}


class _NoConnection:
    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        yield None


async def test_the_floor_answers_only_its_own_read() -> None:
    app = floor.FloorApp("inbox", "postgresql://unused")
    app.pool = _NoConnection()
    assert await app.answer("/apps", []) == (404, {"detail": "not found"})
    assert await app.answer("/persons/not-a-uuid/messages", []) == (422, {"detail": "badly formed hexadecimal UUID string"})
    with pytest.raises(ValueError, match="one of"):
        floor.FloorApp("everything", "postgresql://unused")
