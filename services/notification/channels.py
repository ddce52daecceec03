"""The ways out: e-mail over SMTP, SMS and push through HTTP gateways.

A channel sends a batch and says, per item, what happened: delivered (the mail server or gateway
took it for good), accepted (the gateway will call back), temporary (try again later) or permanent
(will never work). Each item carries its delivery's id as a reference, so a gateway can drop a
repeat (``Idempotency-Key``) if a sender died after sending and before recording it.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import email.utils
import io
import itertools
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.charset import QP, Charset
from email.header import Header
from email.mime.text import MIMEText
from typing import Literal, Protocol

import aiosmtplib
import httpx

from services.notification.settings import NotificationSettings

log = logging.getLogger(__name__)
CONNECTIONS_PER_CLIENT = 8
UTF8_QP = Charset("utf-8")
UTF8_QP.body_encoding = QP  # readable in a mail client's source view, unlike base64

Result = Literal["delivered", "accepted", "temporary", "permanent"]
#: an address the fast path takes: printable ASCII, no spaces (anything else goes the general way, which refuses what
#: no header can carry and asks the server for SMTPUTF8)
PLAIN_ADDRESS = re.compile(r"[!-~]+\Z")
#: renderings of a text shared by its recipients: a broadcast has one per school and language
RENDERED_TEXTS = 256


@dataclass(frozen=True)
class Outgoing:
    reference: str
    to: str
    subject: str
    body: str
    language: str
    #: whether the gateway is asked to call back (a confirmation code is not followed up: no delivery row to finish)
    callback: bool = True


@dataclass(frozen=True)
class Outcome:
    reference: str
    result: Result
    gateway_ref: str | None = None
    #: a short code, never the gateway's text (it may repeat the address or number)
    error: str | None = None


class Channel(Protocol):
    name: str

    async def send(self, items: list[Outgoing]) -> list[Outcome]: ...

    async def close(self) -> None: ...


def smtp_result(code: int) -> Result:
    return "temporary" if 400 <= code < 500 else "permanent"


def verp(bounce_address: str | None, reference: str) -> str | None:
    """``bounces@example.se`` → ``bounces+<reference>@example.se``; None (the From address) when not configured."""
    if not bounce_address:
        return None
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{reference}@{domain}"


class EmailChannel:
    """A few long-lived SMTP connections, each sending one message after another (opening a connection
    per message would cap throughput at the handshake rate)."""

    name = "email"

    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings
        self._idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        self._opened = 0
        self._domain = settings.smtp_sender.rsplit("@", 1)[-1].rstrip(">")
        # the envelope sender send_message would take from the From header, found once
        self._envelope_sender = email.utils.getaddresses([settings.smtp_sender])[0][1]
        self._fast = bool(PLAIN_ADDRESS.match(self._envelope_sender)) and settings.smtp_sender.isascii()
        self._rendered: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()

    async def _connection(self) -> aiosmtplib.SMTP:
        if self._idle.empty() and self._opened < self.settings.smtp_connections:
            self._opened += 1
            try:
                return await self._connect()
            except BaseException:
                self._opened -= 1
                raise
        return await self._idle.get()

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        client = aiosmtplib.SMTP(hostname=s.smtp_host, port=s.smtp_port, start_tls=s.smtp_starttls or False, timeout=30)
        await client.connect()
        if s.smtp_username:
            await client.login(s.smtp_username, s.smtp_password or "")
        return client

    def _release(self, client: aiosmtplib.SMTP | None) -> None:
        if client is not None and client.is_connected:
            self._idle.put_nowait(client)
        else:
            self._opened -= 1

    def _message(self, item: Outgoing) -> MIMEText:
        # the compat32 classes, not EmailMessage: the same message at a quarter of the CPU (its header registry
        # parses every header again), which bounded a large broadcast's e-mail rate (bench/broadcast.py)
        msg = MIMEText(item.body, "plain", UTF8_QP)  # type: ignore[arg-type]  # compat32 takes a Charset (typeshed says str)
        msg["From"] = self.settings.smtp_sender
        msg["To"] = item.to
        msg["Subject"] = Header(item.subject, "utf-8")  # type: ignore[assignment]  # compat32 takes a Header (typeshed says str)
        msg["Message-ID"] = f"<skolit-{item.reference}@{self._domain}>"
        msg["Date"] = email.utils.formatdate(localtime=False)
        msg["Content-Language"] = item.language
        msg["X-Skolit-Reference"] = item.reference
        return msg

    def _shared(self, item: Outgoing) -> bytes:
        """What every recipient of the same text gets, rendered once: the MIME headers, From, Subject, Content-Language
        and the encoded body — the same bytes the general path's generator writes for them."""
        key = (item.subject, item.body, item.language)
        found = self._rendered.get(key)
        if found is None:
            msg = MIMEText(item.body, "plain", UTF8_QP)  # type: ignore[arg-type]  # as in _message
            msg["From"] = self.settings.smtp_sender
            msg["Subject"] = Header(item.subject, "utf-8")  # type: ignore[assignment]
            msg["Content-Language"] = item.language
            with io.BytesIO() as out:
                BytesGenerator(out, policy=email.policy.compat32).flatten(msg)
                found = out.getvalue()
            self._rendered[key] = found
            while len(self._rendered) > RENDERED_TEXTS:
                self._rendered.popitem(last=False)
        else:
            self._rendered.move_to_end(key)
        return found

    def _wire(self, item: Outgoing) -> bytes | None:
        """The message as sent, for a plain ASCII address: its own headers before the shared rendering. Composing
        and flattening each e-mail with the email package was the largest part of the sender's CPU in a whole-city
        broadcast (the header folding and quoted-printable encoding of the same subject and body, again and again:
        docs/benchmarks/issue-24-status.md). None: the general path (send_message) takes it."""
        if not self._fast or not PLAIN_ADDRESS.match(item.to):
            return None
        own = (f"To: {item.to}\nMessage-ID: <skolit-{item.reference}@{self._domain}>\n"
               f"Date: {email.utils.formatdate(localtime=False)}\nX-Skolit-Reference: {item.reference}\n")
        return own.encode("ascii") + self._shared(item)

    async def _send(self, client: aiosmtplib.SMTP, item: Outgoing, wire: bytes | None, message: MIMEText | None) -> None:
        # VERP (the reference in the envelope sender): a bounce names the delivery even when it quotes nothing of the message
        sender = verp(self.settings.smtp_bounce_address, item.reference)
        if wire is None:
            assert message is not None
            await client.send_message(message, sender=sender)
            return
        # seven-bit clean (ASCII addresses and headers, a quoted-printable body), so no SMTPUTF8 and no 8BITMIME to ask
        # for; sendmail says EHLO when needed, normalises line endings and dot-stuffs
        await client.sendmail(sender or self._envelope_sender, [item.to], wire)

    async def _one(self, item: Outgoing) -> Outcome:
        client: aiosmtplib.SMTP | None = None
        message: MIMEText | None = None
        try:
            wire = self._wire(item)
            if wire is None:
                message = self._message(item)
        except (ValueError, UnicodeError) as exc:  # an address no mail header can carry (control characters): never sendable
            return Outcome(item.reference, "permanent", error=f"invalid-address ({type(exc).__name__})")
        try:
            client = await self._connection()
            await self._send(client, item, wire, message)
            return Outcome(item.reference, "delivered")
        except aiosmtplib.SMTPNotSupported:  # an address in another script, and a mail server without SMTPUTF8: retrying cannot help
            await self._reset(client)
            return Outcome(item.reference, "permanent", error="smtputf8-not-supported")
        except (ValueError, UnicodeError) as exc:  # the address or a header cannot be encoded for this server
            await self._reset(client)
            return Outcome(item.reference, "permanent", error=f"invalid-address ({type(exc).__name__})")
        except aiosmtplib.SMTPRecipientsRefused as exc:
            code = exc.recipients[0].code if exc.recipients else 550
            await self._reset(client)
            return Outcome(item.reference, smtp_result(code), error=f"smtp-{code}")
        except aiosmtplib.SMTPResponseException as exc:
            await self._reset(client)
            return Outcome(item.reference, smtp_result(exc.code), error=f"smtp-{exc.code}")
        except (TimeoutError, OSError, aiosmtplib.SMTPException) as exc:
            log.warning("SMTP %s:%s: %s", self.settings.smtp_host, self.settings.smtp_port, type(exc).__name__)
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
            return Outcome(item.reference, "temporary", error="smtp-unreachable")
        finally:
            self._release(client)

    @staticmethod
    async def _reset(client: aiosmtplib.SMTP | None) -> None:
        # After a refusal the session is mid-transaction; RSET or, failing that, a fresh connection.
        if client is None:
            return
        try:
            await client.rset()
        except Exception:
            with contextlib.suppress(Exception):
                client.close()

    async def send(self, items: list[Outgoing]) -> list[Outcome]:
        lanes = max(1, self.settings.smtp_connections)
        queue: asyncio.Queue[Outgoing] = asyncio.Queue()
        for item in items:
            queue.put_nowait(item)
        results: list[Outcome] = []

        async def lane() -> None:
            while not queue.empty():
                results.append(await self._one(queue.get_nowait()))

        await asyncio.gather(*(lane() for _ in range(min(lanes, len(items)))))
        return results

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            with contextlib.suppress(Exception):
                await client.quit()
        self._opened = 0


class HttpChannel:
    """An SMS or push gateway: ``POST {url}`` with the reference, recipient and text; 2xx with
    ``status: delivered`` is final, any other 2xx means the gateway calls back; 429, 5xx and network
    errors are temporary, other 4xx permanent."""

    def __init__(self, name: str, url: str, settings: NotificationSettings) -> None:
        self.name, self.url = name, url
        self.callback_url = f"{settings.public_url.rstrip('/')}/gateways/{name}/callbacks"
        headers = {"Authorization": f"Bearer {settings.gateway_token}"} if settings.gateway_token else {}
        # httpcore's pool looks at every connection for every waiting request, so one pool of 64 spends more CPU
        # choosing a connection than sending (bench/broadcast.py's profile); shards of CONNECTIONS_PER_CLIENT keep it small.
        shards = max(1, -(-settings.http_concurrency // CONNECTIONS_PER_CLIENT))
        per_client = -(-settings.http_concurrency // shards)
        limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
        self._clients = [httpx.AsyncClient(headers=headers, limits=limits, timeout=httpx.Timeout(10.0, connect=5.0)) for _ in range(shards)]
        self._next = itertools.cycle(self._clients)
        self._slots = asyncio.Semaphore(settings.http_concurrency)

    async def _one(self, item: Outgoing) -> Outcome:
        body = {"reference": item.reference, "to": item.to, "subject": item.subject, "body": item.body, "language": item.language}
        if item.callback:
            body["callbackUrl"] = self.callback_url
        async with self._slots:
            try:
                response = await next(self._next).post(self.url, json=body, headers={"Idempotency-Key": item.reference})
            except httpx.HTTPError as exc:
                log.warning("%s gateway %s: %s", self.name, self.url, type(exc).__name__)
                return Outcome(item.reference, "temporary", error="gateway-unreachable")
        code = response.status_code
        if 200 <= code < 300:
            try:
                answer = response.json()
            except ValueError:
                answer = {}
            gateway_id = str(answer.get("id")) if isinstance(answer, dict) and answer.get("id") is not None else None
            final = isinstance(answer, dict) and answer.get("status") == "delivered"
            return Outcome(item.reference, "delivered" if final else "accepted", gateway_ref=gateway_id)
        if code == 429 or code >= 500:
            return Outcome(item.reference, "temporary", error=f"http-{code}")
        return Outcome(item.reference, "permanent", error=f"http-{code}")

    async def send(self, items: list[Outgoing]) -> list[Outcome]:
        return list(await asyncio.gather(*(self._one(item) for item in items)))

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()


def open_channels(settings: NotificationSettings) -> dict[str, Channel]:
    """The channels as configured: SMS through the gateway or 46elks; push through Web Push and FCM where configured
    and the gateway for any other token (services/notification/providers/)."""
    from services.notification.providers.elks import ElksSmsChannel
    from services.notification.providers.push import PushChannel

    push_gateway = HttpChannel("push", settings.push_url, settings)
    sms: Channel = ElksSmsChannel(settings) if settings.sms_provider == "46elks" else HttpChannel("sms", settings.sms_url, settings)
    push: Channel = PushChannel(settings, push_gateway) if settings.vapid_private_key or settings.fcm_service_account_file else push_gateway
    return {"email": EmailChannel(settings), "sms": sms, "push": push}
