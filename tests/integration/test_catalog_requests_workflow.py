"""A teacher's request and the programbank as one workflow, over HTTP and Kafka with the real services (issue 20).

Approving a request makes the app available to the requester's school by the rules of a direct approval (the
agreement, transfers, the DPIA, the status's grades, a licence), or is refused with a 409 naming every blocker in the
reader's language, and nothing changes: "approved" and "not available at the school" are never both true. A request
for a new app becomes a draft record under review, whose use no one can approve (an IT admin alone least of all)
before the data-protection function has recorded its data protection. The decision reaches the requester's inbox."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio

from shared.clock import city_today
from shared.events.catalog import AppPublished, AppRequestDecided, AppRequestProgressed, AppStatusChanged
from shared.events.city import DutyAssigned, OrganisationUpserted, PersonUpserted
from shared.topics import CATALOG
from tests.support.city import school_unit
from tests.support.kafka import EventLog, eventually, send, wire
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration
TODAY = city_today()
YEAR = {"starts": TODAY.isoformat(), "expires": (TODAY + timedelta(days=365)).isoformat()}


@dataclass
class World:
    url: str
    notification: str
    log: EventLog
    district: uuid.UUID = field(default_factory=uuid.uuid4)
    school: uuid.UUID = field(default_factory=uuid.uuid4)
    teacher_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def teacher(self) -> dict[str, str]:
        return auth("teacher", subject=str(self.teacher_id), school_units=(str(self.school),))

    def it_admin(self) -> dict[str, str]:
        return auth("it_admin", districts=(str(self.district),))

    dpo = staticmethod(lambda: auth("data_protection"))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(stack: Stack) -> AsyncIterator[World]:
    log = await EventLog(stack.bootstrap, CATALOG.name).start()
    w = World(url=stack.services["catalog"].url, notification=stack.services["notification"].url, log=log)
    await send(stack.bootstrap, [wire(e) for e in (
        OrganisationUpserted(id=w.district, displayName="Område Väster", organisationType="Verksamhetsområde"),
        school_unit(w.school, w.district, name="Västerskolan", types=("GR",)),
        PersonUpserted(id=w.teacher_id, givenName="Sara", familyName="Berg"),
        DutyAssigned(id=uuid.uuid4(), person=w.teacher_id, dutyAt=w.school, dutyRole="Lärare"),
    )])
    conn = await asyncpg.connect(stack.admin_url)
    try:
        async def replicated() -> bool:
            return bool(await conn.fetchval("SELECT count(*) FROM catalog.duty WHERE person = $1", w.teacher_id)) and bool(
                await conn.fetchval("SELECT count(*) FROM catalog.organisation WHERE id = $1", w.school))

        await eventually(replicated, what="the school and the teacher's duty in catalog")
    finally:
        await conn.close()
    yield w
    await log.stop()


def tag() -> str:
    return uuid.uuid4().hex[:8]


def app_body(name: str, status: str, **dp: Any) -> dict[str, Any]:
    protection = {"dataCategories": ["identity", "learning_activity"], "dpaStatus": "signed", "dpaSigned": "2024-08-01",
                  "dpaExpires": (TODAY + timedelta(days=400)).isoformat(), "processingCountries": ["SE"], **dp}
    return {"name": name, "supplier": "Nordlärande AB", "description": "Eleverna tränar matematik med korta spel.", "kind": "commercial",
            "costModel": "per_pupil", "freeUse": False, "subjects": ["MA"], "grades": ["4", "5", "6", "7", "8"], "schoolTypes": ["GR"],
            "platforms": ["web"], "languages": ["sv"], "headings": ["digitalt-innehall"], "status": status, "dataProtection": protection}


async def publish(http: httpx.AsyncClient, w: World, body: dict[str, Any]) -> dict[str, Any]:
    r = await http.post(f"{w.url}/apps", json=body, headers=auth("city_admin"))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def ask(http: httpx.AsyncClient, w: World, **body: Any) -> dict[str, Any]:
    r = await http.post(f"{w.url}/requests", json={"schoolUnitId": str(w.school), "purpose": "Färdighetsträning", **body}, headers=w.teacher())
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def available(http: httpx.AsyncClient, w: World, app_id: str) -> bool:
    """Whether the school may use the app, asked both ways the catalogue answers it."""
    one = (await http.get(f"{w.url}/apps/{app_id}", params={"schoolUnitId": str(w.school)}, headers=w.teacher())).json()
    listed = (await http.get(f"{w.url}/school-units/{w.school}/apps", params={"limit": 500}, headers=w.teacher())).json()
    in_list = app_id in {i["id"] for i in listed["items"]}
    assert one["availability"]["available"] == in_list
    return in_list


async def decision_in_inbox(http: httpx.AsyncClient, w: World, app_name: str) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        r = await http.get(f"{w.notification}/persons/{w.teacher_id}/messages", params={"limit": 200}, headers=w.teacher())
        return next((m for m in r.json()["items"] if m["type"] == "request-decided" and app_name in m["subject"] + m["body"]), None)

    return await eventually(found, timeout=60, what=f"the decision on {app_name} in the requester's inbox")  # type: ignore[no-any-return]


async def test_an_approval_that_would_leave_the_app_unavailable_is_refused_with_its_blockers(world: World) -> None:
    """The observed case: the DPO approved a request for an app that is not approved, with an expired agreement."""
    w = world
    async with httpx.AsyncClient(timeout=15) as http:
        app = await publish(http, w, app_body(f"Utgångna {tag()}", "not_approved", dpaSigned="2023-01-01",
                                              dpaExpires=(TODAY - timedelta(days=3)).isoformat()))
        req = await ask(http, w, appId=app["id"], grades=["5"])
        url = f"{w.url}/requests/{req['id']}/actions"
        refused = await http.post(url, json={"action": "approve"}, headers=w.dpo())
        assert refused.status_code == 409 and refused.headers["content-type"].startswith("application/problem+json"), refused.text
        problem = refused.json()
        assert [b["code"] for b in problem["blockers"]] == ["dpa_expired", "licence_needed"]
        expired_on = (TODAY - timedelta(days=3)).isoformat()
        assert f"Personuppgiftsbiträdesavtalet gick ut {expired_on}." in problem["detail"]  # Swedish by default
        english = await http.post(url, params={"lang": "en"}, json={"action": "approve"}, headers=w.dpo())
        assert english.status_code == 409 and f"The data processing agreement expired on {expired_on}." in english.json()["detail"]
        assert english.json()["blockers"][1]["text"].startswith("The school unit holds no valid licence")
        # nothing changed: the request is open, the app as it was and not available
        seen = (await http.get(f"{w.url}/requests/{req['id']}", headers=w.teacher())).json()
        assert seen["state"] == "submitted" and seen["decidedAt"] is None
        assert (await http.get(f"{w.url}/apps/{app['id']}", headers=w.dpo())).json()["status"]["code"] == "not_approved"
        assert not await available(http, w, app["id"])
        # a status the decision names that allows no use cannot make it available either
        not_use = await http.post(url, json={"action": "approve", "status": "not_approved", "licence": {"type": "school", **YEAR}}, headers=w.it_admin())
        assert not_use.status_code == 409 and "decision_status_disallows_use" in [b["code"] for b in not_use.json()["blockers"]]

        # the agreement renewed by the data-protection function; the licence only IT admins and city admins give
        renewed = {"dataCategories": ["identity", "learning_activity"], "dpaStatus": "signed", "dpaSigned": TODAY.isoformat(),
                   "dpaExpires": (TODAY + timedelta(days=730)).isoformat(), "processingCountries": ["SE"]}
        assert (await http.put(f"{w.url}/apps/{app['id']}/data-protection", json=renewed, headers=w.dpo())).status_code == 200
        dpo_licence = await http.post(url, json={"action": "approve", "licence": {"type": "school", **YEAR}}, headers=w.dpo())
        assert dpo_licence.status_code == 403
        later = {"type": "school", "starts": (TODAY + timedelta(days=30)).isoformat(), "expires": (TODAY + timedelta(days=400)).isoformat()}
        not_yet = await http.post(url, json={"action": "approve", "licence": later}, headers=w.it_admin())
        assert not_yet.status_code == 409 and [b["code"] for b in not_yet.json()["blockers"]] == ["licence_not_current"]
        assert not_yet.json()["field"] == "licence"
        bad_licence = await http.post(url, json={"action": "approve", "licence": {"type": "group", **YEAR}}, headers=w.it_admin())
        assert bad_licence.status_code == 422 and bad_licence.json()["field"] == "seats"
        assert not await available(http, w, app["id"])

        approved = await http.post(url, json={"action": "approve", "conditions": "Endast klasskonton", "licence": {"type": "school", **YEAR}},
                                   headers=w.it_admin())
        assert approved.status_code == 200 and approved.json()["state"] == "approved", approved.text
        assert await available(http, w, app["id"])  # approved and available, together
        assert (await http.get(f"{w.url}/apps/{app['id']}", headers=w.dpo())).json()["status"]["code"] == "approved"
        changed = await w.log.wait_for(AppStatusChanged, lambda e: str(e.id) == app["id"] and e.status == "approved")
        assert changed.previousStatus == "not_approved" and req["id"] in (changed.reason or "")
        licences = (await http.get(f"{w.url}/licences", params={"appId": app["id"]}, headers=w.it_admin())).json()["items"]
        assert [(lic["schoolUnit"]["id"], lic["type"]) for lic in licences] == [(str(w.school), "school")]
        decided = await w.log.wait_for(AppRequestDecided, lambda e: str(e.requestId) == req["id"])
        assert decided.decision == "approved" and decided.conditions == "Endast klasskonton"
        assert sum(1 for e in w.log.events if isinstance(e.data, AppRequestDecided) and str(e.data.requestId) == req["id"]) == 1
        message = await decision_in_inbox(http, w, app["name"])
        assert "godkänd" in message["subject"] + message["body"]


async def test_the_grades_asked_for_must_be_allowed_by_the_status(world: World) -> None:
    w = world
    async with httpx.AsyncClient(timeout=15) as http:
        app = await publish(http, w, app_body(f"Mellanstadiet {tag()}", "approved_4_6"))
        req = await ask(http, w, appId=app["id"], grades=["8"])
        url = f"{w.url}/requests/{req['id']}/actions"
        narrow = await http.post(url, json={"action": "approve", "licence": {"type": "school", **YEAR}}, headers=w.it_admin())
        assert narrow.status_code == 409 and narrow.json()["field"] == "status"
        assert [b["code"] for b in narrow.json()["blockers"]] == ["requested_grades_not_allowed"]
        unknown = await http.post(url, json={"action": "approve", "status": "godkand", "licence": {"type": "school", **YEAR}}, headers=w.it_admin())
        assert unknown.status_code == 422 and unknown.json()["field"] == "status"
        wider = await http.post(url, json={"action": "approve", "status": "approved", "licence": {"type": "school", **YEAR}}, headers=w.it_admin())
        assert wider.status_code == 200, wider.text
        assert await available(http, w, app["id"])
        # status and licence belong to an approval
        other = await ask(http, w, newApp={"name": f"Annan {tag()}", "supplier": "Annan AB"})
        misplaced = await http.post(f"{w.url}/requests/{other['id']}/actions", json={"action": "reject", "note": "Nej", "status": "approved"},
                                    headers=w.it_admin())
        assert misplaced.status_code == 422 and misplaced.json()["field"] == "status"


async def test_a_new_app_becomes_a_draft_whose_use_waits_for_the_data_protection_review(world: World) -> None:
    w = world
    async with httpx.AsyncClient(timeout=15) as http:
        name = f"Ordjakten {tag()}"
        req = await ask(http, w, newApp={"name": name, "supplier": "Ordlek AB", "url": "https://ordjakten.example"}, grades=["2", "3"])
        url = f"{w.url}/requests/{req['id']}/actions"
        bad = await http.post(url, json={"action": "acknowledge", "app": {"subjects": ["XX"]}}, headers=w.it_admin())
        assert bad.status_code == 422 and bad.json()["field"] == "app.subjects", bad.text
        acked = await http.post(url, json={"action": "acknowledge", "app": {"subjects": ["SV"]}}, headers=w.it_admin())
        assert acked.status_code == 200 and acked.json()["state"] == "acknowledged", acked.text
        draft_id = acked.json()["appId"]
        assert draft_id is not None
        draft = (await http.get(f"{w.url}/apps/{draft_id}", headers=w.it_admin())).json()
        assert draft["name"] == name and draft["supplier"] == "Ordlek AB" and [c["code"] for c in draft["subjects"]] == ["SV"]
        assert [c["code"] if isinstance(c, dict) else c for c in draft["grades"]] == ["2", "3"]
        assert draft["status"]["code"] == "under_review" and draft["status"]["allowsUse"] is False
        published = await w.log.wait_for(AppPublished, lambda e: str(e.id) == draft_id)
        assert published.allowsUse is False
        progressed = await w.log.wait_for(AppRequestProgressed, lambda e: str(e.requestId) == req["id"] and e.step == "acknowledged")
        assert str(progressed.appId) == draft_id

        # an IT admin alone cannot approve it into use: not through the request, not directly, not by recording the facts
        refused = await http.post(url, json={"action": "approve", "licence": {"type": "school", **YEAR}}, headers=w.it_admin())
        assert refused.status_code == 409 and refused.json()["blockers"][0]["code"] == "dp_not_reviewed", refused.text
        assert "Dataskyddsfunktionen har ännu inte granskat" in refused.json()["detail"]
        direct = await http.post(f"{w.url}/apps/{draft_id}/status", json={"status": "approved"}, headers=w.it_admin())
        assert direct.status_code == 409 and "not yet reviewed" in direct.json()["detail"]
        facts = {"dataCategories": ["identity"], "dpaStatus": "signed", "dpaSigned": TODAY.isoformat(),
                 "dpaExpires": (TODAY + timedelta(days=365)).isoformat(), "processingCountries": ["SE"]}
        assert (await http.put(f"{w.url}/apps/{draft_id}/data-protection", json=facts, headers=w.it_admin())).status_code == 403
        assert (await http.get(f"{w.url}/requests/{req['id']}", headers=w.teacher())).json()["state"] == "acknowledged"
        assert not await available(http, w, draft_id)

        # the data-protection function records the facts; then the approval goes through, licence and all
        assert (await http.put(f"{w.url}/apps/{draft_id}/data-protection", json=facts, headers=w.dpo())).status_code == 200
        approved = await http.post(url, json={"action": "approve", "licence": {"type": "school", **YEAR}}, headers=w.it_admin())
        assert approved.status_code == 200 and approved.json()["state"] == "approved", approved.text
        assert await available(http, w, draft_id)
        decided = await w.log.wait_for(AppRequestDecided, lambda e: str(e.requestId) == req["id"])
        assert decided.decision == "approved" and str(decided.appId) == draft_id
        await decision_in_inbox(http, w, name)


async def test_approving_a_new_app_at_once_makes_the_draft_and_refuses_its_use(world: World) -> None:
    """An IT admin approving a request for a new app with no catalogue record: the draft is made and the request
    acknowledged (both kept), the approval refused; no decision is announced."""
    w = world
    async with httpx.AsyncClient(timeout=15) as http:
        req = await ask(http, w, newApp={"name": f"Snabbquiz {tag()}"})
        refused = await http.post(f"{w.url}/requests/{req['id']}/actions", json={"action": "approve"}, headers=w.it_admin())
        assert refused.status_code == 409, refused.text
        assert [b["code"] for b in refused.json()["blockers"]] == ["dp_not_reviewed", "licence_needed"]
        seen = (await http.get(f"{w.url}/requests/{req['id']}", headers=w.teacher())).json()
        assert seen["state"] == "acknowledged" and seen["appId"] == refused.json()["appId"]
        assert [h["step"] for h in seen["history"]] == ["submitted", "acknowledge"]
        draft = (await http.get(f"{w.url}/apps/{seen['appId']}", headers=w.it_admin())).json()
        assert draft["supplier"] == "Okänd leverantör" and draft["status"]["allowsUse"] is False
        await w.log.wait_for(AppRequestProgressed, lambda e: str(e.requestId) == req["id"] and e.step == "acknowledged")
        assert not any(isinstance(e.data, AppRequestDecided) and str(e.data.requestId) == req["id"] for e in w.log.events)

        # an app published after the request was made: a draft would duplicate it, so the reviewer is told to link it
        name = f"Finns redan {tag()}"
        twin = await ask(http, w, newApp={"name": name, "supplier": "Nordlärande AB"})
        existing = await publish(http, w, app_body(name, "under_review"))
        dup = await http.post(f"{w.url}/requests/{twin['id']}/actions", json={"action": "acknowledge"}, headers=w.it_admin())
        assert dup.status_code == 409 and dup.json()["existingId"] == existing["id"] and dup.json()["field"] == "appId"
        r = await http.post(f"{w.url}/requests/{twin['id']}/actions", json={"action": "acknowledge", "appId": existing["id"]}, headers=w.it_admin())
        assert r.status_code == 200 and r.json()["appId"] == existing["id"], r.text
        # appId and app belong to a request for a new app that has no record yet
        again = await http.post(f"{w.url}/requests/{twin['id']}/actions", json={"action": "approve", "appId": existing["id"]}, headers=w.it_admin())
        assert again.status_code == 422 and again.json()["field"] == "appId"
