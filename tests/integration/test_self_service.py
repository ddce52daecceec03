"""A guardian manages their own contact details and devices (issue 19 item 5; services/notification/routes/me.py):
two devices and a phone number confirmed with the code that arrived by SMS, then a broadcast reaches each device
and the phone. Wrong, expired and exhausted codes; no one sees or removes another's device; every change in the
access log; the city's bulk path still works beside it; the export and erasure include devices and pending contacts."""

from __future__ import annotations

import re
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from shared.events.city import DutyAssigned, GuardianRelationAdded, PersonUpserted
from tests.support.city import school_unit
from tests.support.kafka import eventually, send, wire
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
NO_QUIET = {"quietHours": None}


def code_in(message: dict[str, Any]) -> str:
    [code] = re.findall(r"\b(\d{6})\b", message["subject"])
    assert code in message["body"]
    return code


async def arrived(stack: Stack, channel: str, to: str, n: int) -> list[dict[str, Any]]:
    assert stack.sinks is not None

    async def check() -> list[dict[str, Any]] | None:
        found = stack.sinks.messages(channel=channel, to=to)  # type: ignore[union-attr]
        return found if len(found) >= n else None

    return await eventually(check, what=f"{n} {channel} message(s) to {to}")


async def test_a_guardian_registers_two_devices_and_a_confirmed_phone_and_a_broadcast_reaches_each(stack: Stack) -> None:
    url = stack.services["notification"].url
    tag = uuid.uuid4().hex[:8]
    school, district, rektor = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    guardian, other = uuid.uuid4(), uuid.uuid4()
    events: list[Any] = [school_unit(school, district, name="Näckrosskolan"), PersonUpserted(id=rektor),
                         DutyAssigned(id=uuid.uuid4(), person=rektor, dutyAt=school, dutyRole="Rektor")]
    for g in (guardian, other):
        pupil = uuid.uuid4()
        events += [PersonUpserted(id=g), PersonUpserted(id=pupil),
                   GuardianRelationAdded(id=uuid.uuid4(), guardian=g, pupil=pupil, schoolUnit=school, schoolType="GR", schoolYear=3)]
    await send(stack.bootstrap, [wire(e) for e in events])
    me, them = auth("guardian", subject=str(guardian)), auth("guardian", subject=str(other))
    phone, new_email = f"+4670{int(tag, 16) % 10_000_000:07d}", f"self-{tag}@example.se"
    tokens = (f"tok-self-{tag}-phone-0001", f"tok-self-{tag}-tablet-0002")

    conn = await asyncpg.connect(stack.admin_url)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        try:
            async def known() -> dict[str, Any] | None:
                r = await http.get("/me/contacts", headers=me)
                return r.json() if r.status_code == 200 else None

            start = await eventually(known, what="the guardian known to notification")
            assert start == {"personId": str(guardian), "language": "sv", "devices": [],
                             "email": {"value": None, "confirmed": False, "confirmedAt": None, "pending": None},
                             "phone": {"value": None, "confirmed": False, "confirmedAt": None, "pending": None}}
            assert (await http.put(f"/persons/{guardian}/preferences", json={**NO_QUIET, "choices": [
                {"messageType": "broadcast", "channel": "sms", "mode": "instant"}]}, headers=me)).status_code == 200
            for who, status in (({}, 401), (auth("city_admin", subject="city-sync"), 403),
                                (auth("guardian", subject=str(uuid.uuid4())), 404)):  # /me is for persons known from the city
                r = await http.get("/me/contacts", headers=who)
                assert r.status_code == status and r.headers["content-type"].startswith(PROBLEM), r.text

            # --- two devices; the token is never echoed back in full ----------------------------------------------
            devices = []
            for label, platform, token in (("Annas iPhone", "ios", tokens[0]), ("Surfplattan", "android", tokens[1])):
                r = await http.post("/me/devices", json={"label": label, "platform": platform, "token": token}, headers=me)
                assert r.status_code == 201, r.text
                d = r.json()
                assert (d["label"], d["platform"], d["source"], d["tokenEnding"], d["lastUsedAt"]) == (label, platform, "self", "…" + token[-4:], None)
                assert token not in r.text and r.headers["location"] == f"/me/devices/{d['id']}"
                devices.append(d)
            again = await http.post("/me/devices", json={"label": "Annas nya iPhone", "platform": "ios", "token": tokens[0]}, headers=me)
            assert again.status_code == 200 and again.json()["id"] == devices[0]["id"] and again.json()["label"] == "Annas nya iPhone"
            bad = await http.post("/me/devices", json={"label": " ", "platform": "nokia", "token": tokens[0]}, headers=me)
            assert bad.status_code == 422 and {e["location"] for e in bad.json()["errors"]} >= {"body.platform"}
            listed = (await http.get("/me/devices", headers=me)).json()
            assert [d["id"] for d in listed["items"]] == [d["id"] for d in devices] and listed["total"] == 2 and listed["next"] is None
            assert not any(t in str(listed) for t in tokens)

            # --- another person cannot see or remove them -------------------------------------------------------
            assert (await http.get("/me/devices", headers=them)).json()["items"] == []
            for d in devices:
                r = await http.delete(f"/me/devices/{d['id']}", headers=them)
                assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM), r.text
            assert len((await http.get("/me/devices", headers=me)).json()["items"]) == 2

            # --- a phone number, confirmed with the code the SMS brought -----------------------------------------
            r = await http.put("/me/contacts/phone", json={"phone": phone}, headers=me)
            assert r.status_code == 202, r.text
            assert r.json()["value"] is None and r.json()["pending"]["value"] == phone and r.json()["pending"]["triesLeft"] == 5
            [sms] = await arrived(stack, "sms", phone, 1)
            code = code_in(sms)
            assert await conn.fetchval("SELECT count(*) FROM notification.contact_pending WHERE code_hash::text LIKE '%' || $1 || '%'", code) == 0
            wrong = f"{(int(code) + 1) % 1_000_000:06d}"
            r = await http.post("/me/contacts/phone/confirm", json={"code": wrong}, headers=me)
            assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM), r.text
            assert r.json()["field"] == "code" and r.json()["errors"][0]["location"] == "code" and "4 tries left" in r.json()["detail"]
            assert (await http.get("/me/contacts", headers=me)).json()["phone"]["pending"]["triesLeft"] == 4  # the wrong try counted
            assert (await http.post("/me/contacts/phone/confirm", json={"code": "12ab56"}, headers=me)).status_code == 422
            assert (await http.post("/me/contacts/phone/confirm", json={"code": code}, headers=them)).status_code == 404  # not theirs
            r = await http.post("/me/contacts/phone/confirm", json={"code": code}, headers=me)
            assert r.status_code == 200, r.text
            assert r.json()["value"] == phone and r.json()["confirmed"] and r.json()["pending"] is None
            assert (await http.post("/me/contacts/phone/confirm", json={"code": code}, headers=me)).status_code == 404  # used up

            # --- a broadcast to the school's guardians: to both devices and by SMS --------------------------------
            sent = await http.post("/broadcasts", json={"audience": {"kind": "guardians", "schoolUnitIds": [str(school)]},
                                                        "subject": f"Studiedag {tag}", "body": "Skolan är stängd på fredag."},
                                   headers=auth("principal", subject=str(rektor), school_units=(str(school),)))
            assert sent.status_code == 201, sent.text
            for token in tokens:
                [push] = await arrived(stack, "push", token, 1)
                assert push["subject"] == f"Studiedag {tag}" and "Näckrosskolan" in push["body"]
            assert [m["subject"] for m in await arrived(stack, "sms", phone, 2)][1] == f"Studiedag {tag}"

            async def settled() -> dict[str, str] | None:
                rows = await conn.fetch("SELECT channel, state FROM notification.delivery WHERE person = $1", guardian)
                states = {r["channel"]: r["state"] for r in rows}
                return states if states.get("push") == "delivered" and states.get("sms") == "delivered" else None

            assert (await eventually(settled, what="push and SMS delivered"))["inapp"] == "delivered"
            push_refs = {m["reference"] for t in tokens for m in stack.sinks.messages(channel="push", to=t)}  # type: ignore[union-attr]
            assert len(push_refs) == 2  # a reference per device: a gateway drops a repeat, not the other device

            async def used() -> list[dict[str, Any]] | None:
                items = (await http.get("/me/devices", headers=me)).json()["items"]
                return items if all(d["lastUsedAt"] for d in items) else None

            await eventually(used, what="both devices' lastUsedAt")

            # --- an expired code, and a code tried too often, are refused even when right ----------------------------
            r = await http.put("/me/contacts/email", json={"email": new_email}, headers=me)
            assert r.status_code == 202, r.text
            [mail] = await arrived(stack, "email", new_email, 1)
            await conn.execute("UPDATE notification.contact_pending SET expires_at = now() - interval '1 second' WHERE person = $1", guardian)
            r = await http.post("/me/contacts/email/confirm", json={"code": code_in(mail)}, headers=me)
            assert r.status_code == 409 and r.headers["content-type"].startswith(PROBLEM) and r.json()["type"].endswith("/code-expired"), r.text
            assert (await http.put("/me/contacts/email", json={"email": new_email}, headers=me)).status_code == 202  # a new code
            [_, mail] = await arrived(stack, "email", new_email, 2)
            for n in range(5):
                r = await http.post("/me/contacts/email/confirm", json={"code": f"{(int(code_in(mail)) + 1 + n) % 1_000_000:06d}"}, headers=me)
                assert r.status_code == 422 and r.json()["field"] == "code", r.text
            r = await http.post("/me/contacts/email/confirm", json={"code": code_in(mail)}, headers=me)
            assert r.status_code == 409 and r.json()["type"].endswith("/code-attempts-exhausted"), r.text
            mine = (await http.get("/me/contacts", headers=me)).json()
            assert mine["email"]["value"] is None and mine["email"]["pending"]["value"] == new_email  # never used unconfirmed
            assert mine["phone"] == {"value": phone, "confirmed": True, "confirmedAt": mine["phone"]["confirmedAt"], "pending": None}

            # --- the city's bulk path beside it: its token is a device; writing the same number keeps it confirmed ----
            sync = auth("city_admin", subject="city-sync")
            city_token = f"tok-city-{tag}-0003"
            assert (await http.put(f"/persons/{guardian}/contacts", json={"mobile": phone, "pushToken": city_token}, headers=sync)).status_code == 200
            mine = (await http.get("/me/contacts", headers=me)).json()
            assert mine["phone"]["confirmed"] and [d["source"] for d in mine["devices"]] == ["self", "self", "city"]
            back = await http.get(f"/persons/{guardian}/contacts", params={"reason": "support"}, headers=sync)
            assert back.status_code == 200 and back.json()["pushToken"] == city_token and back.json()["mobile"] == phone
            assert (await http.put(f"/persons/{guardian}/contacts", json={"mobile": "+46700000001"}, headers=sync)).status_code == 200
            mine = (await http.get("/me/contacts", headers=me)).json()
            assert mine["phone"]["value"] == "+46700000001" and not mine["phone"]["confirmed"]  # another number: not the confirmed one
            assert [d["source"] for d in mine["devices"]] == ["self", "self"]  # no token from the city: its device went

            # --- removing ---------------------------------------------------------------------------------------
            assert (await http.delete(f"/me/devices/{devices[1]['id']}", headers=me)).status_code == 204
            assert (await http.delete(f"/me/devices/{devices[1]['id']}", headers=me)).status_code == 404
            assert (await http.delete("/me/contacts/phone", headers=me)).status_code == 204
            mine = (await http.get("/me/contacts", headers=me)).json()
            assert mine["phone"]["value"] is None and [d["id"] for d in mine["devices"]] == [devices[0]["id"]]
            assert (await http.delete("/me/contacts/phone", headers=me)).status_code == 404

            # --- every change and confirmation in the access log, as the person's own ----------------------------
            rows = await conn.fetch("SELECT action, why_code, actor FROM notification.personal_data_access WHERE subject = $1 AND path LIKE '/me/%'",
                                    guardian)
            actions = [r["action"] for r in rows]
            assert {r["why_code"] for r in rows} == {"own-data"} and {r["actor"] for r in rows} == {str(guardian)}
            assert actions.count("device.add") == 3 and actions.count("device.remove") == 1 and actions.count("contact.pending") == 3
            assert actions.count("contact.confirm") == 1 and actions.count("contact.confirm-failed") == 8 and actions.count("contact.remove") == 1
            assert "contact.read" in actions and "device.read" in actions
            assert not await conn.fetchval("SELECT count(*) FROM notification.personal_data_access WHERE actor = $1 AND action = 'device.remove'",
                                           str(other))

            # --- at rest: encrypted tokens and pending values ------------------------------------------------------
            raw = await conn.fetch("SELECT token FROM notification.device WHERE person = $1", guardian)
            assert raw and not any(tokens[0].encode() in bytes(r["token"]) for r in raw)
            [pending] = await conn.fetch("SELECT value FROM notification.contact_pending WHERE person = $1", guardian)
            assert new_email.encode() not in bytes(pending["value"])

            # --- the right of access: devices and the pending address are in the export -----------------------------
            asked = await http.post("/privacy/access-requests", json={"personId": str(guardian), "reasonCode": "data-subject-request"}, headers=me)
            assert asked.status_code == 202, asked.text

            async def export() -> dict[str, Any] | None:
                r = await http.get(f"/privacy/access-requests/{asked.json()['id']}", headers=me)
                return r.json() if r.status_code == 200 else None

            tables = (await eventually(export, timeout=90, what="the guardian's export"))["services"]["notification"]["tables"]
            assert [(d["id"], d["token"], d["label"]) for d in tables["devices"]] == [(devices[0]["id"], tokens[0], "Annas nya iPhone")]
            assert [(p["channel"], p["value"], p["attempts"]) for p in tables["pendingContactDetails"]] == [("email", new_email, 5)]
            assert {s["state"] for s in tables["deviceSends"]} == {"delivered"}

            # --- erasure takes them too ---------------------------------------------------------------------------
            erase = await http.post("/privacy/erasure-requests", json={"personId": str(guardian), "reasonCode": "objection"},
                                    headers=auth("data_protection"))
            assert erase.status_code == 202, erase.text

            async def erased() -> bool:
                left = await conn.fetchval(
                    "SELECT (SELECT count(*) FROM notification.device WHERE person = $1) + (SELECT count(*) FROM notification.contact_pending"
                    " WHERE person = $1) + (SELECT count(*) FROM notification.device_send s JOIN notification.delivery d ON d.id = s.delivery_id"
                    " WHERE d.person = $1)", guardian)
                return left == 0

            await eventually(erased, timeout=60, what="the guardian's devices and pending contacts erased")
        finally:
            await conn.close()


async def test_an_address_no_mail_can_carry_is_refused_naming_the_field_never_a_server_error(stack: Stack) -> None:
    person = uuid.uuid4()
    await send(stack.bootstrap, [wire(PersonUpserted(id=person))])
    me = auth("guardian", subject=str(person))
    async with httpx.AsyncClient(base_url=stack.services["notification"].url, timeout=30) as http:
        async def known() -> bool:
            return (await http.get("/me/contacts", headers=me)).status_code == 200

        await eventually(known, what="the person known to notification")
        # control characters: refused by the request's own rules
        r = await http.put("/me/contacts/email", json={"email": "a\u0006b@exempel.se"}, headers=me)
        assert r.status_code == 422 and r.json()["field"] == "body.email", r.text
        # letters of another script are an address (the catcher speaks SMTPUTF8): a code goes out
        r = await http.put("/me/contacts/email", json={"email": f"åsa-{person.hex[:6]}@exempel.se"}, headers=me)
        assert r.status_code == 202, r.text
