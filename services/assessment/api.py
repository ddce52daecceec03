"""HTTP routes of the assessment service, one module per concern under ``routes/``."""

from fastapi import APIRouter

from services.assessment.routes import actions, assessments, campaigns, frameworks, history, pulse

router = APIRouter()
for module in (frameworks, campaigns, assessments, pulse, actions, history):
    router.include_router(module.router)
