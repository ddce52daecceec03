"""The SS 12000 test server (devkit/ss12000): the generated city, the standard's lists, paging through a city that changes
between pages, modified-after and deletions, tokens, faults, webhooks and the control API — in-process over httpx's
ASGI transport, and once as the real process the connector's tests start."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from devkit.ss12000.app import build_app
from devkit.ss12000.citygen import City, luhn_digit
from devkit.ss12000.entities import Entities
from devkit.process import ROOT

ID, SECRET = "skolit", "hemligt"


def small_city(seed: int = 1) -> City:
    # the six kinds of school unit (F-9, F-6, 7-9, GY, anpassad grundskola, förskola) at a tenth of their size
    return City.generate(schools=6, districts=2, seed=seed, school_size=0.1)


async def connect(app: Any, client: tuple[str, int] = ("127.0.0.1", 50000)) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=client), base_url="http://ss12000.test")


async def token(c: httpx.AsyncClient) -> str:
    r = await c.post("/token", data={"grant_type": "client_credentials"}, auth=(ID, SECRET))
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(small_city(), client_id=ID, client_secret=SECRET)
    async with await connect(app) as c:
        c.headers["Authorization"] = f"Bearer {await token(c)}"
        c.app = app  # type: ignore[attr-defined]
        yield c


async def list_all(c: httpx.AsyncClient, resource: str, between: Any = None, **params: Any) -> list[dict[str, Any]]:
    """Every page of a list; ``between(page_number)`` runs between pages."""
    out: list[dict[str, Any]] = []
    r = await c.get(f"/{resource}", params=params)
    n = 0
    while True:
        assert r.status_code == 200, r.text
        body = r.json()
        out += body["data"]
        if body["pageToken"] is None:
            return out
        n += 1
        if between:
            await between(n)
        r = await c.get(f"/{resource}", params={"pageToken": body["pageToken"], "limit": params.get("limit", 100)})


# ---- the generated city ----------------------------------------------------------------------------------------------
def test_generated_city_has_the_shape_and_the_data_a_connector_must_drop() -> None:
    city = City.generate(schools=12, districts=3, seed=7)
    e = Entities(city)
    every = {name: [r.entity(i) for i in range(r.count)] for name, r in e.resources.items()}
    orgs = {o["id"]: o for o in every["organisations"]}
    types = Counter(o["organisationType"] for o in orgs.values())
    assert types == {"Huvudman": 1, "Förvaltning": 3, "Skolenhet": 12}
    huvudman = next(o for o in orgs.values() if o["organisationType"] == "Huvudman")
    for o in orgs.values():
        assert o["municipalityCode"] == "0180"
        if o["organisationType"] == "Förvaltning":
            assert o["parentOrganisation"] == {"id": huvudman["id"]}
        if o["organisationType"] == "Skolenhet":
            assert re.fullmatch(r"\d{8}", o["schoolUnitCode"]) and o["schoolTypes"]
            assert orgs[o["parentOrganisation"]["id"]]["organisationType"] == "Förvaltning"
    assert {t for o in orgs.values() for t in o["schoolTypes"]} >= {"GR", "GY", "FS", "FKLASS", "GRS"}

    persons = {p["id"]: p for p in every["persons"]}
    assert len(persons) == len(every["persons"])  # ids unique
    for p in persons.values():
        civic = p["civicNo"]["value"]
        assert re.fullmatch(r"(19|20)\d{6}9[89]\d\d", civic), civic  # Skatteverket's test series 980–999
        assert luhn_digit(civic[2:11]) == int(civic[11])
        assert p["emails"] and p["phoneNumbers"] and p["eduPersonPrincipalNames"] and p["givenName"] and p["familyName"]
        assert p["phoneNumbers"][0]["value"].startswith("+4670174")
        assert all(r["person"]["id"] in persons for r in p["responsibles"])
        assert all(orgs[en["enroledAt"]["id"]]["organisationType"] == "Skolenhet" for en in p["enrolments"])
    markings = Counter(p["securityMarking"] for p in persons.values())
    assert markings["Skyddad folkbokföring"] >= 10 and markings["Sekretessmarkering"] >= 30, markings
    assert 0.005 < markings["Sekretessmarkering"] / len(persons) < 0.02
    pupils = [p for p in persons.values() if p["enrolments"]]
    relations = sum(len(p["responsibles"]) for p in pupils)
    assert 1.5 < relations / len(pupils) < 1.9
    guardians = {r["person"]["id"] for p in pupils for r in p["responsibles"]}
    assert len(guardians) < relations  # siblings share their guardians
    assert all(not persons[g]["enrolments"] for g in guardians)
    years = Counter((en["schoolType"], en["schoolYear"]) for p in pupils for en in p["enrolments"])
    assert {y for t, y in years if t == "GR"} == set(range(1, 10)) and {y for t, y in years if t == "GY"} == {1, 2, 3}
    assert ("FKLASS", 0) in years

    duties = every["duties"]
    schools = [o for o in orgs.values() if o["organisationType"] == "Skolenhet"]
    rektors = Counter(d["dutyAt"]["id"] for d in duties if d["dutyRole"] == "Rektor")
    assert rektors == {s["id"]: 1 for s in schools}
    roles = Counter(d["dutyRole"] for d in duties)
    assert roles["Lärare"] > roles["Förstelärare"] > 0 and roles["Skoladministratör"] == 12 and roles["IT-samordnare"] > 0
    assert {orgs[d["dutyAt"]["id"]]["organisationType"] for d in duties if d["dutyRole"] == "Övrig arbetsledning"} == {"Förvaltning"}
    assert all(d["person"]["id"] in persons for d in duties)
    staff = {d["person"]["id"] for d in duties}
    assert 0.1 < len(staff) / len(pupils) < 0.2

    placements = every["placements"]
    assert placements and all(orgs[p["placedAt"]["id"]]["schoolTypes"] == ["FS"] and p["child"]["id"] in persons for p in placements)
    assert all(not persons[p["child"]["id"]]["enrolments"] and persons[p["child"]["id"]]["responsibles"] for p in placements)
    members = [m["person"]["id"] for g in every["groups"] for m in g["groupMemberships"]]
    assert len(members) == len(set(members)) == len(pupils)  # one class per pupil


def test_the_city_is_the_same_for_a_seed_and_another_for_another_seed() -> None:
    def sample(seed: int) -> list[dict[str, Any]]:
        e = Entities(City.generate(schools=6, districts=2, seed=seed, school_size=0.2))
        return [r.entity(i) for r in e.resources.values() for i in range(0, r.count, 7)]

    assert sample(3) == sample(3)
    assert {p["id"] for p in sample(3)}.isdisjoint({p["id"] for p in sample(4)})


def test_a_large_city_is_generated_without_holding_its_entities() -> None:
    city = City.generate(schools=270, districts=6, seed=1)
    assert 90_000 < city.child_count < 110_000 and 200_000 < city.counts["persons"] < 260_000 and 12_000 < city.staff_count < 18_000
    arrays = (city.pupil_start, city.family_child_start, city.family_guardian_start, city.staff_start, city.duty_start)
    assert sum(a.itemsize * len(a) for a in arrays) < 2_000_000
    r = Entities(city).resources["persons"]
    assert r.ids.index(r.ids.id(r.count - 1), r.count) == r.count - 1


async def test_examples_name_a_generated_entity_of_each_kind(api: httpx.AsyncClient) -> None:
    ex = (await api.get("/_test/examples")).json()

    async def get(resource: str, key: str) -> dict[str, Any]:
        r = await api.get(f"/{resource}/{ex[key]}")
        assert r.status_code == 200, (key, r.text)
        return dict(r.json())

    pupil, protected = await get("persons", "pupil"), await get("persons", "protectedPupil")
    assert {"person": {"id": ex["guardian"]}, "relationType": "Vårdnadshavare"} in pupil["responsibles"]
    assert pupil["enrolments"][0]["enroledAt"]["id"] == ex["schoolUnit"]
    assert protected["securityMarking"] == (await get("persons", "protectedGuardian"))["securityMarking"] == "Skyddad folkbokföring"
    assert ex["protectedGuardian"] in {r["person"]["id"] for r in protected["responsibles"]} and protected["addresses"] == []
    assert (await get("persons", "confidentialPerson"))["securityMarking"] == "Sekretessmarkering"
    duty = await get("duties", "rektorDuty")
    assert (duty["dutyRole"], duty["dutyAt"]["id"]) == ("Rektor", ex["schoolUnit"])
    assert (await get("placements", "placement"))["child"]["id"] == ex["preschoolChild"]
    assert (await get("organisations", "district"))["parentOrganisation"] == {"id": ex["huvudman"]}
    assert (await get("groups", "group"))["organisation"]["id"] == ex["schoolUnit"]
    assert (await get("persons", "staff"))["id"] == duty["person"]["id"]


# ---- lists and paging ------------------------------------------------------------------------------------------------
async def test_paging_serves_every_entity_once_while_the_city_changes_between_pages(api: httpx.AsyncClient) -> None:
    r = api.app.state.ss12000.store.entities.resources["persons"]  # type: ignore[attr-defined]
    ids = [r.ids.id(i) for i in range(r.count)]
    assert len(ids) > 300
    started = (await api.get("/persons", params={"limit": 1})).json()["data"][0]["meta"]["modified"]  # before any change
    before_sync = "2025-08-15T00:00:01Z"
    changes = {1: ("change", ids[0]), 2: ("change", ids[-1]), 3: ("delete", ids[-2]), 4: ("add", None)}
    added: list[str] = []

    async def between(n: int) -> None:
        if n not in changes:
            return
        what, ident = changes[n]
        if what == "change":
            assert (await api.post(f"/_test/persons/{ident}", json={"familyName": "Ändrad"})).status_code == 200
        elif what == "delete":
            assert (await api.delete(f"/_test/persons/{ident}")).status_code == 204
        else:
            created = await api.post("/_test/persons", json={"givenName": "Ny", "familyName": "Elev", "securityMarking": "Ingen"})
            added.append(created.json()["id"])

    served = await list_all(api, "persons", between, limit=50)
    assert [p["id"] for p in served] == ids  # all of them, once, in (modified, id) order, as of the first page
    assert served[-1]["familyName"] != "Ändrad"  # changed after the listing began: its old version, in its old place
    assert started < before_sync
    keys = [(p["meta"]["modified"], p["id"]) for p in served]
    assert keys == sorted(keys)

    changed = await list_all(api, "persons", **{"meta.modified.after": before_sync, "limit": 2})
    assert [p["id"] for p in changed] == [ids[0], ids[-1], added[0]]  # the deleted one is gone
    assert all(p["familyName"] == "Ändrad" for p in changed[:2])
    new = await list_all(api, "persons", **{"meta.created.after": before_sync})
    assert [p["id"] for p in new] == added
    again = await list_all(api, "persons", limit=1000)
    assert len(again) == len(ids) and ids[-2] not in {p["id"] for p in again} and again[-1]["id"] == added[0]

    deleted = (await api.get("/deletedEntities", params={"after": before_sync})).json()
    assert deleted == {"data": {"organisations": [], "persons": [ids[-2]], "duties": [], "placements": [], "groups": []}, "pageToken": None}
    assert (await api.get("/deletedEntities", params={"after": "2099-01-01T00:00:00Z"})).json()["data"]["persons"] == []
    assert (await api.get(f"/persons/{ids[-2]}")).status_code == 404
    assert (await api.get(f"/persons/{ids[0]}")).json()["familyName"] == "Ändrad"


async def test_modified_after_is_on_or_after_and_returns_only_what_changed(api: httpx.AsyncClient) -> None:
    duties = await list_all(api, "duties", limit=7)
    assert len(duties) == len({d["id"] for d in duties}) == api.app.state.ss12000.city.counts["duties"]  # type: ignore[attr-defined]
    pivot = duties[5]["meta"]["modified"]
    assert [d["id"] for d in await list_all(api, "duties", **{"meta.modified.after": pivot})] == [d["id"] for d in duties[5:]]
    target = duties[2]["id"]
    changed = (await api.post(f"/_test/duties/{target.upper()}", json={"dutyRole": "Förstelärare"})).json()  # the same id in capitals
    assert changed["meta"]["modified"] > duties[-1]["meta"]["modified"] and changed["meta"]["created"] == duties[2]["meta"]["created"]
    only = await list_all(api, "duties", **{"meta.modified.after": changed["meta"]["modified"]})
    assert [(d["id"], d["dutyRole"]) for d in only] == [(target, "Förstelärare")]
    assert (await api.get(f"/duties/{target.upper()}")).json()["dutyRole"] == "Förstelärare"


async def test_slow_pages_wait_and_still_serve(api: httpx.AsyncClient) -> None:
    assert (await api.post("/_test/slow", json={"seconds": 0.01})).json() == {"seconds": 0.01}
    assert (await api.get("/_test/stats")).json()["slowSeconds"] == 0.01
    assert (await api.get("/groups", params={"limit": 2})).status_code == 200
    assert (await api.post("/_test/slow", json={"seconds": -1})).status_code == 400


async def test_deleted_entities_page_and_filter_by_type(api: httpx.AsyncClient) -> None:
    orgs = (await api.get("/organisations", params={"limit": 1000})).json()["data"]
    groups = (await api.get("/groups", params={"limit": 3})).json()["data"]
    for g in groups:
        assert (await api.delete(f"/_test/groups/{g['id']}")).status_code == 204
    assert (await api.delete(f"/_test/organisations/{orgs[-1]['id']}")).status_code == 204
    assert (await api.delete(f"/_test/groups/{groups[0]['id']}")).status_code == 404  # already gone
    pages: list[dict[str, list[str]]] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"pageToken": token, "limit": 2} if token else {"entities": ["Group", "Organisation"], "limit": 2}
        body = (await api.get("/deletedEntities", params=params)).json()
        pages.append(body["data"])
        if (token := body["pageToken"]) is None:
            break
    assert [p["groups"] for p in pages] == [[groups[0]["id"], groups[1]["id"]], [groups[2]["id"]]]
    assert pages[1]["organisations"] == [orgs[-1]["id"]]
    only_groups = (await api.get("/deletedEntities", params={"entities": "Group"})).json()["data"]
    assert len(only_groups["groups"]) == 3 and only_groups["organisations"] == []
    assert (await api.get("/deletedEntities", params={"entities": "Pupil"})).status_code == 400


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": "0"}, "limit"), ({"limit": "many"}, "limit"), ({"meta.modified.after": "yesterday"}, "meta.modified.after"),
    ({"meta.created.after": "2025-01-01T00:00:00"}, "meta.created.after"), ({"pageToken": "not-a-token"}, "pageToken"),
])
async def test_bad_list_parameters_are_400_naming_the_parameter(api: httpx.AsyncClient, params: dict[str, str], field: str) -> None:
    r = await api.get("/persons", params=params)
    assert r.status_code == 400 and r.json()["message"].startswith(field) and r.json()["code"]


async def test_a_page_token_cannot_be_combined_with_a_filter_nor_used_for_another_list(api: httpx.AsyncClient) -> None:
    page = (await api.get("/persons", params={"limit": 5})).json()
    r = await api.get("/persons", params={"pageToken": page["pageToken"], "meta.modified.after": "2025-01-01T00:00:00Z"})
    assert r.status_code == 400 and "pageToken" in r.json()["message"]
    assert (await api.get("/duties", params={"pageToken": page["pageToken"]})).status_code == 400
    forged = base64.urlsafe_b64encode(json.dumps({"r": "persons", "t": 1}).encode()).decode()
    assert (await api.get("/persons", params={"pageToken": forged})).status_code == 400


async def test_limit_is_clamped_to_the_servers_largest_page() -> None:
    app = build_app(small_city(), client_id=ID, client_secret=SECRET, max_page=40)
    async with await connect(app) as c:
        body = (await c.get("/persons", params={"limit": 5000}, headers={"Authorization": f"Bearer {await token(c)}"})).json()
    assert len(body["data"]) == 40 and body["pageToken"]


# ---- tokens --------------------------------------------------------------------------------------------------------------
async def test_tokens_by_basic_or_form_expire_and_are_refused_after() -> None:
    app = build_app(small_city(), client_id=ID, client_secret=SECRET, token_seconds=60)
    async with await connect(app) as c:
        assert (await c.get("/organisations")).status_code == 401
        bad = await c.post("/token", data={"grant_type": "client_credentials"}, auth=(ID, "fel"))
        assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
        grant = await c.post("/token", data={"grant_type": "password", "client_id": ID, "client_secret": SECRET})
        assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
        issued = (await c.post("/token", data={"grant_type": "client_credentials", "client_id": ID, "client_secret": SECRET})).json()
        assert issued["token_type"] == "Bearer" and issued["expires_in"] == 60
        bearer = {"Authorization": f"Bearer {issued['access_token']}"}
        assert (await c.get("/organisations", headers=bearer)).status_code == 200
        assert (await c.post("/_test/clock", json={"advance": 61})).status_code == 200
        expired = await c.get("/organisations", headers=bearer)
        assert expired.status_code == 401 and "expired" in expired.json()["message"]
        assert "invalid_token" in expired.headers["www-authenticate"]
        assert (await c.get("/organisations", headers={"Authorization": f"Bearer {await token(c)}"})).status_code == 200
        assert (await c.get("/_test/stats")).json()["tokensIssued"] == 2


# ---- faults ---------------------------------------------------------------------------------------------------------------
async def fault_sequence(seed: int) -> list[int]:
    app = build_app(small_city(seed), client_id=ID, client_secret=SECRET, faults=0.3)
    async with await connect(app) as c:
        bearer = {"Authorization": f"Bearer {await token(c)}"}
        statuses = []
        for _ in range(60):
            r = await c.get("/organisations", headers=bearer)
            if r.status_code == 429:
                assert r.headers["retry-after"] == "1" and r.json()["code"]
            statuses.append(r.status_code)
            assert (await c.post("/token", data={"grant_type": "client_credentials"}, auth=(ID, SECRET))).status_code == 200  # never /token
    return statuses


async def test_faults_are_429_and_500_alternately_at_the_rate_and_the_same_for_a_seed() -> None:
    first = await fault_sequence(1)
    assert first == await fault_sequence(1)
    failed = [s for s in first if s != 200]
    assert 8 <= len(failed) <= 30 and set(first) == {200, 429, 500}
    assert failed == [429, 500] * (len(failed) // 2) + [429] * (len(failed) % 2)
    assert first != await fault_sequence(2)


async def test_queued_faults_answer_the_next_list_requests(api: httpx.AsyncClient) -> None:
    assert (await api.post("/_test/faults", json={"next": [500, 429]})).status_code == 200
    assert [(await api.get(p)).status_code for p in ("/persons", "/deletedEntities", "/persons")] == [500, 429, 200]
    assert (await api.post("/_test/faults", json={"next": [418]})).status_code == 400
    stats = (await api.get("/_test/stats")).json()
    assert stats["responses"]["500"] == 1 and stats["responses"]["429"] == 1 and stats["requests"]["/persons"] == 2


# ---- webhooks ------------------------------------------------------------------------------------------------------------
async def test_changes_call_the_subscriptions_for_their_type_with_the_standards_body() -> None:
    received: list[tuple[str, dict[str, Any]]] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append((str(request.url), json.loads(request.content)))
        return httpx.Response(204 if "persons" in str(request.url) else 500)

    app = build_app(small_city(), client_id=ID, client_secret=SECRET, webhook_client=httpx.AsyncClient(transport=httpx.MockTransport(receiver)))
    server = app.state.ss12000
    async with await connect(app) as c:
        c.headers["Authorization"] = f"Bearer {await token(c)}"
        people = (await c.post("/subscriptions", json={"name": "skolit", "target": "http://connector.test/persons",
                                                       "resourceTypes": [{"resource": "Person"}, {"resource": "Duty"}]}))
        assert people.status_code == 201 and people.json()["resourceTypes"] == [{"resource": "Person"}, {"resource": "Duty"}]
        assert [x["id"] for x in (await c.get("/subscriptions")).json()["data"]] == [people.json()["id"]]
        orgs = (await c.post("/subscriptions", json={"name": "b", "target": "http://other.test/orgs", "resourceTypes": [{"resource": "Organisation"}]}))
        bad = await c.post("/subscriptions", json={"name": "c", "target": "ftp://x", "resourceTypes": [{"resource": "Person"}]})
        assert bad.status_code == 400 and "target" in bad.json()["message"]
        person = (await c.get("/persons", params={"limit": 1})).json()["data"][0]["id"]
        org = (await c.get("/organisations", params={"limit": 1})).json()["data"][0]["id"]

        await c.post(f"/_test/persons/{person}", json={"securityMarking": "Skyddad folkbokföring"})
        await c.delete(f"/_test/persons/{person}")
        await c.post(f"/_test/organisations/{org}", json={"displayName": "Nytt namn"})
        await server.webhooks.drain()
        assert received == [
            ("http://connector.test/persons", {"modifiedEntites": ["Person"], "deletedEntities": False}),
            ("http://connector.test/persons", {"modifiedEntites": [], "deletedEntities": True}),
            ("http://other.test/orgs", {"modifiedEntites": ["Organisation"], "deletedEntities": False}),
        ]
        stats = (await c.get("/_test/stats")).json()
        assert stats["webhooks"]["sent"] == 2 and stats["webhooks"]["failed"] == 1 and stats["subscriptions"] == 2

        assert (await c.delete(f"/subscriptions/{orgs.json()['id']}")).status_code == 204
        assert (await c.delete(f"/subscriptions/{orgs.json()['id']}")).status_code == 404
        await c.post(f"/_test/organisations/{org}", json={"displayName": "Igen"})
        await server.webhooks.drain()
        assert len(received) == 3


async def test_the_control_api_answers_only_the_loopback_address() -> None:
    app = build_app(small_city(), client_id=ID, client_secret=SECRET)
    async with await connect(app, client=("10.1.2.3", 40000)) as c:
        assert (await c.get("/_test/stats")).status_code == 403
        assert (await c.post("/_test/faults", json={"rate": 1})).status_code == 403
        assert (await c.get("/healthz")).status_code == 200


# ---- the process ----------------------------------------------------------------------------------------------------------
def test_the_server_runs_as_a_process_and_says_where_it_listens() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "devkit.ss12000", "--port", "0", "--schools", "6", "--school-size", "0.1", "--seed", "5",
                             "--client-id", ID, "--client-secret", SECRET], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        url = re.fullmatch(r"ss12000 listening on (http://127\.0\.0\.1:\d+)", line)
        assert url, line
        with httpx.Client(base_url=url.group(1), timeout=10) as c:
            t = c.post("/token", data={"grant_type": "client_credentials"}, auth=(ID, SECRET)).json()["access_token"]
            schools = c.get("/organisations", headers={"Authorization": f"Bearer {t}"}, params={"limit": 100}).json()["data"]
        assert sum(o["organisationType"] == "Skolenhet" for o in schools) == 6
        assert schools == [Entities(City.generate(schools=6, districts=3, seed=5, school_size=0.1)).resources["organisations"].entity(i)
                           for i in range(len(schools))]
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
