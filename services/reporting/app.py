"""The reporting service, declared."""

from pathlib import Path

from services.reporting.api import router
from services.reporting.handlers import HANDLERS, REPLICAS
from services.reporting.settings import SERVICE
from shared.service import ServiceSpec

SPEC = ServiceSpec(
    name=SERVICE,
    title="Skolit reporting",
    description="Follow-up across schools, districts and years: read models built from events, comparisons, exports, charts.",
    directory=Path(__file__).parent,
    router=router,
    handlers=HANDLERS,
    replicas=REPLICAS,
    read_models=("organisation", "campaign_school_unit", "campaign", "school_unit_history", "pulse_level", "indicator_level",
                 "heading_level", "submission"),
)
