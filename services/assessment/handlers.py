"""Event handlers of the assessment service: it keeps the city's school units and duties (who is
Rektor where) as replicas; it applies no other service's events yet."""

from shared.city.replica import DUTIES, GUARDIANSHIPS, MARKINGS, ORGANISATIONS
from shared.consumer import Handler
from shared.events.base import Event

# MARKINGS: who has a protected identity, hidden from others in every answer (shared/city/markings.py)
REPLICAS = (ORGANISATIONS, DUTIES, MARKINGS, GUARDIANSHIPS)
#: the right-of-access and erasure handlers come from its privacy part (privacy.py, shared/privacy/part.py)
HANDLERS: dict[type[Event], Handler] = {}
