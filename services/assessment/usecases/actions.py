"""The school's action plan: the Rektor adds actions with owner, deadline, success criterion and status,
changes them, and writes follow-up notes; each change publishes ActionPlanChanged.

Actions outlive the round they came from: next year's assessment lists the open ones for
follow-up, and a note written then records what happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from services.assessment import access, store
from services.assessment.framework import latest, published
from shared.auth import Principal
from shared.events.assessment import ActionChange, ActionPlanChanged, ActionStatus
from shared.problems import Problem, rejected
from shared.uow import UnitOfWork


def _event(row: Mapping[str, Any], change: ActionChange) -> ActionPlanChanged:
    return ActionPlanChanged(actionId=row["id"], schoolUnitId=row["school_unit"], assessmentId=row["assessment_id"], heading=row["heading"],
                             indicatorId=row["indicator_id"], status=ActionStatus(row["status"]), deadline=row["deadline"], change=change,
                             changedAt=datetime.now(UTC))


async def _ensure_assessment_of(conn: asyncpg.Connection, assessment_id: UUID, school_unit: UUID) -> asyncpg.Record:
    row = await store.get_assessment(conn, assessment_id)
    if row is None or row["school_unit"] != school_unit:
        raise rejected(422, f"assessment {assessment_id} is not an assessment of this school unit", "assessmentId")
    return row


async def add_action(uow: UnitOfWork, caller: Principal, school_unit: UUID, *, heading: str, indicator_id: str | None, title: str, owner: str,
                     deadline: date | None, success_criterion: str, status: str, assessment_id: UUID | None,
                     audited: Mapping[str, Any]) -> asyncpg.Record:
    """The new action's row. The heading (and indicator) must exist in the framework version of the
    assessment it answers to, or in the latest one. ``audited``: what the caller sent, for the audit trail."""
    school = await access.known_school(uow.conn, school_unit)
    await access.ensure_rektor(uow.conn, caller, school)
    framework = latest()
    if assessment_id is not None:
        origin = await _ensure_assessment_of(uow.conn, assessment_id, school_unit)
        framework = published()[origin["framework_version"]]
    if heading not in {h.id for h in framework.headings}:
        raise rejected(422, f"unknown heading {heading!r}", "heading")
    if indicator_id is not None:
        indicator = framework.by_id.get(indicator_id)
        if indicator is None or indicator.heading != heading:
            raise rejected(422, f"indicator {indicator_id!r} is not an indicator of heading {heading} in framework version {framework.version}", "indicatorId")
    row = await store.insert_action(uow.conn, id=uuid4(), school_unit=school_unit, assessment_id=assessment_id, heading=heading,
                                    indicator_id=indicator_id, title=title, owner=owner, deadline=deadline,
                                    success_criterion=success_criterion, status=status, created_by=caller.subject)
    await store.audit(uow.conn, caller.subject, "action.created", "action", str(row["id"]), dict(audited))
    await uow.publish(_event(row, ActionChange.CREATED))
    return row


async def change_action(uow: UnitOfWork, caller: Principal, action_id: UUID, *, title: str | None = None, owner: str | None = None,
                        deadline: date | None = None, success_criterion: str | None = None, status: str | None = None,
                        note: str | None = None, assessment_id: UUID | None = None, audited: Mapping[str, Any]) -> asyncpg.Record:
    """The changed action's row, with its notes. None leaves a field as it is; a note is written under the
    action's (new) status. ``audited``: what the caller sent, for the audit trail; empty is refused."""
    if not audited:
        raise rejected(422, "nothing to change", "body")
    row = await store.get_action(uow.conn, action_id, lock=True)
    if row is None:
        raise Problem(404, "Not found", f"action {action_id} does not exist")
    school = await access.known_school(uow.conn, row["school_unit"])
    await access.ensure_rektor(uow.conn, caller, school)
    if assessment_id is not None:
        await _ensure_assessment_of(uow.conn, assessment_id, row["school_unit"])
    if note:
        # written before the update, whose read of the action then includes it (one read, not two)
        await store.add_action_note(uow.conn, action_id, assessment_id, note, status or row["status"], caller.subject)
    row = await store.update_action(uow.conn, action_id, {"title": title, "owner": owner, "deadline": deadline,
                                                          "success_criterion": success_criterion, "status": status})
    await store.audit(uow.conn, caller.subject, "action.changed", "action", str(action_id), dict(audited))
    await uow.publish(_event(row, ActionChange.UPDATED))
    return row
