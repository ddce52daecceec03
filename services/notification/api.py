"""HTTP routes of the notification service; each area in its own module under routes/."""

from fastapi import APIRouter

from services.notification.routes import (
    access_log,
    access_requests,
    audiences,
    broadcasts,
    contacts,
    erasure,
    gateways,
    inbox,
    me,
    preferences,
    providers,
    worklists,
)

router = APIRouter()
for module in (audiences, contacts, preferences, inbox, broadcasts, gateways, worklists, access_log, access_requests, erasure, me, providers):
    router.include_router(module.router)
