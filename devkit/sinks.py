"""Local stand-ins for the outside world the notification service talks to: a real SMTP server (aiosmtpd) and a real HTTP
server (FastAPI on uvicorn) playing the SMS and push gateways. They are real servers rather than mocks so that the
integration tests, the benchmark and the demo (`make run`) exercise the service's actual network code — connection reuse,
SMTP reply codes, HTTP status handling, delivery callbacks — and so that failures (a 451 from the mail server, a 503 from a
gateway) can be injected on purpose and observed end to end, from this process or, through `/control/*`, from another one."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import itertools
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, UTC
from email.message import EmailMessage
from typing import Any

import httpx
import orjson
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI, Request
from fastapi.responses import Response

HOST = "127.0.0.1"
CALLBACK_WORKERS = 8
HTTP_CHANNELS = ("sms", "push")

# One counter across every inbox, so that e-mails (captured in the SMTP thread) and HTTP messages (captured in the
# uvicorn thread) can be listed together in arrival order; next() on itertools.count is atomic under the GIL.
_SEQ = itertools.count(1)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _bound_socket(host: str, port: int) -> socket.socket:
    # Binding here rather than inside the server means port 0 yields a known port with no pick-then-bind race,
    # and "address in use" surfaces in the caller's thread instead of dying silently in the server's.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class _Inbox:
    """Captured messages, shared between a server thread and whoever reads them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[tuple[int, dict[str, Any]]] = []
        # channel → [count, first arrival, last arrival, last arrival of a reference not seen before (Unix seconds), references]
        self._stats: dict[str, list[Any]] = {}

    def add(self, item: dict[str, Any]) -> None:
        at = time.time()
        with self._lock:
            self._items.append((next(_SEQ), item))
            stat = self._stats.setdefault(item["channel"], [0, at, at, at, set()])
            stat[0] += 1
            stat[2] = at
            if item.get("reference") not in stat[4]:
                stat[4].add(item.get("reference"))
                stat[3] = at

    def entries(self) -> list[tuple[int, dict[str, Any]]]:
        with self._lock:
            return list(self._items)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per channel, without copying the messages: how many arrived and how many distinct references (a repeat is a
        resend), when the first and the last arrived, and when the last new reference did."""
        with self._lock:
            return {channel: {"count": n, "distinct": len(refs), "firstAt": first, "lastAt": last, "lastNewAt": last_new}
                    for channel, (n, first, last, last_new, refs) in self._stats.items()}

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._stats.clear()


def _matches(item: dict[str, Any], channel: str | None, to: str | None) -> bool:
    if channel and item["channel"] != channel:
        return False
    if not to:
        return True
    recipients = item["to"]
    return to in recipients if isinstance(recipients, list) else recipients == to


def _listing(entries: list[tuple[int, dict[str, Any]]], channel: str | None, to: str | None) -> list[dict[str, Any]]:
    # Copies, so a caller editing a result cannot change what the sink captured.
    return [dict(item) for _, item in sorted(entries, key=lambda e: e[0]) if _matches(item, channel, to)]


@dataclass
class _Rule:
    to: str
    code: int
    remaining: int  # -1: until cleared


class _Failures:
    """Armed failures: each matching request consumes one use of the first rule that matches it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []

    def arm(self, to: str, code: int, times: int) -> None:
        if times == 0 or times < -1:
            raise ValueError("times must be a positive count or -1 (until cleared)")
        with self._lock:
            self._rules.append(_Rule(to or "*", int(code), times))

    def take(self, to: str) -> int | None:
        with self._lock:
            for rule in self._rules:
                if rule.to == "*" or rule.to.lower() == to.lower():
                    if rule.remaining > 0:
                        rule.remaining -= 1
                        if rule.remaining == 0:
                            self._rules.remove(rule)
                    return rule.code
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()


# ---------------------------------------------------------------------------------------------------------------- SMTP


def _smtp_reply(code: int) -> str:
    # Transient (4xx) and permanent (5xx) refusals read like a real server's, so logs in the service make sense.
    return f"{code} 4.3.0 try again later" if code < 500 else f"{code} 5.1.1 no such user"


def _text_body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    try:
        return str(part.get_content())
    except (LookupError, ValueError):
        # An unknown charset should not lose the message; the raw bytes are still worth showing.
        return (part.get_payload(decode=True) or b"").decode("utf-8", errors="replace")


def _header(msg: EmailMessage, name: str) -> str | None:
    value = msg.get(name)
    return None if value is None else str(value)


def _parse_mail(envelope: Envelope) -> dict[str, Any]:
    raw = envelope.original_content or envelope.content or b""
    msg = email.message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return {
        "channel": "email",
        "from": envelope.mail_from,
        "to": list(envelope.rcpt_tos),
        "subject": _header(msg, "Subject"),
        "body": _text_body(msg),
        "reference": _header(msg, "X-Skolit-Reference"),
        "messageId": _header(msg, "Message-ID"),
        "receivedAt": _now(),
    }


class _MailHandler:
    def __init__(self, inbox: _Inbox, failures: _Failures) -> None:
        self._inbox = inbox
        self._failures = failures

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]) -> str:
        code = self._failures.take(address)
        if code is not None:
            return _smtp_reply(code)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self._inbox.add(_parse_mail(envelope))
        return "250 Message accepted for delivery"


class _BoundController(Controller):
    """aiosmtpd's threaded Controller, serving on a socket bound beforehand (see `_bound_socket`)."""

    def __init__(self, handler: _MailHandler, sock: socket.socket) -> None:
        host, port = sock.getsockname()[:2]
        # A fixed server_hostname avoids socket.getfqdn(), which can stall for seconds on a machine without DNS.
        super().__init__(handler, hostname=host, port=port, server_hostname="skolit-mailcatcher", ident="Skolit MailCatcher")
        self._sock = sock

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


class MailCatcher:
    """A real SMTP server on 127.0.0.1 that keeps every accepted e-mail in memory."""

    def __init__(self, port: int = 0, host: str = HOST) -> None:
        self.host = host
        self.port = port  # the real port once started, when 0 was asked for
        self._inbox = _Inbox()
        self._failures = _Failures()
        self._controller: _BoundController | None = None

    def start(self) -> MailCatcher:
        if self._controller is not None:
            return self
        sock = _bound_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        controller = _BoundController(_MailHandler(self._inbox, self._failures), sock)
        try:
            controller.start()
        except BaseException:
            sock.close()
            raise
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        return _listing(self._inbox.entries(), None, to)

    def entries(self) -> list[tuple[int, dict[str, Any]]]:
        """Captured e-mails with their arrival sequence numbers, for merging with an HttpSink's listing."""
        return self._inbox.entries()

    def stats(self) -> dict[str, dict[str, Any]]:
        return self._inbox.stats()

    def clear(self) -> None:
        self._inbox.clear()

    def fail(self, to: str = "*", code: int = 451, times: int = 1) -> None:
        """Refuse the next `times` RCPT commands for `to` ("*": anyone) with `code`; times=-1 until clear_failures()."""
        self._failures.arm(to, code, times)

    def clear_failures(self) -> None:
        self._failures.clear()


# ---------------------------------------------------------------------------------------------------------------- HTTP


def _json(status: int, payload: Any) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _failure_body(status: int) -> dict[str, str]:
    # Retryable statuses read differently from rejections, as a gateway's would.
    return {"error": "try again"} if status >= 500 or status == 429 else {"error": "rejected"}


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _valid_message(data: dict[str, Any] | None) -> bool:
    return data is not None and all(isinstance(data.get(key), str) and data[key] for key in ("reference", "to", "body"))


class HttpSink:
    """A real HTTP server standing in for the SMS and push gateways (and listing the attached MailCatcher's e-mails)."""

    def __init__(
        self,
        port: int = 0,
        *,
        mail: MailCatcher | None = None,
        callbacks: bool = False,
        callback_headers: dict[str, str] | None = None,
        host: str = HOST,
    ) -> None:
        self.host = host
        self.port = port  # the real port once started, when 0 was asked for
        self.mail = mail
        self.callbacks = callbacks
        self.callback_headers = dict(callback_headers or {})
        self.callback_errors = 0
        self._inbox = _Inbox()
        self._failures = {channel: _Failures() for channel in HTTP_CHANNELS}
        self._ids = {channel: itertools.count(1) for channel in HTTP_CHANNELS}
        self._client: httpx.AsyncClient | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = self._build_app()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- lifecycle

    def start(self, timeout: float = 10.0) -> HttpSink:
        if self._server is not None:
            return self
        sock = _bound_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, host=self.host, port=self.port, log_level="warning", access_log=False, lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"http-sink-{self.port}", daemon=True)
        thread.start()
        try:
            self._wait_started(server, thread, timeout)
        except BaseException:
            server.should_exit = True
            thread.join(timeout)
            sock.close()
            raise
        self._server, self._thread = server, thread
        return self

    @staticmethod
    def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the HTTP sink's server stopped while starting")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the HTTP sink did not start within {timeout} s")
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> HttpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- Python API

    def messages(self, channel: str | None = None, to: str | None = None) -> list[dict[str, Any]]:
        entries = self._inbox.entries() + (self.mail.entries() if self.mail else [])
        return _listing(entries, channel, to)

    def stats(self) -> dict[str, Any]:
        """Counts per channel (with the attached MailCatcher's e-mails): cheap to poll while tens of thousands arrive."""
        channels = {**self._inbox.stats(), **(self.mail.stats() if self.mail else {})}
        return {"channels": channels, "callbackErrors": self.callback_errors}

    def clear(self) -> None:
        self._inbox.clear()
        if self.mail:
            self.mail.clear()

    def fail(self, channel: str, to: str = "*", status: int = 503, times: int = 1) -> None:
        """Answer the next `times` requests on `channel` for `to` ("*": anyone) with `status`, unrecorded; times=-1
        until clear_failures(). channel "email" arms the attached MailCatcher instead, with SMTP code `status`."""
        if channel == "email":
            if self.mail is None:
                raise ValueError("no MailCatcher attached to this sink")
            self.mail.fail(to, code=status, times=times)
        elif channel in self._failures:
            self._failures[channel].arm(to, status, times)
        else:
            raise ValueError(f"unknown channel {channel!r}; expected sms, push or email")

    def clear_failures(self) -> None:
        for failures in self._failures.values():
            failures.clear()
        if self.mail:
            self.mail.clear_failures()

    # -- the app

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="Skolit gateway sink", lifespan=self._lifespan, openapi_url=None, docs_url=None, redoc_url=None)
        app.add_api_route("/sms", self._sms, methods=["POST"])
        app.add_api_route("/push", self._push, methods=["POST"])
        app.add_api_route("/messages", self._list, methods=["GET"])
        app.add_api_route("/messages", self._clear, methods=["DELETE"])
        app.add_api_route("/stats", self._stats, methods=["GET"])
        app.add_api_route("/control/fail", self._control_fail, methods=["POST"])
        app.add_api_route("/control/clear-failures", self._control_clear_failures, methods=["POST"])
        return app

    @asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        # The callback client lives in the server's own loop: one pooled client for all callbacks.
        self._client = httpx.AsyncClient(timeout=5.0, headers=self.callback_headers) if self.callbacks else None
        # Callbacks go from a queue, a few at a time, as a gateway's would: never on the request's own connection
        # (a background task there holds the keep-alive connection until the callback returns, so the service's next
        # message would wait for the service's own callback handler).
        self._callbacks: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        workers = [asyncio.create_task(self._callback_worker()) for _ in range(CALLBACK_WORKERS)] if self._client else []
        try:
            yield
        finally:
            if workers:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._callbacks.join(), timeout=5)
                for worker in workers:
                    worker.cancel()
            if self._client is not None:
                await self._client.aclose()
                self._client = None

    async def _callback_worker(self) -> None:
        while True:
            url, payload = await self._callbacks.get()
            try:
                await self._send_callback(url, payload)
            finally:
                self._callbacks.task_done()

    async def _sms(self, request: Request) -> Response:
        return await self._accept("sms", request)

    async def _push(self, request: Request) -> Response:
        return await self._accept("push", request)

    async def _accept(self, channel: str, request: Request) -> Response:
        data = await _json_object(request)
        if not _valid_message(data):
            return _json(400, {"error": "reference, to and body are required strings"})
        assert data is not None
        status = self._failures[channel].take(data["to"])
        if status is not None:
            return _json(status, _failure_body(status))
        gateway_id = f"{channel}-{next(self._ids[channel])}"
        self._inbox.add(self._record(channel, data))
        url = data.get("callbackUrl")
        if self._client is not None and isinstance(url, str) and url:
            self._callbacks.put_nowait((url, {"reference": data["reference"], "status": "delivered", "gatewayId": gateway_id}))
        return _json(200, {"id": gateway_id, "status": "accepted"})

    @staticmethod
    def _record(channel: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "channel": channel,
            "reference": data["reference"],
            "to": data["to"],
            "subject": data.get("subject"),
            "body": data["body"],
            "receivedAt": _now(),
        }

    async def _send_callback(self, url: str, payload: dict[str, Any]) -> None:
        assert self._client is not None
        try:
            response = await self._client.post(url, json=payload)
            failed = response.status_code >= 400
        except httpx.HTTPError:
            failed = True
        if failed:
            self.callback_errors += 1

    async def _list(self, channel: str | None = None, to: str | None = None) -> Response:
        return _json(200, {"items": self.messages(channel or None, to or None)})

    async def _stats(self) -> Response:
        return _json(200, self.stats())

    async def _clear(self) -> Response:
        self.clear()
        return _json(200, {"cleared": True})

    async def _control_fail(self, request: Request) -> Response:
        data = await _json_object(request)
        if data is None:
            return _json(400, {"error": "a JSON object is required"})
        channel = data.get("channel")
        # An SMTP failure wants an SMTP code; 503 would read as "bad sequence of commands".
        status = data.get("status") or (451 if channel == "email" else 503)
        try:
            self.fail(str(channel), to=str(data.get("to") or "*"), status=int(status), times=int(data.get("times", 1)))
        except (TypeError, ValueError) as exc:
            return _json(400, {"error": str(exc)})
        return _json(200, {"armed": True})

    async def _control_clear_failures(self) -> Response:
        self.clear_failures()
        return _json(200, {"cleared": True})


# ---------------------------------------------------------------------------------------------------------------- both


class Sinks:
    """One MailCatcher and one HttpSink listing its e-mails: everything the notification service sends to."""

    def __init__(self, smtp_port: int = 0, http_port: int = 0, *, callbacks: bool = False, callback_headers: dict[str, str] | None = None) -> None:
        self.mail = MailCatcher(smtp_port)
        self.http = HttpSink(http_port, mail=self.mail, callbacks=callbacks, callback_headers=callback_headers)

    def start(self) -> Sinks:
        self.mail.start()
        try:
            self.http.start()
        except BaseException:
            self.mail.stop()
            raise
        return self

    def stop(self) -> None:
        self.http.stop()
        self.mail.stop()

    def __enter__(self) -> Sinks:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def messages(self, channel: str | None = None, to: str | None = None) -> list[dict[str, Any]]:
        return self.http.messages(channel, to)

    def clear(self) -> None:
        self.http.clear()

    def fail(self, channel: str, to: str = "*", status: int | None = None, times: int = 1) -> None:
        """As HttpSink.fail; without a status, e-mail gets SMTP 451 and the gateways HTTP 503."""
        self.http.fail(channel, to=to, status=status or (451 if channel == "email" else 503), times=times)

    def clear_failures(self) -> None:
        self.http.clear_failures()

    def env(self, prefix: str = "SKOLIT_NOTIFICATION_") -> dict[str, str]:
        return {
            prefix + "SMTP_HOST": self.mail.host,
            prefix + "SMTP_PORT": str(self.mail.port),
            prefix + "SMS_URL": self.http.url + "/sms",
            prefix + "PUSH_URL": self.http.url + "/push",
        }


# ----------------------------------------------------------------------------------------------------------------- CLI


def _header_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devkit.sinks", description="Local SMTP server and SMS/push gateway sink for Skolit.")
    parser.add_argument("--smtp-port", type=int, default=8025, help="SMTP port (default 8025; 0 picks a free one)")
    parser.add_argument("--http-port", type=int, default=8026, help="HTTP port of the SMS/push sink (default 8026; 0 picks a free one)")
    parser.add_argument("--callbacks", action="store_true", help="POST a 'delivered' callback to each request's callbackUrl")
    parser.add_argument("--callback-header", type=_header_pair, action="append", default=[], metavar="NAME=VALUE",
                        help="header sent with every callback, e.g. the service's shared token (repeatable)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    sinks = Sinks(args.smtp_port, args.http_port, callbacks=args.callbacks, callback_headers=dict(args.callback_header))
    done = threading.Event()
    # Both set an event rather than raising, so the servers are stopped in order wherever the main thread is; SIGINT
    # is claimed explicitly because a shell starting us in the background would otherwise leave it ignored.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    with sinks:
        print(f"SMTP (mail catcher):  {sinks.mail.host}:{sinks.mail.port}")
        print(f"SMS gateway:          POST {sinks.http.url}/sms")
        print(f"push gateway:         POST {sinks.http.url}/push")
        print(f"what arrived:         GET {sinks.http.url}/messages  (?channel=email|sms|push&to=...); counts: GET /stats")
        print(f"callbacks:            {'on' if args.callbacks else 'off'}; Ctrl-C stops", flush=True)
        done.wait()


if __name__ == "__main__":
    main()
