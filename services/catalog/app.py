"""The catalog service, declared."""

from pathlib import Path

from services.catalog.api import router
from services.catalog.handlers import HANDLERS, REPLICAS
from services.catalog.settings import SERVICE
from shared.service import ServiceSpec

SPEC = ServiceSpec(
    name=SERVICE,
    title="Skolit catalog",
    description="The programbank: every app and learning resource available to teachers, its licences and data-protection status.",
    directory=Path(__file__).parent,
    router=router,
    handlers=HANDLERS,
    replicas=REPLICAS,
)
