"""Erasure in the catalog (docs/decisions/0009): on ErasureRequested, erase or anonymise what it holds about
the person and confirm with CatalogDataErased."""

from __future__ import annotations

import asyncpg

from services.catalog import erasure_store
from services.catalog.settings import SOURCE
from shared.events.catalog import CatalogDataErased
from shared.events.envelope import Envelope
from shared.events.notification import ErasureRequested
from shared.privacy import erasure


async def on_erasure_requested(conn: asyncpg.Connection, env: Envelope[ErasureRequested]) -> None:
    await erasure.answer(conn, env, source=SOURCE, confirmation=CatalogDataErased, erase=erasure_store.erase_person)
