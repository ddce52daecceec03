"""Who may read what in reporting: a school's staff its own school, district admins their
districts, city admins everything. No figure about one school's respondents leaves unsuppressed."""

from __future__ import annotations

from uuid import UUID

from shared.auth import Principal, Role
from shared.problems import Problem

READERS = (Role.PRINCIPAL, Role.TEACHER, Role.DISTRICT_ADMIN, Role.CITY_ADMIN)
OVERSEERS = (Role.DISTRICT_ADMIN, Role.CITY_ADMIN)


def ensure_district(caller: Principal, district: UUID) -> None:
    if caller.has_any(Role.CITY_ADMIN):
        return
    if not (caller.has_any(Role.DISTRICT_ADMIN) and str(district) in caller.districts):
        raise Problem(403, "Forbidden", f"district {district} is not one of your districts")
