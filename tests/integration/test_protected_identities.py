"""Protected identities across all four services: persons whose city record carries a protection marking
(securityMarking "Skyddad folkbokföring") are never shown to others in any list, export or message.

Everyone has a name in the city's data (SS 12000 givenName/familyName, kept to show people to staff), so
"shown" here means shown by name or by any identifying value: their SS 12000 person id. The city publishes a protected guardian, a protected pupil
(whose guardian is not protected) and three protected staff: the school's Rektor, its IT-samordnare and a
teacher. Data is then driven through every service by these people and about them — a self-assessment the
protected Rektor answers, submits and plans actions for; an app the protected IT-samordnare adds and
licenses; a request the protected teacher makes and the data-protection officer rejects; broadcasts to the
school's guardians and staff, a critical one inside the protected guardian's quiet hours; the report
reporting builds from the submission — and every list, export and message others can read is fetched. None
carries a protected person's id: notification gives such recipients as a person reference with neither id nor name (``protected``),
assessment replaces the id with ``protected-identity`` (shared/city/markings.py), catalog shows such a person as a
``PersonRef`` with neither id nor name (shared/city/people.py, the markings filter behind it), reporting's
answers carry no person ids at all. Each protected person still sees their own data with their own id, the
database keeps the real values, and an unprotected teacher's id shows where the protected one's is hidden,
so the check would notice an id that leaked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.assessment.framework import published
from shared.clock import CITY_TZ, city_today
from shared.events.city import DutyAssigned, GuardianRelationAdded, OrganisationUpserted, PersonUpserted
from tests.support.city import school_unit
from tests.support.kafka import eventually, send, wire
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration

PROTECTED = "Skyddad folkbokföring"
#: a protected person as catalog shows them to others (shared/http/models.py PersonRef)
HIDDEN = {"id": None, "name": None, "protected": True, "kind": "person"}
YEAR = city_today().year


@dataclass
class City:
    district: uuid.UUID = field(default_factory=uuid.uuid4)
    school: uuid.UUID = field(default_factory=uuid.uuid4)
    rektor: uuid.UUID = field(default_factory=uuid.uuid4)  # protected
    it: uuid.UUID = field(default_factory=uuid.uuid4)  # protected IT-samordnare
    teacher: uuid.UUID = field(default_factory=uuid.uuid4)  # protected
    colleague: uuid.UUID = field(default_factory=uuid.uuid4)  # an unprotected teacher: the control
    district_admin: uuid.UUID = field(default_factory=uuid.uuid4)  # Övrig arbetsledning at the district
    guardian: uuid.UUID = field(default_factory=uuid.uuid4)  # protected
    child: uuid.UUID = field(default_factory=uuid.uuid4)  # the protected guardian's child (not protected)
    parent: uuid.UUID = field(default_factory=uuid.uuid4)  # not protected
    pupil: uuid.UUID = field(default_factory=uuid.uuid4)  # protected, the unprotected parent's child

    @property
    def protected(self) -> dict[str, uuid.UUID]:
        return {"guardian": self.guardian, "pupil": self.pupil, "rektor": self.rektor, "it-samordnare": self.it, "teacher": self.teacher}

    def family_name(self, p: uuid.UUID) -> str:
        """Everyone has a name in the city's data (SS 12000 givenName/familyName): one no other test uses."""
        return f"Lindqvist{p.hex[:10]}"

    @property
    def protected_names(self) -> dict[str, str]:
        return {who: self.family_name(p) for who, p in self.protected.items()}

    def events(self) -> list[Any]:
        def person(p: uuid.UUID) -> PersonUpserted:
            return PersonUpserted(id=p, securityMarking=PROTECTED if p in self.protected.values() else "Ingen",
                                  givenName="Sara", familyName=self.family_name(p))

        return [
            OrganisationUpserted(id=self.district, displayName="Område Skydd", organisationType="Verksamhetsområde"),
            school_unit(self.school, self.district, name="Skyddsskolan", types=("GR",)),
            *[person(p) for p in (self.rektor, self.it, self.teacher, self.colleague, self.district_admin, self.guardian, self.child,
                                  self.parent, self.pupil)],
            DutyAssigned(id=uuid.uuid4(), person=self.rektor, dutyAt=self.school, dutyRole="Rektor"),
            DutyAssigned(id=uuid.uuid4(), person=self.it, dutyAt=self.school, dutyRole="IT-samordnare"),
            DutyAssigned(id=uuid.uuid4(), person=self.teacher, dutyAt=self.school, dutyRole="Lärare"),
            DutyAssigned(id=uuid.uuid4(), person=self.colleague, dutyAt=self.school, dutyRole="Lärare"),
            DutyAssigned(id=uuid.uuid4(), person=self.district_admin, dutyAt=self.district, dutyRole="Övrig arbetsledning"),
            GuardianRelationAdded(id=uuid.uuid4(), guardian=self.guardian, pupil=self.child, schoolUnit=self.school, schoolType="GR", schoolYear=5),
            GuardianRelationAdded(id=uuid.uuid4(), guardian=self.parent, pupil=self.pupil, schoolUnit=self.school, schoolType="GR", schoolYear=5),
        ]

    # tokens: the people themselves, by their person ids
    def as_rektor(self) -> dict[str, str]:
        return auth("principal", subject=str(self.rektor), school_units=(str(self.school),))

    def as_it(self) -> dict[str, str]:
        return auth("it_admin", subject=str(self.it), school_units=(str(self.school),), districts=(str(self.district),))

    def as_teacher(self) -> dict[str, str]:
        return auth("teacher", subject=str(self.teacher), school_units=(str(self.school),))

    def as_colleague(self) -> dict[str, str]:
        return auth("teacher", subject=str(self.colleague), school_units=(str(self.school),))

    def as_district(self) -> dict[str, str]:
        return auth("district_admin", subject=str(self.district_admin), districts=(str(self.district),))

    def as_guardian(self) -> dict[str, str]:
        return auth("guardian", subject=str(self.guardian), school_units=(str(self.school),))

    def as_parent(self) -> dict[str, str]:
        return auth("guardian", subject=str(self.parent), school_units=(str(self.school),))


@dataclass
class Seen:
    """Every answer someone other than the person got, by what was asked."""

    answers: dict[str, str] = field(default_factory=dict)

    async def get(self, http: httpx.AsyncClient, what: str, url: str, headers: dict[str, str], **params: Any) -> httpx.Response:
        r = await http.get(url, params=params or None, headers=headers)
        assert r.status_code == 200, (what, r.status_code, r.text[:500])
        self.answers[what] = r.text
        return r

    def leaks(self, ids: dict[str, uuid.UUID], names: dict[str, str] | None = None) -> list[str]:
        found = [f"{who} ({pid}) in {what}" for what, text in self.answers.items() for who, pid in ids.items() if str(pid) in text.lower()]
        return found + [f"{who}'s name ({name}) in {what}" for what, text in self.answers.items() for who, name in (names or {}).items()
                        if name.lower() in text.lower()]


async def publish(stack: Stack, http: httpx.AsyncClient, city: City) -> None:
    await send(stack.bootstrap, [wire(e) for e in city.events()])
    protected = list(city.protected.values())
    conn = await asyncpg.connect(stack.admin_url)
    try:
        async def everywhere() -> bool:
            for schema in ("assessment", "catalog", "notification"):
                marked = await conn.fetchval("SELECT count(*) FROM " + schema + ".person WHERE id = ANY($1::uuid[]) AND security_marking = $2",
                                             protected, PROTECTED)
                duties = await conn.fetchval("SELECT count(*) FROM " + schema + ".duty WHERE person = ANY($1::uuid[]) AND active",
                                             [city.rektor, city.it, city.teacher, city.colleague, city.district_admin])
                if marked != len(protected) or duties != 5:
                    return False
            known = await http.get(f"{stack.services['reporting'].url}/school-units/{city.school}", headers=auth("city_admin"))
            guardians = await http.get(f"{stack.services['notification'].url}/school-units/{city.school}/audience", headers=auth("city_admin"))
            return known.status_code == 200 and guardians.status_code == 200 and guardians.json()["guardians"] == 2

        await eventually(everywhere, timeout=60, what="the persons, markings, duties and relations in every service")
    finally:
        await conn.close()


async def test_protected_identities_never_reach_anyone_else(stack: Stack) -> None:
    city = City()
    seen = Seen()
    a, c, r, n = (stack.services[s].url for s in ("assessment", "catalog", "reporting", "notification"))
    async with httpx.AsyncClient(timeout=30) as http:
        await publish(stack, http, city)

        # --- assessment: the protected Rektor answers, submits, plans; the district admin opened the round ------
        opened = await http.post(f"{a}/campaigns", headers=city.as_district(), json={
            "name": "Skyddad självskattning", "year": YEAR, "deadline": f"{YEAR + 1}-03-31", "schoolUnitIds": [str(city.school)]})
        assert opened.status_code == 201, opened.text
        campaign = opened.json()["id"]
        draft = (await http.get(f"{a}/campaigns/{campaign}/school-units/{city.school}/assessment", headers=city.as_rektor())).json()
        framework = published()[draft["frameworkVersion"]]
        answers = [{"indicatorId": i, "notRelevant": True} if framework.by_id[i].allowNotRelevant else
                   {"indicatorId": i, "level": 3, "comment": f"Rektor {city.rektor} har bedömt"} for i in draft["indicators"]]
        assessment = draft["id"]
        assert (await http.put(f"{a}/assessments/{assessment}/answers", json={"answers": answers}, headers=city.as_rektor())).status_code == 200
        assert (await http.post(f"{a}/assessments/{assessment}/submit", headers=city.as_rektor())).status_code == 200
        action = await http.post(f"{a}/school-units/{city.school}/actions", headers=city.as_rektor(), json={
            "heading": "uppfoljning", "title": "Årshjul", "owner": "Rektor", "successCriterion": "Beslutat"})
        assert action.status_code == 201, action.text
        action_id = action.json()["id"]
        assert (await http.patch(f"{a}/actions/{action_id}", json={"note": "Uppföljt"}, headers=city.as_rektor())).status_code == 200

        # --- catalog: the protected IT-samordnare adds and licenses an app; both teachers ask for one ----------
        app = await http.post(f"{c}/apps", headers=city.as_it(), json={
            "name": f"Skyddsappen {uuid.uuid4().hex[:6]}", "supplier": "Skydd AB", "description": "Övningar i läsförståelse.",
            "url": "https://example.se/skydd", "kind": "commercial", "costModel": "free", "freeUse": True, "subjects": ["MA"],
            "grades": ["4"], "schoolTypes": ["GR"], "platforms": ["web"], "languages": ["sv"], "headings": ["digitalt-innehall"],
            "keywords": []})
        assert app.status_code == 201, app.text
        app_id = app.json()["id"]
        licence = await http.post(f"{c}/licences", headers=city.as_it(), json={
            "appId": app_id, "schoolUnitIds": [str(city.school)], "type": "school", "starts": city_today().isoformat(),
            "expires": (city_today() + timedelta(days=200)).isoformat()})
        assert licence.status_code == 201, licence.text
        requests = {}
        for who, headers in (("teacher", city.as_teacher()), ("colleague", city.as_colleague())):
            made = await http.post(f"{c}/requests", headers=headers, json={
                "schoolUnitId": str(city.school), "newApp": {"name": f"Önskan {who} {uuid.uuid4().hex[:6]}"}, "purpose": "Läsförståelse"})
            assert made.status_code == 201, made.text
            requests[who] = made.json()["id"]
        rejected = await http.post(f"{c}/requests/{requests['teacher']}/actions", headers=auth("data_protection", subject="dpo-skydd"),
                                   json={"action": "reject", "note": "Data lagras utanför EU/EES"})
        assert rejected.status_code == 200, rejected.text

        # --- notification: broadcasts to guardians (a critical one in the protected guardian's quiet hours) and staff
        local = datetime.now(CITY_TZ)
        asleep = {"quietHours": {"start": (local - timedelta(hours=1)).strftime("%H:%M"), "end": (local + timedelta(hours=1)).strftime("%H:%M")}}
        sync = auth("city_admin", subject="city-sync")
        assert (await http.put(f"{n}/persons/{city.guardian}/contacts", json={"pushToken": "tok-skydd"}, headers=sync)).status_code == 200
        assert (await http.put(f"{n}/persons/{city.guardian}/preferences", json=asleep, headers=city.as_guardian())).status_code == 200
        to_guardians = {"kind": "guardians", "schoolUnitIds": [str(city.school)]}
        preview = await http.post(f"{n}/broadcasts/audience", json=to_guardians, headers=city.as_rektor())
        assert preview.status_code == 200
        seen.answers["notification broadcast audience preview"] = preview.text
        critical = await http.post(f"{n}/broadcasts", headers=city.as_rektor(), json={
            "audience": to_guardians, "subject": "Skolan stängd", "body": "Vattenläcka.", "critical": True})
        assert critical.status_code == 201, critical.text
        staff = await http.post(f"{n}/broadcasts", headers=city.as_district(), json={
            "audience": {"kind": "staff", "schoolUnitIds": [str(city.school)]}, "subject": "Studiedag", "body": "Planering på fredag."})
        assert staff.status_code == 201, staff.text

        # reporting hears of the submission
        async def reported() -> bool:
            return (await http.get(f"{r}/school-units/{city.school}/report", headers=city.as_district())).status_code == 200

        await eventually(reported, timeout=60, what="the submission in reporting")

        # the district admin hears of the submission
        async def told() -> list[dict[str, Any]]:
            return (await http.get(f"{n}/persons/{city.district_admin}/messages", headers=city.as_district())).json()["items"]

        await eventually(told, what="the submission in the district admin's inbox")

        # --- what others see ---------------------------------------------------------------------------------
        colleague, district, admin = city.as_colleague(), city.as_district(), auth("city_admin")
        school, d = str(city.school), str(city.district)
        # assessment: the round, the assessment, the history, the action plan, the audit trails
        for who, headers in (("colleague", colleague), ("district admin", district)):
            await seen.get(http, f"assessment campaigns ({who})", f"{a}/campaigns", headers)
            await seen.get(http, f"assessment campaign ({who})", f"{a}/campaigns/{campaign}", headers)
            await seen.get(http, f"assessment campaign assessments ({who})", f"{a}/campaigns/{campaign}/assessments", headers)
            got = await seen.get(http, f"assessment ({who})", f"{a}/assessments/{assessment}", headers)
            assert got.json()["submittedBy"] == {"id": None, "name": None, "protected": True, "kind": "person"}
            await seen.get(http, f"assessment of school in round ({who})", f"{a}/campaigns/{campaign}/school-units/{school}/assessment", headers)
            await seen.get(http, f"assessment guidance ({who})", f"{a}/assessments/{assessment}/guidance", headers)
            await seen.get(http, f"assessment history ({who})", f"{a}/school-units/{school}/assessments", headers)
            await seen.get(http, f"assessment action plan ({who})", f"{a}/school-units/{school}/action-plan", headers)
        await seen.get(http, "assessment pulse (district admin)", f"{a}/assessments/{assessment}/pulse", district)  # not teachers (decision 0016)
        await seen.get(http, "assessment district history", f"{a}/districts/{d}/assessments", district)
        trail = await seen.get(http, "assessment audit trail", f"{a}/assessments/{assessment}/audit", district)
        assert any(i["actor"] == {"id": None, "name": None, "protected": True, "kind": "person"} for i in trail.json()["items"])
        await seen.get(http, "assessment action audit trail", f"{a}/actions/{action_id}/audit", district)
        await seen.get(http, "assessment campaigns (city admin)", f"{a}/campaigns", admin)

        # catalog: the requests, the app, its audit trail, licences, search and the exports
        for who, headers in (("colleague", colleague), ("Rektor", city.as_rektor()), ("district admin", district),
                             ("data protection", auth("data_protection")), ("city admin", admin)):
            await seen.get(http, f"catalog requests ({who})", f"{c}/requests", headers, limit=500)
            await seen.get(http, f"catalog app ({who})", f"{c}/apps/{app_id}", headers)
            await seen.get(http, f"catalog licences ({who})", f"{c}/licences", headers, appId=app_id)
            await seen.get(http, f"catalog search ({who})", f"{c}/apps", headers, q="Skyddsappen")
            await seen.get(http, f"catalog export json ({who})", f"{c}/apps/export", headers, format="json")
            await seen.get(http, f"catalog export csv ({who})", f"{c}/apps/export", headers, format="csv")
        mine_and_theirs = await seen.get(http, "catalog requests (reviewer)", f"{c}/requests", auth("data_protection"), limit=500)
        # catalog shows people as PersonRef: a protected one with neither id nor name
        requesters = {i["id"]: (i["requester"]["id"], i["requester"]["protected"]) for i in mine_and_theirs.json()["items"] if i["id"] in requests.values()}
        assert requesters == {requests["teacher"]: (None, True), requests["colleague"]: (str(city.colleague), False)}  # the control shows
        named = {i["id"]: i["requester"]["name"] for i in mine_and_theirs.json()["items"] if i["id"] in requests.values()}
        assert named == {requests["teacher"]: None, requests["colleague"]: f"Sara {city.family_name(city.colleague)}"}  # by name too
        one = await seen.get(http, "catalog request", f"{c}/requests/{requests['teacher']}", city.as_rektor())
        assert one.json()["requester"] == HIDDEN and all(h["actor"]["id"] != str(city.teacher) for h in one.json()["history"])
        await seen.get(http, "catalog app audit", f"{c}/apps/{app_id}/audit", auth("data_protection"))
        await seen.get(http, "catalog public apps", f"{c}/public/school-units/{school}/apps", {})

        # notification: receipts, worklists, the bypass log, the broadcasts, others' inboxes
        for broadcast, who, headers in ((critical.json()["id"], "Rektor", city.as_rektor()), (critical.json()["id"], "district admin", district),
                                        (staff.json()["id"], "district admin", district), (staff.json()["id"], "city admin", admin)):
            got = await seen.get(http, f"notification receipts {broadcast} ({who})", f"{n}/broadcasts/{broadcast}/receipts", headers,
                                 schoolUnitId=school, reason="delivery-problem")
            assert any(i["person"] == {"id": None, "name": None, "protected": True, "kind": "person"} for i in got.json()["items"])
            if who != "Rektor":  # the Rektor sent the critical one: its summary names them to themselves
                await seen.get(http, f"notification broadcast {broadcast} ({who})", f"{n}/broadcasts/{broadcast}", headers)
        others_view = await seen.get(http, "notification critical broadcast (district admin, again)", f"{n}/broadcasts/{critical.json()['id']}", district)
        assert others_view.json()["sender"] is None  # sent by the protected Rektor
        assert others_view.json()["sentBy"] == {"id": None, "name": None, "protected": True, "kind": "person"}
        await seen.get(http, "notification unreached", f"{n}/school-units/{school}/unreached", district, reason="delivery-problem")
        bypasses = await seen.get(http, "notification bypass log", f"{n}/quiet-hours-bypasses", district, schoolUnitId=school, reason="support")
        assert [(e["person"]["id"], e["person"]["protected"]) for e in bypasses.json()["items"]] == [(None, True)]
        await seen.get(http, "notification bypass log (data protection)", f"{n}/quiet-hours-bypasses", auth("data_protection"), reason="dpo-review")
        await seen.get(http, "notification audience", f"{n}/school-units/{school}/audience", district)
        await seen.get(http, "notification inbox of the unprotected parent", f"{n}/persons/{city.parent}/messages", city.as_parent())
        await seen.get(http, "notification inbox of the district admin", f"{n}/persons/{city.district_admin}/messages", district)
        await seen.get(http, "notification inbox of the colleague", f"{n}/persons/{city.colleague}/messages", colleague)

        # reporting: every view of the school, its district and the city, as JSON and CSV
        for path in (f"/school-units/{school}/report", f"/school-units/{school}/history", f"/school-units/{school}/similar",
                     f"/districts/{d}/overview", f"/districts/{d}/trends", "/headings/uppfoljning", "/campaigns"):
            await seen.get(http, f"reporting {path}", f"{r}{path}", district, districtId=d)
            if path != "/campaigns":
                await seen.get(http, f"reporting {path} csv", f"{r}{path}", district, districtId=d, format="csv")
        for path in ("/overview", "/trends", f"/annual-report/{YEAR}", f"/school-units/{school}/charts/radar.svg", "/charts/heatmap.svg"):
            await seen.get(http, f"reporting {path}", f"{r}{path}", admin)

        leaks = seen.leaks(city.protected, city.protected_names)
        assert not leaks, "protected identities shown to others:\n" + "\n".join(leaks)
        assert len(seen.answers) > 80

        # --- what each person sees of their own --------------------------------------------------------------
        own = (await http.get(f"{a}/assessments/{assessment}", headers=city.as_rektor())).json()
        assert own["submittedBy"] == {"id": str(city.rektor), "name": f"Sara {city.family_name(city.rektor)}", "protected": False, "kind": "person"}
        own_request = (await http.get(f"{c}/requests/{requests['teacher']}", headers=city.as_teacher())).json()
        assert own_request["requester"]["id"] == str(city.teacher) and not own_request["requester"]["protected"]
        assert own_request["requester"]["name"] == f"Sara {city.family_name(city.teacher)}"  # their own name, to themselves
        assert (await http.get(f"{c}/apps/{app_id}", headers=city.as_it())).json()["createdBy"]["id"] == str(city.it)
        own_inbox = (await http.get(f"{n}/persons/{city.guardian}/messages", headers=city.as_guardian())).json()
        assert own_inbox["personId"] == str(city.guardian) and own_inbox["items"]
        sent = (await http.get(f"{n}/broadcasts/{critical.json()['id']}", headers=city.as_rektor())).json()
        assert sent["sender"] == str(city.rektor) and sent["sentBy"]["id"] == str(city.rektor) and not sent["sentBy"]["protected"]

    # the records themselves are intact: only what others are shown changes
    conn = await asyncpg.connect(stack.admin_url)
    try:
        assert await conn.fetchval("SELECT submitted_by FROM assessment.assessment WHERE id = $1", uuid.UUID(assessment)) == str(city.rektor)
        assert await conn.fetchval("SELECT requester FROM catalog.app_request WHERE id = $1", uuid.UUID(requests["teacher"])) == str(city.teacher)
    finally:
        await conn.close()


async def test_a_marking_added_later_hides_the_person_from_then_on(stack: Stack) -> None:
    """Markings change: a teacher whose record becomes protected after making a request disappears from
    the request list as soon as the city's event is applied."""
    city = City()
    c = stack.services["catalog"].url
    async with httpx.AsyncClient(timeout=30) as http:
        await publish(stack, http, city)
        made = await http.post(f"{c}/requests", headers=city.as_colleague(), json={
            "schoolUnitId": str(city.school), "newApp": {"name": f"Senare {uuid.uuid4().hex[:6]}"}, "purpose": "Matematik"})
        assert made.status_code == 201, made.text

        async def requester() -> dict[str, Any]:
            return (await http.get(f"{c}/requests/{made.json()['id']}", headers=city.as_rektor())).json()["requester"]

        assert (await requester())["id"] == str(city.colleague)
        await send(stack.bootstrap, [wire(PersonUpserted(id=city.colleague, securityMarking=PROTECTED))])
        await eventually(lambda: _is(requester, HIDDEN), what="the colleague hidden once their marking arrives")
        assert (await http.get(f"{c}/requests/{made.json()['id']}", headers=city.as_colleague())).json()["requester"]["id"] == str(city.colleague)


async def _is(get: Any, value: Any) -> bool:
    return await get() == value

