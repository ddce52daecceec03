"""Security over the live services: the authorisation matrix (every endpoint × every role × own or
other school), refused tokens, and hostile text stored as text.

The matrix in ROWS is the written-down access policy. For each endpoint of each service's OpenAPI it
names the roles that get through as the person of the side that owns the resource ("own": its school
unit and district) and as the person of the other side ("other"); everyone else gets 403, and no token
401. The callers are persons of the matrix city signed in with the stack's OpenID provider: their
roles come from their duties, guardian relations and IdP groups (tests/support/matrix.py), never from
the token. A new endpoint without a row fails ``test_the_matrix_covers_every_documented_endpoint`` by name.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.assessment.framework import published
from services.notification.settings import DEV_CALLBACK_TOKEN
from shared.auth import AuthError, Verifier, mint
from shared.clock import city_today
from shared.events.assessment import AssessmentSubmitted, HeadingLevel, IndicatorLevel
from shared.settings import DEV_JWT_SECRET
from tests.support.kafka import eventually, send, wire
from tests.support.matrix import ROLES, Row, World, openapi_routes, operator_listing, publish_world, roles, run
from tests.support.sealing import unknown_ref
from tests.support.stack import Stack, auth
from tests.support.jwks import jwks_server, public_jwk

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")]

THIS_YEAR = date.today().year
DEADLINE = f"{THIS_YEAR + 1}-03-31"
TODAY = city_today()
REPORT_YEAR = 2077  # a year no other test submits for: the city-wide views and the publication cover only this test's school
HEADINGS = ("infrastruktur", "digital-kompetens", "digitalt-innehall", "samarbete-kommunikation", "uppfoljning")
CSV_HEADER = "name;supplier;description;subjects;grades;schoolTypes;platforms;languages;headings;status;dataCategories;dpaStatus;dpaSigned;dpaExpires;processingCountries;freeUse\n"

ALL = roles(*ROLES)
NONE: frozenset[str] = frozenset()
CITY = roles("city_admin")
# assessment and reporting: who reads a school's self-assessment (its staff, its district, the city)
READERS = roles("teacher", "principal", "district_admin", "city_admin")
# catalog: every staff role reads the programbank
STAFF = roles("teacher", "principal", "district_admin", "it_admin", "data_protection", "city_admin")
EDITORS = roles("it_admin", "city_admin")
SENDERS = roles("principal", "district_admin", "city_admin")


def tag() -> str:
    return uuid.uuid4().hex[:10]


def app_body(name: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name, "supplier": "Matrisleverantören AB", "description": "Eleverna tränar matematik med korta spel.",
        "url": "https://example.se/matris", "kind": "commercial", "costModel": "per_pupil", "freeUse": False,
        "subjects": ["MA"], "grades": ["4", "5", "6"], "schoolTypes": ["GR"], "platforms": ["web"], "languages": ["sv"],
        "headings": ["digitalt-innehall"], "keywords": [], "dataProtection": {"dataCategories": []},
    }
    body.update(overrides)
    return body


def full_answers(assessment: dict[str, Any]) -> list[dict[str, Any]]:
    framework = published()[assessment["frameworkVersion"]]
    return [{"indicatorId": i, "notRelevant": True} if framework.by_id[i].allowNotRelevant else {"indicatorId": i, "level": 3}
            for i in assessment["indicators"]]


def submitted_event(school: uuid.UUID, district: uuid.UUID, year: int) -> AssessmentSubmitted:
    return AssessmentSubmitted(
        assessmentId=uuid.uuid4(), campaignId=uuid.uuid4(), schoolUnitId=school, districtId=district, year=year, frameworkVersion=2,
        submittedAt=datetime(year, 3, 1, 12, tzinfo=UTC), submittedBy=unknown_ref(), submission=1,
        indicators=[IndicatorLevel(indicatorId=f"X{n}-01", heading=h, level=3) for n, h in enumerate(HEADINGS)],
        headings=[HeadingLevel(heading=h, level=3, mean=3.0, answered=1, notRelevant=0, indicators=1) for h in HEADINGS],
    )


async def expect(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.request.method, str(r.request.url), r.status_code, r.text)
    return r.json()


@dataclass
class Ctx:
    """The live stack, the city and the resources the matrix reads; makes throwaway ones for side-effecting rows."""

    stack: Stack
    http: httpx.AsyncClient
    world: World
    values: dict[str, Any]

    def url(self, service: str) -> str:
        return self.stack.services[service].url

    @property
    def school(self) -> str:
        return str(self.world.own.school)

    async def campaign(self) -> dict[str, Any]:
        body = {"name": f"Matris {tag()}", "year": THIS_YEAR, "deadline": DEADLINE, "schoolUnitIds": [self.school]}
        return await expect(await self.http.post(f"{self.url('assessment')}/campaigns", json=body, headers=self.world.own.auth("district_admin")), 201)

    async def fresh_campaign(self) -> dict[str, Any]:
        return {"campaign_id": (await self.campaign())["id"]}

    async def draft(self) -> dict[str, Any]:
        campaign = await self.campaign()
        url = f"{self.url('assessment')}/campaigns/{campaign['id']}/school-units/{self.school}/assessment"
        return await expect(await self.http.get(url, headers=self.world.own.auth("principal")), 200)

    async def fresh_answered(self) -> dict[str, Any]:
        a = await self.draft()
        await expect(await self.http.put(f"{self.url('assessment')}/assessments/{a['id']}/answers", json={"answers": full_answers(a)},
                                         headers=self.world.own.auth("principal")), 200)
        return {"assessment_id": a["id"]}

    async def fresh_submitted(self) -> dict[str, Any]:
        values = await self.fresh_answered()
        await expect(await self.http.post(f"{self.url('assessment')}/assessments/{values['assessment_id']}/submit",
                                          headers=self.world.own.auth("principal")), 200)
        return values

    async def fresh_invitation(self) -> dict[str, Any]:
        """One single-use pulse code for the school's draft of the matrix round (issued by its Rektor)."""
        r = await self.http.post(f"{self.url('assessment')}/assessments/{self.values['assessment_id']}/pulse/invitations",
                                 json={"group": "staff", "count": 1}, headers=self.world.own.auth("principal"))
        return {"code": (await expect(r, 201))["codes"][0]}

    async def fresh_app(self) -> dict[str, Any]:
        r = await self.http.post(f"{self.url('catalog')}/apps", json=app_body(f"Matrisappen {tag()}"), headers=self.world.own.auth("it_admin"))
        return {"app_id": (await expect(r, 201))["id"]}

    async def fresh_licence(self) -> dict[str, Any]:
        body = {"appId": self.values["app_id"], "schoolUnitIds": [self.school], "type": "school", "starts": TODAY.isoformat(),
                "expires": (TODAY + timedelta(days=365)).isoformat()}
        r = await self.http.post(f"{self.url('catalog')}/licences", json=body, headers=auth("city_admin"))
        return {"licence_id": (await expect(r, 201))["items"][0]["id"]}

    async def fresh_request(self) -> dict[str, Any]:
        body = {"schoolUnitId": self.school, "newApp": {"name": f"Önskad app {tag()}"}, "purpose": "Läsförståelse i årskurs 4"}
        r = await self.http.post(f"{self.url('catalog')}/requests", json=body, headers=self.world.own.auth("teacher"))
        return {"request_id": (await expect(r, 201))["id"]}


def _campaign_body(v: dict[str, Any], caller: str) -> dict[str, Any]:
    return {"name": f"Matris {caller}", "year": THIS_YEAR, "deadline": DEADLINE, "schoolUnitIds": [v["school_unit_id"]]}


def _licence_body(v: dict[str, Any], caller: str) -> dict[str, Any]:
    return {"appId": v["app_id"], "schoolUnitIds": [v["school_unit_id"]], "type": "school", "starts": TODAY.isoformat(),
            "expires": (TODAY + timedelta(days=365)).isoformat()}


def _audience(v: dict[str, Any], caller: str = "") -> dict[str, Any]:
    return {"kind": "guardians", "schoolUnitIds": [v["school_unit_id"]]}


def common(service: str) -> list[Row]:
    """What every service serves: operations (no login) and the school units it knows (shared/city/routes.py)."""
    return [
        Row(service, "GET", "/healthz", public=True),
        Row(service, "GET", "/readyz", public=True),
        Row(service, "GET", "/asyncapi.json", public=True),
        # any valid token lists the school units it acts for: never the other side's
        Row(service, "GET", "/school-units", own=ALL, other=ALL, hide="school_unit_id"),
        # the caller themselves (the web app's start page): every signed-in person
        Row(service, "GET", "/me", own=ALL, other=ALL),
        # the caller's own units (any role), the district roles' districts, the city: the unit's name and code only.
        # The data-protection officer is city-wide by an IdP group but acts for no school unit (the city's data gives
        # them none; a development token used to carry the school), so a unit's card is not theirs
        Row(service, "GET", "/school-units/{school_unit_id}", own=roles(*(r for r in ROLES if r != "data_protection")), other=CITY),
    ]


def jobs(service: str, job: str) -> list[Row]:
    """shared/jobs.py: city admins list and run a service's scheduled jobs."""
    return [
        Row(service, "GET", "/jobs", own=CITY, other=CITY),
        Row(service, "POST", "/jobs/{name}/run", own=CITY, other=CITY, params=(("name", job),), body={}, serial=True),
    ]


ROWS: list[Row] = [
    # --- assessment: a school's self-assessment is read by its staff, its district's admins and the city;
    #     written only by its Rektor by the city's duty data; reopened only by a district admin of its district.
    *common("assessment"),
    Row("assessment", "GET", "/frameworks", own=ALL, other=ALL),
    Row("assessment", "GET", "/frameworks/{version}", own=ALL, other=ALL),
    Row("assessment", "GET", "/frameworks/{version}/carry-forward", own=ALL, other=ALL, params=(("version", 2),)),
    Row("assessment", "GET", "/campaigns", own=READERS, other=READERS, hide="campaign_id"),
    Row("assessment", "POST", "/campaigns", own=roles("district_admin", "city_admin"), other=CITY, ok=201, body=_campaign_body),
    Row("assessment", "POST", "/campaigns/{campaign_id}/close", own=roles("district_admin", "city_admin"), other=CITY, fresh=Ctx.fresh_campaign),
    Row("assessment", "GET", "/campaigns/{campaign_id}", own=READERS, other=CITY),
    Row("assessment", "GET", "/campaigns/{campaign_id}/assessments", own=READERS, other=CITY),
    Row("assessment", "GET", "/assessments/{assessment_id}", own=READERS, other=CITY),
    Row("assessment", "GET", "/campaigns/{campaign_id}/school-units/{school_unit_id}/assessment", own=READERS, other=CITY),
    Row("assessment", "PUT", "/assessments/{assessment_id}/answers", own=roles("principal"), other=NONE,
        body={"answers": [{"indicatorId": "INF-01", "level": 2, "comment": "Matris"}]}),
    Row("assessment", "POST", "/assessments/{assessment_id}/submit", own=roles("principal"), other=NONE, fresh=Ctx.fresh_answered),
    Row("assessment", "POST", "/assessments/{assessment_id}/reopen", own=roles("district_admin"), other=NONE, fresh=Ctx.fresh_submitted,
        body={"reason": "Rektor vill komplettera"}),
    Row("assessment", "GET", "/assessments/{assessment_id}/guidance", own=READERS, other=CITY),
    Row("assessment", "GET", "/assessments/{assessment_id}/audit", own=roles("principal", "district_admin", "city_admin"), other=CITY),
    # the pulse (docs/decisions/0016): single-use invitations issued by the Rektor, answered without login (a fresh code per
    # cell: each answers once); results read by the school's leadership and its district and city, not by teachers
    Row("assessment", "POST", "/assessments/{assessment_id}/pulse/invitations", own=roles("principal"), other=NONE, ok=201,
        body={"group": "staff", "count": 2}),
    Row("assessment", "GET", "/pulse/{code}", public=True),
    Row("assessment", "POST", "/pulse/{code}", public=True, ok=202, body={"answers": {"infrastruktur": 3}}, fresh=Ctx.fresh_invitation),
    Row("assessment", "GET", "/assessments/{assessment_id}/pulse", own=roles("principal", "district_admin", "city_admin"), other=CITY),
    Row("assessment", "GET", "/school-units/{school_unit_id}/action-plan", own=READERS, other=CITY),
    Row("assessment", "POST", "/school-units/{school_unit_id}/actions", own=roles("principal"), other=NONE, ok=201,
        body={"heading": "uppfoljning", "title": "Årshjul för uppföljning", "owner": "Rektor", "successCriterion": "Årshjulet är beslutat"}),
    Row("assessment", "PATCH", "/actions/{action_id}", own=roles("principal"), other=NONE, body={"status": "in_progress"}),
    Row("assessment", "GET", "/school-units/{school_unit_id}/assessments", own=READERS, other=CITY),
    Row("assessment", "GET", "/districts/{district_id}/assessments", own=roles("district_admin", "city_admin"), other=CITY),
    Row("assessment", "GET", "/actions/{action_id}/audit", own=roles("principal", "district_admin", "city_admin"), other=CITY),
    *jobs("assessment", "retention"),
    *operator_listing("assessment"),

    # --- catalog: the programbank is city-wide (staff read it, IT admins describe apps, the data-protection
    #     function signs off); licences and requests belong to a school unit.
    *common("catalog"),
    *jobs("catalog", "licence-notices"),
    *operator_listing("catalog"),
    Row("catalog", "POST", "/apps/import", own=EDITORS, other=EDITORS, query=(("dryRun", "true"),),
        csv=lambda v, c: CSV_HEADER + f"Importmatris {v['tag']};L;D;MA;4;GR;web;sv;uppfoljning;under_review;;;;;;nej\n"),
    Row("catalog", "GET", "/apps/export", own=STAFF, other=STAFF, query=(("format", "json"),)),
    Row("catalog", "GET", "/apps", own=STAFF, other=STAFF, query=(("q", "matematik"),)),
    Row("catalog", "POST", "/apps", own=EDITORS, other=EDITORS, ok=201, body=lambda v, c: app_body(f"Matrisappen {v['tag']}")),
    Row("catalog", "GET", "/vocabulary", public=True),
    Row("catalog", "GET", "/statuses", own=STAFF, other=STAFF),
    Row("catalog", "POST", "/statuses", own=CITY, other=CITY, ok=201,
        body=lambda v, c: {"code": f"m_{v['tag']}", "labelSv": "Matris", "labelEn": "Matrix", "allowsUse": False}),
    Row("catalog", "GET", "/apps/{app_id}", own=STAFF, other=STAFF),
    Row("catalog", "PATCH", "/apps/{app_id}", own=EDITORS, other=EDITORS, body={"accessibility": "Talsyntes"}),
    Row("catalog", "PUT", "/apps/{app_id}/data-protection", own=roles("data_protection", "city_admin"), other=roles("data_protection", "city_admin"),
        body={"dataCategories": []}),
    Row("catalog", "POST", "/apps/{app_id}/status", own=roles("it_admin", "data_protection", "city_admin"),
        other=roles("it_admin", "data_protection", "city_admin"), fresh=Ctx.fresh_app, body={"status": "pilot"}),
    Row("catalog", "GET", "/apps/{app_id}/audit", own=roles("it_admin", "data_protection", "city_admin"), other=roles("it_admin", "data_protection", "city_admin")),
    # the apps a school may use are public (the guardian view), so any staff role may ask for any school
    Row("catalog", "GET", "/school-units/{school_unit_id}/apps", own=STAFF, other=STAFF),
    Row("catalog", "POST", "/licences", own=EDITORS, other=CITY, ok=201, body=_licence_body),
    Row("catalog", "GET", "/licences", own=STAFF, other=STAFF, hide="licence_id", sees_all=roles("city_admin", "data_protection")),
    Row("catalog", "DELETE", "/licences/{licence_id}", own=EDITORS, other=CITY, fresh=Ctx.fresh_licence),
    Row("catalog", "POST", "/requests", own=roles("teacher", "principal"), other=NONE, ok=201,
        body=lambda v, c: {"schoolUnitId": v["school_unit_id"], "newApp": {"name": f"Önskan {v['tag']}"}, "purpose": "Matris"}),
    Row("catalog", "GET", "/requests", own=STAFF, other=STAFF, hide="request_id", sees_all=roles("city_admin", "data_protection")),
    # the requester (the own teacher), the school's principal and district admin follow it; reviewers review it
    Row("catalog", "GET", "/requests/{request_id}", own=STAFF, other=roles("data_protection", "city_admin")),
    Row("catalog", "POST", "/requests/{request_id}/actions", own=roles("it_admin", "data_protection", "city_admin"),
        other=roles("data_protection", "city_admin"), fresh=Ctx.fresh_request, body={"action": "acknowledge"}),
    Row("catalog", "GET", "/usage", own=STAFF, other=STAFF),
    Row("catalog", "GET", "/apps/{app_id}/usage", own=STAFF, other=STAFF),
    Row("catalog", "GET", "/public/school-units/{school_unit_id}/apps", public=True),

    # --- reporting: a school's report for its staff, its district and the city; district views for the
    #     district's admins; city views for city admins.
    *common("reporting"),
    Row("reporting", "GET", "/campaigns", own=roles("district_admin", "city_admin"), other=roles("district_admin", "city_admin"), hide="campaign_id"),
    Row("reporting", "GET", "/school-units/{school_unit_id}/history", own=READERS, other=CITY),
    Row("reporting", "GET", "/school-units/{school_unit_id}/report", own=READERS, other=CITY),
    Row("reporting", "GET", "/school-units/{school_unit_id}/similar", own=READERS, other=CITY),
    Row("reporting", "GET", "/districts/{district_id}/overview", own=roles("district_admin", "city_admin"), other=CITY),
    Row("reporting", "GET", "/overview", own=CITY, other=CITY),
    Row("reporting", "GET", "/headings/{heading}", own=roles("district_admin", "city_admin"), other=CITY, query=(("districtId", "{district_id}"),)),
    Row("reporting", "GET", "/districts/{district_id}/trends", own=roles("district_admin", "city_admin"), other=CITY),
    Row("reporting", "GET", "/trends", own=CITY, other=CITY),
    Row("reporting", "GET", "/indicators", own=READERS, other=READERS),
    Row("reporting", "POST", "/indicators", own=CITY, other=CITY, ok=201,
        body=lambda v, c: {"code": f"matris-{v['tag']}", "metric": "matrixFigure", "unit": "count", "name": {"sv": "Matris", "en": "Matrix"}}),
    Row("reporting", "GET", "/school-units/{school_unit_id}/charts/radar.svg", own=READERS, other=CITY),
    Row("reporting", "GET", "/school-units/{school_unit_id}/charts/trend.svg", own=READERS, other=CITY),
    # issue 20: a district admin reads their own district's heat map and annual report (the schools of the district; without
    # districtId their own districts), so the own side's district admin now gets 200 and the other side's a 403 for this
    # district; the city's whole view stays the city admin's. A signed link (?sig=) is tested in test_reporting_districts.py.
    Row("reporting", "GET", "/charts/heatmap.svg", own=roles("district_admin", "city_admin"), other=CITY, query=(("districtId", "{district_id}"),)),
    Row("reporting", "GET", "/annual-report/{year}", own=roles("district_admin", "city_admin"), other=CITY, query=(("districtId", "{district_id}"),)),
    Row("reporting", "POST", "/annual-report/{year}/links", own=roles("district_admin", "city_admin"), other=CITY, ok=201,
        body=lambda v, c: {"districtId": v["district_id"]}),
    Row("reporting", "POST", "/annual-report/{year}/publish", own=CITY, other=CITY, serial=True),
    *jobs("reporting", "retention"),
    *operator_listing("reporting"),

    # --- notification: broadcasts and worklists for the school's principal, its district and the city;
    #     a person's own preferences and inbox for that person and city admins; contact details for city admins.
    *common("notification"),
    *jobs("notification", "digests"),
    *operator_listing("notification"),
    Row("notification", "GET", "/school-units/{school_unit_id}/audience", own=SENDERS, other=CITY),
    Row("notification", "PUT", "/persons/{person_id}/contacts", own=CITY, other=CITY, body=lambda v, c: {"email": f"m{v['tag']}@example.se"}),
    Row("notification", "GET", "/persons/{person_id}/contacts", own=CITY, other=CITY, query=(("reason", "support"),)),
    Row("notification", "PUT", "/contacts", own=CITY, other=CITY,
        body=lambda v, c: {"items": [{"personId": v["person_id"], "email": f"m{v['tag']}@example.se"}]}),
    # self-service (routes/me.py): every signed-in person, for themselves only; nothing pending and no such device are 404s
    # (these rows come before the changes below: rows run in order)
    Row("notification", "GET", "/me/contacts", own=ALL, other=ALL),
    Row("notification", "POST", "/me/contacts/{channel}/confirm", own=ALL, other=ALL, ok=404, params=(("channel", "phone"),),
        body={"code": "123456"}),
    Row("notification", "DELETE", "/me/contacts/{channel}", own=ALL, other=ALL, ok=404, params=(("channel", "phone"),)),
    Row("notification", "DELETE", "/me/devices/{device_id}", own=ALL, other=ALL, ok=404, params=(("device_id", uuid.uuid4()),)),
    Row("notification", "GET", "/me/devices", own=ALL, other=ALL),
    Row("notification", "POST", "/me/devices", own=ALL, other=ALL, ok=201,
        body=lambda v, c: {"label": f"Telefon {c}", "platform": "android", "token": f"matrix-{v['tag']}-{uuid.uuid4().hex}"}),
    Row("notification", "PUT", "/me/contacts/email", own=ALL, other=ALL, ok=202, body=lambda v, c: {"email": f"m{v['tag']}@example.se"}),
    Row("notification", "PUT", "/me/contacts/phone", own=ALL, other=ALL, ok=202, body={"phone": "+46701234567"}),
    # "own" guardian is the person; "other" guardian is someone else's
    Row("notification", "GET", "/persons/{person_id}/preferences", own=roles("guardian", "city_admin"), other=CITY),
    Row("notification", "PUT", "/persons/{person_id}/preferences", own=roles("guardian", "city_admin"), other=CITY, body={"language": "sv"}),
    # someone else's inbox needs a reason (the guardian's own does not, and may give one)
    Row("notification", "GET", "/persons/{person_id}/messages", own=roles("guardian", "city_admin"), other=CITY, query=(("reason", "support"),)),
    Row("notification", "POST", "/persons/{person_id}/messages/{message_id}/read", own=roles("guardian", "city_admin"), other=CITY),
    Row("notification", "POST", "/broadcasts/audience", own=SENDERS, other=CITY, body=_audience),
    Row("notification", "POST", "/broadcasts", own=SENDERS, other=CITY, ok=201,
        body=lambda v, c: {"audience": _audience(v), "subject": f"Matris {c}", "body": "Ett test av behörigheter."}),
    # the own principal sent it
    Row("notification", "GET", "/broadcasts/{broadcast_id}", own=SENDERS, other=CITY),
    # every sender lists their own broadcasts (a city admin everyone's): the other side never sees the own principal's
    Row("notification", "GET", "/broadcasts", own=SENDERS, other=SENDERS, hide="broadcast_id"),
    Row("notification", "GET", "/broadcasts/{broadcast_id}/receipts", own=SENDERS, other=CITY,
        query=(("schoolUnitId", "{school_unit_id}"), ("reason", "delivery-problem"))),
    # gateways authenticate with their own shared token: no user token of any role is one
    Row("notification", "POST", "/gateways/{channel}/callbacks", everyone=401, params=(("channel", "email"),),
        body=lambda v, c: {"reference": str(v["reference"]), "status": "delivered"},
        extra=(("gateway", lambda v: {"Authorization": f"Bearer {DEV_CALLBACK_TOKEN}"}, 200),)),
    # the real providers and the devices authenticate with a secret of their own (routes/providers.py): a signature per
    # message in 46elks' report URL, a receipt token per push, the bounce webhook's bearer token; no user token is one
    Row("notification", "POST", "/providers/46elks/reports/{reference}", everyone=403, params=(("reference", "1"),),
        query=(("sig", "not-the-signature"),)),
    Row("notification", "POST", "/push/receipts", everyone=403, body={"reference": "1", "receiptToken": "not-the-receipt-token"}),
    Row("notification", "POST", "/providers/email/bounces", everyone=401,
        extra=(("bounce webhook", lambda v: {"Authorization": f"Bearer {DEV_CALLBACK_TOKEN}"}, 200),)),
    # Web Push is not configured in the test stack: nobody gets a key, signed in or not
    Row("notification", "GET", "/push/vapid-public-key", public=True, ok=404),
    Row("notification", "POST", "/deliveries/send", own=CITY, other=CITY, body={}, serial=True),
    Row("notification", "GET", "/school-units/{school_unit_id}/unreached", own=SENDERS, other=CITY, query=(("reason", "delivery-problem"),)),
    # data protection reviews the bypass log of any school
    Row("notification", "GET", "/quiet-hours-bypasses", own=roles("principal", "district_admin", "data_protection", "city_admin"),
        other=roles("data_protection", "city_admin"), query=(("schoolUnitId", "{school_unit_id}"), ("reason", "dpo-review"))),
    # the access log of personal data: the data-protection officer only, whatever the school
    Row("notification", "GET", "/privacy/access-log", own=roles("data_protection"), other=roles("data_protection"),
        query=(("person", "{person_id}"),)),
    # right of access (docs/decisions/0010): the data-protection officer and city admins for anyone, a person for
    # themselves (the "own" guardian is the person); the export only for whoever asked (here the own guardian)
    Row("notification", "POST", "/privacy/access-requests", own=roles("guardian", "data_protection", "city_admin"),
        other=roles("data_protection", "city_admin"), ok=202, body=lambda v, c: {"personId": v["person_id"], "reasonCode": "data-subject-request"}),
    Row("notification", "GET", "/privacy/access-requests/{access_request_id}", own=roles("guardian"), other=NONE),
    # erasure (docs/decisions/0009): city admins and the data-protection officer, for anyone (here: persons Skolit never
    # heard of, so the matrix erases nothing it reads)
    Row("notification", "POST", "/privacy/erasure-requests", own=roles("data_protection", "city_admin"),
        other=roles("data_protection", "city_admin"), ok=202, body=lambda v, c: {"personId": str(uuid.uuid4()), "reasonCode": "objection"}),
    Row("notification", "GET", "/privacy/erasure-requests/{erasure_request_id}", own=roles("data_protection", "city_admin"),
        other=roles("data_protection", "city_admin")),
    # the lists behind the web app's data-protection pages: every erasure request (never the person) for the officers;
    # each signed-in person their own access requests only (the own guardian's request is nobody else's to see)
    Row("notification", "GET", "/privacy/erasure-requests", own=roles("data_protection", "city_admin"),
        other=roles("data_protection", "city_admin")),
    Row("notification", "GET", "/privacy/access-requests", own=ALL, other=ALL, hide="access_request_id", sees_all=NONE),
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ctx(stack: Stack) -> AsyncIterator[Ctx]:
    """Both sides of the city in every service, and one of each resource the matrix reads, owned by side A."""
    world = World()
    async with httpx.AsyncClient(timeout=30) as http:
        await publish_world(stack, http, world)
        own = world.own
        c = Ctx(stack, http, world, {"school_unit_id": str(own.school), "district_id": str(own.district), "person_id": str(own.guardian),
                                     "year": REPORT_YEAR, "heading": "infrastruktur", "version": 1})
        admin = auth("city_admin", subject="matrix-setup")

        # assessment: a round with the school's draft, an invitation to its pulse and an action
        draft = await c.draft()
        action = await expect(await http.post(f"{c.url('assessment')}/school-units/{own.school}/actions", headers=own.auth("principal"),
                                              json={"heading": "uppfoljning", "title": "Årshjul", "owner": "Rektor", "successCriterion": "Beslutat"}), 201)
        c.values.update(campaign_id=draft["campaign"]["id"], assessment_id=draft["id"], action_id=action["id"])
        c.values.update(await c.fresh_invitation())

        # catalog: an app, a licence for the school, a teacher's request
        c.values.update(await c.fresh_app())
        c.values.update(await c.fresh_licence())
        c.values.update(await c.fresh_request())

        # reporting: a submission for the school in REPORT_YEAR
        await send(stack.bootstrap, [wire(submitted_event(own.school, own.district, REPORT_YEAR))])

        async def reported() -> bool:
            r = await http.get(f"{c.url('reporting')}/school-units/{own.school}/report", headers=admin)
            return r.status_code == 200

        await eventually(reported, timeout=60, what="the school's report in reporting")

        # notification: the guardian's contact details, a broadcast from the Rektor, the message in the guardian's inbox
        n = c.url("notification")
        await expect(await http.put(f"{n}/persons/{own.guardian}/contacts", json={"email": f"matris-{tag()}@example.se"}, headers=admin), 200)
        sent = await expect(await http.post(f"{n}/broadcasts", headers=own.auth("principal"),
                                            json={"audience": _audience(c.values), "subject": "Matris", "body": "Hej"}), 201)

        async def inbox() -> list[Any]:
            return (await http.get(f"{n}/persons/{own.guardian}/messages", headers=own.auth("guardian"))).json()["items"]

        [message, *_] = await eventually(inbox, what="the broadcast in the guardian's inbox")
        conn = await asyncpg.connect(stack.admin_url)
        try:
            reference = await conn.fetchval("SELECT id FROM notification.delivery WHERE person = $1 AND channel = 'email' ORDER BY id LIMIT 1", own.guardian)
        finally:
            await conn.close()
        assert reference is not None
        c.values.update(broadcast_id=sent["id"], message_id=message["id"], reference=reference)

        # notification: the guardian's own right-of-access export, complete
        asked = await expect(await http.post(f"{n}/privacy/access-requests", headers=own.auth("guardian"),
                                             json={"personId": str(own.guardian), "reasonCode": "data-subject-request"}), 202)

        async def exported() -> bool:
            return (await http.get(f"{n}/privacy/access-requests/{asked['id']}", headers=own.auth("guardian"))).status_code == 200

        await eventually(exported, timeout=60, what="the guardian's access export")
        c.values.update(access_request_id=asked["id"])
        # an erasure request, for someone Skolit never heard of
        erasure = await expect(await http.post(f"{n}/privacy/erasure-requests", headers=admin,
                                               json={"personId": str(uuid.uuid4()), "reasonCode": "objection"}), 202)
        c.values.update(erasure_request_id=erasure["id"])
        yield c


async def test_the_matrix_covers_every_documented_endpoint(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        documented = await openapi_routes(http, stack)
    table = [r.key for r in ROWS]
    twice = sorted({k for k in table if table.count(k) > 1})
    assert not twice, f"endpoints with more than one row: {twice}"
    missing = sorted(documented - set(table))
    assert not missing, "endpoints without a row in the authorisation matrix: " + ", ".join(" ".join(k) for k in missing)
    stale = sorted(set(table) - documented)
    assert not stale, "rows for endpoints the services no longer document: " + ", ".join(" ".join(k) for k in stale)


async def test_every_endpoint_every_role_own_and_other_school(ctx: Ctx) -> None:
    # every caller holds an access token the OpenID provider issued to a person of the matrix city, with no Skolit claims
    assert ctx.stack.oidc is not None
    for side in ctx.world.sides:
        assert set(side.tokens) == set(ROLES), side.tokens.keys()
        for role, token in side.tokens.items():
            issued = jwt.decode(token, options={"verify_signature": False})
            assert jwt.get_unverified_header(token)["alg"] == "RS256" and issued["iss"] == ctx.stack.oidc.issuer, (role, issued)
            assert issued["sub"] == side.subject(role) and not {"roles", "school_units", "districts"} & set(issued), (role, issued)
    started = time.monotonic()
    callers = ctx.world.callers()
    outcome = await run(ctx.http, ctx.stack, ROWS, callers, ctx.values, ctx)
    per_service = ", ".join(f"{s} {n}" for s, n in sorted(outcome.checked.items()))
    print(f"\nauthorisation matrix: {outcome.total} cells checked ({len(ROWS)} endpoints × {len(callers)} callers + extras; {per_service})"
          f" in {time.monotonic() - started:.1f}s")
    assert not outcome.failures, f"{len(outcome.failures)} of {outcome.total} cells differ from the matrix:\n" + "\n".join(outcome.failures)
    assert outcome.total == len(ROWS) * len(callers) + sum(len(r.extra) for r in ROWS)


# --- tokens ---------------------------------------------------------------------------------------

# One role-gated endpoint per service that a valid city-admin token reaches.
TOKEN_PROBES = {"assessment": "/campaigns", "catalog": "/statuses", "reporting": "/overview", "notification": "/jobs"}


def b64url(value: dict[str, Any] | bytes) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(**changes: Any) -> dict[str, Any]:
    """City-admin claims that would pass; a change to None leaves the claim out."""
    now = int(time.time())
    base: dict[str, Any] = {"sub": "token-probe", "roles": ["city_admin"], "school_units": [], "districts": [], "iat": now, "exp": now + 600}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload: dict[str, Any], algorithm: str = "HS256", key: Any = DEV_JWT_SECRET) -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


def refused_tokens() -> dict[str, str]:
    """Tokens every service must refuse with 401 invalid_token."""
    valid = signed(claims())
    header, _, signature = valid.split(".")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "expired (past the 30 s leeway)": mint(DEV_JWT_SECRET, subject="token-probe", roles=["city_admin"], ttl_seconds=-120),
        "signed with another secret": mint("not-the-skolit-secret", subject="token-probe", roles=["city_admin"]),
        "alg none, unsigned": f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(claims())}.",
        "alg None, unsigned": f"{b64url({'alg': 'None', 'typ': 'JWT'})}.{b64url(claims())}.",
        "alg none with the real signature kept": f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(claims())}.{signature}",
        "payload changed after signing": f"{header}.{b64url(claims(sub='someone-else'))}.{signature}",
        "no sub": signed(claims(sub=None)),
        "empty sub": signed(claims(sub="")),
        "no exp": signed(claims(exp=None)),
        "not valid yet (nbf in an hour)": signed(claims(nbf=int(time.time()) + 3600)),
        "no roles claim": signed(claims(roles=None)),
        "roles not a list": signed(claims(roles="city_admin")),
        "school_units not a list of strings": signed(claims(school_units=[1, 2])),
        # the verifier takes HS256 only (shared secret mode): the same secret under another HMAC, or a key pair, is not it
        "HS384 with the right secret": signed(claims(), "HS384"),
        "HS512 with the right secret": signed(claims(), "HS512"),
        "RS256 with someone's key pair": signed(claims(), "RS256", other_key),
        "not a JWT": "not-a-jwt",
        "three empty parts": "..",
    }


async def test_bad_tokens_are_refused_by_every_service(stack: Stack) -> None:
    tokens = refused_tokens()
    checked = 0
    async with httpx.AsyncClient(timeout=10) as http:
        for service, path in TOKEN_PROBES.items():
            url = stack.services[service].url + path
            control = await http.get(url, headers={"Authorization": "Bearer " + signed(claims())})
            assert control.status_code == 200, (service, control.status_code, control.text)
            for name, token in tokens.items():
                r = await http.get(url, headers={"Authorization": f"Bearer {token}"})
                checked += 1
                assert r.status_code == 401, (service, name, r.status_code, r.text)
                assert r.headers["content-type"].startswith("application/problem+json"), (service, name)
                assert r.json()["status"] == 401 and r.json()["title"] == "Unauthorized", (service, name, r.text)
                challenge = r.headers.get("www-authenticate", "")
                assert challenge.startswith("Bearer") and 'error="invalid_token"' in challenge, (service, name, challenge)
                assert DEV_JWT_SECRET not in r.text
            # no bearer credentials at all: a plain challenge, without an error code (RFC 6750 §3.1)
            for header in ("Bearer", "Basic dXNlcjpwYXNzd29yZA==", "Token " + signed(claims())):
                r = await http.get(url, headers={"Authorization": header})
                checked += 1
                assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json"), (service, header, r.status_code)
                challenge = r.headers.get("www-authenticate", "")
                assert challenge.startswith("Bearer") and "error=" not in challenge, (service, header, challenge)
            # A token with only another application's role is a valid login with no Skolit role: the
            # identity provider serves other applications too (shared/auth principal_from_claims), so
            # such a role is ignored rather than refused; the caller is authenticated but may do nothing.
            r = await http.get(url, headers={"Authorization": "Bearer " + signed(claims(roles=["superuser", "root"]))})
            checked += 1
            assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json"), (service, r.status_code, r.text)
            listed = await http.get(stack.services[service].url + "/school-units",
                                    headers={"Authorization": "Bearer " + signed(claims(roles=["superuser"]))})
            assert listed.status_code == 200 and listed.json()["items"] == [], (service, listed.text)
    print(f"\nrefused tokens: {checked} checks ({len(tokens)} bad tokens, 3 non-bearer headers and an unknown role, × {len(TOKEN_PROBES)} services)")


@pytest.fixture
def jwks() -> Iterator[tuple[str, rsa.RSAPrivateKey, bytes]]:
    """A local JWKS endpoint with one RSA key: the production mode of the verifier."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with jwks_server([public_jwk(key, "k1")]) as server:
        yield server.url, key, pem


async def test_a_jwks_verifier_refuses_hs256_signed_with_its_public_key(jwks: tuple[str, rsa.RSAPrivateKey, bytes]) -> None:
    """Algorithm confusion: where the verifier expects RS256/ES256 from the provider's JWKS, an HS256
    token whose HMAC key is the provider's public key (which anyone can fetch) must not pass."""
    import hashlib
    import hmac

    url, key, pem = jwks
    verifier = Verifier(jwks_url=url)
    good = jwt.encode(claims(), key, algorithm="RS256", headers={"kid": "k1"})
    assert (await verifier.verify(good)).subject == "token-probe"  # the control: the provider's own token passes

    def hs256(secret: bytes, header: dict[str, Any]) -> str:
        signing_input = f"{b64url(header)}.{b64url(claims())}"
        return signing_input + "." + b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())

    forged = {
        "HS256 keyed with the public key's PEM": hs256(pem, {"alg": "HS256", "typ": "JWT", "kid": "k1"}),
        "HS256 keyed with the PEM, no kid": hs256(pem, {"alg": "HS256", "typ": "JWT"}),
        "HS256 with the development secret": hs256(DEV_JWT_SECRET.encode(), {"alg": "HS256", "typ": "JWT", "kid": "k1"}),
        "alg none": f"{b64url({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{b64url(claims())}.",
        "RS256 by another key pair": jwt.encode(claims(), rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256",
                                                headers={"kid": "k1"}),
    }
    for name, token in forged.items():
        with pytest.raises(AuthError):
            await verifier.verify(token)
            pytest.fail(f"{name} was accepted")


# --- hostile text ---------------------------------------------------------------------------------

HOSTILE = [
    "'; DROP TABLE inbox; --",
    "\" OR 1=1 --",
    "' OR '1'='1",
    "Robert'); DROP TABLE app;--",
    "1; SELECT pg_sleep(5); --",
    "' UNION SELECT usename, passwd FROM pg_shadow --",
    "$1 $2::text",
    "%s %(name)s %d %%",
    "{} {0} {name} {{}}",
    "\\x00 \\0 \\' \\\\",  # backslashes as text, not a NUL
    "a:* & !b | c <-> d",  # to_tsquery's operators
    "Åsa Öberg – “citat” ‮ 😀",  # non-ASCII, an RTL override and an emoji
]
NUL = "före\x00efter"


async def schema_tables(conn: asyncpg.Connection) -> dict[str, list[str]]:
    rows = await conn.fetch("SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = ANY($1::text[]) ORDER BY 1, 2",
                            list(TOKEN_PROBES))
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["table_schema"], []).append(r["table_name"])
    return out


async def test_hostile_text_is_stored_and_read_back_as_text(ctx: Ctx) -> None:
    http, own, checked = ctx.http, ctx.world.own, 0
    conn = await asyncpg.connect(ctx.stack.admin_url)
    try:
        before = await schema_tables(conn)
        assert all("inbox" in before.get(s, []) for s in TOKEN_PROBES), before

        # assessment: a round's name, an answer's comment, an action's title, owner, success criterion and note
        a, rektor = ctx.url("assessment"), own.auth("principal")
        for s in HOSTILE:
            body = {"name": s, "year": THIS_YEAR, "deadline": DEADLINE, "schoolUnitIds": [ctx.school]}
            created = await expect(await http.post(f"{a}/campaigns", json=body, headers=own.auth("district_admin")), 201)
            assert (await expect(await http.get(f"{a}/campaigns/{created['id']}", headers=rektor), 200))["name"] == s
            action = await expect(await http.post(f"{a}/school-units/{own.school}/actions", headers=rektor,
                                                   json={"heading": "uppfoljning", "title": s, "owner": s, "successCriterion": s}), 201)
            assert (action["title"], action["owner"], action["successCriterion"]) == (s, s, s)
            noted = await expect(await http.patch(f"{a}/actions/{action['id']}", json={"note": s}, headers=rektor), 200)
            assert [n["note"] for n in noted["notes"]] == [s]
            checked += 5
        draft = await expect(await http.get(f"{a}/assessments/{ctx.values['assessment_id']}", headers=rektor), 200)
        indicators = [i for i in draft["indicators"] if not published()[draft["frameworkVersion"]].by_id[i].allowNotRelevant][:len(HOSTILE)]
        answers = [{"indicatorId": i, "level": 2, "comment": s} for i, s in zip(indicators, HOSTILE, strict=False)]
        await expect(await http.put(f"{a}/assessments/{draft['id']}/answers", json={"answers": answers}, headers=rektor), 200)
        stored = {x["indicatorId"]: x["comment"] for x in (await expect(await http.get(f"{a}/assessments/{draft['id']}", headers=rektor), 200))["answers"]}
        assert {i: stored[i] for i in indicators} == {x["indicatorId"]: x["comment"] for x in answers}
        checked += len(answers)

        # catalog: an app's name, description and keywords; search; a request's purpose and proposed name
        c, it = ctx.url("catalog"), own.auth("it_admin")
        for s in HOSTILE:
            app = await expect(await http.post(f"{c}/apps", headers=it,
                                               json=app_body(s, supplier=f"Leverantör {tag()}", description=s, keywords=[s])), 201)
            got = await expect(await http.get(f"{c}/apps/{app['id']}", headers=it), 200)
            assert (got["name"], got["description"], got["keywords"]) == (s, s, [s.strip().lower()])
            found = await expect(await http.get(f"{c}/apps", params={"q": s, "pageSize": 100}, headers=it), 200)
            assert app["id"] in [i["id"] for i in found["items"]], (s, found["total"])  # its own text finds the stored app
            asked = await expect(await http.post(f"{c}/requests", headers=own.auth("teacher"),
                                                 json={"schoolUnitId": ctx.school, "newApp": {"name": s, "description": s}, "purpose": s}), 201)
            got = await expect(await http.get(f"{c}/requests/{asked['id']}", headers=own.auth("teacher")), 200)
            assert (got["purpose"], got["proposed"]["name"], got["proposed"]["description"]) == (s, s, s)
            checked += 7

        # reporting: an indicator's names and descriptions
        r, admin = ctx.url("reporting"), auth("city_admin")
        for s in HOSTILE:
            code = f"fientlig-{tag()}"
            await expect(await http.post(f"{r}/indicators", headers=admin, json={"code": code, "metric": "hostileText", "unit": "count",
                                                                                "name": {"sv": s, "en": s}, "description": {"sv": s, "en": s}}), 201)
            listed = {i["code"]: i for i in (await expect(await http.get(f"{r}/indicators", headers=admin), 200))["items"]}
            assert listed[code]["name"] == {"sv": s, "en": s}
            checked += 1

        # notification: a broadcast's subject and body (as the sender and the guardian see them), a push token
        n = ctx.url("notification")
        for s in HOSTILE:
            sent = await expect(await http.post(f"{n}/broadcasts", headers=own.auth("principal"),
                                                json={"audience": _audience(ctx.values), "subject": s, "body": s}), 201)
            assert (await expect(await http.get(f"{n}/broadcasts/{sent['id']}", headers=own.auth("principal")), 200))["subject"] == s

            async def arrived(s: str = s) -> dict[str, Any] | None:
                items = (await expect(await http.get(f"{n}/persons/{own.guardian}/messages", headers=own.auth("guardian")), 200))["items"]
                return next((m for m in items if m["subject"] == s), None)

            message = await eventually(arrived, what="the hostile broadcast in the guardian's inbox")
            assert message["body"].splitlines()[0] == s
            checked += 3
        for s in HOSTILE:
            await expect(await http.put(f"{n}/persons/{own.guardian}/contacts", json={"pushToken": s}, headers=admin), 200)
            got = await expect(await http.get(f"{n}/persons/{own.guardian}/contacts", params={"reason": "support"}, headers=admin), 200)
            assert got["pushToken"] == s
            checked += 1

        assert await schema_tables(conn) == before
        for svc in ctx.stack.services.values():
            assert (await http.get(f"{svc.url}/readyz")).status_code == 200
    finally:
        await conn.close()
    print(f"\nhostile text: {len(HOSTILE)} strings, {checked} fields stored and read back unchanged; tables intact")


async def test_a_nul_character_is_refused_cleanly(ctx: Ctx) -> None:
    """PostgreSQL text cannot hold U+0000: a field carrying one is a 422 problem, never a 500."""
    http, own = ctx.http, ctx.world.own
    a, c, r, n = (ctx.url(s) for s in ("assessment", "catalog", "reporting", "notification"))
    attempts = [
        ("assessment campaign name", "POST", f"{a}/campaigns", own.auth("district_admin"),
         {"name": NUL, "year": THIS_YEAR, "deadline": DEADLINE, "schoolUnitIds": [ctx.school]}),
        ("assessment answer comment", "PUT", f"{a}/assessments/{ctx.values['assessment_id']}/answers", own.auth("principal"),
         {"answers": [{"indicatorId": "INF-01", "level": 2, "comment": NUL}]}),
        ("assessment action title", "POST", f"{a}/school-units/{own.school}/actions", own.auth("principal"),
         {"heading": "uppfoljning", "title": NUL, "owner": "Rektor", "successCriterion": "Klart"}),
        ("catalog app name", "POST", f"{c}/apps", own.auth("it_admin"), app_body(NUL)),
        ("catalog app keywords", "POST", f"{c}/apps", own.auth("it_admin"), app_body(f"Nollappen {tag()}", keywords=[NUL])),
        ("catalog request purpose", "POST", f"{c}/requests", own.auth("teacher"),
         {"schoolUnitId": ctx.school, "newApp": {"name": f"Noll {tag()}"}, "purpose": NUL}),
        ("reporting indicator name", "POST", f"{r}/indicators", auth("city_admin"),
         {"code": f"noll-{tag()}", "metric": "nulText", "unit": "count", "name": {"sv": NUL, "en": "x"}}),
        ("notification broadcast subject", "POST", f"{n}/broadcasts", own.auth("principal"),
         {"audience": _audience(ctx.values), "subject": NUL, "body": "x"}),
        ("notification broadcast body", "POST", f"{n}/broadcasts", own.auth("principal"),
         {"audience": _audience(ctx.values), "subject": "x", "body": NUL}),
    ]
    failures = []
    for name, method, url, headers, body in attempts:
        resp = await http.request(method, url, json=body, headers=headers)
        if resp.status_code != 422 or not resp.headers["content-type"].startswith("application/problem+json"):
            failures.append(f"{name}: {resp.status_code} {resp.text[:200]}")
    resp = await http.get(f"{a}/pulse/{quote(NUL)}")  # no login needed to reach the database with it
    if resp.status_code != 422:
        failures.append(f"assessment pulse code (anonymous): {resp.status_code} {resp.text[:200]}")
    # search splits the query into words, and a NUL is not part of one: nothing to refuse
    resp = await http.get(f"{c}/apps", params={"q": NUL}, headers=own.auth("teacher"))
    if resp.status_code != 200:
        failures.append(f"catalog search q: {resp.status_code} {resp.text[:200]}")
    assert not failures, "\n".join(failures)
    for svc in ctx.stack.services.values():
        assert (await http.get(f"{svc.url}/readyz")).status_code == 200
