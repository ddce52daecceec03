"""Data ownership (roles and grants) and HTTP authorisation: 401 vs 403, school scoping, problem JSON."""

from __future__ import annotations

from datetime import date

import asyncpg
import httpx
import pytest

from shared.settings import SERVICES
from tests.support.city import District
from tests.support.kafka import eventually, send, wire
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_role_reaches_only_its_own_schema(stack: Stack, service: str) -> None:
    conn = await asyncpg.connect(stack.service_url(service))
    try:
        # its own schema, via search_path: the unqualified name is the service's own table, and it can be read
        schema = await conn.fetchval("SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'inbox'::regclass")
        assert schema == service
        assert await conn.fetchval(f"SELECT (SELECT count(*) FROM inbox) = (SELECT count(*) FROM {service}.inbox)") is True  # one snapshot
        for other in SERVICES:
            if other == service:
                continue
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(f"SELECT * FROM {other}.inbox LIMIT 1")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(f"CREATE TABLE {other}.intruder (x int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.intruder (x int)")
    finally:
        await conn.close()


async def test_authentication_and_authorisation(stack: Stack) -> None:
    mine, other = District(), District()
    await send(stack.bootstrap, [wire(e) for e in mine.events(n_schools=1) + other.events(n_schools=1)])
    a = stack.services["assessment"].url
    school, foreign = str(mine.schools[0]), str(other.schools[0])
    body = {"name": "Runda", "year": date.today().year, "deadline": f"{date.today().year + 1}-01-31", "schoolUnitIds": [school]}
    async with httpx.AsyncClient(timeout=10) as http:
        await eventually(lambda: _ok(http, f"{a}/school-units/{foreign}"), what="school units in assessment")

        r = await http.post(f"{a}/campaigns", json=body)
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"].startswith("Bearer")
        r = await http.post(f"{a}/campaigns", json=body, headers={"Authorization": "Bearer not-a-jwt"})
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]

        r = await http.post(f"{a}/campaigns", json=body, headers=auth("teacher", school_units=(school,)))
        assert r.status_code == 403 and "district_admin" in r.json()["detail"]
        r = await http.post(f"{a}/campaigns", json={**body, "schoolUnitIds": [foreign]}, headers=auth("district_admin", districts=(str(mine.id),)))
        assert r.status_code == 403 and foreign in r.json()["detail"]
        r = await http.post(f"{a}/campaigns", json=body, headers=auth("district_admin", districts=(str(mine.id),)))
        assert r.status_code == 201

        principal = auth("principal", school_units=(school,))
        assert (await http.get(f"{a}/school-units/{school}", headers=principal)).status_code == 200
        r = await http.get(f"{a}/school-units/{foreign}", headers=principal)
        assert r.status_code == 403 and r.json()["title"] == "Forbidden"
        listed = (await http.get(f"{a}/school-units", headers=principal)).json()["items"]
        assert [s["id"] for s in listed] == [school]
        n = stack.services["notification"].url
        assert (await http.get(f"{n}/school-units/{foreign}/audience", headers=principal)).status_code == 403
        assert (await http.get(f"{n}/school-units/{school}/audience", headers=auth("guardian", school_units=(school,)))).status_code == 403


async def test_errors_are_problem_documents_without_internals(stack: Stack) -> None:
    a = stack.services["assessment"].url
    admin = auth("city_admin")
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.get(f"{a}/campaigns/00000000-0000-0000-0000-000000000000", headers=admin)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 404 and "does not exist" in r.json()["detail"]
        r = await http.post(f"{a}/campaigns", headers=admin, json={"name": "", "year": "x"})
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        assert {e["location"] for e in r.json()["errors"]} >= {"body.name", "body.year", "body.deadline"}
        r = await http.post(f"{a}/campaigns", headers=admin, json={"name": "X", "year": date.today().year, "deadline": "2000-01-01", "schoolUnitIds": ["00000000-0000-0000-0000-000000000001"]})
        assert r.status_code == 422 and "already passed" in r.json()["detail"]
        r = await http.get(f"{a}/campaigns/not-a-uuid", headers=admin)
        assert r.status_code == 422 and "Traceback" not in r.text


async def _ok(http: httpx.AsyncClient, url: str) -> bool:
    return (await http.get(url, headers=auth("city_admin"))).status_code == 200
