"""A small city every service knows, with the ids generated requests and walks need (school units, a round, an app)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import httpx

from shared.settings import SERVICES
from tests.support.city import District, principal_and_family
from tests.support.kafka import eventually, send, wire
from tests.support.stack import Stack, auth


@dataclass
class City:
    district: str
    schools: list[str]
    rektor: str
    guardian: str
    pupil: str
    campaign: str
    assessments: list[str]
    app: str

    def tokens(self) -> dict[str, dict[str, str]]:
        s, d = (self.schools[0],), (self.district,)
        return {
            "city_admin": auth("city_admin"),
            "district_admin": auth("district_admin", districts=d),
            "principal": auth("principal", subject=self.rektor, school_units=s),
            "teacher": auth("teacher", subject=str(uuid.uuid4()), school_units=s),
            "it_admin": auth("it_admin", school_units=s, districts=d),
            "data_protection": auth("data_protection"),
            "guardian": auth("guardian", subject=self.guardian, school_units=s),
            "anonymous": {},
        }

    def known_ids(self) -> dict[str, list[str]]:
        """Parameter name → ids that exist, so generated requests also reach past "not found"."""
        return {
            "school_unit_id": self.schools, "schoolUnitId": self.schools, "district_id": [self.district], "districtId": [self.district],
            "person_id": [self.guardian, self.rektor, self.pupil], "campaign_id": [self.campaign], "campaignId": [self.campaign],
            "assessment_id": self.assessments, "app_id": [self.app], "appId": [self.app],
        }


async def build_city(stack: Stack) -> City:
    """Two school units of one district, a Rektor and a family at the first, an open round and an app: every service knows them."""
    district = District()
    events = district.events(n_schools=2)
    rektor, family = principal_and_family(district.schools[0])
    events += family
    guardian, pupil = str(family[2].id), str(family[3].id)
    await send(stack.bootstrap, [wire(e) for e in events])
    admin = auth("city_admin")
    schools = [str(s) for s in district.schools]
    async with httpx.AsyncClient(timeout=10) as http:
        for name in SERVICES:
            url = stack.services[name].url

            async def known(url: str = url) -> bool:
                return all([(await http.get(f"{url}/school-units/{s}", headers=admin)).status_code == 200 for s in schools])

            await eventually(known, what=f"the city's school units in {name}")
        a, c = stack.services["assessment"].url, stack.services["catalog"].url
        r = await http.post(f"{a}/campaigns", headers=admin, json={"name": "Hostile input", "year": date.today().year,
                                                                    "deadline": f"{date.today().year + 1}-01-31", "schoolUnitIds": schools})
        assert r.status_code == 201, r.text
        campaign = r.json()["id"]
        listed = (await http.get(f"{a}/campaigns/{campaign}/assessments", headers=admin)).json()
        assessments = [i["assessmentId"] if "assessmentId" in i else i["id"] for i in listed["items"]]
        r = await http.post(f"{c}/apps", headers=admin, json={
            "name": f"Fuzzappen {uuid.uuid4().hex[:6]}", "supplier": "Hostile AB", "description": "A target for generated requests.",
            "url": "https://example.se/fuzz", "kind": "commercial", "costModel": "free", "freeUse": True, "subjects": ["MA"], "grades": ["4"],
            "schoolTypes": ["GR"], "platforms": ["web"], "languages": ["sv"], "headings": ["digitalt-innehall"], "keywords": []})
        assert r.status_code == 201, r.text
    return City(district=str(district.id), schools=schools, rektor=str(rektor), guardian=guardian, pupil=pupil, campaign=campaign,
                assessments=assessments, app=r.json()["id"])
