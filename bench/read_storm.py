"""The read storm of issue 24: guardians open their inbox while a whole-city broadcast goes out and just after —
``GET /persons/{id}/messages`` with each guardian's own token, at a constant arrival rate (open loop), as a process of
its own so its CPU is its own and is reported.

    .venv/bin/python -m bench.read_storm --url http://127.0.0.1:8104 --guardians FILE --rate 1000 --seconds 60 --out FILE
        [--start-at UNIX_SECONDS]

Open loop: request i is due at start + i / rate whatever the answers take (a slow service gets the same arrivals, not
fewer), and its latency runs from when it was due, so time spent waiting for a free connection counts (no coordinated
omission). Up to ``--connections`` keep-alive HTTP/1.1 connections; a request due when all are busy waits for one. The
client is a few lines of asyncio streams on uvloop (no HTTP library) so it costs the two shared cores little; its own
CPU seconds (getrusage) are in the answer. ``--guardians`` is a JSON list of ``[person id, token]``.

Writes one JSON: p50/p95/p99/max of the latency from due time and of the time on the wire, errors by kind, the rate
achieved, and requests per second over the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = 256
DRAIN_S = 60.0  # after the last arrival, how long the answers still outstanding are waited for
UNFINISHED = -1  # a Sample's status: not answered within DRAIN_S of the last arrival
SEED = 42


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (nearest rank on the sorted values, as bench.freshness.pct), None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least the first
    return round(ordered[int(rank) - 1], 2)


def schedule(rate: float, seconds: float) -> list[float]:
    """When each request is due, seconds from the start: a constant arrival rate."""
    if rate <= 0 or seconds <= 0:
        return []
    return [i / rate for i in range(int(round(rate * seconds)))]


@dataclass
class Sample:
    due: float  # seconds from the start
    latency_ms: float  # from when it was due until the whole answer was read
    wire_ms: float  # from when it was written until the whole answer was read
    status: int  # 0: no answer (a connection error)


def summarise(samples: list[Sample], seconds: float) -> dict[str, Any]:
    """The figures of a storm: latency percentiles over the answered-OK requests, errors (non-200 or none) over all."""
    ok = [s for s in samples if s.status == 200]
    errors: dict[str, int] = {}
    for s in samples:
        if s.status != 200:
            key = {0: "no answer", UNFINISHED: "unanswered at the end"}.get(s.status, f"http {s.status}")
            errors[key] = errors.get(key, 0) + 1
    latencies, wire = [s.latency_ms for s in ok], [s.wire_ms for s in ok]
    per_second: dict[int, int] = {}
    for s in samples:
        per_second[int(s.due)] = per_second.get(int(s.due), 0) + 1
    return {"requests": len(samples), "ok": len(ok), "errors": sum(errors.values()), "errorsByKind": errors,
            "errorRate": round(sum(errors.values()) / len(samples), 5) if samples else None,
            "achievedRate": round(len(samples) / seconds, 1) if seconds > 0 else None,  # arrivals started per second
            "answeredRate": round(sum(s.status > 0 for s in samples) / seconds, 1) if seconds > 0 else None,
            "p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "p99": percentile(latencies, 99),
            "max": round(max(latencies), 2) if latencies else None,
            "wireP50": percentile(wire, 50), "wireP99": percentile(wire, 99),
            "perSecond": [per_second.get(i, 0) for i in range(int(seconds))]}


class Connection:
    """One keep-alive HTTP/1.1 connection: a request written whole, the answer read by its Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(self, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
        self.writer.write(head + body)
        head_in = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head_in[9:12])
        length = 0
        chunked = False
        for line in head_in.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            lname = name.strip().lower()
            if lname == b"content-length":
                length = int(value)
            elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            data = bytearray()
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    return status, bytes(data)
                data += await self.reader.readexactly(size + 2)
                del data[-2:]
        return status, (await self.reader.readexactly(length)) if length else b""

    def close(self) -> None:
        self.writer.close()


def request_head(method: str, host: str, path: str, headers: dict[str, str], body_length: int | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items())]
    if body_length is not None:
        lines.append(f"Content-Length: {body_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Pool:
    """Keep-alive connections to one host, at most ``limit`` in use; a request waits for a free one when all are busy."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self.host, self.port = host, port
        self.slots = asyncio.Semaphore(limit)
        self.idle: list[Connection] = []

    async def get(self) -> Connection:
        await self.slots.acquire()
        if self.idle:
            return self.idle.pop()
        try:
            return await Connection.open(self.host, self.port)
        except BaseException:
            self.slots.release()
            raise

    def put(self, conn: Connection | None) -> None:
        """Back after use; None when it broke (it was closed, the slot is free for a new one)."""
        if conn is not None:
            self.idle.append(conn)
        self.slots.release()

    def close(self) -> None:
        for conn in self.idle:
            conn.close()


async def storm(url: str, guardians: list[tuple[str, str]], rate: float, seconds: float, connections: int = CONNECTIONS,
                start_at: float | None = None) -> tuple[list[Sample], float, list[float]]:
    """Every request's Sample, how long the storm took, and how late (ms) the generator started each request: the last
    says whether the client kept the schedule (if it did not, the service got fewer arrivals than asked for)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    pool = Pool(host, port, connections)
    rng = random.Random(SEED)
    heads = [request_head("GET", f"{host}:{port}", f"/persons/{g}/messages", {"Authorization": f"Bearer {t}"}) for g, t in guardians]
    samples: list[Sample] = []
    loop = asyncio.get_running_loop()
    if start_at is not None:
        await asyncio.sleep(max(0.0, start_at - time.time()))
    t0 = loop.time()

    async def one(due: float, head: bytes) -> None:
        try:
            await request(due, head)
        except asyncio.CancelledError:  # still unanswered when the storm gave up waiting: an error, not a missing sample
            samples.append(Sample(due, (loop.time() - t0 - due) * 1000, 0.0, UNFINISHED))

    async def request(due: float, head: bytes) -> None:
        try:
            conn = await pool.get()
        except OSError:
            done = loop.time()
            samples.append(Sample(due, (done - t0 - due) * 1000, 0.0, 0))
            return
        sent = loop.time()
        try:
            status, _ = await conn.request(head)
        except (OSError, asyncio.IncompleteReadError, ValueError, asyncio.LimitOverrunError):
            conn.close()
            conn, status = None, 0  # type: ignore[assignment]
        done = loop.time()
        samples.append(Sample(due, (done - t0 - due) * 1000, (done - sent) * 1000, status))
        pool.put(conn)

    tasks: set[asyncio.Task[None]] = set()
    lags: list[float] = []
    for due in schedule(rate, seconds):
        delay = t0 + due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append(max(0.0, (loop.time() - t0 - due) * 1000))
        task = asyncio.create_task(one(due, rng.choice(heads)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=DRAIN_S)
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    pool.close()
    return samples, loop.time() - t0, lags


class StormProcess:
    """This module as a subprocess for one storm per broadcast run (bench/broadcast.py): ``start`` launches it with its first
    request ``lead`` seconds ahead (``start_at``: the broadcast is sent then too), ``finish`` waits for it and reads its answer."""

    def __init__(self, url: str, guardians: Path, rate: float, seconds: float, workdir: Path, lead: float = 2.0) -> None:
        self.url, self.guardians, self.rate, self.seconds, self.workdir, self.lead = url, guardians, rate, seconds, workdir, lead
        self.start_at = 0.0
        self.out = workdir / "storm.json"

    def start(self, number: int) -> subprocess.Popen[bytes]:
        self.start_at = time.time() + self.lead
        self.out = self.workdir / f"storm-{number}.json"
        self.out.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "bench.read_storm", "--url", self.url, "--guardians", str(self.guardians), "--rate", str(self.rate),
               "--seconds", str(self.seconds), "--start-at", str(self.start_at), "--out", str(self.out)]
        with open(self.workdir / "storm.log", "ab") as log:
            return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def finish(self, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
        try:
            proc.wait(timeout=self.seconds + self.lead + 120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.returncode != 0 or not self.out.exists():
            raise RuntimeError(f"the read storm failed ({proc.returncode}): " + (self.workdir / "storm.log").read_text(errors="replace")[-2000:])
        result: dict[str, Any] = json.loads(self.out.read_text(encoding="utf-8"))
        return result


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.read_storm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the notification service's base URL")
    parser.add_argument("--guardians", type=Path, required=True, help="JSON: a list of [person id, token]")
    parser.add_argument("--rate", type=float, default=1000.0, help="requests per second (default 1000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long (default 60)")
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--start-at", type=float, default=None, help="wall clock (Unix seconds) of the first request")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    import uvloop

    guardians = [(str(g[0]), str(g[1])) for g in json.loads(args.guardians.read_text(encoding="utf-8"))]
    cpu0, wall0 = cpu_seconds(), time.time()
    samples, took, lags = uvloop.run(storm(args.url, guardians, args.rate, args.seconds, args.connections, args.start_at))
    result = {"url": args.url, "rate": args.rate, "seconds": args.seconds, "connections": args.connections, "guardians": len(guardians),
              "startedAt": wall0, "tookSeconds": round(took, 2), **summarise(samples, args.seconds),
              "generatorLagP99Ms": percentile(lags, 99), "generatorLagMaxMs": round(max(lags), 2) if lags else None,
              "clientCpuSeconds": round(cpu_seconds() - cpu0, 2)}
    # over the arrivals' window, not the wait for the last answers after it: the share of a core while the load was offered
    result["clientCpuShare"] = round(result["clientCpuSeconds"] / args.seconds, 3) if args.seconds > 0 else None
    args.out.write_text(json.dumps(result), encoding="utf-8")
    print(f"read storm: {result['requests']} requests ({result['achievedRate']}/s; generator lag p99 {result['generatorLagP99Ms']} ms), p50 {result['p50']} ms, p99 {result['p99']} ms, "
          f"errors {result['errors']}, client CPU {result['clientCpuSeconds']} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
