"""The run command's demo: the demo city plus an open self-assessment round with submitted assessments."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from shared.city.cli import publish_envelopes
from shared.city.demo import demo_city, demo_ids
from shared.demo_assessment import DRAFT, SUBMITTED, WITH_PULSE, seed
from shared.settings import DEV_JWT_SECRET
from tests.support.kafka import eventually
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

        # the follow-up sees the round: Söderort has two submitted schools, too few for a district figure
        reporting = stack.services["reporting"].url
        soderort = demo_ids()["districts"]["Söderort"]

        async def district_view() -> dict | None:
            body = (await http.get(f"{reporting}/districts/{soderort}/overview", headers=admin)).json()
            return body if body.get("submitted") == 2 else None

        body = await eventually(district_view, what="Söderort's overview in reporting")
        assert all(h["status"] == "suppressed" for h in body["headings"])

    again = await seed(url, DEV_JWT_SECRET)  # a restart without --reset finds the round and leaves it alone
    assert again == {"campaign": made["campaign"], "created": False}


async def test_the_demo_has_a_programbank_with_dpa_problems_licences_requests_and_usage(stack: Stack) -> None:
    from shared.demo_catalog import seed as seed_catalog

    await publish_envelopes(stack.bootstrap, demo_city())
    url = stack.services["catalog"].url
    made = await seed_catalog(url, DEV_JWT_SECRET, stack.bootstrap)
    assert made["created"] and made["apps"] == 66 and made["licences"] > 0 and made["requests"] == 5 and made["launchCounts"] > 0

    admin = auth("city_admin")
    async with httpx.AsyncClient(timeout=10) as http:
        everything = (await http.get(f"{url}/apps", params={"pageSize": 1, "status": ["approved", "approved_4_6", "pilot", "under_review",
                                                                                         "not_approved", "retired"]}, headers=admin)).json()
        assert everything["total"] >= 60
        dpa = {f["value"]: f["count"] for f in everything["facets"]["dpaStatus"]}
        assert dpa.get("expired", 0) >= 2 and dpa.get("missing", 0) + dpa.get("requested", 0) >= 3
        # approvals whose agreement ends within weeks: the DPA-expiry job will lapse them when the day comes
        approved = (await http.get(f"{url}/apps", params={"status": "approved", "dpaStatus": "signed", "pageSize": 100}, headers=admin)).json()["items"]
        assert sum(1 for a in approved if a["dpaExpires"] and a["dpaExpires"] < (date.today() + timedelta(days=30)).isoformat()) >= 3
        found = (await http.get(f"{url}/apps", params={"q": "matematik"}, headers=admin)).json()
        assert found["total"] >= 3
        demo_schools = {str(s) for s in demo_ids()["school_units"].values()}
        requests = [r for r in (await http.get(f"{url}/requests", headers=admin)).json()["items"] if r["schoolUnitId"] in demo_schools]
        assert sorted(r["state"] for r in requests) == ["acknowledged", "approved", "needs_info", "rejected", "submitted"]
        school = demo_ids()["school_units"]["Matteusskolan"]
        public = (await http.get(f"{url}/public/school-units/{school}/apps")).json()
        assert len(public["items"]) >= 10 and all(i["dataProcessingAgreement"] or not i["receivesPersonalData"] for i in public["items"])

        async def adoption() -> list | None:
            items = (await http.get(f"{url}/usage", params={"since": (date.today() - timedelta(days=120)).isoformat()}, headers=admin)).json()["items"]
            return items if len(items) >= 20 else None

        await eventually(adoption, what="launch counts for at least 20 apps in the catalog")

    again = await seed_catalog(url, DEV_JWT_SECRET, stack.bootstrap)
    assert again["created"] is False  # a restart without --reset leaves the programbank alone
