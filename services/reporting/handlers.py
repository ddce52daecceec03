"""Event handlers of the reporting service: decode → apply to the read models, in the caller's transaction."""

from __future__ import annotations

import asyncpg

from services.reporting import store
from shared.city.replica import ORGANISATIONS
from shared.events.assessment import CampaignOpened
from shared.events.envelope import Envelope


async def on_campaign_opened(conn: asyncpg.Connection, env: Envelope) -> None:
    e: CampaignOpened = env.data  # type: ignore[assignment]
    await store.record_campaign(conn, id=e.id, name=e.name, year=e.year, deadline=e.deadline, opened_at=env.time, school_units=e.schoolUnitIds)


REPLICAS = (ORGANISATIONS,)
HANDLERS = {CampaignOpened: on_campaign_opened}
