"""Assessment's scheduled jobs (see shared/jobs.py): the daily retention run."""

from __future__ import annotations

from services.assessment.retention import RULES
from services.assessment.settings import SERVICE
from shared import retention

JOBS = (retention.job(SERVICE, RULES),)
