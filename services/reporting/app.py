"""The reporting service, declared."""

from pathlib import Path

from services.reporting.api import router
from services.reporting.handlers import HANDLERS, REPLICAS
from services.reporting.jobs import JOBS
from services.reporting.publishing import seed_indicators
from services.reporting.settings import SERVICE
from shared.events.city import OrganisationUpserted
from shared.events.reporting import IndicatorBelowTarget, ReportingDataErased, ReportingDataExported, ReportPublished
from shared.service import ServiceSpec

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
    on_start=seed_indicators,
    jobs=JOBS,
    # derived from events only; indicator definitions and alert states are kept through a rebuild
    read_models=("organisation", "campaign_school_unit", "campaign", "school_unit_history", "pulse_level", "indicator_level",
                 "heading_level", "submission", "school_figure", "app_fact", "app_launch", "action_state"),
)
