"""The notification service, declared."""

from pathlib import Path

from services.notification.access_requests import expiry_job
from services.notification.api import router
from services.notification.handlers import HANDLERS, REPLICAS
from services.notification.jobs import jobs
from services.notification.planner import Planner
from services.notification.privacy import PRIVACY
from services.notification.routes.inbox import HOT_READS
from services.notification.sender import Sender
from services.notification.settings import KEYS, NOTIFICATION, SERVICE
from shared.events.city import GuardianRelationEnded, PersonRemoved
from shared.events.notification import (
    AccessRequested,
    ErasureRequested,
    GuardianReachMeasured,
    MessageDelivered,
    MessageFailed,
    NotificationDataErased,
)
from shared.service import ServiceSpec

SPEC = ServiceSpec(
    name=SERVICE,
    title="Skolit notification",
    description="Messages to guardians and staff: preferences, channels, delivery status.",
    directory=Path(__file__).parent,
    router=router,
    handlers=HANDLERS,
    replicas=REPLICAS,
    # the person replica's handlers, and pending messages to whoever is no longer related to the school cancelled
    overrides=frozenset({GuardianRelationEnded, PersonRemoved}),
    produces=(MessageDelivered, MessageFailed, GuardianReachMeasured, AccessRequested, ErasureRequested, NotificationDataErased),
    jobs=jobs(NOTIFICATION) + (expiry_job(NOTIFICATION.job_interval_seconds),),
    privacy=PRIVACY,
    hot_reads=HOT_READS,
    workers={"planner": lambda pool: Planner(pool, NOTIFICATION), "sender": lambda pool: Sender(pool, NOTIFICATION, KEYS)},
)
