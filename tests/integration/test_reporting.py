"""Reporting's school report, built only from events on the broker: levels per heading and
indicator, change since the year before, missing vs zero, pulse suppression, reopening, redelivery
and who may read it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared.events.assessment import AssessmentReopened, AssessmentSubmitted, HeadingLevel, IndicatorLevel, PulseGroupResult, PulseHeading
from shared.events.city import OrganisationUpserted
from tests.support.city import school_unit
from tests.support.kafka import eventually, send, wire
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration
HEADINGS = ("infrastruktur", "digital-kompetens", "digitalt-innehall", "samarbete-kommunikation", "uppfoljning")


def submitted(school: uuid.UUID, district: uuid.UUID, year: int, levels: dict[str, int | None], *, assessment: uuid.UUID | None = None,
              submission: int = 1, pulse: list[PulseGroupResult] | None = None) -> AssessmentSubmitted:
    return AssessmentSubmitted(
        assessmentId=assessment or uuid.uuid4(), campaignId=uuid.uuid4(), schoolUnitId=school, districtId=district, year=year, frameworkVersion=2,
        submittedAt=datetime(year, 3, 1, 12, submission, tzinfo=UTC), submittedBy=str(uuid.uuid4()), submission=submission,
        indicators=[IndicatorLevel(indicatorId=f"{h[:3].upper()}-{i:02d}", heading=h, level=lv) for i, (h, lv) in enumerate(levels.items())],
        headings=[HeadingLevel(heading=h, level=lv, mean=float(lv) if lv else None, answered=1 if lv else 0, notRelevant=0, indicators=1)
                  for h, lv in levels.items()],
        pulse=pulse or [],
    )


async def test_a_school_report_from_events(stack: Stack) -> None:
    district, other_district, school, other_school = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    url = stack.services["reporting"].url
    this_year = submitted(school, district, 2026, {"infrastruktur": 3, "digital-kompetens": 2, "digitalt-innehall": None, "uppfoljning": 1},
                          pulse=[PulseGroupResult(group="staff", respondents=7, headings=[PulseHeading(heading="infrastruktur", mean=3.4)]),
                                 PulseGroupResult(group="pupils", respondents=3, headings=[PulseHeading(heading="infrastruktur")])])
    await send(stack.bootstrap, [wire(e) for e in (
        OrganisationUpserted(id=district, displayName="Område R", organisationType="Verksamhetsområde"),
        OrganisationUpserted(id=other_district, displayName="Område S", organisationType="Verksamhetsområde"),
        school_unit(school, district), school_unit(other_school, other_district),
        submitted(school, district, 2025, {"infrastruktur": 2, "digital-kompetens": 2, "digitalt-innehall": 1, "uppfoljning": 1}),
        this_year,
    )])
    principal = auth("principal", school_units=(str(school),))
    async with httpx.AsyncClient(timeout=10) as http:
        async def report() -> dict[str, Any] | None:
            r = await http.get(f"{url}/school-units/{school}/report", headers=principal)
            return r.json() if r.status_code == 200 and r.json()["year"] == 2026 and r.json()["previousYear"] == 2025 else None

        body = await eventually(report, what="the school's 2026 report")
        by_heading = {h["id"]: h for h in body["headings"]}
        assert [h["id"] for h in body["headings"]] == list(HEADINGS)  # every heading, answered or not
        assert by_heading["infrastruktur"] == {"id": "infrastruktur", "level": 3, "mean": 3.0, "missing": False, "previousLevel": 2, "change": 1}
        assert by_heading["digital-kompetens"]["change"] == 0  # no change is zero ...
        assert by_heading["digitalt-innehall"]["missing"] and by_heading["digitalt-innehall"]["level"] is None and by_heading["digitalt-innehall"]["change"] is None
        assert by_heading["samarbete-kommunikation"]["missing"] and by_heading["samarbete-kommunikation"]["previousLevel"] is None  # ... missing is not zero
        pulse = {g["group"]: g for g in body["pulse"]}
        staff, pupils = pulse["staff"], pulse["pupils"]
        assert staff["respondents"]["status"] == "shown" and staff["respondents"]["n"] == 7 and staff["headings"][0]["value"] == 3.4
        assert pupils["respondents"]["status"] == "suppressed" and pupils["respondents"]["value"] is None and pupils["respondents"]["n"] is None
        assert pupils["headings"][0]["status"] == "suppressed" and pupils["headings"][0]["value"] is None

        # reopened: the year stops counting until it is submitted again; an old redelivery changes nothing
        await send(stack.bootstrap, [wire(AssessmentReopened(assessmentId=this_year.assessmentId, campaignId=this_year.campaignId, schoolUnitId=school,
                                                             reopenedBy="admin", reopenedAt=datetime(2026, 3, 2, tzinfo=UTC), deadline="2026-04-01"))])

        async def only_last_year() -> bool:
            return (await http.get(f"{url}/school-units/{school}/report", headers=principal)).json().get("year") == 2025

        await eventually(only_last_year, what="the reopened 2026 assessment to stop counting")
        again = submitted(school, district, 2026, {"infrastruktur": 4}, assessment=this_year.assessmentId, submission=2)
        await send(stack.bootstrap, [wire(again), wire(this_year)])  # the first submission arrives again after the second

        async def resubmitted() -> dict[str, Any] | None:
            r = (await http.get(f"{url}/school-units/{school}/report", headers=principal)).json()
            return r if r.get("year") == 2026 else None

        body = await eventually(resubmitted, what="the second submission")
        assert {h["id"]: h["level"] for h in body["headings"]}["infrastruktur"] == 4
        assert (await http.get(f"{url}/school-units/{school}/report", params={"year": 2024}, headers=principal)).status_code == 404

        # who may read it
        for headers, expected in ((auth("district_admin", districts=(str(district),)), 200), (auth("city_admin"), 200),
                                  (auth("teacher", school_units=(str(school),)), 200), (auth("principal", school_units=(str(other_school),)), 403),
                                  (auth("district_admin", districts=(str(other_district),)), 403), (auth("guardian", school_units=(str(school),)), 403),
                                  ({}, 401)):
            assert (await http.get(f"{url}/school-units/{school}/report", headers=headers)).status_code == expected, headers
