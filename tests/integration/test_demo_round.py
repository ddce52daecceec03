"""The run command's demo: the demo city plus an open self-assessment round with submitted assessments."""

from __future__ import annotations

from datetime import date, timedelta

import asyncpg
import httpx
import pytest

from devkit.city_cli import publish_envelopes
from devkit.demo.city import demo_city, demo_ids
from devkit.demo.assessment import DRAFT, SUBMITTED, WITH_PULSE, seed
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
        assert overview["campaign"]["status"] == "open" and len(overview["items"]) == overview["total"] == 36
        status = {i["schoolUnit"]["name"]: i for i in overview["items"]}
        assert sorted(n for n, i in status.items() if i["status"] == "submitted") == sorted(SUBMITTED)
        assert status[DRAFT]["status"] == "draft" and status[DRAFT]["answered"] == 12

        pulse_school = status[WITH_PULSE]["assessmentId"]
        pulse = (await http.get(f"{url}/assessments/{pulse_school}/pulse", headers=admin)).json()
        assert [(g["group"], g["respondents"], g["invited"]) for g in pulse["groups"]] == [("staff", 10, 12), ("pupils", 10, 12)]
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
    from devkit.demo.catalog import seed as seed_catalog

    await publish_envelopes(stack.bootstrap, demo_city())
    url = stack.services["catalog"].url
    made = await seed_catalog(url, DEV_JWT_SECRET, stack.bootstrap)
    assert made["created"] and made["apps"] == 66 and made["licences"] > 0 and made["requests"] == 5 and made["launchCounts"] > 0

    admin = auth("city_admin")
    async with httpx.AsyncClient(timeout=10) as http:
        everything = (await http.get(f"{url}/apps", params={"limit": 1, "status": ["approved", "approved_4_6", "pilot", "under_review",
                                                                                         "not_approved", "retired"]}, headers=admin)).json()
        assert everything["total"] >= 60
        dpa = {f["value"]: f["count"] for f in everything["facets"]["dpaStatus"]}
        assert dpa.get("expired", 0) >= 2 and dpa.get("missing", 0) + dpa.get("requested", 0) >= 3
        # approvals whose agreement ends within weeks: the DPA-expiry job will lapse them when the day comes
        approved = (await http.get(f"{url}/apps", params={"status": "approved", "dpaStatus": "signed", "limit": 500}, headers=admin)).json()["items"]
        assert sum(1 for a in approved if a["dpaExpires"] and a["dpaExpires"] < (date.today() + timedelta(days=30)).isoformat()) >= 3
        found = (await http.get(f"{url}/apps", params={"q": "matematik"}, headers=admin)).json()
        assert found["total"] >= 3
        demo_schools = {str(s) for s in demo_ids()["school_units"].values()}
        # the demo's own requests (test_demo_personas also asks, as the demo teacher, for apps named "Demoönskan …")
        requests = [r for r in (await http.get(f"{url}/requests", params={"limit": 500}, headers=admin)).json()["items"]
                    if r["schoolUnit"]["id"] in demo_schools and not r["appName"].startswith("Demoönskan")]
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


async def test_the_demo_guardians_have_contact_details_and_a_broadcast_from_the_rektor_arrives(stack: Stack) -> None:
    from uuid import uuid4

    from devkit.demo.notification import seed as seed_notification

    await publish_envelopes(stack.bootstrap, demo_city())
    url = stack.services["notification"].url
    made = await seed_notification(url, DEV_JWT_SECRET)
    assert made["created"] and made["guardians"] >= 1000
    assert made["email"] > made["push"] > made["sms"] > made["none"] > 0 and 0 < made["english"] < made["guardians"] / 2

    ids = demo_ids()
    school, rektor = ids["school_units"][DRAFT], ids["rektors"][DRAFT]
    principal = auth("principal", subject=str(rektor), school_units=(str(school),))
    audience = {"kind": "guardians", "schoolUnitIds": [str(school)]}
    async with httpx.AsyncClient(timeout=30) as http:
        preview = (await http.post(f"{url}/broadcasts/audience", json=audience, headers=principal)).json()
        assert preview["recipients"] > 10
        reached = preview["withContact"]
        assert reached["email"] > 0 and reached["push"] > 0 and reached["none"] < preview["recipients"]

        again = await seed_notification(url, DEV_JWT_SECRET)  # a restart without --reset leaves the details alone
        assert again["created"] is False and again["guardians"] == made["guardians"]

        # critical goes out at once whatever the time of day (quiet hours are bypassed, and logged)
        marker = f"demo-{uuid4()}"
        answer = await http.post(f"{url}/broadcasts", headers=principal, json={
            "audience": audience, "subject": "Skolan är stängd i dag", "body": f"Vattenläcka i matsalen. {marker}", "critical": True})
        assert answer.status_code == 201, answer.text
        assert answer.json()["recipients"] == preview["recipients"]

    assert stack.sinks is not None

    def demo_address(m: dict) -> bool:
        to = m["to"] if isinstance(m["to"], list) else [m["to"]]
        return any(t.endswith("@example.se") or t.startswith("demo-push-") or t.startswith("+46701") for t in to)

    async def arrived() -> list | None:
        found = [m for m in stack.sinks.messages() if marker in (m["body"] or "") and demo_address(m)]
        channels = {m["channel"] for m in found}
        return found if {"email", "push"} <= channels else None

    found = await eventually(arrived, what="the Rektor's critical broadcast at the mail catcher and the push sink")
    assert all(m["channel"] in ("email", "push", "sms") for m in found)

    # the right of access (issue 10): a demo guardian who just got the broadcast asks for everything Skolit holds
    # about them; the export has their relations, their contact details and the message, and no one else
    from shared.events.city import GuardianRelationAdded

    relations = [e.data for e in demo_city() if isinstance(e.data, GuardianRelationAdded)]
    by_guardian: dict[str, list] = {}
    for r in relations:
        by_guardian.setdefault(str(r.guardian), []).append(r)
    at_school = sorted(g for g, rs in by_guardian.items() if any(r.schoolUnit == school for r in rs))
    conn = await asyncpg.connect(stack.admin_url)
    try:  # one with contact details (the demo leaves a few without)
        guardian = str(await conn.fetchval("SELECT person FROM notification.contact WHERE person = ANY($1::uuid[]) ORDER BY person LIMIT 1", at_school))
    finally:
        await conn.close()
    own = auth("guardian", subject=guardian)
    async with httpx.AsyncClient(timeout=30) as http:
        asked = await http.post(f"{url}/privacy/access-requests", headers=own, json={"personId": guardian, "reasonCode": "data-subject-request"})
        assert asked.status_code == 202, asked.text
        status_url = url + asked.json()["statusUrl"]

        async def complete() -> dict | None:
            r = await http.get(status_url, headers=own)
            return r.json() if r.status_code == 200 else None

        export = await eventually(complete, timeout=60, what="the demo guardian's access export")
    mine = export["services"]["notification"]["tables"]
    assert export["person"] == guardian and set(export["services"]) == {"assessment", "catalog", "reporting", "notification"}
    assert {str(r["id"]) for r in mine["guardianRelations"]} == {str(r.id) for r in by_guardian[guardian]}
    assert mine["contactDetails"] and any(mine["contactDetails"][0].get(k) for k in ("email", "mobile", "pushToken"))
    assert any(marker in (m["body"] or "") for m in mine["messages"])
    others = {g for g in by_guardian if g != guardian}
    assert not any(o in str(export) for o in others)
