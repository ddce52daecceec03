"""SQL of the assessment service."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from services.assessment.domain import KnownSchool
from shared.events.city import OrganisationType


async def known_schools(conn: asyncpg.Connection, ids: list[UUID]) -> dict[UUID, KnownSchool]:
    rows = await conn.fetch(
        "SELECT id, parent_organisation FROM organisation WHERE id = ANY($1::uuid[]) AND organisation_type = $2 AND NOT deleted",
        ids, OrganisationType.SKOLENHET.value,
    )
    return {r["id"]: KnownSchool(r["id"], r["parent_organisation"]) for r in rows}


async def insert_campaign(conn: asyncpg.Connection, *, id: UUID, name: str, year: int, deadline: date, opened_by: str, school_units: list[UUID]) -> None:
    await conn.execute(
        "INSERT INTO campaign (id, name, year, deadline, opened_by) VALUES ($1, $2, $3, $4, $5)", id, name, year, deadline, opened_by
    )
    await conn.executemany("INSERT INTO campaign_school_unit (campaign_id, school_unit) VALUES ($1, $2)", [(id, s) for s in school_units])


async def audit(conn: asyncpg.Connection, actor: str, action: str, entity: str, entity_id: str, detail: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor, action, entity, entity_id, detail) VALUES ($1, $2, $3, $4, $5)", actor, action, entity, entity_id, detail
    )


CAMPAIGN_COLUMNS = """
    c.id, c.name, c.year, c.deadline, c.status, c.opened_by, c.opened_at,
    array_agg(cs.school_unit ORDER BY cs.school_unit) AS school_units
"""


async def get_campaign(conn: asyncpg.Connection, campaign_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT" + CAMPAIGN_COLUMNS + " FROM campaign c JOIN campaign_school_unit cs ON cs.campaign_id = c.id WHERE c.id = $1 GROUP BY c.id",
        campaign_id,
    )


async def list_campaigns(conn: asyncpg.Connection, *, everything: bool, school_units: list[UUID], districts: list[UUID]) -> list[asyncpg.Record]:
    """Campaigns that cover at least one school unit the caller may see."""
    return await conn.fetch(
        "SELECT" + CAMPAIGN_COLUMNS + " FROM campaign c JOIN campaign_school_unit cs ON cs.campaign_id = c.id"
        " WHERE $1 OR EXISTS (SELECT 1 FROM campaign_school_unit v JOIN organisation o ON o.id = v.school_unit"
        "   WHERE v.campaign_id = c.id AND (v.school_unit = ANY($2::uuid[]) OR o.parent_organisation = ANY($3::uuid[])))"
        " GROUP BY c.id ORDER BY c.year DESC, c.opened_at DESC",
        everything, school_units, districts,
    )
