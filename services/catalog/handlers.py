"""Event handlers of the catalog service: the city's school units and duties (who works where, for
requests and licences) and the city's aggregated app launches. Each handler is a thin adapter: the consumer
hands it a connection inside its transaction, and it calls a use case (usecases/) in that unit of work."""

from __future__ import annotations

import asyncpg

from services.catalog.settings import SOURCE
from services.catalog.usecases import usage
from shared.city.replica import DUTIES, GUARDIANSHIPS, MARKINGS, ORGANISATIONS
from shared.consumer import Handler
from shared.events.base import Event
from shared.events.city import AppLaunchesCounted
from shared.events.envelope import Envelope
from shared.uow import UnitOfWork


async def on_app_launches_counted(conn: asyncpg.Connection, env: Envelope[AppLaunchesCounted]) -> None:
    await usage.apply_app_launches_counted(UnitOfWork(conn, SOURCE), env.data, env.time)


# MARKINGS: who has a protected identity, hidden from others in every answer (shared/city/markings.py)
REPLICAS = (ORGANISATIONS, DUTIES, MARKINGS, GUARDIANSHIPS)
#: the right-of-access and erasure handlers come from its privacy part (privacy.py, shared/privacy/part.py)
HANDLERS: dict[type[Event], Handler] = {AppLaunchesCounted: on_app_launches_counted}
