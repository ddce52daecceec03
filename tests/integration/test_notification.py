"""Notification: contact details only here and encrypted at rest, every read logged; recipients' own preferences."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from shared.events.assessment import CampaignOpened
from shared.events.catalog import AppRequestDecided, LicenceExpiring
from shared.events.city import DutyAssigned, OrganisationUpserted, PersonUpserted
from tests.support.kafka import eventually, send, wire
from tests.support.sealing import sealed
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration


async def test_contact_details_are_encrypted_at_rest_and_reads_are_logged(stack: Stack) -> None:
    url = stack.services["notification"].url
    guardian = uuid.uuid4()
    await send(stack.bootstrap, [wire(PersonUpserted(id=guardian))])
    admin = auth("city_admin", subject="city-sync")
    body = {"email": "anna.andersson@example.se", "mobile": "+46701234567", "language": "en"}
    async with httpx.AsyncClient(timeout=10) as http:
        async def stored() -> httpx.Response | None:
            r = await http.put(f"{url}/persons/{guardian}/contacts", json=body, headers=admin)
            return r if r.status_code == 200 else None

        r = await eventually(stored, what="the person in notification, then the contact details stored")
        assert r.json() == {"personId": str(guardian), "channels": ["email", "sms"], "language": "en"}
        read = await http.get(f"{url}/persons/{guardian}/contacts", params={"reason": "support"}, headers=admin)
        assert read.status_code == 200 and read.json()["email"] == body["email"] and read.json()["mobile"] == body["mobile"]
        assert (await http.get(f"{url}/persons/{guardian}/contacts", headers=admin)).status_code == 422  # no reason, no read
        for who in (auth("principal", school_units=(str(uuid.uuid4()),)), auth("district_admin"), auth("guardian", subject=str(guardian))):
            assert (await http.get(f"{url}/persons/{guardian}/contacts", params={"reason": "support"}, headers=who)).status_code == 403
            assert (await http.put(f"{url}/persons/{guardian}/contacts", json=body, headers=who)).status_code == 403
        assert (await http.put(f"{url}/persons/{uuid.uuid4()}/contacts", json=body, headers=admin)).status_code == 404
        bad = await http.put(f"{url}/persons/{guardian}/contacts", json={"email": "not-an-address", "mobile": "0701234567"}, headers=admin)
        assert bad.status_code == 422 and {e["location"] for e in bad.json()["errors"]} == {"body.email", "body.mobile"}

    conn = await asyncpg.connect(stack.admin_url)
    try:
        row = await conn.fetchrow("SELECT * FROM notification.contact WHERE person = $1", guardian)
        raw = b"".join(bytes(row[c]) for c in ("email", "mobile") if row[c] is not None)
        assert b"anna" not in raw and b"example.se" not in raw and b"4670" not in raw  # ciphertext, not the address
        # the ciphertext is bound to its person: copied onto another, it does not decrypt
        from services.notification.crypto import Keyring

        keys = Keyring.from_env()
        assert keys.decrypt(row["key_id"], guardian, bytes(row["email"])) == body["email"]
        from cryptography.exceptions import InvalidTag

        with pytest.raises(InvalidTag):  # sealed to the person: another person's id does not open it
            keys.decrypt(row["key_id"], uuid.uuid4(), bytes(row["email"]))
        log = await conn.fetch("SELECT actor, action, why_code FROM notification.personal_data_access WHERE subject = $1 ORDER BY id", guardian)
        assert [(r["actor"], r["action"], r["why_code"]) for r in log] == [("city-sync", "contact.write", "city-sync"),
                                                                            ("city-sync", "contact.read", "support")]
    finally:
        await conn.close()


async def test_a_recipient_sets_preferences_and_cannot_silence_critical_messages(stack: Stack) -> None:
    url = stack.services["notification"].url
    guardian = uuid.uuid4()
    me = auth("guardian", subject=str(guardian))
    async with httpx.AsyncClient(timeout=10) as http:
        first = (await http.get(f"{url}/persons/{guardian}/preferences", headers=me)).json()
        assert first["quietHours"] == {"start": "21:00", "end": "07:00"} and first["language"] == "sv"
        broadcast = next(t for t in first["messageTypes"] if t["messageType"] == "broadcast")
        assert broadcast["channels"] == {"push": "instant", "sms": "off", "email": "digest", "inapp": "instant"}
        changed = await http.put(f"{url}/persons/{guardian}/preferences", headers=me, json={
            "language": "en", "quietHours": {"start": "20:00", "end": "06:30"},
            "choices": [{"messageType": "broadcast", "channel": "sms", "mode": "instant"}, {"messageType": "broadcast", "channel": "email", "mode": "off"}]})
        assert changed.status_code == 200
        body = changed.json()
        assert body["language"] == "en" and body["quietHours"] == {"start": "20:00", "end": "06:30"}
        assert next(t for t in body["messageTypes"] if t["messageType"] == "broadcast")["channels"]["sms"] == "instant"
        refused = await http.put(f"{url}/persons/{guardian}/preferences", headers=me,
                                 json={"choices": [{"messageType": "critical", "channel": "sms", "mode": "off"}]})
        assert refused.status_code == 422 and refused.json()["field"] == "body.choices.0.mode"
        critical = next(t for t in (await http.get(f"{url}/persons/{guardian}/preferences", headers=me)).json()["messageTypes"]
                        if t["messageType"] == "critical")
        assert set(critical["channels"].values()) == {"instant"} and critical["critical"]
        someone_else = auth("guardian", subject=str(uuid.uuid4()))
        assert (await http.get(f"{url}/persons/{guardian}/preferences", headers=someone_else)).status_code == 403
        assert (await http.put(f"{url}/persons/{guardian}/preferences", headers=someone_else, json={"language": "sv"})).status_code == 403
        assert (await http.get(f"{url}/persons/{guardian}/preferences", headers=auth("city_admin"))).status_code == 200
        assert (await http.get(f"{url}/persons/{guardian}/preferences")).status_code == 401


async def test_a_decided_request_reaches_the_requester_once_per_channel_in_their_language(stack: Stack) -> None:
    url = stack.services["notification"].url
    teacher, school = uuid.uuid4(), uuid.uuid4()
    decided = AppRequestDecided(requestId=uuid.uuid4(), schoolUnitId=school, requester=await sealed(stack.admin_url, teacher), appName="Räknestigen",
                                decision="rejected", reason="Data lagras utanför EU/EES", decidedBy="dpo", decidedAt=datetime.now(UTC))
    await send(stack.bootstrap, [wire(e) for e in (OrganisationUpserted(id=school, displayName="Matteusskolan", organisationType="Skolenhet"),
                                                   PersonUpserted(id=teacher))])
    me = auth("teacher", subject=str(teacher))
    async with httpx.AsyncClient(timeout=10) as http:
        async def stored() -> bool:
            r = await http.put(f"{url}/persons/{teacher}/contacts", json={"email": "larare@example.se"}, headers=auth("city_admin"))
            return r.status_code == 200

        await eventually(stored, what="the teacher known to notification")
        # no quiet hours, so the e-mail goes now whatever the hour the test runs at
        await http.put(f"{url}/persons/{teacher}/preferences", json={"quietHours": None}, headers=me)
        once = wire(decided)
        await send(stack.bootstrap, [once, once])  # redelivered: still one message per channel

        async def inbox() -> dict[str, Any] | None:
            body = (await http.get(f"{url}/persons/{teacher}/messages", headers=me)).json()
            return body if body.get("items") else None

        body = await eventually(inbox, what="the decision in the teacher's inbox")
        [message] = body["items"]
        assert message["subject"] == "Din begäran om Räknestigen är avslagen" and "Skäl: Data lagras utanför EU/EES" in message["body"]
        assert "Matteusskolan" in message["body"] and body["unread"] == 1
        await http.put(f"{url}/persons/{teacher}/preferences", json={"language": "en"}, headers=me)
        english = (await http.get(f"{url}/persons/{teacher}/messages", headers=me)).json()["items"][0]
        assert english["subject"] == "Your request for Räknestigen was rejected" and english["language"] == "en"
        assert (await http.post(f"{url}/persons/{teacher}/messages/{message['id']}/read", headers=me)).status_code == 200
        assert (await http.get(f"{url}/persons/{teacher}/messages", headers=me)).json()["unread"] == 0
        assert (await http.get(f"{url}/persons/{teacher}/messages", headers=auth("teacher", subject=str(uuid.uuid4())))).status_code == 403

    conn = await asyncpg.connect(stack.admin_url)
    try:
        async def sent() -> list[Any] | None:
            rows = await conn.fetch("SELECT d.channel, d.mode, d.state FROM notification.delivery d WHERE d.person = $1 ORDER BY d.channel", teacher)
            return rows if all(r["state"] == "delivered" for r in rows) else None

        rows = await eventually(sent, what="the e-mail sent")
        # in the app at once; e-mail at once too, since without the app (no push token) a digest would be all they get;
        # no SMS (off by default) and no push (no token)
        assert [(r["channel"], r["mode"], r["state"]) for r in rows] == [("email", "instant", "delivered"), ("inapp", "instant", "delivered")]
        [mail] = stack.sinks.messages(channel="email", to="larare@example.se")
        assert mail["subject"] == "Your request for Räknestigen was rejected" or mail["subject"] == "Din begäran om Räknestigen är avslagen"
        assert "Data lagras utanför EU/EES" in mail["body"] and "/requests/" in mail["body"]
        assert await conn.fetchval("SELECT count(*) FROM notification.message WHERE dedupe_key = $1", dict(once.headers)["ce_id"].decode()) == 1
    finally:
        await conn.close()


async def test_rounds_licences_and_reports_reach_whoever_holds_the_duty_at_each_school(stack: Stack) -> None:
    url = stack.services["notification"].url
    schools = [uuid.uuid4(), uuid.uuid4()]
    rektors = [uuid.uuid4(), uuid.uuid4()]
    it = uuid.uuid4()
    events: list[Any] = []
    for i, (school, rektor) in enumerate(zip(schools, rektors, strict=True)):
        events += [OrganisationUpserted(id=school, displayName=f"Skola {i}", organisationType="Skolenhet"), PersonUpserted(id=rektor),
                   DutyAssigned(id=uuid.uuid4(), person=rektor, dutyAt=school, dutyRole="Rektor")]
    events += [PersonUpserted(id=it), DutyAssigned(id=uuid.uuid4(), person=it, dutyAt=schools[0], dutyRole="IT-samordnare")]
    await send(stack.bootstrap, [wire(e) for e in events])
    async with httpx.AsyncClient(timeout=10) as http:
        async def duties_known() -> bool:
            return (await http.get(f"{url}/school-units/{schools[0]}/audience", headers=auth("city_admin"))).json()["staffByDutyRole"] == {
                "IT-samordnare": 1, "Rektor": 1}

        await eventually(duties_known, what="the duties in notification")
        opened = CampaignOpened(id=uuid.uuid4(), name="Självskattning 2026", year=2026, deadline="2027-03-31", schoolUnitIds=schools, openedBy="admin")
        expiring = LicenceExpiring(licenceId=uuid.uuid4(), appId=uuid.uuid4(), appName="Räknestigen", schoolUnitId=schools[0], licenceType="school",
                                   expiresOn="2026-12-31", daysLeft=37)
        await send(stack.bootstrap, [wire(opened), wire(expiring)])

        async def inbox(person: uuid.UUID, n: int) -> list[dict[str, Any]] | None:
            items = (await http.get(f"{url}/persons/{person}/messages", headers=auth("principal", subject=str(person)))).json()["items"]
            return items if len(items) >= n else None

        for i, rektor in enumerate(rektors):
            [message] = await eventually(lambda r=rektor: inbox(r, 1), what=f"the round in Rektor {i}'s inbox")
            assert message["subject"] == f"Självskattningen Självskattning 2026 har öppnat för Skola {i}" and "2027-03-31" in message["body"]
        [notice] = await eventually(lambda: inbox(it, 1), what="the licence notice for the IT coordinator")
        assert notice["subject"] == "Licensen för Räknestigen på Skola 0 löper ut 2026-12-31" and "om 37 dagar" in notice["body"]
