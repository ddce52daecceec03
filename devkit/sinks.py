"""Local stand-ins for the outside world the notification service talks to: a real SMTP server (aiosmtpd) and a real HTTP
server (FastAPI on uvicorn) playing the SMS and push gateways. They are real servers rather than mocks so that the
integration tests, the benchmark and the demo (`make run`) exercise the service's actual network code — connection reuse,
SMTP reply codes, HTTP status handling, delivery callbacks — and so that failures (a 451 from the mail server, a 503 from a
gateway) can be injected on purpose and observed end to end, from this process or, through `/control/*`, from another one.

The HTTP sink also speaks the real providers' shapes (services/notification/providers/, docs/decisions/0020), so that the
adapters' own code is what the tests run: 46elks' ``POST /a1/sms`` (HTTP Basic, a form; it calls ``whendelivered`` back),
a Web Push service (it checks the VAPID JWT and decrypts the aes128gcm body with the subscription's private key, which it
minted: ``mint_subscription``), and FCM HTTP v1 with its OAuth2 token endpoint (it checks the service account's RS256
assertion: ``mint_service_account``). With callbacks on it also plays the browser's service worker and the app, posting
each push's receipt. ``dsn_for`` writes the delivery status notification a mail server would send back for a message."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import email
import email.policy
import email.utils
import itertools
import json
import secrets
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, UTC
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI, Request
from fastapi.responses import Response

from services.notification.providers import webpush

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
        raw = part.get_payload(decode=True)
        return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else ""


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


#: an injected HTTP status → FCM's error for it (FcmError codes, https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode)
FCM_ERRORS = {400: ("INVALID_ARGUMENT", "INVALID_ARGUMENT"), 404: ("NOT_FOUND", "UNREGISTERED"), 429: ("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
              500: ("INTERNAL", "INTERNAL"), 503: ("UNAVAILABLE", "UNAVAILABLE"), 403: ("PERMISSION_DENIED", "SENDER_ID_MISMATCH")}


def _fcm_error(status: int) -> dict[str, Any]:
    rpc, code = FCM_ERRORS.get(status, ("UNKNOWN", "UNSPECIFIED_ERROR"))
    return {"error": {"code": status, "message": f"injected {code}", "status": rpc,
                      "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]}}


def dsn_for(mail: dict[str, Any], *, status: str = "5.1.1", action: str = "failed", reporting_mta: str = "skolit-mailcatcher") -> bytes:
    """The delivery status notification (RFC 3464) a mail server sends back for ``mail`` (an item MailCatcher captured):
    to the envelope sender (VERP: it names the delivery), quoting the original's headers (its Message-ID names it too)."""
    recipient = mail["to"][0] if isinstance(mail["to"], list) else mail["to"]
    boundary = "skolit-dsn-" + secrets.token_hex(6)
    return "\r\n".join([
        f"From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>", f"To: {mail['from']}", "Subject: Undelivered Mail Returned to Sender",
        "MIME-Version: 1.0", f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"', "",
        f"--{boundary}", "Content-Type: text/plain; charset=us-ascii", "",
        "The message could not be delivered to one or more recipients.", "",
        f"--{boundary}", "Content-Type: message/delivery-status", "",
        f"Reporting-MTA: dns; {reporting_mta}", f"Arrival-Date: {email.utils.formatdate()}", "",
        f"Final-Recipient: rfc822; {recipient}", f"Original-Recipient: rfc822; {recipient}", f"Action: {action}", f"Status: {status}",
        f"Diagnostic-Code: smtp; 550 {status} mailbox unavailable", "",
        f"--{boundary}", "Content-Type: text/rfc822-headers", "",
        f"From: {mail['from']}", f"To: {recipient}", f"Subject: {mail.get('subject') or ''}", f"Message-ID: {mail.get('messageId') or ''}", "",
        f"--{boundary}--", "",
    ]).encode()


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
        #: 46elks' API username and password the sink accepts
        self.elks_auth = ("skolit-elks", "skolit-elks-dev")
        #: number → the status its delivery report says ("delivered" unless set: sms_report())
        self._sms_reports: dict[str, str] = {}
        #: Web Push subscriptions minted here: id → (the browser's private key, auth secret)
        self._subscriptions: dict[str, tuple[ec.EllipticCurvePrivateKey, bytes]] = {}
        #: FCM service accounts minted here: client e-mail → public key; access tokens issued
        self._accounts: dict[str, rsa.RSAPublicKey] = {}
        self._access_tokens: set[str] = set()
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
        self._sms_reports.clear()

    def sms_report(self, to: str, status: str) -> None:
        """What 46elks' delivery report says for SMS to ``to`` from now on: delivered (the default) or failed."""
        self._sms_reports[to] = status

    def mint_subscription(self) -> dict[str, Any]:
        """A browser's Web Push subscription (PushSubscription.toJSON()) on this sink: its endpoint, and keys whose
        private half stays here to decrypt what arrives."""
        key, auth, sub_id = ec.generate_private_key(ec.SECP256R1()), secrets.token_bytes(16), secrets.token_urlsafe(12)
        self._subscriptions[sub_id] = (key, auth)
        public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": f"{self.url}/webpush/{sub_id}", "keys": {"p256dh": webpush.b64url(public), "auth": webpush.b64url(auth)}}

    def mint_service_account(self, project: str = "skolit-sink") -> dict[str, Any]:
        """An FCM service account's JSON key, its token URI this sink's: the sink keeps the public key to check assertions."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        email_ = f"skolit-{secrets.token_hex(4)}@{project}.iam.gserviceaccount.com"
        self._accounts[email_] = key.public_key()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
        return {"type": "service_account", "project_id": project, "private_key_id": secrets.token_hex(8), "private_key": pem,
                "client_email": email_, "token_uri": f"{self.url}/oauth2/token"}

    # -- the app

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="Skolit gateway sink", lifespan=self._lifespan, openapi_url=None, docs_url=None, redoc_url=None)
        app.add_api_route("/sms", self._sms, methods=["POST"])
        app.add_api_route("/push", self._push, methods=["POST"])
        app.add_api_route("/a1/sms", self._elks_sms, methods=["POST"])
        app.add_api_route("/webpush/{sub_id}", self._webpush, methods=["POST"])
        app.add_api_route("/oauth2/token", self._oauth_token, methods=["POST"])
        app.add_api_route("/v1/projects/{project}/messages:send", self._fcm_send, methods=["POST"])
        app.add_api_route("/messages", self._list, methods=["GET"])
        app.add_api_route("/messages", self._clear, methods=["DELETE"])
        app.add_api_route("/stats", self._stats, methods=["GET"])
        app.add_api_route("/control/fail", self._control_fail, methods=["POST"])
        app.add_api_route("/control/clear-failures", self._control_clear_failures, methods=["POST"])
        app.add_api_route("/control/sms-report", self._control_sms_report, methods=["POST"])
        return app

    @asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        # The callback client lives in the server's own loop: one pooled client for all callbacks.
        self._client = httpx.AsyncClient(timeout=5.0, headers=self.callback_headers) if self.callbacks else None
        # Callbacks go from a queue, a few at a time, as a gateway's would: never on the request's own connection
        # (a background task there holds the keep-alive connection until the callback returns, so the service's next
        # message would wait for the service's own callback handler).
        self._callbacks: asyncio.Queue[tuple[str, dict[str, Any], bool]] = asyncio.Queue()
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
            url, payload, form = await self._callbacks.get()
            try:
                await self._send_callback(url, payload, form)
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
            self._callbacks.put_nowait((url, {"reference": data["reference"], "status": "delivered", "gatewayId": gateway_id}, False))
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

    async def _send_callback(self, url: str, payload: dict[str, Any], form: bool = False) -> None:
        assert self._client is not None
        try:
            response = await (self._client.post(url, data=payload) if form else self._client.post(url, json=payload))
            failed = response.status_code >= 400
        except httpx.HTTPError:
            failed = True
        if failed:
            self.callback_errors += 1

    # -- the real providers' shapes

    def _receipt(self, payload: dict[str, Any]) -> None:
        """The service worker's or app's receipt of a push (what the device does on arrival)."""
        url, ref, token = payload.get("receiptUrl"), payload.get("reference"), payload.get("receiptToken")
        if self._client is not None and isinstance(url, str) and ref and token:
            self._callbacks.put_nowait((url, {"reference": ref, "receiptToken": token}, False))

    async def _elks_sms(self, request: Request) -> Response:
        given = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{self.elks_auth[0]}:{self.elks_auth[1]}".encode()).decode()
        if given != expected:
            return Response("Unauthorized", status_code=401, media_type="text/plain")
        form = await request.form()
        sender, to, message = (str(form.get(k) or "") for k in ("from", "to", "message"))
        if not (sender and to and message):
            return Response("Missing key from, to or message", status_code=400, media_type="text/plain")
        status = self._failures["sms"].take(to)
        if status is not None:
            return Response("Try again later" if status >= 500 or status == 429 else "Invalid to number", status_code=status,
                            media_type="text/plain")
        elks_id = f"s{secrets.token_hex(16)}"
        report = str(form.get("whendelivered") or "")
        # the reference, for listing only: the sink reads it from Skolit's report URL, as 46elks never would
        ref = report.split("/reports/", 1)[1].split("?", 1)[0] if "/reports/" in report else elks_id
        self._inbox.add({"channel": "sms", "provider": "46elks", "reference": ref, "id": elks_id, "from": sender, "to": to,
                         "subject": None, "body": message, "receivedAt": _now()})
        if self._client is not None and report:
            outcome = self._sms_reports.get(to, "delivered")
            fields = {"id": elks_id, "status": outcome, **({"delivered": _now()} if outcome == "delivered" else {})}
            self._callbacks.put_nowait((report, {"id": elks_id, "status": "sent"}, True))
            self._callbacks.put_nowait((report, fields, True))
        return _json(200, {"status": "created", "direction": "outgoing", "from": sender, "to": to, "message": message, "id": elks_id,
                           "created": _now(), "parts": 1, "cost": 3500})

    async def _webpush(self, sub_id: str, request: Request) -> Response:
        endpoint = f"{self.url}/webpush/{sub_id}"
        keys = self._subscriptions.get(sub_id)
        if keys is None:
            return _json(404, {"error": "no such subscription"})
        status = self._failures["push"].take(endpoint)
        if status is not None:
            if status in (404, 410):
                self._subscriptions.pop(sub_id, None)  # gone for good, as a browser's unsubscribe makes it
            return _json(status, _failure_body(status))
        try:
            claims = webpush.verify_vapid(request.headers.get("authorization", ""), endpoint)
        except (ValueError, jwt.PyJWTError) as exc:
            return _json(401, {"error": f"VAPID: {exc}"})
        if request.headers.get("content-encoding") != "aes128gcm":
            return _json(415, {"error": "Content-Encoding must be aes128gcm"})
        try:
            payload = json.loads(webpush.decrypt(await request.body(), keys[0], keys[1]))
        except ValueError as exc:
            return _json(400, {"error": f"cannot decrypt: {exc}"})
        self._inbox.add({"channel": "push", "provider": "webpush", "reference": payload.get("reference"), "to": endpoint,
                         "subject": payload.get("title"), "body": payload.get("body"), "payload": payload, "vapidSub": claims.get("sub"),
                         "receivedAt": _now()})
        self._receipt(payload)
        return Response(status_code=201, headers={"Location": f"{self.url}/webpush/messages/{secrets.token_hex(8)}"})

    async def _oauth_token(self, request: Request) -> Response:
        form = await request.form()
        assertion = str(form.get("assertion") or "")
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or not assertion:
            return _json(400, {"error": "unsupported_grant_type"})
        try:
            issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
            key = self._accounts[str(issuer)]
            claims = jwt.decode(assertion, key, algorithms=["RS256"], audience=f"{self.url}/oauth2/token",
                                options={"require": ["iss", "aud", "exp", "iat", "scope"]})
        except (KeyError, jwt.PyJWTError) as exc:
            return _json(400, {"error": "invalid_grant", "error_description": type(exc).__name__})
        if "https://www.googleapis.com/auth/firebase.messaging" not in str(claims["scope"]).split():
            return _json(400, {"error": "invalid_scope"})
        token = secrets.token_urlsafe(24)
        self._access_tokens.add(token)
        return _json(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    async def _fcm_send(self, project: str, request: Request) -> Response:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self._access_tokens:
            return _json(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}})
        data = await _json_object(request)
        message = data.get("message") if data else None
        token = message.get("token") if isinstance(message, dict) else None
        if not isinstance(message, dict) or not isinstance(token, str) or not token:
            return _json(400, _fcm_error(400))
        status = self._failures["push"].take(token)
        if status is not None:
            return _json(status, _fcm_error(status))
        note, extra = message.get("notification") or {}, message.get("data") or {}
        self._inbox.add({"channel": "push", "provider": "fcm", "reference": extra.get("reference"), "to": token, "subject": note.get("title"),
                         "body": note.get("body"), "payload": extra, "receivedAt": _now()})
        self._receipt(extra)
        return _json(200, {"name": f"projects/{project}/messages/{secrets.randbelow(10**15)}"})

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

    async def _control_sms_report(self, request: Request) -> Response:
        data = await _json_object(request)
        if data is None or not isinstance(data.get("to"), str) or data.get("status") not in ("delivered", "failed"):
            return _json(400, {"error": "to (a number) and status (delivered or failed) are required"})
        self.sms_report(data["to"], data["status"])
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

    def provider_env(self, folder: Path, prefix: str = "SKOLIT_NOTIFICATION_") -> dict[str, str]:
        """The settings that send through the real providers' adapters to this sink: 46elks for SMS, Web Push (a VAPID key
        written to ``folder``) and FCM (a service account minted here, its key file in ``folder``), VERP bounces."""
        folder.mkdir(parents=True, exist_ok=True)
        vapid = folder / "vapid.pem"
        vapid.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        account = folder / "fcm-service-account.json"
        account.write_text(json.dumps(self.http.mint_service_account()), encoding="utf-8")
        return {prefix + "SMS_PROVIDER": "46elks", prefix + "46ELKS_URL": self.http.url, prefix + "46ELKS_USERNAME": self.http.elks_auth[0],
                prefix + "46ELKS_PASSWORD": self.http.elks_auth[1], prefix + "WEBPUSH_VAPID_PRIVATE_KEY": str(vapid),
                prefix + "WEBPUSH_VAPID_SUBJECT": "mailto:it@skolit.local", prefix + "WEBPUSH_ALLOW_HTTP": "true",
                prefix + "FCM_SERVICE_ACCOUNT_FILE": str(account), prefix + "FCM_URL": self.http.url,
                prefix + "SMTP_BOUNCE_ADDRESS": "bounces@skolit.local"}

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
        print(f"46elks (SMS):         POST {sinks.http.url}/a1/sms  (Basic {':'.join(sinks.http.elks_auth)})")
        print(f"Web Push / FCM v1:    POST {sinks.http.url}/webpush/<subscription>, {sinks.http.url}/v1/projects/<p>/messages:send")
        print(f"what arrived:         GET {sinks.http.url}/messages  (?channel=email|sms|push&to=...); counts: GET /stats")
        print(f"callbacks:            {'on' if args.callbacks else 'off'}; Ctrl-C stops", flush=True)
        done.wait()


if __name__ == "__main__":
    main()
