"""How a delivery ends, whether a sender or a gateway's callback says so: the state, the event out (ids only,
the recipient sealed) and, when a channel failed for good, the next channel of the recipient's fallback chain —
all in the unit of work's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.notification import domain
from services.notification.channels import Outcome
from services.notification.settings import NotificationSettings
from services.notification.store import deliveries as store
from shared import metrics
from shared.events.notification import MessageDelivered, MessageFailed
from shared.privacy import vault
from shared.problems import rejected
from shared.uow import UnitOfWork

FINAL_FAILURES = ("permanent-failure", "bounced")


@dataclass
class Tally:
    delivered: int = 0
    accepted: int = 0
    retried: int = 0
    failed: int = 0
    fallbacks: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


async def mark_delivered(uow: UnitOfWork, ids: list[int], refs: list[str | None], from_states: tuple[str, ...] = ("sending",)) -> int:
    rows = await store.mark_delivered(uow.conn, ids, refs, from_states)
    sealed = await vault.seal_many(uow.conn, (r["person"] for r in rows))  # events carry recipients sealed (docs/decisions/0009)
    await uow.publish(*(MessageDelivered(messageId=r["message_id"], deliveryId=r["id"], recipient=sealed[r["person"]], channel=r["channel"],
                                         messageType=r["message_type"], schoolUnitId=r["school_unit"]) for r in rows))
    for r in rows:
        metrics.NOTIFICATIONS.labels(r["channel"], "delivered").inc()
    return len(rows)


async def mark_failed(uow: UnitOfWork, ids: list[int], errors: list[str], state: str, now: datetime, settings: NotificationSettings,
                      from_states: tuple[str, ...] = ("sending",)) -> tuple[int, int]:
    """Failed for good; returns (failed, fallbacks made)."""
    rows = await store.mark_failed(uow.conn, ids, errors, state, from_states)
    if not rows:
        return 0, 0
    changed = [r["id"] for r in rows]
    bundled = await store.bundled_failed(uow.conn, changed, state)
    next_channel: dict[int, str] = {}
    fallbacks = []
    for f in await store.fallback_facts(uow.conn, changed):
        reachable = {c for c in ("email", "sms", "push") if f[c]}
        channel = domain.fallback_next(settings.fallback, f["channel"], reachable, f["turned_off"], f["tried"], f["critical"])
        if channel is not None:
            next_channel[f["id"]] = channel
            fallbacks.append((f["message_id"], f["person"], channel, f["id"]))
    if fallbacks:
        await store.add_fallbacks(uow.conn, fallbacks, now)
    sealed = await vault.seal_many(uow.conn, (r["person"] for r in [*rows, *bundled]))  # sealed recipients (docs/decisions/0009)
    await uow.publish(*(MessageFailed(messageId=r["message_id"], deliveryId=r["id"], recipient=sealed[r["person"]], channel=r["channel"],
                                      state=state, reason=r.get("last_error") or "digest-failed", messageType=r["message_type"],
                                      schoolUnitId=r["school_unit"], fallbackChannel=next_channel.get(r["id"])) for r in [*rows, *bundled]))
    for r in rows:
        metrics.NOTIFICATIONS.labels(r["channel"], state).inc()
    return len(rows), len(fallbacks)


async def record_outcomes(uow: UnitOfWork, channel: str, outcomes: list[Outcome], attempts: dict[int, int], now: datetime,
                          settings: NotificationSettings) -> Tally:
    """A sender's batch: what each gateway or mail server said, applied in one transaction."""
    tally = Tally()
    done = [o for o in outcomes if o.result == "delivered"]
    tally.delivered = await mark_delivered(uow, [int(o.reference) for o in done], [o.gateway_ref for o in done])
    accepted = [o for o in outcomes if o.result == "accepted"]
    await store.mark_accepted(uow.conn, [int(o.reference) for o in accepted], [o.gateway_ref for o in accepted])
    tally.accepted = len(accepted)
    metrics.NOTIFICATIONS.labels(channel, "accepted").inc(len(accepted))
    temporary = [o for o in outcomes if o.result == "temporary" and attempts[int(o.reference)] < settings.max_attempts]
    retried = {o.reference for o in temporary}
    await store.retry_later(uow.conn, [int(o.reference) for o in temporary], [o.error or "temporary" for o in temporary],
                            [now + domain.backoff(attempts[int(o.reference)], settings.backoff_seconds, settings.backoff_max_seconds) for o in temporary])
    tally.retried = len(temporary)
    metrics.NOTIFICATIONS.labels(channel, "temporary-failure").inc(len(temporary))
    given_up = [o for o in outcomes if o.result == "permanent" or (o.result == "temporary" and o.reference not in retried)]
    errors = [(o.error or "rejected") if o.result == "permanent" else "attempts-exhausted" for o in given_up]
    tally.failed, tally.fallbacks = await mark_failed(uow, [int(o.reference) for o in given_up], errors, "permanent-failure", now, settings)
    return tally


async def apply_gateway_callback(uow: UnitOfWork, channel: str, reference: str, *, status: str, permanent: bool, gateway_id: str | None,
                                 reason: str | None, now: datetime, settings: NotificationSettings) -> dict[str, Any]:
    """A gateway reports what became of a message it accepted. A late or repeated report changes nothing."""
    reason = reason or f"gateway-{status}"
    if channel == "push":  # a push went to each device with the device's own reference (usecases/push.py)
        from services.notification.usecases.push import apply_device_callback

        answer = await apply_device_callback(uow, int(reference), status=status, permanent=permanent, gateway_id=gateway_id, reason=reason,
                                             now=now, settings=settings)
        if answer is not None:
            return answer
    row = await store.delivery_by_reference(uow.conn, channel, int(reference))
    if row is None:
        raise rejected(404, f"no {channel} delivery with reference {reference}", "reference")
    ids = [row["id"]]
    if status == "delivered":
        changed = await mark_delivered(uow, ids, [gateway_id])
    elif status == "bounced":
        changed, _ = await mark_failed(uow, ids, [reason], "bounced", now, settings, from_states=("sending", "delivered"))
    elif not permanent and row["attempts"] < settings.max_attempts:
        at = now + domain.backoff(row["attempts"], settings.backoff_seconds, settings.backoff_max_seconds)
        await store.retry_later(uow.conn, ids, [reason], [at])
        changed = int(row["state"] == "sending")
    else:
        changed, _ = await mark_failed(uow, ids, [reason if permanent else "attempts-exhausted"], "permanent-failure", now, settings)
    state = await store.delivery_state(uow.conn, row["id"])
    return {"reference": reference, "state": state, "changed": bool(changed)}
