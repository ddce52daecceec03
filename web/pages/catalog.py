"""The programbank and requests for apps (the catalog service): search, an app's page with whether my school may use
it and its data protection in plain words, licences, the data-processing-agreement register, requesting an app
(form, check your answers, confirmation) and reviewing requests (queue, decision, check before deciding)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web.api import Api, ApiProblem, SignInAgain
from web.i18n import STOCKHOLM, translate
from web.rendering import render
from web.security import fields, posted_form
from web.session import current, kept_form, sealer, set_cookie
from web.tasks import Task, provides

router = APIRouter()

#: roles that review requests (the catalog service's REVIEWERS)
REVIEWERS = {"it_admin", "data_protection", "city_admin"}
REQUESTERS = {"teacher", "principal"}
#: who may give the school a licence with an approval (the service's LICENSERS)
LICENSERS = {"it_admin", "city_admin"}
OPEN_STATES = ("submitted", "acknowledged", "needs_info")
REVIEW_STATES = ("submitted", "acknowledged")
DECISIONS = ("acknowledge", "ask_info", "approve", "reject")
#: the actions a reviewer may take from each state (the service's transitions)
ALLOWED = {"submitted": DECISIONS, "acknowledged": ("ask_info", "approve", "reject"), "needs_info": ("approve", "reject")}
SOON_DAYS = 60
DRAFT_COOKIE = "skolit_catalog_draft"
DECISION_COOKIE = "skolit_catalog_decision"
FACETS = ("subject", "grade", "schoolType", "status")
PAGE = 20


def _roles(request: Request) -> set[str]:
    me = request.state.me or {}
    return set(me.get("roles", []))


def _my_id(request: Request) -> str | None:
    me = request.state.me or {}
    person = me.get("person") or {}
    return person.get("id")


def _my_schools(request: Request) -> list[dict[str, Any]]:
    me = request.state.me or {}
    return list(me.get("schoolUnits") or [])


def _uuid(value: str | None) -> str | None:
    try:
        return str(UUID(str(value))) if value else None
    except ValueError:
        return None


# --- search ----------------------------------------------------------------------------------------------------------

def _search_params(request: Request) -> dict[str, Any]:
    query = request.query_params
    chosen: dict[str, Any] = {"q": (query.get("q") or "").strip()[:200]}
    for name in FACETS:
        chosen[name] = [v for v in query.getlist(name) if v][:20]
    chosen["usable"] = "only" if query.get("usable") == "only" else ""
    return chosen


def _search_href(chosen: dict[str, Any], **changes: Any) -> str:
    merged = {**chosen, **changes}
    pairs: list[tuple[str, str]] = []
    for key, value in merged.items():
        for one in value if isinstance(value, list) else [value]:
            if one:
                pairs.append((key, str(one)))
    return "/apps" + ("?" + urlencode(pairs) if pairs else "")


@router.get("/apps")
async def search(request: Request) -> Response:
    chosen = _search_params(request)
    cursor = request.query_params.get("cursor") or None
    api = Api(request)
    params: dict[str, Any] = {"q": chosen["q"] or None, "limit": PAGE, "cursor": cursor, "facets": True,
                              "usable": chosen["usable"] or None}
    for name in FACETS:
        if chosen[name]:
            params[name] = chosen[name]
    try:
        found = await api.get("catalog", "/apps", **params)
    except ApiProblem as exc:
        if exc.status != 422:
            raise
        found = {"items": [], "next": None, "total": 0, "facets": None, "corrections": {}, "suggestion": None}
    next_href = _search_href(chosen, cursor=found["next"]) if found.get("next") else None
    suggestion_href = _search_href(chosen, q=found["suggestion"]) if found.get("suggestion") else None
    extra = {"found": found, "chosen": chosen, "next_href": next_href, "suggestion_href": suggestion_href,
             "more": bool(cursor), "reset_href": "/apps"}
    if request.headers.get("x-partial") == "results":
        return render(request, "catalog/_results.html", **extra)
    return render(request, "catalog/search.html", **extra)


# --- one app ---------------------------------------------------------------------------------------------------------

_VOCABULARY: dict[str, Any] = {}


async def _vocabulary(api: Api) -> dict[str, Any]:
    """The catalog's controlled lists (labels of grades, countries' safeguards …): the same for everyone, kept once."""
    if not _VOCABULARY:
        _VOCABULARY.update(await api.get("catalog", "/vocabulary"))
    return _VOCABULARY


def _label(vocabulary: dict[str, Any], kind: str, code: str, lang: str) -> str:
    entry = (vocabulary.get(kind) or {}).get(code)
    return str(entry.get(lang) or code) if isinstance(entry, dict) else code


@router.get("/apps/{app_id}")
async def app_page(request: Request, app_id: UUID) -> Response:
    api = Api(request)
    schools = _my_schools(request)
    school = schools[0]["id"] if len(schools) == 1 else None
    app, licences, vocabulary = await asyncio.gather(
        api.get("catalog", f"/apps/{app_id}", schoolUnitId=school),
        api.get("catalog", "/licences", appId=str(app_id), limit=100),
        _vocabulary(api),
    )
    lang = request.state.lang
    grades = [_label(vocabulary, "grades", g, lang) for g in app.get("grades", [])]
    safeguard = app["dataProtection"].get("transferSafeguard")
    active = [lic for lic in licences.get("items", []) if lic.get("active")]
    roles = _roles(request)
    return render(request, "catalog/app.html", app=app, dp=app["dataProtection"], grades=grades,
                  safeguard=_label(vocabulary, "transferSafeguards", safeguard, lang) if safeguard else None,
                  active_licences=active, may_request=bool(roles & REQUESTERS),
                  may_see_licences=bool(roles & {"it_admin", "city_admin"}))


@router.get("/apps/{app_id}/licences")
async def app_licences(request: Request, app_id: UUID) -> Response:
    api = Api(request)
    cursor = request.query_params.get("cursor") or None
    app, licences = await asyncio.gather(api.get("catalog", f"/apps/{app_id}"),
                                         api.get("catalog", "/licences", appId=str(app_id), limit=50, cursor=cursor))
    next_href = f"/apps/{app_id}/licences?" + urlencode({"cursor": licences["next"]}) if licences.get("next") else None
    return render(request, "catalog/app_licences.html", app=app, licences=licences["items"], next_href=next_href, soon=SOON_DAYS)


@router.get("/licences")
async def licences_page(request: Request) -> Response:
    cursor = request.query_params.get("cursor") or None
    licences = await Api(request).get("catalog", "/licences", limit=50, cursor=cursor)
    next_href = "/licences?" + urlencode({"cursor": licences["next"]}) if licences.get("next") else None
    return render(request, "catalog/licences.html", licences=licences["items"], next_href=next_href, soon=SOON_DAYS)


# --- the data-processing-agreement register --------------------------------------------------------------------------

def _days_left(expires: str | None, today: date) -> int | None:
    if not expires:
        return None
    try:
        return (date.fromisoformat(expires[:10]) - today).days
    except ValueError:
        return None


async def _agreements(api: Api) -> list[dict[str, Any]]:
    found = await api.get("catalog", "/apps", limit=500, facets=False)
    today = datetime.now(STOCKHOLM).date()
    rows = []
    for hit in found.get("items", []):
        if hit.get("dpaStatus") == "not_required":
            continue
        left = _days_left(hit.get("dpaExpires"), today)
        if hit.get("dpaStatus") == "expired" or (left is not None and left < 0):
            flag = "expired"
        elif hit.get("dpaStatus") in ("missing", "requested"):
            flag = "missing"
        elif left is not None and left <= SOON_DAYS:
            flag = "soon"
        else:
            flag = "ok"
        rows.append({**hit, "daysLeft": left, "flag": flag})
    order = {"expired": 0, "soon": 1, "missing": 2, "ok": 3}
    rows.sort(key=lambda r: (order[r["flag"]], r["daysLeft"] if r["daysLeft"] is not None else 10**6, r["name"]))
    return rows


@router.get("/dpa")
async def dpa_register(request: Request) -> Response:
    rows = await _agreements(Api(request))
    counts = {flag: sum(1 for r in rows if r["flag"] == flag) for flag in ("expired", "soon", "missing")}
    return render(request, "catalog/dpa.html", rows=rows, counts=counts, soon=SOON_DAYS)


# --- requesting an app -----------------------------------------------------------------------------------------------

def _draft(request: Request, cookie: str) -> dict[str, Any] | None:
    return sealer(request).open(cookie, request.cookies.get(cookie), max_age=3600)


def _keep(request: Request, response: Response, cookie: str, value: dict[str, Any]) -> None:
    set_cookie(request, response, cookie, sealer(request).seal(cookie, value), max_age=3600)


async def _app_name(api: Api, app_id: str | None) -> str | None:
    if not app_id:
        return None
    try:
        app = await api.get("catalog", f"/apps/{app_id}")
    except ApiProblem as exc:
        if exc.status == 404:
            return None
        raise
    return str(app["name"])


def _signed_in(request: Request) -> None:
    """Pages that may call no service before they show something still need someone signed in."""
    if current(request) is None or request.state.me is None:
        raise SignInAgain()


def _school_options(request: Request) -> list[tuple[str, str]]:
    return [(s["id"], s.get("name") or s.get("schoolUnitCode") or "") for s in _my_schools(request)]


@router.get("/requests/new")
async def new_request(request: Request) -> Response:
    _signed_in(request)
    kept = kept_form(request, request.url.path)
    values: dict[str, Any] = {}
    if kept:
        values = dict(kept)
    else:
        draft = _draft(request, DRAFT_COOKIE)
        if draft and (not request.query_params.get("app") or request.query_params.get("app") == draft.get("app")):
            values = dict(draft)
    app_id = _uuid(request.query_params.get("app")) or _uuid(values.get("app"))
    name = await _app_name(Api(request), app_id)
    values["app"] = app_id if name else ""
    schools = _school_options(request)
    if not values.get("school") and schools:
        values["school"] = schools[0][0]
    return render(request, "catalog/request_new.html", values=values, app_name=name, schools=schools, kept=bool(kept))


@router.post("/requests/new")
async def post_new_request(request: Request, form: FormData = Depends(posted_form)) -> Response:
    _signed_in(request)
    values = {k: v.strip() if isinstance(v, str) else v for k, v in fields(form).items()}
    api = Api(request)
    app_id = _uuid(values.get("app"))
    name = await _app_name(api, app_id)
    schools = _school_options(request)
    errors: dict[str, str] = {}
    if not app_id and not values.get("new_app_name"):
        errors["new_app_name"] = "catalog.request.error.app_name"
    if len(values.get("new_app_name") or "") > 200:
        errors["new_app_name"] = "catalog.request.error.too_long"
    if values.get("school") not in {s for s, _ in schools}:
        errors["school"] = "catalog.request.error.school"
    if not values.get("purpose"):
        errors["purpose"] = "catalog.request.error.purpose"
    elif len(values["purpose"]) > 4000:
        errors["purpose"] = "catalog.request.error.too_long"
    pupils = values.get("pupils") or ""
    if pupils and (not pupils.isdigit() or not 1 <= int(pupils) <= 100_000):
        errors["pupils"] = "catalog.request.error.pupils"
    if errors:
        return render(request, "catalog/request_new.html", status=422, values={**values, "app": app_id if name else ""}, app_name=name,
                      schools=schools, kept=False, errors={k: _t(request, v) for k, v in errors.items()})
    draft = {"app": app_id if name else "", "app_name": name or "", "new_app_name": "" if name else values.get("new_app_name", ""),
             "new_app_supplier": "" if name else values.get("new_app_supplier", "")[:200], "school": values["school"],
             "purpose": values["purpose"], "pupils": pupils}
    response = RedirectResponse("/requests/new/check", status_code=303)
    _keep(request, response, DRAFT_COOKIE, draft)
    return response


def _t(request: Request, key: str, **params: Any) -> str:
    return translate(request.state.lang, key, **params)


def _school_name(request: Request, school_id: str) -> str:
    return next((name for sid, name in _school_options(request) if sid == school_id), "")


@router.get("/requests/new/check")
async def check_request(request: Request) -> Response:
    _signed_in(request)
    draft = _draft(request, DRAFT_COOKIE)
    if not draft:
        return RedirectResponse("/requests/new", status_code=303)
    return render(request, "catalog/request_check.html", draft=draft, school_name=_school_name(request, draft["school"]), problem=None)


@router.post("/requests/new/check")
async def send_request(request: Request, form: FormData = Depends(posted_form)) -> Response:
    draft = _draft(request, DRAFT_COOKIE)
    if not draft:
        return RedirectResponse("/requests/new", status_code=303)
    body: dict[str, Any] = {"schoolUnitId": draft["school"], "purpose": draft["purpose"]}
    if draft.get("pupils"):
        body["pupils"] = int(draft["pupils"])
    if draft.get("app"):
        body["appId"] = draft["app"]
    else:
        body["newApp"] = {"name": draft["new_app_name"], "supplier": draft.get("new_app_supplier") or ""}
    try:
        made = await Api(request).post("catalog", "/requests", body)
    except ApiProblem as exc:
        if exc.status not in (409, 422):
            raise
        problem = "catalog.check.conflict" if exc.status == 409 else "catalog.check.invalid"
        return render(request, "catalog/request_check.html", status=exc.status, draft=draft, school_name=_school_name(request, draft["school"]),
                      problem=problem, detail=exc.detail)
    response = RedirectResponse(f"/requests/{made['id']}?sent=1", status_code=303)
    response.delete_cookie(DRAFT_COOKIE, path="/")
    return response


# --- my requests, the review queue, one request ----------------------------------------------------------------------

@router.get("/requests")
async def my_requests(request: Request) -> Response:
    cursor = request.query_params.get("cursor") or None
    found = await Api(request).get("catalog", "/requests", limit=50, cursor=cursor)
    next_href = "/requests?" + urlencode({"cursor": found["next"]}) if found.get("next") else None
    return render(request, "catalog/requests.html", items=found["items"], next_href=next_href, me_id=_my_id(request))


@router.get("/review")
async def review_queue(request: Request) -> Response:
    cursor = request.query_params.get("cursor") or None
    found = await Api(request).get("catalog", "/requests", state=list(OPEN_STATES), limit=50, cursor=cursor)
    items = sorted(found["items"], key=lambda r: (r.get("waitingForReviewSince") is None, r.get("waitingForReviewSince") or "", r["createdAt"]))
    next_href = "/review?" + urlencode({"cursor": found["next"]}) if found.get("next") else None
    waiting = sum(1 for r in items if r.get("waitingForReviewSince"))
    return render(request, "catalog/review.html", items=items, next_href=next_href, waiting=waiting)


def _may_decide(request: Request, item: dict[str, Any]) -> bool:
    return bool(_roles(request) & REVIEWERS) and item["state"] in ALLOWED


def _is_requester(request: Request, item: dict[str, Any]) -> bool:
    requester = item.get("requester") or {}
    return bool(requester.get("id")) and requester.get("id") == _my_id(request)


async def _show_request(request: Request, request_id: UUID, status: int = 200, **extra: Any) -> Response:
    item = await Api(request).get("catalog", f"/requests/{request_id}")
    sent = request.query_params.get("sent") == "1"
    done = request.query_params.get("done")
    context: dict[str, Any] = {"item": item, "may_decide": _may_decide(request, item), "may_license": bool(_roles(request) & LICENSERS),
                               "may_answer": _is_requester(request, item) and item["state"] == "needs_info",
                               "allowed": ALLOWED.get(item["state"], ()), "sent": sent,
                               "done": done if done in (*DECISIONS, "provide_info") else None, "values": {}, "errors": {}}
    context.update(extra)
    return render(request, "catalog/request.html", status=status, **context)


@router.get("/requests/{request_id}")
async def request_page(request: Request, request_id: UUID) -> Response:
    kept = kept_form(request, request.url.path)
    if kept:
        return await _show_request(request, request_id, values=dict(kept), kept=True)
    return await _show_request(request, request_id, kept=False)


@router.post("/requests/{request_id}")
async def post_request(request: Request, request_id: UUID, form: FormData = Depends(posted_form)) -> Response:
    values = {k: v.strip() if isinstance(v, str) else v for k, v in fields(form).items()}
    api = Api(request)
    if values.get("form") == "answer":
        if not values.get("answer"):
            return await _show_request(request, request_id, status=422, values=values, kept=False,
                                       errors={"answer": _t(request, "catalog.answer.error.empty")})
        try:
            await api.post("catalog", f"/requests/{request_id}/actions", {"action": "provide_info", "note": values["answer"][:4000]})
        except ApiProblem as exc:
            if exc.status not in (409, 422):
                raise
            return await _show_request(request, request_id, status=exc.status, values=values, kept=False,
                                       errors={"answer": _t(request, "catalog.answer.error.refused")})
        return RedirectResponse(f"/requests/{request_id}?done=provide_info", status_code=303)
    item = await api.get("catalog", f"/requests/{request_id}")
    if not _may_decide(request, item):
        return RedirectResponse(f"/requests/{request_id}", status_code=303)
    action = values.get("action")
    errors: dict[str, str] = {}
    if action not in ALLOWED[item["state"]]:
        errors["action"] = _t(request, "catalog.decide.error.action")
    elif action in ("ask_info", "reject") and not values.get("note"):
        errors["note"] = _t(request, f"catalog.decide.error.note_{action}")
    if len(values.get("note") or "") > 4000 or len(values.get("conditions") or "") > 4000:
        errors.setdefault("note", _t(request, "catalog.request.error.too_long"))
    expires = values.get("licence_expires") or ""
    if action == "approve" and expires:
        try:
            ok = date.fromisoformat(expires) > datetime.now(STOCKHOLM).date()
        except ValueError:
            ok = False
        if not ok or not _roles(request) & LICENSERS:
            errors["licence_expires"] = _t(request, "catalog.decide.error.licence_expires")
    if errors:
        return await _show_request(request, request_id, status=422, values=values, kept=False, errors=errors)
    response = RedirectResponse(f"/requests/{request_id}/check", status_code=303)
    _keep(request, response, DECISION_COOKIE, {"id": str(request_id), "action": action, "note": values.get("note") or "",
                                               "conditions": values.get("conditions") or "" if action == "approve" else "",
                                               "licence_expires": expires if action == "approve" else ""})
    return response


def _decision(request: Request, request_id: UUID) -> dict[str, Any] | None:
    decision = _draft(request, DECISION_COOKIE)
    return decision if decision and decision.get("id") == str(request_id) else None


@router.get("/requests/{request_id}/check")
async def check_decision(request: Request, request_id: UUID) -> Response:
    decision = _decision(request, request_id)
    if decision is None:
        return RedirectResponse(f"/requests/{request_id}", status_code=303)
    item = await Api(request).get("catalog", f"/requests/{request_id}")
    return render(request, "catalog/decision_check.html", item=item, decision=decision, problem=None, blockers=[])


@router.post("/requests/{request_id}/check")
async def send_decision(request: Request, request_id: UUID, form: FormData = Depends(posted_form)) -> Response:
    decision = _decision(request, request_id)
    if decision is None:
        return RedirectResponse(f"/requests/{request_id}", status_code=303)
    body: dict[str, Any] = {"action": decision["action"], "note": decision["note"] or None, "conditions": decision["conditions"] or None}
    if decision.get("licence_expires"):
        body["licence"] = {"type": "school", "starts": datetime.now(STOCKHOLM).date().isoformat(), "expires": decision["licence_expires"],
                           "note": ""}
    api = Api(request)
    try:
        await api.post("catalog", f"/requests/{request_id}/actions", body)
    except ApiProblem as exc:
        if exc.status not in (409, 422):
            raise
        item = await api.get("catalog", f"/requests/{request_id}")
        blockers = [str(b.get("text") or b.get("code")) for b in exc.problem.get("blockers") or [] if isinstance(b, dict)]
        return render(request, "catalog/decision_check.html", status=exc.status, item=item, decision=decision,
                      problem="catalog.check.blocked" if blockers else "catalog.check.refused", blockers=blockers, detail=exc.detail)
    response = RedirectResponse(f"/requests/{request_id}?done={decision['action']}", status_code=303)
    response.delete_cookie(DECISION_COOKIE, path="/")
    return response


# --- the start page --------------------------------------------------------------------------------------------------

@provides("teacher", "principal")
async def requester_tasks(request: Request, me: dict[str, Any]) -> list[Task]:
    found = await Api(request).get("catalog", "/requests", state="needs_info", limit=200)
    mine = (me.get("person") or {}).get("id")
    waiting = [r for r in found.get("items", []) if (r.get("requester") or {}).get("id") == mine]
    if not waiting:
        return []
    href = f"/requests/{waiting[0]['id']}" if len(waiting) == 1 else "/requests"
    return [Task("catalog.task.answer", href, (("count", len(waiting)),), hint="catalog.task.answer_hint", due=True)]


@provides("it_admin", "data_protection")
async def reviewer_tasks(request: Request, me: dict[str, Any]) -> list[Task]:
    api = Api(request)
    found, agreements = await asyncio.gather(api.get("catalog", "/requests", state=list(REVIEW_STATES), limit=200), _agreements(api))
    tasks = []
    count = len(found.get("items", []))
    if count:
        tasks.append(Task("catalog.task.review", "/review", (("count", count),), due=True))
    soon = sum(1 for row in agreements if row["flag"] == "soon")
    if soon:
        tasks.append(Task("catalog.task.dpa", "/dpa", (("count", soon), ("days", SOON_DAYS))))
    return tasks

