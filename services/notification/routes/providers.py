"""What the real delivery providers and the devices tell us (providers/, docs/decisions/0020-delivery-providers.md):
46elks' delivery reports, a device's receipt of a push, e-mail bounces; and the Web Push key the web app subscribes
with. None of them is a person's call: each is protected by a secret of its own — a signature per message in the
report URL, a receipt token per push, the bounce webhook's bearer token — and a repeated or late report changes
nothing and is still answered 200 (providers try again until they see a 2xx)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from services.notification import usecases
from services.notification.access import check_bearer
from services.notification.providers import dsn, elks, push, webpush
from services.notification.settings import NOTIFICATION, SOURCE
from services.notification.usecases.bounces import apply_bounces
from shared.http.openapi import example
from shared.problems import Problem, documented, rejected
from shared.uow import unit_of_work

router = APIRouter(tags=["delivery"])
REFERENCE = r"^[0-9]{1,18}$"
#: a bounce report's size: a DSN quotes headers or the message, never more than this
MAX_BOUNCE_BYTES = 512 * 1024


_REPORT = {"reference": "4711", "state": "delivered", "changed": True}


class ReportResult(BaseModel):
    reference: str
    state: str | None = Field(description="the delivery's state after the report")
    changed: bool = Field(description="false: a repeated or late report, or one that says nothing final yet")


@router.post("/providers/46elks/reports/{reference}", summary="46elks reports what became of an SMS (its whendelivered call)",
             description="A form (id, status sent|delivered|failed, delivered) as 46elks posts it; the URL is the one Skolit gave with "
                         "the SMS, signed per message (sig). delivered → delivered; failed → failed for good, and the recipient's "
                         "next channel is tried; sent → nothing yet.",
             response_model=ReportResult, responses=documented(403, 404, 422) | example(_REPORT))
async def elks_report(request: Request, reference: Annotated[str, Path(pattern=REFERENCE)],
                      sig: Annotated[str, Query(max_length=100)] = "") -> dict[str, Any]:
    if not elks.signature_ok(NOTIFICATION.callback_token, reference, sig):
        raise Problem(403, "Forbidden", "the report URL's signature (sig) does not match this reference")
    form = await request.form()
    status = str(form.get("status") or "")
    if status not in elks.REPORT:
        raise rejected(422, f"status {status!r}: one of {', '.join(elks.REPORT)}", "status")
    mapped = elks.REPORT[status]
    elks_id = str(form.get("id") or "")[:200] or None
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        if mapped is None:  # handed to the operator, not yet delivered: the report that follows decides
            from services.notification.store import deliveries as delivery_store

            return {"reference": reference, "state": await delivery_store.delivery_state(uow.conn, int(reference)), "changed": False}
        return await usecases.apply_gateway_callback(uow, "sms", reference, status=mapped, permanent=True, gateway_id=elks_id,
                                                     reason="46elks-failed" if mapped == "failed" else None, now=datetime.now(UTC),
                                                     settings=NOTIFICATION)


class Receipt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reference: str = Field(pattern=REFERENCE, description="the push's reference (in its payload)")
    receiptToken: str = Field(min_length=10, max_length=100, description="the receipt token of the same payload")


@router.post("/push/receipts", summary="A device confirms a push arrived (the web app's service worker, the mobile app)",
             description="With the reference and receipt token the push carried; no sign-in (a service worker has none). "
                         "Makes that device's send, and so the delivery, delivered.",
             response_model=ReportResult, responses=documented(403, 404, 422) | example(_REPORT))
async def push_receipt(request: Request, body: Receipt) -> dict[str, Any]:
    if not push.receipt_ok(NOTIFICATION.callback_token, body.reference, body.receiptToken):
        raise Problem(403, "Forbidden", "the receipt token does not match this reference")
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.apply_gateway_callback(uow, "push", body.reference, status="delivered", permanent=True, gateway_id=None,
                                                     reason=None, now=datetime.now(UTC), settings=NOTIFICATION)


class VapidKey(BaseModel):
    applicationServerKey: str = Field(description="the VAPID public key, base64url: PushManager.subscribe({applicationServerKey})")


@router.get("/push/vapid-public-key", summary="The key the web app subscribes to Web Push with",
            response_model=VapidKey, responses=documented(404) | example(
                {"applicationServerKey": "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"}))
async def vapid_public_key() -> dict[str, str]:
    if not NOTIFICATION.vapid_private_key:
        raise Problem(404, "Not found", "Web Push is not configured here (SKOLIT_NOTIFICATION_WEBPUSH_VAPID_PRIVATE_KEY)")
    return {"applicationServerKey": webpush.public_key_b64(webpush.load_vapid_key(NOTIFICATION.vapid_private_key))}


class BounceResult(BaseModel):
    reference: str | None
    matched: bool = Field(description="false: no e-mail delivery of Skolit's has this reference")
    changed: bool
    kind: str = Field(description="hard (5.x.x) or soft (4.x.x)")
    fallback: bool = False
    addressUndeliverable: bool = False


class BounceResults(BaseModel):
    items: list[BounceResult]


def _check_bounce_token(authorization: str | None) -> None:
    check_bearer(authorization, NOTIFICATION.bounce_token or NOTIFICATION.callback_token, realm="skolit-bounces",
                 detail="the bounce webhook needs its bearer token (SKOLIT_NOTIFICATION_BOUNCE_TOKEN)")


@router.post("/providers/email/bounces", summary="E-mail bounces: a DSN (RFC 3464) or a provider's JSON",
             description="Content-Type message/rfc822 or multipart/report: the delivery status notification as the mail server "
                         "sent it back; application/json: {reference or messageId, recipient, status 5.1.1 or type hard|soft}, one "
                         "or a list. Each bounce fails its e-mail delivery (bounced) and the recipient's next channel is tried; a "
                         "hard one marks the address undeliverable. Bearer token SKOLIT_NOTIFICATION_BOUNCE_TOKEN.",
             response_model=BounceResults, responses=documented(401, 413, 422) | example({"items": [
                 {"reference": "4711", "matched": True, "changed": True, "kind": "hard", "fallback": True, "addressUndeliverable": True}]}))
async def bounces(request: Request, authorization: Annotated[str | None, Header(include_in_schema=False)] = None) -> dict[str, Any]:
    _check_bounce_token(authorization)
    raw = await request.body()
    if len(raw) > MAX_BOUNCE_BYTES:
        raise Problem(413, "Content too large", f"a bounce report of at most {MAX_BOUNCE_BYTES} bytes")
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
        try:
            found = dsn.parse_json(orjson.loads(raw))
        except (orjson.JSONDecodeError, ValueError) as exc:
            raise rejected(422, f"not a bounce: {exc}", "body") from None
    else:
        found = dsn.parse_dsn(raw)
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return {"items": await apply_bounces(uow, found, now=datetime.now(UTC), settings=NOTIFICATION)}
