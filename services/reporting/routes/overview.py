"""Overviews above the school: a district, the city, one heading across schools. Schools are listed
by name, never ranked; roll-ups over fewer than 3 schools are suppressed, with complementary
suppression because the city figure is published beside the districts'."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.reporting import cache, csv_export, domain, store, suppression, views, vocabulary
from services.reporting.csv_export import Export, export
from services.reporting.access import OVERSEERS, ensure_district
from services.reporting.schemas import CityOverview, CityTrends, DistrictOverview, DistrictTrends, HeadingAcrossSchools, json_or_csv
from services.reporting.vocabulary import CSV_HEADERS, LangQuery, heading_titles
from shared.auth import Principal, Role, require
from shared.clock import city_today
from shared.i18n import Language, language
from shared.problems import Problem, documented, rejected
from shared.vocabulary import STRATEGY_HEADINGS

router = APIRouter(tags=["overviews"])
Year = Annotated[int | None, Query(ge=2000, le=2100, description="defaults to this year")]
AsExport = Annotated[Export, Depends(export)]


@router.get("/districts/{district_id}/overview", summary="A district's schools and its figure per heading for a year", response_model=None,
            responses=documented(401, 403, 404) | json_or_csv(DistrictOverview))
async def district_overview(request: Request, district_id: UUID, caller: Annotated[Principal, Depends(require(*OVERSEERS))], as_: AsExport,
                            year: Year = None, lang: LangQuery = None) -> Response:
    ensure_district(caller, district_id)
    lang_ = language(request, lang)
    titles = heading_titles(lang_)
    year = year or city_today().year
    async with request.app.state.pool.acquire() as conn:
        name = await store.organisation_name(conn, district_id)
        if name is None:
            raise Problem(404, "Not found", f"district {district_id} is not known")
        schools = await cache.school_levels(conn, year, [district_id])
        last_year = await cache.school_levels(conn, year - 1, [district_id])
    figures = domain.rollups(schools, lambda s: "district", domain.HEADINGS)["district"] if schools else {}
    before = domain.rollups(last_year, lambda s: "district", domain.HEADINGS)["district"] if last_year else {}
    headings = {h: views.with_change(figures[h], before.get(h)) for h in domain.HEADINGS} if figures else {}
    body = {
        "districtId": str(district_id), "displayName": name, "year": year, **views.submitted(schools),
        "headings": [{"id": h, "title": titles[h], **headings[h]} for h in domain.HEADINGS] if headings else [],
        # by name, not by level: a follow-up, not a league table
        "schools": [{"schoolUnit": s.ref(), "submitted": bool(s.levels), "levels": {h: s.levels.get(h) for h in domain.HEADINGS}} for s in schools],
        "method": vocabulary.METHOD[lang_],
    }
    if as_.csv:
        groups = [{"kind": "district", "id": str(district_id), "displayName": name, "headings": headings}]
        groups += [{"kind": "school", "id": s.id, "displayName": s.name, "headings": {h: {"value": s.levels.get(h)} for h in domain.HEADINGS}}
                   for s in schools]
        return csv_export.overview_csv({"year": year, "groups": groups}, f"district-{district_id}-{year}.csv", lang_, as_.variant)
    return csv_export.json_answer(body)


@router.get("/overview", summary="The city: each district's figure per heading, and the city's", response_model=None,
            responses=documented(401, 403) | json_or_csv(CityOverview))
async def city_overview(request: Request, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))], as_: AsExport, year: Year = None,
                        lang: LangQuery = None) -> Response:
    year = year or city_today().year
    lang_ = language(request, lang)
    async with request.app.state.pool.acquire() as conn:
        body = await views.city_overview(conn, year, lang_)
    if as_.csv:
        groups = [{"kind": "city", "id": "city", "displayName": vocabulary.word("city", lang_), "headings": body["city"]},
                  *({"kind": "district", **d} for d in body["districts"])]
        return csv_export.overview_csv({"year": year, "groups": groups}, f"city-{year}.csv", lang_, as_.variant)
    return csv_export.json_answer(body)


@router.get("/headings/{heading}", summary="One heading across schools: each school's level and the distribution", response_model=None,
            responses=documented(401, 403, 422) | json_or_csv(HeadingAcrossSchools))
async def heading_across_schools(request: Request, heading: str, caller: Annotated[Principal, Depends(require(*OVERSEERS))], as_: AsExport,
                                 year: Year = None, districtId: UUID | None = None, lang: LangQuery = None) -> Response:
    lang_ = language(request, lang)
    if heading not in STRATEGY_HEADINGS:
        raise rejected(422, f"unknown heading {heading!r}; headings: {', '.join(STRATEGY_HEADINGS)}", "path.heading")
    if districtId is not None:
        ensure_district(caller, districtId)
    elif not caller.has_any(Role.CITY_ADMIN):
        if not caller.districts:
            raise Problem(403, "Forbidden", "a district admin sees the districts in the token; none given")
    year = year or city_today().year
    districts = [districtId] if districtId else (None if caller.has_any(Role.CITY_ADMIN) else [UUID(d) for d in caller.districts])
    async with request.app.state.pool.acquire() as conn:
        schools = await cache.school_levels(conn, year, districts)
    levels = [s.levels.get(heading) for s in schools]
    if as_.csv:
        groups = [{"kind": "school", "id": s.id, "displayName": s.name, "headings": {heading: {"value": s.levels.get(heading)}}} for s in schools]
        return csv_export.overview_csv({"year": year, "groups": groups}, f"{heading}-{year}.csv", lang_, as_.variant)
    return csv_export.json_answer({
        "heading": heading, "title": vocabulary.heading_title(heading, lang_), "year": year, **views.submitted(schools),
        "figure": views.figure(suppression.rollup(levels)),
        "distribution": {str(level): sum(1 for v in levels if v == level) for level in range(1, 6)},
        "missing": sum(1 for v in levels if v is None),
        "schools": [{"schoolUnit": s.ref(), "districtId": s.district, "level": s.levels.get(heading)} for s in schools],
        "method": vocabulary.METHOD[lang_],
    })


async def _trends(request: Request, districts: list[UUID] | None) -> list[dict[str, Any]]:
    async with request.app.state.pool.acquire() as conn:
        years = await store.years_with_submissions(conn, districts)
        per_year = {y: await cache.school_levels(conn, y, districts) for y in years}
    return [{"year": y, "submitted": sum(1 for s in schools if s.levels),
             "headings": {h: views.figure(suppression.rollup([s.levels.get(h) for s in schools])) for h in domain.HEADINGS}}
            for y, schools in per_year.items()]


def _trends_csv(years: list[dict[str, Any]], kind: str, id: str, filename: str, lang: Language, as_: Export) -> Response:
    titles = heading_titles(lang)
    rows = []
    for i, y in enumerate(years):
        before = years[i - 1]["headings"] if i > 0 and years[i - 1]["year"] == y["year"] - 1 else {}
        for h, fig in y["headings"].items():
            previous = before.get(h, {}).get("value")
            change = round(fig["value"] - previous, 2) if fig["value"] is not None and previous is not None else None
            rows.append([kind, id, y["year"], h, titles.get(h), fig, previous, change, y["submitted"]])
    return csv_export.csv_response(CSV_HEADERS[lang]["trends"], rows, filename, lang, as_.variant)


def _headings(lang: Language) -> list[dict[str, str]]:
    return [{"code": h, "label": title} for h, title in heading_titles(lang).items()]


@router.get("/districts/{district_id}/trends", summary="A district's figure per heading over the years", response_model=None,
            responses=documented(401, 403) | json_or_csv(DistrictTrends))
async def district_trends(request: Request, district_id: UUID, caller: Annotated[Principal, Depends(require(*OVERSEERS))], as_: AsExport,
                          lang: LangQuery = None) -> Response:
    ensure_district(caller, district_id)
    lang_ = language(request, lang)
    years = await _trends(request, [district_id])
    if as_.csv:
        return _trends_csv(years, "district", str(district_id), f"district-{district_id}-trends.csv", lang_, as_)
    return csv_export.json_answer({"districtId": str(district_id), "headings": _headings(lang_), "years": years, "method": vocabulary.METHOD[lang_]})


@router.get("/trends", summary="The city's figure per heading over the years", response_model=None,
            responses=documented(401, 403) | json_or_csv(CityTrends))
async def city_trends(request: Request, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))], as_: AsExport,
                      lang: LangQuery = None) -> Response:
    lang_ = language(request, lang)
    years = await _trends(request, None)
    if as_.csv:
        return _trends_csv(years, "city", "city", "city-trends.csv", lang_, as_)
    return csv_export.json_answer({"headings": _headings(lang_), "years": years, "method": vocabulary.METHOD[lang_]})
