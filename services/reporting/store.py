"""SQL of the reporting service (its schema is derived data: everything here comes from events)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.reporting.domain import Indicator
from shared.events.assessment import ActionPlanChanged, AssessmentSubmitted


async def record_campaign(conn: asyncpg.Connection, *, id: UUID, name: str, year: int, deadline: date, opened_at: datetime, school_units: list[UUID]) -> None:
    await conn.execute(
        "INSERT INTO campaign (id, name, year, deadline, opened_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        id, name, year, deadline, opened_at,
    )
    await conn.execute(
        "INSERT INTO campaign_school_unit (campaign_id, school_unit) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING", id, school_units
    )


async def campaigns_by_district(conn: asyncpg.Connection, *, everything: bool, districts: list[UUID], year: int | None) -> list[asyncpg.Record]:
    """Per campaign and district: how many school units take part."""
    return await conn.fetch(
        """
        SELECT c.id, c.name, c.year, c.deadline, o.parent_organisation AS district_id, d.display_name AS district_name,
               count(*) AS school_units
        FROM campaign c
        JOIN campaign_school_unit cs ON cs.campaign_id = c.id
        LEFT JOIN organisation o ON o.id = cs.school_unit
        LEFT JOIN organisation d ON d.id = o.parent_organisation
        WHERE ($1 OR o.parent_organisation = ANY($2::uuid[])) AND ($3::int IS NULL OR c.year = $3)
        GROUP BY c.id, o.parent_organisation, d.display_name
        ORDER BY c.year DESC, c.name, d.display_name
        """,
        everything, districts, year,
    )


async def append_school_unit_version(conn: asyncpg.Connection, *, event_id: str, school_unit: UUID, display_name: str, district: UUID | None, school_types: list[str], valid_from: datetime) -> None:
    await conn.execute(
        "INSERT INTO school_unit_history (event_id, school_unit, display_name, district, school_types, valid_from) VALUES ($1, $2, $3, $4, $5, $6)",
        event_id, school_unit, display_name, district, school_types, valid_from,
    )


async def school_unit_history(conn: asyncpg.Connection, school_unit: UUID, *, limit: int, offset: int) -> list[asyncpg.Record]:
    """A page of the school unit's versions, oldest first, each row with the count of all versions (``total``)."""
    return await conn.fetch(
        "SELECT h.display_name, h.district, d.display_name AS district_name, h.school_types, h.valid_from, count(*) OVER () AS total"
        " FROM school_unit_history h LEFT JOIN organisation d ON d.id = h.district WHERE h.school_unit = $1"
        " ORDER BY h.valid_from, h.event_id LIMIT $2 OFFSET $3",
        school_unit, limit, offset,
    )


# --- self-assessment results ---------------------------------------------------------------------

async def record_submission(conn: asyncpg.Connection, e: AssessmentSubmitted) -> bool:
    """Stores a submission; False when a later submission of the same assessment is already here
    (events of one school arrive in order, but a replay or a redelivery must not go back in time)."""
    applied = await conn.fetchval(
        """
        INSERT INTO submission (assessment_id, school_unit, district, campaign_id, year, framework_version, submission, submitted_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (assessment_id) DO UPDATE SET
            district = EXCLUDED.district, framework_version = EXCLUDED.framework_version, submission = EXCLUDED.submission,
            submitted_at = EXCLUDED.submitted_at, reopened_at = NULL, applied_at = now()
        WHERE submission.submission < EXCLUDED.submission
        RETURNING assessment_id
        """,
        e.assessmentId, e.schoolUnitId, e.districtId, e.campaignId, e.year, e.frameworkVersion, e.submission, e.submittedAt,
    )
    if applied is None:
        return False
    for table in ("heading_level", "indicator_level", "pulse_level"):
        await conn.execute(_DELETE_RESULTS[table], e.assessmentId)
    await conn.executemany(
        "INSERT INTO heading_level (assessment_id, heading, level, mean, answered, not_relevant, indicators) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [(e.assessmentId, h.heading, h.level, h.mean, h.answered, h.notRelevant, h.indicators) for h in e.headings],
    )
    await conn.executemany(
        "INSERT INTO indicator_level (assessment_id, indicator_id, heading, level, not_relevant, carried) VALUES ($1, $2, $3, $4, $5, $6)",
        [(e.assessmentId, i.indicatorId, i.heading, i.level, i.notRelevant, i.carried) for i in e.indicators],
    )
    await conn.executemany(
        "INSERT INTO pulse_level (assessment_id, grp, respondents, heading, mean) VALUES ($1, $2, $3, $4, $5)",
        [(e.assessmentId, g.group, g.respondents, h.heading, h.mean) for g in e.pulse for h in g.headings],
    )
    return True


_DELETE_RESULTS = {
    "heading_level": "DELETE FROM heading_level WHERE assessment_id = $1",
    "indicator_level": "DELETE FROM indicator_level WHERE assessment_id = $1",
    "pulse_level": "DELETE FROM pulse_level WHERE assessment_id = $1",
}


async def record_reopening(conn: asyncpg.Connection, assessment_id: UUID, reopened_at: datetime) -> None:
    """A reopened assessment stops counting until it is submitted again (a later submission clears this)."""
    await conn.execute("UPDATE submission SET reopened_at = $2, applied_at = now() WHERE assessment_id = $1 AND submitted_at < $2",
                       assessment_id, reopened_at)


CURRENT_SUBMISSIONS = ("SELECT DISTINCT ON (year) assessment_id, year, campaign_id, framework_version, submission, submitted_at"
                       " FROM submission WHERE school_unit = $1 AND reopened_at IS NULL ORDER BY year, submitted_at DESC")


async def current_submissions(conn: asyncpg.Connection, school_unit: UUID) -> list[asyncpg.Record]:
    """The school's counting submission per year: the latest one not reopened since."""
    return await conn.fetch(CURRENT_SUBMISSIONS, school_unit)


REPORTED_SUBMISSIONS = ("SELECT DISTINCT ON (year) assessment_id, year, campaign_id, framework_version, submission, submitted_at, reopened_at"
                        " FROM submission WHERE school_unit = $1 ORDER BY year, reopened_at IS NOT NULL, submitted_at DESC")


async def reported_submissions(conn: asyncpg.Connection, school_unit: UUID) -> list[asyncpg.Record]:
    """The submission the school's own report shows per year: the counting one; failing that, while the year's
    assessment is reopened, its last submitted version (``reopened_at`` set: it does not count in any roll-up)."""
    return await conn.fetch(REPORTED_SUBMISSIONS, school_unit)


async def heading_levels(conn: asyncpg.Connection, assessment_ids: list[UUID]) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM heading_level WHERE assessment_id = ANY($1::uuid[])", assessment_ids)


async def indicator_levels(conn: asyncpg.Connection, assessment_ids: list[UUID]) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM indicator_level WHERE assessment_id = ANY($1::uuid[]) ORDER BY indicator_id", assessment_ids)


async def pulse_levels(conn: asyncpg.Connection, assessment_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT grp, respondents, heading, mean FROM pulse_level WHERE assessment_id = $1 ORDER BY grp, heading", assessment_id)


SCHOOL_LEVELS = """
        WITH current AS (
            SELECT DISTINCT ON (school_unit) assessment_id, school_unit
            FROM submission WHERE year = $1 AND reopened_at IS NULL ORDER BY school_unit, submitted_at DESC
        )
        SELECT o.id AS school_unit, o.display_name, o.school_unit_code, o.parent_organisation AS district, d.display_name AS district_name,
               o.school_types, h.heading, h.level, h.mean
        FROM organisation o
        LEFT JOIN organisation d ON d.id = o.parent_organisation
        LEFT JOIN current c ON c.school_unit = o.id
        -- by primary key per current assessment, not a hash of every year's levels
        LEFT JOIN LATERAL (SELECT heading, level, mean FROM heading_level WHERE assessment_id = c.assessment_id) h ON true
        WHERE o.organisation_type = 'Skolenhet' AND NOT o.deleted
          AND ($2::uuid[] IS NULL OR o.parent_organisation = ANY($2::uuid[]))
        ORDER BY o.display_name, o.id, h.heading
"""


async def school_levels(conn: asyncpg.Connection, year: int, districts: list[UUID] | None) -> list[asyncpg.Record]:
    """Every school unit (optionally of some districts) with its counting heading levels for the year;
    a school without a submission appears once with NULL heading, so it is counted as missing."""
    return await conn.fetch(SCHOOL_LEVELS, year, districts)


async def organisation_name(conn: asyncpg.Connection, id: UUID) -> str | None:
    return await conn.fetchval("SELECT display_name FROM organisation WHERE id = $1 AND NOT deleted", id)


async def school_unit_ref(conn: asyncpg.Connection, id: UUID) -> tuple[UUID | None, dict[str, Any]]:
    """The school unit's district, and the unit as every service shows it (SchoolUnitRef; name and code null when the
    city has not sent them)."""
    row = await conn.fetchrow("SELECT parent_organisation, display_name, school_unit_code FROM organisation WHERE id = $1", id)
    return _school_unit_ref(id, row)


def _school_unit_ref(id: UUID, row: asyncpg.Record | None) -> tuple[UUID | None, dict[str, Any]]:
    if row is None or row["display_name"] is None:
        return None, {"id": id, "name": None, "schoolUnitCode": None}
    return row["parent_organisation"], {"id": id, "name": row["display_name"], "schoolUnitCode": row["school_unit_code"]}


async def report_version(conn: asyncpg.Connection) -> int:
    """The read models' version (migration 0009): it changes in the same transaction as any write to a table the school
    report and the school levels read."""
    return int(await conn.fetchval("SELECT n FROM report_version WHERE id = 1"))


async def report_version_and_school(conn: asyncpg.Connection, id: UUID) -> tuple[int, UUID | None, dict[str, Any]]:
    """The read models' version and, in the same primary-key round trip, what school_unit_ref answers: all a school
    report answered from its cache reads (routes/school.py)."""
    row = await conn.fetchrow(
        "SELECT v.n, o.parent_organisation, o.display_name, o.school_unit_code FROM report_version v"
        " LEFT JOIN organisation o ON o.id = $1 WHERE v.id = 1",
        id,
    )
    district, ref = _school_unit_ref(id, row)
    return int(row["n"]), district, ref


# --- indicators ----------------------------------------------------------------------------------

async def define_indicator(conn: asyncpg.Connection, d: dict[str, Any], actor: str, *, replace: bool = False) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO indicator_definition (code, metric, source, unit, direction, target, heading, name_sv, name_en, description_sv,"
        " description_en, defined_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        " ON CONFLICT (code) DO NOTHING RETURNING code",
        d["code"], d["metric"], d["source"], d["unit"], d["direction"], d.get("target"), d.get("heading"), d["name"]["sv"], d["name"]["en"],
        d.get("description", {}).get("sv", ""), d.get("description", {}).get("en", ""), actor,
    )
    return inserted is not None


async def indicators(conn: asyncpg.Connection) -> list[Indicator]:
    rows = await conn.fetch("SELECT * FROM indicator_definition ORDER BY heading NULLS LAST, code")
    return [Indicator(r["code"], r["metric"], r["source"], r["unit"], r["direction"], r["target"], r["heading"],
                      {"sv": r["name_sv"], "en": r["name_en"]}) for r in rows]


async def record_figures(conn: asyncpg.Connection, school_unit: UUID, year: int, figures: dict[str, float], event_time: datetime) -> None:
    await conn.executemany(
        "INSERT INTO school_figure (school_unit, year, metric, value, event_time) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (school_unit, year, metric) DO UPDATE SET value = EXCLUDED.value, event_time = EXCLUDED.event_time"
        " WHERE school_figure.event_time <= EXCLUDED.event_time",
        [(school_unit, year, metric, value, event_time) for metric, value in figures.items()],
    )


async def alert_state(conn: asyncpg.Connection, school_unit: UUID, year: int, code: str, below: bool) -> bool | None:
    """Records whether the figure is below target; returns the state before (None: first time)."""
    return await conn.fetchval(
        "WITH before AS (SELECT below FROM indicator_alert WHERE school_unit = $1 AND year = $2 AND code = $3 FOR UPDATE)"
        " , upsert AS (INSERT INTO indicator_alert (school_unit, year, code, below) VALUES ($1, $2, $3, $4)"
        "   ON CONFLICT (school_unit, year, code) DO UPDATE SET below = EXCLUDED.below)"
        " SELECT below FROM before",
        school_unit, year, code, below,
    )


async def school_metrics(conn: asyncpg.Connection, school_unit: UUID, year: int) -> dict[str, float]:
    """The school's figures for the year: what the city sent, and what reporting derives from the catalog."""
    rows = await conn.fetch("SELECT metric, value FROM school_figure WHERE school_unit = $1 AND year = $2", school_unit, year)
    values = {r["metric"]: r["value"] for r in rows}
    share = await conn.fetchval(
        "SELECT avg(CASE WHEN f.valid_dpa THEN 1.0 ELSE 0.0 END) FROM (SELECT DISTINCT app_id FROM app_launch"
        "  WHERE school_unit = $1 AND launches > 0 AND extract(year FROM period_start) = $2) used"
        " JOIN app_fact f ON f.id = used.app_id",
        school_unit, year,
    )
    if share is not None:
        values["usedAppsWithValidDpaShare"] = float(share)
    return values


async def record_app(conn: asyncpg.Connection, *, id: UUID, headings: list[str], allows_use: bool, valid_dpa: bool, retired: bool, version: int) -> None:
    await conn.execute(
        "INSERT INTO app_fact (id, headings, allows_use, valid_dpa, retired, version) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (id) DO UPDATE SET headings = EXCLUDED.headings, allows_use = EXCLUDED.allows_use, valid_dpa = EXCLUDED.valid_dpa,"
        " retired = EXCLUDED.retired, version = EXCLUDED.version WHERE app_fact.version <= EXCLUDED.version",
        id, headings, allows_use, valid_dpa, retired, version,
    )


async def record_launches(conn: asyncpg.Connection, *, app_id: UUID, school_unit: UUID, start: date, end: date, launches: int, event_time: datetime) -> None:
    await conn.execute(
        "INSERT INTO app_launch (app_id, school_unit, period_start, period_end, launches, event_time) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (app_id, school_unit, period_start, period_end) DO UPDATE SET launches = EXCLUDED.launches, event_time = EXCLUDED.event_time"
        " WHERE app_launch.event_time <= EXCLUDED.event_time",
        app_id, school_unit, start, end, launches, event_time,
    )


async def apps_per_heading(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT h, count(*) AS n FROM app_fact, unnest(headings) AS h WHERE allows_use AND NOT retired GROUP BY h")
    return {r["h"]: r["n"] for r in rows}


LEVELS_BY_YEAR = ("WITH current AS (SELECT DISTINCT ON (year) assessment_id, year FROM submission WHERE school_unit = $1 AND reopened_at IS NULL"
                  "  ORDER BY year, submitted_at DESC)"
                  " SELECT c.year, h.heading, h.level FROM current c JOIN heading_level h ON h.assessment_id = c.assessment_id ORDER BY c.year")


async def heading_levels_by_year(conn: asyncpg.Connection, school_unit: UUID) -> list[asyncpg.Record]:
    """The school's counting level per heading and year."""
    return await conn.fetch(LEVELS_BY_YEAR, school_unit)


# --- action plans --------------------------------------------------------------------------------

async def record_action(conn: asyncpg.Connection, e: ActionPlanChanged) -> None:
    await conn.execute(
        "INSERT INTO action_state (action_id, school_unit, heading, indicator_id, status, deadline, changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (action_id) DO UPDATE SET heading = EXCLUDED.heading, indicator_id = EXCLUDED.indicator_id, status = EXCLUDED.status,"
        " deadline = EXCLUDED.deadline, changed_at = EXCLUDED.changed_at WHERE action_state.changed_at <= EXCLUDED.changed_at",
        e.actionId, e.schoolUnitId, e.heading, e.indicatorId, e.status.value, e.deadline, e.changedAt,
    )


async def actions(conn: asyncpg.Connection, school_unit: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT action_id, heading, indicator_id, status, deadline FROM action_state WHERE school_unit = $1 ORDER BY deadline NULLS LAST, action_id",
        school_unit,
    )


async def years_with_submissions(conn: asyncpg.Connection, districts: list[UUID] | None) -> list[int]:
    rows = await conn.fetch(
        "SELECT DISTINCT s.year FROM submission s JOIN organisation o ON o.id = s.school_unit"
        " WHERE s.reopened_at IS NULL AND ($1::uuid[] IS NULL OR o.parent_organisation = ANY($1::uuid[])) ORDER BY 1",
        districts,
    )
    return [r["year"] for r in rows]


async def pupils(conn: asyncpg.Connection, year: int) -> dict[UUID, float]:
    """Each school's number of pupils for the year as the city reported it (or the latest year before)."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (school_unit) school_unit, value FROM school_figure WHERE metric = 'pupils' AND year <= $1"
        " ORDER BY school_unit, year DESC",
        year,
    )
    return {r["school_unit"]: r["value"] for r in rows}


async def mark_published(conn: asyncpg.Connection, year: int, district: UUID, actor: str) -> datetime | None:
    """When the report was announced now; None if it had been announced before."""
    return await conn.fetchval(
        "INSERT INTO published_report (year, district, published_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING published_at",
        year, district, actor,
    )
