"""The hot reads (shared/http/hot_reads.py) against the live services: a guardian's inbox and the catalogue search are
answered in front of FastAPI for the plain case, with the very answer the full route gives — the same status, headers
and bytes — and every case the hot path does not read as the route would (an unknown parameter, a value to validate,
no token, another person's inbox, a caller without the role) is answered by the route, as documented. Which path
answered is read from ``skolit_http_hot_reads_total``, so the test would notice a hot path that never answers."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx
import pytest

import tests.integration.test_catalog_search as catalog
import tests.integration.test_notification_channels as channels
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration

#: response headers that belong to the answer (not to the connection or the moment)
COMPARED = ("content-type", "content-length", "vary", "deprecation", "link")


async def hot_count(http: httpx.AsyncClient, url: str, route: str, outcome: str) -> float:
    text = (await http.get(f"{url}/metrics")).text
    for labels, value in re.findall(r"^skolit_http_hot_reads_total\{(.*)\} (\S+)$", text, re.MULTILINE):
        if f'route="{route}"' in labels and f'outcome="{outcome}"' in labels:
            return float(value)
    return 0.0


async def answered_both_ways(http: httpx.AsyncClient, url: str, path: str, route: str, headers: dict[str, str],
                             params: dict[str, str]) -> httpx.Response:
    """The hot path's answer, after checking it answered and that the full route (made to take the request by a
    parameter the hot path does not know, which the route ignores) gives the same answer."""
    before = await hot_count(http, url, route, "answered")
    hot = await http.get(f"{url}{path}", params=params, headers=headers)
    assert await hot_count(http, url, route, "answered") == before + 1, "the hot path did not answer"
    passed = await hot_count(http, url, route, "passed-on")
    full = await http.get(f"{url}{path}", params={**params, "unknownParameter": "1"}, headers=headers)
    assert await hot_count(http, url, route, "passed-on") == passed + 1
    assert (hot.status_code, hot.content) == (full.status_code, full.content)
    assert {h: hot.headers.get(h) for h in COMPARED} == {h: full.headers.get(h) for h in COMPARED}
    return hot


async def test_the_inbox_answers_in_front_of_the_framework_as_the_route_would(stack: Stack) -> None:
    url = stack.services["notification"].url
    route = "/persons/{person_id}/messages"
    async with httpx.AsyncClient(timeout=30) as http:
        s = await channels.make_school(stack, http, {"anna": {}, "bo": {}}, name="Snabbskolan")
        anna = s.guardians["anna"]
        for subject in ("Studiedag", "Skolfoto", "Luciafirande"):
            sent = await http.post(f"{url}/broadcasts", headers=s.principal(),
                                   json={"audience": channels.to_guardians(s), "subject": subject, "body": f"{subject} på fredag."})
            assert sent.status_code == 201, sent.text
        own = auth("guardian", subject=str(anna))

        first = await answered_both_ways(http, url, f"/persons/{anna}/messages", route, own, {"limit": "2"})
        page = first.json()
        assert [m["subject"] for m in page["items"]] == ["Luciafirande", "Skolfoto"] and page["total"] == 3 and page["unread"] == 3
        second = await answered_both_ways(http, url, f"/persons/{anna}/messages", route, own, {"limit": "2", "cursor": page["next"]})
        assert [m["subject"] for m in second.json()["items"]] == ["Studiedag"]
        english = await answered_both_ways(http, url, f"/persons/{anna}/messages", route, {**own, "Accept-Language": "en"}, {"lang": "en"})
        assert english.status_code == 200
        admin = auth("city_admin", subject="support-desk")
        assert (await answered_both_ways(http, url, f"/persons/{anna}/messages", route, admin, {"reason": "support"})).status_code == 200

        # what the hot path leaves to the route: answered as documented, and counted as passed on
        passed = await hot_count(http, url, route, "passed-on")
        refused = {
            "no token": await http.get(f"{url}/persons/{anna}/messages"),
            "another's inbox": await http.get(f"{url}/persons/{anna}/messages", headers=auth("guardian", subject=str(s.guardians["bo"]))),
            "limit 0": await http.get(f"{url}/persons/{anna}/messages", params={"limit": "0"}, headers=own),
            "limit twice": await http.get(f"{url}/persons/{anna}/messages?limit=1&limit=2", headers=own),
            "bad cursor": await http.get(f"{url}/persons/{anna}/messages", params={"cursor": "not-a-cursor"}, headers=own),
            "no reason": await http.get(f"{url}/persons/{anna}/messages", headers=admin),
            "bad reason": await http.get(f"{url}/persons/{anna}/messages", params={"reason": "curiosity"}, headers=admin),
        }
        assert {k: r.status_code for k, r in refused.items()} == {
            "no token": 401, "another's inbox": 403, "limit 0": 422, "limit twice": 200, "bad cursor": 422, "no reason": 422,
            "bad reason": 422}
        assert all(r.headers["content-type"] == "application/problem+json" for k, r in refused.items() if k != "limit twice")
        assert refused["limit 0"].json()["errors"][0]["location"] == "query.limit"
        assert await hot_count(http, url, route, "passed-on") == passed + len(refused)
        hidden = await http.get(f"{url}/persons/{uuid.uuid4()}/messages", headers=own)
        assert hidden.status_code == 403


async def test_the_catalogue_search_answers_in_front_of_the_framework_as_the_route_would(stack: Stack) -> None:
    url = stack.services["catalog"].url
    async with httpx.AsyncClient(timeout=30) as http:
        w = catalog.World(url=url)
        from tests.support.city import school_unit
        from tests.support.kafka import eventually, send, wire

        await send(stack.bootstrap, [wire(school_unit(w.gr, w.district, name="Snabbsökskolan", types=("GR",)))])
        name = f"Snabbmatte {catalog.tag()}"
        made = await catalog.create(http, w, catalog.app_body(name), "approved")

        async def licensed() -> bool:  # once the school unit is known to catalog
            body = {"appId": made["id"], "schoolUnitIds": [str(w.gr)], "type": "school", "starts": catalog.TODAY.isoformat(),
                    "expires": (catalog.TODAY + timedelta(days=300)).isoformat()}
            return (await http.post(f"{url}/licences", json=body, headers=w.it_admin())).status_code == 201

        await eventually(licensed, what="the school unit in catalog, then the app licensed to it")

        async def known() -> bool:
            r = await http.get(f"{url}/apps", params={"q": name, "schoolUnitId": str(w.gr)}, headers=w.teacher())
            return r.status_code == 200 and r.json()["total"] == 1

        await eventually(known, what="the school unit in catalog and the app found")
        route = "/apps"
        teacher = w.teacher()
        hits = await answered_both_ways(http, url, "/apps", route, teacher, {"q": name, "limit": "5"})
        assert [h["id"] for h in hits.json()["items"]] == [made["id"]] and hits.json()["schoolUnit"]["id"] == str(w.gr)
        filtered = await answered_both_ways(http, url, "/apps?subject=MA&subject=SV&grade=5", route, teacher,
                                            {"q": name, "usable": "only", "facets": "false", "lang": "en"})
        assert filtered.json()["facets"] is None and [h["id"] for h in filtered.json()["items"]] == [made["id"]]
        await answered_both_ways(http, url, "/apps", route, teacher, {"q": "x" * 200, "schoolUnitId": str(w.gr)})

        refused = {
            "guardian": await http.get(f"{url}/apps", params={"q": name}, headers=auth("guardian", subject=str(uuid.uuid4()))),
            "q too long": await http.get(f"{url}/apps", params={"q": "x" * 201}, headers=teacher),
            "unknown status": await http.get(f"{url}/apps", params={"status": "no-such-status"}, headers=teacher),
            "unknown school": await http.get(f"{url}/apps", params={"schoolUnitId": str(uuid.uuid4())}, headers=teacher),
            "facets yes": await http.get(f"{url}/apps", params={"q": name, "facets": "yes"}, headers=teacher),
        }
        assert {k: r.status_code for k, r in refused.items()} == {
            "guardian": 403, "q too long": 422, "unknown status": 422, "unknown school": 404, "facets yes": 200}
        assert refused["q too long"].json()["errors"][0]["location"] == "query.q"
        assert refused["unknown school"].json()["field"] == "schoolUnitId"
