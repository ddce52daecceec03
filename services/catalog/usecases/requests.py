"""Teachers' requests for apps and their review: submitting one, moving it on (acknowledge, ask for more,
answer, approve perhaps with conditions, reject always with a reason, withdraw), and reminding reviewers
of a request that waits for them. Every step is an event the notification service turns into a message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from services.catalog import access, domain, store
from services.catalog.queries import app_or_404
from services.catalog.settings import CATALOG
from services.catalog.usecases import refused
from shared.auth import Principal
from shared.clock import CITY_TZ
from shared.events.catalog import AppRequestDecided, AppRequestProgressed, AppRequestStalled, AppRequestSubmitted, RequestDecision
from shared.privacy import vault
from shared.problems import Problem, rejected
from shared.uow import UnitOfWork


@dataclass(frozen=True)
class RequestState:
    """A request as a step left it, with its history."""

    row: asyncpg.Record
    steps: list[asyncpg.Record]


async def request_facts(conn: asyncpg.Connection, row: asyncpg.Record) -> dict[str, Any]:
    """What every AppRequest* event says; the requester travels sealed (docs/decisions/0009)."""
    return {"requestId": row["id"], "schoolUnitId": row["school_unit"], "districtId": row["district"],
            "requester": await vault.seal(conn, row["requester"]), "appId": row["app_id"], "appName": row["app_name"]}


async def submit_request(uow: UnitOfWork, caller: Principal, *, school_unit_id: UUID, app_id: UUID | None, new_app: dict[str, Any] | None,
                         purpose: str, grades: list[str], pupils: int | None, today: date) -> RequestState:
    """A teacher or principal who works at the school asks for an app: one in the programbank (``app_id``) that the
    school may not use yet, or a new one (``new_app``: name, supplier, url, description)."""
    conn = uow.conn
    now = datetime.now(UTC)
    request_id = uuid4()
    school = await store.school(conn, school_unit_id)
    if school is None:
        raise rejected(422, f"school unit {school_unit_id} is not known", "schoolUnitId")
    duty = await access.requester_duty(conn, caller, school)
    if app_id is not None:
        app = await store.get_app(conn, app_id)
        if app is None:
            raise rejected(422, f"app {app_id} is not in the programbank; request it as a new app instead", "appId")
        statuses = await store.statuses(conn)
        if statuses[app["status"]].retires:
            raise rejected(409, f"{app['name']} is retired from the programbank", "appId")
        available, _ = domain.availability(status=statuses[app["status"]], app_grades=app["grades"], app_school_types=app["school_types"],
                                           free_use=app["free_use"], school_types=school["school_types"],
                                           licensed=await store.licensed(conn, app["id"], school["id"], today))
        if available:
            raise rejected(409, f"{app['name']} is already available to {school['display_name']}", "appId")
        app_name = app["name"]
    else:
        assert new_app is not None
        duplicate = await store.find_duplicate(conn, new_app["name"], new_app["supplier"])
        if duplicate is not None:
            raise Problem(409, "Conflict", f"{new_app['name']!r} is already in the programbank; request it by its appId", field="newApp.name", existingId=str(duplicate))
        app_name = new_app["name"]
    inserted = await store.insert_request(
        conn, id=request_id, school_unit=school["id"], district=school["district"], requester=caller.subject, requester_duty=duty,
        app_id=app_id, proposed=new_app, app_name=app_name, purpose=purpose, grades=grades, pupils=pupils, now=now,
    )
    if not inserted:
        existing = await store.open_request_for(conn, app_id, school["id"])  # type: ignore[arg-type]
        raise Problem(409, "Conflict", f"{school['display_name']} already has an open request for {app_name}", field="appId", existingId=str(existing))
    await store.add_request_step(conn, request_id, caller.subject, "submitted", purpose, now)
    row = await store.get_request(conn, request_id)
    assert row is not None
    await uow.publish(AppRequestSubmitted(**await request_facts(conn, row), newApp=app_id is None, submittedAt=now))
    return RequestState(row, await store.request_steps(conn, request_id))


async def act_on_request(uow: UnitOfWork, caller: Principal, request_id: UUID, *, action: str, note: str | None = None,
                         conditions: str | None = None, app_id: UUID | None = None) -> RequestState:
    """Moves a request on. Reviewers acknowledge, ask for information, approve (``conditions``; ``app_id`` links the
    record made for a new app) or reject (the reason in ``note``): AppRequestDecided for a decision,
    AppRequestProgressed for every other step. The requester answers (provide_info) or withdraws."""
    conn = uow.conn
    now = datetime.now(UTC)
    row = await access.visible_request(conn, caller, request_id, lock=True)
    if action in domain.REVIEW_ACTIONS and not access.may_review(caller, row["school_unit"], row["district"]):
        raise Problem(403, "Forbidden", "only reviewers (IT admins of the school's district, the data-protection function, city admins) may " + action.replace("_", " "))
    if action in domain.REQUESTER_ACTIONS and caller.subject != row["requester"]:
        raise Problem(403, "Forbidden", f"only the requester may {action.replace('_', ' ')}")
    try:
        state = domain.next_request_state(row["state"], action, note)
    except domain.Rejected as exc:
        raise refused(exc) from None
    linked = None
    if app_id is not None:
        if action != "approve" or row["app_id"] is not None:
            raise rejected(422, "appId links the app record created for an approved request for a new app", "appId")
        linked = (await app_or_404(conn, app_id))["id"]
    decided = action in ("approve", "reject")
    await store.move_request(conn, request_id, state=state, now=now, waiting_since=domain.waiting_since(state, now), app_id=linked,
                             conditions=conditions if action == "approve" else None,
                             reason=note if action == "reject" else None, decided_by=caller.subject if decided else None)
    await store.add_request_step(conn, request_id, caller.subject, action, note or conditions, now)
    row = await store.get_request(conn, request_id)
    assert row is not None
    facts = await request_facts(conn, row)
    by = await vault.seal_actor(conn, caller.subject)
    if decided:
        decision = RequestDecision.APPROVED if action == "approve" else RequestDecision.REJECTED
        await uow.publish(AppRequestDecided(**facts, decision=decision, conditions=row["conditions"], reason=row["reason"], decidedBy=by, decidedAt=now))
    else:
        await uow.publish(AppRequestProgressed(**facts, step=domain.STEP_OF[action], by=by, note=note, at=now))
    return RequestState(row, await store.request_steps(conn, request_id))


async def remind_stalled_reviews(uow: UnitOfWork, today: date) -> dict[str, int]:
    """Reviewers hear about a request that has waited for them ``review_reminder_days`` or more."""
    now = datetime.combine(today, datetime.now(CITY_TZ).timetz())  # today's date at the current time
    reminded = 0
    for r in await store.waiting_requests(uow.conn):
        if not domain.review_stalled(r["waiting_since"], r["reminded_at"], now, CATALOG.review_reminder_days):
            continue
        await uow.publish(AppRequestStalled(
            requestId=r["id"], schoolUnitId=r["school_unit"], districtId=r["district"], requester=await vault.seal(uow.conn, r["requester"]),
            appId=r["app_id"], appName=r["app_name"], state=r["state"], waitingSince=r["waiting_since"], daysWaiting=(now - r["waiting_since"]).days,
        ))
        await store.mark_reminded(uow.conn, r["id"], now)
        reminded += 1
    return {"reminded": reminded}
