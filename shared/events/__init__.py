"""Event contracts: one pydantic model per event type, each produced by exactly one party.

Importing this package registers every contract in :mod:`shared.events.registry`.
"""

from shared.events.base import Event
from shared.events.registry import REGISTRY, model_for
from shared.events import assessment, catalog, city, notification, reporting  # noqa: F401  (registers the contracts)

__all__ = ["Event", "REGISTRY", "model_for"]
