"""The sinks' own intake rate: the baseline of issue 24's whole-city broadcast (bench/broadcast.py), measured in the same
run. A minimal client sends the same number and mix of messages straight to the local sinks (`python -m devkit.sinks`)
at full speed — e-mail over SMTP, SMS and push as gateway POSTs — with the service's own concurrency (its SMTP
connections, and its gateway requests in flight per channel), every message built before the clock starts, no
database, nothing else; the time until the sinks hold the last one is what the sinks can take.

    .venv/bin/python -m bench.sink_baseline send --smtp-port P --http-url URL --push N --email N --sms N --out FILE
        [--callback-url URL]
    .venv/bin/python -m bench.sink_baseline receive --port P      (a callback receiver that answers 200 and does nothing)

With ``--callback-url`` each SMS/push message asks the gateway to call back there (as Skolit's do), so sinks started
with ``--callbacks`` do that work in the baseline too; ``receive`` is the cheapest thing to call back to. Each runs as a
process of its own (its own GIL), so neither slows the sinks by sharing one with the other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib
import httpx
import psutil

from bench.process import stop_process
from bench.read_storm import ROOT, Connection, request_head
from devkit.embedded import free_port

CHANNELS = ("push", "email", "sms")

SUBJECT = "Skolan är stängd i dag"
BODY = ("Skolan är stängd i dag på grund av ett vattenläckage. Fritids är också stängt. Mer information kommer i appen "
        "och på skolans webbplats.")
SENDER = "skolit@example.se"


def references(mix: dict[str, int]) -> dict[str, list[str]]:
    """A distinct reference per message, per channel (the sinks count distinct references, as for Skolit's runs)."""
    return {channel: [f"baseline-{channel}-{i}" for i in range(n)] for channel, n in mix.items()}


def mail_bytes(reference: str, to: str) -> bytes:
    return (f"From: {SENDER}\r\nTo: {to}\r\nSubject: {SUBJECT}\r\nMessage-ID: <{reference}@example.se>\r\n"
            f"X-Skolit-Reference: {reference}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{BODY}\r\n").encode()


def gateway_body(reference: str, to: str, callback_url: str | None) -> bytes:
    body: dict[str, Any] = {"reference": reference, "to": to, "subject": SUBJECT, "body": BODY, "language": "sv"}
    if callback_url:
        body["callbackUrl"] = callback_url
    return json.dumps(body, ensure_ascii=False).encode()


def mails(refs: list[str]) -> list[tuple[str, bytes]]:
    return [(f"vh{i:06d}@example.se", mail_bytes(r, f"vh{i:06d}@example.se")) for i, r in enumerate(refs)]


def gateway_requests(url: str, channel: str, refs: list[str], callback_url: str | None) -> list[tuple[bytes, bytes]]:
    parts = urlsplit(url)
    requests = []
    for i, r in enumerate(refs):
        body = gateway_body(r, f"+4670{i:07d}" if channel == "sms" else f"push-{i}", callback_url)
        requests.append((request_head("POST", parts.netloc, f"/{channel}", {"Content-Type": "application/json", "Idempotency-Key": r}, len(body)), body))
    return requests


async def send_mail(port: int, messages: list[tuple[str, bytes]], connections: int) -> int:
    at = 0
    sent = 0

    async def lane() -> None:
        nonlocal at, sent
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30)
        await client.connect()
        try:
            while at < len(messages):
                to, raw = messages[at]
                at += 1
                await client.sendmail(SENDER, [to], raw)
                sent += 1
        finally:
            await client.quit()

    await asyncio.gather(*(lane() for _ in range(min(connections, max(1, len(messages))))))
    return sent


async def send_gateway(url: str, requests: list[tuple[bytes, bytes]], concurrency: int) -> int:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    at = 0
    refused = 0

    async def lane() -> None:
        nonlocal at, refused
        conn = await Connection.open(host, port)
        try:
            while at < len(requests):
                head, body = requests[at]
                at += 1
                status, _ = await conn.request(head, body)
                refused += status != 200
        finally:
            conn.close()

    await asyncio.gather(*(lane() for _ in range(min(concurrency, max(1, len(requests))))))
    return len(requests) - refused


async def send_all(smtp_port: int, http_url: str, mix: dict[str, int], *, smtp_connections: int, http_concurrency: int,
                   callback_url: str | None) -> dict[str, Any]:
    refs = references(mix)  # every message built before the clock starts
    jobs = []
    if mix.get("email"):
        jobs.append(send_mail(smtp_port, mails(refs["email"]), smtp_connections))
    for channel in ("sms", "push"):
        if mix.get(channel):
            jobs.append(send_gateway(http_url, gateway_requests(http_url, channel, refs[channel], callback_url), http_concurrency))
    started_wall, started = time.time(), time.perf_counter()
    accepted = await asyncio.gather(*jobs)
    return {"startedAt": started_wall, "clientSeconds": round(time.perf_counter() - started, 3), "accepted": sum(accepted)}


async def receive(port: int) -> None:
    """Answers every request 200 with an empty body: the cheapest callback target."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def measure(sinks_url: str, smtp_port: int, mix: dict[str, int], workdir: Path, *, callbacks: bool, smtp_connections: int, http_concurrency: int,
            sinks_pid: int | None = None, timeout: float = 900) -> dict[str, Any]:
    """One baseline run against running sinks (emptied first): the sender as a process, then the sinks' own stamps."""
    with httpx.Client(base_url=sinks_url, timeout=30) as sinks:
        sinks.delete("/messages")
        receiver: subprocess.Popen[bytes] | None = None
        callback_url = None
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        try:
            if callbacks:
                port = free_port()
                receiver = subprocess.Popen([sys.executable, "-m", "bench.sink_baseline", "receive", "--port", str(port)], cwd=ROOT, env=env,
                                            start_new_session=True)
                callback_url = f"http://127.0.0.1:{port}/callbacks"
                _wait_listening(port)
            sinks_proc = psutil.Process(sinks_pid) if sinks_pid else None
            cpu0 = _cpu(sinks_proc)
            out = workdir / "sink-baseline.json"
            cmd = [sys.executable, "-m", "bench.sink_baseline", "send", "--smtp-port", str(smtp_port), "--http-url", sinks_url,
                   "--smtp-connections", str(smtp_connections), "--http-concurrency", str(http_concurrency), "--out", str(out),
                   *[a for c in CHANNELS for a in (f"--{c}", str(mix.get(c, 0)))], *(["--callback-url", callback_url] if callback_url else [])]
            subprocess.run(cmd, cwd=ROOT, env=env, check=True, timeout=timeout)
            sent = json.loads(out.read_text(encoding="utf-8"))
            deadline = time.monotonic() + timeout
            while True:
                stats = sinks.get("/stats").json()["channels"]
                if all(stats.get(c, {}).get("distinct", 0) >= n for c, n in mix.items()):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the baseline: {stats} of {mix} at the sinks")
                time.sleep(0.1)
            cpu1 = _cpu(sinks_proc)
            if callbacks:  # the sinks call back after answering, from a queue: let it drain (the process goes idle) before the next run
                _wait_idle(sinks_proc, timeout)
        finally:
            if receiver is not None:
                stop_process(receiver, grace=5)
        sinks.delete("/messages")
    return baseline_figures(mix, sent, stats, callbacks=callbacks, sinks_cpu=round(cpu1 - cpu0, 2) if sinks_proc else None)


def baseline_figures(mix: dict[str, int], sent: dict[str, Any], stats: dict[str, Any], *, callbacks: bool, sinks_cpu: float | None) -> dict[str, Any]:
    """The run's figures from the sender's answer and the sinks' stamps: t0 is when the sender's clock started."""
    t0 = sent["startedAt"]
    last = {c: round(stats[c]["lastNewAt"] - t0, 3) for c in mix if mix[c] and c in stats}
    total = sum(mix.values())
    all_s = max(last.values()) if last else None
    return {"mix": mix, "total": total, "callbacks": callbacks, "allAtSinksSeconds": all_s, "perChannelLastSeconds": last,
            "messagesPerSecond": round(total / all_s, 1) if all_s else None, "clientSeconds": sent["clientSeconds"],
            "clientCpuSeconds": sent.get("clientCpuSeconds"), "sinksCpuSeconds": sinks_cpu, "loadAverageBefore": None}


def _cpu(p: psutil.Process | None) -> float:
    if p is None:
        return 0.0
    with contextlib.suppress(psutil.Error):
        t = p.cpu_times()
        return t.user + t.system
    return 0.0


def _wait_idle(p: psutil.Process | None, timeout: float, busy_below: float = 10.0) -> None:
    """Until the process uses less than ``busy_below`` percent of a CPU over a second (or ``timeout`` passes)."""
    if p is None:
        time.sleep(3)
        return
    deadline = time.monotonic() + timeout
    with contextlib.suppress(psutil.Error):
        while p.cpu_percent(interval=1.0) >= busy_below and time.monotonic() < deadline:
            pass


def _wait_listening(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise TimeoutError(f"the callback receiver did not listen on {port}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sink_baseline", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("send")
    s.add_argument("--smtp-port", type=int, required=True)
    s.add_argument("--http-url", required=True)
    for channel in ("push", "email", "sms"):
        s.add_argument(f"--{channel}", type=int, default=0)
    s.add_argument("--smtp-connections", type=int, default=8)
    s.add_argument("--http-concurrency", type=int, default=64)
    s.add_argument("--callback-url", default=None)
    s.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("receive")
    r.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    import uvloop

    if args.what == "receive":
        uvloop.run(receive(args.port))
        return 0
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    result = uvloop.run(send_all(args.smtp_port, args.http_url, {"push": args.push, "email": args.email, "sms": args.sms},
                                 smtp_connections=args.smtp_connections, http_concurrency=args.http_concurrency, callback_url=args.callback_url))
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    result["clientCpuSeconds"] = round(usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime, 2)
    args.out.write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
