"""Every step of a workflow reaches the people it concerns (issue 20), over HTTP and Kafka with the real services:
a teacher's app request reaches the reviewers of the school's district (the district's IT-samordnare and the
data-protection function; not another district's), a question reaches the teacher, the answer and a stalled request
reach the reviewers again; a reopened self-assessment reaches the school's Rektor; an indicator below its target
(reporting's own indicator flow) reaches the district's administrators. In the in-app inbox, and by e-mail or SMS
as each recipient's preferences say (the local mail and SMS sinks)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.assessment.framework import published
from shared.clock import CITY_TZ, city_today
from shared.events.city import DutyAssigned, OrganisationUpserted, SchoolFiguresReported
from tests.support.city import person, school_unit
from tests.support.kafka import eventually, send, wire
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration
THIS_YEAR = date.today().year


@dataclass
class Town:
    """A district with one school; the people around it; a second district with its own IT-samordnare."""

    district: uuid.UUID = field(default_factory=uuid.uuid4)
    other_district: uuid.UUID = field(default_factory=uuid.uuid4)
    school: uuid.UUID = field(default_factory=uuid.uuid4)
    teacher: uuid.UUID = field(default_factory=uuid.uuid4)
    rektor: uuid.UUID = field(default_factory=uuid.uuid4)
    it: uuid.UUID = field(default_factory=uuid.uuid4)
    dpo: uuid.UUID = field(default_factory=uuid.uuid4)
    admin: uuid.UUID = field(default_factory=uuid.uuid4)
    other_it: uuid.UUID = field(default_factory=uuid.uuid4)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def mail(self, who: str) -> str:
        return f"{who}.{self.tag}@example.se"

    @property
    def mobile(self) -> str:
        return "+4670" + "".join(str(int(c, 16) % 10) for c in self.tag[:7])

    def events(self) -> list[Any]:
        def duty(who: uuid.UUID, at: uuid.UUID, role: str) -> DutyAssigned:
            return DutyAssigned(id=uuid.uuid4(), person=who, dutyAt=at, dutyRole=role)

        return [
            OrganisationUpserted(id=self.district, displayName=f"Område {self.tag}", organisationType="Verksamhetsområde"),
            OrganisationUpserted(id=self.other_district, displayName=f"Område B {self.tag}", organisationType="Verksamhetsområde"),
            school_unit(self.school, self.district, name=f"Ekbackeskolan {self.tag}", types=("GR",)),
            *(person(p) for p in (self.teacher, self.rektor, self.it, self.dpo, self.admin, self.other_it)),
            duty(self.teacher, self.school, "Lärare"), duty(self.rektor, self.school, "Rektor"),
            duty(self.it, self.district, "IT-samordnare"), duty(self.other_it, self.other_district, "IT-samordnare"),
            duty(self.dpo, self.district, "Dataskydd"), duty(self.admin, self.district, "Övrig arbetsledning"),
        ]


def quiet_hours_not_now() -> dict[str, str]:
    """Quiet hours that do not hold now, whatever the hour the test runs at, so e-mail and SMS go at once."""
    now = datetime.now(CITY_TZ)
    return {"start": (now + timedelta(hours=3)).strftime("%H:%M"), "end": (now + timedelta(hours=4)).strftime("%H:%M")}


async def inbox(http: httpx.AsyncClient, stack: Stack, who: uuid.UUID, message_type: str, n: int = 1, about: str | None = None) -> list[dict[str, Any]]:
    """``who``'s messages of one type (and, with ``about``, whose subject names it: the data-protection function is city-wide,
    so other tests' requests reach it too)."""
    url = stack.services["notification"].url

    async def check() -> list[dict[str, Any]] | None:
        r = await http.get(f"{url}/persons/{who}/messages", params={"limit": 100}, headers=auth("teacher", subject=str(who)))
        assert r.status_code == 200, r.text
        found = [m for m in r.json()["items"] if m["type"] == message_type and (about is None or about in m["subject"])]
        return found if len(found) >= n else None

    return await eventually(check, what=f"{n} {message_type} message(s) in {who}'s inbox")


async def types_in_inbox(http: httpx.AsyncClient, stack: Stack, who: uuid.UUID) -> list[str]:
    r = await http.get(f"{stack.services['notification'].url}/persons/{who}/messages", params={"limit": 100},
                       headers=auth("teacher", subject=str(who)))
    return [m["type"] for m in r.json()["items"]]


async def mails(stack: Stack, channel: str, to: str, n: int = 1) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        found = stack.sinks.messages(channel=channel, to=to)
        return found if len(found) >= n else None

    return await eventually(check, what=f"{n} {channel} to {to}")


async def mails_of_type(stack: Stack, to: str, subject: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        return next((m for m in stack.sinks.messages(channel="email", to=to) if m["subject"] == subject), None)

    return await eventually(check, what=f"the e-mail {subject!r} to {to}")


async def set_up(stack: Stack, http: httpx.AsyncClient, town: Town) -> None:
    """The town in every service's replica; the people's contact details and preferences in notification."""
    await send(stack.bootstrap, [wire(e) for e in town.events()])
    conn = await asyncpg.connect(stack.admin_url)
    try:
        async def replicated() -> bool:
            counts = [await conn.fetchval(f"SELECT count(*) FROM {schema}.duty WHERE person = ANY($1::uuid[])",
                                          [town.teacher, town.rektor, town.it, town.dpo, town.admin, town.other_it])
                      for schema in ("catalog", "assessment", "notification")]
            schools = [await conn.fetchval(f"SELECT count(*) FROM {schema}.organisation WHERE id = $1", town.school)
                       for schema in ("catalog", "assessment", "notification", "reporting")]
            return counts == [6, 6, 6] and schools == [1, 1, 1, 1]

        await eventually(replicated, what="the town's school and duties in the services' replicas")
    finally:
        await conn.close()
    url = stack.services["notification"].url
    contacts = {
        town.teacher: {"email": town.mail("larare"), "mobile": town.mobile},
        town.it: {"email": town.mail("it"), "language": "en"},
        town.dpo: {"email": town.mail("dpo")},
        town.other_it: {"email": town.mail("other-it")},
        town.rektor: {"email": town.mail("rektor")},
        town.admin: {"email": town.mail("admin")},
    }
    for who, body in contacts.items():
        r = await http.put(f"{url}/persons/{who}/contacts", json=body, headers=auth("city_admin"))
        assert r.status_code == 200, r.text
    choices: dict[uuid.UUID, list[dict[str, str]]] = {
        # the teacher wants a reviewer's question by SMS too; the data-protection officer reads new requests in the app only
        town.teacher: [{"messageType": "request-question", "channel": "sms", "mode": "instant"}],
        town.dpo: [{"messageType": "request-submitted", "channel": "email", "mode": "off"}],
    }
    for who in contacts:
        r = await http.put(f"{url}/persons/{who}/preferences", headers=auth("teacher", subject=str(who)),
                           json={"quietHours": quiet_hours_not_now(), "choices": choices.get(who, [])})
        assert r.status_code == 200, r.text


async def test_a_request_reaches_its_reviewers_and_each_step_whom_it_concerns(stack: Stack) -> None:
    town = Town()
    catalog = stack.services["catalog"].url
    teacher = auth("teacher", subject=str(town.teacher), school_units=(str(town.school),))
    async with httpx.AsyncClient(timeout=15) as http:
        await set_up(stack, http, town)
        app_name = f"Bråkverkstaden {town.tag}"
        submitted = await http.post(f"{catalog}/requests", headers=teacher, json={
            "schoolUnitId": str(town.school), "newApp": {"name": app_name, "supplier": "Bråk AB"}, "purpose": "Bråkträning i åk 5"})
        assert submitted.status_code == 201, submitted.text
        request_id = submitted.json()["id"]

        # the new request: in the inboxes of the district's IT-samordnare and of the data-protection function
        [it_note] = await inbox(http, stack, town.it, "request-submitted")
        assert it_note["subject"] == f"New request for {app_name} from Ekbackeskolan {town.tag}" and it_note["language"] == "en"
        assert "data-protection review" in it_note["body"] and f"/requests/{request_id}" in it_note["body"]
        [dpo_note] = await inbox(http, stack, town.dpo, "request-submitted", about=app_name)
        assert dpo_note["subject"] == f"Ny begäran om {app_name} från Ekbackeskolan {town.tag}" and "dataskyddsgranskning" in dpo_note["body"]
        # by e-mail as their preferences say: the IT-samordnare at once (no app), the data-protection officer not at all (turned off)
        [it_mail] = await mails(stack, "email", town.mail("it"))
        assert it_mail["subject"] == it_note["subject"]
        # the teacher who asked and another district's IT-samordnare hear nothing of it
        assert "request-submitted" not in await types_in_inbox(http, stack, town.teacher)
        assert await types_in_inbox(http, stack, town.other_it) == []

        # a reviewer's question reaches the teacher: in the app, by e-mail and (their choice) by SMS
        actions = f"{catalog}/requests/{request_id}/actions"
        question = "Vilka uppgifter om eleverna sparar appen?"
        asked = await http.post(actions, json={"action": "ask_info", "note": question}, headers=auth("data_protection", subject=str(town.dpo)))
        assert asked.status_code == 200, asked.text
        [q] = await inbox(http, stack, town.teacher, "request-question")
        assert q["subject"] == f"En fråga om din begäran om {app_name}" and question in q["body"]
        [q_mail] = await mails(stack, "email", town.mail("larare"))
        assert q_mail["subject"] == q["subject"] and question in q_mail["body"]
        [q_sms] = await mails(stack, "sms", town.mobile)
        assert question in q_sms["body"]

        # the teacher's answer goes back to the reviewers (its words stay in the request, not copied to several inboxes)
        answer = "Bara förnamn och klass."
        answered = await http.post(actions, json={"action": "provide_info", "note": answer}, headers=teacher)
        assert answered.status_code == 200, answered.text
        [a] = await inbox(http, stack, town.it, "request-answered")
        assert answer not in a["body"] and a["subject"] == f"An answer in the request for {app_name} from Ekbackeskolan {town.tag}"
        await inbox(http, stack, town.dpo, "request-answered", about=app_name)

        # left waiting past the review period: the catalog's reminder job reminds the reviewers, once per period
        run = await http.post(f"{catalog}/jobs/review-reminders/run", json={"asOf": (city_today() + timedelta(days=10)).isoformat()},
                              headers=auth("city_admin"))
        assert run.status_code == 200, run.text
        [reminder] = await inbox(http, stack, town.dpo, "request-stalled", about=app_name)
        assert reminder["subject"].startswith(f"Påminnelse: begäran om {app_name} från Ekbackeskolan {town.tag} har väntat i ")
        [it_reminder] = await inbox(http, stack, town.it, "request-stalled")
        assert it_reminder["subject"].startswith("Reminder: the request for")
        assert "request-stalled" not in await types_in_inbox(http, stack, town.teacher)

        # the decision reaches the teacher
        rejected = await http.post(actions, json={"action": "reject", "note": "Appen saknar avtal om personuppgiftsbiträde."},
                                   headers=auth("data_protection", subject=str(town.dpo)))
        assert rejected.status_code == 200, rejected.text
        [decision] = await inbox(http, stack, town.teacher, "request-decided")
        assert decision["subject"] == f"Din begäran om {app_name} är avslagen" and "personuppgiftsbiträde" in decision["body"]
        assert await types_in_inbox(http, stack, town.other_it) == []


async def test_a_reopened_self_assessment_reaches_the_rektor_and_a_low_figure_the_district_admins(stack: Stack) -> None:
    town = Town()
    assessment = stack.services["assessment"].url
    district_admin = auth("district_admin", subject=str(town.admin), districts=(str(town.district),))
    rektor = auth("principal", subject=str(town.rektor), school_units=(str(town.school),))
    async with httpx.AsyncClient(timeout=15) as http:
        await set_up(stack, http, town)
        opened = await http.post(f"{assessment}/campaigns", headers=district_admin, json={
            "name": f"Självskattning {town.tag}", "year": THIS_YEAR, "deadline": f"{THIS_YEAR + 1}-03-31", "schoolUnitIds": [str(town.school)]})
        assert opened.status_code == 201, opened.text
        draft = (await http.get(f"{assessment}/campaigns/{opened.json()['id']}/school-units/{town.school}/assessment", headers=rektor)).json()
        framework = published()[draft["frameworkVersion"]]
        answers = [{"indicatorId": i, "notRelevant": True} if framework.by_id[i].allowNotRelevant else {"indicatorId": i, "level": 3}
                   for i in draft["indicators"]]
        url = f"{assessment}/assessments/{draft['id']}"
        assert (await http.put(f"{url}/answers", json={"answers": answers}, headers=rektor)).status_code == 200
        submitted = await http.post(f"{url}/submit", headers=rektor)
        assert submitted.status_code == 200, submitted.text
        reopened = await http.post(f"{url}/reopen", json={"reason": "Komplettera om digitalt innehåll."}, headers=district_admin)
        assert reopened.status_code == 200, reopened.text

        # the Rektor hears that the self-assessment may be changed again, with the new deadline and a link to it
        [note] = await inbox(http, stack, town.rektor, "assessment-reopened-school")
        assert note["subject"] == f"Självskattningen för Ekbackeskolan {town.tag} har öppnats igen"
        assert f"/assessments/{draft['id']}" in note["body"] and "Lämna in den igen senast" in note["body"]
        mail = await mails_of_type(stack, town.mail("rektor"), note["subject"])
        assert f"/assessments/{draft['id']}" in mail["body"]
        # the district's administrators hear as before; the teacher hears nothing of it
        await inbox(http, stack, town.admin, "assessment-reopened")
        assert "assessment-reopened-school" not in await types_in_inbox(http, stack, town.teacher)

        # reporting's indicator flow: the city reports a Wi-Fi coverage below the target; reporting publishes
        # IndicatorBelowTarget and the district's administrators hear of it
        await send(stack.bootstrap, [wire(SchoolFiguresReported(schoolUnitId=town.school, year=THIS_YEAR, figures={"wifiCoverage": 0.62}))])
        [low] = await inbox(http, stack, town.admin, "indicator-below-target")
        assert low["subject"] == f"Ekbackeskolan {town.tag} är under målet för wifi-coverage ({THIS_YEAR})"
        assert "värdet 0,62" in low["body"] and "Målet är 0,95 (högre är bättre)" in low["body"] and f"/school-units/{town.school}" in low["body"]
        low_mail = await mails_of_type(stack, town.mail("admin"), low["subject"])
        assert "0,62" in low_mail["body"]
        assert "indicator-below-target" not in await types_in_inbox(http, stack, town.rektor)

