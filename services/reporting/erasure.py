"""Erasure in the reporting service (docs/decisions/0009): on ErasureRequested, anonymise what it holds about
the person — the figures stay — and confirm with ReportingDataErased."""

from __future__ import annotations

import asyncpg

from services.reporting import erasure_store
from shared.events.envelope import Envelope
from shared.events.notification import ErasureRequested
from shared.events.reporting import ReportingDataErased
from shared.privacy import erasure

SOURCE = "skolit.reporting"


async def on_erasure_requested(conn: asyncpg.Connection, env: Envelope[ErasureRequested]) -> None:
    await erasure.answer(conn, env, source=SOURCE, confirmation=ReportingDataErased, erase=erasure_store.erase_person)
