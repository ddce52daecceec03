"""City events reach all four services; an HTTP call in one service produces an event another applies."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from tests.support.city import District, principal_and_family
from tests.support.kafka import eventually, send, wire
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration


async def test_new_school_unit_reaches_every_service_and_a_campaign_reaches_reporting(stack: Stack) -> None:
    district = District()
    events = district.events(n_schools=2)
    rektor, family = principal_and_family(district.schools[0])
    await send(stack.bootstrap, [wire(e) for e in events + family])
    admin = auth("city_admin")
    school = district.schools[0]

    async with httpx.AsyncClient(timeout=5) as http:

        async def held_everywhere() -> bool:
            codes = [(await http.get(f"{svc.url}/school-units/{school}", headers=admin)).status_code for svc in stack.services.values()]
            return all(c == 200 for c in codes)

        await eventually(held_everywhere, what="the school unit in all four services")
        body = (await http.get(f"{stack.services['catalog'].url}/school-units/{school}", headers=admin)).json()
        assert body["district"]["id"] == str(district.id)
        assert body["schoolTypes"] == ["GR"]

        async def audience() -> dict | None:
            r = await http.get(f"{stack.services['notification'].url}/school-units/{school}/audience", headers=admin)
            return r.json() if r.status_code == 200 and r.json()["guardians"] == 1 else None

        counts = await eventually(audience, what="the guardian relation in notification")
        assert counts["staffByDutyRole"] == {"Rektor": 1}

        # A district admin opens a campaign in assessment → CampaignOpened → reporting applies it.
        district_admin = auth("district_admin", districts=(str(district.id),))
        created = await http.post(
            f"{stack.services['assessment'].url}/campaigns",
            headers=district_admin,
            json={"name": "Självskattning", "year": date.today().year, "deadline": f"{date.today().year + 1}-01-31", "schoolUnitIds": [str(s) for s in district.schools]},
        )
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]

        async def in_reporting() -> dict | None:
            r = await http.get(f"{stack.services['reporting'].url}/campaigns", headers=district_admin)
            return next((c for c in r.json()["items"] if c["id"] == campaign_id), None)

        seen = await eventually(in_reporting, what="the campaign in reporting")
        assert seen["districts"] == [{"id": str(district.id), "displayName": f"Område {str(district.id)[:6]}", "schoolUnits": 2}]
