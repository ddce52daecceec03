"""What the gateways tell us, and sending now (the delivery machinery: sender.py, channels.py): callbacks finish a delivery the gateway accepted
(delivered, failed, bounced); an operator can send everything due without waiting for the senders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field

from services.notification import usecases
from services.notification.access import check_bearer
from services.notification.schemas import CallbackResult, SendNowResult
from services.notification.settings import NOTIFICATION, SOURCE
from shared.auth import Principal, Role, require
from shared.problems import Problem, documented, rejected
from shared.uow import unit_of_work

router = APIRouter(tags=["delivery"])
EXTERNAL = ("email", "sms", "push")


class Callback(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reference: str = Field(pattern=r"^[0-9]{1,18}$", description="the reference Skolit sent with the message")
    status: Literal["delivered", "failed", "bounced"]
    permanent: bool = Field(default=True, description="for failed: false means the gateway may succeed later, so Skolit retries")
    gatewayId: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, pattern=r"^[a-z0-9.-]{1,40}$", description="a short code; free text is not kept")


def _check_token(authorization: str | None) -> None:
    check_bearer(authorization, NOTIFICATION.callback_token, realm="skolit-gateways",
                 detail="a gateway callback needs the configured bearer token (SKOLIT_NOTIFICATION_CALLBACK_TOKEN)")


@router.post("/gateways/{channel}/callbacks", summary="A gateway reports what became of a message it accepted",
             description="Authenticated with the gateways' shared bearer token (SKOLIT_NOTIFICATION_CALLBACK_TOKEN), not a person's. "
                         "A late or repeated report changes nothing and is still answered 200.",
             response_model=CallbackResult, responses=documented(401, 404, 413, 422))
async def gateway_callback(request: Request, channel: str, body: Callback,
                           authorization: Annotated[str | None, Header(include_in_schema=False)] = None) -> dict[str, Any]:
    _check_token(authorization)
    if channel not in EXTERNAL:
        raise Problem(404, "Not found", f"no gateway channel {channel!r}; channels: {', '.join(EXTERNAL)}")
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        result = await usecases.apply_gateway_callback(uow, channel, body.reference, status=body.status, permanent=body.permanent,
                                                       gateway_id=body.gatewayId, reason=body.reason, now=datetime.now(UTC),
                                                       settings=NOTIFICATION)
    # A late or repeated callback changes nothing and is still answered 200: gateways retry until they see a 2xx.
    return result


class SendNow(BaseModel):
    asOf: datetime | None = Field(default=None, description="as if it were this time; only where the clock may be overridden (tests, demo)")


@router.post("/deliveries/send", summary="Send everything due now on every channel, without waiting for the senders",
             response_model=SendNowResult, responses=documented(401, 403, 422))
async def send_now(request: Request, body: SendNow, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))]) -> dict[str, Any]:
    now = datetime.now(UTC)
    if body.asOf is not None:
        if not request.app.state.settings.allow_clock_override:
            raise rejected(422, "asOf is only accepted where SKOLIT_ALLOW_CLOCK_OVERRIDE is set (tests and the demo)", "asOf")
        now = body.asOf
    await request.app.state.runtime.workers["planner"].plan_all()  # what a broadcast left for after its answer, first
    sender = request.app.state.runtime.workers["sender"]
    return {"asOf": now.isoformat(), "claimed": await sender.flush(now)}
