"""One's own contact details and push devices, for anyone signed in (guardians, staff): the token's subject is the
person (usecases/self_service.py). A new e-mail address or phone number is used once confirmed with the code sent to
it; every read, change and confirmation is in the access log. The city's systems keep their bulk path
(routes/contacts.py): the push token they set is the person's device with ``source: city``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.notification import domain
from services.notification.providers import webpush
from services.notification.settings import NOTIFICATION, SOURCE
from services.notification.usecases import self_service
from shared.auth import Principal, require
from shared.http.models import Page
from shared.http.openapi import example
from shared.http.pages import PageRequest, page_request
from shared.problems import documented, rejected
from shared.uow import unit_of_work

router = APIRouter(tags=["me"])

_ME = "5b0c8c1e-4a2e-4f39-9a51-6f3c2e1d7a10"
_PHONE_DEVICE = {"id": "6f1d3b5a-8c2e-4a7f-9b1d-3e5c7a9b1d2f", "label": "Annas iPhone", "platform": "ios", "source": "self",
                 "tokenEnding": "…9f3a", "createdAt": "2026-09-01T18:02:11Z", "lastUsedAt": "2026-11-03T07:42:12Z"}
_CITY_DEVICE = {"id": "2a4c6e8f-0b1d-4f3a-8c5e-7a9b1c3d5e7f", "label": "Registered by the city's systems", "platform": "other",
                "source": "city", "tokenEnding": "…c41e", "createdAt": "2026-08-15T02:00:00Z", "lastUsedAt": None}
_CONFIRMED = {"value": "anna.lindqvist@example.se", "confirmed": True, "confirmedAt": "2026-09-01T18:05:40Z", "pending": None}
_PENDING = {"value": "+46701234567", "confirmed": False, "confirmedAt": None,
            "pending": {"value": "+46709876543", "expiresAt": "2026-11-03T08:00:00Z", "expired": False, "triesLeft": 5}}

def _examples(*values: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(values)})


Platform = Literal["ios", "android", "web", "other"]
ContactChannel = Literal["email", "phone"]
# no spaces and no control characters (they cannot travel in a mail header); letters of any script are allowed
EMAIL = r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]+$"
PHONE = r"^\+[1-9]\d{6,14}$"


class PendingContact(BaseModel):
    value: str | None = Field(description="the new address or number, waiting for its code")
    expiresAt: datetime = Field(description=f"the code is valid until then ({int(domain.CODE_TTL.total_seconds() // 60)} minutes)")
    expired: bool
    triesLeft: int = Field(description=f"wrong codes still accepted before a new one must be asked for (of {domain.CODE_ATTEMPTS})")


class OwnContact(BaseModel):
    """One channel of one's own: the address or number in use, whether the person confirmed it, and a new one waiting."""

    model_config = _examples(_PENDING)

    value: str | None = Field(description="the address or number messages go to now; null: none")
    confirmed: bool = Field(description="the person confirmed this very value with a code (one set by the city's systems is not, "
                                        "until confirmed)")
    confirmedAt: datetime | None = None
    pending: PendingContact | None = Field(default=None, description="a new value, used once confirmed with the code sent to it")


class Device(BaseModel):
    """A device push messages go to. Its token is never shown in full."""

    model_config = _examples(_PHONE_DEVICE)

    id: UUID
    label: str
    platform: Platform
    source: Literal["self", "city"] = Field(description="self: registered by the person; city: the push token the city's systems set")
    tokenEnding: str | None = Field(description="the token's last four characters, to tell devices apart")
    createdAt: datetime
    lastUsedAt: datetime | None = Field(description="when a push last reached it; null: never yet")


class MyContacts(BaseModel):
    model_config = _examples({"personId": _ME, "email": _CONFIRMED, "phone": _PENDING, "language": "sv", "devices": [_CITY_DEVICE, _PHONE_DEVICE]})

    personId: UUID
    email: OwnContact
    phone: OwnContact
    language: str = Field(description="the language the city's systems gave (one's own choice is in the preferences)")
    devices: list[Device]


class EmailChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254, pattern=EMAIL, examples=["anna.lindqvist@example.se"])


class PhoneChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(pattern=PHONE, description="E.164, e.g. +46701234567", examples=["+46709876543"])


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=rf"^[0-9]{{{domain.CODE_DIGITS}}}$", description="the code sent to the new address or number",
                      examples=["042917"])


class SubscriptionKeys(BaseModel):
    model_config = ConfigDict(extra="ignore")

    p256dh: str = Field(pattern=r"^[A-Za-z0-9_-]{86,88}={0,2}$", description="the browser's P-256 public key, base64url (65 bytes)")
    auth: str = Field(pattern=r"^[A-Za-z0-9_-]{21,24}={0,2}$", description="the 16-byte authentication secret, base64url")


class WebPushSubscription(BaseModel):
    """What the browser's PushManager.subscribe() gives (PushSubscription.toJSON(); expirationTime is ignored)."""

    model_config = ConfigDict(extra="ignore")

    endpoint: str = Field(max_length=2048, pattern=r"^https?://\S+$", description="the push service's URL for this browser")
    keys: SubscriptionKeys


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=100, pattern=r"\S", examples=["Annas iPhone"])
    platform: Platform = Field(examples=["ios"])
    token: str | None = Field(default=None, min_length=8, max_length=4096, pattern=r"^[^\s{]\S*$",
                              description="the push token the platform gave the app (FCM's registration token on Android and iOS)",
                              examples=["f3b9c2d8e1a04b7f9c6d2e8a1b3f5c7d9e0a2b4c6d8e0f1a3b5c7d9e1f3a9f3a"])
    subscription: WebPushSubscription | None = Field(default=None, description="instead of a token, for platform web: the browser's "
                                                     "Web Push subscription (GET /push/vapid-public-key is the key to subscribe with)")


Me = Annotated[Principal, Depends(require())]
CHANGE_STATUSES = documented(403, 404, 422, 429, 503)


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/me/contacts", summary="Your own e-mail, phone (in use, confirmed or not, and waiting for a code) and devices (logged)",
            response_model=MyContacts, responses=documented(403, 404))
async def get_my_contacts(request: Request, caller: Me) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await self_service.read_contacts(uow, caller, now=_now(), path=request.url.path)


async def _change(request: Request, caller: Principal, channel: ContactChannel, value: str) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        code = await self_service.request_change(uow, caller, channel, value, now=_now(), path=request.url.path)
    await self_service.send_code(request.app.state.runtime.workers["sender"], code, field=channel)
    return code.view


_CHANGE = ("A code of {digits} digits goes to the new {what} ({how}); the one in use stays in use until the code is given back with "
           "POST /me/contacts/{channel}/confirm. Asking again sends a new code (at most {n} an hour).")


@router.put("/me/contacts/email", status_code=202, summary="Change your e-mail address: a code is sent to the new one",
            description=_CHANGE.format(digits=domain.CODE_DIGITS, what="address", how="by e-mail", channel="email", n=domain.CODES_PER_WINDOW),
            response_model=OwnContact, responses=CHANGE_STATUSES)
async def change_email(request: Request, body: EmailChange, caller: Me) -> dict[str, Any]:
    return await _change(request, caller, "email", body.email)


@router.put("/me/contacts/phone", status_code=202, summary="Change your mobile number: a code is sent to the new one by SMS",
            description=_CHANGE.format(digits=domain.CODE_DIGITS, what="number", how="by SMS", channel="phone", n=domain.CODES_PER_WINDOW),
            response_model=OwnContact, responses=CHANGE_STATUSES)
async def change_phone(request: Request, body: PhoneChange, caller: Me) -> dict[str, Any]:
    return await _change(request, caller, "phone", body.phone)


@router.post("/me/contacts/{channel}/confirm", summary="Confirm a new e-mail address or number with the code sent to it",
             description=f"A wrong code is a 422 naming `code` ({domain.CODE_ATTEMPTS} tries per code); an expired code or one tried too "
                         "often is a 409: ask for a new one.",
             response_model=OwnContact, responses=documented(403, 404, 409, 422) | example(_CONFIRMED))
async def confirm(request: Request, channel: Annotated[ContactChannel, Path(description="email or phone")], body: CodeIn,
                  caller: Me) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        result = await self_service.confirm(uow, caller, channel, body.code, now=_now(), path=request.url.path)
    if result.problem is not None:
        raise result.problem  # after the commit: a wrong try counts
    assert result.view is not None
    return result.view


@router.delete("/me/contacts/{channel}", status_code=204, summary="Remove your e-mail address or number (and a new one waiting for its code)",
               responses=documented(403, 404))
async def remove_contact(request: Request, channel: Annotated[ContactChannel, Path(description="email or phone")], caller: Me) -> Response:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        await self_service.remove(uow, caller, channel, path=request.url.path)
    return Response(status_code=204)


@router.get("/me/devices", summary="Your push devices, oldest first (logged)", response_model=Page[Device], responses=documented(403, 404)
            | example({"items": [_CITY_DEVICE, _PHONE_DEVICE], "limit": 50, "next": None, "total": 2}))
async def list_devices(request: Request, caller: Me, page: Annotated[PageRequest, Depends(page_request)]) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return page.slice(await self_service.list_devices(uow, caller, path=request.url.path))


def device_token(body: DeviceIn) -> str:
    """The token kept for the device: the app's push token, or the browser's subscription as compact JSON (providers/webpush.py)."""
    if (body.token is None) == (body.subscription is None):
        raise rejected(422, "give either token (an app) or subscription (a browser's Web Push subscription)", "token")
    if body.subscription is None:
        assert body.token is not None
        return body.token
    if body.platform != "web":
        raise rejected(422, "a Web Push subscription is for platform web", "platform")
    if not NOTIFICATION.vapid_private_key:
        raise rejected(422, "Web Push is not configured here: register an app's token instead", "subscription")
    if not (body.subscription.endpoint.startswith("https://") or NOTIFICATION.webpush_allow_http):
        raise rejected(422, "a push service's endpoint is https", "subscription.endpoint")
    keys = body.subscription.keys
    try:
        given = webpush.Subscription(body.subscription.endpoint, webpush.unb64url(keys.p256dh.rstrip("=")), webpush.unb64url(keys.auth.rstrip("=")))
    except ValueError:
        given = None
    sub = webpush.parse_subscription(given.token()) if given else None
    if sub is None:
        raise rejected(422, "keys.p256dh must be a P-256 public key (65 bytes) and keys.auth 16 bytes", "subscription.keys")
    return sub.token()


@router.post("/me/devices", status_code=201, summary="Register a device for push messages",
             description=f"The same token again (the app reinstalled, a retry) answers 200 with the device there, relabelled. At most "
                         f"{domain.MAX_DEVICES} devices of your own.",
             response_model=Device, responses={200: {"model": Device, "description": "This token was registered already: the device, relabelled"},
                                               **documented(403, 404, 409, 422)})
async def add_device(request: Request, response: Response, body: DeviceIn, caller: Me) -> dict[str, Any]:
    token = device_token(body)
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        device, created = await self_service.add_device(uow, caller, label=body.label.strip(), platform=body.platform, token=token,
                                                        path=request.url.path)
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"{request.url.path}/{device['id']}"
    return device


@router.delete("/me/devices/{device_id}", status_code=204, summary="Remove one of your devices: no more push messages to it",
               responses=documented(403, 404))
async def remove_device(request: Request, device_id: UUID, caller: Me) -> Response:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        await self_service.remove_device(uow, caller, device_id, path=request.url.path)
    return Response(status_code=204)
