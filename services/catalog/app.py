"""The catalog service, declared."""

from pathlib import Path

from services.catalog.api import router
from services.catalog.handlers import HANDLERS, REPLICAS
from services.catalog.jobs import JOBS
from services.catalog.privacy import PRIVACY
from services.catalog.routes.search import HOT_READS
from services.catalog.settings import SERVICE
from shared.events.catalog import (
    AppChanged,
    AppPublished,
    AppRequestDecided,
    AppRequestProgressed,
    AppRequestStalled,
    AppRequestSubmitted,
    AppRetired,
    AppStatusChanged,
    CatalogDataErased,
    CatalogDataExported,
    DpaExpired,
    LicenceExpiring,
)
from shared.service import ServiceSpec

SPEC = ServiceSpec(
    name=SERVICE,
    title="Skolit catalog",
    description="The programbank: every app and learning resource available to teachers, its licences, data protection, statuses and requests.",
    directory=Path(__file__).parent,
    router=router,
    handlers=HANDLERS,
    replicas=REPLICAS,
    produces=(AppPublished, AppChanged, AppStatusChanged, AppRetired, DpaExpired, LicenceExpiring,
              AppRequestSubmitted, AppRequestProgressed, AppRequestDecided, AppRequestStalled,
              CatalogDataExported, CatalogDataErased),
    jobs=JOBS,
    privacy=PRIVACY,
    hot_reads=HOT_READS,
)
