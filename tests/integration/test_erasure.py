"""Erasure across the four services (docs/decisions/0009), with the real PostgreSQL and broker.

A guardian with contact details, preferences, delivered and read messages and a dead-lettered city event
about them; a Rektor who submitted a self-assessment with comments, added an action, asked for an app and
heard the decision, and sent a broadcast; their pupil. The guardian and the Rektor are erased by request
(POST), the pupil by the city's event. When every service has confirmed:

(a) no column of any table of the four schemas or the key vault holds any of their ids;
(b) no record of Skolit's topics or their dead-letter topics holds one plain, and every sealed reference on
    them opens to someone else or to nothing — the ones that opened to them before now open to nothing;
(c) the school's levels and report figures are unchanged;
(d) each service confirmed once; a second request for the same person completes with nothing erased, and an
    ErasureRequested delivered again changes nothing and is confirmed by no one twice.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from services.assessment.framework import published
from shared.events.assessment import AssessmentDataErased, AssessmentSubmitted
from shared.events.catalog import AppRequestDecided, CatalogDataErased
from shared.events.city import PersonErasureRequested
from shared.events.envelope import decode, header_map
from shared.events.notification import ErasureRequested, MessageDelivered, NotificationDataErased
from shared.events.reporting import ReportingDataErased
from shared.privacy import vault
from shared.topics import ASSESSMENT, CATALOG, CITY_PERSON, NOTIFICATION, REPORTING
from tests.support.kafka import EventLog, eventually, send, wire
from tests.support.matrix import World, publish_world
from tests.support.sealing import wait_for_person
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration
THIS_YEAR = date.today().year
SCHEMAS = ("assessment", "catalog", "reporting", "notification", "keyvault")
SKOLIT_TOPICS = [t.name for t in (ASSESSMENT, CATALOG, REPORTING, NOTIFICATION)] + [t.dlq for t in (ASSESSMENT, CATALOG, REPORTING, NOTIFICATION)]
SEALED = re.compile(r"pk1\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[A-Za-z0-9_-]+")
CONFIRMATIONS = {AssessmentDataErased: "assessment", CatalogDataErased: "catalog", ReportingDataErased: "reporting",
                 NotificationDataErased: "notification"}
#: the data protection officer is a person too: what they did travels sealed and stays readable
DPO = uuid.uuid4()
OFFICER = auth("data_protection", subject=str(DPO))
CITY_ADMIN = auth("city_admin", subject="city-admin-erasure-test")


# --- scans ---------------------------------------------------------------------------------------

async def rows_holding(conn: asyncpg.Connection, person: uuid.UUID) -> dict[str, int]:
    """Every table of the four schemas and the key vault, each row cast to text (bytea as hex, so its bytes are
    searched for the id's bytes too): ``schema.table → rows`` holding the id."""
    text, hexed = str(person), str(person).encode().hex()
    tables = await conn.fetch("SELECT table_schema, table_name FROM information_schema.tables"
                              " WHERE table_schema = ANY($1::text[]) AND table_type = 'BASE TABLE' ORDER BY 1, 2", list(SCHEMAS))
    assert {t["table_schema"] for t in tables} == set(SCHEMAS)
    found = {}
    for t in tables:
        sql = await conn.fetchval("SELECT format('SELECT count(*) FROM %I.%I t WHERE strpos(lower(t::text), $1) > 0"
                                  " OR strpos(lower(t::text), $2) > 0', $1::text, $2::text)", t["table_schema"], t["table_name"])
        n = await conn.fetchval(sql, text, hexed)
        if n:
            found[f"{t['table_schema']}.{t['table_name']}"] = n
    return found


async def read_topics(bootstrap: str, topics: list[str], timeout: float = 60) -> list[ConsumerRecord]:
    """Every record of the topics, from the beginning, by a consumer group no one used before."""
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=f"erasure-scan-{uuid.uuid4()}", auto_offset_reset="earliest",
                                enable_auto_commit=False, max_partition_fetch_bytes=4 * 1024 * 1024)
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout
    await consumer.start()
    try:
        wanted = sum(len(consumer.partitions_for_topic(t) or ()) for t in topics)
        while len(consumer.assignment()) < wanted or not wanted:
            assert time.monotonic() < deadline, "partitions not assigned"
            records += [r for rs in (await consumer.getmany(timeout_ms=200)).values() for r in rs]
            wanted = wanted or sum(len(consumer.partitions_for_topic(t) or ()) for t in topics)
        ends = await consumer.end_offsets(list(consumer.assignment()))
        while behind := [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            assert time.monotonic() < deadline, f"still behind on {behind}"
            records += [r for rs in (await consumer.getmany(*behind, timeout_ms=500, max_records=5000)).values() for r in rs]
    finally:
        await consumer.stop()
    return records


def record_text(record: ConsumerRecord) -> str:
    """Key, body and headers of a record as text (as they are: sealed references are case-sensitive)."""
    parts = [record.key or b"", record.value or b""] + [k.encode() + b"=" + (v or b"") for k, v in record.headers or ()]
    return "\n".join(p.decode("utf-8", "replace") for p in parts)


# --- the flow ------------------------------------------------------------------------------------

async def status_of(http: httpx.AsyncClient, url: str, request_id: str) -> dict[str, Any]:
    r = await http.get(f"{url}/privacy/erasure-requests/{request_id}", headers=OFFICER)
    assert r.status_code == 200, r.text
    return r.json()


async def completed(http: httpx.AsyncClient, url: str, request_id: str, timeout: float = 90) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        status = await status_of(http, url, request_id)
        return status if status["status"] == "complete" else None

    return await eventually(done, timeout=timeout, interval=0.5, what=f"erasure request {request_id} complete")


async def request_erasure(http: httpx.AsyncClient, url: str, person: uuid.UUID, who: dict[str, str], reason: str = "objection") -> str:
    r = await http.post(f"{url}/privacy/erasure-requests", json={"personId": str(person), "reasonCode": reason}, headers=who)
    assert r.status_code == 202, r.text
    body = r.json()
    assert r.headers["location"] == body["statusUrl"] == f"/privacy/erasure-requests/{body['id']}"
    return body["id"]


async def test_an_erasure_completes_across_all_four_services_and_leaves_no_trace(stack: Stack) -> None:
    world = World()
    own = world.own
    guardian, rektor, pupil = own.guardian, own.rektor, own.pupil
    erased = (guardian, rektor, pupil)
    n, a, c = (stack.services[s].url for s in ("notification", "assessment", "catalog"))
    logs = {t: await EventLog(stack.bootstrap, t).start() for t in (NOTIFICATION.name, ASSESSMENT.name, CATALOG.name)}
    conn = await asyncpg.connect(stack.admin_url)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            await publish_world(stack, http, world)
            # --- the guardian: contact details, preferences, a broadcast delivered and read, receipts read
            r = await http.put(f"{n}/persons/{guardian}/contacts", json={"email": f"g{guardian.hex[:8]}@example.se", "pushToken": f"tok-{uuid.uuid4().hex}"},
                               headers=CITY_ADMIN)
            assert r.status_code == 200, r.text
            prefs = {"quietHours": None, "choices": [{"messageType": "broadcast", "channel": "email", "mode": "instant"}]}
            assert (await http.put(f"{n}/persons/{guardian}/preferences", json=prefs, headers=own.auth("guardian"))).status_code == 200
            r = await http.post(f"{n}/broadcasts", headers=own.auth("principal"), json={
                "audience": {"kind": "guardians", "schoolUnitIds": [str(own.school)]}, "subject": "Studiedag", "body": "Skolan är stängd på fredag."})
            assert r.status_code == 201 and r.json()["recipients"] == 1, r.text
            broadcast = r.json()["id"]
            delivered = await wait_for_person(logs[NOTIFICATION.name], stack.admin_url, MessageDelivered, "recipient", guardian,
                                              lambda e: e.messageType == "broadcast", timeout=60)
            [item] = (await http.get(f"{n}/persons/{guardian}/messages", headers=own.auth("guardian"))).json()["items"]
            assert (await http.post(f"{n}/persons/{guardian}/messages/{item['id']}/read", headers=own.auth("guardian"))).status_code == 200
            r = await http.get(f"{n}/broadcasts/{broadcast}/receipts", params={"schoolUnitId": str(own.school), "reason": "delivery-problem"},
                               headers=own.auth("principal"))
            assert r.status_code == 200 and [i["read"] for i in r.json()["items"]] == [True], r.text
            # a city event about the guardian that notification cannot apply: a dead letter with the id plain
            bad = wire(PersonErasureRequested(person=guardian, reasonCode="objection"))
            bad = type(bad)(topic=CITY_PERSON.name, key=str(guardian).encode(), headers=[(k, v if k != "ce_type" else b"se.skolit.city.person.upserted.v1")
                                                                                          for k, v in bad.headers],
                            value=b'{"id": "%s", "securityMarking": "Hemlig"}' % str(guardian).encode())
            await send(stack.bootstrap, [bad])

            async def dead_lettered() -> bool:
                return bool(await conn.fetchval("SELECT count(*) FROM notification.outbox WHERE topic = $1 AND strpos(encode(payload, 'escape'), $2) > 0",
                                                CITY_PERSON.dlq, str(guardian)))

            await eventually(dead_lettered, what="the city event about the guardian dead-lettered")

            # --- the Rektor: a self-assessment with comments, an action, an app request decided
            r = await http.post(f"{a}/campaigns", headers=own.auth("district_admin"), json={
                "name": f"Radering {own.school.hex[:6]}", "year": THIS_YEAR, "deadline": f"{THIS_YEAR + 1}-03-31", "schoolUnitIds": [str(own.school)]})
            assert r.status_code == 201, r.text
            draft = (await http.get(f"{a}/campaigns/{r.json()['id']}/school-units/{own.school}/assessment", headers=own.auth("principal"))).json()
            framework = published()[draft["frameworkVersion"]]
            answers = [{"indicatorId": i, "notRelevant": True} if framework.by_id[i].allowNotRelevant else
                       {"indicatorId": i, "level": 2 + len(i) % 3, "comment": f"Rektorns motivering för {i}", "evidence": ["https://example.se/underlag"]}
                       for i in draft["indicators"]]
            assert (await http.put(f"{a}/assessments/{draft['id']}/answers", json={"answers": answers}, headers=own.auth("principal"))).status_code == 200
            r = await http.post(f"{a}/school-units/{own.school}/actions", headers=own.auth("principal"), json={
                "heading": "digital-kompetens", "title": "Kollegialt lärande varannan vecka", "owner": "Förstelärare",
                "successCriterion": "Alla lärare deltar", "assessmentId": draft["id"]})
            assert r.status_code == 201, r.text
            assert (await http.post(f"{a}/assessments/{draft['id']}/submit", headers=own.auth("principal"))).status_code == 200
            submitted = await wait_for_person(logs[ASSESSMENT.name], stack.admin_url, AssessmentSubmitted, "submittedBy", rektor,
                                              lambda e: str(e.assessmentId) == draft["id"])
            r = await http.post(f"{c}/requests", headers=own.auth("principal"), json={
                "schoolUnitId": str(own.school), "newApp": {"name": f"Raderingsappen {own.school.hex[:6]}", "description": "Rektorns förslag"},
                "purpose": "Programmering i åk 4, enligt Rektorn"})
            assert r.status_code == 201, r.text
            request_id = r.json()["id"]
            # approving a new app makes its draft record first; its use waits for the data-protection review
            actions = f"{c}/requests/{request_id}/actions"
            r = await http.post(actions, headers=OFFICER, json={"action": "approve", "conditions": "Endast klasskonton", "app": {"freeUse": True}})
            assert r.status_code == 409, r.text
            r = await http.put(f"{c}/apps/{r.json()['appId']}/data-protection", headers=OFFICER, json={"dataCategories": []})
            assert r.status_code == 200, r.text
            r = await http.post(actions, headers=OFFICER, json={"action": "approve", "conditions": "Endast klasskonton"})
            assert r.status_code == 200, r.text
            decided = await wait_for_person(logs[CATALOG.name], stack.admin_url, AppRequestDecided, "requester", rektor,
                                            lambda e: str(e.requestId) == request_id)

            async def decision_heard() -> bool:
                items = (await http.get(f"{n}/persons/{rektor}/messages", headers=own.auth("principal"))).json()["items"]
                return any(i["type"] == "request-decided" for i in items)

            await eventually(decision_heard, timeout=60, what="the decision in the Rektor's inbox")

            async def reported() -> list[asyncpg.Record]:
                return await conn.fetch("SELECT heading, level, mean FROM reporting.heading_level WHERE assessment_id = $1 ORDER BY heading",
                                        uuid.UUID(draft["id"]))

            levels_before = await eventually(reported, what="the submission in reporting")
            answers_before = await conn.fetch("SELECT indicator_id, level, not_relevant FROM assessment.answer WHERE assessment_id = $1 ORDER BY 1",
                                              uuid.UUID(draft["id"]))
            report = await http.get(f"{stack.services['reporting'].url}/school-units/{own.school}/report", params={"year": THIS_YEAR},
                                    headers=CITY_ADMIN)
            assert report.status_code == 200, report.text
            for person in erased:
                assert await rows_holding(conn, person), f"{person} should be somewhere before the erasure"

            # --- bad requests
            for body, who, status in (({"personId": "not-an-id", "reasonCode": "objection"}, OFFICER, 422),
                                      ({"personId": str(guardian), "reasonCode": "because"}, OFFICER, 422),
                                      ({"personId": str(guardian)}, OFFICER, 422),
                                      ({"personId": str(guardian), "reasonCode": "objection"}, own.auth("principal"), 403),
                                      ({"personId": str(guardian), "reasonCode": "objection"}, auth("guardian", subject=str(guardian)), 403),
                                      ({"personId": str(guardian), "reasonCode": "objection"}, {}, 401)):
                r = await http.post(f"{n}/privacy/erasure-requests", json=body, headers=who)
                assert r.status_code == status and r.headers["content-type"].startswith("application/problem+json"), (body, r.text)
            assert (await http.get(f"{n}/privacy/erasure-requests/{uuid.uuid4()}", headers=OFFICER)).status_code == 404
            assert (await http.get(f"{n}/privacy/erasure-requests/{uuid.uuid4()}", headers=own.auth("principal"))).status_code == 403

            # --- erase: two by request, one by the city's event
            requests = {guardian: await request_erasure(http, n, guardian, CITY_ADMIN), rektor: await request_erasure(http, n, rektor, OFFICER, "no-longer-necessary")}
            city_event = wire(PersonErasureRequested(person=pupil, reasonCode="registered-in-error"), source="city.ist")
            await send(stack.bootstrap, [city_event, city_event])  # sent twice: one request
            statuses = {p: await completed(http, n, rid) for p, rid in requests.items()}

            async def city_request() -> list[asyncpg.Record]:
                return await conn.fetch("SELECT id, completed_at FROM notification.erasure_request WHERE source = 'city' AND requested_by = 'city.ist'"
                                        " AND requested_at > now() - interval '10 minutes'")

            [city_row] = await eventually(city_request, what="the city's erasure request")
            statuses[pupil] = await completed(http, n, str(city_row["id"]))

        # (d) every service confirmed; what each erased is counted, never named
        for person, status in statuses.items():
            assert status["services"].keys() == set(CONFIRMATIONS.values()) and all(s["status"] == "confirmed" for s in status["services"].values())
            assert status["keyDestroyed"] is True and status["completedAt"]
            assert str(person) not in str(status)
        g, r_ = statuses[guardian]["services"], statuses[rektor]["services"]
        assert g["notification"]["counts"]["contact"] == 1 and g["notification"]["counts"]["delivery"] >= 2
        assert g["notification"]["counts"]["outbox"] >= 1 and g["notification"]["counts"]["personal_data_access"] >= 2
        assert r_["assessment"]["counts"]["answer"] >= 1 and r_["assessment"]["counts"]["audit_log"] >= 2 and r_["assessment"]["counts"]["duty"] == 1
        assert r_["catalog"]["counts"]["app_request"] == 1 and r_["catalog"]["counts"]["duty"] == 1
        assert r_["notification"]["counts"]["broadcast"] == 1 and r_["notification"]["counts"]["message"] >= 1
        assert statuses[pupil]["services"]["notification"]["counts"]["person"] == 1
        assert statuses[pupil]["source"] == "city" and statuses[pupil]["reasonCode"] == "registered-in-error"

        # (a) no table holds any of them
        for person in erased:
            assert await rows_holding(conn, person) == {}, f"{person} is still held"
            assert not await vault.has_key(conn, person)
        assert await conn.fetchval("SELECT count(*) FROM notification.erasure_request WHERE id = ANY($1::uuid[]) AND person_ref IS NULL"
                                   " AND person_hash IS NULL", [uuid.UUID(s["id"]) for s in statuses.values()]) == 3

        # (c) the school's figures are as they were; the Rektor's words are gone, their levels stay
        assert await conn.fetch("SELECT heading, level, mean FROM reporting.heading_level WHERE assessment_id = $1 ORDER BY heading",
                                uuid.UUID(draft["id"])) == levels_before
        assert await conn.fetch("SELECT indicator_id, level, not_relevant FROM assessment.answer WHERE assessment_id = $1 ORDER BY 1",
                                uuid.UUID(draft["id"])) == answers_before
        assert not await conn.fetchval("SELECT count(*) FROM assessment.answer WHERE assessment_id = $1 AND comment IS NOT NULL", uuid.UUID(draft["id"]))
        async with httpx.AsyncClient(timeout=30) as http:
            again = await http.get(f"{stack.services['reporting'].url}/school-units/{own.school}/report", params={"year": THIS_YEAR},
                                   headers=CITY_ADMIN)
            assert again.status_code == 200 and again.json() == report.json()
            # what the services show and export: an erased person where the person was (no id, no name)
            request = (await http.get(f"{c}/requests/{request_id}", headers=OFFICER)).json()
            assert request["requester"] == {"id": None, "name": None, "protected": False, "kind": "erased"}
            assert request["purpose"] == "" and request["conditions"] is None
            assessment = (await http.get(f"{a}/assessments/{draft['id']}", headers=own.auth("district_admin"))).json()
            assert assessment["submittedBy"] == {"id": None, "name": None, "protected": False, "kind": "erased"}
            exports = [(await http.get(f"{c}/apps/export", params={"format": "json"}, headers=OFFICER)).text,
                       (await http.get(f"{stack.services['reporting'].url}/school-units/{own.school}/report",
                                       params={"year": THIS_YEAR, "format": "csv"}, headers=CITY_ADMIN)).text,
                       str(assessment), str(request),
                       (await http.get(f"{a}/assessments/{draft['id']}/audit", headers=own.auth("district_admin"))).text]
            assert not [p for p in erased for e in exports if str(p) in e.lower()]

            # a second request for the guardian: nothing left to erase anywhere
            second = await completed(http, n, await request_erasure(http, n, guardian, OFFICER))
            assert {s: sum(v["counts"].values()) for s, v in second["services"].items()} == dict.fromkeys(CONFIRMATIONS.values(), 0)
            assert await rows_holding(conn, guardian) == {}

        # (b) the topics: nothing plain, and every sealed reference opens to someone else or to nothing
        records = await read_topics(stack.bootstrap, SKOLIT_TOPICS)
        plain, refs = [], set()
        for rec in records:
            text = record_text(rec)
            plain += [(rec.topic, rec.offset, str(p)) for p in erased if str(p) in text.lower()]
            refs |= set(SEALED.findall(text))
        assert not plain, f"plain ids on Skolit's topics: {plain[:10]}"
        originals = {delivered.recipient, submitted.submittedBy, decided.requester}
        assert originals <= refs, "the events that named them are on the topics, sealed"
        opened_to: dict[str, uuid.UUID | None] = {}
        for ref in refs:
            try:
                opened_to[ref] = await vault.open_ref(conn, ref)
            except (vault.KeyDestroyed, vault.NotSealed):  # NotSealed: text that only looks like one (another test's)
                opened_to[ref] = None
        assert not [ref for ref, p in opened_to.items() if p in erased], "a sealed reference still opens to an erased person"
        assert all(opened_to[ref] is None for ref in originals), "what opened to them before opens to nothing now"
        assert decided.decidedBy in refs and opened_to[decided.decidedBy] == DPO, "other persons' references still open"
    finally:
        for log in logs.values():
            await log.stop()
        await conn.close()


async def test_unknown_persons_concurrent_requests_and_a_replayed_request_change_nothing(stack: Stack) -> None:
    """An unknown person is fine (each service confirms having erased nothing); two requests at once for the
    same person are one; an ErasureRequested delivered again is a duplicate everywhere: no second confirmation."""
    n = stack.services["notification"].url
    nobody = uuid.uuid4()
    log = await EventLog(stack.bootstrap, NOTIFICATION.name).start()
    logs = {t: await EventLog(stack.bootstrap, t).start() for t in (ASSESSMENT.name, CATALOG.name, REPORTING.name)}
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            body = {"personId": str(nobody), "reasonCode": "unlawful-processing"}
            first, second = await asyncio.gather(*(http.post(f"{n}/privacy/erasure-requests", json=body, headers=OFFICER) for _ in range(2)))
            assert first.status_code == second.status_code == 202 and first.json()["id"] == second.json()["id"], (first.text, second.text)
            assert sorted([first.json()["new"], second.json()["new"]]) == [False, True]
            request_id = first.json()["id"]
            status = await completed(http, n, request_id)
            assert {s: v["counts"] for s, v in status["services"].items()} == dict.fromkeys(CONFIRMATIONS.values(), {}) or \
                all(sum(v["counts"].values()) == 0 for v in status["services"].values())

            # the request's event, delivered again as it was (same id, key, headers and body)
            raw = await eventually(lambda: _raw_request(stack.bootstrap, request_id), what="the ErasureRequested record")
            before = await _duplicates(http, stack)
            await send(stack.bootstrap, [raw])

            async def judged_duplicate() -> bool:
                now = await _duplicates(http, stack)
                return all(now[s] > before[s] for s in now)

            await eventually(judged_duplicate, timeout=60, what="every service to see the repeat as a duplicate")
            await asyncio.sleep(2)  # a second confirmation, were there one, would be on its way by now

        conn = await asyncpg.connect(stack.admin_url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM notification.erasure_confirmation WHERE request_id = $1", uuid.UUID(request_id)) == 4
        finally:
            await conn.close()
        confirmations = [e.data for lg in (log, *logs.values()) for e in lg.events
                         if type(e.data) in CONFIRMATIONS and str(e.data.requestId) == request_id]
        assert sorted(CONFIRMATIONS[type(e)] for e in confirmations) == sorted(CONFIRMATIONS.values()), confirmations
        assert len([e for e in log.events if isinstance(e.data, ErasureRequested) and str(e.data.requestId) == request_id]) == 2  # sent, repeated
    finally:
        await log.stop()
        for lg in logs.values():
            await lg.stop()


async def _raw_request(bootstrap: str, request_id: str) -> Any:
    from shared.events.envelope import WireMessage

    for rec in await read_topics(bootstrap, [NOTIFICATION.name], timeout=30):
        headers = header_map(rec.headers)
        if headers.get("ce_type") == ErasureRequested.TYPE and decode(headers, rec.value).data.requestId == uuid.UUID(request_id):
            return WireMessage(topic=rec.topic, key=rec.key, headers=list(rec.headers), value=rec.value)
    return None


async def _duplicates(http: httpx.AsyncClient, stack: Stack) -> dict[str, float]:
    """Per service: how many ErasureRequested events its consumer judged duplicates (its /metrics)."""
    out = {}
    for name, svc in stack.services.items():
        text = (await http.get(f"{svc.url}/metrics")).text
        pattern = re.compile(r'^skolit_events_consumed_total\{([^}]*)\} ([0-9.e+]+)$', re.M)
        out[name] = sum(float(v) for labels, v in pattern.findall(text)
                        if f'type="{ErasureRequested.TYPE}"' in labels and 'outcome="duplicate"' in labels)
    return out
