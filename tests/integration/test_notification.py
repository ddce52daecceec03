"""Notification: contact details only here and encrypted at rest, every read logged; recipients' own preferences."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from shared.events.city import PersonUpserted
from tests.support.kafka import eventually, send, wire
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
        with pytest.raises(Exception):
            keys.decrypt(row["key_id"], uuid.uuid4(), bytes(row["email"]))
        log = await conn.fetch("SELECT actor, action, reason FROM notification.contact_access WHERE person = $1 ORDER BY id", guardian)
        assert [(r["actor"], r["action"], r["reason"]) for r in log] == [("city-sync", "write", "contact details from the city's systems"),
                                                                          ("city-sync", "read", "support")]
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
        assert refused.status_code == 422 and refused.json()["field"] == "choices.0.mode"
        critical = next(t for t in (await http.get(f"{url}/persons/{guardian}/preferences", headers=me)).json()["messageTypes"]
                        if t["messageType"] == "critical")
        assert set(critical["channels"].values()) == {"instant"} and critical["critical"]
        someone_else = auth("guardian", subject=str(uuid.uuid4()))
        assert (await http.get(f"{url}/persons/{guardian}/preferences", headers=someone_else)).status_code == 403
        assert (await http.put(f"{url}/persons/{guardian}/preferences", headers=someone_else, json={"language": "sv"})).status_code == 403
        assert (await http.get(f"{url}/persons/{guardian}/preferences", headers=auth("city_admin"))).status_code == 200
        assert (await http.get(f"{url}/persons/{guardian}/preferences")).status_code == 401
