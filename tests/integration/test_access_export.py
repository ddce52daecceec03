"""Right of access (docs/decisions/0010): one request returns everything Skolit holds about a person,
gathered from every service through events — against the real stack.

A guardian (like the demo city's: a person with two children at a school, contact details, preferences,
messages that reached them through broadcasts, one of them read) asks for their own export; the data
protection officer asks for a Rektor's (who opened nothing, but saved answers with a comment, submitted the
school's assessment, added an action, requested an app and sent the broadcasts). Each export, once
complete, holds everything the test itself created about that person and nothing about the others. The
parts travel sealed: no *DataExported or AccessRequested payload on the topics carries the person's id or
contact details readable. Who may ask and read is checked too.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from services.assessment.framework import published
from shared.events.city import DutyAssigned, GuardianRelationAdded, PersonUpserted
from shared.events.envelope import header_map
from shared.topics import ASSESSMENT, CATALOG, NOTIFICATION, REPORTING
from tests.support.city import District
from tests.support.kafka import eventually, send, wire
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration
THIS_YEAR = date.today().year
PROBLEM = "application/problem+json"
EXPORTED = {"se.skolit.assessment.data-exported.v1", "se.skolit.catalog.data-exported.v1", "se.skolit.reporting.data-exported.v1"}
REQUESTED = "se.skolit.notification.access-requested.v1"


class RawLog:
    """Every raw record on some topics (key, headers, body as the broker holds them), from the beginning."""

    def __init__(self, bootstrap: str, *topics: str) -> None:
        self._consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=f"test-raw-{uuid.uuid4()}",
                                          auto_offset_reset="earliest", enable_auto_commit=False)
        self.records: list[ConsumerRecord] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> RawLog:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            for batch in (await self._consumer.getmany(timeout_ms=200)).values():
                self.records.extend(batch)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    def of_request(self, request_id: str) -> list[ConsumerRecord]:
        found = []
        for r in self.records:
            ce_type = header_map(r.headers).get("ce_type")
            if ce_type in EXPORTED | {REQUESTED} and json.loads(r.value).get("requestId") == request_id:
                found.append(r)
        return found


def everything(record: ConsumerRecord) -> str:
    headers = " ".join(f"{k}={v.decode('utf-8', 'replace')}" for k, v in record.headers or ())
    return f"{(record.key or b'').decode('utf-8', 'replace')} {headers} {(record.value or b'').decode('utf-8', 'replace')}"


async def expect(r: httpx.Response, status: int) -> Any:
    assert r.status_code == status, (r.request.method, str(r.request.url), r.status_code, r.text)
    return r.json()


def full_answers(assessment: dict[str, Any], comment: str) -> list[dict[str, Any]]:
    framework = published()[assessment["frameworkVersion"]]
    answers = [{"indicatorId": i, "notRelevant": True} if framework.by_id[i].allowNotRelevant else {"indicatorId": i, "level": 3}
               for i in assessment["indicators"]]
    first = next(a for a in answers if "level" in a)
    first.update(comment=comment, evidence=["https://intranat.example.se/bevis"])
    return answers


async def test_the_access_export_is_complete_for_a_guardian_and_for_staff(stack: Stack) -> None:
    tag = uuid.uuid4().hex[:10]
    url = {name: svc.url for name, svc in stack.services.items()}
    district = District()
    city = district.events(n_schools=1)
    [school] = district.schools
    guardian, child, sibling, other_guardian, other_child = (uuid.uuid4() for _ in range(5))
    rektor, teacher = uuid.uuid4(), uuid.uuid4()
    relations = [uuid.uuid4(), uuid.uuid4()]
    # everyone has a name (SS 12000 givenName/familyName): each export holds the person's own and no one else's
    names = {p: (f"Förnamn{n}x{tag}", f"Efternamn{n}x{tag}") for n, p in enumerate((guardian, child, sibling, other_guardian, other_child, rektor, teacher))}
    city += [PersonUpserted(id=p, givenName=given, familyName=family) for p, (given, family) in names.items()]
    city += [GuardianRelationAdded(id=relations[0], guardian=guardian, pupil=child, schoolUnit=school, schoolType="GR", schoolYear=4),
             GuardianRelationAdded(id=relations[1], guardian=guardian, pupil=sibling, schoolUnit=school, schoolType="GR", schoolYear=7,
                                   relationType="Vårdnadshavare"),
             GuardianRelationAdded(id=uuid.uuid4(), guardian=other_guardian, pupil=other_child, schoolUnit=school, schoolType="GR", schoolYear=4),
             DutyAssigned(id=uuid.uuid4(), person=rektor, dutyAt=school, dutyRole="Rektor"),
             DutyAssigned(id=uuid.uuid4(), person=teacher, dutyAt=school, dutyRole="Lärare")]
    contacts = {guardian: {"email": f"vh.{tag}@example.se", "mobile": "+46701" + str(int(tag[:6], 16) % 1_000_000).zfill(6), "language": "en"},
                other_guardian: {"email": f"annan.{tag}@example.se", "mobile": "+46702" + str(int(tag[4:], 16) % 1_000_000).zfill(6)}}
    admin = auth("city_admin", subject="city-sync")
    as_guardian = auth("guardian", subject=str(guardian))
    as_rektor = auth("principal", subject=str(rektor), school_units=(str(school),), districts=(str(district.id),))
    dpo = auth("data_protection", subject=f"dpo-{tag}")
    topics = RawLog(stack.bootstrap, NOTIFICATION.name, ASSESSMENT.name, CATALOG.name, REPORTING.name)
    await topics.start()
    conn = await asyncpg.connect(stack.admin_url)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            # --- the city, in every service ---------------------------------------------------------------
            await send(stack.bootstrap, [wire(e) for e in city])

            async def known() -> bool:
                for name in ("assessment", "catalog", "reporting", "notification"):
                    if (await http.get(f"{url[name]}/school-units/{school}", headers=admin)).status_code != 200:
                        return False
                for duties in ("SELECT count(*) FROM assessment.duty WHERE person = ANY($1::uuid[])",
                               "SELECT count(*) FROM catalog.duty WHERE person = ANY($1::uuid[])",
                               "SELECT count(*) FROM notification.duty WHERE person = ANY($1::uuid[])"):
                    if await conn.fetchval(duties, [rektor, teacher]) != 2:
                        return False
                r = await http.get(f"{url['notification']}/school-units/{school}/audience", headers=admin)
                return r.json().get("guardians") == 2

            await eventually(known, timeout=60, what="the school, its staff and its families in every service")

            # --- notification: contact details, preferences, two broadcasts, one read -----------------------
            for person, body in contacts.items():
                await expect(await http.put(f"{url['notification']}/persons/{person}/contacts", json=body, headers=admin), 200)
            await expect(await http.put(f"{url['notification']}/persons/{guardian}/preferences", headers=as_guardian, json={
                "language": "en", "quietHours": {"start": "22:30", "end": "06:15"},
                "choices": [{"messageType": "broadcast", "channel": "sms", "mode": "instant"}]}), 200)
            subjects = [f"Utflykt {tag}", f"Föräldramöte {tag}"]
            broadcasts = []
            for subject in subjects:
                sent = await expect(await http.post(f"{url['notification']}/broadcasts", headers=as_rektor, json={
                    "audience": {"kind": "guardians", "schoolUnitIds": [str(school)]}, "subject": subject, "body": f"Text om {subject}."}), 201)
                broadcasts.append(sent["id"])

            async def inbox() -> list[dict[str, Any]] | None:
                items = (await http.get(f"{url['notification']}/persons/{guardian}/messages", headers=as_guardian)).json()["items"]
                return items if len(items) == 2 else None

            messages = await eventually(inbox, what="both broadcasts in the guardian's inbox")
            read_one = next(m for m in messages if subjects[0] in m["subject"])
            await expect(await http.post(f"{url['notification']}/persons/{guardian}/messages/{read_one['id']}/read", headers=as_guardian), 200)

            # --- assessment: a round; the Rektor answers (with a comment), submits, adds an action ----------
            district_admin = auth("district_admin", subject=f"da-{tag}", districts=(str(district.id),))
            campaign = await expect(await http.post(f"{url['assessment']}/campaigns", headers=district_admin, json={
                "name": f"Runda {tag}", "year": THIS_YEAR, "deadline": f"{THIS_YEAR + 1}-03-31", "schoolUnitIds": [str(school)]}), 201)
            draft = await expect(await http.get(f"{url['assessment']}/campaigns/{campaign['id']}/school-units/{school}/assessment",
                                                headers=as_rektor), 200)
            comment = f"Kommentar från rektor {tag}"
            await expect(await http.put(f"{url['assessment']}/assessments/{draft['id']}/answers", headers=as_rektor,
                                        json={"answers": full_answers(draft, comment)}), 200)
            await expect(await http.post(f"{url['assessment']}/assessments/{draft['id']}/submit", headers=as_rektor), 200)
            action = await expect(await http.post(f"{url['assessment']}/school-units/{school}/actions", headers=as_rektor, json={
                "heading": "uppfoljning", "title": f"Årshjul {tag}", "owner": "Rektor", "successCriterion": "Beslutat i ledningsgruppen"}), 201)

            # --- catalog: the Rektor requests an app ----------------------------------------------------------
            purpose = f"Läsförståelse i årskurs 4, {tag}"
            app_request = await expect(await http.post(f"{url['catalog']}/requests", headers=as_rektor, json={
                "schoolUnitId": str(school), "newApp": {"name": f"Önskad app {tag}"}, "purpose": purpose}), 201)

            async def rektor_heard() -> bool:  # notification's part is gathered when asked: the round's message first
                r = await http.get(f"{url['notification']}/persons/{rektor}/messages", headers=as_rektor)
                return any(m["type"] == "campaign-opened" for m in r.json()["items"])

            await eventually(rektor_heard, what="the round's message to the Rektor")

            # --- who may ask --------------------------------------------------------------------------------
            requests = f"{url['notification']}/privacy/access-requests"
            own = {"personId": str(guardian), "reasonCode": "data-subject-request"}
            for who in (auth("teacher", subject=str(teacher), school_units=(str(school),)), as_rektor,
                        auth("district_admin", districts=(str(district.id),)), auth("it_admin")):
                refused = await http.post(requests, json=own, headers=who)
                assert refused.status_code == 403 and refused.headers["content-type"].startswith(PROBLEM), refused.text
            someone_else = await http.post(requests, json={"personId": str(other_guardian), "reasonCode": "data-subject-request"},
                                           headers=as_guardian)
            assert someone_else.status_code == 403 and someone_else.headers["content-type"].startswith(PROBLEM)
            assert (await http.post(requests, json=own)).status_code == 401
            assert (await http.post(requests, json={**own, "reasonCode": "curiosity"}, headers=as_guardian)).status_code == 422

            mine = await expect(await http.post(requests, json=own, headers=as_guardian), 202)
            assert mine["statusUrl"] == f"/privacy/access-requests/{mine['id']}" and mine["status"] == "pending"
            staff = await expect(await http.post(requests, json={"personId": str(rektor), "reasonCode": "data-subject-request"}, headers=dpo), 202)

            missing = await http.get(f"{requests}/{uuid.uuid4()}", headers=dpo)
            assert missing.status_code == 404 and missing.headers["content-type"].startswith(PROBLEM) and missing.json()["status"] == 404
            for who in (dpo, auth("city_admin"), auth("guardian", subject=str(other_guardian))):  # only whoever asked reads it
                assert (await http.get(f"{requests}/{mine['id']}", headers=who)).status_code == 403
            assert (await http.get(f"{requests}/{staff['id']}", headers=as_guardian)).status_code == 403

            async def complete(request_id: str, headers: dict[str, str]) -> dict[str, Any] | None:
                r = await http.get(f"{requests}/{request_id}", headers=headers)
                assert r.status_code in (200, 202), r.text
                if r.status_code == 202:
                    body = r.json()
                    assert body["status"] == "pending" and "notification" in body["received"], body
                    return None
                return r.json()

            started = time.monotonic()
            guardian_export = await eventually(lambda: complete(mine["id"], as_guardian), timeout=60, what="the guardian's export")
            staff_export = await eventually(lambda: complete(staff["id"], dpo), timeout=60, what="the Rektor's export")
            print(f"\nboth exports complete {time.monotonic() - started:.1f}s after asking")

        # --- the guardian's export: everything about them, nothing about anyone else ------------------------
        g = guardian_export
        assert g["person"] == str(guardian) and g["id"] == mine["id"] and g["completedAt"] and g["requestedAt"]
        assert set(g["services"]) == {"assessment", "catalog", "reporting", "notification"}
        assert not any(part["erased"] for part in g["services"].values())
        for name in ("assessment", "catalog", "reporting"):  # a guardian is no one there but a person (with their name) and their relations
            tables = g["services"][name]["tables"]
            assert [p["id"] for p in tables.pop("person", [])] == ([] if name == "reporting" else [str(guardian)]), name
            # the relations that make them a guardian when they sign in (shared/auth/authority.py)
            assert {(r["id"], r["pupil"]) for r in tables.pop("guardianRelations")} == {(str(relations[0]), str(child)), (str(relations[1]), str(sibling))}, name
            assert g["services"][name]["rows"] == (2 if name == "reporting" else 3) and not any(tables.values()), (name, tables)
        n = g["services"]["notification"]["tables"]
        assert [(p["id"], p["given_name"], p["family_name"]) for p in n["person"]] == [(str(guardian), *names[guardian])]
        assert {(r["id"], r["pupil"], r["school_unit"]) for r in n["guardianRelations"]} == {
            (str(relations[0]), str(child), str(school)), (str(relations[1]), str(sibling), str(school))}
        [details] = n["contactDetails"]
        assert (details["email"], details["mobile"], details["language"]) == (contacts[guardian]["email"], contacts[guardian]["mobile"], "en")
        assert [(c["message_type"], c["channel"], c["mode"]) for c in n["preferences"]] == [("broadcast", "sms", "instant")]
        [setting] = n["recipientSettings"]
        assert (setting["language"], setting["quiet_start"], setting["quiet_end"]) == ("en", "22:30:00", "06:15:00")
        got = {m["broadcastId"]: m for m in n["messages"]}
        assert set(got) == set(broadcasts)
        for broadcast, subject in zip(broadcasts, subjects, strict=True):
            message = got[broadcast]
            # written in Swedish only: the English reader gets the text as written, and the export says it is Swedish
            assert subject in message["subject"] and f"Text om {subject}." in message["body"] and message["language"] == "sv"
            assert {d["channel"] for d in message["deliveries"]} >= {"inapp", "email", "sms"}  # sms: they chose it for broadcasts
            assert message["read"] == (subject == subjects[0])
        assert any(a["action"] == "contact.write" for a in n["accessLog"]), n["accessLog"]
        assert [r["id"] for r in n["accessRequestsAboutThem"]] == [mine["id"]]
        text = json.dumps(g)
        unescaped = json.dumps(g, ensure_ascii=False)
        assert names[guardian][0] in unescaped
        for stranger in (other_guardian, other_child, rektor, teacher, child, sibling):
            if stranger not in (child, sibling):  # their own children's ids are in their relations, not their names
                assert str(stranger) not in text, f"the guardian's export names {stranger}"
            assert not [n for n in names[stranger] if n in unescaped], f"the guardian's export has {stranger}'s name"
        assert contacts[other_guardian]["email"] not in text and contacts[other_guardian]["mobile"] not in text

        # --- the Rektor's export ---------------------------------------------------------------------------
        s = staff_export
        assert s["person"] == str(rektor) and set(s["services"]) == {"assessment", "catalog", "reporting", "notification"}
        a = s["services"]["assessment"]["tables"]
        assert [r["id"] for r in a["assessmentsSubmitted"]] == [draft["id"]]
        assert a["assessmentsSubmitted"][0]["submissions"] == 1 and a["assessmentsSubmitted"][0]["campaign_name"] == f"Runda {tag}"
        assert len(a["answersSaved"]) == len(draft["indicators"]) and {r["assessment_id"] for r in a["answersSaved"]} == {draft["id"]}
        assert [r["comment"] for r in a["answersSaved"] if r["comment"]] == [comment]
        assert [(r["id"], r["title"]) for r in a["actionsAdded"]] == [(action["id"], f"Årshjul {tag}")]
        assert [(d["duty_at"], d["duty_role"]) for d in a["duties"]] == [(str(school), "Rektor")]
        assert [(p["id"], p["security_marking"], p["given_name"], p["family_name"]) for p in a["person"]] == [(str(rektor), "Ingen", *names[rektor])]
        audited = {(e["action"], e["entity_id"]) for e in a["auditLog"]}
        assert {("answers.saved", draft["id"]), ("assessment.submitted", draft["id"]), ("action.created", action["id"])} <= audited
        assert {e["actor"] for e in a["auditLog"]} == {str(rektor)}
        assert any(e["eventType"] == "se.skolit.assessment.assessment-submitted.v1" for e in a["eventsPublished"]), a["eventsPublished"]
        assert s["services"]["assessment"]["rows"] == sum(len(v) for v in a.values())
        c = s["services"]["catalog"]["tables"]
        [req] = c["appRequests"]
        assert (req["id"], req["purpose"], req["app_name"], req["state"]) == (app_request["id"], purpose, f"Önskad app {tag}", "submitted")
        assert [st["request_id"] for st in c["appRequestHistory"]] and {st["request_id"] for st in c["appRequestHistory"]} == {app_request["id"]}
        assert [(d["duty_at"], d["duty_role"]) for d in c["duties"]] == [(str(school), "Rektor")]
        assert [(p["id"], p["given_name"], p["family_name"]) for p in c["person"]] == [(str(rektor), *names[rektor])]
        sr = s["services"]["reporting"]["tables"]
        assert [(d["duty_at"], d["duty_role"]) for d in sr["duties"]] == [(str(school), "Rektor")] and s["services"]["reporting"]["rows"] == 1
        sn = s["services"]["notification"]["tables"]
        assert [p["id"] for p in sn["person"]] == [str(rektor)] and not sn["contactDetails"] and not sn["guardianRelations"]
        assert sorted(b["subject"] for b in sn["broadcastsSent"]) == sorted(subjects)
        assert any(m["type"] == "campaign-opened" for m in sn["messages"]), sn["messages"]  # the round reached the Rektor
        text, unescaped = json.dumps(s), json.dumps(s, ensure_ascii=False)
        for stranger in (guardian, child, sibling, other_guardian, other_child, teacher):
            assert str(stranger) not in text, f"the Rektor's export names {stranger}"
            assert not [n for n in names[stranger] if n in unescaped], f"the Rektor's export has {stranger}'s name"
        assert names[rektor][0] in unescaped
        for c_ in contacts.values():
            assert c_["email"] not in text and c_["mobile"] not in text

        # --- at rest: the private key gone, the parts gone, the export encrypted -----------------------------
        for request_id in (mine["id"], staff["id"]):
            row = await conn.fetchrow("SELECT * FROM notification.access_request WHERE id = $1", uuid.UUID(request_id))
            assert row["private_key"] is None and row["completed_at"] is not None and row["export"] is not None
            assert b"example.se" not in bytes(row["export"]) and tag.encode() not in bytes(row["export"])
            assert await conn.fetchval("SELECT count(*) FROM notification.access_request_part WHERE request_id = $1", uuid.UUID(request_id)) == 0
        reads = await conn.fetchval("SELECT count(*) FROM notification.personal_data_access WHERE subject = $1 AND path = $2",
                                    guardian, f"/privacy/access-requests/{mine['id']}")
        assert reads >= 2, "reading the export is logged"

        # --- on the topics: the parts sealed, the person sealed ---------------------------------------------
        secrets = {"the guardian's id": str(guardian), "the Rektor's id": str(rektor), "the comment": comment, "the purpose": purpose,
                   "the broadcast's subject": subjects[0]}
        for person, c_ in contacts.items():
            secrets |= {f"{person}'s e-mail": c_["email"], f"{person}'s mobile": c_["mobile"], f"{person}'s mobile, national": "0" + c_["mobile"][3:]}
        for request_id in (mine["id"], staff["id"]):
            async def all_seen(request_id: str = request_id) -> list[ConsumerRecord] | None:
                found = topics.of_request(request_id)
                return found if {header_map(r.headers)["ce_type"] for r in found} >= EXPORTED | {REQUESTED} else None

            records = await eventually(all_seen, what=f"the request's events on the topics ({request_id})")
            for record in records:
                leaked = [what for what, value in secrets.items() if value in everything(record)]
                assert not leaked, f"{header_map(record.headers)['ce_type']} on {record.topic} carries {leaked} readable"
                body = json.loads(record.value)
                if header_map(record.headers)["ce_type"] == REQUESTED:
                    assert body["person"].startswith("pk1.") and record.key == request_id.encode()
                else:
                    assert set(body) == {"requestId", "part", "rows"} and len(body["part"]) > 60

        # --- expiry: the export is dropped after its retention; the request row stays ------------------------
        await conn.execute("UPDATE notification.access_request SET expires_at = now() - interval '1 minute' WHERE id = $1", uuid.UUID(mine["id"]))
        async with httpx.AsyncClient(timeout=30) as http:
            ran = await expect(await http.post(f"{url['notification']}/jobs/access-exports/run", json={}, headers=admin), 200)
            assert ran["result"]["exportsDropped"] >= 1
            gone = await http.get(f"{requests}/{mine['id']}", headers=as_guardian)
            assert gone.status_code == 410 and gone.headers["content-type"].startswith(PROBLEM)
            assert (await http.get(f"{requests}/{staff['id']}", headers=dpo)).status_code == 200
        row = await conn.fetchrow("SELECT export, expired_at, person FROM notification.access_request WHERE id = $1", uuid.UUID(mine["id"]))
        assert row["export"] is None and row["expired_at"] is not None and row["person"] == guardian
    finally:
        await conn.close()
        await topics.stop()


async def test_an_erased_persons_part_says_so_and_a_part_for_no_request_is_ignored(stack: Stack) -> None:
    """A request whose person was erased (their key destroyed) before a service answers: each service's part
    opens, with the request's private key only, to "erased" and no rows. Notification, which made no such
    request, ignores the parts (applied, not dead-lettered)."""
    from shared.events.notification import AccessRequested
    from shared.privacy import export, sealedbox, vault

    person, request_id = uuid.uuid4(), uuid.uuid4()
    private_key, public_key = sealedbox.keypair()
    topics = RawLog(stack.bootstrap, ASSESSMENT.name, CATALOG.name, REPORTING.name)
    await topics.start()
    conn = await asyncpg.connect(stack.admin_url)
    try:
        sealed = await vault.seal(conn, person)
        assert await vault.destroy(conn, person, "test: erased before the export is gathered")
        await send(stack.bootstrap, [wire(AccessRequested(requestId=request_id, person=sealed, publicKey=base64.b64encode(public_key).decode(),
                                                          requestedAt=datetime.now(UTC)))])

        async def answered() -> list[ConsumerRecord] | None:
            found = [r for r in topics.of_request(str(request_id)) if header_map(r.headers)["ce_type"] in EXPORTED]
            return found if len(found) == 3 else None

        records = await eventually(answered, timeout=60, what="every service's part for the erased person")
        services = {"se.skolit.assessment.data-exported.v1": "assessment", "se.skolit.catalog.data-exported.v1": "catalog",
                    "se.skolit.reporting.data-exported.v1": "reporting"}
        for record in records:
            service, body = services[header_map(record.headers)["ce_type"]], json.loads(record.value)
            assert body["rows"] == 0
            part = export.open_part(private_key, request_id, service, body["part"])
            assert part["erased"] is True and part["tables"] == {} and "erased" in part["note"], part
            with pytest.raises(sealedbox.SealedBoxError):  # bound to its service and request
                export.open_part(private_key, uuid.uuid4(), service, body["part"])
            with pytest.raises(sealedbox.SealedBoxError):
                export.open_part(sealedbox.keypair()[0], request_id, service, body["part"])
        ids = [header_map(r.headers)["ce_id"] for r in records]

        async def ignored() -> list[Any] | None:
            rows = await conn.fetch("SELECT outcome FROM notification.inbox WHERE event_id = ANY($1::text[])", ids)
            return rows if len(rows) == 3 else None

        assert {r["outcome"] for r in await eventually(ignored, what="notification applying the parts")} == {"applied"}
        assert await conn.fetchval("SELECT count(*) FROM notification.access_request WHERE id = $1", request_id) == 0
    finally:
        await conn.close()
        await topics.stop()
