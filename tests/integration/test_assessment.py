"""The self-assessment over HTTP with real PostgreSQL and broker: campaigns, drafts, submission,
reopening, pulse, action plan, history, carry-forward, authorisation and bad input."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio

from services.assessment.framework import published
from shared.events.assessment import (
    ActionPlanChanged,
    AssessmentReopened,
    AssessmentSubmitted,
    CampaignClosed,
    CampaignOpened,
)
from shared.events.city import DutyAssigned, OrganisationUpserted, PersonUpserted
from tests.support.city import school_unit
from tests.support.kafka import EventLog, eventually, send, wire
from tests.support.sealing import opened as whom
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration
THIS_YEAR = date.today().year
DEADLINE = f"{THIS_YEAR + 1}-03-31"


@dataclass
class City:
    """Two districts; district A has a compulsory school, an upper-secondary school and a preschool."""

    district: uuid.UUID = field(default_factory=uuid.uuid4)
    other_district: uuid.UUID = field(default_factory=uuid.uuid4)
    schools: dict[str, uuid.UUID] = field(default_factory=dict)
    rektors: dict[str, uuid.UUID] = field(default_factory=dict)
    url: str = ""
    log: EventLog | None = None

    def rektor(self, name: str) -> dict[str, str]:
        return auth("principal", subject=str(self.rektors[name]), school_units=(str(self.schools[name]),))

    def teacher(self, name: str = "gr") -> dict[str, str]:
        return auth("teacher", school_units=(str(self.schools[name]),))

    def district_admin(self) -> dict[str, str]:
        return auth("district_admin", districts=(str(self.district),))

    def other_district_admin(self) -> dict[str, str]:
        return auth("district_admin", districts=(str(self.other_district),))


def rektor_events(school: uuid.UUID, name: str) -> tuple[uuid.UUID, list]:
    person = uuid.uuid4()
    return person, [PersonUpserted(id=person, givenName="Rektor", familyName=name.upper()),
                    DutyAssigned(id=uuid.uuid4(), person=person, dutyAt=school, dutyRole="Rektor")]


async def make_city(stack: Stack) -> City:
    city = City(url=stack.services["assessment"].url)
    events: list = [
        OrganisationUpserted(id=city.district, displayName="Område A", organisationType="Verksamhetsområde"),
        OrganisationUpserted(id=city.other_district, displayName="Område B", organisationType="Verksamhetsområde"),
    ]
    for name, district, types in (("gr", city.district, ("FKLASS", "GR", "FTH")), ("gy", city.district, ("GY",)),
                                  ("fs", city.district, ("FS",)), ("b", city.other_district, ("GR",))):
        sid = uuid.uuid4()
        city.schools[name] = sid
        events.append(school_unit(sid, district, name=f"Skola {name} {str(sid)[:4]}", types=types))
        city.rektors[name], more = rektor_events(sid, name)
        events += more
    await send(stack.bootstrap, [wire(e) for e in events])
    conn = await asyncpg.connect(stack.admin_url)
    try:
        async def replicated() -> bool:
            units = await conn.fetchval("SELECT count(*) FROM assessment.organisation WHERE id = ANY($1::uuid[])", list(city.schools.values()))
            duties = await conn.fetchval("SELECT count(*) FROM assessment.duty WHERE person = ANY($1::uuid[])", list(city.rektors.values()))
            return units == 4 and duties == 4

        await eventually(replicated, what="school units and Rektor duties in assessment")
    finally:
        await conn.close()
    return city


@pytest_asyncio.fixture(scope="module")
async def city(stack: Stack) -> AsyncIterator[City]:
    c = await make_city(stack)
    c.log = await EventLog(stack.bootstrap, "skolit.assessment").start()
    yield c
    await c.log.stop()


async def open_campaign(http: httpx.AsyncClient, city: City, names: list[str], *, version: int | None = None, who: dict | None = None) -> dict:
    body: dict[str, Any] = {"name": f"Självskattning {THIS_YEAR}", "year": THIS_YEAR, "deadline": DEADLINE,
                            "schoolUnitIds": [str(city.schools[n]) for n in names]}
    if version is not None:
        body["frameworkVersion"] = version
    r = await http.post(f"{city.url}/campaigns", json=body, headers=who or city.district_admin())
    assert r.status_code == 201, r.text
    return r.json()


async def assessment_of(http: httpx.AsyncClient, city: City, campaign: dict, name: str) -> dict:
    r = await http.get(f"{city.url}/campaigns/{campaign['id']}/school-units/{city.schools[name]}/assessment", headers=city.rektor(name))
    assert r.status_code == 200, r.text
    return r.json()


def full_answers(assessment: dict, level: int = 3) -> list[dict]:
    framework = published()[assessment["frameworkVersion"]]
    out = []
    for indicator_id in assessment["indicators"]:
        if framework.by_id[indicator_id].allowNotRelevant:
            out.append({"indicatorId": indicator_id, "notRelevant": True})
        else:
            out.append({"indicatorId": indicator_id, "level": level, "comment": f"Kommentar {indicator_id}"})
    return out


async def test_campaign_lifecycle_from_opening_to_reopening(stack: Stack, city: City) -> None:
    assert city.log is not None
    async with httpx.AsyncClient(timeout=10) as http:
        campaign = await open_campaign(http, city, ["gr", "fs"], version=1)
        assert campaign["frameworkVersion"] == 1 and campaign["progress"] == {"submitted": 0, "schoolUnits": 2}
        opened = await city.log.wait_for(CampaignOpened, lambda e: str(e.id) == campaign["id"])
        assert opened.frameworkVersion == 1
        assert campaign["openedBy"] == {"id": None, "name": "tester", "protected": False, "kind": "system"}  # a token subject that is no person id
        assert campaign["closedBy"] is None

        # where the round stands: in pages, counted over the caller's school units only
        standing = (await http.get(f"{city.url}/campaigns/{campaign['id']}/assessments?limit=1", headers=city.district_admin())).json()
        assert standing["total"] == 2 and len(standing["items"]) == 1 and standing["next"] and standing["campaign"]["id"] == campaign["id"]
        rest = (await http.get(f"{city.url}/campaigns/{campaign['id']}/assessments?limit=1&cursor={standing['next']}", headers=city.district_admin())).json()
        assert rest["next"] is None and {s["schoolUnit"]["id"] for s in standing["items"] + rest["items"]} == {str(city.schools["gr"]), str(city.schools["fs"])}
        own = (await http.get(f"{city.url}/campaigns/{campaign['id']}/assessments", headers=city.teacher())).json()
        assert own["total"] == 1 and own["items"][0]["schoolUnit"]["id"] == str(city.schools["gr"]) and own["items"][0]["schoolUnit"]["name"].startswith("Skola gr")
        listed = (await http.get(f"{city.url}/campaigns", params={"limit": 500}, headers=city.district_admin())).json()
        assert campaign["id"] in [c["id"] for c in listed["items"]] and listed["total"] == len(listed["items"]) and listed["next"] is None

        draft = await assessment_of(http, city, campaign, "gr")
        assert draft["status"] == "draft" and draft["answers"] == [] and "INF-06" not in draft["indicators"]
        url = f"{city.url}/assessments/{draft['id']}"
        rektor = city.rektor("gr")

        # two saves of different indicators at the same time: both persist (last write per indicator wins)
        first, second = await asyncio.gather(
            http.put(f"{url}/answers", json={"answers": [{"indicatorId": "INF-01", "level": 2, "evidence": ["https://example.se/wifi"]}]}, headers=rektor),
            http.put(f"{url}/answers", json={"answers": [{"indicatorId": "INF-02", "level": 4}]}, headers=rektor),
        )
        assert first.status_code == second.status_code == 200, (first.text, second.text)
        read = (await http.get(url, headers=city.teacher())).json()
        saved = {a["indicatorId"]: a for a in read["answers"]}
        assert saved["INF-01"]["level"] == 2 and saved["INF-01"]["evidence"] == ["https://example.se/wifi"] and saved["INF-02"]["level"] == 4
        # who, by name; the school by name; titles in the reader's language (Swedish unless asked)
        assert saved["INF-01"]["updatedBy"] == {"id": str(city.rektors["gr"]), "name": "Rektor GR", "protected": False, "kind": "person"}
        assert read["schoolUnit"]["name"].startswith("Skola gr") and read["schoolUnit"]["schoolTypes"] == ["FKLASS", "GR", "FTH"]
        assert saved["INF-01"]["indicatorTitle"] == "Trådlöst nät i alla lokaler" and read["language"] == "sv"
        assert read["headings"][0]["heading"] == {"code": "infrastruktur", "label": "Infrastruktur för ökad tillgänglighet"}
        english = (await http.get(url, headers=city.teacher() | {"Accept-Language": "en-GB,en;q=0.8"})).json()
        assert english["headings"][0]["heading"]["label"] == "Infrastructure for greater access" and english["language"] == "en"
        assert (await http.get(f"{url}?lang=sv", headers=city.teacher() | {"Accept-Language": "en"})).json()["language"] == "sv"

        early = await http.post(f"{url}/submit", headers=rektor)
        assert early.status_code == 422 and early.json()["field"] == "answers"
        assert "KOM-01" in early.json()["detail"]

        assert (await http.put(f"{url}/answers", json={"answers": full_answers(draft)}, headers=rektor)).status_code == 200
        submitted = await http.post(f"{url}/submit", headers=rektor)
        assert submitted.status_code == 200, submitted.text
        assert submitted.json()["status"] == "submitted" and submitted.json()["submissions"] == 1
        assert submitted.json()["submittedBy"]["id"] == str(city.rektors["gr"])

        event = await city.log.wait_for(AssessmentSubmitted, lambda e: str(e.assessmentId) == draft["id"])
        assert event.schoolUnitId == city.schools["gr"] and event.districtId == city.district and event.frameworkVersion == 1
        assert await whom(stack.admin_url, event.submittedBy) == city.rektors["gr"] and event.submission == 1  # sealed
        levels = {i.indicatorId: (i.level, i.notRelevant) for i in event.indicators}
        assert levels["INF-01"] == (3, False) and levels["INF-04"] == (None, True) and len(levels) == len(draft["indicators"])
        assert {h.heading: h.level for h in event.headings} == dict.fromkeys(
            ["infrastruktur", "digital-kompetens", "digitalt-innehall", "samarbete-kommunikation", "uppfoljning"], 3)
        assert [(p.group, p.respondents) for p in event.pulse] == [("staff", 0)]

        locked = await http.put(f"{url}/answers", json={"answers": [{"indicatorId": "INF-01", "level": 5}]}, headers=rektor)
        assert locked.status_code == 409 and locked.json()["field"] == "status"

        guidance = (await http.get(f"{url}/guidance?lang=en", headers=city.teacher()))
        assert guidance.status_code == 200
        infra = guidance.json()["headings"][0]
        assert guidance.json()["final"] and infra["level"] == 3 and infra["nextLevelLabel"] == "Established"
        assert infra["suggestedActions"][0]["priority"] == 1 and infra["suggestedActions"][0]["order"] == 1

        # only a district admin of the school's district reopens, and only with a reason
        assert (await http.post(f"{url}/reopen", json={"reason": "Komplettera"}, headers=rektor)).status_code == 403
        assert (await http.post(f"{url}/reopen", json={"reason": "Komplettera"}, headers=auth("city_admin"))).status_code == 403
        assert (await http.post(f"{url}/reopen", json={"reason": "Komplettera"}, headers=city.other_district_admin())).status_code == 403
        no_reason = await http.post(f"{url}/reopen", json={}, headers=city.district_admin())
        assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
        reopened = await http.post(f"{url}/reopen", json={"reason": "Rektor vill komplettera digital kompetens."}, headers=city.district_admin())
        assert reopened.status_code == 200 and reopened.json()["status"] == "draft"
        await city.log.wait_for(AssessmentReopened, lambda e: str(e.assessmentId) == draft["id"])

        assert (await http.put(f"{url}/answers", json={"answers": [{"indicatorId": "KOM-01", "level": 5}]}, headers=rektor)).status_code == 200
        again = await http.post(f"{url}/submit", headers=rektor)
        assert again.status_code == 200 and again.json()["submissions"] == 2
        resubmitted = await city.log.wait_for(AssessmentSubmitted, lambda e: str(e.assessmentId) == draft["id"] and e.submission == 2)
        assert {i.indicatorId: i.level for i in resubmitted.indicators}["KOM-01"] == 5

        audit = (await http.get(f"{url}/audit", headers=city.district_admin())).json()
        trail = audit["items"]
        assert [t["action"] for t in trail] == ["assessment.created", "answers.saved", "answers.saved", "answers.saved",
                                                 "assessment.submitted", "assessment.reopened", "answers.saved", "assessment.submitted"]
        assert audit["total"] == 8 and audit["next"] is None and audit["assessmentId"] == draft["id"]
        reopening = trail[5]
        # the district admin's token names no person of the city: shown by its subject
        assert reopening["detail"]["reason"] == "Rektor vill komplettera digital kompetens." and reopening["actor"] == {"id": None, "name": "tester", "protected": False, "kind": "system"}
        assert trail[1]["actor"] == {"id": str(city.rektors["gr"]), "name": "Rektor GR", "protected": False, "kind": "person"}
        # the trail in pages of three: the same entries, in order, each page pointing to the next
        paged: list[dict] = []
        cursor: str | None = None
        while True:
            part = (await http.get(f"{url}/audit", params={"limit": 3} | ({"cursor": cursor} if cursor else {}), headers=city.district_admin())).json()
            assert part["limit"] == 3 and part["total"] == 8 and len(part["items"]) <= 3
            paged += part["items"]
            cursor = part["next"]
            if cursor is None:
                break
        assert paged == trail
        bad = await http.get(f"{url}/audit", params={"cursor": "made-up"}, headers=city.district_admin())
        assert bad.status_code == 422 and bad.json()["field"] == "query.cursor"

        # closing the round: the preschool's unfinished draft is frozen
        assert (await http.post(f"{city.url}/campaigns/{campaign['id']}/close", headers=city.teacher())).status_code == 403
        closed = await http.post(f"{city.url}/campaigns/{campaign['id']}/close", headers=city.district_admin())
        assert closed.status_code == 200 and closed.json()["status"] == "closed" and closed.json()["progress"] == {"submitted": 1, "schoolUnits": 2}
        ended = await city.log.wait_for(CampaignClosed, lambda e: str(e.id) == campaign["id"])
        assert (ended.submitted, ended.schoolUnits) == (1, 2)
        preschool = await assessment_of(http, city, campaign, "fs")
        late = await http.put(f"{city.url}/assessments/{preschool['id']}/answers", json={"answers": [{"indicatorId": "INF-06", "level": 2}]}, headers=city.rektor("fs"))
        assert late.status_code == 409 and late.json()["field"] == "campaign.status"
        assert (await http.post(f"{city.url}/campaigns/{campaign['id']}/close", headers=city.district_admin())).status_code == 409


async def test_next_round_carries_answers_forward_through_the_framework_mapping(stack: Stack, city: City) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        first = await open_campaign(http, city, ["gy"], version=1)
        a1 = await assessment_of(http, city, first, "gy")
        url1 = f"{city.url}/assessments/{a1['id']}"
        assert (await http.put(f"{url1}/answers", json={"answers": full_answers(a1, level=2)}, headers=city.rektor("gy"))).status_code == 200
        assert (await http.post(f"{url1}/submit", headers=city.rektor("gy"))).status_code == 200

        second = await open_campaign(http, city, ["gy"], version=2)
        a2 = await assessment_of(http, city, second, "gy")
        assert a2["frameworkVersion"] == 2 and a2["carriedFrom"] == a1["id"]
        carried = {a["indicatorId"]: a for a in a2["answers"]}
        assert "SAM-04" not in carried and {"INF-08", "KOM-09", "SAM-08"}.isdisjoint(carried)
        assert carried["INF-01"]["level"] == 2 and carried["INF-01"]["carriedFrom"] == a1["id"]
        assert carried["INF-01"]["comment"] == "Kommentar INF-01"
        assert a2["missingRequired"] == ["INF-08", "KOM-09", "SAM-08"]

        # the school answers only what is new, changes one level, and submits
        url2 = f"{city.url}/assessments/{a2['id']}"
        new = [{"indicatorId": i, "level": 3} for i in ("INF-08", "KOM-09", "SAM-08")] + [{"indicatorId": "INF-01", "level": 4}]
        saved = await http.put(f"{url2}/answers", json={"answers": new}, headers=city.rektor("gy"))
        assert saved.status_code == 200 and saved.json()["missingRequired"] == []
        assert {a["indicatorId"]: a["carriedFrom"] for a in saved.json()["answers"]}["INF-01"] is None
        assert (await http.post(f"{url2}/submit", headers=city.rektor("gy"))).status_code == 200
        event = await city.log.wait_for(AssessmentSubmitted, lambda e: str(e.assessmentId) == a2["id"])
        flags = {i.indicatorId: i.carried for i in event.indicators}
        assert flags["INF-02"] and not flags["INF-01"] and not flags["KOM-09"]

        for who in (city.rektor("gy"), city.district_admin()):
            history = (await http.get(f"{city.url}/school-units/{city.schools['gy']}/assessments", headers=who)).json()["items"]
            assert [h["id"] for h in history] == [a1["id"], a2["id"]] and history[0]["changes"] is None
            changes = {c["indicatorId"]: c for c in history[1]["changes"]["indicators"]}
            assert (changes["INF-01"]["previous"], changes["INF-01"]["current"], changes["INF-01"]["change"]) == (2, 4, 2)
            assert changes["INF-01"]["indicatorTitle"] == "Trådlöst nät i alla lokaler" and changes["INF-01"]["heading"]["code"] == "infrastruktur"
            assert changes["KOM-09"]["previous"] is None and changes["INF-02"]["change"] == 0
        district = (await http.get(f"{city.url}/districts/{city.district}/assessments", headers=city.district_admin())).json()
        assert district["total"] == 3 and [s["schoolUnit"]["name"] for s in district["items"]] == sorted(s["schoolUnit"]["name"] for s in district["items"])
        assert len(next(s for s in district["items"] if s["schoolUnit"]["id"] == str(city.schools["gy"]))["assessments"]) == 2
        first = (await http.get(f"{city.url}/districts/{city.district}/assessments?limit=2", headers=city.district_admin())).json()
        rest = (await http.get(f"{city.url}/districts/{city.district}/assessments?limit=2&cursor={first['next']}", headers=city.district_admin())).json()
        assert [s["schoolUnit"] for s in first["items"] + rest["items"]] == [s["schoolUnit"] for s in district["items"]] and rest["next"] is None
        assert (await http.get(f"{city.url}/districts/{city.district}/assessments", headers=city.other_district_admin())).status_code == 403


async def invitations(http: httpx.AsyncClient, city: City, assessment: dict[str, Any], school: str, count: int, group: str = "staff") -> list[str]:
    """Single-use pulse codes the school's Rektor issues (shown once)."""
    r = await http.post(f"{city.url}{assessment['pulse']['invitations']}", json={"group": group, "count": count}, headers=city.rektor(school))
    assert r.status_code == 201, r.text
    return r.json()["codes"]


async def test_pulse_is_anonymous_and_suppressed_under_five(stack: Stack, city: City) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        campaign = await open_campaign(http, city, ["b"], who=auth("city_admin"))
        a = await assessment_of(http, city, campaign, "b")
        assert a["pulse"] == {"groups": ["staff"], "invitations": f"/assessments/{a['id']}/pulse/invitations"}
        codes = await invitations(http, city, a, "b", 7)
        assert len(set(codes)) == 7
        code = codes[0]
        questionnaire = (await http.get(f"{city.url}/pulse/{code}?lang=en")).json()  # no login
        assert questionnaire["open"] and not questionnaire["used"] and questionnaire["group"] == "staff"
        assert [h["id"] for h in questionnaire["headings"]][0] == "infrastruktur"

        pupils = await http.post(f"{city.url}/pulse/{code}", json={"group": "pupils", "answers": {"infrastruktur": 3}})
        assert pupils.status_code == 422 and pupils.json()["field"] == "group"  # a staff invitation answers for staff
        unknown = await http.post(f"{city.url}/pulse/{code}", json={"group": "staff", "answers": {"skolgården": 3}})
        assert unknown.status_code == 422 and unknown.json()["field"] == "answers.skolgården"
        assert (await http.post(f"{city.url}/pulse/notacode42", json={"group": "staff", "answers": {"infrastruktur": 3}})).status_code == 404
        malformed = await http.post(f"{city.url}/pulse/not-a-code", json={"group": "staff", "answers": {"infrastruktur": 3}})
        assert malformed.status_code == 422 and malformed.json()["field"] == "path.code"
        # the round's old shared school code answers nothing any more
        conn = await asyncpg.connect(stack.admin_url)
        try:
            shared_code = await conn.fetchval("SELECT pulse_code FROM assessment.campaign_school_unit WHERE campaign_id = $1", uuid.UUID(campaign["id"]))
        finally:
            await conn.close()
        assert (await http.post(f"{city.url}/pulse/{shared_code}", json={"answers": {"infrastruktur": 3}})).status_code == 404

        url = f"{city.url}/assessments/{a['id']}"
        for level, invitation in zip((1, 2, 1, 2), codes, strict=False):
            r = await http.post(f"{city.url}/pulse/{invitation}", json={"group": "staff", "answers": {"infrastruktur": level, "uppfoljning": 5}})
            assert r.status_code == 202
        four = (await http.get(f"{url}/pulse", headers=city.rektor("b"))).json()
        staff = four["groups"][0]
        assert staff["suppressed"] and staff["respondents"] is None and all(h["mean"] is None for h in staff["headings"])
        assert (staff["invited"], staff["answered"], staff["awaitingRelease"]) == (7, 4, 4)

        assert (await http.post(f"{city.url}/pulse/{codes[4]}", json={"answers": {"infrastruktur": 2}})).status_code == 202  # group optional
        await http.put(f"{url}/answers", json={"answers": [{"indicatorId": "INF-01", "level": 4}, {"indicatorId": "INF-02", "level": 4}]}, headers=city.rektor("b"))
        five = (await http.get(f"{url}/pulse", headers=auth("city_admin"))).json()["groups"][0]
        infra = next(h for h in five["headings"] if h["heading"]["code"] == "infrastruktur")
        follow_up = next(h for h in five["headings"] if h["heading"]["code"] == "uppfoljning")
        assert follow_up["heading"]["label"] == "Uppföljning"
        assert five["respondents"] == 5 and (infra["respondents"], infra["mean"], infra["principalMean"]) == (5, 1.6, 4.0) and infra["differs"]
        assert five["awaitingRelease"] == 0
        assert follow_up["suppressed"] and follow_up["mean"] is None  # four answered it
        assert (await http.get(f"{url}/pulse", headers=auth("guardian"))).status_code == 403
        assert (await http.get(f"{url}/pulse", headers=city.teacher("b"))).status_code == 403  # the respondents' colleagues do not read it

        # a sixth answer is not published, neither here nor in the submission
        assert (await http.post(f"{city.url}/pulse/{codes[5]}", json={"answers": {"infrastruktur": 5}})).status_code == 202
        assert (await http.put(f"{url}/answers", json={"answers": full_answers(a)}, headers=city.rektor("b"))).status_code == 200
        assert (await http.post(f"{url}/submit", headers=city.rektor("b"))).status_code == 200
        event = await city.log.wait_for(AssessmentSubmitted, lambda e: str(e.assessmentId) == a["id"])
        staff_event = event.pulse[0]
        assert staff_event.respondents == 5
        assert {h.heading: h.mean for h in staff_event.headings} == {"infrastruktur": 1.6, "digital-kompetens": None, "digitalt-innehall": None,
                                                                     "samarbete-kommunikation": None, "uppfoljning": None}
        closed = await http.post(f"{city.url}/pulse/{codes[6]}", json={"group": "staff", "answers": {"infrastruktur": 2}})
        assert closed.status_code == 409 and closed.json()["field"] == "status"
        assert not (await http.get(f"{city.url}/pulse/{codes[6]}")).json()["open"]
        late = await http.post(f"{url}/pulse/invitations", json={"group": "staff", "count": 1}, headers=city.rektor("b"))
        assert late.status_code == 409 and late.json()["field"] == "status"


async def test_bad_input_is_refused_with_the_field_named_and_nothing_saved(stack: Stack, city: City) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        campaign = await open_campaign(http, city, ["gr", "fs", "b"], who=auth("city_admin"))
        gr = await assessment_of(http, city, campaign, "gr")
        fs = await assessment_of(http, city, campaign, "fs")
        url = f"{city.url}/assessments/{gr['id']}/answers"
        rektor = city.rektor("gr")
        before = gr["answers"]

        async def refused(body: dict, status: int, field: str, who: dict = rektor, target: str = url) -> dict:
            r = await http.put(target, json=body, headers=who)
            assert r.status_code == status, r.text
            problem = r.json()
            assert r.headers["content-type"].startswith("application/problem+json")
            assert field in (problem.get("field") or problem["detail"]), problem
            return problem

        good = {"indicatorId": "INF-01", "level": 3}
        await refused({"answers": [good, {"indicatorId": "NOPE-1", "level": 3}]}, 422, "answers[1].indicatorId")
        await refused({"answers": [good, {"indicatorId": "INF-02", "level": 6}]}, 422, "body.answers.1.level")
        await refused({"answers": [good, {"indicatorId": "INF-02", "level": 0}]}, 422, "body.answers.1.level")
        await refused({"answers": [good, {"indicatorId": "INF-06", "level": 2}]}, 422, "answers[1].indicatorId")  # preschool indicator
        await refused({"answers": [{"indicatorId": "INF-04", "level": 2}]}, 422, "answers[0].indicatorId", who=city.rektor("fs"),
                      target=f"{city.url}/assessments/{fs['id']}/answers")  # BYOD is not asked of a preschool
        await refused({"answers": [good, {"indicatorId": "INF-01", "notRelevant": True}]}, 422, "answers[1].indicatorId")
        await refused({"answers": [{"indicatorId": "INF-02", "notRelevant": True}]}, 422, "answers[0].notRelevant")
        await refused({"answers": [{"indicatorId": "INF-02", "level": 2, "evidence": ["javascript:alert(1)"]}]}, 422, "answers[0].evidence[0]")
        # acting on another school: a Rektor of school B, a principal who is no Rektor per the duty data, a teacher
        await refused({"answers": [good]}, 403, "duty data", who=city.rektor("b"))
        await refused({"answers": [good]}, 403, "duty data", who=auth("principal", subject=str(uuid.uuid4()), school_units=(str(city.schools["gr"]),)))
        await refused({"answers": [good]}, 403, "principal", who=city.teacher())
        after = (await http.get(f"{city.url}/assessments/{gr['id']}", headers=rektor)).json()["answers"]
        assert after == before  # what was carried forward, untouched

        # past the deadline (moved into the past directly in the database: the API refuses such deadlines)
        conn = await asyncpg.connect(stack.admin_url)
        try:
            await conn.execute("UPDATE assessment.campaign SET deadline = $2 WHERE id = $1", uuid.UUID(campaign["id"]), date.today() - timedelta(days=2))
        finally:
            await conn.close()
        await refused({"answers": [good]}, 409, "deadline")
        late = await http.post(f"{city.url}/assessments/{gr['id']}/submit", headers=rektor)
        assert late.status_code == 409 and late.json()["field"] == "deadline"

        # campaigns: a past deadline, an unknown school, a school outside the admin's district, an unknown framework version
        base = {"name": "x", "year": THIS_YEAR, "deadline": DEADLINE, "schoolUnitIds": [str(city.schools["gr"])]}
        for change, status, field in (({"deadline": "2020-01-01"}, 422, "deadline"), ({"schoolUnitIds": [str(uuid.uuid4())]}, 422, "schoolUnitIds"),
                                      ({"schoolUnitIds": [str(city.schools["b"])]}, 403, "school unit"), ({"frameworkVersion": 99}, 422, "frameworkVersion")):
            r = await http.post(f"{city.url}/campaigns", json=base | change, headers=city.district_admin())
            assert r.status_code == status and field in (r.json().get("field") or r.json()["detail"]), r.text


async def test_action_plan_is_kept_and_followed_up_in_the_next_round(stack: Stack, city: City) -> None:
    assert city.log is not None
    async with httpx.AsyncClient(timeout=10) as http:
        school = city.schools["gr"]
        plan_url = f"{city.url}/school-units/{school}/actions"
        action = {"heading": "digital-kompetens", "indicatorId": "KOM-01", "title": "Kollegialt lärande varannan vecka",
                  "owner": "Förstelärare", "deadline": f"{THIS_YEAR + 1}-06-15", "successCriterion": "Alla lärare har deltagit fyra gånger"}
        wrong = await http.post(plan_url, json=action | {"indicatorId": "INF-01"}, headers=city.rektor("gr"))
        assert wrong.status_code == 422 and wrong.json()["field"] == "indicatorId"
        assert (await http.post(plan_url, json=action | {"heading": "nope"}, headers=city.rektor("gr"))).json()["field"] == "heading"
        assert (await http.post(plan_url, json=action, headers=city.teacher())).status_code == 403
        assert (await http.post(plan_url, json=action, headers=city.rektor("b"))).status_code == 403

        kept = (await http.post(plan_url, json=action, headers=city.rektor("gr"))).json()
        done = (await http.post(plan_url, json=action | {"title": "Wifi i idrottshallen", "heading": "infrastruktur", "indicatorId": "INF-01"},
                                headers=city.rektor("gr"))).json()
        created = await city.log.wait_for(ActionPlanChanged, lambda e: str(e.actionId) == kept["id"])
        assert created.change == "created" and created.status == "planned" and created.schoolUnitId == school

        finished = await http.patch(f"{city.url}/actions/{done['id']}", json={"status": "done", "note": "Klart i mars."}, headers=city.rektor("gr"))
        assert finished.status_code == 200 and finished.json()["status"] == "done" and finished.json()["notes"][0]["note"] == "Klart i mars."
        await city.log.wait_for(ActionPlanChanged, lambda e: str(e.actionId) == done["id"] and e.status == "done")
        assert (await http.patch(f"{city.url}/actions/{done['id']}", json={"status": "finished"}, headers=city.rektor("gr"))).status_code == 422
        assert (await http.patch(f"{city.url}/actions/{done['id']}", json={}, headers=city.rektor("gr"))).status_code == 422
        assert (await http.patch(f"{city.url}/actions/{done['id']}", json={"status": "planned"}, headers=city.district_admin())).status_code == 403

        plan = (await http.get(f"{city.url}/school-units/{school}/action-plan?status=open", headers=city.teacher())).json()["items"]
        assert [p["id"] for p in plan] == [kept["id"]]
        assert plan[0]["heading"] == {"code": "digital-kompetens", "label": "Förbättrad digital kompetens hos alla"}
        assert plan[0]["createdBy"] == {"id": str(city.rektors["gr"]), "name": "Rektor GR", "protected": False, "kind": "person"}
        assert finished.json()["notes"][0]["writtenBy"]["name"] == "Rektor GR"
        whole = (await http.get(f"{city.url}/school-units/{school}/action-plan?limit=1&lang=en", headers=city.teacher())).json()
        assert whole["total"] == 2 and len(whole["items"]) == 1 and whole["next"] and whole["schoolUnit"]["id"] == str(school)
        assert whole["items"][0]["heading"]["label"] == "Better digital competence for everyone"
        audit = (await http.get(f"{city.url}/actions/{done['id']}/audit", headers=city.rektor("gr"))).json()["items"]
        assert [x["action"] for x in audit] == ["action.created", "action.changed"]

        # the next round shows the open action for follow-up
        campaign = await open_campaign(http, city, ["gr"])
        shown = (await assessment_of(http, city, campaign, "gr"))["openActions"]
        assert [s["id"] for s in shown] == [kept["id"]]


ENDPOINTS = [
    # (method, path template, body, roles allowed past authorisation)
    ("GET", "/frameworks", None, {"teacher", "principal", "rektor", "district_admin", "city_admin", "guardian", "other_admin"}),
    ("GET", "/frameworks/1?lang=en", None, {"teacher", "principal", "rektor", "district_admin", "city_admin", "guardian", "other_admin"}),
    ("GET", "/campaigns/{campaign}", None, {"teacher", "principal", "rektor", "district_admin", "city_admin"}),
    ("GET", "/campaigns/{campaign}/assessments", None, {"teacher", "principal", "rektor", "district_admin", "city_admin"}),
    ("GET", "/assessments/{assessment}", None, {"teacher", "principal", "rektor", "district_admin", "city_admin"}),
    ("GET", "/campaigns/{campaign}/school-units/{school}/assessment", None, {"teacher", "principal", "rektor", "district_admin", "city_admin"}),
    ("GET", "/assessments/{assessment}/guidance", None, {"teacher", "principal", "rektor", "district_admin", "city_admin"}),
    ("GET", "/assessments/{assessment}/pulse", None, {"principal", "rektor", "district_admin", "city_admin"}),
    ("POST", "/assessments/{assessment}/pulse/invitations", {"group": "staff", "count": 1}, {"rektor"}),
    ("GET", "/assessments/{assessment}/audit", None, {"principal", "rektor", "district_admin", "city_admin"}),
    ("GET", "/school-units/{school}/assessments", None, {"teacher", "principal", "rektor", "district_admin", "city_admin"}),
    ("GET", "/school-units/{school}/action-plan", None, {"teacher", "principal", "rektor", "district_admin", "city_admin"}),
    ("GET", "/districts/{district}/assessments", None, {"district_admin", "city_admin"}),
    ("PUT", "/assessments/{assessment}/answers", {"answers": [{"indicatorId": "INF-01", "level": 2}]}, {"rektor"}),
    ("POST", "/assessments/{assessment}/submit", None, {"rektor"}),
    ("POST", "/school-units/{school}/actions", {"heading": "uppfoljning", "title": "Årshjul", "owner": "Rektor", "successCriterion": "Klart"}, {"rektor"}),
    ("POST", "/assessments/{assessment}/reopen", {"reason": "test"}, {"district_admin"}),
    ("POST", "/campaigns", "new-campaign", {"district_admin", "city_admin"}),
    ("POST", "/campaigns/{campaign}/close", None, {"district_admin", "city_admin"}),
]


async def test_every_endpoint_checks_authentication_and_role(stack: Stack, city: City) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        campaign = await open_campaign(http, city, ["fs"])
        a = await assessment_of(http, city, campaign, "fs")
        school = str(city.schools["fs"])
        callers = {
            "teacher": city.teacher("fs"),
            "principal": auth("principal", subject=str(uuid.uuid4()), school_units=(school,)),  # no Rektor duty
            "rektor": city.rektor("fs"),
            "district_admin": city.district_admin(),
            "city_admin": auth("city_admin"),
            "guardian": auth("guardian", school_units=(school,)),
            "other_admin": city.other_district_admin(),
        }
        values = {"campaign": campaign["id"], "assessment": a["id"], "school": school, "district": str(city.district)}
        [code] = await invitations(http, city, a, "fs", 1)  # before the matrix below closes the round
        new_campaign = {"name": "auth", "year": THIS_YEAR, "deadline": DEADLINE, "schoolUnitIds": [school]}
        for method, template, body, allowed in ENDPOINTS:
            path = template.format(**values)
            payload = new_campaign if body == "new-campaign" else body
            anonymous = await http.request(method, city.url + path, json=payload)
            assert anonymous.status_code == 401, (method, path, anonymous.status_code)
            assert anonymous.headers["www-authenticate"].startswith("Bearer")
            for name, headers in callers.items():
                r = await http.request(method, city.url + path, json=payload, headers=headers)
                if name in allowed:
                    assert r.status_code not in (401, 403), (method, path, name, r.status_code, r.text)
                else:
                    assert r.status_code == 403, (method, path, name, r.status_code, r.text)
                    assert r.headers["content-type"].startswith("application/problem+json")
        # the pulse needs no login, only an invitation code (its questionnaire stays readable once the round is closed)
        assert (await http.get(f"{city.url}/pulse/{code}")).status_code == 200
