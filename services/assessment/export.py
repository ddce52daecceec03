"""Right of access (docs/decisions/0010): assessment's part of a person's export. On AccessRequested it
gathers every row it holds about the person (docs/privacy.md, assessment) and answers with
AssessmentDataExported, the part sealed for the request (shared/privacy/export.py)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from services.assessment import export_store as q
from services.assessment.settings import SERVICE
from shared.events.assessment import AssessmentDataExported
from shared.events.envelope import Envelope
from shared.events.notification import AccessRequested
from shared.privacy import export, export_store

SOURCE = "skolit.assessment"


async def gather(conn: asyncpg.Connection, person: UUID) -> export.Tables:
    return {
        "person": export.rows(await export_store.person(conn, person)),
        "duties": export.rows(await export_store.duties(conn, person)),
        "roundsOpenedOrClosed": export.rows(await q.rounds(conn, person)),
        "assessmentsSubmitted": export.rows(await q.submitted(conn, person)),
        "answersSaved": export.rows(await q.answers(conn, person)),
        "actionsAdded": export.rows(await q.actions(conn, person)),
        "actionNotesWritten": export.rows(await q.notes(conn, person)),
        "auditLog": export.rows(await export_store.audit_entries(conn, person)),
        "eventsPublished": await export_store.outbox_mentions(conn, person),
    }


async def on_access_requested(conn: asyncpg.Connection, env: Envelope[AccessRequested]) -> None:
    await export.answer(conn, env, service=SERVICE, source=SOURCE, gather=gather, event=AssessmentDataExported)
