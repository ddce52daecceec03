"""Right of access (docs/decisions/0010): reporting's part of a person's export. On AccessRequested it
gathers every row it holds about the person (docs/privacy.md, reporting) and answers with
ReportingDataExported, the part sealed for the request (shared/privacy/export.py)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from services.reporting import export_store as q
from services.reporting.settings import SERVICE
from shared.events.envelope import Envelope
from shared.events.notification import AccessRequested
from shared.events.reporting import ReportingDataExported
from shared.privacy import export, export_store

SOURCE = "skolit.reporting"


async def gather(conn: asyncpg.Connection, person: UUID) -> export.Tables:
    return {
        "indicatorsDefined": export.rows(await q.indicators(conn, person)),
        "reportsPublished": export.rows(await q.published(conn, person)),
        "eventsPublished": await export_store.outbox_mentions(conn, person),
    }


async def on_access_requested(conn: asyncpg.Connection, env: Envelope[AccessRequested]) -> None:
    await export.answer(conn, env, service=SERVICE, source=SOURCE, gather=gather, event=ReportingDataExported)
