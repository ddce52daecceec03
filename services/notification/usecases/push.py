"""Push to every device of a person (store/devices.py, migrations/0008_self_service.sql).

A push delivery is still one row per message and recipient (receipts, reach, fallbacks count it once); the sender
sends it to each of the person's devices with that device's own reference (``device_send``), and what the gateway
says per device decides the delivery by ``domain.push_verdict``: delivered when one device got it, waiting while
the gateway may still report one, tried again when a failure was temporary, failed for good (and so fallen back
to the next channel) when every device refused it. A device a push reached is "used" then (its ``lastUsedAt``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.notification import domain
from services.notification.channels import Outcome
from services.notification.settings import NotificationSettings
from services.notification.store import deliveries as delivery_store
from services.notification.store import devices as store
from shared.uow import UnitOfWork

#: a gateway's result for one device → the device send's state
SEND_STATE = {"delivered": "delivered", "accepted": "accepted", "temporary": "temporary", "permanent": "permanent"}
#: a push delivery's verdict → the result recorded for the delivery (usecases/deliveries.py)
RESULT = {"delivered": "delivered", "accepted": "accepted", "sending": "accepted", "temporary": "temporary", "permanent": "permanent"}


async def delivery_outcomes(uow: UnitOfWork, delivery_ids: list[int], sent: list[Outcome]) -> list[Outcome]:
    """The sender's word per device recorded; then one outcome per delivery, from all its devices' sends so far
    (a delivery without any device at all fails as ``no-contact``)."""
    await store.lock_deliveries(uow.conn, sorted(delivery_ids))
    await store.record_sends(uow.conn, [int(o.reference) for o in sent], [SEND_STATE[o.result] for o in sent],
                             [o.gateway_ref for o in sent], [o.error for o in sent])
    # a subscription gone (Web Push 404/410) or a token no app has (FCM UNREGISTERED): no more pushes to that device
    await store.drop_devices_of_sends(uow.conn, [int(o.reference) for o in sent if o.result == "permanent" and o.error in domain.DEVICE_GONE])
    by_delivery: dict[int, list[Any]] = {}
    for s in await store.sends_of(uow.conn, delivery_ids):
        by_delivery.setdefault(s["delivery_id"], []).append(s)
    outcomes = []
    for delivery_id in delivery_ids:
        sends = by_delivery.get(delivery_id, [])
        if not sends:
            outcomes.append(Outcome(str(delivery_id), "permanent", error="no-contact"))
            continue
        verdict = domain.push_verdict(s["state"] for s in sends)
        ref = next((s["gateway_ref"] for s in sends if s["state"] == verdict and s["gateway_ref"]), None)
        error = next((s["last_error"] for s in reversed(sends) if s["last_error"]), None)
        outcomes.append(Outcome(str(delivery_id), RESULT[verdict], gateway_ref=ref,  # type: ignore[arg-type]
                                error=error if verdict in ("temporary", "permanent") else None))
    return outcomes


async def apply_device_callback(uow: UnitOfWork, reference: int, *, status: str, permanent: bool, gateway_id: str | None, reason: str,
                                now: datetime, settings: NotificationSettings) -> dict[str, Any] | None:
    """A push gateway's callback about one device; None when the reference is not a device send (an older
    delivery's own reference, handled as before). A late or repeated report changes nothing."""
    from services.notification.usecases.deliveries import mark_delivered, mark_failed

    send = await store.send_by_reference(uow.conn, reference)
    if send is None:
        return None
    error: str | None
    from_states: tuple[str, ...]
    if status == "delivered":
        state, error, from_states = "delivered", None, ("sending", "accepted", "temporary")
    elif status == "bounced":
        state, error, from_states = "permanent", reason, ("sending", "accepted", "delivered")
    elif not permanent and send["attempts"] < settings.max_attempts:
        state, error, from_states = "temporary", reason, ("sending", "accepted")
    else:
        state, error, from_states = "permanent", reason if permanent else "attempts-exhausted", ("sending", "accepted")
    changed = await store.update_send(uow.conn, reference, state, gateway_id, error, from_states)
    delivery_id = send["delivery_id"]
    if changed:
        verdict = domain.push_verdict(await store.send_states(uow.conn, delivery_id))
        if verdict == "delivered":
            await mark_delivered(uow, [delivery_id], [gateway_id])
        elif verdict == "temporary" and send["delivery_state"] == "sending":
            at = now + domain.backoff(send["attempts"], settings.backoff_seconds, settings.backoff_max_seconds)
            await delivery_store.retry_later(uow.conn, [delivery_id], [error or "temporary"], [at])
        elif verdict == "permanent":
            final = "bounced" if status == "bounced" else "permanent-failure"
            await mark_failed(uow, [delivery_id], [error or "rejected"], final, now, settings, from_states=("sending", "delivered"))
    return {"reference": str(reference), "state": await delivery_store.delivery_state(uow.conn, delivery_id), "changed": changed}
