"""A small per-process cache of one year's school levels, for the city-wide views: they read every
school of the year, and the figures change only when a submission, a reopening or an organisation
change is applied. Each request asks the database whether anything changed (one primary-key read of the
read models' version, which a statement trigger bumps in the same transaction as every write to the tables
read here, migration 0009), so a cached answer is never older than the read model; replicas each keep their own."""

from __future__ import annotations

from collections import OrderedDict
from uuid import UUID

import asyncpg

from services.reporting import domain, store

MAX_ENTRIES = 64
_entries: OrderedDict[tuple[object, ...], list[domain.SchoolLevels]] = OrderedDict()


async def school_levels(conn: asyncpg.Connection, year: int, districts: list[UUID] | None,
                        version: int | None = None) -> list[domain.SchoolLevels]:
    """``version``: the read models' version the caller has already read (store.report_version) before reading
    anything else, to spare the round trip; whatever is read after it is at least that new."""
    if version is None:
        version = await store.report_version(conn)
    key = (year, tuple(sorted(districts)) if districts is not None else None, version)
    found = _entries.get(key)
    if found is not None:
        _entries.move_to_end(key)
        return found
    schools = domain.schools_from_rows(await store.school_levels(conn, year, districts))
    _entries[key] = schools
    while len(_entries) > MAX_ENTRIES:
        _entries.popitem(last=False)
    return schools
