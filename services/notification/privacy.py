"""Erasure (art. 17 GDPR; docs/decisions/0009): notification coordinates, since it holds the guardians'
contact details and the access log.

``POST /privacy/erasure-requests`` (city_admin, data_protection) or the city's ``PersonErasureRequested``
event makes, in one transaction, the request row and the ``ErasureRequested`` event, the person sealed with
their own key (shared/privacy/vault.py). Every service — notification too, from the same event — erases or
anonymises what it holds and confirms with its own ``…DataErased`` event. When the fourth confirmation is
applied, in that transaction, notification erases its own part once more (an event in flight from another
service may have made a message to the person after the first pass) and destroys the person's key: from
then on every sealed copy of their id — on the topics, in the outboxes, in backups — opens to nothing.
``GET /privacy/erasure-requests/{id}`` shows each service confirmed or pending (the routes: routes/erasure.py).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg

from services.notification.store import erasure as q
from shared import outbox
from shared.consumer import Handler
from shared.events.assessment import AssessmentDataErased
from shared.events.base import DataErased, Event
from shared.events.catalog import CatalogDataErased
from shared.events.city import PersonErasureRequested
from shared.events.envelope import Envelope, event_uuid
from shared.events.notification import ErasureReason, ErasureRequested, NotificationDataErased
from shared.events.reporting import ReportingDataErased
from shared.privacy import erasure, vault

log = logging.getLogger(__name__)
SOURCE = "skolit.notification"
#: every service that must confirm, in the order the status lists them
SERVICES = ("assessment", "catalog", "reporting", "notification")
CONFIRMATIONS: dict[type, str] = {AssessmentDataErased: "assessment", CatalogDataErased: "catalog", ReportingDataErased: "reporting",
                                  NotificationDataErased: "notification"}


def person_hash(person: UUID) -> bytes:
    """A keyed hash of the person's id (the vault's master key, for this purpose only): finds a pending request
    for the same person without keeping the id; dropped when the request completes."""
    key = hashlib.sha256(b"skolit.erasure-request:" + vault.master_key()).digest()
    return hmac.new(key, person.bytes, hashlib.sha256).digest()


def status_path(request_id: UUID) -> str:
    return f"/privacy/erasure-requests/{request_id}"


async def request_erasure(conn: asyncpg.Connection, *, person: UUID, reason: str, requested_by: str, source: str,
                          request_id: UUID | None = None) -> tuple[UUID, bool]:
    """The request and its event, in the caller's transaction; (the request's id, whether it is new). A request
    for a person with one pending already is that one."""
    digest = person_hash(person)
    pending = await q.pending_for(conn, digest)
    if pending is not None:
        return pending, False
    request_id, now = request_id or uuid4(), datetime.now(UTC)
    sealed, by = await vault.seal(conn, person), await vault.seal_actor(conn, requested_by)
    if not await q.create_request(conn, id=request_id, person_ref=sealed, person_hash=digest, source=source, reason_code=reason,
                                  requested_by=by, requested_at=now):
        # made meanwhile by a concurrent request for the same person, or this id exists already (an event again)
        return await q.pending_for(conn, digest) or request_id, False
    await outbox.add(conn, SOURCE, ErasureRequested(requestId=request_id, person=sealed, reasonCode=ErasureReason(reason), requestedAt=now,
                                                    requestedBy=by, source=source))  # type: ignore[arg-type]
    log.info("erasure request %s (%s, %s)", request_id, source, reason)
    return request_id, True


# --- events --------------------------------------------------------------------------------------

async def on_person_erasure_requested(conn: asyncpg.Connection, env: Envelope[PersonErasureRequested]) -> None:
    """The city's systems ask: the same as the POST, the request's id made from the event's, so the event
    applied again makes nothing new."""
    e = env.data
    await request_erasure(conn, person=e.person, reason=e.reasonCode, requested_by=env.source, source="city",
                          request_id=UUID(event_uuid("erasure-request", env.source, env.id)))


async def on_erasure_requested(conn: asyncpg.Connection, env: Envelope[ErasureRequested]) -> None:
    """Notification's own part, like every other service's."""
    await erasure.answer(conn, env, source=SOURCE, confirmation=NotificationDataErased, erase=q.erase_person)


async def on_data_erased(conn: asyncpg.Connection, env: Envelope[DataErased]) -> None:
    """A service's confirmation; the fourth completes the request and destroys the person's key."""
    service = CONFIRMATIONS[type(env.data)]
    e = env.data
    row = await q.request(conn, e.requestId, lock=True)  # one confirmation at a time per request: the last one completes
    if row is None:
        log.warning("erasure request %s: %s confirmed a request not known here", e.requestId, service)
        return
    if not await q.confirm(conn, e.requestId, service, e.erasedAt, e.counts) or row["completed_at"] is not None:
        return
    if {c["service"] for c in await q.confirmations(conn, e.requestId)} >= set(SERVICES):
        await complete(conn, row)


async def complete(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
    try:
        person = await vault.open_ref(conn, row["person_ref"])
    except vault.KeyDestroyed:
        pass  # destroyed by an earlier request for the same person, whose services had erased everything
    else:
        again = await q.erase_person(conn, person)
        if any(again.values()):
            log.info("erasure request %s: a second pass erased %s", row["id"], {k: v for k, v in again.items() if v})
        await vault.destroy(conn, person, f"erasure request {row['id']}")
    await q.complete(conn, row["id"], key_destroyed=True)
    log.info("erasure request %s complete; the person's key is destroyed", row["id"])


HANDLERS: dict[type[Event], Handler] = {
    PersonErasureRequested: on_person_erasure_requested,
    ErasureRequested: on_erasure_requested,
    **dict.fromkeys(CONFIRMATIONS, on_data_erased),
}
