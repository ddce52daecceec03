"""SQL of who reviews a school's app requests, from the city's duties in notification's replica
(the rule: services/notification/usecases/workflow.py)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

# A duty counts while active and between its start and end dates (today, in the database's date).
HOLDERS_AT = """
    SELECT DISTINCT d.person FROM duty d
    WHERE d.duty_at = $1 AND d.duty_role = $2
      AND d.active AND (d.start_date IS NULL OR d.start_date <= current_date) AND (d.end_date IS NULL OR d.end_date >= current_date)
    ORDER BY d.person
"""
HOLDERS_ANYWHERE = """
    SELECT DISTINCT d.person FROM duty d
    WHERE d.duty_role = $1
      AND d.active AND (d.start_date IS NULL OR d.start_date <= current_date) AND (d.end_date IS NULL OR d.end_date >= current_date)
    ORDER BY d.person
"""


async def holders_at(conn: asyncpg.Connection, organisation: UUID, duty_role: str) -> list[UUID]:
    """Whoever holds ``duty_role`` at the organisation itself (a district, not its school units), today."""
    rows = await conn.fetch(HOLDERS_AT, organisation, duty_role)
    return [r["person"] for r in rows]


async def holders_anywhere(conn: asyncpg.Connection, duty_role: str) -> list[UUID]:
    """Whoever holds ``duty_role`` at any organisation, today (a city-wide function)."""
    rows = await conn.fetch(HOLDERS_ANYWHERE, duty_role)
    return [r["person"] for r in rows]
