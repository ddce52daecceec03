"""Assessment's queries for the right-of-access export (services/assessment/export.py): every row that
names the person — who opened or closed a round, submitted an assessment, saved an answer, added an
action or wrote a note. Staff appear by their token subject, the SS 12000 person id (text columns)."""

from __future__ import annotations

from uuid import UUID

import asyncpg


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
