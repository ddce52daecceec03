"""Teachers' requests for apps and their review: submitting one, moving it on (acknowledge, ask for more,
answer, approve perhaps with conditions, reject always with a reason, withdraw), and reminding reviewers
of a request that waits for them. Every step is an event the notification service turns into a message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from pydantic import ValidationError

from services.catalog import access, domain, store
from services.catalog.queries import app_or_404
from services.catalog.settings import CATALOG
from services.catalog.usecases import apps, licences, refused
from shared.auth import Principal
from shared.clock import CITY_TZ, city_today
from shared.events.catalog import AppRequestDecided, AppRequestProgressed, AppRequestStalled, AppRequestSubmitted, RequestDecision
from shared.privacy import vault
from shared.problems import Problem, invalid, rejected
from shared.uow import UnitOfWork


@dataclass(frozen=True)
class RequestState:
    """A request as a step left it, with its history; ``refusal``: a refusal to answer with once the step is committed
    (approving a request for a new app makes its draft record, but cannot approve its use yet)."""

    row: asyncpg.Record
    steps: list[asyncpg.Record]
    refusal: Problem | None = None


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


@dataclass(frozen=True)
class LicenceTerms:
    """The licence an approval gives the requester's school (as POST /licences takes one)."""

    licence_type: str
    starts: date
    expires: date
    seats: int | None = None
    group_name: str | None = None
    note: str = ""


# Which field of the decision a blocker is about (the problem's ``field``).
_BLOCKER_FIELD = {"licence_needed": "licence", "licence_not_current": "licence", "decision_status_disallows_use": "status",
                  "no_usable_grades": "status", "requested_grades_not_allowed": "status"}


async def act_on_request(uow: UnitOfWork, caller: Principal, request_id: UUID, *, action: str, note: str | None = None,
                         conditions: str | None = None, app_id: UUID | None = None, status: str | None = None,
                         licence: LicenceTerms | None = None, draft: dict[str, Any] | None = None, today: date | None = None,
                         lang: str = "sv") -> RequestState:
    """Moves a request on. Reviewers acknowledge, ask for information, approve (``conditions``) or reject (the reason
    in ``note``): AppRequestDecided for a decision, AppRequestProgressed for every other step. The requester answers
    (provide_info) or withdraws.

    The request and the catalogue are one workflow. A request for a new app gets its catalogue record when a reviewer
    acknowledges or approves it: an existing one they name (``app_id``) or a draft made from the proposal (``draft``:
    corrections to its description), under review, whose use cannot be approved before the data-protection function
    has recorded its facts. Approving makes the app usable at the requester's school by the rules of a direct approval
    (``status``: the status it gets when its own allows no use, ``approved`` unless named; ``licence``: for an app that
    is not free to use), or is refused with a 409 naming every blocker in the reader's language (``lang``)."""
    conn = uow.conn
    today = today or city_today()
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
    needs_record = row["app_id"] is None and action in ("acknowledge", "approve")
    if app_id is not None and not needs_record:
        raise rejected(422, "appId links a request for a new app to an app record, on acknowledging or approving it", "appId")
    if draft and (not needs_record or app_id is not None):
        raise rejected(422, "app describes the draft record made for a request for a new app, on acknowledging or approving it", "app")
    if (status is not None or licence is not None) and action != "approve":
        raise rejected(422, "status and licence are part of an approval", "status" if status is not None else "licence")

    refusal: Problem | None = None
    if needs_record:
        made_draft = app_id is None
        linked = await _record_for(uow, caller, row, app_id, draft or {}, today)
        await store.link_request_app(conn, request_id, linked)
        row = await store.get_request(conn, request_id, lock=True)
        assert row is not None
        if action == "approve" and made_draft:
            # the draft exists now; its use waits for the data-protection review, so the request is acknowledged, not approved
            refusal = await _approval_blockers(uow, caller, row, status=status, licence=licence, today=today, lang=lang)
            assert refusal is not None  # an unreviewed draft is always blocked
            if row["state"] != "submitted":
                return RequestState(row, await store.request_steps(conn, request_id), refusal)
            action, state = "acknowledge", "acknowledged"
    if action == "approve":
        blocked = await _approval_blockers(uow, caller, row, status=status, licence=licence, today=today, lang=lang)
        if blocked is not None:
            raise blocked
        await _make_available(uow, caller, row, status=status, licence=licence, today=today)

    decided = action in ("approve", "reject")
    await store.move_request(conn, request_id, state=state, now=now, waiting_since=domain.waiting_since(state, now),
                             conditions=conditions if action == "approve" else None,
                             reason=note if action == "reject" else None, decided_by=caller.subject if decided else None)
    await store.add_request_step(conn, request_id, caller.subject, action, note or (conditions if action == "approve" else None), now)
    row = await store.get_request(conn, request_id)
    assert row is not None
    facts = await request_facts(conn, row)
    by = await vault.seal_actor(conn, caller.subject)
    if decided:
        decision = RequestDecision.APPROVED if action == "approve" else RequestDecision.REJECTED
        await uow.publish(AppRequestDecided(**facts, decision=decision, conditions=row["conditions"], reason=row["reason"], decidedBy=by, decidedAt=now))
    else:
        await uow.publish(AppRequestProgressed(**facts, step=domain.STEP_OF[action], by=by, note=note, at=now))
    return RequestState(row, await store.request_steps(conn, request_id), refusal)


async def _record_for(uow: UnitOfWork, caller: Principal, row: asyncpg.Record, app_id: UUID | None, draft: dict[str, Any],
                      today: date) -> UUID:
    """The catalogue record of a request for a new app: the existing one the reviewer names, or a new draft."""
    conn = uow.conn
    if app_id is not None:
        app = await app_or_404(conn, app_id)
        existing = await store.open_request_for(conn, app["id"], row["school_unit"])
        if existing is not None:
            raise Problem(409, "Conflict", f"{row['school_name'] or row['school_unit']} already has an open request for {app['name']}",
                          field="appId", existingId=str(existing))
        return app["id"]
    school = await store.school(conn, row["school_unit"])
    try:
        described = domain.draft_app(row["proposed"] or {"name": row["app_name"]}, row["purpose"], row["grades"],
                                     school["school_types"] if school else [], draft)
    except ValidationError as exc:
        problem = invalid(exc)
        field = f"app.{problem.extra['field']}" if problem.extra.get("field") else "app"
        raise Problem(422, "Invalid request", problem.detail, field=field,
                      errors=[{**e, "location": f"app.{e['location']}"} for e in problem.extra.get("errors", [])]) from None
    duplicate = await store.find_duplicate(conn, described.name, described.supplier)
    if duplicate is not None:
        raise Problem(409, "Conflict", f"the programbank already has {described.name!r} from {described.supplier!r}; link the request to it "
                      "with appId", field="appId", existingId=str(duplicate))
    statuses = await store.statuses(conn)
    made = await apps.insert_app(uow, described, statuses[domain.INITIAL_STATUS], caller.subject, today)
    await store.set_data_protection_reviewed(conn, made["id"], False)
    await store.audit(conn, caller.subject, "app.drafted-from-request", "app", str(made["id"]), {"requestId": str(row["id"])})
    return made["id"]


async def _approval_blockers(uow: UnitOfWork, caller: Principal, row: asyncpg.Record, *, status: str | None, licence: LicenceTerms | None,
                             today: date, lang: str) -> Problem | None:
    """Why approving the request would not make the app available at the school, as the problem to answer; None if it would."""
    conn = uow.conn
    app = await store.get_app(conn, row["app_id"], lock=True)
    school = await store.school(conn, row["school_unit"])
    if app is None or school is None:
        raise Problem(409, "Conflict", "the request's app or school unit is no longer known", field="appId")
    if licence is not None:
        access.ensure_licenser_for(caller, school)
    statuses = await store.statuses(conn)
    current = statuses[app["status"]]
    wanted = None
    if status is not None:
        wanted = statuses.get(status)
        if wanted is None:
            raise rejected(422, f"unknown status {status!r}; statuses: {', '.join(statuses)}", "status")
    elif not current.allows_use:
        wanted = statuses.get(domain.APPROVED_STATUS)
    plan = domain.request_approval(
        current=current, wanted=wanted, dp=store.data_protection(app), reviewed=await store.data_protection_reviewed(conn, app["id"]),
        app_grades=app["grades"], app_school_types=app["school_types"], free_use=app["free_use"], school_types=school["school_types"],
        licensed=await store.licensed(conn, app["id"], school["id"], today),
        licence_period=(licence.starts, licence.expires) if licence else None, requested_grades=row["grades"], today=today)
    if not plan.blockers:
        return None
    return Problem(409, "Conflict", domain.decision_refusal(app["name"], plan.blockers, lang),
                   field=_BLOCKER_FIELD.get(plan.blockers[0].code, "appId"), appId=str(app["id"]),
                   blockers=[{"code": b.code, "text": b.text(lang)} for b in plan.blockers])


async def _make_available(uow: UnitOfWork, caller: Principal, row: asyncpg.Record, *, status: str | None, licence: LicenceTerms | None,
                          today: date) -> None:
    """What an approval does (its blockers checked already): the app's status through the status use case (the same
    rules, audit row and event as a direct change) and the school's licence through the licence use case."""
    conn = uow.conn
    app = await store.get_app(conn, row["app_id"], lock=True)
    assert app is not None
    statuses = await store.statuses(conn)
    code = status or (None if statuses[app["status"]].allows_use else domain.APPROVED_STATUS)
    if code is not None and code != app["status"]:
        await apps.set_status(uow, caller, app["id"], code, f"request {row['id']} approved for {row['school_name'] or row['school_unit']}", today)
    if licence is not None:
        await licences.add_licences(uow, caller, app_id=app["id"], school_unit_ids=[row["school_unit"]], licence_type=licence.licence_type,
                                    seats=licence.seats, group_name=licence.group_name, starts=licence.starts, expires=licence.expires,
                                    note=licence.note or f"request {row['id']}")
    # the invariant, checked where it must hold: an approved request's app is available at its school
    app = await store.get_app(conn, row["app_id"])
    school = await store.school(conn, row["school_unit"])
    assert app is not None and school is not None
    available, why = domain.availability(status=statuses[app["status"]], app_grades=app["grades"], app_school_types=app["school_types"],
                                         free_use=app["free_use"], school_types=school["school_types"],
                                         licensed=await store.licensed(conn, app["id"], school["id"], today))
    if not available:
        raise Problem(409, "Conflict", "the request cannot be approved: " + why.text("en"), field="appId")


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
