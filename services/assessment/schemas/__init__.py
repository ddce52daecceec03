"""The pydantic models of the assessment service's answers: what its OpenAPI document promises, one module per concern.

Every model has one realistic example. People are ``PersonRef`` (or, where no person acted, a name: ``Actor``),
a school unit is ``SchoolUnitRef``, a heading ``CodeLabel``; every list is a ``Page`` (shared/http/models.py).
"""

from services.assessment.schemas.actions import Action, ActionPlan
from services.assessment.schemas.assessments import ActionAudit, Assessment, AssessmentAudit, Guidance
from services.assessment.schemas.campaigns import Campaign, CampaignAssessments, Campaigns
from services.assessment.schemas.frameworks import CarryForward, Framework, FrameworkVersions
from services.assessment.schemas.history import DistrictHistory, SchoolHistory
from services.assessment.schemas.pulse import PulseInvitations, PulseQuestionnaire, PulseRecorded, PulseResults

__all__ = ["Action", "ActionAudit", "ActionPlan", "Assessment", "AssessmentAudit", "Campaign", "CampaignAssessments", "Campaigns",
           "CarryForward", "DistrictHistory", "Framework", "FrameworkVersions", "Guidance", "PulseInvitations", "PulseQuestionnaire", "PulseRecorded",
           "PulseResults", "SchoolHistory"]
