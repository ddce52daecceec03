"""The notification service, declared."""

from pathlib import Path

from services.notification.api import router
from services.notification.handlers import HANDLERS, REPLICAS
from services.notification.settings import SERVICE
from shared.service import ServiceSpec

SPEC = ServiceSpec(
    name=SERVICE,
    title="Skolit notification",
    description="Messages to guardians and staff: preferences, channels, delivery status.",
    directory=Path(__file__).parent,
    router=router,
    handlers=HANDLERS,
    replicas=REPLICAS,
)
