"""Event handlers of the notification service: recipients come from the city's events — school
units, staff duties, persons' protection markings and guardian relations. Contact details never
arrive by event."""

from shared.city.replica import DUTIES, ORGANISATIONS, PERSONS

REPLICAS = (ORGANISATIONS, DUTIES, PERSONS)
HANDLERS: dict = {}
