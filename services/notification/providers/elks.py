"""SMS through 46elks (https://46elks.se/docs/send-sms), a Swedish provider: ``POST {url}/a1/sms`` with the form fields
``from``, ``to``, ``message`` and ``whendelivered``, HTTP Basic with the API username and password; the answer is JSON
with the message's ``id`` and ``status`` ("created"). 46elks then POSTs a form (``id``, ``status`` "sent", "delivered"
or "failed", ``delivered`` the time) to ``whendelivered`` as the state changes, and tries again for hours until it
gets a 2xx (https://46elks.se/docs/sms-delivery-reports).

The report URL carries the delivery's reference and a signature of it (an HMAC with the callback token): 46elks
cannot send a header of ours, and a signature per message means a URL seen in a log opens nothing else. The report
is mapped onto the gateway callback (usecases/deliveries.py): a repeat or a late one changes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging

import httpx

from services.notification.channels import Outcome, Outgoing, Result
from services.notification.settings import NotificationSettings

log = logging.getLogger(__name__)
PATH = "/a1/sms"

#: 46elks' answer to a send → Skolit's result and error code. An account problem (401 wrong credentials, 402 no credit,
#: 403 not allowed) is the city's to fix, not the recipient's: temporary, so the message goes once it is fixed.
STATUS: dict[int, tuple[Result, str | None]] = {401: ("temporary", "46elks-401"), 402: ("temporary", "46elks-402"),
                                                403: ("temporary", "46elks-403"), 429: ("temporary", "46elks-429")}
#: a delivery report's status → the callback's status (None: nothing to do yet)
REPORT = {"delivered": "delivered", "failed": "failed", "sent": None}


def send_result(status: int) -> tuple[Result, str | None]:
    if 200 <= status < 300:
        return "accepted", None
    if status in STATUS:
        return STATUS[status]
    return ("temporary" if status >= 500 else "permanent"), f"46elks-{status}"


def report_signature(secret: str, reference: str) -> str:
    return base64.urlsafe_b64encode(hmac.new(secret.encode(), b"46elks-report:" + reference.encode(), hashlib.sha256).digest()[:18]).decode()


def report_path(reference: str, secret: str) -> str:
    return f"/providers/46elks/reports/{reference}?sig={report_signature(secret, reference)}"


def signature_ok(secret: str, reference: str, given: str) -> bool:
    return hmac.compare_digest(report_signature(secret, reference).encode(), given.encode())


class ElksSmsChannel:
    name = "sms"

    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings
        self.url = settings.elks_url.rstrip("/") + PATH
        self._client = httpx.AsyncClient(auth=(settings.elks_username or "", settings.elks_password or ""),
                                         limits=httpx.Limits(max_connections=settings.http_concurrency),
                                         timeout=httpx.Timeout(10.0, connect=5.0))
        self._slots = asyncio.Semaphore(settings.http_concurrency)

    async def _one(self, item: Outgoing) -> Outcome:
        form = {"from": self.settings.elks_from, "to": item.to, "message": item.body}
        if item.callback:
            form["whendelivered"] = self.settings.public_url.rstrip("/") + report_path(item.reference, self.settings.callback_token)
        async with self._slots:
            try:
                response = await self._client.post(self.url, data=form)
            except httpx.HTTPError as exc:
                log.warning("46elks %s: %s", self.url, type(exc).__name__)
                return Outcome(item.reference, "temporary", error="46elks-unreachable")
        result, error = send_result(response.status_code)
        if result != "accepted":
            return Outcome(item.reference, result, error=error)
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        elks_id = str(answer["id"]) if isinstance(answer, dict) and answer.get("id") else None
        # without a report asked for (a confirmation code) nothing will say more: taken is as far as it goes
        return Outcome(item.reference, "accepted" if item.callback else "delivered", gateway_ref=elks_id)

    async def send(self, items: list[Outgoing]) -> list[Outcome]:
        return list(await asyncio.gather(*(self._one(item) for item in items)))

    async def close(self) -> None:
        await self._client.aclose()
