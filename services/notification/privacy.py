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

Notification's part in data protection (``PRIVACY``, shared/privacy/part.py) is here too: where it keeps personal
data (docs/privacy.md, notification), how long (its retention rules) and what it erases (store/erasure.py), with
which the shared runtime answers ``ErasureRequested`` like in every service and runs its retention job. It
declares no ``gather``: it owns the right-of-access requests and gathers its own part locally
(access_requests.py), so no ``AccessRequested`` handler is added for it.

Retention, how long notification keeps what it holds, by data class (shared/retention.py; the periods in
docs/privacy.md). The order matters: children before their parents — digest items and fallbacks before
the deliveries they point at, deliveries and bypass entries before their messages, messages before their
broadcasts.

A delivery still on its way (queued, sending, temporary-failure) is never due, nor is its message: a
message goes only when no delivery and no bypass entry of it is left. Guardian reach counts deliveries of
the current year, so periods shorter than a year lower the reach published for it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg

from services.notification.store import erasure as q
from shared.uow import UnitOfWork
from shared.consumer import Handler
from shared.events.assessment import AssessmentDataErased
from shared.events.base import DataErased, Event
from shared.events.catalog import CatalogDataErased
from shared.events.city import PersonErasureRequested
from shared.events.envelope import Envelope, event_uuid
from shared.events.notification import ErasureReason, ErasureRequested, NotificationDataErased
from shared.events.reporting import ReportingDataErased
from shared.privacy import vault
from shared.privacy.datamap import outbox as outbox_entry
from shared.privacy.datamap import (
    ACCESS, ACCOUNTABILITY, AUDIT, COMMUNICATION, CONTACT, duty, ERASURE, EXPORT, FREE_TEXT, GUARDIAN, IDEMPOTENCY_KEY, idempotency, INBOX, MIGRATIONS, NotPersonal, ORGANISATION,
    ORGANISATION_NAME, OUTBOX_PARKING, PENDING, PERSON_ID, person_names, Personal, PREFERENCES, PROTECTED, PROTECTION, PUPIL, retained, ServiceMap, STAFF,
    STAFF_IDENTITY,
)
from shared.privacy.datamap import JOB_RUN
from shared.privacy.part import PrivacyPart
from shared.retention import Rule, messaging

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
    await UnitOfWork(conn, SOURCE).publish(ErasureRequested(requestId=request_id, person=sealed, reasonCode=ErasureReason(reason), requestedAt=now,
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


#: its own part of an ErasureRequested is the shared handler its privacy part makes (PRIVACY, below)
HANDLERS: dict[type[Event], Handler] = {
    PersonErasureRequested: on_person_erasure_requested,
    **dict.fromkeys(CONFIRMATIONS, on_data_erased),
}


# --- retention: how long each class of data is kept (shared/retention.py) -------------------------

FINAL = "('delivered', 'permanent-failure', 'bounced', 'cancelled')"
# nothing else points at the delivery (a digest item at its digest, a fallback at the delivery that failed)
UNREFERENCED = ("NOT EXISTS (SELECT 1 FROM delivery x WHERE x.bundled_into = delivery.id)"
                " AND NOT EXISTS (SELECT 1 FROM delivery x WHERE x.fallback_from = delivery.id)")

RULES: tuple[Rule, ...] = (
    Rule("digest-items", "delivery",
         "mode = 'digest' AND bundled_into IS NOT NULL AND state IN " + FINAL + " AND updated_at < $1 AND " + UNREFERENCED,
         90, "Items a daily digest carried, once the digest went out (or failed for good): the digest itself stays as a delivery. "
             "Per-recipient receipts of older broadcasts then no longer show the digest channel."),
    Rule("deliveries", "delivery",
         "state IN " + FINAL + " AND updated_at < $1 AND bundled_into IS NULL AND NOT (channel = 'inapp' AND read_at IS NOT NULL) AND "
         + UNREFERENCED,
         365, "Deliveries on every channel that reached a final state (delivered, failed for good, bounced, cancelled) and have not "
              "changed since; unread in-app items included (an in-app item is delivered when made). Never one still on its way."),
    Rule("inbox-read", "delivery",
         "channel = 'inapp' AND read_at IS NOT NULL AND read_at < $1 AND " + UNREFERENCED,
         365, "In-app items their recipient has read, counted from the reading."),
    Rule("quiet-hours-bypasses", "quiet_hours_bypass", "at < $1",
         730, "The log of critical messages sent inside someone's quiet hours (docs/decisions/0007)."),
    Rule("messages", "message",
         "created_at < $1 AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.message_id = message.id)"
         " AND NOT EXISTS (SELECT 1 FROM quiet_hours_bypass b WHERE b.message_id = message.id)",
         365, "A message's content (message.data: a broadcast's text, a decision's reason) once none of its deliveries and bypass "
              "entries is left: never while a delivery of it is pending or an inbox still shows it."),
    Rule("broadcasts", "broadcast",
         "created_at < $1 AND NOT EXISTS (SELECT 1 FROM message m WHERE m.broadcast_id = broadcast.id)",
         365, "A broadcast (sender, subject, body) once none of its messages is left."),
    Rule("pending-contacts", "contact_pending", "expires_at < $1",
         1, "A new e-mail address or phone number never confirmed (routes/me.py): a day after its code expired."),
    Rule("push-devices", "device", "coalesce(last_used_at, created_at) < $1",
         395, "A push device no push has reached for about 13 months (a token that old no longer reaches anyone), the person's own "
              "or the one the city's systems set (they set it again with their next write)."),
    Rule("personal-data-access", "personal_data_access", "at < $1",
         1825, "The access log of personal-data reads (GET /privacy/access-log): append-only, removed only here, after five years."),
    *messaging(),
)


# --- the data map (docs/privacy.md) ---------------------------------------------------------------

N_SCHOOL = "principal, district_admin, city_admin acting for the school unit"
N_SELF = "the person themselves (token subject = their person id) and city_admin"
N_SELF_ = "The person themselves (token subject = their person id) and city_admin"

DATA_MAP = ServiceMap(
    "notification",
    personal=(
        duty("Find recipients by duty: a school's Rektor and IT-samordnare, district admins (Övrig "
             "arbetsledning at the district), staff audiences of broadcasts.", COMMUNICATION,
             f"Counts only ({N_SCHOOL}): GET /school-units/{{id}}/audience, POST /broadcasts/audience. Duty rows never leave "
             "over HTTP; staff recipients' ids do, through delivery (receipts)."),
        Personal("person", ("id", "security_marking", "removed"), PROTECTED, (PUPIL, GUARDIAN, STAFF),
                 "Know which persons exist (contact details only for known persons) and hide protected identities "
                 "(Sekretessmarkering, Skyddad folkbokföring) in receipts, worklists and the bypass log.", PROTECTION,
                 f"Until erased: PersonRemoved sets removed = true and ends the person's relations; the row stays — {PENDING}.",
                 (f"No endpoint returns the marking; {N_SCHOOL} see a person reference with protected: true (neither id nor name) in "
                  "GET /broadcasts/{id}/receipts, GET /school-units/{id}/unreached and GET /quiet-hours-bypasses.",),
                 "Replica of the city's persons (shared/city/migrations/person.sql): id and marking; the name beside them."),
        idempotency("notification", COMMUNICATION, RULES),
        person_names("Show people by name to staff who follow up messages: recipients in receipts and the unreached "
                     "worklist, who sent a broadcast, the quiet-hours bypass log.", COMMUNICATION,
                     f"{N_SCHOOL}: the `name` of every person reference (PersonRef) in GET /broadcasts/{{id}}/receipts, "
                     "GET /school-units/{id}/unreached, GET /quiet-hours-bypasses, GET /broadcasts/{id}."),
        Personal("guardianship", ("guardian", "pupil", "school_unit", "relation_type", "school_type", "school_year",
                                  "start_date", "end_date", "active"), PERSON_ID, (GUARDIAN, PUPIL),
                 "Who is guardian of which pupil, at which school, school type and year group: recipients of messages about "
                 "a school, cancelling what is pending when a relation ends, guardian reach.", COMMUNICATION,
                 f"Until erased: GuardianRelationEnded and PersonRemoved set active = false; rows are never deleted — {PENDING}.",
                 (f"Counts only ({N_SCHOOL}): GET /school-units/{{id}}/audience, POST /broadcasts/audience.",
                  "Guardian ids through delivery (receipts, unreached); pupil ids never leave over HTTP."),
                 "Replica of the city's guardian relations (shared/city/migrations/person.sql)."),
        Personal("contact", ("email", "mobile"), CONTACT, (GUARDIAN, STAFF, PUPIL),
                 "Send messages by e-mail and SMS.", COMMUNICATION,
                 "Until erased: overwritten when the city's systems send new ones or the person confirms or removes their own; not "
                 f"deleted, not even on PersonRemoved — {PENDING}.",
                 ("city_admin with a reason (support, correction, access-request, delivery-problem, guardian-request, dpo-review), "
                  "each read logged in personal_data_access: GET /persons/{id}/contacts.",
                  "The person themselves (token subject = their person id), each read and change logged as own-data: GET /me/contacts, "
                  "PUT /me/contacts/email, PUT /me/contacts/phone, POST /me/contacts/{channel}/confirm, DELETE /me/contacts/{channel}.",
                  "The senders decrypt them to send (services/notification/sender.py)."),
                 "AES-256-GCM (services/notification/crypto.py), the person id as associated data, key id beside each row. "
                 "Any person known from the city's events can be given contact details, pupils included."),
        Personal("contact", ("person", "language"), PREFERENCES, (GUARDIAN, STAFF, PUPIL),
                 "Whose contact details these are, and the language the city's systems gave.", COMMUNICATION,
                 "As the contact details.",
                 ("city_admin: GET /persons/{id}/contacts (language).",),
                 "language is not encrypted."),
        Personal("contact", ("email_confirmed", "email_confirmed_at", "mobile_confirmed", "mobile_confirmed_at"), PREFERENCES,
                 (GUARDIAN, STAFF, PUPIL),
                 "Whether the address or number in use is the one the person confirmed with a code, and when.", COMMUNICATION,
                 "As the contact details; cleared when the person removes theirs.",
                 ("The person themselves: GET /me/contacts (confirmed, confirmedAt).",),
                 "A keyed hash (HMAC with a key from the key vault's master key) of the confirmed value, never the value."),
        Personal("contact", ("email_undeliverable", "email_undeliverable_at", "email_undeliverable_reason"), PREFERENCES,
                 (GUARDIAN, STAFF, PUPIL),
                 "That a hard bounce (a DSN or a provider's bounce, 5.x.x) said the e-mail address in use does not exist, when and "
                 "with which status code: later e-mails to it fail at once and the recipient's next channel is tried.", COMMUNICATION,
                 "As the contact details; lapses by itself when the address changes.",
                 ("No HTTP endpoint returns it; the bounce webhook writes it (POST /providers/email/bounces).",),
                 "A keyed hash (HMAC with a key from the key vault's master key) of the person and the address, never the address; "
                 "the reason is a code (bounce-hard-5.1.1), never the mail server's text."),
        Personal("contact_pending", ("value",), CONTACT, (GUARDIAN, STAFF, PUPIL),
                 "A new e-mail address or phone number the person gave, used only once confirmed with the code sent to it.",
                 COMMUNICATION,
                 retained(RULES, "pending-contacts", before="Deleted when confirmed, replaced or removed. "),
                 ("The person themselves: GET /me/contacts (pending), logged as own-data.",
                  "The confirmation code is sent to it once, by e-mail or SMS (usecases/self_service.py)."),
                 "AES-256-GCM like the contact details. The code itself is kept only as a keyed hash (code_hash), bound to the "
                 "person, the channel and the value."),
        Personal("contact_pending", ("person", "channel", "attempts", "expires_at", "codes_sent", "first_sent_at", "created_at"),
                 PREFERENCES, (GUARDIAN, STAFF, PUPIL),
                 "Whose new address this is, how long its code is valid, how often it was tried and how many codes were sent "
                 "(at most 5 tries per code, 5 codes an hour).", COMMUNICATION,
                 "As the pending value.",
                 ("The person themselves: GET /me/contacts (expiresAt, triesLeft).",)),
        Personal("device", ("token",), CONTACT, (GUARDIAN, STAFF, PUPIL),
                 "Send push messages to each of a person's devices.", COMMUNICATION,
                 retained(RULES, "push-devices", before="Deleted when the person removes the device (DELETE /me/devices/{id}); the "
                                                        "city's device when the city's systems send no push token. "),
                 ("The person themselves: GET /me/devices, GET /me/contacts (only the token's last four characters), logged as own-data.",
                  "city_admin with a reason: GET /persons/{id}/contacts (pushToken: the city's device's token).",
                  "The senders decrypt them to send (services/notification/sender.py)."),
                 "AES-256-GCM like the contact details, each row with its own key id. The push token the city's systems set "
                 "(PUT /persons/{id}/contacts, PUT /contacts) is the person's one device with source 'city'. A browser's Web Push "
                 "subscription (its push service's endpoint URL and its p256dh and auth keys) is kept as the token, as JSON "
                 "(POST /me/devices with subscription; services/notification/providers/webpush.py); an app's FCM registration token "
                 "as it is."),
        Personal("device", ("label",), FREE_TEXT, (GUARDIAN, STAFF, PUPIL),
                 "The name the person gave the device (\"Annas iPhone\"), to tell their devices apart.", COMMUNICATION,
                 "As the device.",
                 ("The person themselves: GET /me/devices, GET /me/contacts.",),
                 "Up to 100 characters the person wrote: may hold their name."),
        Personal("device", ("person", "source", "platform", "created_at", "last_used_at"), PREFERENCES, (GUARDIAN, STAFF, PUPIL),
                 "Whose device it is, who registered it, its platform, and when a push last reached it.", COMMUNICATION,
                 "As the device.",
                 ("The person themselves: GET /me/devices, GET /me/contacts.",)),
        Personal("device_send", ("delivery_id", "device_id", "state", "gateway_ref", "last_error", "updated_at"), PERSON_ID,
                 (GUARDIAN, STAFF),
                 "A push delivery sent to each device of the person: each send's reference, what the gateway said, when.", COMMUNICATION,
                 "Deleted with its delivery (ON DELETE CASCADE; the deliveries' retention rules, erasure).",
                 ("No HTTP endpoint returns it; the push gateway calls back with its id (POST /gateways/push/callbacks); the device "
                  "confirms with it (POST /push/receipts).",),
                 "gateway_ref is the provider's id — the gateway's, the push service's message URL (Location), FCM's message name — "
                 "which the provider's own log ties to the token or subscription."),
        Personal("contact", ("updated_by",), STAFF_IDENTITY, (STAFF,),
                 "Which account (the city's system, or the person themselves) wrote the contact details.", ACCOUNTABILITY,
                 "As the contact details.",
                 ("No HTTP endpoint returns it.",)),
        Personal("personal_data_access", ("actor", "actor_roles", "action", "subject", "subjects", "why_code", "path"), AUDIT,
                 (GUARDIAN, STAFF, PUPIL),
                 "The access log: who (token subject and roles) read or wrote whose contact details or messages, when, why "
                 "(the reason given, own-data for one's own, city-sync for the city's systems) and by which path "
                 "(services/notification/access_audit.py).", ACCOUNTABILITY,
                 retained(RULES, "personal-data-access",
                          before="Append-only in the database: a trigger refuses UPDATE, DELETE and TRUNCATE except the retention "
                                 "job's DELETE (migrations/0006_access_audit.sql). "),
                 ("data_protection: GET /privacy/access-log (filters: person, actor, from, to, action; that read is logged too; actors and "
                  "subjects also as PersonRef, a protected identity without id or name).",),
                 "A list's row (receipts, unreached, bypass log) names every person the answer carried in subjects, protected "
                 "identities included; path holds the person id of a single read. Took over contact_access (migrated, dropped)."),
        Personal("preference", ("person", "message_type", "channel", "mode"), PREFERENCES, (GUARDIAN, STAFF),
                 "What each recipient gets, on which channel, instantly or as a digest.", COMMUNICATION,
                 f"Until erased: kept after the person is removed — {PENDING}.",
                 (f"{N_SELF_}: GET /persons/{{id}}/preferences.",)),
        Personal("recipient_setting", ("person", "language", "quiet_start", "quiet_end"), PREFERENCES, (GUARDIAN, STAFF),
                 "A recipient's language and quiet hours.", COMMUNICATION,
                 f"Until erased: kept after the person is removed — {PENDING}.",
                 (f"{N_SELF_}: GET /persons/{{id}}/preferences.",)),
        Personal("message", ("data",), FREE_TEXT, (GUARDIAN, STAFF, PUPIL),
                 "The content of a message, composed per recipient's language from a template.", COMMUNICATION,
                 retained(RULES, "messages"),
                 (f"Each recipient — {N_SELF} (with a reason, logged in personal_data_access): GET /persons/{{id}}/messages; "
                  "sent by e-mail, SMS and push.",),
                 "Holds a broadcast's subject and body as written (each language version), a request decision's conditions or reason "
                 "and a reviewer's question to the requester."),
        Personal("message", ("dedupe_key",), PERSON_ID, (GUARDIAN, STAFF),
                 "Make each message once per cause.", COMMUNICATION,
                 "As the message.",
                 ("No HTTP endpoint returns it.",),
                 "A digest's key is `digest:<person>:<channel>:<day>`: a person id inside a text column."),
        Personal("delivery", ("person", "channel", "mode", "state", "send_after", "quiet_bypassed", "attempts", "last_error",
                              "read_at", "gateway_ref"), PERSON_ID, (GUARDIAN, STAFF),
                 "One row per recipient and channel: sending, retries, fallbacks, read receipts, guardian reach.", COMMUNICATION,
                 " ".join((retained(RULES, "deliveries"), retained(RULES, "inbox-read"),
                           retained(RULES, "digest-items"))),
                 (f"{N_SELF_}: GET /persons/{{id}}/messages (read or not).",
                  f"{N_SCHOOL}: GET /broadcasts/{{id}}/receipts (per recipient: read, state per channel), "
                  "GET /school-units/{id}/unreached; protected identities without their id; with a reason, each read logged in "
                  "personal_data_access.",
                  "principal, district_admin, city_admin who sent the broadcast or act for all its schools: "
                  "GET /broadcasts/{id} (counts only)."),
                 "last_error holds codes (smtp-550, http-400, 46elks-failed, bounce-hard-5.1.1), never the provider's text; "
                 "gateway_ref is the gateway's or provider's id (46elks' message id), which the provider's own log ties to the "
                 "address or number."),
        Personal("pending_plan", ("recipients",), PERSON_ID, (GUARDIAN, STAFF),
                 "The recipients of a broadcast whose deliveries are not planned yet (planned in chunks just after it is "
                 "accepted, usecases/planning.py).", COMMUNICATION,
                 "Until planned: each chunk leaves the list as its deliveries are made (seconds); the list goes with its "
                 "message, and a person leaves every list on erasure, removal or when the relation to the school ends.",
                 ("No HTTP endpoint returns it; GET /broadcasts/{id} counts it (notYetPlanned).",)),
        Personal("broadcast", ("sender",), STAFF_IDENTITY, (STAFF,),
                 "Who sent a broadcast.", ACCOUNTABILITY,
                 retained(RULES, "broadcasts"),
                 ("The sender, or who acts for all its schools (principal, district_admin, city_admin): GET /broadcasts/{id}.",)),
        Personal("broadcast", ("subject", "body", "translations"), FREE_TEXT, (PUPIL, GUARDIAN, STAFF),
                 "What a principal or district admin wrote to an audience.", COMMUNICATION,
                 "As the broadcast (broadcasts).",
                 ("The sender, or who acts for all its schools: GET /broadcasts/{id} (subject only).",
                  "The recipients: GET /persons/{id}/messages (subject and body, from message.data); e-mail, SMS, push."),
                 "Up to 5,000 characters written by staff: may name a pupil."),
        Personal("quiet_hours_bypass", ("person", "channel", "local_time"), AUDIT, (GUARDIAN, STAFF),
                 "Every critical message sent inside someone's quiet hours (docs/decisions/0007).", ACCOUNTABILITY,
                 retained(RULES, "quiet-hours-bypasses", before="Append-only. ",
                          after="The message it points at stays as long as the entry does."),
                 (f"{N_SCHOOL} (for that school): GET /quiet-hours-bypasses?schoolUnitId=.",
                  "city_admin, data_protection (the whole city): GET /quiet-hours-bypasses.",
                  "With a reason, each read logged in personal_data_access; protected identities without their id."),
                 "Hides protected identities (person: id and name null, protected true), as receipts and unreached do."),
        Personal("access_request", ("person",), PERSON_ID, (PUPIL, GUARDIAN, STAFF),
                 "Whose data a right-of-access request asks for (docs/decisions/0010).", ACCESS,
                 f"The request row stays as the record that the request was answered, after its export is dropped — {PENDING}.",
                 ("Whoever asked (token subject = requested_by): GET /privacy/access-requests/{id}, GET /privacy/access-requests "
                  "(their own requests, the person as a PersonRef).",),
                 "Sealed with the person's own key in AccessRequested (shared/privacy/vault.py); plain here."),
        Personal("access_request", ("requested_by",), STAFF_IDENTITY, (STAFF, GUARDIAN),
                 "Who asked: data_protection, a city admin, or the person themselves; only they may read the export.", ACCESS,
                 "As the request row.",
                 ("Whoever asked: GET /privacy/access-requests/{id}, GET /privacy/access-requests (their own requests).",)),
        Personal("access_request", ("export",), EXPORT, (PUPIL, GUARDIAN, STAFF),
                 "The assembled export: everything the four services hold about the person, for whoever asked to fetch.", ACCESS,
                 "30 days after it was complete (job access-exports), then dropped; the request row stays without it.",
                 ("Whoever asked: GET /privacy/access-requests/{id}, each read logged in personal_data_access.",),
                 "Contact details included, in clear inside: the whole document is encrypted with notification's keyring "
                 "(AES-256-GCM, the request id as associated data)."),
        Personal("access_request_part", ("part",), EXPORT, (PUPIL, GUARDIAN, STAFF),
                 "Each service's part of an export as it arrived, until the four are in.", ACCESS,
                 "Deleted when the export is assembled, or when a request still pending after 30 days is given up.",
                 ("No HTTP endpoint: only the request's private key opens a part.",),
                 "Sealed for the request's X25519 public key (shared/privacy/sealedbox.py), as on the topics."),
        Personal("erasure_request", ("person_ref", "person_hash", "requested_by"), PERSON_ID, (PUPIL, GUARDIAN, STAFF),
                 "Whose data is being erased, and who asked, until every service has confirmed (docs/decisions/0009).", ERASURE,
                 "person_ref (the person sealed with their own key) and person_hash (a keyed hash, to find a pending request "
                 "for the same person) are dropped when the request completes, and the key destroyed; the row stays, naming no one.",
                 ("city_admin, data_protection: GET /privacy/erasure-requests/{id}, GET /privacy/erasure-requests (never the person).",),
                 "requested_by is the asker sealed (a person) or the name of the city system's account."),
        outbox_entry("notification", RULES, "recipients' person ids, sealed with each person's own key (MessageDelivered, MessageFailed, keyed by "
                                     "the message; ErasureRequested, AccessRequested; docs/decisions/0009)",
                     "this service consumes the city's persons, duties and guardian relations: guardian, pupil and staff ids; "
                     "a person event's key and ce_subject header are the person id", "skolit.notification",
                     "consumed by reporting", (GUARDIAN, STAFF, PUPIL), ("key", "payload", "headers")),
    ),
    not_personal=(
        ORGANISATION, ORGANISATION_NAME, INBOX, MIGRATIONS, OUTBOX_PARKING, IDEMPOTENCY_KEY, JOB_RUN,
        NotPersonal("contact", "The id of the key that encrypted the row.", ("key_id",)),
        NotPersonal("contact_pending", "The id of the key that encrypted the value.", ("key_id",)),
        NotPersonal("device", "The id of the key that encrypted the token.", ("key_id",)),
        NotPersonal("access_request", "Why the request was made: a code from a fixed list (data-subject-request, ...).", ("reason_code",)),
        NotPersonal("erasure_request", "Why: a code from a fixed list (art. 17.1 GDPR); and whether the person's key is destroyed.",
                    ("reason_code", "key_destroyed")),
        NotPersonal("erasure_confirmation", "Each service's confirmation of an erasure: when, and how many rows of each table — "
                                            "counts, never an id."),
        NotPersonal("access_request", "The request's X25519 private key, encrypted with the keyring, and the keyring's key ids: "
                                      "keys, not data about anyone. The private key is dropped once the export is complete.",
                    ("private_key", "private_key_id", "export_key_id")),
        NotPersonal("broadcast", "The audience as chosen: school units, school types, year groups, duty roles; never a list "
                                 "of persons.", ("audience",)),
        NotPersonal("broadcast", "How many recipients: a number.", ("recipients",)),
        NotPersonal("campaign", "Self-assessment rounds, for deadline reminders."),
        NotPersonal("campaign", "The round's name.", ("name",)),
        NotPersonal("campaign_school", "Deadline and submitted flag per school unit and round."),
        NotPersonal("reach_published", "Counts of guardians and of guardians reached per school and year."),
        NotPersonal("reach_published", "A number of guardians, not who.", ("guardians",)),
    ),
)

PRIVACY = PrivacyPart(data_map=DATA_MAP, retention=RULES, erase=q.erase_person, erased=NotificationDataErased)
