"""The tokens `make run` prints, and the sign-ins it offers, do what their persona says: each demo persona is a
person of the demo city (devkit/demo/personas.py), with a development token from devkit/devstack.py and an access
token from the OpenID provider whose roles come from the demo city's data."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from devkit.city_cli import publish_envelopes
from devkit.demo.city import demo_city
from devkit.demo.personas import PASSWORD, TEACHER_SCHOOL, persona, persona_events, personas
from devkit.devstack import _tokens
from tests.support.kafka import eventually
from tests.support.oidc import User
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


async def test_the_demo_personas_tokens_and_sign_ins_work(stack: Stack) -> None:
    assert stack.oidc is not None
    await publish_envelopes(stack.bootstrap, demo_city())
    await publish_envelopes(stack.bootstrap, persona_events())
    printed = dict(_tokens(True))
    assert len(printed) == len(personas())
    stack.oidc.add_users([User(p.login, str(p.person), p.groups, PASSWORD) for p in personas()])
    signed_in = {p.login: await asyncio.to_thread(stack.oidc.token_for, p.login) for p in personas()}
    a, c, n = (stack.services[s].url for s in ("assessment", "catalog", "notification"))
    teacher, it = persona("larare"), persona("it")
    school = teacher.school_units[0]

    async with httpx.AsyncClient(timeout=30) as http:
        async def city_known() -> bool:  # the last persona event applied everywhere: the IT admin acts for the district
            r = await http.get(f"{c}/licences", headers={"Authorization": "Bearer " + signed_in["it"]})
            duty = await http.get(f"{a}/school-units/{school}", headers={"Authorization": "Bearer " + signed_in["larare"]})
            return r.status_code == 200 and duty.status_code == 200

        await eventually(city_known, timeout=120, what="the demo city and its personas in the services")
        for p in personas():
            for kind, token in (("printed", printed[p.label]), ("signed in", signed_in[p.login])):
                headers = {"Authorization": f"Bearer {token}"}
                # everyone reads their own inbox (staff too: their subject is their person id)
                r = await http.get(f"{n}/persons/{p.person}/messages", headers=headers)
                assert r.status_code == 200, (p.login, kind, r.status_code, r.text)
                # and what the persona is for
                if p.role == "teacher":
                    r = await http.post(f"{c}/requests", headers=headers, json={
                        "schoolUnitId": str(school), "newApp": {"name": f"Demoönskan {uuid.uuid4().hex[:8]}"}, "purpose": "Läsförståelse"})
                    assert r.status_code == 201, (p.login, kind, TEACHER_SCHOOL, r.status_code, r.text)
                elif p.role == "principal":
                    r = await http.get(f"{a}/school-units/{p.school_units[0]}/action-plan", headers=headers)
                    assert r.status_code == 200, (p.login, kind, r.text)
                elif p.role in ("district_admin", "it_admin"):
                    r = await http.get(f"{a if p.role == 'district_admin' else c}/"
                                       + (f"districts/{p.districts[0]}/assessments" if p.role == "district_admin" else "licences"),
                                       headers=headers)
                    assert r.status_code == 200, (p.login, kind, r.text)
                    listed = (await http.get(f"{c}/school-units", headers=headers, params={"limit": 500})).json()["items"]
                    assert str(school) in {u["id"] for u in listed}, (p.login, kind)  # the district's schools
                elif p.role == "data_protection":
                    r = await http.get(f"{n}/privacy/access-log", headers=headers, params={"person": str(persona("vardnadshavare").person)})
                    assert r.status_code == 200, (p.login, kind, r.text)
                elif p.role == "city_admin":
                    assert (await http.get(f"{a}/jobs", headers=headers)).status_code == 200, (p.login, kind)
        # the teacher of one school is no teacher of another
        other = next(u for u in (await http.get(f"{c}/school-units", headers={"Authorization": "Bearer " + signed_in["stadsadmin"]},
                                                params={"limit": 500})).json()["items"] if u["id"] != str(school))
        r = await http.post(f"{c}/requests", headers={"Authorization": "Bearer " + signed_in["larare"]},
                            json={"schoolUnitId": other["id"], "newApp": {"name": "Fel skola"}, "purpose": "Nej"})
        assert r.status_code == 403, r.text
        assert it.districts  # the IT admin's district comes from the IT-samordnare duty persona_events publishes
