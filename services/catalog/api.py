"""HTTP routes of the catalog service (the programbank arrives with its own issue; until then the
service serves the shared school-unit, health and metrics routes)."""

from fastapi import APIRouter

router = APIRouter(tags=["catalog"])
