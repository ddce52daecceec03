"""The access log of personal data (services/notification/access_audit.py) over the live service: each API read
of a person's contact details or messages — contacts, an inbox (one's own and someone else's), a broadcast's
receipts, the unreached worklist, the quiet-hours bypass log — leaves exactly one row with the right actor,
roles, action, subjects and why-code; a read of someone else's data without a reason is a 422 problem and
leaves none; PostgreSQL itself refuses to change or remove a row; the data-protection officer's query filters
by person, actor, time and action, pages, and is logged too; no other role may read it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio

from shared.clock import CITY_TZ
from shared.events.city import DutyAssigned, GuardianRelationAdded, PersonUpserted
from tests.support.city import school_unit
from tests.support.kafka import eventually, send, wire
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration


@dataclass
class Place:
    """A school with its Rektor and three guardians: one with an app (push) asleep in quiet hours, one with
    e-mail, one with a protected identity and no contact details at all (unreached)."""

    url: str
    school: uuid.UUID = field(default_factory=uuid.uuid4)
    district: uuid.UUID = field(default_factory=uuid.uuid4)
    rektor: uuid.UUID = field(default_factory=uuid.uuid4)
    sleeper: uuid.UUID = field(default_factory=uuid.uuid4)
    mail: uuid.UUID = field(default_factory=uuid.uuid4)
    hidden: uuid.UUID = field(default_factory=uuid.uuid4)
    broadcast: str = ""
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def guardians(self) -> set[uuid.UUID]:
        return {self.sleeper, self.mail, self.hidden}

    def principal(self) -> dict[str, str]:
        return auth("principal", subject=str(self.rektor), school_units=(str(self.school),))

    def admin(self, name: str) -> tuple[str, dict[str, str]]:
        subject = f"{name}-{self.tag}"
        return subject, auth("city_admin", subject=subject)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def place(stack: Stack) -> AsyncIterator[Place]:
    p = Place(url=stack.services["notification"].url)
    events: list[Any] = [school_unit(p.school, p.district, name="Loggskolan"), PersonUpserted(id=p.rektor),
                         DutyAssigned(id=uuid.uuid4(), person=p.rektor, dutyAt=p.school, dutyRole="Rektor")]
    for g in (p.sleeper, p.mail, p.hidden):
        pupil = uuid.uuid4()
        events += [PersonUpserted(id=g, securityMarking="Skyddad folkbokföring" if g == p.hidden else "Ingen"), PersonUpserted(id=pupil),
                   GuardianRelationAdded(id=uuid.uuid4(), guardian=g, pupil=pupil, schoolUnit=p.school, schoolType="GR", schoolYear=5)]
    await send(stack.bootstrap, [wire(e) for e in events])
    sync = auth("city_admin", subject="city-sync")
    local = datetime.now(CITY_TZ)
    asleep = {"start": (local - timedelta(hours=1)).strftime("%H:%M"), "end": (local + timedelta(hours=1)).strftime("%H:%M")}
    async with httpx.AsyncClient(timeout=30) as http:
        async def audience() -> bool:
            r = await http.get(f"{p.url}/school-units/{p.school}/audience", headers=auth("city_admin"))
            return r.status_code == 200 and r.json()["guardians"] == 3

        await eventually(audience, what="the school's guardians in notification")
        for g, contacts in ((p.sleeper, {"pushToken": f"tok-audit-{p.tag}"}), (p.mail, {"email": f"audit-{p.tag}@example.se"})):
            assert (await http.put(f"{p.url}/persons/{g}/contacts", json=contacts, headers=sync)).status_code == 200
        me = auth("guardian", subject=str(p.sleeper))
        assert (await http.put(f"{p.url}/persons/{p.sleeper}/preferences", json={"quietHours": asleep}, headers=me)).status_code == 200
        awake = {"quietHours": None}  # whatever the hour the test runs at: only the sleeper is bypassed
        assert (await http.put(f"{p.url}/persons/{p.mail}/preferences", json=awake, headers=auth("guardian", subject=str(p.mail)))).status_code == 200
        sent = await http.post(f"{p.url}/broadcasts", headers=p.principal(), json={
            "audience": {"kind": "guardians", "schoolUnitIds": [str(p.school)]}, "subject": "Skolan stängd", "critical": True,
            "body": "Vattenläcka: skolan håller stängt i dag."})
        assert sent.status_code == 201, sent.text
        p.broadcast = sent.json()["id"]
    yield p


async def rows(stack: Stack, *, actor: str | None = None, id: int | None = None) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(stack.admin_url)
    try:
        return await conn.fetch("SELECT * FROM notification.personal_data_access WHERE ($1::text IS NULL OR actor = $1)"
                                " AND ($2::bigint IS NULL OR id = $2) ORDER BY id", actor, id)
    finally:
        await conn.close()


async def one_row_per_read(stack: Stack, http: httpx.AsyncClient, actor: str, method: str, url: str, headers: dict[str, str],
                           params: dict[str, str] | None = None) -> tuple[httpx.Response, asyncpg.Record]:
    before = len(await rows(stack, actor=actor))
    r = await http.request(method, url, params=params, headers=headers)
    assert r.status_code == 200, (url, r.status_code, r.text)
    after = await rows(stack, actor=actor)
    assert len(after) == before + 1, (url, [dict(x) for x in after[before:]])
    return r, after[-1]


async def test_each_read_of_personal_data_leaves_one_row_with_who_what_about_whom_and_why(stack: Stack, place: Place) -> None:
    p = place
    async with httpx.AsyncClient(timeout=30) as http:
        # contact details, by a city admin with a reason
        actor, admin = p.admin("support")
        r, row = await one_row_per_read(stack, http, actor, "GET", f"{p.url}/persons/{p.mail}/contacts", admin, {"reason": "support"})
        assert r.json()["email"] == f"audit-{p.tag}@example.se"
        assert (row["action"], row["subject"], list(row["subjects"]), row["why_code"], list(row["actor_roles"]), row["path"]) == (
            "contact.read", p.mail, [p.mail], "support", ["city_admin"], f"/persons/{p.mail}/contacts")
        assert abs(row["at"] - datetime.now(UTC)) < timedelta(minutes=1)

        # one's own inbox: no reason needed, own-data
        me = auth("guardian", subject=str(p.mail))
        r, row = await one_row_per_read(stack, http, str(p.mail), "GET", f"{p.url}/persons/{p.mail}/messages", me)
        [item] = r.json()["items"]
        assert "Skolan stängd" in item["subject"]
        assert (row["action"], row["subject"], row["why_code"], list(row["actor_roles"])) == ("messages.read", p.mail, "own-data", ["guardian"])

        # someone else's inbox: the reason given
        actor, admin = p.admin("inbox")
        _, row = await one_row_per_read(stack, http, actor, "GET", f"{p.url}/persons/{p.sleeper}/messages", admin,
                                        {"reason": "guardian-request"})
        assert (row["action"], row["subject"], row["why_code"]) == ("messages.read", p.sleeper, "guardian-request")

        # lists: no single subject, every person the answer carried — the protected identity too, though the answer hides it
        rektor = str(p.rektor)
        r, row = await one_row_per_read(stack, http, rektor, "GET", f"{p.url}/broadcasts/{p.broadcast}/receipts", p.principal(),
                                        {"schoolUnitId": str(p.school), "reason": "delivery-problem"})
        assert str(p.hidden) not in r.text and len(r.json()["items"]) == 3
        assert (row["action"], row["subject"], set(row["subjects"]), row["why_code"], list(row["actor_roles"])) == (
            "receipts.read", None, p.guardians, "delivery-problem", ["principal"])

        r, row = await one_row_per_read(stack, http, rektor, "GET", f"{p.url}/school-units/{p.school}/unreached", p.principal(),
                                        {"reason": "delivery-problem"})
        assert str(p.hidden) not in r.text and r.json()["guardians"] >= 1
        assert row["action"] == "unreached.read" and row["subject"] is None and p.hidden in row["subjects"]
        assert set(row["subjects"]) <= p.guardians

        r, row = await one_row_per_read(stack, http, rektor, "GET", f"{p.url}/quiet-hours-bypasses", p.principal(),
                                        {"schoolUnitId": str(p.school), "reason": "support"})
        assert [(e["person"]["id"], e["channel"]) for e in r.json()["items"]] == [(str(p.sleeper), "push")]
        assert (row["action"], list(row["subjects"]), row["why_code"], row["path"]) == (
            "quiet-hours-bypasses.read", [p.sleeper], "support", "/quiet-hours-bypasses")


async def test_a_read_of_someone_elses_data_without_a_reason_is_refused_and_leaves_nothing(stack: Stack, place: Place) -> None:
    p = place
    actor, admin = p.admin("no-reason")
    reads = [
        (f"{p.url}/persons/{p.mail}/contacts", admin, {}),
        (f"{p.url}/persons/{p.mail}/messages", admin, {}),
        (f"{p.url}/persons/{p.mail}/contacts", admin, {"reason": "curiosity"}),
        (f"{p.url}/broadcasts/{p.broadcast}/receipts", admin, {"schoolUnitId": str(p.school)}),
        (f"{p.url}/school-units/{p.school}/unreached", admin, {}),
        (f"{p.url}/quiet-hours-bypasses", admin, {"schoolUnitId": str(p.school)}),
    ]
    async with httpx.AsyncClient(timeout=30) as http:
        for url, headers, params in reads:
            r = await http.get(url, params=params, headers=headers)
            assert r.status_code == 422, (url, params, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            body = r.json()
            assert body["status"] == 422 and any(e["location"].endswith("reason") for e in body["errors"]), body
    assert await rows(stack, actor=actor) == []


async def test_postgresql_refuses_to_change_or_remove_a_row(stack: Stack, place: Place) -> None:
    """As the database administrator and as the service's own login: UPDATE, DELETE and TRUNCATE are refused
    by the table's trigger; only a transaction that says it is the retention job may delete."""
    [row, *_] = await rows(stack, actor="city-sync")
    for url in (stack.admin_url, stack.service_url("notification")):
        conn = await asyncpg.connect(url)
        try:
            for statement in ("UPDATE notification.personal_data_access SET why_code = 'support' WHERE id = $1",
                              "UPDATE notification.personal_data_access SET actor = 'someone-else' WHERE id = $1",
                              "DELETE FROM notification.personal_data_access WHERE id = $1"):
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                    await conn.execute(statement, row["id"])
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute("TRUNCATE notification.personal_data_access")
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):  # the retention job deletes; it never rewrites
                async with conn.transaction():
                    await conn.execute("SET LOCAL skolit.retention = 'on'")
                    await conn.execute("UPDATE notification.personal_data_access SET why_code = 'x' WHERE id = $1", row["id"])
        finally:
            await conn.close()
    [again] = await rows(stack, id=row["id"])
    assert dict(again) == dict(row)


async def test_the_data_protection_officer_queries_the_log_and_that_read_is_logged(stack: Stack, place: Place) -> None:
    p = place
    dpo_subject = f"dpo-{p.tag}"
    dpo = auth("data_protection", subject=dpo_subject)
    log = f"{p.url}/privacy/access-log"
    async with httpx.AsyncClient(timeout=30) as http:
        actor, admin = p.admin("filters")
        for reason in ("support", "correction"):
            assert (await http.get(f"{p.url}/persons/{p.sleeper}/contacts", params={"reason": reason}, headers=admin)).status_code == 200
        started = datetime.now(UTC)
        assert (await http.get(f"{p.url}/persons/{p.sleeper}/messages", params={"reason": "support"}, headers=admin)).status_code == 200

        by_actor = (await http.get(log, params={"actor": actor}, headers=dpo)).json()
        assert [(i["action"], i["why"]) for i in by_actor["items"]] == [("messages.read", "support"), ("contact.read", "correction"),
                                                                        ("contact.read", "support")]  # newest first
        first = by_actor["items"][0]
        assert first["subject"] == str(p.sleeper) and first["actorRoles"] == ["city_admin"] and first["path"] == f"/persons/{p.sleeper}/messages"
        assert first["actor"] == actor and first["actorPerson"] is None  # an account, not a person

        contacts_only = (await http.get(log, params={"actor": actor, "action": "contact.read"}, headers=dpo)).json()["items"]
        assert [i["why"] for i in contacts_only] == ["correction", "support"]
        since = (await http.get(log, params={"actor": actor, "from": started.isoformat()}, headers=dpo)).json()["items"]
        assert [i["action"] for i in since] == ["messages.read"]
        until = (await http.get(log, params={"actor": actor, "to": started.isoformat()}, headers=dpo)).json()["items"]
        assert [i["action"] for i in until] == ["contact.read", "contact.read"]

        # by person: every list that carried them (the protected guardian too, whom the answer itself hides)
        receipts = await http.get(f"{p.url}/broadcasts/{p.broadcast}/receipts", params={"schoolUnitId": str(p.school), "reason": "support"},
                                  headers=p.principal())
        assert receipts.status_code == 200 and str(p.hidden) not in receipts.text
        about = (await http.get(log, params={"person": str(p.hidden), "limit": 500}, headers=dpo)).json()["items"]
        assert "receipts.read" in {i["action"] for i in about}
        read_by = next(i for i in about if i["action"] == "receipts.read")
        assert read_by["actor"] == str(p.rektor) and read_by["actorPerson"]["id"] == str(p.rektor) and not read_by["actorPerson"]["protected"]
        assert all(str(p.hidden) in i["subjects"] for i in about)
        about_sleeper = (await http.get(log, params={"person": str(p.sleeper), "actor": actor}, headers=dpo)).json()["items"]
        assert len(about_sleeper) == 3

        # pages
        page1 = (await http.get(log, params={"actor": actor, "limit": 2}, headers=dpo)).json()
        page2 = (await http.get(log, params={"actor": actor, "limit": 2, "cursor": page1["next"]}, headers=dpo)).json()
        assert page1["next"] and page2["next"] is None and page1["limit"] == 2 and page1["total"] is None
        assert [i["id"] for i in page1["items"] + page2["items"]] == [i["id"] for i in by_actor["items"]]

        # the officer's reads are in the log too, with whom they were about
        own = (await http.get(log, params={"actor": dpo_subject, "action": "access-log.read"}, headers=dpo)).json()["items"]
        assert len(own) == 8 and all(i["why"] == "dpo-review" and i["actorRoles"] == ["data_protection"] for i in own)
        assert any(i["subject"] == str(p.hidden) for i in own)

        bad = await http.get(log, params={"from": "2026-11-01T00:00:00"}, headers=dpo)  # no offset: which 00:00?
        assert bad.status_code == 422 and bad.json()["field"] == "from"
        assert (await http.get(log, params={"action": "everything"}, headers=dpo)).status_code == 422


async def test_only_the_data_protection_officer_may_read_the_log(stack: Stack, place: Place) -> None:
    p = place
    log = f"{place.url}/privacy/access-log"
    async with httpx.AsyncClient(timeout=30) as http:
        assert (await http.get(log)).status_code == 401
        for role in ("city_admin", "principal", "district_admin", "it_admin", "teacher", "guardian"):
            headers = auth(role, subject=str(p.mail) if role == "guardian" else f"{role}-{p.tag}", school_units=(str(p.school),),
                           districts=(str(p.district),))
            r = await http.get(log, params={"person": str(p.mail)}, headers=headers)
            assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json"), (role, r.status_code)
        assert (await http.get(log, headers=auth("data_protection"))).status_code == 200
