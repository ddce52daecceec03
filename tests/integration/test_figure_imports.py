"""The imports of school figures and launch logs (connectors/imports) in the connector process (python -m
connectors.ss12000, with no SS 12000 API set: it serves the imports only) beside the session stack: a figures file
reaches reporting's API; the same file again publishes nothing and nothing is applied twice; a bad file is a 422 naming
every bad cell, with nothing in the outbox; a launch log lands one row per day in reporting."""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from connectors.imports import figures
from devkit.embedded import free_port
from devkit.process import ServiceProcess
from shared import problems
from shared.db import provision
from shared.events.assessment import AssessmentSubmitted, HeadingLevel, IndicatorLevel
from shared.events.city import OrganisationUpserted
from tests.support.city import school_unit
from tests.support.kafka import eventually, send, wire
from tests.support.sealing import unknown_ref
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration
YEAR = 2041  # a year no other test reports on


@dataclass
class Importer:
    url: str
    admin: asyncpg.Connection

    async def post(self, path: str, body: str, role: str | None = "city_admin") -> httpx.Response:
        """The body as Excel saves "CSV UTF-8": with a byte-order mark. ``role`` None: no token."""
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.post(self.url + path, content=body.encode("utf-8-sig"),
                                   headers={"Content-Type": "text/csv", **(auth(role) if role else {})})

    async def outbox(self, *ids: str) -> int:
        """How many of these events are in the connector's outbox (other tests' syncs share it)."""
        return int(await self.admin.fetchval("SELECT count(*) FROM connector.outbox WHERE id = ANY($1::uuid[])", list(ids)))

    async def sent(self, event_id: str) -> bool:
        return bool(await self.admin.fetchval("SELECT published_at IS NOT NULL FROM connector.outbox WHERE id = $1::uuid", event_id))


@pytest.fixture(scope="module")
async def importer(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Importer]:
    await provision(stack.admin_url, ("connector",))
    port = free_port()
    env = stack.env_for("connector") | {"SKOLIT_CONNECTOR_PORT": str(port)}  # no SKOLIT_SS12000_URL: imports only
    connector = ServiceProcess("connector", port, env, tmp_path_factory.mktemp("connector") / "connector.log",
                               argv=[sys.executable, "-m", "connectors.ss12000"])
    connector.start()
    admin = await asyncpg.connect(stack.admin_url)
    try:
        connector.wait_until(lambda c: c.get("/healthz").status_code == 200, "serving", 60)
        yield Importer(connector.url, admin)
    finally:
        await admin.close()
        connector.stop()


def submitted(school: uuid.UUID, district: uuid.UUID) -> AssessmentSubmitted:
    """A submission for the year, so reporting has a school report to show the figures in."""
    return AssessmentSubmitted(
        assessmentId=uuid.uuid4(), campaignId=uuid.uuid4(), schoolUnitId=school, districtId=district, year=YEAR, frameworkVersion=2,
        submittedAt=datetime(YEAR, 3, 1, 12, tzinfo=UTC), submittedBy=unknown_ref(), submission=1,
        indicators=[IndicatorLevel(indicatorId="INF-01", heading="infrastruktur", level=3)],
        headings=[HeadingLevel(heading="infrastruktur", level=3, mean=3.0, answered=1, notRelevant=0, indicators=1)])


async def consumed(url: str, outcome: str) -> float:
    """reporting's count of figure events taken from Kafka with this outcome (applied, duplicate), from its /metrics."""
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{url}/metrics")).text
    pattern = re.compile(r'^skolit_events_consumed_total\{([^}]*)\} ([0-9.e+]+)$', re.M)
    return sum(float(value) for labels, value in pattern.findall(text)
               if 'service="reporting"' in labels and 'topic="skolit.city.figures"' in labels and f'outcome="{outcome}"' in labels)


async def test_figures_reach_reporting_once_and_a_bad_file_publishes_nothing(stack: Stack, importer: Importer) -> None:
    reporting = stack.services["reporting"].url
    district, school = uuid.uuid4(), uuid.uuid4()
    await send(stack.bootstrap, [wire(e) for e in (
        OrganisationUpserted(id=district, displayName="Område Import", organisationType="Verksamhetsområde"),
        school_unit(school, district), submitted(school, district))])
    applied_before, duplicates_before = await consumed(reporting, "applied"), await consumed(reporting, "duplicate")

    # Swedish Excel's CSV UTF-8: a byte-order mark, semicolons, decimal commas, ja/nej
    sheet = f"name;schoolUnitId;year;wifiCoverage;devicesPerPupil;byodAllowed;pupils\nSkolan;{school};{YEAR};0,62;1,1;ja;412\n"
    first_id = figures.event_id(figures.figures_from_csv(sheet)[0])
    first = await importer.post("/imports/school-figures", sheet)
    assert first.status_code == 202, first.text
    assert first.json() == {"rows": 1, "events": 1, "published": 1, "alreadyImported": 0, "dryRun": False}
    assert await importer.outbox(first_id) == 1

    async def report() -> dict[str, Any] | None:
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.get(f"{reporting}/school-units/{school}/report", params={"year": YEAR}, headers=auth("city_admin"))
        rows = {i["code"]: i for i in r.json().get("indicatorFigures", [])} if r.status_code == 200 else {}
        return rows if rows.get("wifi-coverage", {}).get("value") is not None else None

    rows = await eventually(report, what="the imported figures in reporting's school report")
    assert rows["wifi-coverage"]["value"] == 0.62 and rows["wifi-coverage"]["meetsTarget"] is False
    assert rows["devices-per-pupil"]["value"] == 1.1 and rows["byod-allowed"]["value"] == 1.0  # ja is 1

    # the same file again: nothing new is staged …
    again = await importer.post("/imports/school-figures", sheet)
    assert again.status_code == 202 and again.json()["published"] == 0 and again.json()["alreadyImported"] == 1
    assert await importer.outbox(first_id) == 1
    # … and were it sent again (the relay republishing its history), reporting's inbox drops it: applied once only
    assert await importer.sent(first_id)
    await importer.admin.execute("UPDATE connector.outbox SET published_at = NULL WHERE id = $1::uuid", first_id)
    # a corrected figure (a new id, a later time) after it, on the same school's partition: applied, and it replaces
    corrected = sheet.replace("0,62", "0,97")
    assert (await importer.post("/imports/school-figures", corrected)).json()["published"] == 1

    async def corrected_shown() -> dict[str, Any] | None:
        rows = await report()
        return rows if rows and rows["wifi-coverage"]["value"] == 0.97 else None

    await eventually(corrected_shown, what="the corrected figure in the report")
    assert await importer.sent(first_id)  # the first import went out twice …
    assert await consumed(reporting, "applied") - applied_before == 2  # … and was applied once: it and the correction
    assert await consumed(reporting, "duplicate") - duplicates_before == 1  # the second copy of the first, dropped

    # a bad file: every bad cell named by row and column; nothing staged
    bad = (f"schoolUnitId;year;wifiCoverage;pupils;teachersTrainedShare\n{school};{YEAR + 2};1,5;412;0,5\n"
           f"not-an-id;{YEAR};0,5;41,5;\n{school};{YEAR + 1};;;\n")
    refused = await importer.post("/imports/school-figures", bad)
    assert refused.status_code == 422 and refused.headers["content-type"] == problems.MEDIA_TYPE
    assert [(e["row"], e["column"]) for e in refused.json()["errors"]] == [(2, "wifiCoverage"), (3, "schoolUnitId"), (3, "pupils"), (4, "")]
    assert refused.json()["errorCount"] == 4
    assert await importer.admin.fetchval("SELECT count(*) FROM connector.outbox WHERE key = $1 AND created_at > now() - interval '1 minute'",
                                         str(school).encode()) == 2  # the first import and the correction: nothing of the bad file
    assert (await importer.post("/imports/school-figures", sheet, role="district_admin")).status_code == 403
    assert (await importer.post("/imports/school-figures", sheet, role=None)).status_code == 401


async def test_a_launch_log_lands_one_count_per_day_and_again_changes_nothing(stack: Stack, importer: Importer) -> None:
    app, school = uuid.uuid4(), uuid.uuid4()
    days = [date(YEAR - 20, 10, 5), date(YEAR - 20, 10, 6)]  # days that have passed
    log = "appId,schoolUnitId,date,launches,activeUsers\n" + "".join(f"{app},{school},{d},{100 + i},{10 + i}\n" for i, d in enumerate(days))
    checked = await importer.post("/imports/app-launches?dryRun=true", log)
    assert checked.status_code == 200 and checked.json()["events"] == 2
    first = await importer.post("/imports/app-launches", log)
    assert first.status_code == 202 and first.json()["published"] == 2

    async def landed() -> list[asyncpg.Record] | None:
        rows = await importer.admin.fetch("SELECT period_start, period_end, launches FROM reporting.app_launch WHERE app_id = $1 ORDER BY period_start", app)
        return rows if len(rows) == 2 else None

    rows = await eventually(landed, what="the launch counts in reporting")
    assert [(r["period_start"], r["period_end"], r["launches"]) for r in rows] == [(days[0], days[0], 100), (days[1], days[1], 101)]
    again = await importer.post("/imports/app-launches", log)
    assert again.json()["published"] == 0 and again.json()["alreadyImported"] == 2
    assert await importer.admin.fetchval("SELECT count(*) FROM connector.outbox WHERE key = $1", str(school).encode()) == 2
