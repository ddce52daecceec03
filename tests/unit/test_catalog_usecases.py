"""The catalog's use cases (services/catalog/usecases/) without a database: the store functions they call are
replaced by in-memory fakes, and a fake unit of work records what would go to the outbox. What is checked is
what each use case announces (the events it publishes) and what it refuses (nothing published then)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.catalog import store
from services.catalog.domain import LAPSED_STATUS, AppInput, DataProtection, StatusDefinition
from services.catalog.usecases import apps, licences, requests, usage
from shared.auth import Principal, Role
from shared.events.catalog import (
    AppChanged,
    AppPublished,
    AppRequestDecided,
    AppRequestProgressed,
    AppRetired,
    AppStatusChanged,
    LicenceExpiring,
    RequestDecision,
    RequestStep,
)
from shared.events.city import AppLaunchesCounted
from shared.events.envelope import Rejected
from shared.privacy import vault
from shared.problems import Problem
from tests.support.uow import FakeUnitOfWork

TODAY = date(2026, 3, 10)
SCHOOL, DISTRICT = uuid.uuid4(), uuid.uuid4()
KEY = uuid.UUID(int=7)

UNDER_REVIEW = StatusDefinition("under_review", "Under granskning", "Under review", allows_use=False)
APPROVED = StatusDefinition("approved", "Godkänd", "Approved", allows_use=True)
RETIRED = StatusDefinition("retired", "Avvecklad", "Retired", allows_use=False, retires=True)
LAPSED = StatusDefinition(LAPSED_STATUS, "PUB-avtal saknas", "DPA lapsed", allows_use=False)
STATUSES = {s.code: s for s in (UNDER_REVIEW, APPROVED, RETIRED, LAPSED)}


def person(*roles: Role, school: uuid.UUID | None = None, district: uuid.UUID | None = None) -> Principal:
    return Principal(str(uuid.uuid4()), frozenset(roles), frozenset({str(school)} if school else ()), frozenset({str(district)} if district else ()))


def sealed(who: Any) -> str:
    return f"pk1.{KEY}.{uuid.UUID(str(who)).hex}"



def app_input(**dp: Any) -> AppInput:
    return AppInput.model_validate({
        "name": "Räknestigen", "supplier": "Nordlärande AB", "description": "Övningar i taluppfattning.", "subjects": ["MA"],
        "grades": ["4", "5", "6"], "schoolTypes": ["GR"], "platforms": ["web"], "languages": ["sv"], "headings": ["digitalt-innehall"],
        "dataProtection": dp,
    })


SIGNED = {"dataCategories": ["identity"], "dpaStatus": "signed", "dpaSigned": date(2025, 1, 1), "dpaExpires": date(2027, 12, 31),
          "processingCountries": ["SE"]}


def app_row(app_id: uuid.UUID, app: AppInput, status: str, version: int = 1) -> dict[str, Any]:
    """An app row as store.get_app returns it (a dict serves: the use cases read it by column name)."""
    dp = app.dataProtection
    return {
        "id": app_id, "name": app.name, "supplier": app.supplier, "description": app.description, "url": app.url, "kind": app.kind,
        "cost_model": app.costModel, "free_use": app.freeUse, "subjects": app.subjects, "grades": app.grades,
        "school_types": app.schoolTypes, "platforms": app.platforms, "languages": app.languages, "accessibility": app.accessibility,
        "headings": app.headings, "keywords": app.keywords, "status": status, "data_categories": dp.dataCategories,
        "dpa_status": dp.dpaStatus.value, "dpa_signed": dp.dpaSigned, "dpa_expires": dp.dpaExpires,
        "sub_processors": [s.model_dump() for s in dp.subProcessors], "processing_countries": dp.processingCountries,
        "transfer_outside_eea": dp.transferOutsideEea, "transfer_safeguard": dp.transferSafeguard, "dpia_ref": dp.dpiaRef,
        "min_age": dp.minAge, "version": version,
    }


@pytest.fixture(autouse=True)
def sealing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sealing needs the key table; here a person is 'sealed' by a recognisable stand-in."""
    async def seal(conn: Any, who: Any) -> str:
        return sealed(who)

    async def seal_actor(conn: Any, actor: str) -> str:
        try:
            return sealed(actor)
        except ValueError:
            return actor  # a system's name travels as it is

    monkeypatch.setattr(vault, "seal", seal)
    monkeypatch.setattr(vault, "seal_actor", seal_actor)


@pytest.fixture
def programbank(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The apps, the audit rows and whether a duplicate is found, kept in memory behind the store functions."""
    state: dict[str, Any] = {"apps": {}, "audit": [], "duplicate": None, "unreviewed": set()}

    async def statuses(conn: Any) -> dict[str, StatusDefinition]:
        return STATUSES

    async def find_duplicate(conn: Any, name: str, supplier: str, other_than: Any = None) -> uuid.UUID | None:
        return state["duplicate"]

    async def insert_app(conn: Any, app_id: uuid.UUID, app: AppInput, status: str, actor: str, today: date) -> None:
        state["apps"][app_id] = app_row(app_id, app, status)

    async def update_app(conn: Any, app_id: uuid.UUID, app: AppInput, actor: str, today: date) -> None:
        old = state["apps"][app_id]
        state["apps"][app_id] = app_row(app_id, app, old["status"], old["version"] + 1)

    async def set_status(conn: Any, app_id: uuid.UUID, status: str, actor: str) -> None:
        row = state["apps"][app_id]
        state["apps"][app_id] = {**row, "status": status, "version": row["version"] + 1}

    async def get_app(conn: Any, app_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any] | None:
        return state["apps"].get(app_id)

    async def audit(conn: Any, actor: str, action: str, kind: str, key: str, detail: Any) -> None:
        state["audit"].append((actor, action, key))

    async def data_protection_reviewed(conn: Any, app_id: uuid.UUID) -> bool:
        return app_id not in state["unreviewed"]

    async def set_data_protection_reviewed(conn: Any, app_id: uuid.UUID, reviewed: bool) -> None:
        (state["unreviewed"].discard if reviewed else state["unreviewed"].add)(app_id)

    for name, fake in [("statuses", statuses), ("find_duplicate", find_duplicate), ("insert_app", insert_app), ("update_app", update_app),
                       ("set_status", set_status), ("get_app", get_app), ("audit", audit), ("data_protection_reviewed", data_protection_reviewed),
                       ("set_data_protection_reviewed", set_data_protection_reviewed)]:
        monkeypatch.setattr(store, name, fake)
    return state


# --- apps ----------------------------------------------------------------------------------------

async def test_publishing_an_app_announces_it_with_its_facts_and_the_sealed_publisher(programbank: dict[str, Any]) -> None:
    uow, editor = FakeUnitOfWork(), person(Role.IT_ADMIN)
    made = await apps.publish_app(uow, editor, app_input(**SIGNED), "approved", TODAY)
    assert made.status == APPROVED and made.row["id"] in programbank["apps"]
    [event] = uow.events
    assert isinstance(event, AppPublished)
    assert (event.id, event.name, event.status, event.allowsUse) == (made.row["id"], "Räknestigen", "approved", True)
    assert event.publishedBy == sealed(editor.subject)  # a person never travels plain
    assert programbank["audit"] == [(editor.subject, "app.published", str(made.row["id"]))]


async def test_publishing_a_duplicate_is_refused_and_announces_nothing(programbank: dict[str, Any]) -> None:
    programbank["duplicate"] = existing = uuid.uuid4()
    uow = FakeUnitOfWork()
    with pytest.raises(Problem) as refused:
        await apps.publish_app(uow, person(Role.IT_ADMIN), app_input(), "under_review", TODAY)
    assert refused.value.status == 409 and refused.value.extra["existingId"] == str(existing)
    assert uow.events == [] and programbank["apps"] == {}


async def test_an_app_cannot_start_approved_without_a_signed_agreement(programbank: dict[str, Any]) -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(Problem) as refused:
        await apps.publish_app(uow, person(Role.IT_ADMIN), app_input(dataCategories=["identity"], dpaStatus="missing"), "approved", TODAY)
    assert refused.value.status == 409 and "no signed data processing agreement" in str(refused.value.detail)
    assert uow.events == [] and programbank["apps"] == {}


async def test_a_retiring_status_announces_a_retirement(programbank: dict[str, Any]) -> None:
    app_id = uuid.uuid4()
    programbank["apps"][app_id] = app_row(app_id, app_input(), "under_review")
    uow, admin = FakeUnitOfWork(), person(Role.CITY_ADMIN)
    changed = await apps.set_status(uow, admin, app_id, "retired", "replaced by a city agreement", TODAY)
    assert changed.status == RETIRED and changed.row["status"] == "retired"
    [event] = uow.events
    assert isinstance(event, AppRetired) and event.retiredBy == sealed(admin.subject) and event.reason == "replaced by a city agreement"


async def test_a_retired_app_can_no_longer_change(programbank: dict[str, Any]) -> None:
    app_id = uuid.uuid4()
    programbank["apps"][app_id] = app_row(app_id, app_input(), "retired")
    uow = FakeUnitOfWork()
    with pytest.raises(Problem) as refused:
        await apps.change_app(uow, person(Role.IT_ADMIN), app_id, {"description": "Ny text."}, None, TODAY)
    assert refused.value.status == 409 and uow.events == []


async def test_an_approval_the_new_data_protection_does_not_support_lapses_by_rule(programbank: dict[str, Any]) -> None:
    app_id = uuid.uuid4()
    programbank["apps"][app_id] = app_row(app_id, app_input(**SIGNED), "approved")
    uow, dpo = FakeUnitOfWork(), person(Role.DATA_PROTECTION)
    lapsed = DataProtection.model_validate({**SIGNED, "dpaStatus": "requested", "dpaSigned": None, "dpaExpires": None})
    changed = await apps.set_data_protection(uow, dpo, app_id, lapsed, TODAY)
    assert changed.status == LAPSED
    described, status_changed = uow.events
    assert isinstance(described, AppChanged) and described.changedBy == sealed(dpo.subject)
    assert isinstance(status_changed, AppStatusChanged)
    assert (status_changed.previousStatus, status_changed.status, status_changed.automatic) == ("approved", LAPSED_STATUS, True)
    assert status_changed.changedBy == apps.SYSTEM  # the rule, by name


async def test_a_change_that_changes_nothing_announces_nothing(programbank: dict[str, Any]) -> None:
    app_id = uuid.uuid4()
    programbank["apps"][app_id] = app_row(app_id, app_input(), "under_review")
    uow = FakeUnitOfWork()
    await apps.change_app(uow, person(Role.IT_ADMIN), app_id, {"name": "Räknestigen"}, 1, TODAY)
    assert uow.events == [] and programbank["audit"] == []


# --- requests ------------------------------------------------------------------------------------

@pytest.fixture
def request_store(monkeypatch: pytest.MonkeyPatch, programbank: dict[str, Any]) -> dict[str, Any]:
    """One open request from a teacher at SCHOOL (a GR school) for an approved app that is free to use, with its steps;
    the apps behind the ``programbank`` fakes."""
    teacher = person(Role.TEACHER, school=SCHOOL)
    app_id = uuid.uuid4()
    programbank["apps"][app_id] = app_row(app_id, app_input(**SIGNED).model_copy(update={"freeUse": True}), "approved")
    held: dict[str, Any] = {"teacher": teacher, "steps": [], "programbank": programbank, "row": {
        "id": uuid.uuid4(), "school_unit": SCHOOL, "school_name": "Skola", "district": DISTRICT, "requester": teacher.subject,
        "app_id": app_id, "app_name": "Räknestigen", "proposed": None, "purpose": "Taluppfattning", "grades": ["5"], "state": "submitted",
        "conditions": None, "reason": None,
    }}

    async def get_request(conn: Any, request_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any] | None:
        return dict(held["row"]) if request_id == held["row"]["id"] else None

    async def move_request(conn: Any, request_id: uuid.UUID, *, state: str, now: datetime, waiting_since: Any, app_id: Any = None,
                           conditions: str | None = None, reason: str | None = None, decided_by: str | None = None) -> None:
        row = held["row"]
        row.update(state=state, conditions=conditions or row["conditions"], reason=reason or row["reason"])

    async def link_request_app(conn: Any, request_id: uuid.UUID, app_id: uuid.UUID) -> None:
        held["row"]["app_id"] = app_id

    async def add_request_step(conn: Any, request_id: uuid.UUID, actor: str, step: str, note: str | None, at: datetime) -> None:
        held["steps"].append((actor, step, note))

    async def request_steps(conn: Any, request_id: uuid.UUID) -> list[Any]:
        return list(held["steps"])

    async def school(conn: Any, school_unit: uuid.UUID) -> dict[str, Any] | None:
        return {"id": SCHOOL, "display_name": "Skola", "school_types": ["GR"], "district": DISTRICT} if school_unit == SCHOOL else None

    async def licensed(conn: Any, app_id: uuid.UUID, school_unit: uuid.UUID, today: date) -> bool:
        return False

    async def open_request_for(conn: Any, app_id: uuid.UUID, school_unit: uuid.UUID) -> None:
        return None

    for name, fn in [("get_request", get_request), ("move_request", move_request), ("add_request_step", add_request_step),
                     ("request_steps", request_steps), ("link_request_app", link_request_app), ("school", school), ("licensed", licensed),
                     ("open_request_for", open_request_for)]:
        monkeypatch.setattr(store, name, fn)
    return held


async def test_approving_a_request_announces_the_decision(request_store: dict[str, Any]) -> None:
    uow, reviewer = FakeUnitOfWork(), person(Role.IT_ADMIN, district=DISTRICT)
    moved = await requests.act_on_request(uow, reviewer, request_store["row"]["id"], action="approve", conditions="pseudonymised accounts only")
    assert moved.row["state"] == "approved" and moved.steps == [(reviewer.subject, "approve", "pseudonymised accounts only")]
    [event] = uow.events
    assert isinstance(event, AppRequestDecided)
    assert (event.decision, event.conditions, event.reason) == (RequestDecision.APPROVED, "pseudonymised accounts only", None)
    assert event.decidedBy == sealed(reviewer.subject) and event.requester == sealed(request_store["teacher"].subject)


async def test_approving_a_request_for_an_app_not_yet_approved_approves_it_by_the_same_rules(request_store: dict[str, Any]) -> None:
    apps_held = request_store["programbank"]["apps"]
    app_id = request_store["row"]["app_id"]
    apps_held[app_id] = {**apps_held[app_id], "status": "under_review"}
    uow, dpo = FakeUnitOfWork(), person(Role.DATA_PROTECTION)
    moved = await requests.act_on_request(uow, dpo, request_store["row"]["id"], action="approve", today=TODAY)
    assert moved.row["state"] == "approved" and moved.refusal is None and apps_held[app_id]["status"] == "approved"
    status_changed, decided = uow.events
    assert isinstance(status_changed, AppStatusChanged) and (status_changed.previousStatus, status_changed.status) == ("under_review", "approved")
    assert isinstance(decided, AppRequestDecided) and decided.decision == RequestDecision.APPROVED


@pytest.mark.parametrize("lang", ["sv", "en"])
async def test_an_approval_the_app_cannot_support_is_refused_with_the_blockers_and_changes_nothing(request_store: dict[str, Any], lang: str) -> None:
    apps_held = request_store["programbank"]["apps"]
    app_id = request_store["row"]["app_id"]
    expired = {**SIGNED, "dpaExpires": date(2026, 1, 31)}
    apps_held[app_id] = {**app_row(app_id, app_input(**expired), "under_review"), "free_use": False}
    uow, dpo = FakeUnitOfWork(), person(Role.DATA_PROTECTION)
    with pytest.raises(Problem) as refused:
        await requests.act_on_request(uow, dpo, request_store["row"]["id"], action="approve", today=TODAY, lang=lang)
    assert refused.value.status == 409
    assert [b["code"] for b in refused.value.extra["blockers"]] == ["dpa_expired", "licence_needed"]
    expected = {"sv": "Personuppgiftsbiträdesavtalet gick ut 2026-01-31.", "en": "The data processing agreement expired on 2026-01-31."}[lang]
    assert expected in str(refused.value.detail)
    assert uow.events == [] and request_store["row"]["state"] == "submitted" and apps_held[app_id]["status"] == "under_review"


async def test_a_request_for_a_new_app_gets_a_draft_whose_use_waits_for_the_data_protection_review(request_store: dict[str, Any]) -> None:
    apps_held = request_store["programbank"]["apps"]
    request_store["row"].update(app_id=None, app_name="Ordjakten", proposed={"name": "Ordjakten", "supplier": "Ordlek AB", "url": None, "description": ""})
    uow, it_admin = FakeUnitOfWork(), person(Role.IT_ADMIN, district=DISTRICT)
    moved = await requests.act_on_request(uow, it_admin, request_store["row"]["id"], action="approve", today=TODAY)
    # the draft is made and the request acknowledged (committed by the route); the approval itself is refused
    draft_id = moved.row["app_id"]
    assert draft_id in apps_held and apps_held[draft_id]["status"] == "under_review" and moved.row["state"] == "acknowledged"
    assert moved.refusal is not None and moved.refusal.status == 409
    assert [b["code"] for b in moved.refusal.extra["blockers"]][0] == "dp_not_reviewed"
    published, acknowledged = uow.events
    assert isinstance(published, AppPublished) and published.allowsUse is False
    assert isinstance(acknowledged, AppRequestProgressed) and acknowledged.step == RequestStep.ACKNOWLEDGED and acknowledged.appId == draft_id
    # an IT admin cannot approve the draft directly either, whatever its (empty) facts say
    with pytest.raises(Problem) as direct:
        await apps.set_status(FakeUnitOfWork(), it_admin, draft_id, "approved", None, TODAY)
    assert direct.value.status == 409 and "has not yet reviewed" in str(direct.value.detail)
    # once the data-protection function has recorded the facts (none: no personal data), the request can be approved
    await apps.set_data_protection(FakeUnitOfWork(), person(Role.DATA_PROTECTION), draft_id, DataProtection(), TODAY)
    uow = FakeUnitOfWork()
    apps_held[draft_id] = {**apps_held[draft_id], "free_use": True}
    approved = await requests.act_on_request(uow, it_admin, request_store["row"]["id"], action="approve", today=TODAY)
    assert approved.row["state"] == "approved" and apps_held[draft_id]["status"] == "approved"
    assert [type(e) for e in uow.events] == [AppStatusChanged, AppRequestDecided]


async def test_the_requester_cannot_approve_their_own_request(request_store: dict[str, Any]) -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(Problem) as refused:
        await requests.act_on_request(uow, request_store["teacher"], request_store["row"]["id"], action="approve")
    assert refused.value.status == 403 and "only reviewers" in str(refused.value.detail)
    assert uow.events == [] and request_store["row"]["state"] == "submitted"


async def test_a_rejection_needs_a_reason(request_store: dict[str, Any]) -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(Problem) as refused:
        await requests.act_on_request(uow, person(Role.CITY_ADMIN), request_store["row"]["id"], action="reject", note="  ")
    assert refused.value.status == 422 and refused.value.extra["field"] == "note"
    assert uow.events == [] and request_store["steps"] == []


async def test_a_request_of_someone_else_at_another_school_is_not_to_be_seen(request_store: dict[str, Any]) -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(Problem) as refused:
        await requests.act_on_request(uow, person(Role.TEACHER, school=uuid.uuid4()), request_store["row"]["id"], action="withdraw")
    assert refused.value.status == 403 and uow.events == []


async def test_withdrawing_is_a_step_not_a_decision(request_store: dict[str, Any]) -> None:
    uow = FakeUnitOfWork()
    moved = await requests.act_on_request(uow, request_store["teacher"], request_store["row"]["id"], action="withdraw", note="found another")
    assert moved.row["state"] == "withdrawn"
    [event] = uow.events
    assert isinstance(event, AppRequestProgressed) and event.step == RequestStep.WITHDRAWN and event.note == "found another"


# --- licences and usage --------------------------------------------------------------------------

async def test_each_licence_about_to_end_is_announced_once_and_marked(monkeypatch: pytest.MonkeyPatch) -> None:
    licence = {"id": uuid.uuid4(), "app_id": uuid.uuid4(), "app_name": "Räknestigen", "school_unit": SCHOOL, "licence_type": "school",
               "seats": None, "expires": date(2026, 4, 9)}
    marked: list[tuple[uuid.UUID, date]] = []

    async def needing_notice(conn: Any, today: date, days: int) -> list[dict[str, Any]]:
        return [licence]

    async def mark_notice_sent(conn: Any, licence_id: uuid.UUID, expires: date) -> None:
        marked.append((licence_id, expires))

    monkeypatch.setattr(store, "licences_needing_notice", needing_notice)
    monkeypatch.setattr(store, "mark_notice_sent", mark_notice_sent)
    uow = FakeUnitOfWork()
    assert await licences.run_licence_notices(uow, TODAY) == {"notices": 1}
    [event] = uow.events
    assert isinstance(event, LicenceExpiring) and (event.licenceId, event.daysLeft) == (licence["id"], 30)
    assert marked == [(licence["id"], licence["expires"])]


async def test_launches_of_an_app_not_in_the_programbank_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded: list[dict[str, Any]] = []

    async def app_exists(conn: Any, app_id: uuid.UUID) -> bool:
        return False

    async def record_usage(conn: Any, **fields: Any) -> None:
        recorded.append(fields)

    monkeypatch.setattr(store, "app_exists", app_exists)
    monkeypatch.setattr(store, "record_usage", record_usage)
    counted = AppLaunchesCounted(appId=uuid.uuid4(), schoolUnitId=SCHOOL, periodStart=date(2026, 2, 1), periodEnd=date(2026, 2, 28),
                                 launches=120, activeUsers=40)
    with pytest.raises(Rejected, match="not in the programbank"):
        await usage.apply_app_launches_counted(FakeUnitOfWork(), counted, datetime(2026, 3, 1, tzinfo=UTC))
    assert recorded == []
