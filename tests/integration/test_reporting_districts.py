"""Issue 20 in reporting, over the live services and the broker: a district admin sees their own district's heat map and
annual report, and opens the report from a short-lived signed link without a bearer token; exports open right in
Swedish Excel (byte-order mark, the excel-sv variant, a kind column, Accept: text/csv honoured); an indicator answered
"not relevant" is reported as such."""

from __future__ import annotations

import csv
import io
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import httpx
import pytest

from services.reporting import links
from services.reporting.schemas import ReportLink, SchoolReport
from services.reporting.settings import DEV_LINK_SECRET
from shared.events.assessment import AssessmentSubmitted, HeadingLevel, IndicatorLevel
from shared.events.city import OrganisationUpserted
from tests.support.city import school_unit
from tests.support.kafka import eventually, send, wire
from tests.support.sealing import unknown_ref
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration
SVG_NS = "{http://www.w3.org/2000/svg}"
HEADINGS = ("infrastruktur", "digital-kompetens", "digitalt-innehall", "samarbete-kommunikation", "uppfoljning")
YEAR = 2061  # a year no other test submits for


def submitted(school: uuid.UUID, district: uuid.UUID, year: int, level: int, *, not_relevant: tuple[str, ...] = ()) -> AssessmentSubmitted:
    """Every heading at ``level`` with one indicator each; the headings in ``not_relevant`` answered "not relevant"."""
    return AssessmentSubmitted(
        assessmentId=uuid.uuid4(), campaignId=uuid.uuid4(), schoolUnitId=school, districtId=district, year=year, frameworkVersion=2,
        submittedAt=datetime(year, 3, 1, 12, tzinfo=UTC), submittedBy=unknown_ref(), submission=1,
        indicators=[IndicatorLevel(indicatorId=f"{h[:3].upper()}-{i:02d}", heading=h, level=None if h in not_relevant else level,
                                   notRelevant=h in not_relevant) for i, h in enumerate(HEADINGS)],
        headings=[HeadingLevel(heading=h, level=None if h in not_relevant else level, mean=None if h in not_relevant else float(level),
                               answered=0 if h in not_relevant else 1, notRelevant=1 if h in not_relevant else 0, indicators=1) for h in HEADINGS],
    )


class City:
    """Two districts of three schools each, every school submitted for YEAR (and the year before for district A)."""

    def __init__(self) -> None:
        self.a, self.b = uuid.uuid4(), uuid.uuid4()
        self.name_a, self.name_b = f"Område Nord {str(self.a)[:4]}", f"Område Syd {str(self.b)[:4]}"
        self.schools_a = [uuid.uuid4() for _ in range(3)]
        self.schools_b = [uuid.uuid4() for _ in range(3)]
        self.admin_a = auth("district_admin", districts=(str(self.a),))
        self.admin_b = auth("district_admin", districts=(str(self.b),))
        self.city = auth("city_admin")

    def events(self) -> list[Any]:
        events: list[Any] = [OrganisationUpserted(id=self.a, displayName=self.name_a, organisationType="Verksamhetsområde"),
                             OrganisationUpserted(id=self.b, displayName=self.name_b, organisationType="Verksamhetsområde")]
        for i, sid in enumerate(self.schools_a):
            events += [school_unit(sid, self.a, name=f"Norrskolan {i} {str(sid)[:4]}"), submitted(sid, self.a, YEAR, 2 + i),
                       submitted(sid, self.a, YEAR - 1, 2)]
        for i, sid in enumerate(self.schools_b):
            events += [school_unit(sid, self.b, name=f"Söderskolan {i} {str(sid)[:4]}"), submitted(sid, self.b, YEAR, 4)]
        return events


async def applied(http: httpx.AsyncClient, url: str, city: City) -> None:
    seen: list[Any] = []

    async def both() -> bool:
        for district, headers in ((city.a, city.admin_a), (city.b, city.admin_b)):
            r = await http.get(f"{url}/districts/{district}/overview", params={"year": YEAR}, headers=headers)
            seen[:] = [r.status_code, r.text[:300]]
            if r.status_code != 200 or r.json().get("submitted") != 3:
                return False
        return True

    try:
        await eventually(both, timeout=90, what="both districts' submissions in reporting")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last answer: {seen}") from None


async def test_a_district_admin_sees_their_districts_heat_map_and_annual_report(stack: Stack) -> None:
    url = stack.services["reporting"].url
    city = City()
    await send(stack.bootstrap, [wire(e) for e in city.events()])
    async with httpx.AsyncClient(timeout=30) as http:
        await applied(http, url, city)

        # the heat map: their district's schools (by name) × headings, with each school's level
        heat = await http.get(f"{url}/charts/heatmap.svg", params={"year": YEAR}, headers=city.admin_a)
        assert heat.status_code == 200, heat.text
        root = ElementTree.fromstring(heat.text)
        assert city.name_a in root[0].text and str(YEAR) in root[0].text
        cells = root.findall(f".//{SVG_NS}rect[@class='cell']")
        assert {c.get("data-row") for c in cells} == {str(s) for s in city.schools_a}  # not district B's schools
        assert len(cells) == 3 * len(HEADINGS) and all(c.get("data-status") == "shown" for c in cells)
        assert city.name_b not in heat.text and "Söderskolan" not in heat.text
        # the same with districtId; another district's is refused; the city admin may look at either
        assert (await http.get(f"{url}/charts/heatmap.svg", params={"year": YEAR, "districtId": str(city.a)}, headers=city.admin_a)).status_code == 200
        refused = await http.get(f"{url}/charts/heatmap.svg", params={"year": YEAR, "districtId": str(city.b)}, headers=city.admin_a)
        assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")
        b_for_city = ElementTree.fromstring((await http.get(f"{url}/charts/heatmap.svg", params={"year": YEAR, "districtId": str(city.b)},
                                                            headers=city.city)).text)
        assert {c.get("data-row") for c in b_for_city.findall(f".//{SVG_NS}rect[@class='cell']")} == {str(s) for s in city.schools_b}
        # the city admin's own view is still districts × headings
        whole = ElementTree.fromstring((await http.get(f"{url}/charts/heatmap.svg", params={"year": YEAR}, headers=city.city)).text)
        assert {str(city.a), str(city.b)} <= {c.get("data-row") for c in whole.findall(f".//{SVG_NS}rect[@class='cell']")}
        assert (await http.get(f"{url}/charts/heatmap.svg", params={"year": YEAR},
                               headers=auth("principal", school_units=(str(city.schools_a[0]),)))).status_code == 403

        # the annual report: their district's figure, their schools by name, the schools' heat map and the district's trend
        report = await http.get(f"{url}/annual-report/{YEAR}", headers=city.admin_a)
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
        text = report.text
        assert text.startswith("<!doctype html>") and city.name_a in text and city.name_b not in text
        assert all(f"Norrskolan {i}" in text for i in range(3)) and "Söderskolan" not in text
        assert "<td>3 <small>(+1,00)</small></td>" in text  # A's mean (2+3+4)/3 = 3, one level above the year before
        assert text.count("<svg") == 2 and "Områdets nivå per rubrik över åren" in text
        english = (await http.get(f"{url}/annual-report/{YEAR}", params={"lang": "en", "districtId": str(city.a)}, headers=city.admin_a)).text
        assert '<html lang="en">' in english and "level per heading (by name, not a ranking)" in english
        assert (await http.get(f"{url}/annual-report/{YEAR}", params={"districtId": str(city.b)}, headers=city.admin_a)).status_code == 403
        for_city = (await http.get(f"{url}/annual-report/{YEAR}", params={"districtId": str(city.b)}, headers=city.city)).text
        assert city.name_b in for_city and "Söderskolan 0" in for_city and "Norrskolan" not in for_city
        # the city's report is the city admin's alone
        whole_city = (await http.get(f"{url}/annual-report/{YEAR}", headers=city.city)).text
        assert city.name_a in whole_city and city.name_b in whole_city and "Stadens nivå per rubrik" in whole_city
        assert (await http.get(f"{url}/annual-report/{YEAR}", headers=auth("teacher", school_units=(str(city.schools_a[0]),)))).status_code == 403
        assert (await http.get(f"{url}/annual-report/{YEAR}")).status_code == 401


async def test_the_annual_report_opens_from_a_short_lived_signed_link_without_a_bearer_token(stack: Stack) -> None:
    url = stack.services["reporting"].url
    city = City()
    await send(stack.bootstrap, [wire(e) for e in city.events()])
    async with httpx.AsyncClient(timeout=30) as http:
        await applied(http, url, city)
        made = await http.post(f"{url}/annual-report/{YEAR}/links", json={"expiresInMinutes": 10, "lang": "en"}, headers=city.admin_a)
        assert made.status_code == 201, made.text
        link = ReportLink.model_validate(made.json())
        assert link.district is not None and link.district.id == city.a and link.district.displayName == city.name_a and link.year == YEAR
        assert 9 * 60 <= (link.expiresAt - datetime.now(UTC)).total_seconds() <= 10 * 60 + 5
        assert link.url.endswith(link.path) and link.path.startswith(f"/v1/annual-report/{YEAR}?sig=")
        sig = parse_qs(urlsplit(link.url).query)["sig"][0]

        # a browser with no token at all: the district's report, in the language asked for, kept out of caches
        opened = await http.get(link.url)
        assert opened.status_code == 200, opened.text
        assert '<html lang="en">' in opened.text and city.name_a in opened.text and city.name_b not in opened.text
        assert "no-store" in opened.headers["cache-control"] and opened.headers["referrer-policy"] == "no-referrer"
        # the bare (deprecated) path takes the same link
        assert (await http.get(f"{url}/annual-report/{YEAR}", params={"sig": sig})).status_code == 200

        # only that scope, year and lifetime
        other_scope = await http.get(f"{url}/annual-report/{YEAR}", params={"sig": sig, "districtId": str(city.b)})
        assert other_scope.status_code == 403 and "another scope" in other_scope.json()["detail"]
        assert (await http.get(f"{url}/annual-report/{YEAR - 1}", params={"sig": sig})).status_code == 403
        payload, mac = sig.split(".")
        now = int(time.time())
        widened = links._b64(f"v1:{YEAR}:city:{now + 600}".encode())  # the city's report, with A's signature
        forged = await http.get(f"{url}/annual-report/{YEAR}", params={"sig": f"{widened}.{mac}"})
        assert forged.status_code == 403 and "signature" in forged.json()["detail"]
        expired = links.sign(DEV_LINK_SECRET.encode(), links.Link(YEAR, city.a, now - 1))  # the stack's development key
        gone = await http.get(f"{url}/annual-report/{YEAR}", params={"sig": expired})
        assert gone.status_code == 403 and "expired" in gone.json()["detail"]
        garbage = await http.get(f"{url}/annual-report/{YEAR}", params={"sig": "not-a-token"})
        assert garbage.status_code == 422 and garbage.json()["field"] == "query.sig"

        # who may make which link
        assert (await http.post(f"{url}/annual-report/{YEAR}/links", json={"districtId": str(city.b)}, headers=city.admin_a)).status_code == 403
        assert (await http.post(f"{url}/annual-report/{YEAR}/links", json={}, headers=auth("teacher", school_units=(str(city.schools_a[0]),)))).status_code == 403
        assert (await http.post(f"{url}/annual-report/{YEAR}/links", json={})).status_code == 401
        two = auth("district_admin", districts=(str(city.a), str(city.b)))
        ambiguous = await http.post(f"{url}/annual-report/{YEAR}/links", json={}, headers=two)
        assert ambiguous.status_code == 422 and ambiguous.json()["field"] == "body.districtId"
        too_long = await http.post(f"{url}/annual-report/{YEAR}/links", json={"expiresInMinutes": 100_000}, headers=city.admin_a)
        assert too_long.status_code == 422 and "expiresInMinutes" in too_long.json()["field"]
        whole = ReportLink.model_validate((await http.post(f"{url}/annual-report/{YEAR}/links", json={}, headers=city.city)).json())
        assert whole.district is None
        city_report = (await http.get(whole.url)).text
        assert city.name_a in city_report and city.name_b in city_report and "Stadens nivå" in city_report
        b_link = ReportLink.model_validate((await http.post(f"{url}/annual-report/{YEAR}/links", json={"districtId": str(city.b)},
                                                            headers=city.city)).json())
        assert city.name_b in (await http.get(b_link.url)).text


def rows_of(content: bytes, delimiter: str) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf"), content[:20]  # the UTF-8 byte-order mark Excel needs
    return [r for r in csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=delimiter) if r and not r[0].startswith("#")]


async def test_exports_open_in_swedish_excel_and_honour_accept(stack: Stack) -> None:
    url = stack.services["reporting"].url
    city = City()
    await send(stack.bootstrap, [wire(e) for e in city.events()])
    async with httpx.AsyncClient(timeout=30) as http:
        await applied(http, url, city)
        overview = f"{url}/districts/{city.a}/overview"

        # the standard variant: BOM, commas, a first column saying what each row is
        standard = await http.get(overview, params={"year": YEAR, "format": "csv"}, headers=city.admin_a)
        rows = rows_of(standard.content, ",")
        assert rows[0][:3] == ["typ", "id", "namn"]
        kinds = {r[0] for r in rows[1:]}
        assert kinds == {"district", "school"}
        assert ["district", str(city.a), city.name_a, "infrastruktur", "Infrastruktur för ökad tillgänglighet", str(YEAR), "3", "2", "1"] in rows

        # the Swedish Excel variant: semicolons and decimal commas; the notes one cell each
        sv = await http.get(overview, params={"year": YEAR, "csv": "excel-sv"}, headers=city.admin_b)
        assert sv.status_code == 403  # (B's admin: not their district)
        sv = await http.get(overview, params={"year": YEAR, "csv": "excel-sv"}, headers=city.admin_a)
        assert sv.status_code == 200 and sv.headers["content-type"] == "text/csv; charset=utf-8"
        assert "excel-sv" in sv.headers["content-disposition"]
        text = sv.content.decode("utf-8-sig")
        assert all(len(r) == 1 for r in csv.reader(io.StringIO(text), delimiter=";") if r and r[0].startswith("#"))
        sv_rows = rows_of(sv.content, ";")
        assert sv_rows[0][:3] == ["typ", "id", "namn"] and len(sv_rows) == len(rows)
        assert ["district", str(city.a), city.name_a, "infrastruktur", "Infrastruktur för ökad tillgänglighet", str(YEAR), "3", "2", "1"] in sv_rows
        trends = rows_of((await http.get(f"{url}/districts/{city.a}/trends", params={"csv": "excel-sv"}, headers=city.admin_a)).content, ";")
        mine = [r for r in trends[1:] if r[2] == str(YEAR) and r[3] == "infrastruktur"]
        assert mine == [["district", str(city.a), str(YEAR), "infrastruktur", "Infrastruktur för ökad tillgänglighet", "3", "2", "1", "3"]]
        headings = rows_of((await http.get(f"{url}/headings/digitalt-innehall", params={"year": YEAR, "districtId": str(city.a), "csv": "excel-sv"},
                                           headers=city.admin_a)).content, ";")
        assert {r[0] for r in headings[1:]} == {"school"}

        # a decimal comma where the figure has decimals: B's mean over A and B in the city overview
        city_rows = rows_of((await http.get(f"{url}/overview", params={"year": YEAR, "csv": "excel-sv"}, headers=city.city)).content, ";")
        assert city_rows[1][0] == "city" and {r[0] for r in city_rows[1:]} == {"city", "district"}
        values = [r[6] for r in city_rows[1:] if r[0] == "city"]
        assert values and all("." not in v or v in (".", "..") for v in values) and any("," in v for v in values), values

        # content negotiation: Accept: text/csv gives CSV where format=csv would; ?format= wins
        negotiated = await http.get(overview, params={"year": YEAR}, headers={**city.admin_a, "Accept": "text/csv"})
        assert negotiated.headers["content-type"].startswith("text/csv") and rows_of(negotiated.content, ",") == rows
        assert "Accept" in negotiated.headers["vary"]
        excel = await http.get(overview, params={"year": YEAR}, headers={**city.admin_a, "Accept": "text/csv; variant=excel-sv"})
        assert rows_of(excel.content, ";") == sv_rows
        json_anyway = await http.get(overview, params={"year": YEAR, "format": "json"}, headers={**city.admin_a, "Accept": "text/csv"})
        assert json_anyway.headers["content-type"].startswith("application/json") and json_anyway.json()["submitted"] == 3
        browser = await http.get(overview, params={"year": YEAR}, headers={**city.admin_a, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert browser.headers["content-type"].startswith("application/json")
        report = await http.get(f"{url}/school-units/{city.schools_a[0]}/report", headers={**city.admin_a, "Accept": "text/csv"})
        assert report.headers["content-type"].startswith("text/csv") and rows_of(report.content, ",")[0][0] == "typ"

        # bad input is a clear problem naming the field
        both = await http.get(overview, params={"year": YEAR, "format": "json", "csv": "excel-sv"}, headers=city.admin_a)
        assert both.status_code == 422 and both.json()["field"] == "query.csv"
        unknown = await http.get(overview, params={"year": YEAR, "csv": "excel-de"}, headers=city.admin_a)
        assert unknown.status_code == 422 and "csv" in unknown.json()["field"]


async def test_an_indicator_answered_not_relevant_is_reported_as_such(stack: Stack) -> None:
    url = stack.services["reporting"].url
    district, school = uuid.uuid4(), uuid.uuid4()
    await send(stack.bootstrap, [wire(e) for e in (
        OrganisationUpserted(id=district, displayName="Område Relevans", organisationType="Verksamhetsområde"), school_unit(school, district),
        submitted(school, district, YEAR, 3, not_relevant=("samarbete-kommunikation",)),
    )])
    principal = auth("principal", school_units=(str(school),))
    async with httpx.AsyncClient(timeout=30) as http:
        async def report() -> dict[str, Any] | None:
            r = await http.get(f"{url}/school-units/{school}/report", headers=principal)
            return r.json() if r.status_code == 200 else None

        body = await eventually(report, what="the school's report")
        SchoolReport.model_validate(body)
        indicator = next(i for i in body["indicators"] if i["id"] == "SAM-03")
        assert indicator["notRelevant"] is True and indicator["missing"] is False and indicator["level"] is None
        heading = next(h for h in body["headings"] if h["id"] == "samarbete-kommunikation")
        assert heading["notRelevant"] is True and heading["missing"] is False  # every indicator of it: not relevant
        answered = next(i for i in body["indicators"] if i["id"] == "INF-00")
        assert answered["notRelevant"] is False and answered["level"] == 3
        lines = (await http.get(f"{url}/school-units/{school}/report", params={"format": "csv"}, headers=principal)).content.decode("utf-8-sig").splitlines()
        assert f"indicator,SAM-03,{YEAR},not-relevant,.,." in lines and f"heading,samarbete-kommunikation,{YEAR},not-relevant,.,." in lines
