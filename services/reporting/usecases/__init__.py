"""What can happen in reporting, one plain async function each (shared/uow.py): an event applied to the
read models (``apply_*``), a city admin defining an indicator or publishing the annual report, the service
seeding its shipped indicators at start. Each takes a ``UnitOfWork`` first and returns a result; the event
handlers (handlers.py), the routes (routes/) and the start-up (app.py) are thin adapters that call them.
Read-only views are query functions (views.py, routes/): they change nothing, so they are not use cases."""

from services.reporting.usecases.annual import NothingToPublish, publish_annual_report
from services.reporting.usecases.apps import AppFacts, apply_app_facts, apply_app_launches_counted
from services.reporting.usecases.assessments import (
    apply_action_plan_changed,
    apply_assessment_reopened,
    apply_assessment_submitted,
    apply_campaign_opened,
)
from services.reporting.usecases.figures import apply_figures, apply_guardian_reach_measured, apply_school_figures_reported
from services.reporting.usecases.indicators import define_indicator, seed_indicators
from services.reporting.usecases.organisations import apply_organisation_upserted

__all__ = [
    "AppFacts", "NothingToPublish",
    "apply_action_plan_changed", "apply_app_facts", "apply_app_launches_counted", "apply_assessment_reopened", "apply_assessment_submitted",
    "apply_campaign_opened", "apply_figures", "apply_guardian_reach_measured", "apply_organisation_upserted", "apply_school_figures_reported",
    "define_indicator", "publish_annual_report", "seed_indicators",
]
