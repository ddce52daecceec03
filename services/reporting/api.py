"""HTTP routes of the reporting service; each area in its own module under routes/."""

from fastapi import APIRouter

from services.reporting.routes import campaigns, overview, school

router = APIRouter()
for module in (campaigns, school, overview):
    router.include_router(module.router)
