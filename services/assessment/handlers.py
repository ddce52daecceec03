"""Event handlers of the assessment service: it keeps the city's school units and duties (who is
Rektor where) as replicas; it applies no other service's events yet."""

from shared.city.replica import DUTIES, ORGANISATIONS

REPLICAS = (ORGANISATIONS, DUTIES)
HANDLERS: dict = {}
