"""Broadcasts a sender can follow (issue 20), over HTTP against the live stack, with what arrives at the local mail and
push sinks and in the in-app inbox: the sender's own list, newest first and paged; a broadcast held by quiet hours is
``scheduled`` with the time it goes; reach counted per channel as delivered (the in-app inbox too); Swedish and English
versions, each reader getting theirs and the Swedish when there is none (said in the answer); the critical prefix in
the reader's language. And the preferences that would silently not work are refused, naming the field."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

import tests.integration.test_notification_channels as channels
from shared.clock import CITY_TZ
from tests.support.kafka import eventually
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration

NO_QUIET = channels.NO_QUIET


def quiet_now() -> tuple[dict[str, Any], datetime]:
    """Quiet hours around the present minute, and the moment (city time) they end."""
    local = datetime.now(CITY_TZ).replace(second=0, microsecond=0)
    ends = local + timedelta(hours=1)  # the end's next occurrence: the same day, or tomorrow after 23:00 (was: tomorrow
    # whenever the window wrapped midnight, wrong from 00:00 to 01:00, when it wraps but ends the same day)
    start, end = (local - timedelta(hours=1)).time(), ends.time()
    return {"quietHours": {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}}, ends


async def inbox(http: httpx.AsyncClient, url: str, person: uuid.UUID) -> list[dict[str, Any]]:
    r = await http.get(f"{url}/persons/{person}/messages", headers=auth("guardian", subject=str(person)))
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_a_sender_follows_their_broadcasts_and_each_guardian_reads_their_language(stack: Stack) -> None:
    url = stack.services["notification"].url
    quiet, quiet_ends = quiet_now()
    async with httpx.AsyncClient(timeout=30) as http:
        s = await channels.make_school(stack, http, {
            "sv-app": {"contacts": {"pushToken": "tok-follow-sv"}},                                               # Swedish, push
            "en-mail": {"contacts": {"email": "en-follow@example.se"}, "prefs": {**NO_QUIET, "language": "en"}},  # English, e-mail now
            "en-inbox": {"prefs": {**NO_QUIET, "language": "en"}},                                                 # English, the app only
            "sleeper": {"contacts": {"pushToken": "tok-follow-sleeper"}, "prefs": quiet},                        # asleep now
        }, name="Följeskolan")
        g, rektor = s.guardians, s.principal()

        # bad translations: 422 naming the field, nothing sent
        audience = channels.to_guardians(s)
        for body, field in (({"fr": {"subject": "Bonjour", "body": "Salut"}}, "body.translations.fr"),
                            ({"en": {"subject": "  ", "body": "Hello"}}, "body.translations.en.subject"),
                            ({"en": {"subject": "Hello"}}, "body.translations.en.body")):
            r = await http.post(f"{url}/broadcasts", json={"audience": audience, "subject": "Hej", "body": "Hej", "translations": body}, headers=rektor)
            assert r.status_code == 422 and r.json()["field"] == field, r.text
        assert (await http.get(f"{url}/broadcasts", headers=rektor)).json() == {"items": [], "limit": 50, "next": None, "total": 0}

        # 1: Swedish and English, not urgent: the sleeper's push waits for the end of their quiet hours
        study = await http.post(f"{url}/broadcasts", headers=rektor, json={
            "audience": audience, "subject": "Studiedag fredag", "body": "Eleverna är lediga på fredag.", "link": "/kalender",
            "translations": {"en": {"subject": "Study day on Friday", "body": "Pupils are off on Friday."}}})
        assert study.status_code == 201, study.text
        first = study.json()
        assert first["languages"] == ["sv", "en"] and first["fallbackLanguage"] == "sv"
        assert first["translations"] == {"en": {"subject": "Study day on Friday"}}
        assert first["recipientsByLanguage"] == {"sv": 2, "en": 2}
        # 2: urgent, Swedish only: English readers get the Swedish text, marked urgent in English
        closed = await http.post(f"{url}/broadcasts", headers=rektor, json={
            "audience": audience, "subject": "Skolan är stängd i dag", "body": "Vattenläcka i matsalen.", "critical": True})
        # 3: urgent, in both languages
        closed_en = await http.post(f"{url}/broadcasts", headers=rektor, json={
            "audience": audience, "subject": "Skolan är stängd i morgon", "body": "Vattenläckan är inte lagad.", "critical": True,
            "translations": {"en": {"subject": "The school is closed tomorrow", "body": "The leak is not fixed yet."}}})
        assert closed.status_code == closed_en.status_code == 201
        assert closed.json()["languages"] == ["sv"] and closed.json()["recipientsByLanguage"] == {"sv": 4}
        ids = [closed_en.json()["id"], closed.json()["id"], first["id"]]  # newest first

        # what arrives: each reader's version, the critical prefix in the reader's language
        mails = await channels.arrived(stack, "email", "en-follow@example.se", 3)
        assert sorted(m["subject"] for m in mails) == sorted(["Study day on Friday", "IMPORTANT: Skolan är stängd i dag",
                                                              "IMPORTANT: The school is closed tomorrow"])
        study_mail = next(m for m in mails if m["subject"] == "Study day on Friday")
        assert "Pupils are off on Friday." in study_mail["body"] and "Eleverna" not in study_mail["body"] and "Följeskolan" in study_mail["body"]
        pushes = await channels.arrived(stack, "push", "tok-follow-sv", 3)
        assert sorted(m["subject"] for m in pushes) == sorted(["Studiedag fredag", "VIKTIGT: Skolan är stängd i dag", "VIKTIGT: Skolan är stängd i morgon"])
        # the sleeper: the urgent ones now, the study day not yet
        asleep = await channels.arrived(stack, "push", "tok-follow-sleeper", 2)
        assert sorted(m["subject"] for m in asleep) == sorted(["VIKTIGT: Skolan är stängd i dag", "VIKTIGT: Skolan är stängd i morgon"])
        in_app = {m["subject"]: m["language"] for m in await inbox(http, url, g["en-inbox"])}
        assert in_app == {"Study day on Friday": "en", "IMPORTANT: Skolan är stängd i dag": "sv",  # the fallback, and the answer says so
                          "IMPORTANT: The school is closed tomorrow": "en"}
        assert {m["subject"] for m in await inbox(http, url, g["sv-app"])} == {"Studiedag fredag", "VIKTIGT: Skolan är stängd i dag",
                                                                              "VIKTIGT: Skolan är stängd i morgon"}

        # the sender's list: newest first, with status; the held one says when it goes
        async def listed() -> dict[str, Any] | None:
            body = (await http.get(f"{url}/broadcasts", headers=rektor)).json()
            statuses = [b["status"] for b in body["items"]]
            return body if statuses == ["sent", "sent", "scheduled"] else None

        mine = await eventually(listed, what="the two urgent broadcasts sent and the study day held by quiet hours")
        assert [b["id"] for b in mine["items"]] == ids and mine["total"] == 3 and mine["next"] is None
        held = mine["items"][2]
        assert datetime.fromisoformat(held["scheduledFor"]) == quiet_ends and held["scheduledUntil"] == held["scheduledFor"]
        assert mine["items"][0]["scheduledFor"] is None
        # reach per channel as delivered: every in-app copy counts; the held push does not yet
        assert held["reached"] == 4 and held["recipients"] == 4 and held["unreached"] == 0
        assert held["unnotified"] == 1  # the English reader without contact details: unread in the app, no notification
        assert held["read"] == 0
        assert held["reachedByChannel"] == {"email": 1, "inapp": 4, "push": 1}
        assert held["deliveries"]["push"] == {"delivered": 1, "queued": 1}
        assert mine["items"][0]["reachedByChannel"] == {"email": 1, "inapp": 4, "push": 2}
        assert mine["items"][0]["critical"] and mine["items"][0]["sentBy"]["id"] == str(s.rektor)
        # the same, one broadcast at a time
        one = (await http.get(f"{url}/broadcasts/{first['id']}", headers=rektor)).json()
        assert {k: one[k] for k in ("status", "scheduledFor", "reachedByChannel")} == {k: held[k] for k in ("status", "scheduledFor", "reachedByChannel")}

        # paged: two and one, the pages together are the whole list
        page = (await http.get(f"{url}/broadcasts", params={"limit": 2}, headers=rektor)).json()
        assert [b["id"] for b in page["items"]] == ids[:2] and page["total"] == 3 and page["next"]
        rest = (await http.get(f"{url}/broadcasts", params={"limit": 2, "cursor": page["next"]}, headers=rektor)).json()
        assert [b["id"] for b in rest["items"]] == ids[2:] and rest["next"] is None and rest["total"] == 3
        bad = await http.get(f"{url}/broadcasts", params={"cursor": "not-one-of-ours"}, headers=rektor)
        assert bad.status_code == 422 and bad.json()["field"] == "query.cursor"
        assert (await http.get(f"{url}/broadcasts", params={"limit": 0}, headers=rektor)).status_code == 422

        # whose list: a city admin's is everyone's; the district's admin and another school's principal did not send these
        city = (await http.get(f"{url}/broadcasts", params={"limit": 500}, headers=auth("city_admin"))).json()
        assert set(ids) <= {b["id"] for b in city["items"]}
        for other in (auth("district_admin", subject=str(uuid.uuid4()), districts=(str(s.district),)),
                      auth("principal", subject=str(uuid.uuid4()), school_units=(str(uuid.uuid4()),))):
            theirs = await http.get(f"{url}/broadcasts", headers=other)
            assert theirs.status_code == 200 and not set(ids) & {b["id"] for b in theirs.json()["items"]}
        assert (await http.get(f"{url}/broadcasts", headers=auth("teacher", school_units=(str(s.id),)))).status_code == 403
        assert (await http.get(f"{url}/broadcasts", headers=auth("guardian", subject=str(g["sv-app"])))).status_code == 403
        assert (await http.get(f"{url}/broadcasts")).status_code == 401

        # the clock moves past the quiet hours: the study day goes to the sleeper, and the list says sent
        flushed = await http.post(f"{url}/deliveries/send", json={"asOf": (quiet_ends + timedelta(minutes=1)).isoformat()}, headers=auth("city_admin"))
        assert flushed.status_code == 200
        assert "Studiedag fredag" in [m["subject"] for m in await channels.arrived(stack, "push", "tok-follow-sleeper", 3)]

        async def sent() -> dict[str, Any] | None:
            body: dict[str, Any] = (await http.get(f"{url}/broadcasts/{first['id']}", headers=rektor)).json()
            return body if body["status"] == "sent" else None

        done = await eventually(sent, what="the study day sent")
        assert done["scheduledFor"] is None and done["reachedByChannel"]["push"] == 2 and done["deliveries"]["push"] == {"delivered": 2}


async def test_preferences_that_would_silently_not_work_are_refused_naming_the_field(stack: Stack) -> None:
    url = stack.services["notification"].url
    async with httpx.AsyncClient(timeout=30) as http:
        s = await channels.make_school(stack, http, {
            "mail": {"contacts": {"email": "prefs-mail@example.se", "language": "en"}, "prefs": {}},  # the city says English
            "bare": {"prefs": {}},                                                                   # no contact details at all
        }, name="Valskolan")
        mail, bare = s.guardians["mail"], s.guardians["bare"]

        async def put(person: uuid.UUID, body: dict[str, Any]) -> httpx.Response:
            return await http.put(f"{url}/persons/{person}/preferences", json=body, headers=auth("guardian", subject=str(person)))

        # the city's language stands until the person chooses (an empty change stored a row that used to say Swedish)
        assert (await http.get(f"{url}/persons/{mail}/preferences", headers=auth("guardian", subject=str(mail)))).json()["language"] == "en"
        before = (await http.get(f"{url}/persons/{bare}/preferences", headers=auth("guardian", subject=str(bare)))).json()
        refused = [
            (bare, {"language": "fi"}, "body.language"),                                  # no templates in Finnish
            (bare, {"language": "EN"}, "body.language"),
            (bare, {"quietHours": {"start": "22:00", "end": "22:00"}}, "body.quietHours.end"),  # start = end: none? all day?
            (bare, {"quietHours": {"start": "00:00", "end": "00:00"}}, "body.quietHours.end"),
            (bare, {"choices": [{"messageType": "broadcast", "channel": "email", "mode": "digest"}]}, "body.choices.0.mode"),  # no address
            (bare, {"choices": [{"messageType": "broadcast", "channel": "push", "mode": "instant"},
                                {"messageType": "request-decided", "channel": "sms", "mode": "digest"}]}, "body.choices.1.mode"),
            # every channel off for broadcasts, the in-app inbox too: nothing would reach them
            (bare, {"choices": [{"messageType": "broadcast", "channel": c, "mode": "off"} for c in ("push", "sms", "email", "inapp")]},
             "body.choices.3.mode"),
            (mail, {"choices": [{"messageType": "broadcast", "channel": c, "mode": "off"} for c in ("inapp", "email")]}, "body.choices.1.mode"),
            (bare, {"language": "en", "choices": [{"messageType": "critical", "channel": "push", "mode": "off"}]}, "body.choices.0.mode"),
        ]
        for person, body, field in refused:
            r = await put(person, body)
            assert r.status_code == 422, (body, r.text)
            assert r.headers["content-type"].startswith("application/problem+json") and r.json()["field"] == field, (body, r.json())
        # nothing of a refused change was stored
        assert (await http.get(f"{url}/persons/{bare}/preferences", headers=auth("guardian", subject=str(bare)))).json() == before

        # what works: no quiet hours is null; a digest where there is an address; the app alone for broadcasts, or e-mail alone
        none = await put(bare, {"quietHours": None})
        assert none.status_code == 200 and none.json()["quietHours"] is None
        assert (await put(bare, {"quietHours": {"start": "21:30", "end": "06:45"}})).json()["quietHours"] == {"start": "21:30", "end": "06:45"}
        assert (await put(bare, {"choices": [{"messageType": "broadcast", "channel": c, "mode": "off"} for c in ("push", "sms", "email")]})).status_code == 200
        ok = await put(mail, {"quietHours": None, "choices": [{"messageType": "broadcast", "channel": "email", "mode": "digest"},
                                                              {"messageType": "broadcast", "channel": "inapp", "mode": "off"}]})
        assert ok.status_code == 200, ok.text
        assert ok.json()["language"] == "en"  # still the city's: quiet hours alone do not switch them to Swedish
        channels_now = next(t for t in ok.json()["messageTypes"] if t["messageType"] == "broadcast")["channels"]
        assert channels_now["email"] == "digest" and channels_now["inapp"] == "off"
        # … and then e-mail off too is the last channel: refused
        last = await put(mail, {"choices": [{"messageType": "broadcast", "channel": "email", "mode": "off"}]})
        assert last.status_code == 422 and last.json()["field"] == "body.choices.0.mode"
