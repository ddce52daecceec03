"""Pictures a person can open in a browser: a school's radar, its trends, the city's heat map.
Built from the same read models and the same suppression as the JSON views; titles, axis labels, legends and the
text for screen readers in the reader's language."""

from __future__ import annotations

from statistics import median
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.reporting import cache, charts, domain, store, suppression, views
from services.reporting.access import OVERSEERS, READERS, district_scope, readable_school
from services.reporting.schemas import SVG, svg_answer
from services.reporting.vocabulary import LangQuery, heading_titles, word
from shared.auth import Principal, require
from shared.clock import city_today
from shared.i18n import Language, language
from shared.problems import Problem, documented

router = APIRouter(tags=["charts"])


def svg(document: str, lang: Language) -> Response:
    return Response(document, media_type=SVG, headers={"Cache-Control": "private, max-age=60", "Content-Language": lang, "Vary": "Accept-Language"})


def axes(lang: Language) -> list[tuple[str, str]]:
    """The five headings as the charts' axes or columns, titled in the reader's language."""
    return list(heading_titles(lang).items())


@router.get("/school-units/{school_unit_id}/charts/radar.svg", summary="Radar of a school's five headings: this year, last year, the district median",
            response_class=Response, responses=documented(401, 403, 404) | svg_answer())
async def radar(request: Request, school_unit_id: UUID, caller: Annotated[Principal, Depends(require(*READERS))],
                year: Annotated[int | None, Query(ge=2000, le=2100)] = None, lang: LangQuery = None) -> Response:
    lang_ = language(request, lang)
    async with request.app.state.pool.acquire() as conn:
        district = await readable_school(conn, caller, school_unit_id)
        rows = await store.heading_levels_by_year(conn, school_unit_id)
        by_year: dict[int, dict[str, float | None]] = {}
        for r in rows:
            by_year.setdefault(r["year"], {})[r["heading"]] = r["level"]
        if not by_year:
            raise Problem(404, "Not found", f"school unit {school_unit_id} has no submitted self-assessment")
        chosen = year or max(by_year)
        if chosen not in by_year:
            raise Problem(404, "Not found", f"no submitted self-assessment for {chosen}; years: {sorted(by_year)}")
        peers = await cache.school_levels(conn, chosen, [district]) if district else []
        name = next((s.name for s in peers if s.id == str(school_unit_id)), str(school_unit_id))
    series: list[tuple[str, dict[str, float | None]]] = [(str(chosen), by_year[chosen])]
    if chosen - 1 in by_year:
        series.append((str(chosen - 1), by_year[chosen - 1]))
    medians: dict[str, float | None] = {}
    for h in domain.HEADINGS:
        values = [v for s in peers if (v := s.levels.get(h)) is not None]
        # the same rule as the roll-ups: no district figure over fewer than 3 schools
        medians[h] = float(median(values)) if len(values) >= suppression.MIN_SCHOOLS else None
    if any(v is not None for v in medians.values()):
        series.append((word("district_median", lang_), medians))
    return svg(charts.radar(axes(lang_), series, title=word("radar_title", lang_).format(school=name, year=chosen), lang=lang_), lang_)


@router.get("/school-units/{school_unit_id}/charts/trend.svg", summary="A school's level per heading over the years",
            response_class=Response, responses=documented(401, 403, 404) | svg_answer())
async def trend(request: Request, school_unit_id: UUID, caller: Annotated[Principal, Depends(require(*READERS))],
                lang: LangQuery = None) -> Response:
    lang_ = language(request, lang)
    async with request.app.state.pool.acquire() as conn:
        await readable_school(conn, caller, school_unit_id)
        rows = await store.heading_levels_by_year(conn, school_unit_id)
    if not rows:
        raise Problem(404, "Not found", f"school unit {school_unit_id} has no submitted self-assessment")
    years = sorted({r["year"] for r in rows})
    series = [(title, {r["year"]: r["level"] for r in rows if r["heading"] == h}) for h, title in axes(lang_)]
    return svg(charts.trend(list(range(years[0], years[-1] + 1)), series, title=word("trend_title", lang_), y_label=word("level", lang_), lang=lang_), lang_)


@router.get("/charts/heatmap.svg", summary="Districts × headings for a year (city admins), or one district's schools × headings (its admins)",
            description="A city admin without `districtId` sees every district's figure per heading (roll-ups over fewer than 3 schools "
                        "suppressed, shown as ..). With `districtId`, or for a district admin (their own districts when none is given), "
                        "the rows are the district's schools by name with their levels, as the district overview lists them.",
            response_class=Response, responses=documented(401, 403) | svg_answer())
async def heatmap(request: Request, caller: Annotated[Principal, Depends(require(*OVERSEERS))],
                  year: Annotated[int | None, Query(ge=2000, le=2100)] = None, districtId: UUID | None = None, lang: LangQuery = None) -> Response:
    lang_ = language(request, lang)
    year = year or city_today().year
    scope = district_scope(caller, districtId)
    async with request.app.state.pool.acquire() as conn:
        schools = await cache.school_levels(conn, year, scope)
        names = await views.district_names(conn, scope, lang_) if scope is not None else []
    if scope is not None:
        title = word("heatmap_schools_title", lang_).format(year=year, districts=", ".join(names))
        return svg(views.schools_heatmap(schools, title, lang_), lang_)
    district_names = {str(s.district): s.district_name or word("no_district", lang_) for s in schools}
    figures = domain.rollups(schools, lambda s: s.district, domain.HEADINGS)
    rows = sorted(((d, district_names.get(d, d)) for d in figures), key=lambda r: r[1])
    values = {(d, h): f.value for d, figs in figures.items() for h, f in figs.items()}
    hidden = frozenset((d, h) for d, figs in figures.items() for h, f in figs.items() if f.status is suppression.Status.SUPPRESSED)
    return svg(charts.heatmap(rows, axes(lang_), values, title=word("heatmap_title", lang_).format(year=year), suppressed=hidden, lang=lang_), lang_)

