"""The annual report: one HTML document (printable to PDF) assembled from the same views, for the city (city admins)
or for a district (its admins, and city admins); a signed link that opens it in a browser without a bearer token
(links.py); and its publication to the districts (ReportPublished)."""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from services.reporting import cache, charts, csv_export, domain, links, store, suppression, usecases, views
from services.reporting.access import OVERSEERS, district_scope, ensure_district
from services.reporting.schemas import Publication, ReportLink, html_answer
from services.reporting.settings import LINK_DEFAULT_MINUTES, LINK_MAX_MINUTES, SOURCE, link_secret
from services.reporting.vocabulary import ANNUAL, METHOD, LangQuery, heading_titles, word
from shared.auth import Principal, Role, require
from shared.i18n import Language, language
from shared.problems import Problem, documented, rejected
from shared.uow import unit_of_work

Year = Annotated[int, Path(ge=2000, le=2100)]  # as everywhere else: a year past int32 failed the query (500)

router = APIRouter(tags=["annual report"])
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1a1a1a; line-height: 1.45; }
table { border-collapse: collapse; margin: 1rem 0; width: 100%; } th, td { border: 1px solid #bbb; padding: .3rem .5rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } caption { text-align: left; font-weight: 600; margin-bottom: .3rem; }
.note { color: #444; font-size: .9rem; } figure { margin: 1.5rem 0; } section { break-inside: avoid; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; text-decoration: none; } }
"""


def _text(figure: dict[str, Any], lang: Language) -> str:
    """A figure as print: decimal comma in Swedish, point in English; ".." hidden and "." missing kept as they are."""
    text = csv_export.cell(figure)
    return html.escape(text if text in (".", "..") or lang == "en" else text.replace(".", ","))


def _change(fig: dict[str, Any], lang: Language) -> str:
    change = fig.get("change")
    if change is None:
        return "."
    text = f"{change:+.2f}"
    return html.escape(text if lang == "en" else text.replace(".", ","))


_bearer = HTTPBearer(auto_error=False)  # optional here: a signed link stands in for the token
_overseer = require(*OVERSEERS)
Sig = Annotated[str | None, Query(max_length=256, description="a signed link's token (POST /annual-report/{year}/links): opens the "
                                                               "report of that year and scope until it expires, without a bearer token")]


async def report_reader(request: Request, year: Year, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
                        sig: Sig = None) -> Principal | links.Link:
    """Who opens the report: a signed link (``?sig=``), or else a district or city admin's bearer token."""
    if sig is None:
        return await _overseer(request, credentials)
    key = link_secret(request.app.state.settings)
    if key is None:
        raise Problem(403, "Forbidden", "signed links are not enabled on this service (SKOLIT_REPORTING_LINK_SECRET)")
    try:
        return links.read(key, sig, year=year, now=time.time())
    except links.Malformed as exc:
        raise rejected(422, str(exc), "query.sig") from None
    except links.Refused as exc:
        raise Problem(403, "Forbidden", str(exc)) from None


@router.get("/annual-report/{year}", response_class=HTMLResponse, summary="The annual follow-up report as one printable HTML document",
            description="The city's report for city admins; a district's (its figure per heading, its schools by name, the schools' heat map "
                        "and the district's trend) with `districtId`, or for a district admin (their own districts when none is given). "
                        "Opened from a signed link (`?sig=`, from POST /annual-report/{year}/links) it needs no bearer token and shows "
                        "exactly the link's year and scope until the link expires.",
            responses=documented(401, 403, 422) | html_answer(),
            # a bearer token, or none at all with a signed link (?sig=)
            openapi_extra={"security": [{}]})  # (FastAPI adds its HTTPBearer before this)
async def annual_report(request: Request, year: Year, reader: Annotated[Principal | links.Link, Depends(report_reader)],
                        districtId: UUID | None = None, lang: LangQuery = None) -> HTMLResponse:
    lang_ = language(request, lang)
    headers: dict[str, str] = {"Content-Language": lang_}
    if isinstance(reader, links.Link):
        if districtId is not None and districtId != reader.district:
            raise Problem(403, "Forbidden", "the link opens another scope's report")
        scope = [reader.district] if reader.district else None
        # the token is in the address: kept out of caches and of the Referer of anything the page would load
        headers |= {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
    else:
        scope = district_scope(reader, districtId)
    async with request.app.state.pool.acquire() as conn:
        document = await (city_document(conn, year, lang_) if scope is None else district_document(conn, year, scope, lang_))
    return HTMLResponse(document, headers=headers)


class NewLink(BaseModel):
    districtId: UUID | None = Field(default=None, description="the district whose report the link opens; none: a district admin's own "
                                                              "(when they have exactly one), the city's for a city admin")
    expiresInMinutes: int = Field(default=LINK_DEFAULT_MINUTES, ge=5, le=LINK_MAX_MINUTES, description="how long the link opens the report")
    lang: Language | None = Field(default=None, description="the report's language when opened (sv or en); the reader may change it")


@router.post("/annual-report/{year}/links", status_code=201, response_model=ReportLink,
             summary="A short-lived signed link that opens the year's report (a district's or the city's) in a browser",
             description="The link carries an HMAC-signed token naming the year, the scope and the expiry; whoever holds it can open "
                         "that report, and only that one, until it expires (default 60 minutes, at most 24 hours). A district admin "
                         "gets links to their own districts' reports; a city admin to any district's or the city's.",
             responses=documented(400, 401, 403, 422, 503))
async def create_link(request: Request, year: Year, body: NewLink, caller: Annotated[Principal, Depends(_overseer)]) -> dict[str, Any]:
    district = body.districtId
    if district is not None:
        ensure_district(caller, district)
    elif not caller.has_any(Role.CITY_ADMIN):
        if len(caller.districts) != 1:
            raise rejected(422, "you act for several districts (or none): name the district the link is for", "body.districtId")
        district = UUID(next(iter(caller.districts)))
    key = link_secret(request.app.state.settings)
    if key is None:
        raise Problem(503, "Service unavailable", "signed links are not enabled on this service: set SKOLIT_REPORTING_LINK_SECRET")
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=body.expiresInMinutes)
    token = links.sign(key, links.Link(year, district, int(expires.timestamp())))
    query = {"sig": token} | ({"lang": body.lang} if body.lang else {})
    path = f"/v1/annual-report/{year}?{urlencode(query)}"
    async with request.app.state.pool.acquire() as conn:
        name = await store.organisation_name(conn, district) if district else None
    return {"url": str(request.base_url).rstrip("/") + path, "path": path, "year": year,
            "district": {"id": district, "displayName": name} if district else None, "expiresAt": expires}


async def city_document(conn: asyncpg.Connection, year: int, lang_: Language) -> str:
    """The city's report: each district's figure per heading and the city's, the districts' heat map, the city's trend."""
    words = ANNUAL[lang_]
    titles = heading_titles(lang_)
    overview = await views.city_overview(conn, year, lang_)
    headings = domain.HEADINGS
    no_district = word("no_district", lang_)
    rows = [(word("city", lang_), overview["city"])] + [(d["displayName"] or no_district, d["headings"]) for d in overview["districts"]]
    hidden = frozenset((str(d["id"]), h) for d in overview["districts"] for h, f in d["headings"].items() if f["status"] == "suppressed")
    heat = charts.heatmap([(str(d["id"]), d["displayName"] or no_district) for d in overview["districts"]],
                          [(h, titles[h]) for h in headings],
                          {(str(d["id"]), h): f["value"] for d in overview["districts"] for h, f in d["headings"].items()},
                          title=word("heatmap_title", lang_).format(year=year), suppressed=hidden, lang=lang_)
    city_trend = await _trend(conn, year, None, word("city_trend_title", lang_), lang_)
    return _document(lang_, words["title"].format(year=year), words["heading"].format(year=year),
                     words["submitted"].format(submitted=overview["submitted"], schools=overview["schoolUnits"], year=year),
                     [_figure_table(words["caption"].format(previous=year - 1), words["district"], rows, lang_)], [heat, city_trend])


async def district_document(conn: asyncpg.Connection, year: int, scope: list[UUID], lang_: Language) -> str:
    """A district's report (or a few districts' side by side): each district's figure per heading with the change since the
    year before, its schools by name with their levels, the schools' heat map and the district's trend. The same figures and
    suppression as the district overview."""
    words = ANNUAL[lang_]
    names = await views.district_names(conn, scope, lang_)
    schools = await cache.school_levels(conn, year, scope)
    last_year = await cache.school_levels(conn, year - 1, scope)
    figures = domain.rollups(schools, lambda s: s.district, domain.HEADINGS)
    before = domain.rollups(last_year, lambda s: s.district, domain.HEADINGS)
    rows = [(name, {h: views.with_change(f, before.get(str(d), {}).get(h)) for h, f in figures.get(str(d), {}).items()})
            for d, name in zip(scope, names, strict=True)]
    districts = ", ".join(names)
    heat = views.schools_heatmap(schools, word("heatmap_schools_title", lang_).format(year=year, districts=districts), lang_)
    trend = await _trend(conn, year, scope, words["district_trend_title"], lang_)
    return _document(lang_, words["district_title"].format(year=year, districts=districts),
                     words["district_heading"].format(year=year, districts=districts),
                     words["submitted"].format(submitted=sum(1 for s in schools if s.levels), schools=len(schools), year=year),
                     [_figure_table(words["district_caption"].format(previous=year - 1), words["district"], rows, lang_),
                      _schools_table(schools, words["schools_caption"], words["school"], lang_)], [heat, trend])


async def _trend(conn: asyncpg.Connection, year: int, scope: list[UUID] | None, title: str, lang_: Language) -> str:
    titles = heading_titles(lang_)
    trend_years = await store.years_with_submissions(conn, scope)
    trend_values = {y: await cache.school_levels(conn, y, scope) for y in trend_years if y <= year}
    return charts.trend(sorted(trend_values) or [year],
                        [(titles[h], {y: suppression.rollup([s.levels.get(h) for s in schools]).value for y, schools in trend_values.items()})
                         for h in domain.HEADINGS], title=title, y_label=word("level", lang_), lang=lang_)


def _head(first: str, lang_: Language) -> str:
    titles = heading_titles(lang_)
    return f"<thead><tr><th scope='col'>{html.escape(first)}</th>" + "".join(
        f"<th scope='col'>{html.escape(titles[h])}</th>" for h in domain.HEADINGS) + "</tr></thead>"


def _figure_table(caption: str, first: str, rows: list[tuple[str, dict[str, Any]]], lang_: Language) -> str:
    body = "".join(
        f"<tr><th scope='row'>{html.escape(name)}</th>"
        + "".join(f"<td>{_text(figs.get(h, {}), lang_)} <small>({_change(figs.get(h, {}), lang_)})</small></td>" for h in domain.HEADINGS) + "</tr>"
        for name, figs in rows
    )
    return f"<table><caption>{html.escape(caption)}</caption>{_head(first, lang_)}<tbody>{body}</tbody></table>"


def _schools_table(schools: list[domain.SchoolLevels], caption: str, first: str, lang_: Language) -> str:
    body = "".join(
        f"<tr><th scope='row'>{html.escape(s.name or s.id)}</th>"
        + "".join(f"<td>{html.escape(str(level) if (level := s.levels.get(h)) is not None else '.')}</td>" for h in domain.HEADINGS) + "</tr>"
        for s in schools
    )
    return f"<table><caption>{html.escape(caption)}</caption>{_head(first, lang_)}<tbody>{body}</tbody></table>"


def _document(lang_: Language, title: str, heading: str, submitted: str, tables: list[str], figures: list[str]) -> str:
    words = ANNUAL[lang_]
    notes = "".join(f"<li>{html.escape(text)}</li>" for text in METHOD[lang_].values())
    return f"""<!doctype html>
<html lang="{lang_}"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{html.escape(heading)}</h1>
<p class="note">{html.escape(submitted)}</p>
{"".join(f"<section>{t}</section>" for t in tables)}
{"".join(f"<section><figure>{f}</figure></section>" for f in figures)}
<section><h2>{html.escape(words['method'])}</h2><ul class="note">{notes}<li>{html.escape(words['marks'])}</li></ul></section>
</body></html>"""


@router.post("/annual-report/{year}/publish", summary="Announce the year's report to each district (ReportPublished), once",
             response_model=Publication, responses=documented(401, 403, 409))
async def publish(request: Request, year: Year, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))]) -> dict[str, Any]:
    try:
        async with unit_of_work(request.app.state.pool, SOURCE) as uow:
            return await usecases.publish_annual_report(uow, year, caller.subject)
    except usecases.NothingToPublish as exc:
        raise Problem(409, "Conflict", str(exc)) from exc
