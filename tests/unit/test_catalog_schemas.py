"""What the catalog's views build is what its OpenAPI models (services/catalog/schemas.py) promise.

The search answers with orjson and no response model (it is the hot read), so nothing checks its shape at run
time: this does, without a database, with rows shaped as the store's queries return them. And the request list's
SQL scope selects exactly the requests ``may_see_request`` lets a caller see, so its pages are full.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime
from typing import Any

import orjson

from services.catalog import access, schemas
from services.catalog import views
from services.catalog.domain import StatusDefinition
from shared.auth import Principal, Role
from shared.http.models import PersonRef
from shared.http.pages import PageRequest

TODAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
APPROVED = StatusDefinition("approved", "Godkänd", "Approved", allows_use=True)
STATUSES = {"approved": APPROVED, "under_review": StatusDefinition("under_review", "Granskas", "Under review", allows_use=False)}
EDITOR, PROTECTED = uuid.uuid4(), uuid.uuid4()
REFS = {EDITOR: PersonRef(id=EDITOR, name="Johan Berg"), PROTECTED: PersonRef(id=None, name=None, protected=True)}
SCHOOL = uuid.uuid4()


def app_row(**over: Any) -> dict[str, Any]:
    row = {
        "id": uuid.uuid4(), "name": "Räknestigen", "supplier": "Nordlärande AB", "description": "Huvudräkning", "url": None, "kind": "commercial",
        "cost_model": "per_pupil", "free_use": False, "subjects": ["MA"], "grades": ["4", "5"], "school_types": ["GR"], "platforms": ["web"],
        "languages": ["sv"], "accessibility": "", "headings": ["digitalt-innehall"], "keywords": [], "status": "approved",
        "status_changed_at": NOW, "data_categories": ["identity", "civic_no"], "dpa_status": "missing", "dpa_signed": None, "dpa_expires": None,
        "sub_processors": [], "processing_countries": ["US"], "transfer_outside_eea": True, "transfer_safeguard": None, "dpia_ref": None,
        "min_age": None, "created_by": str(EDITOR), "created_at": NOW, "updated_by": "skolit:catalog-rules", "updated_at": NOW, "version": 2,
    }
    return {**row, **over}


def test_an_app_as_views_build_it_is_an_app_with_people_and_sentences() -> None:
    for lang in ("sv", "en"):
        body = views.app_json(app_row(), APPROVED, lang, TODAY, REFS)  # type: ignore[arg-type]
        app = schemas.App.model_validate(body)
        assert app.subjects[0].label == {"sv": "Matematik", "en": "Mathematics"}[lang]
        assert app.createdBy == REFS[EDITOR]
        assert app.updatedBy is not None and app.updatedBy.id is None and app.updatedBy.name == "Skolit (programbankens regler)" and app.updatedBy.kind == "system"
        assert len(app.dataProtection.approvalBlockers) == 3 and all(b.endswith(".") for b in app.dataProtection.approvalBlockers)
    assert schemas.App.model_validate(views.app_json(app_row(created_by=str(PROTECTED)), APPROVED, "sv", TODAY, REFS)).createdBy == REFS[PROTECTED]  # type: ignore[arg-type]


def test_a_search_answer_as_the_route_writes_it_is_search_results_with_subjects_as_in_the_app() -> None:
    hit = {"id": str(uuid.uuid4()), "name": "Räknestigen", "supplier": "Nordlärande AB", "description": "x", "url": None, "kind": "open",
           "cost_model": "free", "free_use": True, "subjects": ["MA", "TK"], "grades": ["4"], "school_types": ["GR"], "platforms": ["web"],
           "languages": ["sv"], "headings": ["digitalt-innehall"], "status": "approved", "dpa_status": "not_required", "dpa_expires": None, "rank": 0.25}
    page = PageRequest(limit=1, offset=0)
    body = page.page([hit, hit], total=7, item=lambda h: views.hit_json(h, STATUSES, "sv"))
    body.update(query="matte", corrections={"matte": ["matematik"]},
                facets=views.facets_json({"subject": {"MA": 2}, "status": {"approved": 2}}, STATUSES, "sv"))
    answer = schemas.SearchResults.model_validate_json(orjson.dumps(body))
    assert answer.next and answer.total == 7 and len(answer.items) == 1
    app = schemas.App.model_validate(views.app_json(app_row(subjects=["MA", "TK"]), APPROVED, "sv", TODAY, REFS))  # type: ignore[arg-type]
    assert answer.items[0].subjects == app.subjects  # one shape for a subject, in a hit and in the record
    assert answer.facets is not None and answer.facets.status[0].label == "Godkänd"


def test_licences_requests_and_the_audit_trail_show_people_and_school_units() -> None:
    licence = {"id": uuid.uuid4(), "app_id": uuid.uuid4(), "app_name": "Räknestigen", "school_unit": SCHOOL, "school_name": "Rosengårdsskolan",
               "school_code": "12345678", "licence_type": "school", "seats": None, "group_name": None, "starts": date(2026, 1, 1),
               "expires": date(2026, 12, 31), "note": "", "created_by": str(EDITOR), "created_at": NOW, "ended_at": None}
    made = schemas.Licence.model_validate(views.licence_json(licence, TODAY, REFS))  # type: ignore[arg-type]
    assert made.schoolUnit.name == "Rosengårdsskolan" and made.active and made.createdBy == REFS[EDITOR]

    request = {"id": uuid.uuid4(), "school_unit": SCHOOL, "school_name": "Rosengårdsskolan", "school_code": None, "district": None,
               "requester": str(PROTECTED), "requester_duty": "Lärare", "app_id": None, "proposed": {"name": "Quizland", "supplier": "", "url": None},
               "app_name": "Quizland", "purpose": "Läsförståelse", "grades": ["5"], "pupils": None, "state": "rejected", "conditions": None,
               "reason": "Data i USA", "decided_by": "erased", "decided_at": NOW, "created_at": NOW, "updated_at": NOW, "waiting_since": None}
    steps = [{"at": NOW, "actor": str(PROTECTED), "step": "submitted", "note": "Läsförståelse"}]
    shown = schemas.AppRequest.model_validate(views.request_json(request, REFS, steps))  # type: ignore[arg-type]
    assert shown.requester == REFS[PROTECTED] and shown.history is not None and shown.history[0].actor == REFS[PROTECTED]
    assert shown.decidedBy == PersonRef(id=None, name=None, kind="erased")
    assert str(PROTECTED) not in orjson.dumps(views.request_json(request, REFS, steps)).decode()  # type: ignore[arg-type]

    entry = {"at": NOW, "actor": str(EDITOR), "action": "app.published", "detail": {"name": "Räknestigen"}, "total": 1}
    audit = schemas.AppAudit.model_validate({"appId": str(uuid.uuid4()), **PageRequest(50, 0).page([entry], total=1, item=lambda r: views.audit_json(r, REFS))})  # type: ignore[arg-type]
    assert audit.items[0].actor == REFS[EDITOR]


def test_the_request_scope_selects_exactly_the_requests_a_caller_may_see() -> None:
    """Every combination of roles and token scope, against requests of the caller's school, district and others."""
    mine_school, other_school, mine_district, other_district = (str(uuid.uuid4()) for _ in range(4))
    requests = [{"requester": requester, "school_unit": uuid.UUID(school), "district": uuid.UUID(district) if district else None}
                for requester in ("me", "someone")
                for school in (mine_school, other_school)
                for district in (mine_district, other_district, None)]
    roles = [Role.TEACHER, Role.PRINCIPAL, Role.DISTRICT_ADMIN, Role.IT_ADMIN, Role.DATA_PROTECTION, Role.CITY_ADMIN]
    checked = 0
    for n in (1, 2):
        for combo in itertools.combinations(roles, n):
            for units, districts in ((frozenset(), frozenset()), (frozenset({mine_school}), frozenset()), (frozenset(), frozenset({mine_district})),
                                     (frozenset({mine_school}), frozenset({mine_district}))):
                caller = Principal(subject="me", roles=frozenset(combo), school_units=units, districts=districts)
                scope = access.request_scope(caller)
                for r in requests:
                    selected = (scope.everything or r["school_unit"] in scope.school_units or r["district"] in scope.districts
                                or r["requester"] == scope.requester)
                    assert selected == access.may_see_request(caller, r), (combo, units, districts, r)  # type: ignore[arg-type]
                    checked += 1
    assert checked > 1000
