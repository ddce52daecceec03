"""The anonymous pulse: staff (and upper-secondary pupils) rate the school on the same headings.

Answering needs no account, only the school's code for the round, and stores no identity: only a
count per heading and level goes into the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.assessment import access, domain, store
from services.assessment.usecases.assessments import load
from shared.problems import Problem, rejected
from shared.uow import UnitOfWork


async def open_pulse(conn: asyncpg.Connection, code: str) -> tuple[asyncpg.Record, domain.KnownSchool]:
    """The assessment a pulse code belongs to, with its school unit (a read: the questionnaire)."""
    row = await store.assessment_by_pulse_code(conn, code)
    if row is None:
        raise Problem(404, "Not found", "no pulse with this code")
    return row, await access.known_school(conn, row["school_unit"])


def refuse_if_closed(row: Mapping[str, Any], now: datetime) -> None:
    if row["campaign_status"] != "open":
        raise rejected(409, "the round is closed", "campaign.status")
    if row["status"] == "submitted":
        raise rejected(409, "the school has submitted its assessment; the pulse is closed", "status")
    if domain.deadline_passed(row["effective_deadline"], now):
        raise rejected(409, f"the deadline {row['effective_deadline'].isoformat()} has passed", "deadline")


async def record_pulse_answer(uow: UnitOfWork, code: str, group: str, answers: Mapping[str, int]) -> None:
    """Counts one anonymous respondent's levels per heading (headings left out count as 'do not know')."""
    row = await store.assessment_by_pulse_code(uow.conn, code)
    if row is None:
        raise Problem(404, "Not found", "no pulse with this code")
    a = await load(uow.conn, row["id"], lock=True)  # a submission in flight finishes first
    refuse_if_closed(a.row, datetime.now(UTC))
    try:
        checked = domain.check_pulse(a.framework, group, domain.pulse_groups(a.school.school_types), answers)
    except domain.Rejected as exc:
        raise rejected(exc.status, str(exc), exc.field) from exc
    await store.record_pulse(uow.conn, a.row["campaign_id"], a.school.id, group, checked)
