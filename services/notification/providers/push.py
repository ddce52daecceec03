"""The push channel with real providers: each device's token says where it goes — a Web Push subscription (the web
app) to its push service (providers/webpush.py), any other token to FCM (providers/fcm.py) when a service account
is configured, else to the HTTP gateway as before (channels.HttpChannel).

No push provider reports delivery. The push service's or FCM's yes is ``accepted``; the device itself then confirms:
the payload carries the send's reference and a receipt token (an HMAC of the reference), which the service worker or
the app posts to ``POST /push/receipts`` (routes/providers.py) — that makes the send delivered. A subscription gone
(404/410) or a token no app has (UNREGISTERED, INVALID_ARGUMENT) fails the send for good and drops the device
(usecases/push.py, ``DROPS``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging

import httpx

from services.notification.channels import HttpChannel, Outcome, Outgoing
from services.notification.domain import DEVICE_GONE
from services.notification.providers import webpush
from services.notification.providers.fcm import FcmSender, ServiceAccount
from services.notification.settings import NotificationSettings

log = logging.getLogger(__name__)
#: the error codes that mean the device's token or subscription reaches no one any more: the device is dropped
DROPS = DEVICE_GONE
RECEIPT_PATH = "/push/receipts"
#: how long a push service keeps a message for a device that is offline (RFC 8030 §5.2), seconds
TTL = 24 * 3600


def receipt_token(secret: str, reference: str) -> str:
    return base64.urlsafe_b64encode(hmac.new(secret.encode(), b"push-receipt:" + reference.encode(), hashlib.sha256).digest()[:18]).decode()


def receipt_ok(secret: str, reference: str, given: str) -> bool:
    return hmac.compare_digest(receipt_token(secret, reference).encode(), given.encode())


class PushChannel:
    name = "push"

    def __init__(self, settings: NotificationSettings, gateway: HttpChannel) -> None:
        self.settings = settings
        self.gateway = gateway
        self._client = httpx.AsyncClient(limits=httpx.Limits(max_connections=settings.http_concurrency), timeout=httpx.Timeout(10.0, connect=5.0))
        self._slots = asyncio.Semaphore(settings.http_concurrency)
        self.vapid = (webpush.Vapid(webpush.load_vapid_key(settings.vapid_private_key), settings.vapid_subject)
                      if settings.vapid_private_key else None)
        self.fcm = (FcmSender(ServiceAccount.load(settings.fcm_service_account_file), settings.fcm_url, self._client)
                    if settings.fcm_service_account_file else None)

    def payload(self, item: Outgoing) -> dict[str, str]:
        """What the device gets beside the text: the reference and how to confirm it arrived (all strings: FCM's data)."""
        return {"reference": item.reference, "receiptUrl": self.settings.public_url.rstrip("/") + RECEIPT_PATH,
                "receiptToken": receipt_token(self.settings.callback_token, item.reference)}

    async def _webpush(self, item: Outgoing, sub: webpush.Subscription) -> Outcome:
        assert self.vapid is not None
        body = json.dumps({"title": item.subject, "body": item.body, **self.payload(item)}, ensure_ascii=False).encode()
        if len(body) > webpush.MAX_PLAINTEXT:  # a long broadcast: the text shortened, the app shows the rest from the inbox
            cut = webpush.MAX_PLAINTEXT - (len(body) - len(item.body.encode())) - 3
            short = item.body.encode()[:max(cut, 0)].decode(errors="ignore") + "…"
            body = json.dumps({"title": item.subject, "body": short, **self.payload(item)}, ensure_ascii=False).encode()
        headers = {"Authorization": self.vapid.authorization(sub.endpoint), "Content-Encoding": "aes128gcm",
                   "Content-Type": "application/octet-stream", "TTL": str(TTL), "Urgency": "normal"}
        try:
            response = await self._client.post(sub.endpoint, content=webpush.encrypt(body, sub.p256dh, sub.auth), headers=headers)
        except httpx.HTTPError as exc:
            log.warning("web push %s: %s", webpush.origin(sub.endpoint), type(exc).__name__)
            return Outcome(item.reference, "temporary", error="push-unreachable")
        result, error, _ = webpush.result_of(response.status_code)
        return Outcome(item.reference, result, gateway_ref=response.headers.get("location"), error=error)  # type: ignore[arg-type]

    async def _one(self, item: Outgoing) -> Outcome | None:
        """One device's send; None: for the gateway."""
        sub = webpush.parse_subscription(item.to)
        async with self._slots:
            if sub is not None:
                if self.vapid is None:
                    return Outcome(item.reference, "permanent", error="webpush-not-configured")
                return await self._webpush(item, sub)
            if self.fcm is not None:
                return await self.fcm.send(item, item.to, self.payload(item))
        return None

    async def send(self, items: list[Outgoing]) -> list[Outcome]:
        direct = await asyncio.gather(*(self._one(item) for item in items))
        rest = [item for item, outcome in zip(items, direct, strict=True) if outcome is None]
        return [o for o in direct if o is not None] + (await self.gateway.send(rest) if rest else [])

    async def close(self) -> None:
        await self._client.aclose()
        await self.gateway.close()
