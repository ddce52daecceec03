"""Reference data shipped with the code: the indicators the strategy starts with (indicators.json).
A committee's own indicators (POST /indicators) are kept; a shipped one is added when missing."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from services.reporting import store

INDICATORS = Path(__file__).with_name("indicators.json")


async def seed_indicators(conn: asyncpg.Connection) -> None:
    for definition in json.loads(INDICATORS.read_text(encoding="utf-8")):
        await store.define_indicator(conn, definition, "skolit:seed")
