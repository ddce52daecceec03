"""Retention with controlled time, in each of the four services: rows are written with timestamps a minute
before and a minute after each data class's cut-off (as of a date years back, so nothing any other test made
is ever due), the service's ``retention`` job runs through ``POST /jobs/retention/run`` with that ``asOf``,
and exactly the rows due are gone — children with their parents, never a delivery on its way, never a row
something still points at — while every other row stays. Rows are written straight into each schema: the
API cannot date anything in the past. What a changed SKOLIT_RETENTION_* value does to a class's cut-off is
tests/unit/test_retention.py."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from shared import retention
from shared.clock import CITY_TZ, city_today
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration

AS_OF = date(2021, 6, 15)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
NEVER_DUE = datetime(2100, 1, 1, tzinfo=CITY_TZ)  # a pending delivery's send time: no sender ever claims it
MARK = "retention-test"


def cut(days: int) -> datetime:
    return retention.cutoff(AS_OF, days)


async def run_retention(http: httpx.AsyncClient, stack: Stack, service: str) -> dict[str, int]:
    url = stack.services[service].url
    listed = await http.get(f"{url}/jobs", headers=auth("city_admin"))
    assert "retention" in {j["name"] for j in listed.json()["items"]}, listed.text
    r = await http.post(f"{url}/jobs/retention/run", json={"asOf": AS_OF.isoformat()}, headers=auth("city_admin"))
    assert r.status_code == 200, r.text
    assert r.json()["asOf"] == AS_OF.isoformat()
    return r.json()["result"]


async def metric(http: httpx.AsyncClient, stack: Stack, service: str, data_class: str) -> float:
    text = (await http.get(f"{stack.services[service].url}/metrics")).text
    found = re.search(r'^skolit_retention_deleted_total\{data_class="' + re.escape(data_class) + r'",service="' + service + r'"\} (\S+)$',
                      text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@dataclass
class Messaging:
    """An inbox row and a published outbox row on each side of their cut-offs, in one schema."""

    schema: str
    inbox: dict[str, str] = field(default_factory=dict)
    outbox: dict[str, uuid.UUID] = field(default_factory=dict)
    idempotency: dict[str, str] = field(default_factory=dict)

    async def write(self, conn: asyncpg.Connection) -> None:
        for name, at in (("due", cut(1) - MINUTE), ("kept", cut(1) + MINUTE)):
            self.idempotency[name] = f"{MARK}-{uuid.uuid4()}"
            await conn.execute("INSERT INTO " + self.schema + ".idempotency_key (caller, key, fingerprint, status, body, created_at)"
                               " VALUES ('retention-test', $1, 'x', 201, '{}'::bytea, $2)", self.idempotency[name], at)
        for name, at in (("due", cut(30) - MINUTE), ("kept", cut(30) + MINUTE)):
            self.inbox[name] = f"{MARK}-{uuid.uuid4()}"
            await conn.execute("INSERT INTO " + self.schema + ".inbox (event_id, event_type, topic, partition, \"offset\", outcome, received_at)"
                               " VALUES ($1, 'test', 'skolit.test', 0, 0, 'applied', $2)", self.inbox[name], at)
        for name, at in (("due", cut(90) - MINUTE), ("kept", cut(90) + MINUTE)):
            self.outbox[name] = uuid.uuid4()
            # published already, so the relay leaves it alone
            await conn.execute("INSERT INTO " + self.schema + ".outbox (id, topic, headers, payload, event_type, created_at, published_at)"
                               " VALUES ($1, 'skolit.test', '[]'::jsonb, NULL, 'test', $2, $3)", self.outbox[name], at - DAY, at)

    async def check(self, conn: asyncpg.Connection) -> None:
        inbox = {r["event_id"] for r in await conn.fetch("SELECT event_id FROM " + self.schema + ".inbox WHERE event_id = ANY($1::text[])",
                                                         list(self.inbox.values()))}
        assert inbox == {self.inbox["kept"]}, self.schema
        outbox = {r["id"] for r in await conn.fetch("SELECT id FROM " + self.schema + ".outbox WHERE id = ANY($1::uuid[])",
                                                    list(self.outbox.values()))}
        assert outbox == {self.outbox["kept"]}, self.schema
        keys = {r["key"] for r in await conn.fetch("SELECT key FROM " + self.schema + ".idempotency_key WHERE key = ANY($1::text[])",
                                                   list(self.idempotency.values()))}
        assert keys == {self.idempotency["kept"]}, self.schema

    async def clean(self, conn: asyncpg.Connection) -> None:
        await conn.execute("DELETE FROM " + self.schema + ".inbox WHERE event_id = ANY($1::text[])", list(self.inbox.values()))
        await conn.execute("DELETE FROM " + self.schema + ".outbox WHERE id = ANY($1::uuid[])", list(self.outbox.values()))
        await conn.execute("DELETE FROM " + self.schema + ".idempotency_key WHERE key = ANY($1::text[])", list(self.idempotency.values()))


async def audit_rows(conn: asyncpg.Connection, schema: str) -> dict[str, int]:
    rows = {}
    for name, at in (("due", cut(1825) - MINUTE), ("kept", cut(1825) + MINUTE)):
        rows[name] = await conn.fetchval("INSERT INTO " + schema + ".audit_log (at, actor, action, entity, entity_id, detail)"
                                         " VALUES ($1, $2, 'test.retention', $3, $4, '{}'::jsonb) RETURNING id",
                                         at, str(uuid.uuid4()), MARK, name)
    return rows


async def remaining(conn: asyncpg.Connection, table: str, ids: list[Any], key: str = "id") -> set[Any]:
    return {r[0] for r in await conn.fetch("SELECT " + key + " FROM " + table + " WHERE " + key + " = ANY($1)", ids)}


# --- notification --------------------------------------------------------------------------------

@dataclass
class NotificationRows:
    messages: dict[str, uuid.UUID] = field(default_factory=dict)
    deliveries: dict[str, int] = field(default_factory=dict)
    bypasses: dict[str, int] = field(default_factory=dict)
    broadcasts: dict[str, uuid.UUID] = field(default_factory=dict)
    access: dict[str, int] = field(default_factory=dict)


async def write_notification(conn: asyncpg.Connection) -> NotificationRows:
    n = NotificationRows()

    async def message(name: str, created: datetime, *, kind: str = "broadcast", broadcast: uuid.UUID | None = None) -> uuid.UUID:
        n.messages[name] = uuid.uuid4()
        await conn.execute("INSERT INTO notification.message (id, dedupe_key, message_type, school_unit, data, created_at, broadcast_id)"
                           " VALUES ($1, $2, $3, $4, '{}'::jsonb, $5, $6)",
                           n.messages[name], f"{MARK}:{n.messages[name]}", kind, uuid.uuid4(), created, broadcast)
        return n.messages[name]

    async def delivery(name: str, msg: str, channel: str, state: str, updated: datetime, *, mode: str = "instant",
                       read: datetime | None = None, bundled: str | None = None, fallback: str | None = None,
                       person: uuid.UUID | None = None) -> None:
        n.deliveries[name] = await conn.fetchval(
            "INSERT INTO notification.delivery (message_id, person, channel, mode, state, send_after, read_at, created_at, updated_at,"
            " bundled_into, fallback_from) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10) RETURNING id",
            n.messages[msg], person or uuid.uuid4(), channel, mode, state, NEVER_DUE if state == "queued" else updated, read, updated,
            n.deliveries[bundled] if bundled else None, n.deliveries[fallback] if fallback else None)

    async def broadcast(name: str, created: datetime) -> uuid.UUID:
        n.broadcasts[name] = uuid.uuid4()
        await conn.execute("INSERT INTO notification.broadcast (id, sender, audience, subject, body, critical, recipients, created_at)"
                           " VALUES ($1, $2, '{}'::jsonb, 'Retention', 'Retention test', false, 1, $3)", n.broadcasts[name], MARK, created)
        return n.broadcasts[name]

    c365, c90, c730 = cut(365), cut(90), cut(730)
    # delivered and unread in-app a minute past the year: the deliveries and then their message go
    await message("due", c365 - MINUTE)
    await delivery("delivered-due", "due", "email", "delivered", c365 - MINUTE)
    await delivery("inapp-unread-due", "due", "inapp", "delivered", c365 - MINUTE)
    # a delivery a minute inside the year, and one still on its way however old: both stay, so their message does
    await message("kept-by-deliveries", c365 - DAY)
    await delivery("delivered-kept", "kept-by-deliveries", "email", "delivered", c365 + MINUTE)
    await delivery("pending", "kept-by-deliveries", "email", "queued", c365 - 100 * DAY)
    # read in-app items count from their reading, not from when they were made
    await message("read", c365 - 200 * DAY)
    await delivery("read-due", "read", "inapp", "delivered", c365 - 200 * DAY, read=c365 - MINUTE)
    await delivery("read-kept", "read", "inapp", "delivered", c365 - 200 * DAY, read=c365 + MINUTE)
    # digest items go after 90 days; the digest they went in stays as a delivery of its own
    await message("digest", c90 - 2 * DAY, kind="digest")
    await delivery("digest", "digest", "email", "delivered", c90 + DAY)
    await message("digested", c90 - 10 * DAY)
    await delivery("item-due", "digested", "email", "delivered", c90 - MINUTE, mode="digest", bundled="digest")
    await delivery("item-kept", "digested", "email", "delivered", c90 + MINUTE, mode="digest", bundled="digest")
    # a failed delivery a later fallback still points at stays; when both are due, both go
    await message("fallbacks", c365 - 50 * DAY)
    person, other = uuid.uuid4(), uuid.uuid4()
    await delivery("failed-kept", "fallbacks", "push", "permanent-failure", c365 - 10 * DAY, person=person)
    await delivery("fallback-kept", "fallbacks", "sms", "delivered", c365 + MINUTE, fallback="failed-kept", person=person)
    await delivery("failed-due", "fallbacks", "push", "permanent-failure", c365 - 10 * DAY, person=other)
    await delivery("fallback-due", "fallbacks", "sms", "delivered", c365 - 5 * DAY, fallback="failed-due", person=other)
    # quiet-hours bypass entries after two years; a message stays while an entry points at it
    for name, at in (("due", c730 - MINUTE), ("kept", c730 + MINUTE)):
        msg = await message(f"bypassed-{name}", c730 - 10 * DAY, kind="critical")
        n.bypasses[name] = await conn.fetchval("INSERT INTO notification.quiet_hours_bypass (at, message_id, person, channel, local_time)"
                                               " VALUES ($1, $2, $3, 'push', '22:30') RETURNING id", at, msg, uuid.uuid4())
    await message("new", c365 + MINUTE)
    # broadcasts go once their messages have
    await message("broadcast-due", c365 - MINUTE, broadcast=await broadcast("due", c365 - MINUTE))
    await message("broadcast-kept", c365 - 5 * DAY, broadcast=await broadcast("kept-by-message", c365 - 5 * DAY))
    await delivery("broadcast-pending", "broadcast-kept", "email", "queued", c365 - 5 * DAY)
    await broadcast("new", c365 + MINUTE)
    # the access log: append-only, but its retention may delete
    for name, at in (("due", cut(1825) - MINUTE), ("kept", cut(1825) + MINUTE)):
        n.access[name] = await conn.fetchval("INSERT INTO notification.personal_data_access (at, actor, action, subject, subjects, why_code, path)"
                                             " VALUES ($1, $2, 'contact.read', $3::uuid, ARRAY[$3::uuid], 'support', '/test') RETURNING id",
                                             at, MARK, uuid.uuid4())
    return n


async def clean_notification(conn: asyncpg.Connection, n: NotificationRows) -> None:
    async with conn.transaction():
        await conn.execute("UPDATE notification.delivery SET bundled_into = NULL, fallback_from = NULL WHERE id = ANY($1::bigint[])",
                           list(n.deliveries.values()))
        await conn.execute("DELETE FROM notification.delivery WHERE id = ANY($1::bigint[])", list(n.deliveries.values()))
        await conn.execute("DELETE FROM notification.quiet_hours_bypass WHERE id = ANY($1::bigint[])", list(n.bypasses.values()))
        await conn.execute("DELETE FROM notification.message WHERE id = ANY($1::uuid[])", list(n.messages.values()))
        await conn.execute("DELETE FROM notification.broadcast WHERE id = ANY($1::uuid[])", list(n.broadcasts.values()))
        await conn.execute("SET LOCAL skolit.retention = 'on'")
        await conn.execute("DELETE FROM notification.personal_data_access WHERE id = ANY($1::bigint[])", list(n.access.values()))


async def test_notification_removes_exactly_what_is_due(stack: Stack) -> None:
    conn = await asyncpg.connect(stack.admin_url)
    messaging = Messaging("notification")
    n = NotificationRows()
    try:
        n = await write_notification(conn)
        await messaging.write(conn)
        async with httpx.AsyncClient(timeout=60) as http:
            before = await metric(http, stack, "notification", "deliveries")
            result = await run_retention(http, stack, "notification")
            assert result == {"digest-items": 1, "deliveries": 4, "inbox-read": 1, "quiet-hours-bypasses": 1, "messages": 3,
                              "broadcasts": 1, "personal-data-access": 1, "inbox": 1, "outbox": 1, "idempotency": 1,
                              "pending-contacts": 0, "push-devices": 0}, result
            assert await metric(http, stack, "notification", "deliveries") == before + 4
            again = await run_retention(http, stack, "notification")
            assert set(again.values()) == {0}, again  # the same day again: nothing more is due

        d = n.deliveries
        left = await remaining(conn, "notification.delivery", list(d.values()))
        assert {k for k, v in d.items() if v in left} == {"delivered-kept", "pending", "read-kept", "digest", "item-kept", "failed-kept",
                                                          "fallback-kept", "broadcast-pending"}
        m = n.messages
        left = await remaining(conn, "notification.message", list(m.values()))
        assert {k for k, v in m.items() if v in left} == {"kept-by-deliveries", "read", "digest", "digested", "fallbacks", "bypassed-kept",
                                                          "new", "broadcast-kept"}
        assert await remaining(conn, "notification.quiet_hours_bypass", list(n.bypasses.values())) == {n.bypasses["kept"]}
        b = n.broadcasts
        assert await remaining(conn, "notification.broadcast", list(b.values())) == {b["kept-by-message"], b["new"]}
        assert await remaining(conn, "notification.personal_data_access", list(n.access.values())) == {n.access["kept"]}
        await messaging.check(conn)
    finally:
        await clean_notification(conn, n)
        await messaging.clean(conn)
        await conn.close()


async def test_an_unpublished_event_is_never_due_however_old(stack: Stack) -> None:
    """The outbox rule itself, on the real schema, inside a transaction that is rolled back: an unpublished
    row never commits, so the relay never sees it."""
    conn = await asyncpg.connect(stack.admin_url)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL search_path = notification")
            waiting, sent = uuid.uuid4(), uuid.uuid4()
            await conn.execute("INSERT INTO outbox (id, topic, headers, event_type, created_at) VALUES ($1, 'skolit.test', '[]'::jsonb, 'test', $2)",
                               waiting, cut(90) - 400 * DAY)
            await conn.execute("INSERT INTO outbox (id, topic, headers, event_type, created_at, published_at)"
                               " VALUES ($1, 'skolit.test', '[]'::jsonb, 'test', $2, $2)", sent, cut(90) - 400 * DAY)
            outbox_rules = [r for r in retention.messaging() if r.data_class == "outbox"]
            assert await retention.run(conn, "notification", outbox_rules, AS_OF) == {"outbox": 1}
            assert await remaining(conn, "outbox", [waiting, sent]) == {waiting}
            raise _RollBack
    except _RollBack:
        pass
    finally:
        await conn.close()


class _RollBack(Exception):
    pass


# --- assessment ----------------------------------------------------------------------------------

async def test_assessment_removes_the_pulse_of_rounds_closed_long_enough_and_old_audit(stack: Stack) -> None:
    conn = await asyncpg.connect(stack.admin_url)
    messaging = Messaging("assessment")
    campaigns: dict[str, uuid.UUID] = {}
    audit: dict[str, int] = {}
    try:
        c30 = cut(30)
        for name, status, closed in (("closed-due", "closed", c30 - MINUTE), ("closed-kept", "closed", c30 + MINUTE),
                                     ("open", "open", None)):
            campaigns[name] = uuid.uuid4()
            await conn.execute("INSERT INTO assessment.campaign (id, name, year, deadline, status, opened_by, opened_at, framework_version,"
                               " closed_at, closed_by) VALUES ($1, $2, 2020, '2021-03-31', $3, $4, $5, 1, $6, $7)",
                               campaigns[name], f"{MARK} {name}", status, MARK, c30 - 300 * DAY, closed, MARK if closed else None)
            school = uuid.uuid4()
            await conn.execute("INSERT INTO assessment.pulse_respondents (campaign_id, school_unit, grp, respondents) VALUES ($1, $2, 'staff', 6)",
                               campaigns[name], school)
            await conn.executemany("INSERT INTO assessment.pulse_tally (campaign_id, school_unit, grp, heading, level, count)"
                                   " VALUES ($1, $2, 'staff', $3, $4, 3)",
                                   [(campaigns[name], school, "infrastruktur", 3), (campaigns[name], school, "infrastruktur", 4)])
        audit = await audit_rows(conn, "assessment")
        await messaging.write(conn)
        async with httpx.AsyncClient(timeout=60) as http:
            result = await run_retention(http, stack, "assessment")
        # the closed round's two tally rows and its respondent count
        assert result == {"pulse": 3, "audit-log": 1, "inbox": 1, "outbox": 1, "idempotency": 1}, result
        ids = list(campaigns.values())
        tallied = await remaining(conn, "assessment.pulse_tally", ids, key="campaign_id")
        counted = await remaining(conn, "assessment.pulse_respondents", ids, key="campaign_id")
        assert tallied == counted == {campaigns["closed-kept"], campaigns["open"]}
        assert await remaining(conn, "assessment.campaign", ids) == set(ids)  # the rounds themselves stay
        assert await remaining(conn, "assessment.audit_log", list(audit.values())) == {audit["kept"]}
        await messaging.check(conn)
    finally:
        ids = list(campaigns.values())
        await conn.execute("DELETE FROM assessment.pulse_tally WHERE campaign_id = ANY($1::uuid[])", ids)
        await conn.execute("DELETE FROM assessment.pulse_respondents WHERE campaign_id = ANY($1::uuid[])", ids)
        await conn.execute("DELETE FROM assessment.campaign WHERE id = ANY($1::uuid[])", ids)
        await conn.execute("DELETE FROM assessment.audit_log WHERE id = ANY($1::bigint[])", list(audit.values()))
        await messaging.clean(conn)
        await conn.close()


# --- catalog -------------------------------------------------------------------------------------

async def test_catalog_removes_closed_requests_with_their_steps_and_old_audit(stack: Stack) -> None:
    conn = await asyncpg.connect(stack.admin_url)
    messaging = Messaging("catalog")
    requests: dict[str, uuid.UUID] = {}
    audit: dict[str, int] = {}
    try:
        c = cut(1095)
        for name, state, updated in (("rejected-due", "rejected", c - MINUTE), ("withdrawn-due", "withdrawn", c - DAY),
                                     ("approved-kept", "approved", c + MINUTE), ("open-kept", "needs_info", c - 400 * DAY)):
            requests[name] = uuid.uuid4()
            await conn.execute(
                "INSERT INTO catalog.app_request (id, school_unit, requester, requester_duty, app_name, purpose, state, reason, created_at,"
                " updated_at) VALUES ($1, $2, $3, 'Lärare', 'Retentionsappen', 'Läsförståelse', $4, $5, $6, $7)",
                requests[name], uuid.uuid4(), str(uuid.uuid4()), state, "Skäl" if state == "rejected" else None, updated - 30 * DAY, updated)
            await conn.executemany("INSERT INTO catalog.app_request_step (request_id, at, actor, step, note) VALUES ($1, $2, $3, $4, $5)",
                                   [(requests[name], updated - 30 * DAY, MARK, "submitted", None), (requests[name], updated, MARK, state, "En anteckning")])
        audit = await audit_rows(conn, "catalog")
        await messaging.write(conn)
        async with httpx.AsyncClient(timeout=60) as http:
            result = await run_retention(http, stack, "catalog")
        assert result == {"closed-requests": 6, "audit-log": 1, "inbox": 1, "outbox": 1, "idempotency": 1}, result  # two requests, two steps each
        ids = list(requests.values())
        assert await remaining(conn, "catalog.app_request", ids) == {requests["approved-kept"], requests["open-kept"]}
        assert await remaining(conn, "catalog.app_request_step", ids, key="request_id") == {requests["approved-kept"], requests["open-kept"]}
        assert await remaining(conn, "catalog.audit_log", list(audit.values())) == {audit["kept"]}
        await messaging.check(conn)
    finally:
        ids = list(requests.values())
        await conn.execute("DELETE FROM catalog.app_request_step WHERE request_id = ANY($1::uuid[])", ids)
        await conn.execute("DELETE FROM catalog.app_request WHERE id = ANY($1::uuid[])", ids)
        await conn.execute("DELETE FROM catalog.audit_log WHERE id = ANY($1::bigint[])", list(audit.values()))
        await messaging.clean(conn)
        await conn.close()


# --- reporting -----------------------------------------------------------------------------------

async def test_reporting_removes_old_messaging_rows_only(stack: Stack) -> None:
    """Reporting holds no raw data about persons (services/reporting/retention.py): its read models are per
    school, so only the messaging tables have a period."""
    conn = await asyncpg.connect(stack.admin_url)
    messaging = Messaging("reporting")
    try:
        await messaging.write(conn)
        async with httpx.AsyncClient(timeout=60) as http:
            result = await run_retention(http, stack, "reporting")
        assert result == {"inbox": 1, "outbox": 1, "idempotency": 1}, result
        await messaging.check(conn)
    finally:
        await messaging.clean(conn)
        await conn.close()


async def test_the_clock_override_is_needed_to_run_retention_as_of_another_day(stack: Stack) -> None:
    """Without an asOf the job runs as of the city's today (nothing the other tests made is that old); a role other
    than city admin may not run it at all."""
    async with httpx.AsyncClient(timeout=60) as http:
        for service, svc in stack.services.items():
            r = await http.post(f"{svc.url}/jobs/retention/run", json={}, headers=auth("city_admin"))
            assert r.status_code == 200, (service, r.text)
            assert r.json()["asOf"] == city_today().isoformat(), (service, r.text)
            refused = await http.post(f"{svc.url}/jobs/retention/run", json={"asOf": AS_OF.isoformat()}, headers=auth("data_protection"))
            assert refused.status_code == 403, (service, refused.status_code)
