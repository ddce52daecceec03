"""Reads several routes share: an app that must exist, and what a school may use today (staff and guardians)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg

from services.catalog import access, store
from services.catalog.domain import StatusDefinition
from shared.problems import Problem


async def app_or_404(conn: asyncpg.Connection, app_id: UUID, *, lock: bool = False) -> asyncpg.Record:
    row = await store.get_app(conn, app_id, lock=lock)
    if row is None:
        raise Problem(404, "Not found", f"app {app_id} is not in the programbank")
    return row


async def usable_at(conn: asyncpg.Connection, school_unit_id: UUID, today: date) -> tuple[asyncpg.Record, dict[str, StatusDefinition], list[asyncpg.Record]]:
    """The school unit, the statuses, and the apps it may use today (for staff and for guardians)."""
    school = await access.known_school(conn, school_unit_id)
    statuses = await store.statuses(conn)
    rows = await store.approved_for_school(conn, school_unit_id, list(school["school_types"]), today)
    return school, statuses, rows
