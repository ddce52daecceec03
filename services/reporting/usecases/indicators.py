"""Indicators as data: the ones the strategy starts with (indicators.json, seeded at start) and the ones a
committee adds (POST /indicators). A committee's own indicators are kept; a shipped one is added when missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.reporting import store
from services.reporting.domain import Indicator
from shared.uow import UnitOfWork

INDICATORS = Path(__file__).resolve().parent.parent / "indicators.json"


async def seed_indicators(uow: UnitOfWork) -> None:
    for definition in json.loads(INDICATORS.read_text(encoding="utf-8")):
        await store.define_indicator(uow.conn, definition, "skolit:seed")


async def define_indicator(uow: UnitOfWork, definition: dict[str, Any], actor: str) -> Indicator | None:
    """The indicator as defined; None when an indicator with its code exists already (it is not replaced)."""
    if not await store.define_indicator(uow.conn, definition, actor):
        return None
    return next(i for i in await store.indicators(uow.conn) if i.code == definition["code"])
