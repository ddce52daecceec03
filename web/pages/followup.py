"""Rounds and follow-up for district and city administrators: open and close the annual self-assessment rounds, see
where each school stands, and follow the district's or city's levels per heading (overview, heat map, trends, similar
schools, CSV exports, the annual report). Everything comes from the assessment and reporting services' APIs."""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web import i18n
from web.api import Api, ApiProblem
from web.rendering import markup, render
from web.security import fields, posted_form
from web.session import kept_form, sealer, set_cookie
from web.tasks import Task, provides

router = APIRouter()
ADMINS = frozenset({"district_admin", "city_admin"})
DRAFT_COOKIE = "skolit_followup_round"
UUID_RE = re.compile(r"^[0-9a-fA-F-]{36}$")


def _today() -> date:
    return datetime.now(i18n.STOCKHOLM).date()


def _roles(request: Request) -> set[str]:
    me = getattr(request.state, "me", None) or {}
    return set(me.get("roles", []))


def _is_city(request: Request) -> bool:
    return "city_admin" in _roles(request)


def _my_districts(request: Request) -> list[dict[str, Any]]:
    me = getattr(request.state, "me", None) or {}
    return [d for d in me.get("districts", []) if d.get("id")]


def _year(value: str | None) -> int:
    try:
        year = int(value or "")
    except ValueError:
        return _today().year
    return year if 2000 <= year <= 2100 else _today().year


def _uuid(value: str | None) -> str | None:
    return value if value and UUID_RE.match(value) else None


def _id(value: str) -> str:
    """An id from the path: not one at all is a page that does not exist (404), not a bad request."""
    if _uuid(value) is None:
        raise ApiProblem("web", 404, {"title": "Not found"})
    return value


# ---- rounds -------------------------------------------------------------------------------------------------------

async def _rounds_with_progress(api: Api) -> list[dict[str, Any]]:
    page = await api.get("assessment", "/campaigns", limit=50)
    items: list[dict[str, Any]] = page.get("items", [])
    detailed = await asyncio.gather(*(api.get("assessment", f"/campaigns/{c['id']}") for c in items[:25]), return_exceptions=True)
    for c, d in zip(items, detailed, strict=False):
        if isinstance(d, dict):
            c["progress"] = d.get("progress")
    return items


@router.get("/rounds")
async def rounds(request: Request) -> Response:
    items = await _rounds_with_progress(Api(request))
    return render(request, "followup/rounds.html", rounds=items)


async def _choices(api: Api) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The school units the person may open a round for, by district, and the published framework versions."""
    schools, frameworks = await asyncio.gather(api.all_pages("assessment", "/school-units"), api.get("assessment", "/frameworks"))
    schools = sorted(schools, key=lambda s: ((s.get("district") or {}).get("name") or "~", s.get("name") or ""))
    return schools, list(frameworks.get("items", []))


def _districts_of(schools: list[dict[str, Any]]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for s in schools:
        d = s.get("district") or {}
        if d.get("id"):
            seen.setdefault(str(d["id"]), d.get("name") or "")
    return sorted(seen.items(), key=lambda kv: kv[1])


def _new_round_page(request: Request, schools: list[dict[str, Any]], frameworks: list[dict[str, Any]], values: dict[str, Any],
                    errors: dict[str, str] | None = None, kept: bool = False, status: int = 200) -> Response:
    return render(request, "followup/new_round.html", status=status, schools=schools, frameworks=frameworks,
                  districts=_districts_of(schools), values=values, errors=errors or {}, kept=kept)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@router.get("/rounds/new")
async def new_round(request: Request) -> Response:
    schools, frameworks = await _choices(Api(request))
    kept = kept_form(request, request.url.path)
    values: dict[str, Any] = {"year": str(_today().year)}
    draft = sealer(request).open(DRAFT_COOKIE, request.cookies.get(DRAFT_COOKIE), max_age=3600)
    if kept:
        values = {}
        for k, v in kept:
            if k in ("districts", "schools"):
                values.setdefault(k, []).append(v)
            else:
                values[k] = v
    elif draft and request.query_params.get("change"):
        values = draft
    return _new_round_page(request, schools, frameworks, values, kept=bool(kept))


def _check_round(request: Request, values: dict[str, Any], schools: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, str]]:
    t = lambda key: i18n.translate(request.state.lang, key)  # noqa: E731
    errors: dict[str, str] = {}
    name = str(values.get("name") or "").strip()
    if not name:
        errors["name"] = t("followup.new.error_name")
    elif len(name) > 200:
        errors["name"] = t("followup.new.error_name_long")
    year_text = str(values.get("year") or "").strip()
    year = int(year_text) if year_text.isdigit() else 0
    if not 2000 <= year <= 2100:
        errors["year"] = t("followup.new.error_year")
    deadline_text = str(values.get("deadline") or "").strip()
    deadline: date | None = None
    try:
        deadline = date.fromisoformat(deadline_text)
    except ValueError:
        errors["deadline"] = t("followup.new.error_deadline")
    if deadline is not None and deadline < _today():
        errors["deadline"] = t("followup.new.error_deadline_past")
    districts = set(_as_list(values.get("districts")))
    chosen = set(_as_list(values.get("schools")))
    units = [str(s["id"]) for s in schools if str(s["id"]) in chosen or str((s.get("district") or {}).get("id")) in districts]
    if not units:
        errors["schools"] = t("followup.new.error_schools")
    framework = str(values.get("framework") or "")
    draft = {"name": name, "year": year_text, "deadline": deadline_text, "framework": framework,
             "districts": sorted(districts), "schools": sorted(chosen), "units": units}
    return draft, errors


@router.post("/rounds/new")
async def new_round_posted(request: Request, form: FormData = Depends(posted_form)) -> Response:
    values = fields(form)
    schools, frameworks = await _choices(Api(request))
    draft, errors = _check_round(request, values, schools)
    if errors:
        return _new_round_page(request, schools, frameworks, values, errors, status=422)
    response = RedirectResponse("/rounds/new/check", status_code=303)
    set_cookie(request, response, DRAFT_COOKIE, sealer(request).seal(DRAFT_COOKIE, draft), max_age=3600)
    return response


def _draft(request: Request) -> dict[str, Any] | None:
    return sealer(request).open(DRAFT_COOKIE, request.cookies.get(DRAFT_COOKIE), max_age=3600)


async def _check_page(request: Request, draft: dict[str, Any], errors: dict[str, str] | None = None, status: int = 200) -> Response:
    schools, frameworks = await _choices(Api(request))
    wanted = set(draft.get("units", []))
    chosen = [s for s in schools if str(s["id"]) in wanted]
    framework = next((f for f in frameworks if str(f["version"]) == str(draft.get("framework"))), None)
    return render(request, "followup/check_round.html", status=status, draft=draft, chosen=chosen, framework=framework, errors=errors or {})


@router.get("/rounds/new/check")
async def check_round(request: Request) -> Response:
    draft = _draft(request)
    if draft is None:
        return RedirectResponse("/rounds/new", status_code=303)
    return await _check_page(request, draft)


@router.post("/rounds/new/check")
async def open_round(request: Request, form: FormData = Depends(posted_form)) -> Response:
    draft = _draft(request)
    if draft is None:
        return RedirectResponse("/rounds/new", status_code=303)
    body: dict[str, Any] = {"name": draft["name"], "year": int(draft["year"]), "deadline": draft["deadline"], "schoolUnitIds": draft["units"]}
    if str(draft.get("framework") or "").isdigit():
        body["frameworkVersion"] = int(draft["framework"])
    try:
        opened = await Api(request).post("assessment", "/campaigns", body)
    except ApiProblem as exc:
        if exc.status not in (409, 422):
            raise
        found = exc.field_errors() or {"round": exc.detail}
        errors = {("schools" if k == "schoolUnitIds" else "framework" if k == "frameworkVersion" else k): v for k, v in found.items()}
        return await _check_page(request, draft, errors, status=422)
    response = RedirectResponse(f"/rounds/{opened['id']}/opened", status_code=303)
    response.delete_cookie(DRAFT_COOKIE, path="/")
    return response


@router.get("/rounds/{campaign_id}/opened")
async def round_opened(request: Request, campaign_id: str) -> Response:
    campaign = await Api(request).get("assessment", f"/campaigns/{_id(campaign_id)}")
    return render(request, "followup/opened.html", campaign=campaign)


def _district_names(schools: list[dict[str, Any]]) -> dict[str, str]:
    return {k: v for k, v in _districts_of(schools)}


async def _round_page(request: Request, campaign_id: str, **extra: Any) -> Response:
    api = Api(request)
    cid = _id(campaign_id)
    campaign, standings, schools = await asyncio.gather(
        api.get("assessment", f"/campaigns/{cid}"), api.all_pages("assessment", f"/campaigns/{cid}/assessments"),
        api.all_pages("assessment", "/school-units"))
    names = _district_names(schools)
    district = _uuid(request.query_params.get("district"))
    districts = sorted({str(s["districtId"]) for s in standings if s.get("districtId")}, key=lambda d: names.get(d, d))
    shown = [s for s in standings if district is None or str(s.get("districtId")) == district]
    return render(request, "followup/round.html", campaign=campaign, standings=shown, district_names=names, districts=districts,
                  district=district, may_reopen="district_admin" in _roles(request) and campaign.get("status") == "open",
                  closed=request.query_params.get("closed") == "1", reopened=request.query_params.get("reopened"), **extra)


@router.get("/rounds/{campaign_id}")
async def round_progress(request: Request, campaign_id: str) -> Response:
    return await _round_page(request, campaign_id)


@router.get("/rounds/{campaign_id}/close")
async def close_round_page(request: Request, campaign_id: str) -> Response:
    campaign = await Api(request).get("assessment", f"/campaigns/{_id(campaign_id)}")
    return render(request, "followup/close.html", campaign=campaign)


@router.post("/rounds/{campaign_id}/close")
async def close_round(request: Request, campaign_id: str, form: FormData = Depends(posted_form)) -> Response:
    api = Api(request)
    try:
        await api.post("assessment", f"/campaigns/{_id(campaign_id)}/close")
    except ApiProblem as exc:
        if exc.status != 409:
            raise
        campaign = await api.get("assessment", f"/campaigns/{quote(campaign_id)}")
        return render(request, "followup/close.html", status=409, campaign=campaign, errors={"confirm": exc.detail})
    return RedirectResponse(f"/rounds/{campaign_id}?closed=1", status_code=303)


async def _standing(api: Api, campaign_id: str, assessment_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    cid = _id(campaign_id)
    campaign, standings = await asyncio.gather(api.get("assessment", f"/campaigns/{cid}"),
                                               api.all_pages("assessment", f"/campaigns/{cid}/assessments"))
    standing = next((s for s in standings if str(s["assessmentId"]) == assessment_id), None)
    if standing is None:
        raise ApiProblem("assessment", 404, {"title": "Not found"})
    return campaign, standing


@router.get("/rounds/{campaign_id}/reopen/{assessment_id}")
async def reopen_page(request: Request, campaign_id: str, assessment_id: str) -> Response:
    campaign, standing = await _standing(Api(request), campaign_id, assessment_id)
    kept = kept_form(request, request.url.path)
    return render(request, "followup/reopen.html", campaign=campaign, standing=standing, values=dict(kept or []), kept=bool(kept))


@router.post("/rounds/{campaign_id}/reopen/{assessment_id}")
async def reopen(request: Request, campaign_id: str, assessment_id: str, form: FormData = Depends(posted_form)) -> Response:
    api = Api(request)
    values = fields(form)
    t = lambda key: i18n.translate(request.state.lang, key)  # noqa: E731
    errors: dict[str, str] = {}
    reason = str(values.get("reason") or "").strip()
    if len(reason) < 3:
        errors["reason"] = t("followup.reopen.error_reason")
    deadline = str(values.get("deadline") or "").strip()
    if deadline:
        try:
            date.fromisoformat(deadline)
        except ValueError:
            errors["deadline"] = t("followup.reopen.error_deadline")
    if not errors:
        try:
            await api.post("assessment", f"/assessments/{_id(assessment_id)}/reopen", {"reason": reason, "deadline": deadline or None})
        except ApiProblem as exc:
            if exc.status not in (409, 422):
                raise
            errors = exc.field_errors() or {"reason": exc.detail}
        else:
            return RedirectResponse(f"/rounds/{campaign_id}?reopened={quote(assessment_id)}", status_code=303)
    campaign, standing = await _standing(api, campaign_id, assessment_id)
    return render(request, "followup/reopen.html", status=422, campaign=campaign, standing=standing, values=values, errors=errors, kept=False)


# ---- overviews ----------------------------------------------------------------------------------------------------

def _figure_headings(overview: dict[str, Any]) -> list[dict[str, Any]]:
    return list(overview.get("headings", []))


@router.get("/overview")
async def overview(request: Request, year: str | None = None) -> Response:
    chosen = _year(year)
    if not _is_city(request):
        mine = _my_districts(request)
        if len(mine) == 1:
            return await _district_page(request, str(mine[0]["id"]), chosen)
        return render(request, "followup/pick_district.html", districts=mine, year=chosen)
    city = await Api(request).get("reporting", "/overview", year=chosen)
    return render(request, "followup/city.html", city=city, year=chosen)


@router.get("/districts/{district_id}/overview")
async def district_overview(request: Request, district_id: str, year: str | None = None) -> Response:
    return await _district_page(request, district_id, _year(year))


async def _district_page(request: Request, district_id: str, year: int) -> Response:
    district = await Api(request).get("reporting", f"/districts/{_id(district_id)}/overview", year=year)
    return render(request, "followup/district.html", district=district, year=year, city=_is_city(request))


def _sort_rows(rows: list[dict[str, Any]], sort: str, headings: list[str]) -> list[dict[str, Any]]:
    if sort in headings:
        return sorted(rows, key=lambda r: (r["cells"].get(sort) is None, -(r["cells"].get(sort) or 0), r["name"]))
    return sorted(rows, key=lambda r: r["name"])


@router.get("/overview/heatmap")
async def heatmap(request: Request, year: str | None = None, district: str | None = None, sort: str = "name") -> Response:
    chosen = _year(year)
    api = Api(request)
    district_id = _uuid(district)
    if district_id is None and not _is_city(request):
        mine = _my_districts(request)
        district_id = str(mine[0]["id"]) if mine else None
    rows: list[dict[str, Any]] = []
    if district_id is None:
        city = await api.get("reporting", "/overview", year=chosen)
        headings = [(h["code"], h["label"]) for h in city.get("headings", [])]
        for d in city.get("districts", []):
            figs = d.get("headings", {})
            rows.append({"name": d.get("displayName") or "", "href": f"/overview/heatmap?year={chosen}&district={d['id']}",
                         "cells": {h: (figs.get(h) or {}).get("value") for h, _ in headings},
                         "status": {h: (figs.get(h) or {}).get("status") for h, _ in headings}})
        title_name = None
    else:
        data = await api.get("reporting", f"/districts/{quote(district_id)}/overview", year=chosen)
        headings = [(h["id"], h["title"]) for h in data.get("headings", [])] or []
        if not headings:
            trends = await api.get("reporting", f"/districts/{quote(district_id)}/trends")
            headings = [(h["code"], h["label"]) for h in trends.get("headings", [])]
        for s in data.get("schools", []):
            ref = s.get("schoolUnit") or {}
            levels = s.get("levels", {})
            rows.append({"name": ref.get("name") or "", "href": f"/school-units/{ref.get('id')}/similar?year={chosen}" if s.get("submitted") else None,
                         "cells": {h: levels.get(h) for h, _ in headings}, "status": {}})
        title_name = data.get("displayName")
    rows = _sort_rows(rows, sort, [h for h, _ in headings])
    return render(request, "followup/heatmap.html", rows=rows, headings=headings, year=chosen, district=district_id, sort=sort,
                  title_name=title_name, by_district=district_id is None)


@router.get("/overview/trends")
async def trends(request: Request, district: str | None = None) -> Response:
    api = Api(request)
    district_id = _uuid(district)
    if district_id is None and not _is_city(request):
        mine = _my_districts(request)
        district_id = str(mine[0]["id"]) if mine else None
    data = await (api.get("reporting", f"/districts/{quote(district_id)}/trends") if district_id else api.get("reporting", "/trends"))
    names = {str(d["id"]): d.get("name") or "" for d in _my_districts(request)}
    return render(request, "followup/trends.html", data=data, district=district_id, district_name=names.get(district_id or ""))


@router.get("/school-units/{school_unit_id}/similar")
async def similar(request: Request, school_unit_id: str, year: str | None = None) -> Response:
    data = await Api(request).get("reporting", f"/school-units/{_id(school_unit_id)}/similar", year=_year(year) if year else None)
    return render(request, "followup/similar.html", data=data)


# ---- exports ------------------------------------------------------------------------------------------------------

def _export_targets(request: Request) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []
    if _is_city(request):
        targets.append({"key": "city", "href": "/exports/city.csv"})
        targets.append({"key": "city_trends", "href": "/exports/trends.csv"})
    for d in _my_districts(request):
        targets.append({"key": "district", "name": d.get("name") or "", "href": f"/exports/districts/{d['id']}.csv"})
        targets.append({"key": "district_trends", "name": d.get("name") or "", "href": f"/exports/districts/{d['id']}/trends.csv"})
    return targets


@router.get("/exports")
async def exports(request: Request, year: str | None = None) -> Response:
    chosen = _year(year)
    return render(request, "followup/exports.html", targets=_export_targets(request), year=chosen, excel=request.query_params.get("excel") == "1")


async def _csv(request: Request, path: str, filename: str, **params: Any) -> Response:
    """The service's CSV as a download (``?csv=excel-sv``: the Swedish Excel dialect)."""
    params = {"format": "csv", **params}
    if request.query_params.get("csv") == "excel-sv":
        params["csv"] = "excel-sv"
    return await Api(request).download("reporting", path, filename, params=params)


@router.get("/exports/city.csv")
async def export_city(request: Request, year: str | None = None) -> Response:
    chosen = _year(year)
    return await _csv(request, "/overview", f"skolit-stad-{chosen}.csv", year=chosen)


@router.get("/exports/trends.csv")
async def export_city_trends(request: Request) -> Response:
    return await _csv(request, "/trends", "skolit-stad-utveckling.csv")


@router.get("/exports/districts/{district_id}.csv")
async def export_district(request: Request, district_id: str, year: str | None = None) -> Response:
    chosen = _year(year)
    district = _uuid(district_id)
    if district is None:
        raise ApiProblem("reporting", 404, {"title": "Not found"})
    return await _csv(request, f"/districts/{district}/overview", f"skolit-omrade-{chosen}.csv", year=chosen)


@router.get("/exports/districts/{district_id}/trends.csv")
async def export_district_trends(request: Request, district_id: str) -> Response:
    district = _uuid(district_id)
    if district is None:
        raise ApiProblem("reporting", 404, {"title": "Not found"})
    return await _csv(request, f"/districts/{district}/trends", "skolit-omrade-utveckling.csv")


# ---- the annual report ----------------------------------------------------------------------------------------------

_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.S | re.I)
_STYLE = re.compile(r"<style[^>]*>.*?</style>", re.S | re.I)
_H = re.compile(r"<(/?)h([1-5])([ >])", re.I)


def _embed(document: str) -> str:
    """The service's report document (escaped there) as a part of this page: its body, headings one level down."""
    found = _BODY.search(document)
    inner = _STYLE.sub("", found.group(1) if found else document)
    return _H.sub(lambda m: f"<{m.group(1)}h{int(m.group(2)) + 1}{m.group(3)}", inner)


@router.get("/annual-report/{year}")
async def annual_report(request: Request, year: int, district: str | None = None) -> Response:
    district_id = _uuid(district)
    api = Api(request)
    report = api.call("GET", "reporting", f"/annual-report/{year}", params={"districtId": district_id}, raw=True)
    if _is_city(request):
        answer, city = await asyncio.gather(report, api.get("reporting", "/overview", year=year))
        districts = [{"id": d["id"], "name": d.get("displayName") or ""} for d in city.get("districts", []) if d.get("id")]
    else:
        answer, districts = await report, []
    link = sealer(request).open("followup_link", request.cookies.get("skolit_followup_link"), max_age=3600)
    return render(request, "followup/annual.html", year=year, report=markup(_embed(answer.text)), district=district_id,
                  districts=districts, link=link if link and link.get("year") == year else None)


@router.post("/annual-report/{year}")
async def annual_report_link(request: Request, year: int, form: FormData = Depends(posted_form)) -> Response:
    values = fields(form)
    district_id = _uuid(str(values.get("district") or ""))
    body: dict[str, Any] = {"lang": request.state.lang}
    if district_id:
        body["districtId"] = district_id
    made = await Api(request).post("reporting", f"/annual-report/{year}/links", body)
    target = f"/annual-report/{year}" + (f"?district={district_id}" if district_id else "")
    response = RedirectResponse(target, status_code=303)
    set_cookie(request, response, "skolit_followup_link",
               sealer(request).seal("followup_link", {"year": year, "url": made["url"], "expiresAt": str(made["expiresAt"])}), max_age=3600)
    return response


# ---- the start page ------------------------------------------------------------------------------------------------

@provides("district_admin", "city_admin")
async def tasks(request: Request, me: dict[str, Any]) -> list[Task]:
    api = Api(request)
    page = await api.get("assessment", "/campaigns", limit=20)
    open_rounds = [c for c in page.get("items", []) if c.get("status") == "open"][:5]
    detailed = await asyncio.gather(*(api.get("assessment", f"/campaigns/{c['id']}") for c in open_rounds))
    lang = getattr(request.state, "lang", i18n.DEFAULT)
    found = []
    for c in detailed:
        progress = c.get("progress") or {}
        submitted, total = progress.get("submitted", 0), progress.get("schoolUnits", 0)
        found.append(Task("followup.task.round", f"/rounds/{c['id']}",
                          (("name", c["name"]), ("submitted", submitted), ("total", total), ("deadline", i18n.format_date(lang, c["deadline"]))),
                          hint="followup.task.round_hint", due=submitted < total))
    return found
