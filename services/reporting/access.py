"""Who may read what in reporting: a school's staff its own school, district admins their
districts, city admins everything. No figure about one school's respondents leaves unsuppressed."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from services.reporting import store
from shared.auth import Principal, Role, ensure_school_access
from shared.city.replica import district_of
from shared.problems import Problem

READERS = (Role.PRINCIPAL, Role.TEACHER, Role.DISTRICT_ADMIN, Role.CITY_ADMIN)
OVERSEERS = (Role.DISTRICT_ADMIN, Role.CITY_ADMIN)


def ensure_district(caller: Principal, district: UUID) -> None:
    if caller.has_any(Role.CITY_ADMIN):
        return
    if not (caller.has_any(Role.DISTRICT_ADMIN) and str(district) in caller.districts):
        raise Problem(403, "Forbidden", f"district {district} is not one of your districts")


async def readable_school(conn: asyncpg.Connection, caller: Principal, school_unit_id: UUID) -> UUID | None:
    """The school's district, once the caller is known to act for the school (its staff, its district, the city)."""
    district = await district_of(conn, school_unit_id)
    ensure_school_access(caller, str(school_unit_id), str(district) if district else None)
    return district


async def readable_school_unit_at_version(conn: asyncpg.Connection, caller: Principal, school_unit_id: UUID) -> tuple[int, UUID | None, dict[str, Any]]:
    """As readable_school, in the same one query: the read models' version (for the school report's cache, which answers
    only after this check), the school's district, and the school unit as answers show it (SchoolUnitRef)."""
    version, district, ref = await store.report_version_and_school(conn, school_unit_id)
    ensure_school_access(caller, str(school_unit_id), str(district) if district else None)
    return version, district, ref


def district_scope(caller: Principal, district_id: UUID | None) -> list[UUID] | None:
    """The districts a city-wide view is cut to: the one asked for (the caller's own, or any for a city admin); without
    one, everything for a city admin (None) and their own districts for a district admin."""
    if district_id is not None:
        ensure_district(caller, district_id)
        return [district_id]
    if caller.has_any(Role.CITY_ADMIN):
        return None
    if not caller.districts:
        raise Problem(403, "Forbidden", "a district admin sees the districts of their duties; none known")
    return sorted(UUID(d) for d in caller.districts)
