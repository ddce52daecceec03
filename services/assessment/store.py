"""SQL of the assessment service."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from shared.audit import record as audit, trail as audit_trail  # noqa: F401  (the service's audit trail)
from services.assessment.domain import Answer, KnownSchool, PulseTally
from shared.events.city import DutyRole, OrganisationType

# --- city replicas -------------------------------------------------------------------------------

async def known_schools(conn: asyncpg.Connection, ids: list[UUID]) -> dict[UUID, KnownSchool]:
    rows = await conn.fetch(
        "SELECT id, parent_organisation, school_types, display_name, school_unit_code FROM organisation"
        " WHERE id = ANY($1::uuid[]) AND organisation_type = $2 AND NOT deleted",
        ids, OrganisationType.SKOLENHET.value,
    )
    return {r["id"]: KnownSchool(r["id"], r["parent_organisation"], tuple(r["school_types"]), r["display_name"], r["school_unit_code"]) for r in rows}


async def school(conn: asyncpg.Connection, school_unit: UUID) -> KnownSchool | None:
    return (await known_schools(conn, [school_unit])).get(school_unit)


async def is_rektor(conn: asyncpg.Connection, person: str, school_unit: UUID) -> bool:
    """Whether the city's duty data has this person as Rektor of the school unit now."""
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM duty WHERE person::text = $1 AND duty_at = $2 AND duty_role = $3 AND active"
        " AND (start_date IS NULL OR start_date <= current_date) AND (end_date IS NULL OR end_date >= current_date))",
        person.lower(), school_unit, DutyRole.REKTOR.value,
    )


# --- frameworks ----------------------------------------------------------------------------------

async def publish_framework(conn: asyncpg.Connection, version: int, checksum: str, content: dict[str, Any]) -> bool:
    """Records a version; False when it was published before (by this or another replica)."""
    inserted = await conn.fetchval(
        "INSERT INTO framework (version, checksum, content) VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING RETURNING version",
        version, checksum, content,
    )
    return inserted is not None


async def framework_checksum(conn: asyncpg.Connection, version: int) -> str | None:
    return await conn.fetchval("SELECT checksum FROM framework WHERE version = $1", version)


async def published_versions(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT version, published_at FROM framework ORDER BY version")


# --- campaigns -----------------------------------------------------------------------------------

async def insert_campaign(conn: asyncpg.Connection, *, id: UUID, name: str, year: int, deadline: date, opened_by: str,
                          framework_version: int, pulse_codes: Mapping[UUID, str]) -> None:
    await conn.execute(
        "INSERT INTO campaign (id, name, year, deadline, opened_by, framework_version) VALUES ($1, $2, $3, $4, $5, $6)",
        id, name, year, deadline, opened_by, framework_version,
    )
    await conn.executemany(
        "INSERT INTO campaign_school_unit (campaign_id, school_unit, pulse_code) VALUES ($1, $2, $3)",
        [(id, s, code) for s, code in pulse_codes.items()],
    )


async def close_campaign(conn: asyncpg.Connection, campaign_id: UUID, closed_by: str) -> asyncpg.Record | None:
    """``status``, ``closed_at`` and ``closed_by`` as closing set them; None when the campaign was closed already."""
    return await conn.fetchrow(
        "UPDATE campaign SET status = 'closed', closed_at = now(), closed_by = $2 WHERE id = $1 AND status = 'open' RETURNING status, closed_at, closed_by",
        campaign_id, closed_by,
    )


async def campaign_progress(conn: asyncpg.Connection, campaign_id: UUID) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT count(*) AS total, count(*) FILTER (WHERE status = 'submitted') AS submitted FROM assessment WHERE campaign_id = $1", campaign_id
    )
    return row["submitted"], row["total"]


CAMPAIGN_COLUMNS = """
    c.id, c.name, c.year, c.deadline, c.status, c.opened_by, c.opened_at, c.framework_version, c.closed_at, c.closed_by,
    array_agg(cs.school_unit ORDER BY cs.school_unit) AS school_units
"""


async def get_campaign(conn: asyncpg.Connection, campaign_id: UUID, *, lock: bool = False) -> asyncpg.Record | None:
    if lock:
        # serialises close against submissions of the same round
        await conn.execute("SELECT 1 FROM campaign WHERE id = $1 FOR UPDATE", campaign_id)
    return await conn.fetchrow(
        "SELECT" + CAMPAIGN_COLUMNS + " FROM campaign c JOIN campaign_school_unit cs ON cs.campaign_id = c.id WHERE c.id = $1 GROUP BY c.id",
        campaign_id,
    )


async def list_campaigns(conn: asyncpg.Connection, *, everything: bool, school_units: list[UUID], districts: list[UUID],
                         limit: int, offset: int) -> list[asyncpg.Record]:
    """One page (``LIMIT limit OFFSET offset``) of the campaigns that cover at least one school unit the caller may see,
    newest first; ``total`` on each row counts them all."""
    return await conn.fetch(
        "SELECT" + CAMPAIGN_COLUMNS + ", count(*) OVER () AS total FROM campaign c JOIN campaign_school_unit cs ON cs.campaign_id = c.id"
        " WHERE $1 OR EXISTS (SELECT 1 FROM campaign_school_unit v JOIN organisation o ON o.id = v.school_unit"
        "   WHERE v.campaign_id = c.id AND (v.school_unit = ANY($2::uuid[]) OR o.parent_organisation = ANY($3::uuid[])))"
        " GROUP BY c.id ORDER BY c.year DESC, c.opened_at DESC, c.id LIMIT $4 OFFSET $5",
        everything, school_units, districts, limit, offset,
    )


async def campaign_assessments(conn: asyncpg.Connection, campaign_id: UUID, school_units: list[UUID], *, limit: int, offset: int) -> list[asyncpg.Record]:
    """One page of where the given school units of a round stand, by school name; ``total`` counts them all."""
    return await conn.fetch(
        "SELECT a.id, a.school_unit, a.status, a.submitted_at, a.submissions, o.display_name, o.school_unit_code, o.parent_organisation AS district,"
        "       (SELECT count(*) FROM answer x WHERE x.assessment_id = a.id) AS answered, count(*) OVER () AS total"
        " FROM assessment a LEFT JOIN organisation o ON o.id = a.school_unit WHERE a.campaign_id = $1 AND a.school_unit = ANY($2::uuid[])"
        " ORDER BY o.display_name, a.school_unit LIMIT $3 OFFSET $4",
        campaign_id, school_units, limit, offset,
    )


# --- assessments ---------------------------------------------------------------------------------

ASSESSMENT_COLUMNS = """
    a.id, a.campaign_id, a.school_unit, a.framework_version, a.status, a.submissions, a.deadline_override, a.carried_from,
    a.submitted_at, a.submitted_by, a.created_at, a.updated_at,
    c.name AS campaign_name, c.year, c.deadline, c.status AS campaign_status, cs.pulse_code,
    coalesce(a.deadline_override, c.deadline) AS effective_deadline
"""
ASSESSMENT_FROM = " FROM assessment a JOIN campaign c ON c.id = a.campaign_id JOIN campaign_school_unit cs ON cs.campaign_id = a.campaign_id AND cs.school_unit = a.school_unit"


async def insert_assessment(conn: asyncpg.Connection, *, id: UUID, campaign_id: UUID, school_unit: UUID, framework_version: int,
                            carried_from: UUID | None) -> None:
    await conn.execute(
        "INSERT INTO assessment (id, campaign_id, school_unit, framework_version, carried_from) VALUES ($1, $2, $3, $4, $5)",
        id, campaign_id, school_unit, framework_version, carried_from,
    )


async def get_assessment(conn: asyncpg.Connection, assessment_id: UUID, *, lock: bool = False) -> asyncpg.Record | None:
    if lock:
        # one writer at a time per assessment (submit and save never interleave), and the round
        # cannot close while it writes
        await conn.execute(
            "SELECT 1 FROM assessment a JOIN campaign c ON c.id = a.campaign_id WHERE a.id = $1 FOR UPDATE OF a FOR SHARE OF c", assessment_id
        )
    return await conn.fetchrow("SELECT" + ASSESSMENT_COLUMNS + ASSESSMENT_FROM + " WHERE a.id = $1", assessment_id)


async def find_assessment(conn: asyncpg.Connection, campaign_id: UUID, school_unit: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT" + ASSESSMENT_COLUMNS + ASSESSMENT_FROM + " WHERE a.campaign_id = $1 AND a.school_unit = $2", campaign_id, school_unit)


async def assessment_by_pulse_code(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT" + ASSESSMENT_COLUMNS + ASSESSMENT_FROM + " WHERE cs.pulse_code = $1", code)


async def school_assessments(conn: asyncpg.Connection, school_unit: UUID, *, submitted_only: bool) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT" + ASSESSMENT_COLUMNS + ASSESSMENT_FROM + " WHERE a.school_unit = $1 AND (NOT $2 OR a.status = 'submitted')"
        " ORDER BY c.year, a.submitted_at NULLS LAST, a.created_at",
        school_unit, submitted_only,
    )


async def latest_submitted(conn: asyncpg.Connection, school_unit: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT a.id, a.framework_version FROM assessment a JOIN campaign c ON c.id = a.campaign_id"
        " WHERE a.school_unit = $1 AND a.status = 'submitted' ORDER BY c.year DESC, a.submitted_at DESC LIMIT 1",
        school_unit,
    )


async def answer_rows(conn: asyncpg.Connection, assessment_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT indicator_id, level, not_relevant, comment, evidence, carried_from, updated_by, updated_at FROM answer WHERE assessment_id = $1 ORDER BY indicator_id",
        assessment_id,
    )


def to_answers(rows: list[asyncpg.Record]) -> dict[str, Answer]:
    return {
        r["indicator_id"]: Answer(r["level"], r["not_relevant"], r["comment"], tuple(r["evidence"]), str(r["carried_from"]) if r["carried_from"] else None)
        for r in rows
    }


async def answers(conn: asyncpg.Connection, assessment_id: UUID) -> dict[str, Answer]:
    return to_answers(await answer_rows(conn, assessment_id))


async def save_answers(conn: asyncpg.Connection, assessment_id: UUID, answers: Mapping[str, Answer], updated_by: str) -> asyncpg.Record:
    """Upserts answered indicators and deletes those sent back empty; ``carried_from`` is kept only as given.
    Returns the assessment's row, its ``updated_at`` moved on."""
    given = [(k, a) for k, a in answers.items() if a.answered]
    cleared = [k for k, a in answers.items() if not a.answered]
    if given:
        await conn.executemany(
            """
            INSERT INTO answer (assessment_id, indicator_id, level, not_relevant, comment, evidence, carried_from, updated_by, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
            ON CONFLICT (assessment_id, indicator_id) DO UPDATE SET
                level = EXCLUDED.level, not_relevant = EXCLUDED.not_relevant, comment = EXCLUDED.comment,
                evidence = EXCLUDED.evidence, carried_from = EXCLUDED.carried_from,
                updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at
            """,
            [(assessment_id, k, a.level, a.not_relevant, a.comment, list(a.evidence), UUID(a.carried_from) if a.carried_from else None, updated_by) for k, a in given],
        )
    if cleared:
        await conn.execute("DELETE FROM answer WHERE assessment_id = $1 AND indicator_id = ANY($2::text[])", assessment_id, cleared)
    return await _update_assessment(conn, assessment_id, "updated_at = now()")


async def _update_assessment(conn: asyncpg.Connection, assessment_id: UUID, assignments: str, *args: Any) -> asyncpg.Record:
    """Updates the assessment (``assignments``: a fixed SET list, values as parameters from $2) and returns
    its row as ``get_assessment`` reads it, so a change needs no second read."""
    return await conn.fetchrow(
        "UPDATE assessment a SET " + assignments + " FROM campaign c, campaign_school_unit cs"
        " WHERE a.id = $1 AND c.id = a.campaign_id AND cs.campaign_id = a.campaign_id AND cs.school_unit = a.school_unit"
        " RETURNING" + ASSESSMENT_COLUMNS,
        assessment_id, *args,
    )


async def mark_submitted(conn: asyncpg.Connection, assessment_id: UUID, submitted_by: str) -> asyncpg.Record:
    """The submitted assessment's row."""
    return await _update_assessment(
        conn, assessment_id, "status = 'submitted', submissions = a.submissions + 1, submitted_at = now(), submitted_by = $2, updated_at = now()",
        submitted_by,
    )


async def mark_reopened(conn: asyncpg.Connection, assessment_id: UUID, deadline_override: date | None) -> asyncpg.Record:
    """The reopened assessment's row (its effective deadline includes the new override)."""
    return await _update_assessment(
        conn, assessment_id, "status = 'draft', deadline_override = coalesce($2::date, a.deadline_override), updated_at = now()", deadline_override,
    )


# --- pulse ---------------------------------------------------------------------------------------

async def record_pulse(conn: asyncpg.Connection, campaign_id: UUID, school_unit: UUID, group: str, answers: Mapping[str, int]) -> None:
    await conn.execute(
        "INSERT INTO pulse_respondents (campaign_id, school_unit, grp, respondents) VALUES ($1, $2, $3, 1)"
        " ON CONFLICT (campaign_id, school_unit, grp) DO UPDATE SET respondents = pulse_respondents.respondents + 1",
        campaign_id, school_unit, group,
    )
    await conn.executemany(
        "INSERT INTO pulse_tally (campaign_id, school_unit, grp, heading, level, count) VALUES ($1, $2, $3, $4, $5, 1)"
        " ON CONFLICT (campaign_id, school_unit, grp, heading, level) DO UPDATE SET count = pulse_tally.count + 1",
        [(campaign_id, school_unit, group, heading, level) for heading, level in answers.items()],
    )


async def pulse_tally(conn: asyncpg.Connection, campaign_id: UUID, school_unit: UUID, *, released: bool = False) -> PulseTally:
    """The live counts, or with ``released`` the published ones (decision 0016): only these leave the service."""
    tally = PulseTally()
    # $3 picks the released column or the live one: the same plain statement either way
    for r in await conn.fetch("SELECT grp, CASE WHEN $3 THEN released ELSE respondents END AS n FROM pulse_respondents"
                              " WHERE campaign_id = $1 AND school_unit = $2", campaign_id, school_unit, released):
        if r["n"]:
            tally.respondents[r["grp"]] = r["n"]
    for r in await conn.fetch("SELECT grp, heading, level, CASE WHEN $3 THEN released ELSE count END AS n FROM pulse_tally"
                              " WHERE campaign_id = $1 AND school_unit = $2", campaign_id, school_unit, released):
        if r["n"]:
            tally.add(r["grp"], r["heading"], r["level"], r["n"])
    return tally


async def release_pulse(conn: asyncpg.Connection, campaign_id: UUID, school_unit: UUID, group: str, *, respondents: bool, headings: list[str]) -> None:
    """Publishes the live counts of the group's respondents and of these headings (the release rule decided it)."""
    if respondents:
        await conn.execute("UPDATE pulse_respondents SET released = respondents WHERE campaign_id = $1 AND school_unit = $2 AND grp = $3",
                           campaign_id, school_unit, group)
    if headings:
        await conn.execute("UPDATE pulse_tally SET released = count WHERE campaign_id = $1 AND school_unit = $2 AND grp = $3 AND heading = ANY($4::text[])",
                           campaign_id, school_unit, group, headings)


async def add_pulse_invitations(conn: asyncpg.Connection, campaign_id: UUID, school_unit: UUID, group: str, code_hashes: list[str]) -> None:
    await conn.executemany("INSERT INTO pulse_invitation (code_hash, campaign_id, school_unit, grp) VALUES ($1, $2, $3, $4)",
                           [(h, campaign_id, school_unit, group) for h in code_hashes])


async def pulse_invitation(conn: asyncpg.Connection, code_hash: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT campaign_id, school_unit, grp, used FROM pulse_invitation WHERE code_hash = $1"
                               + (" FOR UPDATE" if lock else ""), code_hash)


async def use_pulse_invitation(conn: asyncpg.Connection, code_hash: str) -> bool:
    """Marks the invitation used; False when it was used already (the single use is this row's update)."""
    return await conn.fetchval("UPDATE pulse_invitation SET used = true WHERE code_hash = $1 AND NOT used RETURNING true", code_hash) is True


async def pulse_invitation_counts(conn: asyncpg.Connection, campaign_id: UUID, school_unit: UUID) -> dict[str, tuple[int, int]]:
    """Per group: (invitations issued, invitations used)."""
    rows = await conn.fetch("SELECT grp, count(*) AS issued, count(*) FILTER (WHERE used) AS used FROM pulse_invitation"
                            " WHERE campaign_id = $1 AND school_unit = $2 GROUP BY grp", campaign_id, school_unit)
    return {r["grp"]: (r["issued"], r["used"]) for r in rows}


# --- action plan ---------------------------------------------------------------------------------

ACTION_COLUMNS = """
    id, school_unit, assessment_id, heading, indicator_id, title, owner, deadline, success_criterion, status,
    created_by, created_at, updated_at,
    (SELECT coalesce(json_agg(json_build_object('note', n.note, 'status', n.status, 'writtenBy', n.written_by,
                                                'writtenAt', n.written_at, 'assessmentId', n.assessment_id) ORDER BY n.id), '[]')
       FROM action_note n WHERE n.action_id = action.id) AS notes
"""


async def insert_action(conn: asyncpg.Connection, *, id: UUID, school_unit: UUID, assessment_id: UUID | None, heading: str, indicator_id: str | None,
                        title: str, owner: str, deadline: date | None, success_criterion: str, status: str, created_by: str) -> asyncpg.Record:
    await conn.execute(
        "INSERT INTO action (id, school_unit, assessment_id, heading, indicator_id, title, owner, deadline, success_criterion, status, created_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        id, school_unit, assessment_id, heading, indicator_id, title, owner, deadline, success_criterion, status, created_by,
    )
    return await get_action(conn, id)


async def get_action(conn: asyncpg.Connection, action_id: UUID, *, lock: bool = False) -> asyncpg.Record | None:
    if lock:
        await conn.execute("SELECT 1 FROM action WHERE id = $1 FOR UPDATE", action_id)
    return await conn.fetchrow("SELECT" + ACTION_COLUMNS + " FROM action WHERE id = $1", action_id)


async def update_action(conn: asyncpg.Connection, action_id: UUID, changes: Mapping[str, Any]) -> asyncpg.Record:
    # fixed column list: each value is a parameter, and None leaves a column as it is
    await conn.execute(
        "UPDATE action SET title = coalesce($2, title), owner = coalesce($3, owner), deadline = coalesce($4, deadline),"
        " success_criterion = coalesce($5, success_criterion), status = coalesce($6, status), updated_at = now() WHERE id = $1",
        action_id, changes.get("title"), changes.get("owner"), changes.get("deadline"), changes.get("success_criterion"), changes.get("status"),
    )
    return await get_action(conn, action_id)


async def add_action_note(conn: asyncpg.Connection, action_id: UUID, assessment_id: UUID | None, note: str, status: str, written_by: str) -> None:
    await conn.execute(
        "INSERT INTO action_note (action_id, assessment_id, note, status, written_by) VALUES ($1, $2, $3, $4, $5)",
        action_id, assessment_id, note, status, written_by,
    )


async def school_actions(conn: asyncpg.Connection, school_unit: UUID, *, open_only: bool, limit: int | None = None, offset: int = 0) -> list[asyncpg.Record]:
    """The school unit's actions, open ones first, then by deadline (a page of them with ``limit``); ``total`` counts them all."""
    return await conn.fetch(
        "SELECT" + ACTION_COLUMNS + ", count(*) OVER () AS total FROM action WHERE school_unit = $1 AND (NOT $2 OR status IN ('planned', 'in_progress'))"
        " ORDER BY status = 'done' OR status = 'dropped', deadline NULLS LAST, created_at, id LIMIT $3 OFFSET $4",
        school_unit, open_only, limit, offset,
    )


async def district_schools(conn: asyncpg.Connection, district_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, display_name, school_unit_code, school_types FROM organisation WHERE parent_organisation = $1 AND organisation_type = $2 AND NOT deleted"
        " ORDER BY display_name, id",
        district_id, OrganisationType.SKOLENHET.value,
    )


# --- audit trail ---------------------------------------------------------------------------------

async def audit_page(conn: asyncpg.Connection, entity: str, entity_id: str, *, limit: int, offset: int) -> list[asyncpg.Record]:
    """One page of an entity's audit trail, oldest first; ``total`` counts every entry."""
    return await conn.fetch(
        "SELECT at, actor, action, detail, count(*) OVER () AS total FROM audit_log WHERE entity = $1 AND entity_id = $2 ORDER BY id LIMIT $3 OFFSET $4",
        entity, entity_id, limit, offset,
    )
