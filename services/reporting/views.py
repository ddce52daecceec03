"""Views built from the read models that more than one route shows: the city overview is its own page and
the heart of the annual report. Query functions only (nothing here changes anything), so that no route
module imports another."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from services.reporting import cache, charts, domain, store, suppression, vocabulary
from shared.i18n import Language


def figure(f: suppression.Figure) -> dict[str, Any]:
    body = suppression.as_json(f)
    if body["value"] is not None:
        body["value"] = round(body["value"], 2)
    return body


def submitted(schools: list[domain.SchoolLevels]) -> dict[str, int]:
    return {"schoolUnits": len(schools), "submitted": sum(1 for s in schools if s.levels)}


def with_change(now: suppression.Figure, before: suppression.Figure | None) -> dict[str, Any]:
    """A figure with last year's beside it (year-on-year change), both after suppression."""
    body = figure(now)
    previous = figure(before)["value"] if before is not None else None
    body["previousValue"] = previous
    body["change"] = round(body["value"] - previous, 2) if body["value"] is not None and previous is not None else None
    return body


def district_id(key: str) -> str | None:
    """The district of a roll-up group: school units without a district are grouped under "None"."""
    return None if key == "None" else key


async def city_overview(conn: asyncpg.Connection, year: int, lang: Language = "sv") -> dict[str, Any]:
    """Each district's figure per heading and the city's, with the change since the year before."""
    schools = await cache.school_levels(conn, year, None)
    last_year = await cache.school_levels(conn, year - 1, None)
    apps = await store.apps_per_heading(conn)
    by_district = domain.rollups(schools, lambda s: s.district, domain.HEADINGS)
    before = domain.rollups(last_year, lambda s: s.district, domain.HEADINGS)
    names = {str(s.district): s.district_name for s in schools}
    city = {h: with_change(suppression.rollup([s.levels.get(h) for s in schools]), suppression.rollup([s.levels.get(h) for s in last_year]))
            for h in domain.HEADINGS}
    districts = [{"id": district_id(d), "displayName": names.get(d), "headings": {h: with_change(f, before.get(d, {}).get(h)) for h, f in figs.items()}}
                 for d, figs in sorted(by_district.items(), key=lambda kv: names.get(kv[0]) or "")]
    return {"year": year, **submitted(schools), "headings": [{"code": h, "label": t} for h, t in vocabulary.heading_titles(lang).items()],
            "city": city, "districts": districts,
            "appsPerHeading": {h: apps.get(h, 0) for h in domain.HEADINGS},  # apps the programbank allows now, per heading they serve
            "method": vocabulary.METHOD[lang]}


async def district_names(conn: asyncpg.Connection, districts: list[UUID], lang: Language = "sv") -> list[str]:
    """The districts' names as the city sent them (the id where it has not), in the order given."""
    return [await store.organisation_name(conn, d) or str(d) for d in districts]


def schools_heatmap(schools: list[domain.SchoolLevels], title: str, lang: Language) -> str:
    """Schools (by name, never ranked) × headings: each school's own level, as the district overview shows it."""
    rows = [(s.id, s.name) for s in schools]
    values: dict[tuple[str, str], float | None] = {(s.id, h): (float(v) if (v := s.levels.get(h)) is not None else None)
                                                   for s in schools for h in domain.HEADINGS}
    return charts.heatmap(rows, list(vocabulary.heading_titles(lang).items()), values, title=title, lang=lang)
