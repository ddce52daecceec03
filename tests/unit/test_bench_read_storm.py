"""bench/read_storm.py: the open-loop schedule, the statistics of a storm, and the client itself against a real socket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from bench import read_storm
from bench.read_storm import UNFINISHED, Sample, percentile, schedule, storm, summarise
from devkit.embedded import free_port


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 1..100, unsorted
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_the_schedule_is_a_constant_arrival_rate() -> None:
    due = schedule(1000, 2)
    assert len(due) == 2000
    assert due[0] == 0.0 and due[1] == pytest.approx(0.001) and due[-1] == pytest.approx(1.999)
    assert schedule(0, 10) == [] and schedule(100, 0) == []


def test_summarise_counts_errors_over_all_and_latency_over_the_answered() -> None:
    samples = [Sample(i / 10, latency_ms=float(i + 1), wire_ms=1.0, status=200) for i in range(20)]  # 2 s at 10/s
    samples += [Sample(0.5, 900.0, 900.0, 500), Sample(1.5, 5000.0, 0.0, 0), Sample(1.6, 61000.0, 0.0, UNFINISHED)]
    s = summarise(samples, seconds=2)
    assert s["requests"] == 23 and s["ok"] == 20
    assert s["errors"] == 3 and s["errorsByKind"] == {"http 500": 1, "no answer": 1, "unanswered at the end": 1}
    assert s["p50"] == 10.0 and s["max"] == 20.0  # the failed requests' times do not count in the latency
    assert s["achievedRate"] == 11.5 and s["answeredRate"] == 10.5  # 20 answered OK and one 500
    assert s["perSecond"] == [11, 12]


async def _server(answer: bytes) -> tuple[asyncio.AbstractServer, int]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(answer)
        writer.close()

    port = free_port()
    return await asyncio.start_server(serve, "127.0.0.1", port), port


@contextlib.asynccontextmanager
async def serving(answer: bytes) -> AsyncIterator[int]:
    server, port = await _server(answer)
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


async def test_a_storm_reads_every_answer_over_keep_alive_connections() -> None:
    body = b'{"items": []}'
    async with serving(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)) as port:
        samples, took, lags = await storm(f"http://127.0.0.1:{port}", [("p1", "t1"), ("p2", "t2")], rate=200, seconds=0.5, connections=4)
    assert len(samples) == 100
    assert {s.status for s in samples} == {200}
    assert took >= 0.49  # the last request was not due before 0.495 s
    assert all(s.latency_ms >= s.wire_ms >= 0 for s in samples)
    assert len(lags) == 100 and min(lags) >= 0


async def test_a_storm_counts_error_answers_and_chunked_bodies_are_read() -> None:
    async with serving(b"HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: chunked\r\n\r\n5\r\nbusy!\r\n0\r\n\r\n") as port:
        samples, _, _ = await storm(f"http://127.0.0.1:{port}", [("p1", "t1")], rate=100, seconds=0.2, connections=2)
    s = summarise(samples, 0.2)
    assert s["requests"] == 20 and s["errors"] == 20 and s["errorsByKind"] == {"http 503": 20} and s["p99"] is None


async def test_a_storm_against_nothing_counts_every_request_as_unanswered() -> None:
    samples, _, _ = await storm(f"http://127.0.0.1:{free_port()}", [("p1", "t1")], rate=100, seconds=0.1, connections=2)
    assert len(samples) == 10 and {s.status for s in samples} == {0}


async def test_answers_still_missing_at_the_end_count_as_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(read_storm, "DRAIN_S", 0.2)
    async with serving(b"") as port:  # reads the request, never answers
        samples, _, _ = await storm(f"http://127.0.0.1:{port}", [("p1", "t1")], rate=50, seconds=0.1, connections=2)
    assert len(samples) == 5 and {s.status for s in samples} == {UNFINISHED}
    assert summarise(samples, 0.1)["errorsByKind"] == {"unanswered at the end": 5}
