"""The assessment service's answer models (services/assessment/schemas/) agree with what its views make, their
examples are true, and the routes that need no database page and speak the reader's language.

No database: the views get rows as plain mappings, the framework routes run in process (``/frameworks`` reads the
framework files only).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel

from services.assessment import schemas, vocabulary
from services.assessment.routes import actions, assessments, campaigns, frameworks, history, pulse
from services.assessment.app import SPEC
from services.assessment.domain import HeadingResult, KnownSchool
from services.assessment.framework import published
from services.assessment.views import Show, action_json, answer_json, assessment_summary, audit_json, campaign_json, heading_json
from shared.app import create_app
from shared.http.models import PersonRef, example_of
from shared.settings import Settings
from tests.support.stack import auth

NOW = datetime(2027, 3, 12, 9, 41, 7, tzinfo=UTC)
REKTOR, HIDDEN = uuid.uuid4(), uuid.uuid4()
SHOWN = Show("en", {REKTOR: PersonRef(id=REKTOR, name="Anna Lindqvist"), HIDDEN: PersonRef(id=None, name=None, protected=True)})
MODELS: list[type[BaseModel]] = [getattr(schemas, name) for name in schemas.__all__]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_example_is_an_answer_the_model_accepts(model: type[BaseModel]) -> None:
    extra: Any = model.model_config.get("json_schema_extra")
    assert len(extra["examples"]) == 1
    model.model_validate(example_of(model))


def test_every_route_of_the_service_answers_one_of_its_models() -> None:
    document = create_app(SPEC).openapi()
    names = {m.__name__ for m in MODELS}
    routes = [r for m in (actions, assessments, campaigns, frameworks, history, pulse) for r in m.router.routes if isinstance(r, APIRoute)]
    assert len(routes) == 25
    for route in routes:
        for method in route.methods or ():
            ok = next(v for k, v in document["paths"][route.path][method.lower()]["responses"].items() if k.startswith("2"))
            assert ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1] in names, (method, route.path)


def campaign_row(**changes: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "name": "Självskattning 2026", "year": 2026, "deadline": date(2027, 3, 31), "status": "open", "framework_version": 2,
            "opened_by": str(HIDDEN), "opened_at": NOW, "closed_by": None, "closed_at": None, "school_units": [uuid.uuid4()]} | changes


def test_a_campaign_names_its_opener_and_a_protected_one_by_neither_id_nor_name() -> None:
    body = schemas.Campaign.model_validate(campaign_json(campaign_row(closed_by="skolit:retention", closed_at=NOW), SHOWN, (1, 2)))
    assert body.openedBy == PersonRef(id=None, name=None, protected=True)
    assert body.closedBy is not None and (body.closedBy.kind, body.closedBy.id, body.closedBy.name) in (("system", None, "Skolit (gallring)"), ("system", None, "Skolit (retention)"))
    assert body.progress.submitted == 1
    page = schemas.Campaigns.model_validate({"items": [campaign_json(campaign_row(opened_by=str(REKTOR)), SHOWN)], "limit": 50, "next": None, "total": 1})
    assert isinstance(page.items[0].openedBy, PersonRef) and page.items[0].openedBy.name == "Anna Lindqvist"


def assessment_row() -> dict[str, Any]:
    return {"id": uuid.uuid4(), "campaign_id": uuid.uuid4(), "campaign_name": "Självskattning 2026", "year": 2026, "campaign_status": "open",
            "school_unit": uuid.uuid4(), "framework_version": 2, "status": "submitted", "effective_deadline": date(2027, 3, 31), "submissions": 1,
            "submitted_at": NOW, "submitted_by": "erased", "carried_from": None, "updated_at": NOW, "pulse_code": "k7mq3xr9tw"}


def action_row(**changes: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "school_unit": uuid.uuid4(), "assessment_id": None, "heading": "digital-kompetens", "indicator_id": "KOM-01",
            "title": "Kollegialt lärande", "owner": "Förstelärare", "deadline": None, "success_criterion": "Alla har deltagit", "status": "planned",
            "created_by": str(REKTOR), "created_at": NOW, "updated_at": NOW,
            "notes": [{"note": "Klart.", "status": "done", "writtenBy": str(REKTOR), "writtenAt": "2027-05-02T08:12:40.331+00:00", "assessmentId": None}]} | changes


def test_an_assessment_as_the_views_make_it_is_what_the_model_says() -> None:
    v2 = published()[2]
    row = assessment_row()
    school = KnownSchool(row["school_unit"], uuid.uuid4(), ("GR",), "Rosengårdsskolan", "41572369")
    answer: dict[str, Any] = {"indicator_id": "INF-01", "level": None, "not_relevant": True, "comment": None, "evidence": [], "carried_from": uuid.uuid4(),
              "updated_by": "skolit:carry-forward", "updated_at": NOW}
    body = assessment_summary(row, SHOWN) | {
        "schoolUnit": school.ref() | {"districtId": school.district, "schoolTypes": ["GR"]}, "language": "en", "indicators": ["INF-01"],
        "answers": [answer_json(answer, SHOWN, v2)], "missingRequired": [],
        "headings": [heading_json(HeadingResult("infrastruktur", 3, 3.4, 7, 1, 8), SHOWN, v2)],
        "openActions": [action_json(action_row(), SHOWN)], "pulse": {"groups": ["staff"], "invitations": f"/assessments/{row['id']}/pulse/invitations"},
    }
    a = schemas.Assessment.model_validate(body)
    assert a.submittedBy is not None and a.submittedBy.kind == "erased" and a.submittedBy.id is None and a.submittedBy.name is None
    carried = a.answers[0].updatedBy
    assert carried.kind == "system" and carried.id is None and carried.name in ("Skolit (överfört från förra årets självskattning)", "Skolit (carried from last year's self-assessment)")
    assert a.answers[0].indicatorTitle == "Wireless network in all premises" and a.schoolUnit.name == "Rosengårdsskolan"
    assert a.headings[0].heading.label == "Infrastructure for greater access"
    assert a.openActions[0].notes[0].writtenBy == PersonRef(id=REKTOR, name="Anna Lindqvist")
    assert a.openActions[0].heading.label == "Better digital competence for everyone"


def test_an_audit_entry_shows_a_person_by_reference_and_a_hidden_one_as_protected() -> None:
    rows = [{"at": NOW, "actor": str(HIDDEN).upper(), "action": "answers.saved", "detail": {"answers": {}}},
            {"at": NOW, "actor": "tester", "action": "assessment.reopened", "detail": {"reason": "Komplettera"}}]
    page = schemas.AssessmentAudit.model_validate({"assessmentId": uuid.uuid4(), "items": [audit_json(r, SHOWN) for r in rows],
                                                    "limit": 50, "next": None, "total": 2})
    assert page.items[0].actor == PersonRef(id=None, name=None, protected=True) and page.items[1].actor == PersonRef(id=None, name="tester", kind="system")


def test_titles_come_in_the_language_asked_for_and_an_unknown_code_stands_for_itself() -> None:
    assert vocabulary.heading_label("uppfoljning", "sv") == {"code": "uppfoljning", "label": "Uppföljning"}
    assert vocabulary.heading_label("uppfoljning", "en")["label"] == "Follow-up"
    assert vocabulary.indicator_title("SAM-08", "sv", published()[2]) == published()[2].by_id["SAM-08"].title.sv
    assert vocabulary.indicator_title("SAM-08", "sv") == published()[2].by_id["SAM-08"].title.sv  # found in the version that has it
    assert vocabulary.heading_label("nope", "en") == {"code": "nope", "label": "nope"} and vocabulary.indicator_title(None, "sv") is None


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(SPEC, Settings.from_env("assessment")), raise_server_exceptions=False)


def test_the_framework_versions_page_and_follow_the_cursor(client: TestClient) -> None:
    teacher = auth("teacher")
    first = client.get("/v1/frameworks", params={"limit": 1}, headers=teacher)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [f["version"] for f in body["items"]] == [1] and body["total"] == len(published()) and body["limit"] == 1 and body["next"]
    second = client.get("/v1/frameworks", params={"limit": 1, "cursor": body["next"]}, headers=teacher).json()
    assert [f["version"] for f in second["items"]] == [2] and second["items"][0]["latest"] and second["selfieAreas"] == body["selfieAreas"]
    assert client.get("/v1/frameworks", params={"cursor": "nope"}, headers=teacher).json()["field"] == "query.cursor"
    assert client.get("/v1/frameworks", params={"limit": 0}, headers=teacher).status_code == 422


def test_the_framework_speaks_the_readers_language(client: TestClient) -> None:
    teacher = auth("teacher")
    sv = client.get("/v1/frameworks", headers=teacher).json()["items"][1]["title"]
    en = client.get("/v1/frameworks", headers=teacher | {"Accept-Language": "en"}).json()["items"][1]["title"]
    assert (sv, en) == (published()[2].title.sv, published()[2].title.en)
    carried = client.get("/v1/frameworks/2/carry-forward", params={"lang": "en"}, headers=teacher).json()
    assert {"code": "INF-08", "label": published()[2].by_id["INF-08"].title.en} in carried["answeredAfresh"]
    inf01 = next(m for m in carried["mapping"] if m["indicatorId"] == "INF-01")
    assert inf01 == {"indicatorId": "INF-01", "title": "Wireless network in all premises", "from": "INF-01"}
    assert client.get("/v1/frameworks/9/carry-forward", headers=teacher).status_code == 404
