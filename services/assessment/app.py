"""The assessment service, declared."""

from pathlib import Path

from services.assessment.api import router
from services.assessment.handlers import HANDLERS, REPLICAS
from services.assessment.privacy import PRIVACY
from services.assessment.settings import SERVICE
from services.assessment.startup import publish_frameworks
from shared.events.assessment import (
    ActionPlanChanged,
    AssessmentDataErased,
    AssessmentDataExported,
    AssessmentReopened,
    AssessmentSubmitted,
    CampaignClosed,
    CampaignOpened,
    FrameworkPublished,
)
from shared.service import ServiceSpec

SPEC = ServiceSpec(
    name=SERVICE,
    title="Skolit assessment",
    description="Schools' annual self-assessment against the strategy's five headings, with guidance and an action plan.",
    directory=Path(__file__).parent,
    router=router,
    handlers=HANDLERS,
    replicas=REPLICAS,
    produces=(FrameworkPublished, CampaignOpened, CampaignClosed, AssessmentSubmitted, AssessmentReopened, ActionPlanChanged,
              AssessmentDataExported, AssessmentDataErased),
    on_start=publish_frameworks,
    privacy=PRIVACY,
)
