"""docs/api.md, checked against the running services: every list pages the one way, the version prefix, retried creates.

The walk reads each service's own OpenAPI document and calls every list endpoint it finds there, as the role most
likely to see something (a city admin, or the person the list is about), following ``next`` page by page.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
import pytest_asyncio

from shared.settings import SERVICES
from tests.support.api_city import City, build_city
from tests.support.stack import WEB_APP_ORIGIN, Stack, auth

PAGE_FIELDS = {"items", "limit", "next", "total"}
#: parameters of the paging styles that are gone (docs/api.md: one style)
OLD_PAGING = {"offset", "page", "pageSize", "page_size", "before", "after"}
#: lists that are not data and are not paged (docs/api.md: "Small fixed lists")
NOT_PAGED = {("GET", "/jobs"), ("GET", "/apps/export")}  # a fixed list; a file download (the CSV imports again as it is)


@pytest_asyncio.fixture(scope="module")
async def city(stack: Stack) -> City:
    return await build_city(stack)


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def list_operations(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """GET operations whose answer is a list: a 200 JSON object with an ``items`` array."""
    found = []
    for path, item in doc["paths"].items():
        op = item.get("get")
        if not op:
            continue
        media = op.get("responses", {}).get("200", {}).get("content", {}).get("application/json")
        schema = _resolve(doc, (media or {}).get("schema") or {})
        items = schema.get("properties", {}).get("items")
        if items and _resolve(doc, items).get("type") == "array":
            found.append((path, op))
    return found


def fill(path: str, city: City) -> str | None:
    """The path with its parameters set to things that exist in the small city (None: no such thing to fill in)."""
    known = city.known_ids()
    out = path
    for name in re.findall(r"{(\w+)}", path):
        if name in known:
            out = out.replace("{" + name + "}", known[name][0])
        elif name == "year":
            out = out.replace("{year}", str(__import__("datetime").date.today().year))
        else:
            return None
    return out


def caller_for(path: str, city: City) -> dict[str, str]:
    if path.startswith("/persons/{person_id}") or path.startswith("/me"):
        return auth("guardian", subject=city.guardian, school_units=(city.schools[0],))
    if path.startswith("/privacy/access-log"):
        return auth("data_protection")
    return auth("city_admin")


@pytest.mark.parametrize("service", SERVICES)
async def test_every_list_endpoint_pages_the_one_way(stack: Stack, city: City, service: str) -> None:
    url = stack.services[service].url
    async with httpx.AsyncClient(timeout=30) as http:
        doc = (await http.get(f"{url}/openapi.json")).json()
        lists = list_operations(doc)
        assert lists, f"{service} documents no list at all"
        walked, faults = 0, []
        for path, op in lists:
            where = f"GET {path}"
            names = {p["name"] for p in op.get("parameters", [])}
            if ("GET", path) in NOT_PAGED:
                assert not names & {"limit", "cursor"}, where
                continue
            if not {"limit", "cursor"} <= names:
                faults.append(f"{where}: takes {sorted(names)}, not limit and cursor")
            if names & OLD_PAGING:
                faults.append(f"{where}: still takes {sorted(names & OLD_PAGING)}")
            page_schema = _resolve(doc, op["responses"]["200"]["content"]["application/json"]["schema"])
            if not PAGE_FIELDS <= set(page_schema.get("properties", {})):
                faults.append(f"{where}: answers {sorted(page_schema.get('properties', {}))}, not a Page")
                continue
            target = fill(path, city)
            required = [p["name"] for p in op.get("parameters", []) if p.get("required") and p["in"] == "query"]
            if target is None or required:
                continue  # documented the right way; nothing in the small city to call it with
            # Walk it: pages of one item, following next, until the end or five pages.
            seen: list[Any] = []
            cursor: str | None = None
            for number in range(5):
                params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
                r = await http.get(f"{url}/v1{target}", params=params, headers=caller_for(path, city))
                if r.status_code != 200:
                    faults.append(f"{where} page {number + 1}: {r.status_code} {r.text[:200]}")
                    break
                body = r.json()
                if set(body) < PAGE_FIELDS or body["limit"] != 1 or len(body["items"]) > 1:
                    faults.append(f"{where} page {number + 1}: {sorted(body)} limit {body.get('limit')} items {len(body.get('items', []))}")
                    break
                if body["total"] is not None and number == 0 and body["total"] > 1 and body["next"] is None:
                    faults.append(f"{where}: total {body['total']} but no next page")
                seen += body["items"]
                cursor = body["next"]
                if cursor is None:
                    break
            walked += 1
            if len(seen) > 1:
                assert seen[0] != seen[1], f"{where}: the second page repeats the first"
        bad = await http.get(f"{url}/v1{fill(lists[0][0], city) or lists[0][0]}", params={"cursor": "not-one-of-ours"}, headers=auth("city_admin"))
        assert bad.status_code in (403, 404, 422)
        if bad.status_code == 422:
            assert bad.json()["field"] == "query.cursor"
    assert not faults, "\n".join(faults)
    assert walked >= 1, f"{service}: no list could be walked"


async def test_a_retried_create_with_the_same_key_creates_once_and_answers_the_same(stack: Stack) -> None:
    url = stack.services["catalog"].url + "/v1"
    admin = auth("city_admin")
    name = f"Idempotensappen {uuid.uuid4().hex[:6]}"
    body = {"name": name, "supplier": "Retry AB", "description": "Created once, however often it is sent.", "url": "https://example.se/retry",
            "kind": "commercial", "costModel": "free", "freeUse": True, "subjects": ["MA"], "grades": ["4"], "schoolTypes": ["GR"],
            "platforms": ["web"], "languages": ["sv"], "headings": ["digitalt-innehall"], "keywords": []}
    key = str(uuid.uuid4())
    async with httpx.AsyncClient(timeout=30) as http:
        first = await http.post(f"{url}/apps", json=body, headers={**admin, "Idempotency-Key": key})
        again = await http.post(f"{url}/apps", json=body, headers={**admin, "Idempotency-Key": key})
        assert first.status_code == 201, first.text
        assert again.status_code == 201 and again.json() == first.json()
        assert again.headers["idempotency-replayed"] == "true" and "idempotency-replayed" not in first.headers
        other = await http.post(f"{url}/apps", json={**body, "name": name + " 2"}, headers={**admin, "Idempotency-Key": key})
        assert other.status_code == 422 and other.json()["field"] == "header.Idempotency-Key"
        # another caller's key is another key
        theirs = await http.post(f"{url}/apps", json={**body, "name": name + " 3"}, headers={**auth("city_admin", subject="someone-else"), "Idempotency-Key": key})
        assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
        bad = await http.post(f"{url}/apps", json=body, headers={**admin, "Idempotency-Key": "a key with spaces"})
        assert bad.status_code == 422 and bad.json()["field"] == "header.Idempotency-Key"
        found = await http.get(f"{url}/apps", params={"q": name, "limit": 10}, headers=admin)
        assert found.status_code == 200, found.text
        assert [a["name"] for a in found.json()["items"]].count(name) == 1


async def test_the_versioned_path_serves_and_the_bare_path_is_a_deprecated_alias(stack: Stack, city: City) -> None:
    url = stack.services["assessment"].url
    admin = auth("city_admin")
    async with httpx.AsyncClient(timeout=30) as http:
        versioned = await http.get(f"{url}/v1/campaigns/{city.campaign}", headers=admin)
        bare = await http.get(f"{url}/campaigns/{city.campaign}", headers=admin)
        assert versioned.status_code == bare.status_code == 200
        assert versioned.json() == bare.json()
        assert "deprecation" not in versioned.headers and bare.headers["deprecation"] == "true"
        assert (await http.get(f"{url}/v2/campaigns/{city.campaign}", headers=admin)).status_code == 404


@pytest.mark.parametrize("service", SERVICES)
async def test_a_preflight_from_the_web_app_succeeds_and_from_another_origin_fails(stack: Stack, service: str) -> None:
    url = stack.services[service].url + "/v1/school-units"
    asks = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization, accept-language"}
    async with httpx.AsyncClient(timeout=30) as http:
        allowed = await http.options(url, headers={"Origin": WEB_APP_ORIGIN, **asks})
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == WEB_APP_ORIGIN
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        refused = await http.options(url, headers={"Origin": "https://elak.example", **asks})
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
        assert refused.headers["content-type"].startswith("application/problem+json")
        answer = await http.get(url, headers={"Origin": WEB_APP_ORIGIN, **auth("city_admin")})
        assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == WEB_APP_ORIGIN
