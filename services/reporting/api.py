"""HTTP routes of the reporting service; each area in its own module under routes/."""

from fastapi import APIRouter

from services.reporting.routes import annual, campaigns, charts, indicators, overview, school

router = APIRouter()
for module in (campaigns, school, overview, indicators, charts, annual):
    router.include_router(module.router)
