"""Changing an app's status, the one way: the new status, its audit row and its event in the
caller's transaction. Used by people (the status route) and by the rules (a lapsed DPA)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg

from services.catalog import store
from services.catalog.domain import LAPSED_STATUS, StatusDefinition, lapses
from services.catalog.publishing import app_facts
from shared import outbox
from shared.events.catalog import AppRetired, AppStatusChanged
from shared.privacy import vault

SOURCE = "skolit.catalog"
SYSTEM = "skolit:catalog-rules"


async def change_status(conn: asyncpg.Connection, app_id: UUID, before: StatusDefinition, after: StatusDefinition, *,
                        actor: str, reason: str | None, today: date, automatic: bool = False) -> asyncpg.Record:
    await store.set_status(conn, app_id, after.code, actor)
    row = await store.get_app(conn, app_id)
    assert row is not None
    await store.audit(conn, actor, "app.status-changed", "app", str(app_id),
                      {"from": before.code, "to": after.code, "reason": reason, "automatic": automatic})
    facts = app_facts(row, after, today)
    by = await vault.seal_actor(conn, actor)  # a person sealed, a rule's name as it is (docs/decisions/0009)
    if after.retires:
        await outbox.add(conn, SOURCE, AppRetired(**facts, retiredBy=by, reason=reason))
    else:
        await outbox.add(conn, SOURCE, AppStatusChanged(**facts, previousStatus=before.code, reason=reason, changedBy=by, automatic=automatic))
    return row


async def lapse_if_unprotected(conn: asyncpg.Connection, row: asyncpg.Record, statuses: dict[str, StatusDefinition], today: date,
                               reason: str) -> asyncpg.Record:
    """An approval that the app's data protection no longer supports falls back to ``dpa_lapsed``:
    by rule, not by someone remembering to do it."""
    current = statuses[row["status"]]
    if not lapses(current, store.data_protection(row), today):
        return row
    return await change_status(conn, row["id"], current, statuses[LAPSED_STATUS], actor=SYSTEM, reason=reason, today=today, automatic=True)
