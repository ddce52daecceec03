"""SQL of the assessment service's erasure (docs/decisions/0009): what it holds about a person, deleted or
anonymised in the caller's transaction. Who did something becomes "erased"; what they wrote goes; the
school's levels stay, so history and reports keep their figures."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from shared.privacy.erasure import ERASED, delete_duties, delete_person, scrub_audit_log, scrub_outbox

#: carried-forward answers are saved by this actor (services/assessment/usecases/campaigns.py)
CARRIED_BY = "skolit:carry-forward"


def _count(status: str) -> int:
    return int(status.split()[-1])


async def erase_person(conn: asyncpg.Connection, person: UUID) -> dict[str, int]:
    text = str(person)
    counts = {"person": await delete_person(conn, person), "duty": await delete_duties(conn, person)}
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
