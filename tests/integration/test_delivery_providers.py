"""The real delivery providers' adapters (services/notification/providers/) against the local sinks speaking the same
shapes (devkit/sinks.py): SMS through 46elks with its delivery reports, Web Push decrypted by the sink playing the
browser, FCM HTTP v1 with its OAuth2 token exchange, and e-mail bounces as RFC 3464 DSNs.

The module restarts the session's notification process with the providers' settings (Sinks.provider_env) and gives
it back its own settings afterwards: the other modules keep the gateways they test."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from devkit.sinks import dsn_for
from services.notification.providers import elks
from services.notification.settings import DEV_CALLBACK_TOKEN
from tests.integration.test_notification_channels import NO_QUIET, make_school, settled, to_guardians
from tests.support.kafka import eventually
from tests.support.stack import Stack, auth, restart

pytestmark = pytest.mark.integration
SMS_NOW = {**NO_QUIET, "choices": [{"messageType": "broadcast", "channel": "sms", "mode": "instant"}]}
CALLBACKS = {"Authorization": f"Bearer {DEV_CALLBACK_TOKEN}"}


@pytest.fixture(scope="module")
def providers(stack: Stack) -> Iterator[Stack]:
    assert stack.sinks is not None
    svc = stack.services["notification"]
    original = dict(svc.env)
    folder = Path(tempfile.mkdtemp(prefix="skolit-providers-"))
    # a city whose fallback chain has e-mail before SMS, so that a bounced e-mail has a channel to fall back to
    env = {**original, **stack.sinks.provider_env(folder), "SKOLIT_NOTIFICATION_FALLBACK": "push,email,sms"}
    restart(svc, env, "--- with the real providers' adapters (test_delivery_providers)")
    try:
        yield stack
    finally:
        stack.sinks.clear_failures()
        restart(svc, original, "--- back to the gateways")
        shutil.rmtree(folder, ignore_errors=True)


async def one(conn: asyncpg.Connection, person: uuid.UUID, channel: str, column: str = "state") -> Any:
    return await conn.fetchval(f"SELECT {column} FROM notification.delivery WHERE person = $1 AND channel = $2 ORDER BY id DESC LIMIT 1",  # noqa: S608
                               person, channel)


async def test_sms_through_46elks_is_reported_delivered_or_failed(providers: Stack) -> None:
    stack = providers
    assert stack.sinks is not None
    url = stack.services["notification"].url
    stack.sinks.http.sms_report("+46701234002", "failed")
    async with httpx.AsyncClient(timeout=30) as http:
        s = await make_school(stack, http, {
            "ok": {"contacts": {"mobile": "+46701234001"}, "prefs": SMS_NOW},
            "bad": {"contacts": {"mobile": "+46701234002"}, "prefs": SMS_NOW},
        }, name="Älvskolan")
        r = await http.post(f"{url}/broadcasts", json={"audience": to_guardians(s), "subject": "Friluftsdag", "body": "Ta med matsäck."},
                            headers=s.principal())
        assert r.status_code == 201, r.text
        conn = await asyncpg.connect(stack.admin_url)
        try:
            g = s.guardians
            await settled(conn, g["ok"], {"sms": ("instant", "delivered"), "inapp": ("instant", "delivered")})
            # 46elks said failed: failed for good (the recipient is then on the unreached worklist)
            await settled(conn, g["bad"], {"sms": ("instant", "permanent-failure"), "inapp": ("instant", "delivered")})
            assert await one(conn, g["bad"], "sms", "last_error") == "46elks-failed"
            ok_id, elks_id = await conn.fetchrow("SELECT id, gateway_ref FROM notification.delivery WHERE person = $1 AND channel = 'sms'", g["ok"])
        finally:
            await conn.close()
        [sms] = stack.sinks.messages(channel="sms", to="+46701234001")
        assert sms["provider"] == "46elks" and sms["from"] == "Skolit" and sms["id"] == elks_id  # 46elks' id kept as the reference
        assert "Ta med matsäck." in sms["body"] and sms["reference"] == str(ok_id)

        # the report URL is signed per message: another reference's signature, or none, opens nothing
        report = f"{url}/providers/46elks/reports/{ok_id}"
        wrong = await http.post(report, params={"sig": elks.report_signature(DEV_CALLBACK_TOKEN, str(ok_id + 1))},
                                data={"id": elks_id, "status": "failed"})
        assert wrong.status_code == 403 and wrong.headers["content-type"].startswith("application/problem+json")
        assert (await http.post(report, data={"id": elks_id, "status": "failed"})).status_code == 403
        signed = {"sig": elks.report_signature(DEV_CALLBACK_TOKEN, str(ok_id))}
        late = await http.post(report, params=signed, data={"id": elks_id, "status": "failed"})  # after delivered: changes nothing
        assert late.status_code == 200 and late.json() == {"reference": str(ok_id), "state": "delivered", "changed": False}
        again = await http.post(report, params=signed, data={"id": elks_id, "status": "delivered", "delivered": "2026-12-07 08:00:00"})
        assert again.json()["changed"] is False
        assert (await http.post(report, params=signed, data={"id": elks_id, "status": "exploded"})).status_code == 422


async def test_web_push_is_decrypted_by_the_browser_and_fcm_reaches_the_app_until_both_are_gone(providers: Stack) -> None:
    stack = providers
    assert stack.sinks is not None
    url = stack.services["notification"].url
    async with httpx.AsyncClient(timeout=30) as http:
        s = await make_school(stack, http, {"app": {"contacts": {"email": "push-user@example.se"}}}, name="Vallaskolan")
        g = s.guardians["app"]
        me = auth("guardian", subject=str(g))
        key = await http.get(f"{url}/push/vapid-public-key")
        assert key.status_code == 200 and len(key.json()["applicationServerKey"]) == 87
        subscription = stack.sinks.http.mint_subscription()
        fcm_token = f"fcm-{uuid.uuid4().hex}"
        bad = await http.post(f"{url}/me/devices", json={"label": "Webben", "platform": "ios", "subscription": subscription}, headers=me)
        assert bad.status_code == 422 and bad.json()["field"] == "platform"
        web = await http.post(f"{url}/me/devices", json={"label": "Webben", "platform": "web", "subscription": subscription}, headers=me)
        assert web.status_code == 201, web.text
        assert web.json()["tokenEnding"] == "…" + subscription["endpoint"][-4:]
        again = await http.post(f"{url}/me/devices", json={"label": "Webben igen", "platform": "web", "subscription": subscription}, headers=me)
        assert again.status_code == 200 and again.json()["id"] == web.json()["id"]  # the same subscription: the same device
        phone = await http.post(f"{url}/me/devices", json={"label": "Telefonen", "platform": "android", "token": fcm_token}, headers=me)
        assert phone.status_code == 201, phone.text

        text = "Skolan är stängd på måndag – värmen är borta."
        r = await http.post(f"{url}/broadcasts", json={"audience": to_guardians(s), "subject": "Stängt måndag", "body": text}, headers=s.principal())
        assert r.status_code == 201, r.text
        conn = await asyncpg.connect(stack.admin_url)
        try:
            # both accepted by their services, then confirmed by the devices' receipts: delivered
            await settled(conn, g, {"push": ("instant", "delivered"), "email": ("digest", "queued"), "inapp": ("instant", "delivered")})
            # the delivery is delivered at the first device's receipt; the other device's receipt may come a moment later
            deadline = time.monotonic() + 30
            while True:
                sends = await conn.fetch("SELECT s.state, s.gateway_ref FROM notification.device_send s JOIN notification.delivery d ON d.id = s.delivery_id"
                                         " WHERE d.person = $1 ORDER BY s.id", g)
                if all(x["state"] == "delivered" for x in sends) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert [x["state"] for x in sends] == ["delivered", "delivered"]
            assert {x["gateway_ref"].split("/messages/")[0] for x in sends} == {f"{stack.sinks.http.url}/webpush", "projects/skolit-sink"}
        finally:
            await conn.close()
        [browser] = stack.sinks.messages(channel="push", to=subscription["endpoint"])
        assert browser["provider"] == "webpush" and browser["vapidSub"] == "mailto:it@skolit.local"
        assert browser["subject"] == "Stängt måndag" and text in browser["body"]  # the sink decrypted it with the browser's key
        [app] = stack.sinks.messages(channel="push", to=fcm_token)
        assert app["provider"] == "fcm" and app["subject"] == "Stängt måndag" and text in app["body"]
        forged = await http.post(f"{url}/push/receipts", json={"reference": browser["reference"], "receiptToken": app["payload"]["receiptToken"]})
        assert forged.status_code == 403  # a receipt token opens its own push only

        # the subscription gone (410) and the app uninstalled (UNREGISTERED): failed, both devices dropped, e-mail instead
        stack.sinks.fail("push", to=subscription["endpoint"], status=410, times=-1)
        stack.sinks.fail("push", to=fcm_token, status=404, times=-1)
        r = await http.post(f"{url}/broadcasts", json={"audience": to_guardians(s), "subject": "Öppet igen", "body": "Värmen är tillbaka."},
                            headers=s.principal())
        assert r.status_code == 201
        conn = await asyncpg.connect(stack.admin_url)
        try:
            async def failed() -> bool:
                return await one(conn, g, "push") == "permanent-failure"

            await eventually(failed, what="the second push failed")
            errors = await conn.fetch("SELECT s.last_error, s.device_id FROM notification.device_send s JOIN notification.delivery d"
                                      " ON d.id = s.delivery_id WHERE d.person = $1 AND s.state = 'permanent' ORDER BY s.id", g)
            assert sorted(e["last_error"] for e in errors) == ["fcm-unregistered", "subscription-gone"]
            assert all(e["device_id"] is None for e in errors)  # the devices are gone

            async def emailed() -> bool:
                return await one(conn, g, "email") == "delivered"

            await eventually(emailed, what="the e-mail the failed push fell back to")
        finally:
            await conn.close()
        assert (await http.get(f"{url}/me/devices", headers=me)).json()["items"] == []


async def test_a_bounce_fails_the_email_marks_the_address_and_the_fallback_goes_on(providers: Stack) -> None:
    stack = providers
    assert stack.sinks is not None
    url = stack.services["notification"].url
    async with httpx.AsyncClient(timeout=30) as http:
        s = await make_school(stack, http, {"mail": {"contacts": {"email": "no-such-box@example.se", "mobile": "+46701234003"}}}, name="Ekbacken")
        g = s.guardians["mail"]
        r = await http.post(f"{url}/broadcasts", json={"audience": to_guardians(s), "subject": "Utflykt", "body": "Vi åker till Skansen."},
                            headers=s.principal())
        assert r.status_code == 201
        conn = await asyncpg.connect(stack.admin_url)
        try:
            await settled(conn, g, {"email": ("instant", "delivered"), "inapp": ("instant", "delivered")})  # the mail server took it
            email_id = await one(conn, g, "email", "id")
            [mail] = stack.sinks.messages(channel="email", to="no-such-box@example.se")
            assert mail["from"] == f"bounces+{email_id}@skolit.local"  # VERP: the bounce will name the delivery
            dsn = dsn_for(mail, status="5.1.1")
            headers = {**CALLBACKS, "Content-Type": "message/rfc822"}
            assert (await http.post(f"{url}/providers/email/bounces", content=dsn, headers={"Content-Type": "message/rfc822"})).status_code == 401
            bounced = await http.post(f"{url}/providers/email/bounces", content=dsn, headers=headers)
            assert bounced.status_code == 200, bounced.text
            assert bounced.json()["items"] == [{"reference": str(email_id), "matched": True, "changed": True, "kind": "hard", "fallback": True,
                                                "addressUndeliverable": True}]
            await settled(conn, g, {"email": ("instant", "bounced"), "sms": ("instant", "delivered"), "inapp": ("instant", "delivered")})
            assert await one(conn, g, "email", "last_error") == "bounce-hard-5.1.1"
            repeat = await http.post(f"{url}/providers/email/bounces", content=dsn, headers=headers)
            assert repeat.json()["items"][0]["changed"] is False

            # the next message: the address is known undeliverable, so the e-mail fails at once and SMS takes over
            before = len(stack.sinks.messages(channel="email", to="no-such-box@example.se"))
            r = await http.post(f"{url}/broadcasts", json={"audience": to_guardians(s), "subject": "Hemkomst", "body": "Åter kl 15."},
                                headers=s.principal())
            assert r.status_code == 201

            async def fell_back() -> bool:
                return await one(conn, g, "sms") == "delivered" and await one(conn, g, "email") == "permanent-failure"

            await eventually(fell_back, what="the second message on SMS")
            assert await one(conn, g, "email", "last_error") == "address-undeliverable"
            assert len(stack.sinks.messages(channel="email", to="no-such-box@example.se")) == before
            assert any("Åter kl 15." in m["body"] for m in stack.sinks.messages(channel="sms", to="+46701234003"))
        finally:
            await conn.close()
