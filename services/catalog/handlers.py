"""Event handlers of the catalog service: the city's school units (licences are per school unit)."""

from shared.city.replica import ORGANISATIONS

REPLICAS = (ORGANISATIONS,)
HANDLERS: dict = {}
