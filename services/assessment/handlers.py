"""Event handlers of the assessment service: it keeps the city's school units and duties (who is
Rektor where) as replicas; it applies no other service's events yet."""

from services.assessment.erasure import on_erasure_requested
from services.assessment.export import on_access_requested
from shared.city.replica import DUTIES, MARKINGS, ORGANISATIONS
from shared.consumer import Handler
from shared.events.base import Event
from shared.events.notification import AccessRequested, ErasureRequested

# MARKINGS: who has a protected identity, hidden from others in every answer (shared/city/markings.py)
REPLICAS = (ORGANISATIONS, DUTIES, MARKINGS)
HANDLERS: dict[type[Event], Handler] = {AccessRequested: on_access_requested, ErasureRequested: on_erasure_requested}
