"""Right of access (docs/decisions/0010): catalog's part of a person's export. On AccessRequested it
gathers every row it holds about the person (docs/privacy.md, catalog) and answers with
CatalogDataExported, the part sealed for the request (shared/privacy/export.py)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from services.catalog import export_store as q
from services.catalog.settings import SERVICE
from shared.events.catalog import CatalogDataExported
from shared.events.envelope import Envelope
from shared.events.notification import AccessRequested
from shared.privacy import export, export_store

SOURCE = "skolit.catalog"


async def gather(conn: asyncpg.Connection, person: UUID) -> export.Tables:
    return {
        "person": export.rows(await export_store.person(conn, person)),
        "duties": export.rows(await export_store.duties(conn, person)),
        "appRequests": export.rows(await q.own_requests(conn, person)),
        "appRequestHistory": export.rows(await q.own_request_steps(conn, person)),
        "requestsDecided": export.rows(await q.decided_requests(conn, person)),
        "requestStepsOnOthersRequests": export.rows(await q.steps_on_others(conn, person)),
        "appsRecorded": export.rows(await q.apps(conn, person)),
        "licencesRecorded": export.rows(await q.licences(conn, person)),
        "statusesDefined": export.rows(await q.statuses(conn, person)),
        "auditLog": export.rows(await export_store.audit_entries(conn, person)),
        "eventsPublished": await export_store.outbox_mentions(conn, person),
    }


async def on_access_requested(conn: asyncpg.Connection, env: Envelope[AccessRequested]) -> None:
    await export.answer(conn, env, service=SERVICE, source=SOURCE, gather=gather, event=CatalogDataExported)
