"""SQL of the assessment service's privacy part (services/assessment/privacy.py).

Right of access: the queries of assessment's part of a person's export (``gather``): every row that
names the person — who opened or closed a round, submitted an assessment, saved an answer, added an
action or wrote a note. Staff appear by their token subject, the SS 12000 person id (text columns).

Erasure: assessment's erasure (docs/decisions/0009): what it holds about a person, deleted or
anonymised in the caller's transaction. Who did something becomes "erased"; what they wrote goes; the
school's levels stay, so history and reports keep their figures.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from shared.privacy.erasure import (
    ERASED, erase_shared_tables, scrub_audit_log, scrub_outbox,
)

#: carried-forward answers are saved by this actor (services/assessment/usecases/campaigns.py)
CARRIED_BY = "skolit:carry-forward"


def _count(status: str) -> int:
    return int(status.split()[-1])


async def erase_person(conn: asyncpg.Connection, person: UUID) -> dict[str, int]:
    text = str(person)
    counts = await erase_shared_tables(conn, person)
    counts["campaign"] = _count(await conn.execute(
        "UPDATE campaign SET opened_by = CASE WHEN lower(opened_by) = $1 THEN $2 ELSE opened_by END,"
        " closed_by = CASE WHEN lower(closed_by) = $1 THEN $2 ELSE closed_by END"
        " WHERE lower(opened_by) = $1 OR lower(closed_by) = $1",
        text, ERASED,
    ))
    counts["assessment"] = _count(await conn.execute(
        "UPDATE assessment SET submitted_by = $2 WHERE lower(submitted_by) = $1", text, ERASED))
    # Their comments and evidence go, with the copies carried forward into later rounds unchanged; levels stay.
    counts["answer"] = _count(await conn.execute(
        """
        WITH RECURSIVE theirs AS (
            SELECT assessment_id, indicator_id, comment, evidence FROM answer WHERE lower(updated_by) = $1
            UNION
            SELECT c.assessment_id, c.indicator_id, c.comment, c.evidence FROM answer c JOIN theirs t ON c.carried_from = t.assessment_id
            WHERE c.updated_by = $3 AND c.comment IS NOT DISTINCT FROM t.comment AND c.evidence = t.evidence)
        UPDATE answer a SET updated_by = CASE WHEN lower(a.updated_by) = $1 THEN $2 ELSE a.updated_by END, comment = NULL, evidence = '{}'
        FROM theirs t WHERE a.assessment_id = t.assessment_id AND a.indicator_id = t.indicator_id
        """,
        text, ERASED, CARRIED_BY,
    ))
    counts["action"] = _count(await conn.execute("UPDATE action SET created_by = $2 WHERE lower(created_by) = $1", text, ERASED))
    counts["action_note"] = _count(await conn.execute(
        "UPDATE action_note SET written_by = $2, note = '' WHERE lower(written_by) = $1", text, ERASED))
    counts["audit_log"] = await scrub_audit_log(conn, person, keep_levels_of="answers.saved")
    counts["outbox"] = await scrub_outbox(conn, person)
    return counts


async def rounds(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, name, year, deadline, status, framework_version, opened_at, closed_at,"
        " lower(opened_by) = $1 AS opened_by_them, lower(coalesce(closed_by, '')) = $1 AS closed_by_them"
        " FROM campaign WHERE lower(opened_by) = $1 OR lower(closed_by) = $1 ORDER BY opened_at, id",
        str(person),
    )


async def submitted(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT a.id, a.campaign_id, c.name AS campaign_name, c.year, a.school_unit, o.display_name AS school_unit_name,"
        " a.framework_version, a.status, a.submissions, a.submitted_at"
        " FROM assessment a JOIN campaign c ON c.id = a.campaign_id LEFT JOIN organisation o ON o.id = a.school_unit"
        " WHERE lower(a.submitted_by) = $1 ORDER BY a.submitted_at, a.id",
        str(person),
    )


async def answers(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT assessment_id, indicator_id, level, not_relevant, comment, evidence, carried_from, updated_at"
        " FROM answer WHERE lower(updated_by) = $1 ORDER BY updated_at, assessment_id, indicator_id",
        str(person),
    )


async def actions(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, school_unit, assessment_id, heading, indicator_id, title, owner, deadline, success_criterion, status,"
        " created_at, updated_at FROM action WHERE lower(created_by) = $1 ORDER BY created_at, id",
        str(person),
    )


async def notes(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, action_id, assessment_id, note, status, written_at FROM action_note WHERE lower(written_by) = $1 ORDER BY id",
        str(person),
    )
