"""The run command's demo: the demo city plus an open self-assessment round with submitted assessments."""

from __future__ import annotations

import httpx
import pytest

from shared.city.cli import publish_envelopes
from shared.city.demo import demo_city, demo_ids
from shared.demo_assessment import DRAFT, SUBMITTED, WITH_PULSE, seed
from shared.settings import DEV_JWT_SECRET
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration


async def test_the_demo_has_an_open_round_with_submitted_assessments(stack: Stack) -> None:
    await publish_envelopes(stack.bootstrap, demo_city())
    url = stack.services["assessment"].url
    made = await seed(url, DEV_JWT_SECRET)
    assert made["created"] and made["submitted"] == list(SUBMITTED)

    schools = demo_ids()["school_units"]
    admin = auth("city_admin")
    async with httpx.AsyncClient(timeout=10) as http:
        overview = (await http.get(f"{url}/campaigns/{made['campaign']}/assessments", headers=admin)).json()
        assert overview["campaign"]["status"] == "open" and len(overview["items"]) == 36
        status = {i["schoolUnitName"]: i for i in overview["items"]}
        assert sorted(n for n, i in status.items() if i["status"] == "submitted") == sorted(SUBMITTED)
        assert status[DRAFT]["status"] == "draft" and status[DRAFT]["answered"] == 12

        pulse_school = status[WITH_PULSE]["assessmentId"]
        pulse = (await http.get(f"{url}/assessments/{pulse_school}/pulse", headers=admin)).json()
        assert [(g["group"], g["respondents"]) for g in pulse["groups"]] == [("staff", 7), ("pupils", 6)]
        plan = (await http.get(f"{url}/school-units/{schools[SUBMITTED[0]]}/action-plan", headers=admin)).json()["items"]
        assert len(plan) == 2 and all(a["assessmentId"] for a in plan)

    again = await seed(url, DEV_JWT_SECRET)  # a restart without --reset finds the round and leaves it alone
    assert again == {"campaign": made["campaign"], "created": False}
