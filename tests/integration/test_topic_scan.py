"""No personal data on the broker: after an end-to-end flow that hands notification real contact
details and sends a critical broadcast on every channel, every record of every topic (dead-letter
topics too), read from the beginning by a fresh consumer group, is scanned (key, headers, payload) for
e-mail addresses, phone numbers, Swedish personal identity numbers, the contact details and push
tokens the flow used, and the broadcast's text."""

from __future__ import annotations

import random
import re
import time
import uuid
from collections import Counter
from datetime import date

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition

from services.assessment.framework import published
from shared.events.assessment import AssessmentSubmitted
from shared.events.catalog import AppRequestDecided
from shared.events.notification import MessageDelivered
from shared.topics import ASSESSMENT, CATALOG, NOTIFICATION, all_topic_names
from tests.support.kafka import EventLog, eventually
from tests.support.matrix import World, publish_world
from tests.support.sealing import wait_for_person
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration
THIS_YEAR = date.today().year

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# A number stands on its own: not inside a word, an id or a hyphenated token such as a UUID.
PHONE = re.compile(
    r"(?<![\w+-])(?:\+|00)46[\s-]?\(?0?\)?\d{1,3}(?:[\s-]?\d){5,8}(?![\w-])"  # +46 70 123 45 67, 0046701234567
    r"|(?<![\w+-])07[02369](?:[\s-]?\d){7}(?![\w-])"  # 070-123 45 67: Swedish mobile numbers
    r"|(?<![\w+-])\+[1-9](?:[\s-]?\d){7,14}(?![\w-])"  # any E.164 number, spaced or not
)
# YYYYMMDD-XXXX or YYMMDD-XXXX (+ for those over 100), the day 61-91 for a coordination number
PERSONNUMMER = re.compile(r"(?<![\w-])(?:(?:19|20)\d{2}|\d{2})(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01])[-+]\d{4}(?![\w-])")
# the same without a separator, counted only when the control digit (Luhn) holds
PERSONNUMMER_DIGITS = re.compile(r"(?<![\w.-])((?:19|20)?\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01])\d{4})(?![\w.-])")


def luhn_ok(digits: str) -> bool:
    ten = digits[-10:]
    total = 0
    for i, ch in enumerate(ten):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def findings(text: str, literals: dict[str, str]) -> list[str]:
    found = [f"e-mail address {m}" for m in EMAIL.findall(text)]
    found += [f"phone number {m}" for m in PHONE.findall(text)]
    found += [f"personnummer {m}" for m in PERSONNUMMER.findall(text)]
    found += [f"personnummer {m}" for m in PERSONNUMMER_DIGITS.findall(text) if luhn_ok(m)]
    found += [f"{what} {value!r}" for what, value in literals.items() if value in text]
    return found


async def read_every_topic(bootstrap: str, timeout: float = 60) -> dict[str, list[ConsumerRecord]]:
    """Every record of every declared topic, from the beginning, by a consumer group no one used before."""
    topics = dict(all_topic_names())
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=f"skolit-topic-scan-{uuid.uuid4()}",
                                auto_offset_reset="earliest", enable_auto_commit=False, max_partition_fetch_bytes=4 * 1024 * 1024)
    records: dict[str, list[ConsumerRecord]] = {t: [] for t in topics}
    deadline = time.monotonic() + timeout

    def keep(batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        for tp, rs in batches.items():
            records[tp.topic].extend(rs)

    await consumer.start()
    try:
        while len(consumer.assignment()) < sum(topics.values()):
            assert time.monotonic() < deadline, f"assigned {len(consumer.assignment())} of {sum(topics.values())} partitions"
            keep(await consumer.getmany(timeout_ms=200))
        ends = await consumer.end_offsets(list(consumer.assignment()))
        while True:
            behind = [tp for tp, end in ends.items() if await consumer.position(tp) < end]
            if not behind:
                break
            assert time.monotonic() < deadline, f"still behind on {behind}"
            keep(await consumer.getmany(*behind, timeout_ms=500, max_records=5000))
    finally:
        await consumer.stop()
    return records


def texts(record: ConsumerRecord) -> list[tuple[str, str]]:
    parts = [("key", (record.key or b"").decode("utf-8", "replace")), ("payload", (record.value or b"").decode("utf-8", "replace"))]
    parts += [(f"header {name}", f"{name}={value.decode('utf-8', 'replace') if isinstance(value, bytes) else value}")
              for name, value in record.headers or ()]
    return parts


async def test_no_personal_data_on_any_topic(stack: Stack) -> None:
    started = time.monotonic()
    tag = uuid.uuid4().hex[:8]
    world = World()
    own, other = world.own, world.other
    # what notification is given: none of it may ever reach the broker
    contacts = {side.guardian: {"email": f"vardnadshavare.{tag}.{n}@example.se", "mobile": f"+46 70{random.randint(1_000_000, 9_999_999)}",
                                "pushToken": f"push-{uuid.uuid4().hex}-{n}"} for n, side in enumerate(world.sides)}
    for c in contacts.values():
        c["mobile"] = c["mobile"].replace(" ", "")
    subject, body = f"Skolan är stängd idag Ämne{tag}", f"Vattenläcka i matsalen: hämta barnen före klockan 12. Text{tag}"
    literals = {"the broadcast's subject": subject, "the broadcast's text": body, "the subject's marker": f"Ämne{tag}", "the text's marker": f"Text{tag}"}
    for person, c in contacts.items():
        literals |= {f"{person}'s e-mail": c["email"], f"{person}'s mobile": c["mobile"], f"{person}'s mobile, national form": "0" + c["mobile"][3:],
                     f"{person}'s push token": c["pushToken"]}

    logs = {t.name: await EventLog(stack.bootstrap, t.name).start() for t in (NOTIFICATION, ASSESSMENT, CATALOG)}
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            await publish_world(stack, http, world)
            admin = auth("city_admin", subject="city-sync")
            n, a, c = (stack.services[s].url for s in ("notification", "assessment", "catalog"))

            # the city's systems hand notification the guardians' contact details
            r = await http.put(f"{n}/contacts", headers=admin, json={"items": [{"personId": str(p), **v} for p, v in contacts.items()]})
            assert r.status_code == 200 and r.json()["stored"] == 2, r.text
            # a critical broadcast: every channel at once, quiet hours or not
            r = await http.post(f"{n}/broadcasts", headers=admin, json={
                "audience": {"kind": "guardians", "schoolUnitIds": [str(own.school), str(other.school)]},
                "subject": subject, "body": body, "critical": True})
            assert r.status_code == 201 and r.json()["recipients"] == 2, r.text

            async def delivered() -> bool:
                return all(stack.sinks.messages(channel, to) for v in contacts.values()
                           for channel, to in (("email", v["email"]), ("sms", v["mobile"]), ("push", v["pushToken"])))

            await eventually(delivered, timeout=60, what="the broadcast by e-mail, SMS and push to both guardians")
            assert any(body in m["body"] for m in stack.sinks.messages("email", contacts[own.guardian]["email"]))

            # a self-assessment submitted by the Rektor
            r = await http.post(f"{a}/campaigns", headers=own.auth("district_admin"), json={
                "name": f"Skanning {tag}", "year": THIS_YEAR, "deadline": f"{THIS_YEAR + 1}-03-31", "schoolUnitIds": [str(own.school)]})
            assert r.status_code == 201, r.text
            draft = (await http.get(f"{a}/campaigns/{r.json()['id']}/school-units/{own.school}/assessment", headers=own.auth("principal"))).json()
            framework = published()[draft["frameworkVersion"]]
            answers = [{"indicatorId": i, "notRelevant": True} if framework.by_id[i].allowNotRelevant else {"indicatorId": i, "level": 3}
                       for i in draft["indicators"]]
            assert (await http.put(f"{a}/assessments/{draft['id']}/answers", json={"answers": answers}, headers=own.auth("principal"))).status_code == 200
            r = await http.post(f"{a}/assessments/{draft['id']}/submit", headers=own.auth("principal"))
            assert r.status_code == 200, r.text

            # an app request, decided
            r = await http.post(f"{c}/requests", headers=own.auth("teacher"),
                                json={"schoolUnitId": str(own.school), "newApp": {"name": f"Skanningsappen {tag}"}, "purpose": "Programmering i åk 4"})
            assert r.status_code == 201, r.text
            request_id = r.json()["id"]
            r = await http.post(f"{c}/requests/{request_id}/actions", headers=own.auth("it_admin"),
                                json={"action": "reject", "note": "Finns redan i programbanken under ett annat namn"})
            assert r.status_code == 200 and r.json()["state"] == "rejected", r.text

        # the flow's own events are on the broker before the scan starts
        for guardian in contacts:
            for channel in ("email", "sms", "push"):
                await wait_for_person(logs[NOTIFICATION.name], stack.admin_url, MessageDelivered, "recipient", guardian,
                                      lambda e, ch=channel: e.channel == ch, timeout=60)
        await logs[ASSESSMENT.name].wait_for(AssessmentSubmitted, lambda e: str(e.assessmentId) == draft["id"])
        await logs[CATALOG.name].wait_for(AppRequestDecided, lambda e: str(e.requestId) == request_id)
    finally:
        for log in logs.values():
            await log.stop()

    records = await read_every_topic(stack.bootstrap)
    counts = Counter({topic: len(rs) for topic, rs in records.items()})
    problems: list[str] = []
    for topic, rs in records.items():
        for record in rs:
            for part, text in texts(record):
                problems += [f"{topic}[{record.partition}]@{record.offset} {part}: {f}" for f in findings(text, literals)]
    print(f"\ntopic scan: {sum(counts.values())} records in {len(counts)} topics, {time.monotonic() - started:.1f}s")
    for topic, count in sorted(counts.items()):
        print(f"  {topic:32} {count:6}")
    # the scan saw the flow (above: an event for each guardian and channel); Skolit's own events carry the
    # recipients sealed, never plain (docs/decisions/0009), in the body, the key or a header
    payloads = {t: b"".join((r.value or b"") + (r.key or b"") + b"".join(v for _, v in r.headers or ()) for r in rs) for t, rs in records.items()}
    for person in contacts:
        assert not [t for t in (NOTIFICATION.name, ASSESSMENT.name, CATALOG.name) if str(person).encode() in payloads[t]], f"{person} plain"
    assert draft["id"].encode() in payloads[ASSESSMENT.name] and request_id.encode() in payloads[CATALOG.name]
    assert not problems, f"{len(problems)} personal data finding(s) on the broker:\n" + "\n".join(problems[:50])


def test_the_detectors_find_personal_data_and_not_envelope_noise() -> None:
    """The scan is only as good as its patterns: each kind of personal data is found, and what events
    legitimately carry (ids, timestamps, school unit codes, counts) is not mistaken for it."""
    leaks = {
        '{"to": "anna.svensson@example.se"}': "e-mail",
        "ring 070-123 45 67": "phone", "sms +46701234567": "phone", "0046 70 123 45 67": "phone", "+4420 7946 0958": "phone",
        '"pnr": "19121212-1212"': "personnummer", "121212-1212": "personnummer", "121212+1212": "personnummer",
        "samordningsnummer 701063-2391": "personnummer", "id=191212121212 ": "personnummer",
    }
    for text, kind in leaks.items():
        found = findings(text, {})
        assert found and all(kind in f for f in found), (text, found)
    assert findings('{"token": "push-abc"}', {"a push token": "push-abc"}) == ["a push token 'push-abc'"]
    noise = [
        '{"id": "19850312-4521-4f3a-8d2e-000000000000", "schoolUnitCode": "20240101", "at": "2026-07-01T12:34:56.070123+00:00"}',
        "ce_time=2026-11-24T23:57:47.784070+00:00", "deliveryId 1764028800 launches 701234", '{"share": 0.7012345678, "year": 2077}',
        "skolit.city.person", "ce_source=skolit.notification",
        # UUIDs whose hex groups happen to be digits
        "a1b2c3d4-0766-4872-8779-0766872779ab", "07632374-16ab-4cde-8f00-123456789012", "0f0e0d0c-1b2a-4c3d-9e8f-191212121212",
        "00467012-3456-4789-8012-345678901234",
    ]
    for text in noise:
        assert findings(text, {}) == [], (text, findings(text, {}))
