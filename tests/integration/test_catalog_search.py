"""Search that helps a teacher, over HTTP with the real catalog, PostgreSQL and broker: the apps the searcher's school
may use come first and every hit says whether it may (issue 20); words typed without å, ä, ö find the words with them;
a word that matches something (a product's name) is searched as typed, a misspelt one is offered as "did you mean";
and the data-protection record and the usage dates refuse implausible input with a 422 naming the field."""

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
from shared.events.city import OrganisationUpserted
from tests.support.city import school_unit
from tests.support.kafka import eventually, send, wire
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration
TODAY = city_today()


@dataclass
class World:
    url: str
    district: uuid.UUID = field(default_factory=uuid.uuid4)
    gr: uuid.UUID = field(default_factory=uuid.uuid4)
    other: uuid.UUID = field(default_factory=uuid.uuid4)

    def teacher(self, *schools: uuid.UUID) -> dict[str, str]:
        return auth("teacher", school_units=tuple(str(s) for s in (schools or (self.gr,))))

    def it_admin(self) -> dict[str, str]:
        return auth("it_admin", districts=(str(self.district),))

    dpo = staticmethod(lambda: auth("data_protection"))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(stack: Stack) -> AsyncIterator[World]:
    w = World(url=stack.services["catalog"].url)
    await send(stack.bootstrap, [wire(e) for e in (
        OrganisationUpserted(id=w.district, displayName="Område Väster", organisationType="Verksamhetsområde"),
        school_unit(w.gr, w.district, name="Sökskolan", types=("GR",)),
        school_unit(w.other, w.district, name="Grannskolan", types=("GR",)),
    )])
    conn = await asyncpg.connect(stack.admin_url)
    try:
        async def replicated() -> bool:
            return await conn.fetchval("SELECT count(*) FROM catalog.organisation WHERE id = ANY($1::uuid[])", [w.gr, w.other]) == 2

        await eventually(replicated, what="school units in catalog")
    finally:
        await conn.close()
    yield w


def tag() -> str:
    return uuid.uuid4().hex[:8]


def app_body(name: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name, "supplier": "Nordlärande AB", "description": "Eleverna tränar med korta spel och får direkt återkoppling.",
        "kind": "commercial", "costModel": "per_pupil", "freeUse": False, "subjects": ["MA"], "grades": ["4", "5", "6"],
        "schoolTypes": ["GR"], "platforms": ["web"], "languages": ["sv"], "headings": ["digitalt-innehall"],
        "dataProtection": {"dataCategories": ["identity"], "dpaStatus": "signed", "dpaSigned": "2024-08-01",
                           "dpaExpires": (TODAY + timedelta(days=400)).isoformat(), "processingCountries": ["SE"]},
    }
    return {**body, **overrides}


async def create(http: httpx.AsyncClient, w: World, body: dict[str, Any], status: str) -> dict[str, Any]:
    r = await http.post(f"{w.url}/apps", json={**body, "status": status}, headers=w.it_admin())
    assert r.status_code == 201, r.text
    return r.json()


async def license(http: httpx.AsyncClient, w: World, app_id: str, school: uuid.UUID) -> None:
    body = {"appId": app_id, "schoolUnitIds": [str(school)], "type": "school", "starts": (TODAY - timedelta(days=10)).isoformat(),
            "expires": (TODAY + timedelta(days=300)).isoformat()}
    r = await http.post(f"{w.url}/licences", json=body, headers=w.it_admin())
    assert r.status_code == 201, r.text


async def search(http: httpx.AsyncClient, w: World, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await http.get(f"{w.url}/apps", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def ids(answer: dict[str, Any]) -> list[str]:
    return [i["id"] for i in answer["items"]]


async def test_the_apps_a_teachers_school_may_use_come_first_and_the_rest_are_marked(world: World) -> None:
    kw = f"rangprov{tag()}"
    async with httpx.AsyncClient(timeout=15) as http:
        # the best match by words: "matematik" in the name, but not approved and its agreement expired years ago
        stale = await create(http, world, app_body(f"Matematik Matematik {kw}", keywords=[kw], description="Matematik för alla.",
                                                   dataProtection={"dataCategories": ["identity"], "dpaStatus": "expired",
                                                                   "dpaSigned": "2019-01-01", "dpaExpires": "2022-01-01"}), "not_approved")
        free = await create(http, world, app_body(f"Friräknaren {kw}", keywords=[kw], description="Övningar i matematik.", freeUse=True,
                                                  costModel="free", kind="open", dataProtection={"dataCategories": []}), "approved")
        licensed = await create(http, world, app_body(f"Licensräknaren {kw}", keywords=[kw], description="Matematik i vardagen."), "approved")
        unlicensed = await create(http, world, app_body(f"Grannräknaren {kw}", keywords=[kw], description="Matematik, om och om igen."), "approved")
        await license(http, world, licensed["id"], world.gr)
        await license(http, world, unlicensed["id"], world.other)

        # an IT admin searches for no school: relevance alone, and nothing is marked
        plain = await search(http, world, world.it_admin(), q=f"matematik {kw}")
        assert plain["total"] == 4 and ids(plain)[0] == stale["id"]
        assert plain["schoolUnit"] is None and plain["usableTotal"] is None
        assert all(i["usableHere"] is None and i["availability"] is None for i in plain["items"])

        # a teacher of one school: what that school may use first (by relevance among them), then the rest, each marked why
        mine = await search(http, world, world.teacher(), q=f"matematik {kw}")
        assert mine["total"] == 4 and mine["usableTotal"] == 2
        assert mine["schoolUnit"]["id"] == str(world.gr) and mine["schoolUnit"]["name"] == "Sökskolan"
        assert set(ids(mine)[:2]) == {free["id"], licensed["id"]} and set(ids(mine)[2:]) == {stale["id"], unlicensed["id"]}
        assert [i["usableHere"] for i in mine["items"]] == [True, True, False, False]
        why = {i["id"]: i["availability"] for i in mine["items"]}
        assert why[free["id"]]["reason"] == "free_use" and why[licensed["id"]]["reason"] == "licence"
        assert why[stale["id"]] == {"schoolUnitId": str(world.gr), "available": False, "reason": "status_disallows_use",
                                    "because": "Appens status, Ej godkänd, tillåter inte användning."}
        assert why[unlicensed["id"]]["reason"] == "no_licence" and why[unlicensed["id"]]["because"] == "Skolenheten saknar giltig licens för appen."
        # a hit says the same as the app's own record asked for the school
        record = (await http.get(f"{world.url}/apps/{unlicensed['id']}", params={"schoolUnitId": str(world.gr)}, headers=world.teacher())).json()
        assert record["availability"] == why[unlicensed["id"]]
        english = await search(http, world, world.teacher(), q=f"matematik {kw}", lang="en")
        assert {i["id"]: i["availability"]["because"] for i in english["items"]}[unlicensed["id"]] == "The school unit holds no valid licence for the app."

        # the neighbouring school's teacher asks the same question and gets their own order (the cache keys on the school)
        theirs = await search(http, world, world.teacher(world.other), q=f"matematik {kw}")
        assert set(ids(theirs)[:2]) == {free["id"], unlicensed["id"]} and theirs["schoolUnit"]["id"] == str(world.other)
        assert (await search(http, world, world.teacher(), q=f"matematik {kw}")) == mine

        # usable=only keeps what the school may use; schoolUnitId alone does so too, as before usable existed
        only = await search(http, world, world.teacher(), q=f"matematik {kw}", usable="only")
        assert set(ids(only)) == {free["id"], licensed["id"]} and only["total"] == 2 and only["usableTotal"] == 2
        asked = await search(http, world, world.it_admin(), q=f"matematik {kw}", schoolUnitId=str(world.gr))
        assert set(ids(asked)) == {free["id"], licensed["id"]}
        first = await search(http, world, world.it_admin(), q=f"matematik {kw}", schoolUnitId=str(world.gr), usable="first")
        assert first["total"] == 4 and set(ids(first)[:2]) == {free["id"], licensed["id"]}
        # a teacher of two schools has no one school: nothing is assumed
        two = await search(http, world, world.teacher(world.gr, world.other), q=f"matematik {kw}")
        assert two["schoolUnit"] is None and ids(two)[0] == stale["id"]
        # paging keeps the order: the usable ones on the first page
        page1 = await search(http, world, world.teacher(), q=f"matematik {kw}", limit=2)
        page2 = await search(http, world, world.teacher(), q=f"matematik {kw}", limit=2, cursor=page1["next"])
        assert ids(page1) + ids(page2) == ids(mine)
        bad = await http.get(f"{world.url}/apps", params={"q": kw, "usable": "maybe"}, headers=world.teacher())
        assert bad.status_code == 422 and bad.json()["field"] == "query.usable"
        unknown = await http.get(f"{world.url}/apps", params={"q": kw, "schoolUnitId": str(uuid.uuid4())}, headers=world.teacher())
        assert unknown.status_code == 404 and unknown.json()["field"] == "schoolUnitId"

        # a licence ending takes the app out of the first group at once
        licences = (await http.get(f"{world.url}/licences", params={"appId": licensed["id"]}, headers=world.it_admin())).json()["items"]
        assert (await http.delete(f"{world.url}/licences/{licences[0]['id']}", headers=world.it_admin())).status_code in (200, 204)
        after = await search(http, world, world.teacher(), q=f"matematik {kw}")
        assert after["usableTotal"] == 1 and ids(after)[0] == free["id"]
        assert {i["id"]: i["usableHere"] for i in after["items"]}[licensed["id"]] is False


async def test_words_typed_without_å_ä_ö_find_the_words_with_them(world: World) -> None:
    kw = f"diakrit{tag()}"
    async with httpx.AsyncClient(timeout=15) as http:
        fractions = await create(http, world, app_body(f"Bråkverkstaden {kw}", keywords=[kw], description="Träna bråk och tallinjen."), "approved")
        reading = await create(http, world, app_body(f"Läsloggen {kw}", keywords=[kw], subjects=["SV"],
                                                     description="Stöd för läsförståelsen i årskurs fyra till sex."), "approved")
        for typed, expected in ((f"brak {kw}", fractions), ("brakverkstaden", fractions), (f"lasforstaelse {kw}", reading),
                                (f"LASFORSTAELSEN {kw}", reading), (f"arskurs {kw}", reading), ("lasloggen", reading)):
            answer = await search(http, world, world.teacher(), q=typed)
            assert expected["id"] in ids(answer), typed
            assert answer["corrections"] == {} and answer["suggestion"] is None, typed  # found as typed: nothing corrected
        # the last word is matched as the start of a word while typing, without å, ä, ö too
        assert reading["id"] in ids(await search(http, world, world.teacher(), q=f"{kw} lasfor"))
        # the same words with their letters still find, and find only what they say
        assert ids(await search(http, world, world.teacher(), q=f"bråk {kw}")) == [fractions["id"]]
        assert ids(await search(http, world, world.teacher(), q=f"läsförståelse {kw}")) == [reading["id"]]
        # a misspelling typed without å, ä, ö is still corrected to the word as written, offered as "did you mean"
        typo = await search(http, world, world.teacher(), q=f"lasforstaelsr {kw}")
        assert reading["id"] in ids(typo)
        assert "läsförståelsen" in typo["corrections"]["lasforstaelsr"]  # the word as the description writes it
        assert typo["suggestion"] == f"{typo['corrections']['lasforstaelsr'][0]} {kw}"


async def test_a_product_name_is_searched_as_typed_and_a_misspelling_is_offered_as_did_you_mean(world: World) -> None:
    kw = f"namnprov{tag()}"
    async with httpx.AsyncClient(timeout=15) as http:
        geogebra = await create(http, world, app_body(f"GeoGebra {kw}", keywords=[kw], subjects=["MA"], description="Dynamisk geometri och algebra."),
                                "approved")
        atlas = await create(http, world, app_body(f"Geografiatlas {kw}", keywords=[kw, "geografi"], subjects=["GE"],
                                                   description="Kartor för geografi."), "approved")
        for typed in ("GeoGebra", "geogebra", f"geogebra {kw}", "geogebr"):
            answer = await search(http, world, world.teacher(), q=typed)
            assert geogebra["id"] in ids(answer), typed
            assert atlas["id"] not in ids(answer), typed  # never widened into "geografi"
            assert answer["corrections"] == {} and answer["suggestion"] is None, typed
        # a word that matches nothing is matched as its nearest words too, and said so: "did you mean"
        typo = await search(http, world, world.teacher(), q=f"geografiatlsa {kw}")
        assert atlas["id"] in ids(typo)
        assert typo["corrections"]["geografiatlsa"][0] == "geografiatlas" and typo["suggestion"] == f"geografiatlas {kw}"


async def test_the_data_protection_record_refuses_implausible_dates_and_a_transfer_to_nowhere(world: World) -> None:
    async with httpx.AsyncClient(timeout=15) as http:
        app = await create(http, world, app_body(f"Skyddsappen {tag()}"), "approved")
        good = {"dataCategories": ["identity"], "dpaStatus": "signed", "dpaSigned": "2024-08-01",
                "dpaExpires": (TODAY + timedelta(days=300)).isoformat(), "processingCountries": ["SE"]}

        async def put(body: dict[str, Any]) -> httpx.Response:
            return await http.put(f"{world.url}/apps/{app['id']}/data-protection", json=body, headers=world.dpo())

        for change, where in (({"dpaSigned": "0116-07-20"}, "body.dpaSigned"),
                              ({"dpaSigned": (TODAY + timedelta(days=3)).isoformat(), "dpaExpires": (TODAY + timedelta(days=400)).isoformat()}, "body.dpaSigned"),
                              ({"dpaExpires": "9999-12-31"}, "body.dpaExpires"),
                              ({"transferOutsideEea": True}, "body.processingCountries"),
                              ({"transferOutsideEea": True, "processingCountries": ["SE", "NO"], "transferSafeguard": "scc"}, "body.processingCountries")):
            r = await put({**good, **change})
            assert r.status_code == 422, (change, r.text)
            problem = r.json()
            assert problem["field"] == where and problem["errors"][0]["location"] == where, problem
        both = (await put({**good, "dpaSigned": "0116-07-20", "dpaExpires": "9999-12-31"})).json()
        assert [e["location"] for e in both["errors"]] == ["body.dpaSigned", "body.dpaExpires"]
        # nothing refused was recorded
        record = (await http.get(f"{world.url}/apps/{app['id']}", headers=world.teacher())).json()
        assert record["dataProtection"]["dpaSigned"] == "2024-08-01" and record["status"]["code"] == "approved"
        # a transfer placed and safeguarded is recorded; one without a safeguard is recorded as found and lapses the approval
        placed = await put({**good, "transferOutsideEea": True, "processingCountries": ["SE", "US"], "transferSafeguard": "dpf"})
        assert placed.status_code == 200 and placed.json()["status"]["code"] == "approved"
        unsafe = await put({**good, "transferOutsideEea": True, "processingCountries": ["SE", "US"]})
        assert unsafe.status_code == 200 and unsafe.json()["status"]["code"] == "dpa_lapsed"
        # the same checks when an app is published with its record
        made = await http.post(f"{world.url}/apps", json=app_body(f"Nyappen {tag()}", dataProtection={**good, "dpaSigned": "0116-07-20"}),
                               headers=world.it_admin())
        assert made.status_code == 422 and made.json()["field"] == "body.dataProtection.dpaSigned"


async def test_usage_dates_are_days_not_numbers(world: World) -> None:
    async with httpx.AsyncClient(timeout=15) as http:
        app = await create(http, world, app_body(f"Användningsappen {tag()}"), "approved")
        for path in ("/usage", f"/apps/{app['id']}/usage"):
            for since in ("0", "1700000000", "0116-07-20", "1970-01-01", (TODAY + timedelta(days=1)).isoformat(), "2026-13-01"):
                r = await http.get(f"{world.url}{path}", params={"since": since}, headers=world.teacher())
                assert r.status_code == 422 and r.json()["field"] == "query.since", (path, since, r.text)
            ok = await http.get(f"{world.url}{path}", params={"since": (TODAY - timedelta(days=30)).isoformat()}, headers=world.teacher())
            assert ok.status_code == 200 and ok.json()["since"] == (TODAY - timedelta(days=30)).isoformat()
            default = await http.get(f"{world.url}{path}", headers=world.teacher())
            assert default.status_code == 200 and default.json()["since"] == (TODAY - timedelta(days=90)).isoformat()
