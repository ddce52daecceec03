"""The demo city in the test stack, as `make run` has it: the city's events, the personas, the figures, the
self-assessment round, the programbank and the guardians' contact details (the same seeders, devkit/demo/), and the
personas registered with the stack's OpenID provider. For the web app's browser tests (tests/web/)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from devkit.city_cli import publish_envelopes
from devkit.demo import assessment as demo_assessment
from devkit.demo import catalog as demo_catalog
from devkit.demo import notification as demo_notification
from devkit.demo.city import demo_city
from devkit.demo.personas import PASSWORD, persona, persona_events, personas
from devkit.demo.reporting import demo_figures
from shared.settings import DEV_JWT_SECRET
from tests.support.kafka import eventually
from tests.support.oidc import User
from tests.support.stack import Stack


async def load_demo(stack: Stack) -> dict[str, Any]:
    assert stack.oidc is not None
    await publish_envelopes(stack.bootstrap, demo_city())
    await publish_envelopes(stack.bootstrap, persona_events())
    await publish_envelopes(stack.bootstrap, demo_figures())
    stack.oidc.add_users([User(p.login, str(p.person), p.groups, PASSWORD) for p in personas()])
    it = await asyncio.to_thread(stack.oidc.token_for, "it")
    teacher = persona("larare")
    rektor = persona("rektor")
    a, c = stack.services["assessment"].url, stack.services["catalog"].url

    async with httpx.AsyncClient(timeout=30) as http:
        async def city_known() -> bool:  # the persona events applied: the IT admin acts for the district, the Rektor for the school
            r = await http.get(f"{c}/v1/licences", headers={"Authorization": "Bearer " + it})
            duty = await http.get(f"{a}/v1/school-units/{rektor.school_units[0]}",
                                  headers={"Authorization": "Bearer " + await asyncio.to_thread(stack.oidc.token_for, "rektor")})
            return r.status_code == 200 and duty.status_code == 200

        await eventually(city_known, timeout=180, what="the demo city and its personas in the services")
    made = {
        "assessment": await demo_assessment.seed(a, DEV_JWT_SECRET),
        "catalog": await demo_catalog.seed(c, DEV_JWT_SECRET, stack.bootstrap),
        "notification": await demo_notification.seed(stack.services["notification"].url, DEV_JWT_SECRET),
    }
    return {"made": made, "teacher_school": teacher.school_units[0], "rektor_school": rektor.school_units[0]}
