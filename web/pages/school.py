"""The school's own pages: its self-assessment report beside last year (with the radar and trend charts and their
figures as tables), its history over the years, and its action plan (add an action, follow one up).

Reporting gives the report and the charts (services/reporting/routes/school.py, charts.py); assessment gives the
history and the action plan (services/assessment/routes/history.py, actions.py). The charts are SVG the browser
cannot fetch itself (it has no token): the app fetches them for the person and serves them from its own routes.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import date
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web.api import Api, ApiProblem
from web.rendering import render
from web.security import fields, posted_form
from web.session import kept_form
from web.tasks import Task, provides

router = APIRouter()

STATUSES = ("planned", "in_progress", "done", "dropped")
OPEN = ("planned", "in_progress")
STATUS_TAG = {"planned": "blue", "in_progress": "yellow", "done": "green", "dropped": "grey"}
CHARTS = ("radar", "trend")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: framework versions change only with a release: their headings and level names are kept a while per language
FRAMEWORK_SECONDS = 600
_frameworks: dict[tuple[int | None, str], tuple[float, dict[str, Any]]] = {}


# --- shared pieces -------------------------------------------------------------------------------

async def framework(api: Api, lang: str, version: int | None = None) -> dict[str, Any]:
    """A framework version's headings and level names (the newest when ``version`` is None), cached a few minutes."""
    key = (version, lang)
    hit = _frameworks.get(key)
    if hit and time.monotonic() - hit[0] < FRAMEWORK_SECONDS:
        return hit[1]
    if version is None:
        versions = await api.get("assessment", "/frameworks", lang=lang)
        version = max((v["version"] for v in versions.get("items", [])), default=1)
    doc = await api.get("assessment", f"/frameworks/{version}", lang=lang)
    slim = {"version": doc["version"],
            "headings": [{"id": h["id"], "title": h["title"]} for h in doc.get("headings", [])],
            "levels": {s["level"]: s["label"] for s in doc.get("scale", {}).get("levels", [])}}
    if len(_frameworks) > 20:
        _frameworks.clear()
    _frameworks[key] = (time.monotonic(), slim)
    _frameworks[(slim["version"], lang)] = (time.monotonic(), slim)
    return slim


def my_schools(request: Request) -> list[dict[str, Any]]:
    me = getattr(request.state, "me", None) or {}
    return [s for s in me.get("schoolUnits", []) if s.get("id")]


def is_rektor_of(request: Request, school_unit_id: UUID) -> bool:
    me = getattr(request.state, "me", None) or {}
    return "principal" in me.get("roles", []) and any(s.get("id") == str(school_unit_id) for s in my_schools(request))


def change_word(change: float | None) -> str:
    """up, down or same: a change said in words (the tables never rely on a sign or a colour)."""
    if change is None:
        return "none"
    if change > 0:
        return "up"
    if change < 0:
        return "down"
    return "same"


def overdue(action: dict[str, Any], today: date | None = None) -> bool:
    deadline = action.get("deadline")
    if not deadline or action.get("status") not in OPEN:
        return False
    try:
        return date.fromisoformat(str(deadline)[:10]) < (today or date.today())
    except ValueError:
        return False


async def plan_actions(api: Api, school_unit_id: UUID, *, open_only: bool = False) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The school's action plan (open first, then by deadline, as the API orders it) and the school as it names it."""
    first = await api.get("assessment", f"/school-units/{school_unit_id}/action-plan", limit=200, status="open" if open_only else "all")
    items = list(first.get("items", []))
    cursor = first.get("next")
    while cursor and len(items) < 2000:
        page = await api.get("assessment", f"/school-units/{school_unit_id}/action-plan", limit=200, cursor=cursor,
                             status="open" if open_only else "all")
        items.extend(page.get("items", []))
        cursor = page.get("next")
    return first.get("schoolUnit"), items


def school_list_page(request: Request, schools: list[dict[str, Any]], suffix: str, title: str) -> Response:
    return render(request, "school/choose.html", schools=schools, suffix=suffix, title_key=title)


# --- the start page ------------------------------------------------------------------------------

@provides("principal", "teacher")
async def tasks(request: Request, me: dict[str, Any]) -> list[Task]:
    api = Api(request)
    schools = [s for s in me.get("schoolUnits", []) if s.get("id")][:5]
    principal = "principal" in me.get("roles", [])
    found: list[Task] = []
    plans = await asyncio.gather(*(plan_actions(api, UUID(s["id"]), open_only=True) for s in schools)) if principal else []
    for i, school in enumerate(schools):
        name = school.get("name") or ""
        if principal:
            late = sum(1 for a in plans[i][1] if overdue(a))
            if late:
                found.append(Task("school.task.overdue", f"/school-units/{school['id']}/action-plan", (("school", name), ("count", late)),
                                  hint="school.task.overdue_hint", due=True))
        found.append(Task("school.task.report", f"/school-units/{school['id']}", (("school", name),), hint="school.task.report_hint"))
    return found


# --- the report ----------------------------------------------------------------------------------

@router.get("/school-report")
async def school_report_menu(request: Request) -> Response:
    schools = my_schools(request)
    if len(schools) == 1:
        return RedirectResponse(f"/school-units/{schools[0]['id']}", status_code=303)
    return school_list_page(request, schools, "", "school.choose.report_title")


@router.get("/action-plan")
async def action_plan_menu(request: Request) -> Response:
    schools = my_schools(request)
    if len(schools) == 1:
        return RedirectResponse(f"/school-units/{schools[0]['id']}/action-plan", status_code=303)
    return school_list_page(request, schools, "/action-plan", "school.choose.plan_title")


async def _report_or_none(api: Api, school_unit_id: UUID) -> dict[str, Any] | None:
    try:
        report: dict[str, Any] = await api.get("reporting", f"/school-units/{school_unit_id}/report")
        return report
    except ApiProblem as exc:
        if exc.status == 404:
            return None
        raise


@router.get("/school-units/{school_unit_id}")
async def school_page(request: Request, school_unit_id: UUID) -> Response:
    api = Api(request)
    lang = request.state.lang
    unit, report = await asyncio.gather(api.get("assessment", f"/school-units/{school_unit_id}"), _report_or_none(api, school_unit_id))
    fw = await framework(api, lang, report["frameworkVersion"] if report else None)
    trend_rows: list[dict[str, Any]] = []
    has_median = False
    medians: dict[str, Any] = {}
    if report:
        medians = report.get("districtMedians") or {}
        has_median = any(v is not None for v in medians.values())
        titles = {h["id"]: h["title"] for h in report["headings"]}
        years = [t["year"] for t in report.get("trend", [])]
        trend_rows = [{"title": titles.get(code, code), "levels": [t["levels"].get(code) for t in report.get("trend", [])]}
                      for code in titles]
    else:
        years = []
    plan = report["actionPlan"] if report else None
    # the charts draw counting submissions only: while this year's is reopened for changes they have nothing to draw
    charts = report is not None and report["year"] in years
    return render(request, "school/report.html", unit=unit, report=report, levels=fw["levels"], trend_years=years, trend_rows=trend_rows,
                  has_median=has_median, medians=medians, plan=plan, charts=charts, change_word=change_word, rektor=is_rektor_of(request, school_unit_id))


@router.get("/school-units/{school_unit_id}/charts/{name}.svg")
async def chart(request: Request, school_unit_id: UUID, name: str) -> Response:
    if name not in CHARTS:
        return Response(status_code=404)
    answer = await Api(request).call("GET", "reporting", f"/school-units/{school_unit_id}/charts/{name}.svg", raw=True)
    return Response(answer.content, media_type="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=60", "Vary": "Cookie", "Content-Language": request.state.lang})


# --- history -------------------------------------------------------------------------------------

@router.get("/school-units/{school_unit_id}/history")
async def history(request: Request, school_unit_id: UUID) -> Response:
    api = Api(request)
    first = await api.get("assessment", f"/school-units/{school_unit_id}/assessments", limit=50, lang=request.state.lang)
    entries = list(first.get("items", []))
    entries.reverse()  # newest first on the page
    fw = await framework(api, request.state.lang, entries[0]["frameworkVersion"] if entries else None)
    shown = []
    for entry in entries:
        changes = {c["heading"]["code"]: c for c in ((entry.get("changes") or {}).get("headings") or [])}
        rows = [{"title": h["heading"]["label"], "level": h.get("level"), "mean": h.get("mean"),
                 "previous": changes.get(h["heading"]["code"], {}).get("previous"),
                 "change": changes.get(h["heading"]["code"], {}).get("change"),
                 "word": change_word(changes.get(h["heading"]["code"], {}).get("change")) if entry.get("changes") else "first"}
                for h in entry.get("headings", [])]
        shown.append({"entry": entry, "rows": rows})
    return render(request, "school/history.html", unit=first["schoolUnit"], entries=shown, levels=fw["levels"])


# --- the action plan -----------------------------------------------------------------------------

@router.get("/school-units/{school_unit_id}/action-plan")
async def action_plan(request: Request, school_unit_id: UUID, done: str | None = None) -> Response:
    api = Api(request)
    unit, actions = await plan_actions(api, school_unit_id)
    today = date.today()
    open_actions = [a | {"late": overdue(a, today)} for a in actions if a.get("status") in OPEN]
    closed = [a | {"late": False} for a in actions if a.get("status") not in OPEN]
    return render(request, "school/plan.html", unit=unit, open_actions=open_actions, closed=closed, status_tag=STATUS_TAG,
                  rektor=is_rektor_of(request, school_unit_id), done=done if done in ("added", "saved") else None)


def _prefill(request: Request, values: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    kept = kept_form(request, request.url.path)
    if not kept:
        return values, False
    return values | {k: v for k, v in kept}, True


def _new_action_errors(values: dict[str, Any], headings: list[str], t: Any) -> dict[str, str]:
    errors: dict[str, str] = {}
    if values.get("heading") not in headings:
        errors["heading"] = t("school.new.error.heading")
    if len(values.get("title", "")) < 3:
        errors["title"] = t("school.new.error.title")
    elif len(values["title"]) > 300:
        errors["title"] = t("school.new.error.title_long")
    if not values.get("owner"):
        errors["owner"] = t("school.new.error.owner")
    elif len(values["owner"]) > 200:
        errors["owner"] = t("school.new.error.owner_long")
    deadline = values.get("deadline", "")
    if deadline:
        try:
            if not _DAY.match(deadline):
                raise ValueError(deadline)
            day = date.fromisoformat(deadline)
            if day < date.today():
                errors["deadline"] = t("school.new.error.deadline_past")
        except ValueError:
            errors["deadline"] = t("school.new.error.deadline")
    if len(values.get("successCriterion", "")) < 3:
        errors["successCriterion"] = t("school.new.error.success")
    elif len(values["successCriterion"]) > 1000:
        errors["successCriterion"] = t("school.new.error.success_long")
    return errors


def _translator(request: Request) -> Any:
    from web import i18n

    lang = request.state.lang
    return lambda key, **params: i18n.translate(lang, key, **params)


async def _unit(api: Api, school_unit_id: UUID) -> dict[str, Any]:
    unit: dict[str, Any] = await api.get("assessment", f"/school-units/{school_unit_id}")
    return unit


@router.get("/school-units/{school_unit_id}/action-plan/new")
async def new_action(request: Request, school_unit_id: UUID) -> Response:
    api = Api(request)
    unit, fw = await asyncio.gather(_unit(api, school_unit_id), framework(api, request.state.lang))
    values, kept = _prefill(request, {})
    return render(request, "school/new_action.html", unit=unit, headings=[(h["id"], h["title"]) for h in fw["headings"]], values=values, kept=kept,
                  rektor=is_rektor_of(request, school_unit_id))


@router.post("/school-units/{school_unit_id}/action-plan/new")
async def add_action(request: Request, school_unit_id: UUID, form: FormData = Depends(posted_form)) -> Response:
    api = Api(request)
    values = {k: (v.strip() if isinstance(v, str) else v) for k, v in fields(form).items()}
    unit, fw = await asyncio.gather(_unit(api, school_unit_id), framework(api, request.state.lang))
    errors = _new_action_errors(values, [h["id"] for h in fw["headings"]], _translator(request))
    if not errors:
        body = {"heading": values["heading"], "title": values["title"], "owner": values["owner"], "deadline": values.get("deadline") or None,
                "successCriterion": values["successCriterion"]}
        try:
            await api.post("assessment", f"/school-units/{school_unit_id}/actions", body)
        except ApiProblem as exc:
            if exc.status not in (400, 409, 422):
                raise
            errors = {k: v for k, v in exc.field_errors().items() if k in body} or {"title": exc.detail}
        else:
            return RedirectResponse(f"/school-units/{school_unit_id}/action-plan?done=added", status_code=303)
    return render(request, "school/new_action.html", status=422, unit=unit, headings=[(h["id"], h["title"]) for h in fw["headings"]], values=values, errors=errors, kept=False,
                  rektor=is_rektor_of(request, school_unit_id))


async def _action(api: Api, school_unit_id: UUID, action_id: UUID) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    unit, actions = await plan_actions(api, school_unit_id)
    found = next((a for a in actions if a.get("id") == str(action_id)), None)
    if found is None:
        raise ApiProblem("assessment", 404, {"title": "Not found", "detail": f"action {action_id}"})
    return unit, found


@router.get("/school-units/{school_unit_id}/action-plan/{action_id}")
async def action_page(request: Request, school_unit_id: UUID, action_id: UUID) -> Response:
    unit, action = await _action(Api(request), school_unit_id, action_id)
    values, kept = _prefill(request, {"status": action["status"], "note": ""})
    return render(request, "school/action.html", unit=unit, action=action, values=values, kept=kept, statuses=STATUSES,
                  status_tag=STATUS_TAG, late=overdue(action), rektor=is_rektor_of(request, school_unit_id))


@router.post("/school-units/{school_unit_id}/action-plan/{action_id}")
async def change_action(request: Request, school_unit_id: UUID, action_id: UUID, form: FormData = Depends(posted_form)) -> Response:
    api = Api(request)
    t = _translator(request)
    values = {k: (v.strip() if isinstance(v, str) else v) for k, v in fields(form).items()}
    unit, action = await _action(api, school_unit_id, action_id)
    errors: dict[str, str] = {}
    status, note = values.get("status", ""), values.get("note", "")
    if status not in STATUSES:
        errors["status"] = t("school.action.error.status")
    elif status == action["status"] and not note:
        errors["note"] = t("school.action.error.nothing")
    if len(note) > 4000:
        errors["note"] = t("school.action.error.note_long")
    if not errors:
        body: dict[str, Any] = {}
        if status != action["status"]:
            body["status"] = status
        if note:
            body["note"] = note
        try:
            await api.patch("assessment", f"/actions/{action_id}", body)
        except ApiProblem as exc:
            if exc.status not in (400, 409, 422):
                raise
            errors = {k: v for k, v in exc.field_errors().items() if k in ("status", "note")} or {"note": exc.detail}
        else:
            return RedirectResponse(f"/school-units/{school_unit_id}/action-plan?done=saved", status_code=303)
    return render(request, "school/action.html", status=422, unit=unit, action=action, values=values, errors=errors, kept=False,
                  statuses=STATUSES, status_tag=STATUS_TAG, late=overdue(action), rektor=is_rektor_of(request, school_unit_id))
