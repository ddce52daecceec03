"""A school unit's history (name, district, school types over time), kept beside the organisation replica."""

from __future__ import annotations

from datetime import datetime

from services.reporting import store
from shared.events.city import OrganisationType, OrganisationUpserted
from shared.uow import UnitOfWork


async def apply_organisation_upserted(uow: UnitOfWork, e: OrganisationUpserted, *, event_id: str, valid_from: datetime) -> bool:
    """Appends a version of a school unit (True); any other organisation has no history here (False).
    The replica's own upsert (shared/city/replica.py) is the handler's to call: it works on the envelope."""
    if e.organisationType != OrganisationType.SKOLENHET:
        return False
    await store.append_school_unit_version(
        uow.conn, event_id=event_id, school_unit=e.id, display_name=e.displayName, district=e.parentOrganisation,
        school_types=[t.value for t in e.schoolTypes], valid_from=valid_from,
    )
    return True
