"""The reporting service, declared."""

from pathlib import Path

import asyncpg

from services.reporting.api import router
from services.reporting.handlers import HANDLERS, REPLICAS
from services.reporting.privacy import PRIVACY
from services.reporting.settings import SERVICE, SOURCE
from services.reporting.usecases import seed_indicators
from shared.events.city import OrganisationUpserted
from shared.events.reporting import IndicatorBelowTarget, ReportingDataErased, ReportingDataExported, ReportPublished
from shared.service import ServiceSpec
from shared.uow import UnitOfWork


async def on_start(conn: asyncpg.Connection) -> None:
    # the runtime hands over a bare connection; the seed is one transaction like every use case
    async with conn.transaction():
        await seed_indicators(UnitOfWork(conn, SOURCE))


SPEC = ServiceSpec(
    name=SERVICE,
    title="Skolit reporting",
    description="Follow-up across schools, districts and years: read models built from events, comparisons, exports, charts.",
    directory=Path(__file__).parent,
    router=router,
    handlers=HANDLERS,
    replicas=REPLICAS,
    # the organisation replica's upsert, and a version of the school unit's history with it
    overrides=frozenset({OrganisationUpserted}),
    produces=(IndicatorBelowTarget, ReportPublished, ReportingDataExported, ReportingDataErased),
    on_start=on_start,
    privacy=PRIVACY,
    # derived from events only; indicator definitions and alert states are kept through a rebuild
    read_models=("organisation", "campaign_school_unit", "campaign", "school_unit_history", "pulse_level", "indicator_level",
                 "heading_level", "submission", "school_figure", "app_fact", "app_launch", "action_state"),
)
