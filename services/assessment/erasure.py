"""Erasure in the assessment service (docs/decisions/0009): on ErasureRequested, erase or anonymise what it
holds about the person and confirm with AssessmentDataErased."""

from __future__ import annotations

import asyncpg

from services.assessment import erasure_store
from shared.events.assessment import AssessmentDataErased
from shared.events.envelope import Envelope
from shared.events.notification import ErasureRequested
from shared.privacy import erasure

SOURCE = "skolit.assessment"


async def on_erasure_requested(conn: asyncpg.Connection, env: Envelope[ErasureRequested]) -> None:
    await erasure.answer(conn, env, source=SOURCE, confirmation=AssessmentDataErased, erase=erasure_store.erase_person)
