"""The programbank over HTTP with real PostgreSQL and broker: records and search, data protection
and the DPA lapse, licences per school, the request workflow, the guardian view, usage signals,
CSV import/export, bad input and authorisation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio

from shared.clock import city_today
from shared.events.catalog import (
    AppPublished,
    AppRequestDecided,
    AppRequestProgressed,
    AppRequestStalled,
    AppRequestSubmitted,
    AppStatusChanged,
    DpaExpired,
    LicenceExpiring,
)
from shared.events.city import AppLaunchesCounted, DutyAssigned, OrganisationUpserted, PersonUpserted
from shared.events.envelope import header_map
from shared.topics import CATALOG, CITY_USAGE
from tests.support.city import school_unit
from tests.support.kafka import EventLog, eventually, read_all, send, wire
from tests.support.sealing import opened as whom
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration
TODAY = city_today()


@dataclass
class Programbank:
    url: str
    log: EventLog
    district: uuid.UUID = field(default_factory=uuid.uuid4)
    other_district: uuid.UUID = field(default_factory=uuid.uuid4)
    schools: dict[str, uuid.UUID] = field(default_factory=dict)
    teacher_id: uuid.UUID = field(default_factory=uuid.uuid4)
    rektor_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def teacher(self) -> dict[str, str]:
        return auth("teacher", subject=str(self.teacher_id), school_units=(str(self.schools["gr"]),))

    def rektor(self) -> dict[str, str]:
        return auth("principal", subject=str(self.rektor_id), school_units=(str(self.schools["gr"]),))

    def it_admin(self) -> dict[str, str]:
        return auth("it_admin", districts=(str(self.district),))

    def other_it_admin(self) -> dict[str, str]:
        return auth("it_admin", districts=(str(self.other_district),))

    dpo = staticmethod(lambda: auth("data_protection"))
    city_admin = staticmethod(lambda: auth("city_admin"))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pb(stack: Stack) -> AsyncIterator[Programbank]:
    log = await EventLog(stack.bootstrap, CATALOG.name).start()
    p = Programbank(url=stack.services["catalog"].url, log=log)
    events: list[Any] = [
        OrganisationUpserted(id=p.district, displayName="Område Norr", organisationType="Verksamhetsområde"),
        OrganisationUpserted(id=p.other_district, displayName="Område Söder", organisationType="Verksamhetsområde"),
    ]
    for name, district, types in (("gr", p.district, ("FKLASS", "GR")), ("gy", p.district, ("GY",)), ("b", p.other_district, ("GR",))):
        p.schools[name] = uuid.uuid4()
        events.append(school_unit(p.schools[name], district, name=f"Skola {name}", types=types))
    events += [PersonUpserted(id=p.teacher_id, givenName="Anna", familyName="Lindqvist"), DutyAssigned(id=uuid.uuid4(), person=p.teacher_id, dutyAt=p.schools["gr"], dutyRole="Lärare"),
               PersonUpserted(id=p.rektor_id), DutyAssigned(id=uuid.uuid4(), person=p.rektor_id, dutyAt=p.schools["gr"], dutyRole="Rektor")]
    await send(stack.bootstrap, [wire(e) for e in events])
    conn = await asyncpg.connect(stack.admin_url)
    try:
        async def replicated() -> bool:
            units = await conn.fetchval("SELECT count(*) FROM catalog.organisation WHERE id = ANY($1::uuid[])", list(p.schools.values()))
            duties = await conn.fetchval("SELECT count(*) FROM catalog.duty WHERE person = ANY($1::uuid[])", [p.teacher_id, p.rektor_id])
            return units == 3 and duties == 2

        await eventually(replicated, what="school units and duties in catalog")
    finally:
        await conn.close()
    yield p
    await log.stop()


def app_body(name: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name, "supplier": "Nordlärande AB", "description": "Eleverna tränar matematiken med korta spel och får direkt återkoppling.",
        "url": "https://example.se/app", "kind": "commercial", "costModel": "per_pupil", "freeUse": False,
        "subjects": ["MA"], "grades": ["4", "5", "6"], "schoolTypes": ["GR"], "platforms": ["web", "ios"], "languages": ["sv"],
        "headings": ["digitalt-innehall"], "keywords": [],
        "dataProtection": {"dataCategories": ["identity", "learning_activity"], "dpaStatus": "signed", "dpaSigned": "2024-08-01",
                           "dpaExpires": (TODAY + timedelta(days=400)).isoformat(), "processingCountries": ["SE"]},
    }
    body.update(overrides)
    return body


def tag() -> str:
    return uuid.uuid4().hex[:8]


async def create(http: httpx.AsyncClient, pb: Programbank, body: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    if status:
        body = {**body, "status": status}
    r = await http.post(f"{pb.url}/apps", json=body, headers=pb.it_admin())
    assert r.status_code == 201, r.text
    return r.json()


async def run_job(http: httpx.AsyncClient, pb: Programbank, job: str, as_of: date) -> dict[str, int]:
    r = await http.post(f"{pb.url}/jobs/{job}/run", json={"asOf": as_of.isoformat()}, headers=pb.city_admin())
    assert r.status_code == 200, r.text
    return r.json()["result"]


async def search(http: httpx.AsyncClient, pb: Programbank, **params: Any) -> dict[str, Any]:
    r = await http.get(f"{pb.url}/apps", params=params, headers=pb.teacher())
    assert r.status_code == 200, r.text
    return r.json()


async def test_swedish_search_with_inflections_typos_and_facets(pb: Programbank) -> None:
    kw = f"sokprov{tag()}"
    async with httpx.AsyncClient(timeout=10) as http:
        geo = await create(http, pb, app_body(f"Geometrilabbet {kw}", keywords=[kw], subjects=["MA", "TK"], grades=["7", "8", "9"]), "approved")
        read = await create(http, pb, app_body(f"Läsfixaren {kw}", keywords=[kw], subjects=["SV", "SVA"], description="Stöd för läsförståelsen med talsyntes.",
                                               dataProtection={"dataCategories": []}))
        await create(http, pb, app_body(f"Kodkompis {kw}", keywords=[kw], subjects=["PRR", "TK"], description="Blockbaserad programmering för nybörjare.",
                                        kind="open", freeUse=True, costModel="free", dataProtection={"dataCategories": []}), "approved")
        published = await pb.log.wait_for(AppPublished, lambda e: str(e.id) == geo["id"])
        assert published.status == "approved" and published.allowsUse and published.dpaStatus == "signed"

        # the unique keyword isolates this test's apps; facets count all matches
        mine = await search(http, pb, q=kw)
        assert mine["total"] == 3
        assert {f["value"]: f["count"] for f in mine["facets"]["subject"]} == {"MA": 1, "TK": 2, "SV": 1, "SVA": 1, "PRR": 1}
        assert {f["value"]: f["count"] for f in mine["facets"]["status"]} == {"approved": 2, "under_review": 1}
        assert {f["value"]: f["count"] for f in mine["facets"]["dpaStatus"]} == {"signed": 1, "not_required": 2}
        # filters narrow the set and the facets with it
        tk = await search(http, pb, q=kw, subject="TK", status="approved")
        assert sorted(i["name"] for i in tk["items"]) == sorted([f"Geometrilabbet {kw}", f"Kodkompis {kw}"])
        assert {f["value"]: f["count"] for f in tk["facets"]["kind"]} == {"commercial": 1, "open": 1}
        first = await search(http, pb, q=kw, limit=2)
        assert first["total"] == 3 and first["limit"] == 2 and len(first["items"]) == 2 and first["next"] and first["facets"]
        paged = await search(http, pb, q=kw, limit=2, cursor=first["next"])
        assert paged["total"] == 3 and len(paged["items"]) == 1 and paged["facets"] is None and paged["next"] is None  # facets: first page
        assert {i["id"] for i in first["items"] + paged["items"]} == {geo["id"], read["id"]} | {i["id"] for i in mine["items"]}
        # a subject looks the same in a search result as in the app's record, in the reader's language
        hit = next(i for i in mine["items"] if i["id"] == geo["id"])
        assert hit["subjects"] == geo["subjects"] == [{"code": "MA", "label": "Matematik"}, {"code": "TK", "label": "Teknik"}]
        english = await search(http, pb, q=kw, lang="en")
        assert next(i for i in english["items"] if i["id"] == geo["id"])["subjects"][0] == {"code": "MA", "label": "Mathematics"}
        made_up = await http.get(f"{pb.url}/apps", params={"q": kw, "cursor": "not-ours"}, headers=pb.teacher())
        assert made_up.status_code == 422 and made_up.json()["field"] == "query.cursor"

        # Swedish stemming: "matematik" finds a description that says "matematiken"; "läsförståelse" finds "läsförståelsen"
        assert geo["id"] in [i["id"] for i in (await search(http, pb, q=f"matematik {kw}"))["items"]]
        inflected = await search(http, pb, q=f"läsförståelse {kw}")
        assert [i["id"] for i in inflected["items"]] == [read["id"]]
        assert "läsförståelse" not in inflected["corrections"]  # another inflection of a known word is no typo
        # a one-letter typo is corrected to a word the programbank has
        typo = await search(http, pb, q="geometrilabet")
        assert geo["id"] in [i["id"] for i in typo["items"]]
        assert "geometrilabbet" in typo["corrections"]["geometrilabet"]
        kod = await search(http, pb, q="programmerng nybörjare")
        assert f"Kodkompis {kw}" in [i["name"] for i in kod["items"]]
        # the name ranks above a description mention
        ranked = await search(http, pb, q=f"geometrilabbet {kw}")
        assert ranked["items"][0]["id"] == geo["id"]
        # nothing the user types reaches the query syntax: "!" negates nothing and "|" widens nothing, every word must match
        assert [i["id"] for i in (await search(http, pb, q=f"{kw} & ! geometrilabbet"))["items"]] == [geo["id"]]
        assert [i["id"] for i in (await search(http, pb, q=f"{kw} | läsfixaren"))["items"]] == [read["id"]]
        attack = await search(http, pb, q=f"'); DROP TABLE app; -- & | ! :* {kw}")
        assert attack["total"] == 0 and attack["items"] == []  # none of this test's apps says "drop" or "table"
        assert (await search(http, pb, q=kw))["total"] == 3  # and the table is still there, all three apps in it
        bad = await http.get(f"{pb.url}/apps", params={"subject": "XX"}, headers=pb.teacher())
        assert bad.status_code == 422 and bad.json()["field"] == "subject"


async def test_a_repeated_search_sees_every_change_at_once(pb: Programbank) -> None:
    """The search's answers are cached per replica (services/catalog/search_cache.py); a write anywhere must show."""
    kw = f"cacheprov{tag()}"
    async with httpx.AsyncClient(timeout=10) as http:
        await create(http, pb, app_body(f"Förstaappen {kw}", keywords=[kw]), "approved")
        first = await search(http, pb, q=kw)
        assert first["total"] == 1 and first == await search(http, pb, q=kw)  # the same question, the same answer
        second = await create(http, pb, app_body(f"Andraappen {kw}", keywords=[kw]), "approved")
        after_add = await search(http, pb, q=kw)
        assert after_add["total"] == 2 and second["id"] in [i["id"] for i in after_add["items"]]
        assert {f["value"]: f["count"] for f in after_add["facets"]["status"]} == {"approved": 2}


async def test_bad_input_is_refused_with_a_reason_and_nothing_partial(pb: Programbank) -> None:
    name = f"Dubblett {tag()}"
    async with httpx.AsyncClient(timeout=10) as http:
        first = await create(http, pb, app_body(name))
        dup = await http.post(f"{pb.url}/apps", json=app_body(name.upper() + " ", supplier="nordlärande  ab"), headers=pb.it_admin())
        assert dup.status_code == 409 and dup.json()["existingId"] == first["id"], dup.text
        assert dup.headers["content-type"].startswith("application/problem+json")
        for body, where in ((app_body("x1", subjects=["MA", "QQ"]), "subjects"), (app_body("x2", schoolTypes=["GRUND"]), "schoolTypes"),
                            (app_body("x3", headings=["ekonomi"]), "headings"),
                            (app_body("x4", dataProtection={"dataCategories": ["identity"], "dpaStatus": "signed", "dpaSigned": "2025-05-01", "dpaExpires": "2025-01-01"}), "dataProtection")):
            r = await http.post(f"{pb.url}/apps", json=body, headers=pb.it_admin())
            assert r.status_code == 422 and where in r.json()["detail"], (where, r.text)
        # an approval without a DPA is refused, with the reason
        no_dpa = await http.post(f"{pb.url}/apps", json={**app_body(f"Utan avtal {tag()}", dataProtection={"dataCategories": ["identity"], "dpaStatus": "missing"}),
                                                           "status": "approved"}, headers=pb.it_admin())
        assert no_dpa.status_code == 409 and "no signed data processing agreement" in no_dpa.json()["detail"]
        licence = await http.post(f"{pb.url}/licences", json={"appId": first["id"], "schoolUnitIds": [str(pb.schools["gr"])], "type": "school",
                                                               "starts": "2026-08-01", "expires": "2026-06-30"}, headers=pb.it_admin())
        assert licence.status_code == 422 and licence.json()["field"] == "expires"
        mixed = await http.post(f"{pb.url}/licences", json={"appId": first["id"], "schoolUnitIds": [str(pb.schools["gr"]), str(uuid.uuid4())],
                                                             "type": "school", "starts": "2026-08-01", "expires": "2027-06-30"}, headers=pb.it_admin())
        assert mixed.status_code == 422 and mixed.json()["field"] == "schoolUnitIds"
        assert (await http.get(f"{pb.url}/licences", params={"appId": first["id"]}, headers=pb.city_admin())).json()["items"] == []  # nothing partial
        unknown_school = await http.post(f"{pb.url}/requests", json={"schoolUnitId": str(uuid.uuid4()), "appId": first["id"], "purpose": "Träning"},
                                         headers=pb.teacher())
        assert unknown_school.status_code == 422 and unknown_school.json()["field"] == "schoolUnitId"
        stale = await http.patch(f"{pb.url}/apps/{first['id']}", json={"description": "Ny text", "expectedVersion": 99}, headers=pb.it_admin())
        assert stale.status_code == 409 and stale.json()["field"] == "expectedVersion"


async def test_dpa_expiry_lapses_the_approval_and_is_published(pb: Programbank) -> None:
    ends = TODAY + timedelta(days=3)
    async with httpx.AsyncClient(timeout=10) as http:
        app = await create(http, pb, app_body(f"Avtalsappen {tag()}", dataProtection={
            "dataCategories": ["identity", "learning_activity"], "dpaStatus": "signed", "dpaSigned": "2024-01-15", "dpaExpires": ends.isoformat(),
            "processingCountries": ["SE"], "subProcessors": [{"name": "Molnet AB", "country": "SE", "purpose": "Drift"}]}), "approved")
        untouched = await create(http, pb, app_body(f"Långt avtal {tag()}"), "approved")
        await run_job(http, pb, "dpa-expiry", ends)  # the last day of the agreement: still valid
        assert (await http.get(f"{pb.url}/apps/{app['id']}", headers=pb.teacher())).json()["status"]["code"] == "approved"

        result = await run_job(http, pb, "dpa-expiry", ends + timedelta(days=1))
        assert result["expired"] >= 1 and result["lapsed"] >= 1
        after = (await http.get(f"{pb.url}/apps/{app['id']}", headers=pb.teacher())).json()
        assert after["status"]["code"] == "dpa_lapsed" and not after["status"]["allowsUse"]
        assert after["dataProtection"]["dpaStatus"] == "expired" and after["dataProtection"]["privacy"] == "does_not_meet"
        assert (await http.get(f"{pb.url}/apps/{untouched['id']}", headers=pb.teacher())).json()["status"]["code"] == "approved"

        expired = await pb.log.wait_for(DpaExpired, lambda e: str(e.appId) == app["id"])
        assert expired.expiredOn == ends and expired.statusBefore == "approved" and expired.statusAfter == "dpa_lapsed"
        changed = await pb.log.wait_for(AppStatusChanged, lambda e: str(e.id) == app["id"])
        assert changed.automatic and changed.previousStatus == "approved" and changed.status == "dpa_lapsed" and not changed.allowsUse
        # running again changes nothing and publishes nothing more
        again = await run_job(http, pb, "dpa-expiry", ends + timedelta(days=1))
        assert again == {"expired": 0, "lapsed": 0}
        audit = (await http.get(f"{pb.url}/apps/{app['id']}/audit", headers=pb.dpo())).json()["items"]
        assert [a["action"] for a in audit] == ["app.published", "app.dpa-expired", "app.status-changed"]
        assert audit[-1]["detail"]["automatic"] is True and audit[-1]["actor"] == {"id": None, "name": "Skolit (programbankens regler)", "protected": False, "kind": "system"}
        # re-approval needs a renewed agreement, recorded by the data-protection function
        refused = await http.post(f"{pb.url}/apps/{app['id']}/status", json={"status": "approved"}, headers=pb.it_admin())
        assert refused.status_code == 409 and "expired" in refused.json()["detail"]
        renewed = {**after["dataProtection"], "dpaStatus": "signed", "dpaSigned": TODAY.isoformat(), "dpaExpires": (TODAY + timedelta(days=730)).isoformat()}
        renewed = {k: v for k, v in renewed.items() if k not in ("dpaStatusLabel", "privacy", "approvalBlockers")}
        renewed["dataCategories"] = [c["code"] for c in renewed["dataCategories"]]
        assert (await http.put(f"{pb.url}/apps/{app['id']}/data-protection", json=renewed, headers=pb.it_admin())).status_code == 403
        assert (await http.put(f"{pb.url}/apps/{app['id']}/data-protection", json=renewed, headers=pb.dpo())).status_code == 200
        ok = await http.post(f"{pb.url}/apps/{app['id']}/status", json={"status": "approved", "reason": "Nytt avtal"}, headers=pb.dpo())
        assert ok.status_code == 200 and ok.json()["status"]["code"] == "approved"


async def test_a_weakened_data_protection_lapses_at_once(pb: Programbank) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        app = await create(http, pb, app_body(f"Flyttappen {tag()}"), "approved")
        moved = {"dataCategories": ["identity"], "dpaStatus": "signed", "dpaSigned": "2024-08-01", "dpaExpires": (TODAY + timedelta(days=300)).isoformat(),
                 "processingCountries": ["US"]}
        r = await http.put(f"{pb.url}/apps/{app['id']}/data-protection", json=moved, headers=pb.dpo())
        assert r.status_code == 200
        body = r.json()
        assert body["status"]["code"] == "dpa_lapsed" and body["dataProtection"]["transferOutsideEea"] is True
        assert any("utanför EU/EES" in b for b in body["dataProtection"]["approvalBlockers"])  # Swedish by default
        english = (await http.get(f"{pb.url}/apps/{app['id']}", params={"lang": "en"}, headers=pb.teacher())).json()
        assert any("outside the EU/EEA" in b for b in english["dataProtection"]["approvalBlockers"])


async def test_licences_decide_where_an_app_is_available(pb: Programbank) -> None:
    gr, b = str(pb.schools["gr"]), str(pb.schools["b"])
    async with httpx.AsyncClient(timeout=10) as http:
        paid = await create(http, pb, app_body(f"Licensappen {tag()}"), "approved")
        free = await create(http, pb, app_body(f"Friappen {tag()}", freeUse=True, costModel="free", dataProtection={"dataCategories": []}), "approved")
        pilot_review = await create(http, pb, app_body(f"Granskas {tag()}", freeUse=True, dataProtection={"dataCategories": []}))
        # an IT admin licenses schools of their own district only
        body = {"appId": paid["id"], "schoolUnitIds": [b], "type": "group", "seats": 30, "groupName": "6B", "starts": "2026-01-01",
                "expires": (TODAY + timedelta(days=20)).isoformat()}
        assert (await http.post(f"{pb.url}/licences", json=body, headers=pb.it_admin())).status_code == 403
        assert (await http.post(f"{pb.url}/licences", json={**body, "schoolUnitIds": [gr], "seats": None}, headers=pb.it_admin())).status_code == 422
        made = await http.post(f"{pb.url}/licences", json={**body, "schoolUnitIds": [gr]}, headers=pb.it_admin())
        assert made.status_code == 201 and made.json()["items"][0]["active"] and made.json()["items"][0]["daysLeft"] == 20

        def ids(listing: dict[str, Any]) -> set[str]:
            return {i["id"] for i in listing["items"]}

        at_gr = (await http.get(f"{pb.url}/school-units/{gr}/apps", params={"limit": 500}, headers=pb.teacher())).json()
        at_b = (await http.get(f"{pb.url}/school-units/{b}/apps", params={"limit": 500}, headers=pb.teacher())).json()
        assert at_gr["schoolUnit"] == {"id": gr, "name": "Skola gr", "schoolUnitCode": at_gr["schoolUnit"]["schoolUnitCode"]}
        assert at_gr["total"] == len(at_gr["items"]) and at_gr["next"] is None
        why = {i["id"]: i["availableBecause"] for i in at_gr["items"]}
        assert why[paid["id"]] == {"code": "licence", "label": "Licens"} and why[free["id"]] == {"code": "free_use", "label": "Fri användning"}
        assert {paid["id"], free["id"]} <= ids(at_gr) and pilot_review["id"] not in ids(at_gr)
        assert free["id"] in ids(at_b) and paid["id"] not in ids(at_b)
        assert (await search(http, pb, q=paid["name"], schoolUnitId=b))["total"] == 0
        assert paid["id"] in ids(await search(http, pb, q=paid["name"], schoolUnitId=gr))
        detail = (await http.get(f"{pb.url}/apps/{paid['id']}", params={"schoolUnitId": b}, headers=pb.teacher())).json()
        assert detail["availability"] == {"schoolUnitId": b, "available": False, "reason": "no_licence",
                                          "because": "Skolenheten saknar giltig licens för appen."}
        in_english = (await http.get(f"{pb.url}/apps/{paid['id']}", params={"schoolUnitId": gr, "lang": "en"}, headers=pb.teacher())).json()
        assert in_english["availability"] == {"schoolUnitId": gr, "available": True, "reason": "licence", "because": "The school unit holds a valid licence."}
        # a GY school is not a school type the app is for, whatever the licence
        gy_detail = (await http.get(f"{pb.url}/apps/{free['id']}", params={"schoolUnitId": str(pb.schools["gy"])}, headers=pb.teacher())).json()
        assert gy_detail["availability"]["available"] is False

        # the licence ends within the notice period: one LicenceExpiring, however often the job runs
        first = await run_job(http, pb, "licence-notices", TODAY)
        assert first["notices"] >= 1
        notice = await pb.log.wait_for(LicenceExpiring, lambda e: str(e.appId) == paid["id"])
        assert str(notice.schoolUnitId) == gr and notice.daysLeft == 20 and notice.seats == 30
        assert (await run_job(http, pb, "licence-notices", TODAY)) == {"notices": 0}
        # ending the licence takes the app away from the school at once
        licence_id = made.json()["items"][0]["id"]
        assert (await http.delete(f"{pb.url}/licences/{licence_id}", headers=pb.other_it_admin())).status_code == 403
        assert (await http.delete(f"{pb.url}/licences/{licence_id}", headers=pb.it_admin())).status_code == 200
        assert paid["id"] not in ids((await http.get(f"{pb.url}/school-units/{gr}/apps", params={"limit": 500}, headers=pb.teacher())).json())


async def test_request_workflow_end_to_end(stack: Stack, pb: Programbank) -> None:
    gr = str(pb.schools["gr"])
    async with httpx.AsyncClient(timeout=10) as http:
        wanted = await create(http, pb, app_body(f"Önskeappen {tag()}"), "approved")
        ask = {"schoolUnitId": gr, "appId": wanted["id"], "purpose": "Färdighetsträning i matematik för åk 5", "grades": ["5"], "pupils": 50}
        # only staff the duty data places at the school may ask
        stranger = auth("teacher", subject=str(uuid.uuid4()), school_units=(gr,))
        assert (await http.post(f"{pb.url}/requests", json=ask, headers=stranger)).status_code == 403
        submitted = await http.post(f"{pb.url}/requests", json=ask, headers=pb.teacher())
        assert submitted.status_code == 201, submitted.text
        req = submitted.json()
        assert req["state"] == "submitted" and req["requesterDuty"] == "Lärare"
        # people by name (the city's person data), school units as one shape
        assert req["requester"] == {"id": str(pb.teacher_id), "name": "Anna Lindqvist", "protected": False, "kind": "person"}
        assert req["schoolUnit"]["id"] == gr and req["schoolUnit"]["name"] == "Skola gr"
        assert req["history"][0]["actor"] == req["requester"]
        event = await pb.log.wait_for(AppRequestSubmitted, lambda e: str(e.requestId) == req["id"])
        assert str(event.schoolUnitId) == gr and str(event.districtId) == str(pb.district) and not event.newApp
        assert await whom(stack.admin_url, event.requester) == pb.teacher_id  # sealed
        again = await http.post(f"{pb.url}/requests", json=ask, headers=pb.rektor())
        assert again.status_code == 409 and again.json()["existingId"] == req["id"]

        url = f"{pb.url}/requests/{req['id']}/actions"
        assert (await http.post(url, json={"action": "acknowledge"}, headers=pb.other_it_admin())).status_code == 403
        assert (await http.post(url, json={"action": "acknowledge"}, headers=pb.teacher())).status_code == 403
        assert (await http.post(url, json={"action": "acknowledge"}, headers=pb.it_admin())).json()["state"] == "acknowledged"
        missing_note = await http.post(url, json={"action": "ask_info"}, headers=pb.dpo())
        assert missing_note.status_code == 422 and missing_note.json()["field"] == "note"
        asked = await http.post(url, json={"action": "ask_info", "note": "Vilka elevkonton behövs?"}, headers=pb.dpo())
        assert asked.json()["state"] == "needs_info"
        info = await pb.log.wait_for(AppRequestProgressed, lambda e: str(e.requestId) == req["id"] and e.step == "info_requested")
        assert info.note == "Vilka elevkonton behövs?" and await whom(stack.admin_url, info.requester) == pb.teacher_id
        assert (await http.post(url, json={"action": "provide_info", "note": "Klasskonton"}, headers=pb.it_admin())).status_code == 403
        assert (await http.post(url, json={"action": "provide_info", "note": "Klasskonton räcker"}, headers=pb.teacher())).json()["state"] == "acknowledged"
        # the app is approved but not free to use: an approval without a licence for the school would change nothing, so it is refused
        unlicensed = await http.post(url, json={"action": "approve", "conditions": "Endast pseudonyma konton"}, headers=pb.it_admin())
        assert unlicensed.status_code == 409 and unlicensed.json()["field"] == "licence", unlicensed.text
        assert [b["code"] for b in unlicensed.json()["blockers"]] == ["licence_needed"]
        licence = {"type": "school", "starts": TODAY.isoformat(), "expires": (TODAY + timedelta(days=365)).isoformat()}
        approved = await http.post(url, json={"action": "approve", "conditions": "Endast pseudonyma konton", "licence": licence}, headers=pb.it_admin())
        assert approved.json()["state"] == "approved" and approved.json()["conditions"] == "Endast pseudonyma konton", approved.text
        usable = (await http.get(f"{pb.url}/school-units/{gr}/apps", params={"limit": 500}, headers=pb.teacher())).json()
        assert wanted["id"] in {i["id"] for i in usable["items"]}  # approved means available at the school
        decided = await pb.log.wait_for(AppRequestDecided, lambda e: str(e.requestId) == req["id"])
        assert decided.decision == "approved" and decided.conditions == "Endast pseudonyma konton" and await whom(stack.admin_url, decided.requester) == pb.teacher_id
        closed = await http.post(url, json={"action": "reject", "note": "för sent"}, headers=pb.it_admin())
        assert closed.status_code == 409
        seen = (await http.get(f"{pb.url}/requests/{req['id']}", headers=pb.teacher())).json()
        assert [h["step"] for h in seen["history"]] == ["submitted", "acknowledge", "ask_info", "provide_info", "approve"]
        assert seen["decidedBy"] == {"id": None, "name": "tester", "protected": False, "kind": "system"}  # a development token's subject is no person id

        # a new app, rejected with a reason; the reason reaches the requester through the event
        new = await http.post(f"{pb.url}/requests", json={"schoolUnitId": gr, "newApp": {"name": f"Okänd app {tag()}", "supplier": "Okänd AB"},
                                                          "purpose": "Quiz"}, headers=pb.teacher())
        assert new.status_code == 201
        no_reason = await http.post(f"{pb.url}/requests/{new.json()['id']}/actions", json={"action": "reject"}, headers=pb.dpo())
        assert no_reason.status_code == 422
        await http.post(f"{pb.url}/requests/{new.json()['id']}/actions", json={"action": "reject", "note": "Data lagras i USA utan skyddsåtgärder"}, headers=pb.dpo())
        rejected = await pb.log.wait_for(AppRequestDecided, lambda e: str(e.requestId) == new.json()["id"])
        assert rejected.decision == "rejected" and rejected.reason == "Data lagras i USA utan skyddsåtgärder" and rejected.appId is None

        # who sees what: the requester, the school's principal and the reviewers; not another district's IT admin
        assert (await http.get(f"{pb.url}/requests/{req['id']}", headers=pb.rektor())).status_code == 200
        assert (await http.get(f"{pb.url}/requests/{req['id']}", headers=pb.other_it_admin())).status_code == 403
        mine = (await http.get(f"{pb.url}/requests", headers=pb.teacher())).json()["items"]
        assert {req["id"], new.json()["id"]} <= {m["id"] for m in mine}
        # one page at a time, following `next`: the same requests, each once, and `total` counts them all
        listed = (await http.get(f"{pb.url}/requests", params={"limit": 500}, headers=pb.teacher())).json()
        walked, cursor = [], None
        while True:
            one = (await http.get(f"{pb.url}/requests", params={"limit": 1, **({"cursor": cursor} if cursor else {})}, headers=pb.teacher())).json()
            walked += [i["id"] for i in one["items"]]
            assert one["total"] == listed["total"] and one["limit"] == 1
            if not (cursor := one["next"]):
                break
        assert walked == [i["id"] for i in listed["items"]] and len(walked) == listed["total"]
        assert (await http.get(f"{pb.url}/requests", params={"state": "approved", "limit": 500}, headers=pb.teacher())).json()["items"] == [
            i for i in listed["items"] if i["state"] == "approved"]


async def test_a_stalled_review_reminds_the_reviewers_once_per_period(pb: Programbank) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        app = await create(http, pb, app_body(f"Väntappen {tag()}"))
        r = await http.post(f"{pb.url}/requests", json={"schoolUnitId": str(pb.schools["gr"]), "appId": app["id"], "purpose": "Prov"}, headers=pb.teacher())
        req = r.json()
        await run_job(http, pb, "review-reminders", TODAY + timedelta(days=6))
        stalled = await pb.log.wait_for(AppRequestStalled, lambda e: str(e.requestId) == req["id"])
        assert stalled.state == "submitted" and stalled.daysWaiting >= 5
        await run_job(http, pb, "review-reminders", TODAY + timedelta(days=7))
        await run_job(http, pb, "review-reminders", TODAY + timedelta(days=12))
        await eventually(lambda: _count(pb, AppRequestStalled, req["id"], 2), what="a second reminder after another period")
        assert _count_now(pb, AppRequestStalled, req["id"]) == 2


def _count_now(pb: Programbank, event_type: type, request_id: str) -> int:
    return sum(1 for e in pb.log.events if isinstance(e.data, event_type) and str(e.data.requestId) == request_id)


async def _count(pb: Programbank, event_type: type, request_id: str, n: int) -> bool:
    return _count_now(pb, event_type, request_id) >= n


async def test_guardians_see_approved_apps_and_the_data_they_receive(pb: Programbank) -> None:
    gr = str(pb.schools["gr"])
    async with httpx.AsyncClient(timeout=10) as http:
        shown = await create(http, pb, app_body(f"Synlig {tag()}", freeUse=True, dataProtection={
            "dataCategories": ["identity", "learning_activity"], "dpaStatus": "signed", "dpaSigned": "2025-01-01",
            "dpaExpires": (TODAY + timedelta(days=500)).isoformat(), "processingCountries": ["SE", "US"], "transferSafeguard": "dpf",
            "subProcessors": [{"name": "Cloud Inc", "country": "US", "purpose": "Lagring"}], "minAge": 13}), "approved")
        hidden = await create(http, pb, app_body(f"Dold {tag()}", freeUse=True))  # under review
        r = await http.get(f"{pb.url}/public/school-units/{gr}/apps")  # no login
        assert r.status_code == 200
        items = {i["name"]: i for i in r.json()["items"]}
        assert hidden["name"] not in items
        entry = items[shown["name"]]
        assert [d["label"] for d in entry["personalData"]] == ["Namn och användar-id", "Aktivitet och resultat i tjänsten"]
        assert entry["processedIn"] == [{"country": "SE", "insideEuEea": True}, {"country": "US", "insideEuEea": False}]
        assert entry["transferOutsideEuEea"] and entry["transferSafeguard"] == "EU-US Data Privacy Framework" and entry["minimumAge"] == 13
        assert entry["dataProcessingAgreement"] is True
        english = (await http.get(f"{pb.url}/public/school-units/{gr}/apps", params={"lang": "en"})).json()
        assert {i["name"]: i for i in english["items"]}[shown["name"]]["personalData"][0]["label"] == "Name and user id"
        assert "createdBy" not in entry and "updatedBy" not in entry  # staff ids stay internal
        assert (await http.get(f"{pb.url}/public/school-units/{uuid.uuid4()}/apps")).status_code == 404


async def test_usage_signals_become_adoption_counts(stack: Stack, pb: Programbank) -> None:
    gr, gy = pb.schools["gr"], pb.schools["gy"]
    async with httpx.AsyncClient(timeout=10) as http:
        app = await create(http, pb, app_body(f"Användappen {tag()}", schoolTypes=["GR", "GY"], grades=["7", "8", "9", "GY1"]), "approved")
        start, end = TODAY - timedelta(days=30), TODAY - timedelta(days=1)
        counted = [AppLaunchesCounted(appId=app["id"], schoolUnitId=gr, periodStart=start, periodEnd=end, launches=120, activeUsers=40),
                   AppLaunchesCounted(appId=app["id"], schoolUnitId=gy, periodStart=start, periodEnd=end, launches=30)]
        unknown_app = AppLaunchesCounted(appId=uuid.uuid4(), schoolUnitId=gr, periodStart=start, periodEnd=end, launches=5)
        await send(stack.bootstrap, [wire(e) for e in counted] + [wire(unknown_app)])
        # a re-count of the same period replaces the figure (not added), and a redelivery changes nothing
        recount = wire(AppLaunchesCounted(appId=app["id"], schoolUnitId=gr, periodStart=start, periodEnd=end, launches=150, activeUsers=41))
        await send(stack.bootstrap, [recount, recount])

        async def usage() -> dict[str, Any] | None:
            body = (await http.get(f"{pb.url}/apps/{app['id']}/usage", headers=pb.teacher())).json()
            per = {i["schoolUnit"]["id"]: i["launches"] for i in body["items"]}
            return body if per == {str(gr): 150, str(gy): 30} else None

        body = await eventually(usage, what="launch counts per school unit")
        assert body["schoolUnits"] == 2
        overview = (await http.get(f"{pb.url}/usage", headers=pb.it_admin())).json()["items"]
        mine = next(i for i in overview if i["appId"] == app["id"])
        assert mine["launches"] == 180 and mine["schoolUnits"] == 2 and mine["schoolsWithoutLicence"] == 2
        letters = await read_all(stack.bootstrap, CITY_USAGE.dlq, expect=1, timeout=20)
        reasons = [header_map(r.headers)["dlq_reason"] for r in letters if header_map(r.headers).get("dlq_consumer_group") == "skolit-catalog"]
        assert any(str(unknown_app.appId) in reason and "not in the programbank" in reason for reason in reasons), reasons


CSV_HEADER = "name;supplier;description;subjects;grades;schoolTypes;platforms;languages;headings;status;dataCategories;dpaStatus;dpaSigned;dpaExpires;processingCountries;freeUse\n"


async def test_csv_import_is_all_or_nothing_and_export_round_trips(pb: Programbank) -> None:
    t = tag()
    good = [f"Importappen A {t};Leverantör A;Läsning för alla;SV;1;GR;web;sv;digitalt-innehall;approved;;;;;;ja",
            f"Importappen B {t};Leverantör B;Matematik på nätet;MA;4;GR;web;sv;digitalt-innehall;under_review;identity;missing;;;SE;nej"]
    bad = f"Importappen C {t};Leverantör C;Fel ämne;ZZ;4;GR;web;sv;digitalt-innehall;under_review;;;;;;nej"
    async with httpx.AsyncClient(timeout=30) as http:
        headers = {**pb.it_admin(), "Content-Type": "text/csv"}
        r = await http.post(f"{pb.url}/apps/import", content=CSV_HEADER + "\n".join([*good, bad]) + "\n", headers=headers)
        assert r.status_code == 422, r.text
        report = r.json()
        assert report["accepted"] == 2 and report["rejected"] == 1
        assert report["rejectedRows"][0]["line"] == 4 and "ZZ" in report["rejectedRows"][0]["errors"][0]["message"]
        assert (await search(http, pb, q=t))["total"] == 0  # nothing half-imported
        dry = await http.post(f"{pb.url}/apps/import?dryRun=true", content=CSV_HEADER + "\n".join(good), headers=headers)
        assert dry.status_code == 200 and dry.json()["imported"] == 0
        done = await http.post(f"{pb.url}/apps/import", content=CSV_HEADER + "\n".join(good), headers=headers)
        assert done.status_code == 201 and done.json()["imported"] == 2
        assert (await search(http, pb, q=t))["total"] == 2

        exported = await http.get(f"{pb.url}/apps/export", params={"format": "csv"}, headers=pb.teacher())
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        assert exported.content.startswith(b"\xef\xbb\xbf")  # a byte-order mark: Swedish Excel reads å, ä, ö right
        negotiated = await http.get(f"{pb.url}/apps/export", headers={**pb.teacher(), "Accept": "application/json"})
        assert negotiated.headers["content-type"].startswith("application/json") and "items" in negotiated.json()
        assert (await http.get(f"{pb.url}/apps/export", headers={**pb.teacher(), "Accept": "text/csv"})).headers["content-type"].startswith("text/csv")
        lines = [line for line in exported.text.splitlines() if t in line]
        assert len(lines) == 2
        # the export imports again: each of its rows is now a duplicate, and says so
        header = exported.text.splitlines()[0]
        again = await http.post(f"{pb.url}/apps/import", content=header + "\n" + "\n".join(lines), headers=headers)
        assert again.status_code == 422 and all("already in the programbank" in row["errors"][0]["message"] for row in again.json()["rejectedRows"])
        assert [row["line"] for row in again.json()["rejectedRows"]] == [2, 3]  # both rows, so the check above covered each of them
        as_json = (await http.get(f"{pb.url}/apps/export", params={"format": "json"}, headers=pb.teacher())).json()["items"]
        assert {i["name"] for i in as_json} >= {f"Importappen A {t}", f"Importappen B {t}"}
        assert (await http.post(f"{pb.url}/apps/import", content="name\nx", headers=headers)).status_code == 422
        assert (await http.post(f"{pb.url}/apps/import", content=CSV_HEADER, headers={**pb.it_admin(), "Content-Type": "application/json"})).status_code == 415


ENDPOINTS = [
    # (method, path template, body, roles allowed past authorisation)
    ("GET", "/apps?q=matematik", None, {"teacher", "principal", "it_admin", "dpo", "city_admin", "district_admin"}),
    ("GET", "/apps/{app}", None, {"teacher", "principal", "it_admin", "dpo", "city_admin", "district_admin"}),
    ("POST", "/apps", "new-app", {"it_admin", "city_admin"}),
    ("PATCH", "/apps/{app}", {"accessibility": "Talsyntes"}, {"it_admin", "city_admin"}),
    ("PUT", "/apps/{app}/data-protection", {"dataCategories": []}, {"dpo", "city_admin"}),
    ("POST", "/apps/{app}/status", {"status": "pilot"}, {"it_admin", "dpo", "city_admin"}),
    ("GET", "/apps/{app}/audit", None, {"it_admin", "dpo", "city_admin"}),
    ("GET", "/apps/{app}/usage", None, {"teacher", "principal", "it_admin", "dpo", "city_admin", "district_admin"}),
    ("GET", "/apps/export?format=json", None, {"teacher", "principal", "it_admin", "dpo", "city_admin", "district_admin"}),
    ("POST", "/apps/import?dryRun=true", "csv", {"it_admin", "city_admin"}),
    ("GET", "/statuses", None, {"teacher", "principal", "it_admin", "dpo", "city_admin", "district_admin"}),
    ("POST", "/statuses", "new-status", {"city_admin"}),
    ("GET", "/school-units/{school}/apps", None, {"teacher", "principal", "it_admin", "dpo", "city_admin", "district_admin"}),
    ("POST", "/licences", "new-licence", {"it_admin", "city_admin"}),
    ("GET", "/licences", None, {"teacher", "principal", "it_admin", "dpo", "city_admin", "district_admin"}),
    ("POST", "/requests", "new-request", {"teacher", "principal"}),
    ("GET", "/requests/{request}", None, {"teacher", "principal", "it_admin", "dpo", "city_admin", "district_admin"}),
    ("POST", "/requests/{request}/actions", {"action": "acknowledge"}, {"it_admin", "dpo", "city_admin"}),
    ("DELETE", "/licences/{licence}", None, {"it_admin", "city_admin"}),
    ("GET", "/requests", None, {"teacher", "principal", "it_admin", "dpo", "city_admin", "district_admin"}),
    ("GET", "/usage", None, {"teacher", "principal", "it_admin", "dpo", "city_admin", "district_admin"}),
    ("GET", "/jobs", None, {"city_admin"}),
    ("POST", "/jobs/licence-notices/run", {}, {"city_admin"}),
]


async def test_every_endpoint_checks_authentication_and_role(pb: Programbank) -> None:
    gr = str(pb.schools["gr"])
    async with httpx.AsyncClient(timeout=10) as http:
        app = await create(http, pb, app_body(f"Behörighet {tag()}", dataProtection={"dataCategories": []}))
        callers = {
            "teacher": pb.teacher(), "principal": pb.rektor(), "it_admin": pb.it_admin(), "dpo": pb.dpo(), "city_admin": pb.city_admin(),
            "district_admin": auth("district_admin", districts=(str(pb.district),)), "guardian": auth("guardian", school_units=(gr,)),
        }
        asked = await http.post(f"{pb.url}/requests", json={"schoolUnitId": gr, "newApp": {"name": f"Matris {tag()}"}, "purpose": "Test"},
                                headers=pb.teacher())
        licence = await http.post(f"{pb.url}/licences", json={"appId": app["id"], "schoolUnitIds": [gr], "type": "school",
                                                               "starts": "2026-01-01", "expires": "2027-01-01"}, headers=pb.city_admin())
        values = {"app": app["id"], "school": gr, "request": asked.json()["id"], "licence": licence.json()["items"][0]["id"]}
        for method, template, body, allowed in ENDPOINTS:
            path = template.format(**values)
            for name, headers in [("anonymous", {}), *callers.items()]:
                payload: Any = body
                if body == "new-app":
                    payload = app_body(f"Auth {name} {tag()}")
                elif body == "new-status":
                    payload = {"code": f"s_{tag()}", "labelSv": "Test", "labelEn": "Test", "allowsUse": False}
                elif body == "new-licence":
                    payload = {"appId": app["id"], "schoolUnitIds": [gr], "type": "school", "starts": "2026-01-01", "expires": "2027-01-01"}
                elif body == "new-request":
                    payload = {"schoolUnitId": gr, "newApp": {"name": f"Önskan {name} {tag()}"}, "purpose": "Test"}
                if body == "csv":
                    r = await http.request(method, pb.url + path, content=CSV_HEADER + f"App {tag()};L;D;MA;4;GR;web;sv;uppfoljning;under_review;;;;;;nej",
                                           headers={**headers, "Content-Type": "text/csv"})
                else:
                    r = await http.request(method, pb.url + path, json=payload, headers=headers)
                if name == "anonymous":
                    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer"), (method, path, r.status_code)
                elif name in allowed:
                    assert r.status_code not in (401, 403), (method, path, name, r.status_code, r.text)
                else:
                    assert r.status_code == 403, (method, path, name, r.status_code, r.text)
                    assert r.headers["content-type"].startswith("application/problem+json")
        # public: no login needed
        assert (await http.get(f"{pb.url}/public/school-units/{gr}/apps")).status_code == 200
        assert (await http.get(f"{pb.url}/vocabulary")).status_code == 200
