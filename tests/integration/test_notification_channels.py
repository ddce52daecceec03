"""Notification over real channels: a local SMTP server and an HTTP gateway sink (devkit/sinks.py)
receive what the senders send. Broadcasts to audiences, preferences, quiet hours with controlled
time, digests, fallback after gateway failures, callbacks, the unreached worklist, never twice."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.notification.schemas import Inbox, Preferences
from services.notification.settings import DEV_CALLBACK_TOKEN
from shared.clock import CITY_TZ, city_today
from shared.events.assessment import AssessmentReopened, AssessmentSubmitted, CampaignOpened
from shared.events.city import DutyAssigned, GuardianRelationAdded, GuardianRelationEnded, PersonUpserted
from tests.support.city import school_unit
from shared.events.notification import MessageDelivered, MessageFailed
from shared.http.pages import encode_cursor
from tests.support.kafka import EventLog, eventually, read_all, send, wire
from tests.support.sealing import sealed, wait_for_person
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration

NO_QUIET = {"quietHours": None}


@dataclass
class School:
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    district: uuid.UUID = field(default_factory=uuid.uuid4)
    rektor: uuid.UUID = field(default_factory=uuid.uuid4)
    guardians: dict[str, uuid.UUID] = field(default_factory=dict)
    relations: dict[str, uuid.UUID] = field(default_factory=dict)

    def principal(self) -> dict[str, str]:
        return auth("principal", subject=str(self.rektor), school_units=(str(self.id),))


async def make_school(stack: Stack, http: httpx.AsyncClient, guardians: dict[str, dict[str, Any]], *, name: str = "Ekdalsskolan",
                      protected: tuple[str, ...] = ()) -> School:
    """A school unit with a Rektor and guardians: name → {"year": year group, "contacts": {...}, "prefs": {...}}."""
    s = School()
    events: list[Any] = [school_unit(s.id, s.district, name=name), PersonUpserted(id=s.rektor),
              DutyAssigned(id=uuid.uuid4(), person=s.rektor, dutyAt=s.id, dutyRole="Rektor")]
    for key, spec in guardians.items():
        g, pupil, rel = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        s.guardians[key], s.relations[key] = g, rel
        marking = "Skyddad folkbokföring" if key in protected else "Ingen"
        events += [PersonUpserted(id=g, securityMarking=marking), PersonUpserted(id=pupil),
                   GuardianRelationAdded(id=rel, guardian=g, pupil=pupil, schoolUnit=s.id, schoolType="GR", schoolYear=spec.get("year", 4))]
    await send(stack.bootstrap, [wire(e) for e in events])
    url = stack.services["notification"].url
    admin = auth("city_admin", subject="city-sync")
    for key, spec in guardians.items():
        g = s.guardians[key]
        if spec.get("contacts"):
            async def stored(g: uuid.UUID = g, body: dict[str, Any] = spec["contacts"]) -> bool:
                return (await http.put(f"{url}/persons/{g}/contacts", json=body, headers=admin)).status_code == 200

            await eventually(stored, what=f"guardian {key} known to notification")
        prefs = spec.get("prefs", NO_QUIET)
        assert (await http.put(f"{url}/persons/{g}/preferences", json=prefs, headers=auth("guardian", subject=str(g)))).status_code == 200

    async def audience_known() -> bool:
        r = await http.get(f"{url}/school-units/{s.id}/audience", headers=auth("city_admin"))
        return r.status_code == 200 and r.json()["guardians"] == len(guardians) and r.json()["staffByDutyRole"].get("Rektor") == 1

    await eventually(audience_known, what="the school's guardians in notification")
    return s


def to_guardians(s: School, **extra: Any) -> dict[str, Any]:
    return {"kind": "guardians", "schoolUnitIds": [str(s.id)], **extra}


async def deliveries(conn: asyncpg.Connection, person: uuid.UUID) -> dict[str, tuple[str, str]]:
    rows = await conn.fetch("SELECT channel, mode, state FROM notification.delivery WHERE person = $1 ORDER BY id", person)
    return {r["channel"]: (r["mode"], r["state"]) for r in rows}


async def settled(conn: asyncpg.Connection, person: uuid.UUID, want: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    async def check() -> dict[str, tuple[str, str]] | None:
        now = await deliveries(conn, person)
        return now if now == want else None

    try:
        return await eventually(check, what=f"deliveries of {person} to become {want}")
    except AssertionError:
        raise AssertionError(f"deliveries are {await deliveries(conn, person)}, wanted {want}") from None


async def test_a_broadcast_reaches_its_audience_once_on_each_chosen_channel(stack: Stack) -> None:
    url = stack.services["notification"].url
    async with httpx.AsyncClient(timeout=30) as http:
        s = await make_school(stack, http, {
            "app": {"year": 4, "contacts": {"email": "app@example.se", "pushToken": "tok-app"}},       # push now, e-mail as digest
            "mail": {"year": 4, "contacts": {"email": "mail@example.se", "language": "en"}},          # no app: e-mail now
            "sms": {"year": 4, "contacts": {"mobile": "+46701110001"},
                    "prefs": {**NO_QUIET, "choices": [{"messageType": "broadcast", "channel": "sms", "mode": "instant"}]}},
            "nothing": {"year": 4},                                                                    # in the app only
            "other-year": {"year": 7, "contacts": {"email": "year7@example.se"}},
        }, protected=("nothing",))
        rektor = s.principal()
        audience = to_guardians(s, schoolYears=[4])
        preview = await http.post(f"{url}/broadcasts/audience", json=audience, headers=rektor)
        assert preview.status_code == 200, preview.text
        assert preview.json() == {"recipients": 4, "perSchoolUnit": {str(s.id): 4}, "withContact": {"email": 2, "sms": 1, "push": 1, "none": 1}}
        before = len(stack.sinks.messages())

        # bad input: clear 4xx, nothing sent
        other = uuid.uuid4()
        bad = [
            ({"audience": {"kind": "pupils", "schoolUnitIds": [str(s.id)]}, "subject": "x", "body": "y"}, rektor, 422),
            ({"audience": audience, "subject": "  ", "body": "y"}, rektor, 422),
            ({"audience": audience, "subject": "Hej", "body": ""}, rektor, 422),
            ({"audience": {**audience, "dutyRoles": ["Rektor"]}, "subject": "x", "body": "y"}, rektor, 422),
            ({"audience": to_guardians(s, schoolYears=[12]), "subject": "x", "body": "y"}, rektor, 422),  # reaches no one
            ({"audience": {"kind": "guardians", "schoolUnitIds": [str(other)]}, "subject": "x", "body": "y"}, auth("city_admin"), 422),
            ({"audience": audience, "subject": "x", "body": "y"}, auth("principal", school_units=(str(other),)), 403),
            ({"audience": audience, "subject": "x", "body": "y"}, auth("district_admin", districts=(str(uuid.uuid4()),)), 403),
            ({"audience": audience, "subject": "x", "body": "y"}, auth("teacher", school_units=(str(s.id),)), 403),
            ({"audience": audience, "subject": "x", "body": "y"}, auth("guardian", subject=str(s.guardians["app"])), 403),
            ({"audience": audience, "subject": "x", "body": "y"}, {}, 401),
        ]
        for body, who, status in bad:
            r = await http.post(f"{url}/broadcasts", json=body, headers=who)
            assert r.status_code == status, (body, r.text)
            assert r.headers["content-type"].startswith("application/problem+json") and r.json()["detail"]

        broadcast_id = str(uuid.uuid4())
        message = {"id": broadcast_id, "audience": audience, "subject": "Utvecklingssamtal i vecka 48",
                   "body": "Boka en tid i kalendern.", "link": "/bookings"}
        sent = await http.post(f"{url}/broadcasts", json=message, headers=rektor)
        assert sent.status_code == 201, sent.text
        assert sent.json()["recipients"] == 4
        again = await http.post(f"{url}/broadcasts", json=message, headers=rektor)  # a client retry
        assert again.status_code == 200 and again.json()["id"] == broadcast_id
        assert (await http.post(f"{url}/broadcasts", json=message, headers=auth("principal", subject="someone-else",
                                                                                 school_units=(str(s.id),)))).status_code == 409

    conn = await asyncpg.connect(stack.admin_url)
    try:
        g = s.guardians
        assert await settled(conn, g["app"], {"push": ("instant", "delivered"), "email": ("digest", "queued"), "inapp": ("instant", "delivered")})
        assert await settled(conn, g["mail"], {"email": ("instant", "delivered"), "inapp": ("instant", "delivered")})
        assert await settled(conn, g["sms"], {"sms": ("instant", "delivered"), "inapp": ("instant", "delivered")})
        assert await settled(conn, g["nothing"], {"inapp": ("instant", "delivered")})
        assert await deliveries(conn, g["other-year"]) == {}
        assert await deliveries(conn, s.rektor) == {}
    finally:
        await conn.close()

    [push] = stack.sinks.messages(channel="push", to="tok-app")
    assert push["subject"] == "Utvecklingssamtal i vecka 48" and "Boka en tid" in push["body"] and "Ekdalsskolan" in push["body"]
    assert push["body"].rstrip().endswith("/bookings")  # the deep link, absolute for the web client
    [mail] = stack.sinks.messages(channel="email", to="mail@example.se")
    assert mail["subject"] == "Utvecklingssamtal i vecka 48" and mail["reference"]
    [sms] = stack.sinks.messages(channel="sms", to="+46701110001")
    assert len(stack.sinks.messages()) - before == 3  # once per recipient and channel, the retry sent nothing
    assert stack.sinks.messages(to="year7@example.se") == []

    async with httpx.AsyncClient(timeout=30) as http:
        g = s.guardians
        reader = auth("guardian", subject=str(g["nothing"]))
        [inbox_item] = (await http.get(f"{url}/persons/{g['nothing']}/messages", headers=reader)).json()["items"]
        read = await http.post(f"{url}/persons/{g['nothing']}/messages/{inbox_item['id']}/read", headers=reader)
        assert read.status_code == 200
        counts = (await http.get(f"{url}/broadcasts/{broadcast_id}", headers=rektor)).json()
        assert counts["recipients"] == 4 and counts["read"] == 1 and counts["reached"] == 4 and counts["unreached"] == 0
        assert counts["deliveries"]["push"] == {"delivered": 1} and counts["deliveries"]["email"] == {"delivered": 1, "queued": 1}
        receipts = (await http.get(f"{url}/broadcasts/{broadcast_id}/receipts", params={"schoolUnitId": str(s.id), "reason": "delivery-problem"},
                                   headers=rektor)).json()["items"]
        assert len(receipts) == 4
        hidden = [r for r in receipts if r["person"]["protected"]]
        assert hidden == [{"person": {"id": None, "name": None, "protected": True, "kind": "person"}, "read": True, "channels": {"inapp": "delivered"}}]
        assert str(g["nothing"]) not in str(receipts)
        assert {r["person"]["id"] for r in receipts if not r["person"]["protected"]} == {str(g[k]) for k in ("app", "mail", "sms")}
        # a page at a time: the pages together are the whole list, total counts it all
        first = (await http.get(f"{url}/broadcasts/{broadcast_id}/receipts",
                                params={"schoolUnitId": str(s.id), "reason": "delivery-problem", "limit": 3}, headers=rektor)).json()
        assert (len(first["items"]), first["limit"], first["total"]) == (3, 3, 4) and first["next"]
        rest = (await http.get(f"{url}/broadcasts/{broadcast_id}/receipts", params={"schoolUnitId": str(s.id), "reason": "delivery-problem",
                                                                                   "limit": 3, "cursor": first["next"]}, headers=rektor)).json()
        assert len(rest["items"]) == 1 and rest["next"] is None and rest["total"] == 4
        assert first["items"] + rest["items"] == receipts
        for who, status in ((auth("principal", school_units=(str(uuid.uuid4()),)), 403), (auth("teacher", school_units=(str(s.id),)), 403),
                            (auth("district_admin", districts=(str(s.district),)), 200), (auth("city_admin"), 200)):
            assert (await http.get(f"{url}/broadcasts/{broadcast_id}/receipts", params={"schoolUnitId": str(s.id), "reason": "support"},
                                   headers=who)).status_code == status
        assert (await http.get(f"{url}/broadcasts/{uuid.uuid4()}", headers=rektor)).status_code == 404


async def test_quiet_hours_delay_and_critical_messages_bypass_them_on_the_log(stack: Stack) -> None:
    url = stack.services["notification"].url
    local = datetime.now(CITY_TZ)
    start, end = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0), (local + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    quiet = {"quietHours": {"start": start.isoformat(timespec="minutes"), "end": end.isoformat(timespec="minutes")}}
    async with httpx.AsyncClient(timeout=30) as http:
        s = await make_school(stack, http, {"sleeper": {"contacts": {"pushToken": "tok-sleeper"}, "prefs": quiet}}, name="Tystaskolan")
        rektor = s.principal()
        normal = await http.post(f"{url}/broadcasts", json={"audience": to_guardians(s), "subject": "Fotodag", "body": "Fotografering på torsdag."},
                                 headers=rektor)
        urgent = await http.post(f"{url}/broadcasts", json={"audience": to_guardians(s), "subject": "Skolan är stängd i dag", "critical": True,
                                                            "body": "Vattenläcka: skolan håller stängt i dag."}, headers=rektor)
        assert normal.status_code == urgent.status_code == 201

        [urgent_push] = await arrived(stack, "push", "tok-sleeper", 1)
        assert urgent_push["subject"] == "VIKTIGT: Skolan är stängd i dag"
        conn = await asyncpg.connect(stack.admin_url)
        try:
            waiting = await conn.fetchrow("SELECT d.state, d.send_after FROM notification.delivery d JOIN notification.message m ON m.id = d.message_id"
                                          " WHERE d.person = $1 AND d.channel = 'push' AND m.message_type = 'broadcast'", s.guardians["sleeper"])
            assert waiting["state"] == "queued"  # delayed, not dropped
            assert waiting["send_after"].astimezone(CITY_TZ).time() == end and waiting["send_after"] > datetime.now(UTC)
        finally:
            await conn.close()
        log = (await http.get(f"{url}/quiet-hours-bypasses", params={"schoolUnitId": str(s.id), "reason": "support"}, headers=rektor)).json()["items"]
        assert [(e["person"]["id"], e["channel"], e["messageType"]) for e in log] == [(str(s.guardians["sleeper"]), "push", "critical")]
        # the whole city's log is not theirs
        assert (await http.get(f"{url}/quiet-hours-bypasses", params={"reason": "support"}, headers=rektor)).status_code == 403
        assert (await http.get(f"{url}/quiet-hours-bypasses", params={"reason": "dpo-review"}, headers=auth("data_protection"))).status_code == 200

        # the clock moves past the quiet hours: the delayed message goes
        after = (local + timedelta(hours=1)).replace(second=0, microsecond=0) + timedelta(minutes=1)  # the end's next occurrence
        flushed = await http.post(f"{url}/deliveries/send", json={"asOf": after.isoformat()}, headers=auth("city_admin"))
        assert flushed.status_code == 200 and flushed.json()["claimed"]["push"] >= 1
        assert [m["subject"] for m in stack.sinks.messages(channel="push", to="tok-sleeper")] == ["VIKTIGT: Skolan är stängd i dag", "Fotodag"]
        assert (await http.post(f"{url}/deliveries/send", json={}, headers=rektor)).status_code == 403


async def test_digest_items_go_out_together_the_next_day(stack: Stack) -> None:
    url = stack.services["notification"].url
    async with httpx.AsyncClient(timeout=30) as http:
        s = await make_school(stack, http, {"reader": {"contacts": {"email": "digest@example.se", "pushToken": "tok-digest"}}}, name="Lindskolan")
        for subject in ("Luciafirande", "Julavslutning"):
            r = await http.post(f"{url}/broadcasts", json={"audience": to_guardians(s), "subject": subject, "body": f"{subject} i aulan."},
                                headers=s.principal())
            assert r.status_code == 201
        await arrived(stack, "push", "tok-digest", 2)
        assert stack.sinks.messages(channel="email", to="digest@example.se") == []
        admin = auth("city_admin")
        tomorrow = city_today() + timedelta(days=1)
        today_run = await http.post(f"{url}/jobs/digests/run", json={"asOf": city_today().isoformat()}, headers=admin)
        assert today_run.status_code == 200  # today's items wait for tomorrow's digest
        job = await http.post(f"{url}/jobs/digests/run", json={"asOf": tomorrow.isoformat()}, headers=admin)
        assert job.status_code == 200 and job.json()["result"]["digests"] >= 1
        again = await http.post(f"{url}/jobs/digests/run", json={"asOf": tomorrow.isoformat()}, headers=admin)
        assert again.json()["result"]["digests"] == 0
        morning = datetime.combine(tomorrow, time(8, 0), CITY_TZ)
        await http.post(f"{url}/deliveries/send", json={"asOf": morning.isoformat()}, headers=admin)
    [digest] = await arrived(stack, "email", "digest@example.se", 1)
    assert digest["subject"] == "Dagens sammanfattning från Skolit (2 meddelanden)"
    assert "Luciafirande" in digest["body"] and "Julavslutning" in digest["body"] and digest["body"].count("Lindskolan") == 2
    conn = await asyncpg.connect(stack.admin_url)
    try:
        async def items() -> list[tuple[str, bool]] | None:
            states = await conn.fetch("SELECT d.state, d.bundled_into IS NOT NULL AS bundled FROM notification.delivery d JOIN notification.message m"
                                      " ON m.id = d.message_id WHERE d.person = $1 AND d.channel = 'email' AND m.message_type = 'broadcast'",
                                      s.guardians["reader"])
            found = [(r["state"], r["bundled"]) for r in states]
            return found if found == [("delivered", True), ("delivered", True)] else None

        # the sender records what the mail server took after it took it (decision 0007): wait for the record
        await eventually(items, timeout=10, what="both digest items recorded delivered")
    finally:
        await conn.close()


async def arrived(stack: Stack, channel: str, to: str, n: int) -> list[dict[str, Any]]:
    """The first ``n`` messages to ``to`` at the sink, once they are there."""
    async def check() -> list[dict[str, Any]] | None:
        found = stack.sinks.messages(channel=channel, to=to)
        return found if len(found) >= n else None

    return await eventually(check, what=f"{n} {channel} message(s) to {to}")


async def test_failed_channels_fall_back_and_the_unreached_are_listed(stack: Stack) -> None:
    url = stack.services["notification"].url
    sinks = stack.sinks
    sinks.fail("push", to="tok-broken", status=400, times=-1)      # the app was uninstalled: permanent
    sinks.fail("push", to="tok-flaky", status=503, times=1)        # the gateway hiccups once
    sinks.fail("email", to="gone@example.se", status=550, times=-1)  # no such mailbox
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            s = await make_school(stack, http, {
                "broken": {"contacts": {"pushToken": "tok-broken", "mobile": "+46701110002", "email": "broken@example.se"}},
                "flaky": {"contacts": {"pushToken": "tok-flaky", "email": "flaky@example.se"}},
                "gone": {"contacts": {"email": "gone@example.se"}},
                "none": {},
            }, name="Björkskolan")
            r = await http.post(f"{url}/broadcasts", json={"audience": to_guardians(s), "subject": "Studiedag", "body": "Ingen undervisning fredag."},
                                headers=s.principal())
            assert r.status_code == 201
            conn = await asyncpg.connect(stack.admin_url)
            try:
                g = s.guardians
                # push failed for good → SMS (off by default, but not turned off by the guardian) → delivered
                await settled(conn, g["broken"], {"push": ("instant", "permanent-failure"), "sms": ("instant", "delivered"),
                                                  "email": ("digest", "queued"), "inapp": ("instant", "delivered")})
                await settled(conn, g["gone"], {"email": ("instant", "permanent-failure"), "inapp": ("instant", "delivered")})
                waiting = await conn.fetchrow("SELECT state, attempts, send_after, last_error FROM notification.delivery WHERE person = $1 AND channel = 'push'",
                                              g["flaky"])
                assert (waiting["state"], waiting["attempts"], waiting["last_error"]) == ("temporary-failure", 1, "http-503")
                assert timedelta(seconds=25) < waiting["send_after"] - datetime.now(UTC) <= timedelta(seconds=30)  # backoff, not at once
                flushed = await http.post(f"{url}/deliveries/send", json={"asOf": (waiting["send_after"] + timedelta(seconds=1)).isoformat()},
                                          headers=auth("city_admin"))
                assert flushed.status_code == 200
                await settled(conn, g["flaky"], {"push": ("instant", "delivered"), "email": ("digest", "queued"), "inapp": ("instant", "delivered")})
                assert await conn.fetchval("SELECT attempts FROM notification.delivery WHERE person = $1 AND channel = 'push'", g["flaky"]) == 2
            finally:
                await conn.close()
            [sms] = sinks.messages(channel="sms", to="+46701110002")
            assert sms["subject"] == "Studiedag"

            worklist = await http.get(f"{url}/school-units/{s.id}/unreached", params={"reason": "delivery-problem"}, headers=s.principal())
            assert worklist.status_code == 200
            assert worklist.json()["guardians"] == worklist.json()["total"] == 2
            items = {i["person"]["id"]: i for i in worklist.json()["items"]}
            assert set(items) == {str(g["gone"]), str(g["none"])}
            assert items[str(g["gone"])]["messages"][0]["reason"] == "all-channels-failed"
            assert items[str(g["none"])]["messages"][0]["reason"] == "no-contact-details"
            assert (await http.get(f"{url}/school-units/{s.id}/unreached", params={"reason": "delivery-problem"},
                                   headers=auth("principal", school_units=(str(uuid.uuid4()),)))).status_code == 403
    finally:
        sinks.clear_failures()

    # events out carry ids only, the recipient sealed: who, which message, which channel — no address, number or text
    log = await EventLog(stack.bootstrap, "skolit.notification").start()
    try:
        gone = await wait_for_person(log, stack.admin_url, MessageFailed, "recipient", g["gone"])
        assert (gone.channel, gone.state, gone.reason, gone.fallbackChannel, gone.schoolUnitId) == ("email", "permanent-failure", "smtp-550", None, s.id)
        broken = await wait_for_person(log, stack.admin_url, MessageFailed, "recipient", g["broken"])
        assert (broken.channel, broken.reason, broken.fallbackChannel) == ("push", "http-400", "sms")
        await wait_for_person(log, stack.admin_url, MessageDelivered, "recipient", g["broken"], lambda e: e.channel == "sms")
    finally:
        await log.stop()
    raw = [r.value.decode() for r in await read_all(stack.bootstrap, "skolit.notification", expect=10_000, timeout=3)]
    assert raw and not [p for p in raw if "@" in p or "+4670" in p or "Studiedag" in p or "tok-" in p]


async def test_gateway_callbacks_finish_or_bounce_a_delivery_and_bad_ones_are_refused(stack: Stack) -> None:
    url = stack.services["notification"].url
    async with httpx.AsyncClient(timeout=30) as http:
        s = await make_school(stack, http, {"cb": {"contacts": {"pushToken": "tok-callback", "email": "bounce@example.se"},
                                                   "prefs": {**NO_QUIET, "choices": [{"messageType": "broadcast", "channel": "email", "mode": "instant"}]}}},
                              name="Granskolan")
        assert (await http.post(f"{url}/broadcasts", json={"audience": to_guardians(s), "subject": "Hej", "body": "Välkommen!"},
                                headers=s.principal())).status_code == 201
        conn = await asyncpg.connect(stack.admin_url)
        try:
            # the sink accepts push (status "accepted") and calls back "delivered": the state follows the callback
            await settled(conn, s.guardians["cb"], {"push": ("instant", "delivered"), "email": ("instant", "delivered"), "inapp": ("instant", "delivered")})
            push_ref = await conn.fetchval("SELECT gateway_ref FROM notification.delivery WHERE person = $1 AND channel = 'push'", s.guardians["cb"])
            assert push_ref and push_ref.startswith("push-")
            email_id = await conn.fetchval("SELECT id FROM notification.delivery WHERE person = $1 AND channel = 'email'", s.guardians["cb"])
            token = {"Authorization": f"Bearer {DEV_CALLBACK_TOKEN}"}
            for body, headers, status in (({"reference": str(email_id), "status": "bounced"}, {}, 401),
                                          ({"reference": str(email_id), "status": "bounced"}, {"Authorization": "Bearer wrong"}, 401),
                                          ({"reference": "abc", "status": "bounced"}, token, 422),
                                          ({"reference": str(email_id), "status": "exploded"}, token, 422),
                                          ({"status": "bounced"}, token, 422),
                                          ({"reference": "999999999", "status": "bounced"}, token, 404)):
                r = await http.post(f"{url}/gateways/email/callbacks", json=body, headers=headers)
                assert r.status_code == status, (body, r.text)
            assert (await http.post(f"{url}/gateways/fax/callbacks", json={"reference": "1", "status": "delivered"}, headers=token)).status_code == 404
            assert await conn.fetchval("SELECT state FROM notification.delivery WHERE id = $1", email_id) == "delivered"  # nothing changed
            bounced = await http.post(f"{url}/gateways/email/callbacks", json={"reference": str(email_id), "status": "bounced", "reason": "mailbox-full"},
                                      headers=token)
            assert bounced.status_code == 200 and bounced.json() == {"reference": str(email_id), "state": "bounced", "changed": True}
            repeat = await http.post(f"{url}/gateways/email/callbacks", json={"reference": str(email_id), "status": "bounced"}, headers=token)
            assert repeat.json()["changed"] is False
            assert await conn.fetchval("SELECT last_error FROM notification.delivery WHERE id = $1", email_id) == "mailbox-full"
        finally:
            await conn.close()


async def test_an_ended_relation_stops_what_has_not_gone_out(stack: Stack) -> None:
    url = stack.services["notification"].url
    local = datetime.now(CITY_TZ)
    quiet = {"quietHours": {"start": (local - timedelta(hours=1)).strftime("%H:%M"), "end": (local + timedelta(hours=2)).strftime("%H:%M")}}
    async with httpx.AsyncClient(timeout=30) as http:
        s = await make_school(stack, http, {"leaving": {"contacts": {"pushToken": "tok-leaving"}, "prefs": quiet}}, name="Aspskolan")
        assert (await http.post(f"{url}/broadcasts", json={"audience": to_guardians(s), "subject": "Föräldramöte", "body": "Tisdag 18.00."},
                                headers=s.principal())).status_code == 201
        conn = await asyncpg.connect(stack.admin_url)
        try:
            assert await deliveries(conn, s.guardians["leaving"]) == {"push": ("instant", "queued"), "inapp": ("instant", "delivered")}
            await send(stack.bootstrap, [wire(GuardianRelationEnded(id=s.relations["leaving"], guardian=s.guardians["leaving"], pupil=uuid.uuid4(),
                                                                    schoolUnit=s.id, endDate=city_today()))])
            await settled(conn, s.guardians["leaving"], {"push": ("instant", "cancelled"), "inapp": ("instant", "delivered")})
            await http.post(f"{url}/deliveries/send", json={"asOf": (datetime.now(UTC) + timedelta(hours=3)).isoformat()}, headers=auth("city_admin"))
            assert stack.sinks.messages(channel="push", to="tok-leaving") == []
            preview = await http.post(f"{url}/broadcasts/audience", json=to_guardians(s), headers=s.principal())
            assert preview.json()["recipients"] == 0
        finally:
            await conn.close()


async def test_deadline_reminders_and_assessment_news_reach_the_rektor_and_the_district(stack: Stack) -> None:
    url = stack.services["notification"].url
    today = city_today()
    admin = auth("city_admin")
    async with httpx.AsyncClient(timeout=30) as http:
        s = await make_school(stack, http, {"parent": {"contacts": {"email": "reach@example.se"}}}, name="Almskolan")
        district_admin, other_school = uuid.uuid4(), uuid.uuid4()
        await send(stack.bootstrap, [wire(e) for e in (
            PersonUpserted(id=district_admin), DutyAssigned(id=uuid.uuid4(), person=district_admin, dutyAt=s.district, dutyRole="Övrig arbetsledning"),
            school_unit(other_school, s.district, name="Ekskolan"))])
        campaign = CampaignOpened(id=uuid.uuid4(), name="Självskattning 2026", year=2026, deadline=today + timedelta(days=3), schoolUnitIds=[s.id],
                                  openedBy="admin")
        await send(stack.bootstrap, [wire(campaign)])

        async def inbox(person: uuid.UUID, n: int) -> list[dict[str, Any]] | None:
            items = (await http.get(f"{url}/persons/{person}/messages", headers=auth("principal", subject=str(person)))).json()["items"]
            return items if len(items) >= n else None

        await eventually(lambda: inbox(s.rektor, 1), what="the round in the Rektor's inbox")

        async def remind(day: Any) -> int:
            r = await http.post(f"{url}/jobs/deadline-reminders/run", json={"asOf": day.isoformat()}, headers=admin)
            assert r.status_code == 200, r.text
            return r.json()["result"]["reminders"]

        assert await remind(today) == 1          # 3 days left: the 3-day reminder
        assert await remind(today) == 0          # once per step
        [reminder, _] = await inbox(s.rektor, 2)
        assert reminder["subject"] == "3 dagar kvar av självskattningen för Almskolan" and str(campaign.id) in reminder["body"]

        submitted = AssessmentSubmitted(assessmentId=uuid.uuid4(), campaignId=campaign.id, schoolUnitId=s.id, districtId=s.district, year=2026,
                                        frameworkVersion=1, submittedAt=datetime.now(UTC), submittedBy=await sealed(stack.admin_url, s.rektor), submission=1,
                                        indicators=[], headings=[])
        await send(stack.bootstrap, [wire(submitted)])
        [news] = await eventually(lambda: inbox(district_admin, 1), what="the submission in the district admin's inbox")
        assert news["subject"] == "Almskolan har lämnat in sin självskattning" and "första inlämningen" in news["body"]
        assert await remind(today + timedelta(days=2)) == 0   # submitted: no 1-day reminder

        reopened = AssessmentReopened(assessmentId=submitted.assessmentId, campaignId=campaign.id, schoolUnitId=s.id, reopenedBy="district-admin",
                                      reopenedAt=datetime.now(UTC), deadline=today + timedelta(days=10))
        await send(stack.bootstrap, [wire(reopened)])
        [news, _] = await eventually(lambda: inbox(district_admin, 2), what="the reopening in the district admin's inbox")
        assert news["subject"] == "Självskattningen för Almskolan har öppnats igen" and reopened.deadline.isoformat() in news["body"]
        assert await remind(today + timedelta(days=9)) == 1   # reminded again towards the new deadline
        assert [m["subject"] for m in await inbox(s.rektor, 3)][0] == "1 dagar kvar av självskattningen för Almskolan"
        assert {m["subject"] for m in await inbox(s.rektor, 1)}.isdisjoint({"Almskolan har lämnat in sin självskattning"})

        # guardian reach: one guardian of one reached by e-mail → reporting's figure for the school
        assert (await http.post(f"{url}/broadcasts", json={"audience": to_guardians(s), "subject": "Hej", "body": "Välkommen tillbaka!"},
                                headers=s.principal())).status_code == 201
        conn = await asyncpg.connect(stack.admin_url)
        try:
            await settled(conn, s.guardians["parent"], {"email": ("instant", "delivered"), "inapp": ("instant", "delivered")})
            r = await http.post(f"{url}/jobs/guardian-reach/run", json={"asOf": today.isoformat()}, headers=admin)
            assert r.status_code == 200 and r.json()["result"]["schools"] >= 1
        finally:
            await conn.close()
    conn = await asyncpg.connect(stack.admin_url)
    try:
        async def figure() -> float | None:
            return await conn.fetchval("SELECT value FROM reporting.school_figure WHERE school_unit = $1 AND year = $2 AND metric = 'guardiansReachableShare'",
                                       s.id, today.year)

        assert await eventually(figure, what="guardiansReachableShare in reporting") == 1.0
    finally:
        await conn.close()


SCHOOL_STAFF = {"principal", "district_admin", "city_admin"}
SELF = {"self", "city_admin"}
ENDPOINTS: list[tuple[str, str, Any, set[str]]] = [
    ("GET", "/school-units/{school}/audience", None, SCHOOL_STAFF),
    ("POST", "/broadcasts/audience", "audience", SCHOOL_STAFF),
    ("POST", "/broadcasts", "broadcast", SCHOOL_STAFF),
    ("GET", "/broadcasts", None, SCHOOL_STAFF),
    ("GET", "/broadcasts/{broadcast}", None, SCHOOL_STAFF),
    ("GET", "/broadcasts/{broadcast}/receipts?schoolUnitId={school}&reason=support", None, SCHOOL_STAFF),
    ("GET", "/school-units/{school}/unreached?reason=support", None, SCHOOL_STAFF),
    ("GET", "/quiet-hours-bypasses?schoolUnitId={school}&reason=support", None, SCHOOL_STAFF | {"data_protection"}),
    ("PUT", "/persons/{person}/contacts", {"email": "matrix@example.se"}, {"city_admin"}),
    ("PUT", "/contacts", "contacts", {"city_admin"}),
    ("GET", "/persons/{person}/contacts?reason=support", None, {"city_admin"}),
    ("GET", "/persons/{person}/preferences", None, SELF),
    ("PUT", "/persons/{person}/preferences", {"language": "sv"}, SELF),
    ("GET", "/persons/{person}/messages?reason=support", None, SELF),
    ("POST", "/persons/{person}/messages/{message}/read", None, SELF),
    ("POST", "/deliveries/send", {}, {"city_admin"}),
    ("GET", "/jobs", None, {"city_admin"}),
    ("POST", "/jobs/digests/run", {}, {"city_admin"}),
    ("GET", "/privacy/access-log?person={person}", None, {"data_protection"}),
]


async def test_every_notification_endpoint_checks_authentication_and_role(stack: Stack) -> None:
    url = stack.services["notification"].url
    async with httpx.AsyncClient(timeout=30) as http:
        s = await make_school(stack, http, {"matrix": {"contacts": {"email": "matrix@example.se"}}}, name="Matrisskolan")
        person = s.guardians["matrix"]
        sent = await http.post(f"{url}/broadcasts", json={"audience": to_guardians(s), "subject": "Matris", "body": "Test"}, headers=s.principal())
        [item] = (await http.get(f"{url}/persons/{person}/messages", headers=auth("guardian", subject=str(person)))).json()["items"]
        values = {"school": s.id, "person": person, "broadcast": sent.json()["id"], "message": item["id"]}
        callers = {
            "teacher": auth("teacher", school_units=(str(s.id),)), "principal": s.principal(),
            "district_admin": auth("district_admin", districts=(str(s.district),)), "city_admin": auth("city_admin"),
            "it_admin": auth("it_admin", districts=(str(s.district),)), "data_protection": auth("data_protection"),
            "guardian": auth("guardian", subject=str(uuid.uuid4())), "self": auth("guardian", subject=str(person)),
        }
        checked = 0
        for method, template, body, allowed in ENDPOINTS:
            path = template.format(**values)
            for name, headers in [("anonymous", {}), *callers.items()]:
                payload: Any = body
                if body == "audience":
                    payload = to_guardians(s)
                elif body == "broadcast":
                    payload = {"audience": to_guardians(s), "subject": f"Från {name}", "body": "Test"}
                elif body == "contacts":
                    payload = {"items": [{"personId": str(person), "email": "matrix@example.se"}]}
                r = await http.request(method, url + path, json=payload, headers=headers)
                checked += 1
                if name == "anonymous":
                    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer"), (method, path, r.status_code)
                elif name in allowed:
                    assert r.status_code < 400, (method, path, name, r.status_code, r.text)
                else:
                    assert r.status_code == 403, (method, path, name, r.status_code, r.text)
                    assert r.headers["content-type"].startswith("application/problem+json")
        assert checked == len(ENDPOINTS) * 9


async def test_the_inbox_pages_and_counts_unread_over_the_whole_inbox_in_the_readers_language(stack: Stack) -> None:
    url = stack.services["notification"].url
    async with httpx.AsyncClient(timeout=30) as http:
        s = await make_school(stack, http, {"reader": {}}, name="Rosengårdsskolan")
        for subject in ("Fotodag", "Studiedag", "Utvecklingssamtal"):
            r = await http.post(f"{url}/broadcasts", json={"audience": to_guardians(s), "subject": subject, "body": f"{subject} i veckan."},
                                headers=s.principal())
            assert r.status_code == 201, r.text
        reader = s.guardians["reader"]
        me = auth("guardian", subject=str(reader))
        inbox = f"{url}/persons/{reader}/messages"

        async def all_in() -> dict[str, Any] | None:
            body = (await http.get(inbox, headers=me)).json()
            return body if body["total"] == 3 else None

        whole = await eventually(all_in, what="three messages in the inbox")
        assert [i["subject"] for i in whole["items"]] == ["Utvecklingssamtal", "Studiedag", "Fotodag"]  # newest first
        newest = whole["items"][0]
        assert (await http.post(f"{url}/persons/{reader}/messages/{newest['id']}/read", headers=me)).status_code == 200

        first = (await http.get(inbox, params={"limit": 2}, headers=me)).json()
        Inbox.model_validate(first)
        assert (len(first["items"]), first["limit"], first["total"], first["unread"]) == (2, 2, 3, 2) and first["next"]
        assert first["items"][0]["read"] and not first["items"][1]["read"]  # the page holds one unread; the inbox two
        second = (await http.get(inbox, params={"limit": 2, "cursor": first["next"]}, headers=me)).json()
        assert (len(second["items"]), second["next"], second["total"], second["unread"]) == (1, None, 3, 2)
        assert [i["id"] for i in first["items"] + second["items"]] == [i["id"] for i in whole["items"]]
        past = (await http.get(inbox, params={"limit": 2, "cursor": encode_cursor(10)}, headers=me)).json()
        assert (past["items"], past["next"], past["total"], past["unread"]) == ([], None, 3, 2)
        bad = await http.get(inbox, params={"cursor": "not-a-cursor"}, headers=me)
        assert bad.status_code == 422 and bad.json()["field"] == "query.cursor"

        # the recipient's language (Swedish) unless the reader asks for another
        assert {i["language"] for i in whole["items"]} == {"sv"}
        english = (await http.get(inbox, params={"lang": "en", "limit": 1}, headers=me)).json()
        # these broadcasts were written in Swedish only: the text stays as written, and the answer says it is Swedish
        # (tests/integration/test_broadcasts_followed.py: a broadcast with an English version reads in English)
        assert english["items"][0]["language"] == "sv" and english["items"][0]["subject"] == "Utvecklingssamtal" and english["unread"] == 2

        # preferences: each message type described in the reader's language, Swedish by default
        def described(body: dict[str, Any]) -> str:
            Preferences.model_validate(body)
            return next(t["description"] for t in body["messageTypes"] if t["messageType"] == "broadcast")

        prefs = f"{url}/persons/{reader}/preferences"
        assert described((await http.get(prefs, headers=me)).json()) == "Meddelanden från skolan eller förvaltningen"
        assert described((await http.get(prefs, params={"lang": "en"}, headers=me)).json()) == "Messages from the school or the district"
        assert described((await http.get(prefs, headers={**me, "Accept-Language": "en-GB,en;q=0.8"})).json()) == \
            "Messages from the school or the district"
        changed = await http.put(prefs, params={"lang": "en"}, json={"language": "sv"}, headers=me)
        assert changed.status_code == 200 and described(changed.json()) == "Messages from the school or the district"
