"""Right of access (art. 15 GDPR; docs/decisions/0010): one request returns everything Skolit holds about
a person, gathered from every service through events, as JSON.

``POST /privacy/access-requests`` makes, in one transaction, the request row with a fresh X25519 key pair
(the private key encrypted with notification's keyring), notification's own part (contact details
decrypted here: they never go on a topic, not even sealed) and the ``AccessRequested`` event, the person
sealed with their own key (shared/privacy/vault.py). Assessment, catalog and reporting answer with their
``…DataExported`` parts, sealed for the request's public key; each part is checked as it arrives. When the
four are in, they are assembled into one export, stored encrypted for the requester to fetch
(``GET /privacy/access-requests/{id}``; the routes are in routes/access_requests.py), and the private key is dropped. A job drops each export
``RETENTION_DAYS`` after it was completed.
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from services.notification.store import access_requests as q
from services.notification import templates
from services.notification.crypto import KeyMissing
from services.notification.settings import KEYS, NOTIFICATION
from shared.clock import CITY_TZ
from shared.consumer import Handler
from shared.events.assessment import AssessmentDataExported
from shared.events.base import Event
from shared.events.catalog import CatalogDataExported
from shared.events.envelope import Envelope, Rejected
from shared.events.reporting import ReportingDataExported
from shared.jobs import Job
from shared.privacy import export, export_store
from shared.privacy.sealedbox import SealedBoxError

log = logging.getLogger(__name__)
SOURCE = "skolit.notification"
#: every service's part, in the order the export lists them
SERVICES = ("assessment", "catalog", "reporting", "notification")
PART_EVENTS: dict[type, str] = {AssessmentDataExported: "assessment", CatalogDataExported: "catalog", ReportingDataExported: "reporting"}
RETENTION_DAYS = export.RETENTION_DAYS
def status_path(request_id: UUID) -> str:
    return f"/privacy/access-requests/{request_id}"



# --- the parts -----------------------------------------------------------------------------------


def _private_key(row: asyncpg.Record) -> bytes:
    return base64.b64decode(KEYS.decrypt(row["private_key_id"], row["id"], row["private_key"]) or "")


#: a service's part of an export: each service has its own type, all alike
DataExported = AssessmentDataExported | CatalogDataExported | ReportingDataExported


async def on_data_exported(conn: asyncpg.Connection, env: Envelope[DataExported]) -> None:
    """A service's part: checked with the request's key and kept; the fourth part completes the export."""
    service = PART_EVENTS[type(env.data)]
    e = env.data
    row = await q.request(conn, e.requestId, lock=True)  # one part at a time per request: the last one assembles
    if row is None or row["private_key"] is None:
        # not ours, or complete or given up already (a replayed topic): nothing can open it any more
        log.info("access request %s: %s's part ignored (%s)", e.requestId, service, "unknown" if row is None else "no longer open")
        return
    try:
        box = base64.b64decode(e.part, validate=True)
    except ValueError as exc:
        raise Rejected(f"{service}'s part of access request {e.requestId} is not base64 ({exc})") from exc
    try:
        export.open_part(_private_key(row), e.requestId, service, e.part)
    except SealedBoxError as exc:
        raise Rejected(f"{service}'s part of access request {e.requestId} does not open with the request's key") from exc
    await q.add_part(conn, e.requestId, service, box, e.rows)
    if set(await q.received(conn, e.requestId)) >= set(SERVICES):
        await assemble(conn, row)


async def assemble(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
    request_id, private_key = row["id"], _private_key(row)
    parts = {p["service"]: p for p in await q.parts(conn, request_id)}
    now = datetime.now(UTC)
    services: dict[str, Any] = {}
    for service in SERVICES:
        part = export.open_part(private_key, request_id, service, base64.b64encode(bytes(parts[service]["part"])).decode())
        part.pop("service", None)
        services[service] = {"rows": parts[service]["rows"], "receivedAt": parts[service]["received_at"], **part}
    expires = now + timedelta(days=RETENTION_DAYS)
    document = {"id": str(request_id), "person": str(row["person"]), "reasonCode": row["reason_code"],
                "requestedAt": row["requested_at"], "completedAt": now, "expiresAt": expires,
                "rows": sum(p["rows"] for p in parts.values()), "services": services}
    sealed = KEYS.encrypt(request_id, export.to_json(document).decode())
    await q.complete(conn, request_id, completed_at=now, expires_at=expires, export_key_id=KEYS.current, export=sealed)  # type: ignore[arg-type]
    log.info("access request %s complete: %d rows", request_id, document["rows"])


# --- notification's own part ---------------------------------------------------------------------


def _contact(row: asyncpg.Record | None, person: UUID) -> list[dict[str, Any]]:
    if row is None:
        return []
    try:
        values = {name: KEYS.decrypt(row["key_id"], person, row[column])
                  for name, column in (("email", "email"), ("mobile", "mobile"), ("pushToken", "push_token"))}
    except KeyMissing:
        values = {"unreadable": f"written with key {row['key_id']!r}, which is no longer configured"}
    return [{**values, "language": row["language"], "updatedAt": row["updated_at"], "emailConfirmedAt": row["email_confirmed_at"],
             "mobileConfirmedAt": row["mobile_confirmed_at"]}]


def _opened(rows: list[asyncpg.Record], person: UUID, column: str, name: str) -> list[dict[str, Any]]:
    """Rows with an encrypted column (a device's token, a pending address) in clear, the key's id left out."""
    out = []
    for r in rows:
        item = {k: v for k, v in dict(r).items() if k not in ("key_id", column)}
        try:
            item[name] = KEYS.decrypt(r["key_id"], person, r[column])
        except KeyMissing:
            item[name] = None
            item["unreadable"] = f"written with key {r['key_id']!r}, which is no longer configured"
        out.append(item)
    return out


def _messages(rows: list[asyncpg.Record], language: str) -> list[dict[str, Any]]:
    """Each message to the person as they read it (in their language), with its delivery on every channel."""
    out: dict[UUID, dict[str, Any]] = {}
    for r in rows:
        message = out.get(r["message_id"])
        if message is None:
            try:
                subject, body, used = templates.compose(r["message_type"], language, dict(r["data"]), r["school"], NOTIFICATION.web_url)
            except LookupError:
                subject, body, used = None, None, None
            message = out[r["message_id"]] = {
                "id": r["message_id"], "type": r["message_type"], "critical": r["critical"], "schoolUnit": r["school_unit"],
                "schoolUnitName": r["school"], "broadcastId": r["broadcast_id"], "createdAt": r["message_created_at"],
                "subject": subject, "body": body, "language": used, "read": False, "deliveries": []}
        message["read"] = message["read"] or r["read_at"] is not None
        message["deliveries"].append({
            "id": r["id"], "channel": r["channel"], "mode": r["mode"], "state": r["state"], "sendAfter": r["send_after"],
            "quietHoursBypassed": r["quiet_bypassed"], "attempts": r["attempts"], "lastError": r["last_error"], "readAt": r["read_at"],
            "gatewayRef": r["gateway_ref"], "bundledInto": r["bundled_into"], "fallbackFrom": r["fallback_from"],
            "createdAt": r["created_at"], "updatedAt": r["updated_at"]})
    return list(out.values())


async def gather(conn: asyncpg.Connection, person: UUID) -> export.Tables:
    """Everything notification holds about the person (docs/privacy.md, notification)."""
    contact = await q.contact(conn, person)
    settings = export.rows(await q.settings(conn, person))
    language = settings[0]["language"] if settings else contact["language"] if contact else "sv"
    return {
        "person": export.rows(await export_store.person(conn, person)),
        "guardianRelations": export.rows(await q.relations(conn, person)),
        "duties": export.rows(await export_store.duties(conn, person)),
        "contactDetails": _contact(contact, person),
        "pendingContactDetails": _opened(await q.pending_contacts(conn, person), person, "value", "value"),
        "devices": _opened(await q.devices(conn, person), person, "token", "token"),
        "deviceSends": export.rows(await q.device_sends(conn, person)),
        "recipientSettings": settings,
        "preferences": export.rows(await q.choices(conn, person)),
        "messages": _messages(await q.deliveries(conn, person), language),
        "quietHoursBypasses": export.rows(await q.bypasses(conn, person)),
        "accessLog": export.rows(await q.accesses_about(conn, person)),
        "othersDataAccessed": export.rows(await q.accesses_by(conn, person)),
        "broadcastsSent": export.rows(await q.broadcasts_sent(conn, person)),
        "accessRequestsAboutThem": export.rows(await q.requests_about(conn, person)),
        "accessRequestsTheyMade": export.rows(await q.requests_by(conn, person)),
        "eventsPublished": await export_store.outbox_mentions(conn, person),
    }


# --- retention -----------------------------------------------------------------------------------


async def expire(conn: asyncpg.Connection, today: date) -> dict[str, int]:
    """Exports are kept RETENTION_DAYS after they were completed; a request still pending after as long is given up.
    Run as of a later day (tests, the demo), it judges from that day's start."""
    now = max(datetime.now(UTC), datetime.combine(today, time(0), CITY_TZ))
    dropped, given_up = await q.expire(conn, now, now - timedelta(days=RETENTION_DAYS))
    return {"exportsDropped": dropped, "requestsGivenUp": given_up}


def expiry_job(every_seconds: float) -> Job:
    return Job("access-exports", expire, every_seconds,
               f"Drops each right-of-access export {RETENTION_DAYS} days after it was ready, and requests still pending after as long")


HANDLERS: dict[type[Event], Handler] = {AssessmentDataExported: on_data_exported, CatalogDataExported: on_data_exported, ReportingDataExported: on_data_exported}
