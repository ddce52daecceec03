"""The connector, declared like a Skolit service (shared/service.py): its own schema ``connector`` with the sync state
and an outbox, the relay to Kafka, /healthz, /readyz, /metrics; it consumes no topic. It publishes the city events
(shared/events/city.py) from the city's SS 12000 API (connectors/ss12000/) and from the imports city admins send
(connectors/imports/)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from fastapi import APIRouter

from connectors.imports.routes import router as imports_router
from connectors.ss12000.privacy import PRIVACY
from connectors.ss12000.routes import WORKER, router as sync_router
from connectors.ss12000.settings import SERVICE, Ss12000Settings
from connectors.ss12000.worker import SyncWorker
from shared.events.city import (
    AppLaunchesCounted,
    DutyAssigned,
    DutyEnded,
    GuardianRelationAdded,
    GuardianRelationEnded,
    OrganisationEnded,
    OrganisationUpserted,
    PersonRemoved,
    PersonUpserted,
    SchoolFiguresReported,
)
from shared.service import ServiceSpec, Worker


def sync_worker(pool: asyncpg.Pool) -> Worker:
    return SyncWorker(pool, Ss12000Settings.from_env())


router = APIRouter()
router.include_router(sync_router)
router.include_router(imports_router)

SPEC = ServiceSpec(
    name=SERVICE,
    title="Skolit connector",
    description="The city's data into Skolit: the SS 12000 school data synced into city events, and the imports of school "
                "figures and app launches.",
    directory=Path(__file__).parent,
    router=router,
    produces=(OrganisationUpserted, OrganisationEnded, PersonUpserted, PersonRemoved, DutyAssigned, DutyEnded,
              GuardianRelationAdded, GuardianRelationEnded, SchoolFiguresReported, AppLaunchesCounted),
    workers={WORKER: sync_worker},
    privacy=PRIVACY,
)
