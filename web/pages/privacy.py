"""Data protection, for the data-protection officer: erasure requests (art. 17 GDPR) and access requests
(registerutdrag, art. 15) with their progress in every service, and the access log of personal data.

Everything comes from the notification service, which coordinates both kinds of request (docs/decisions/0009,
0010): ``/privacy/erasure-requests``, ``/privacy/access-requests`` and ``/privacy/access-log``. An erasure cannot be
undone, so its answers are checked on a page of their own before it is sent; they wait there in a short-lived sealed
cookie (the app keeps nothing on the server). The export of an access request is fetched with the officer's token
and handed over as a download by this app: it never goes through the browser's address bar or storage.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web.api import Api, ApiProblem, SignInAgain
from web.i18n import catalogue, translate
from web.rendering import render as render_page
from web.security import fields, posted_form
from web.session import current, kept_form, sealer, set_cookie
from web.tasks import Task, provides

router = APIRouter()

#: the services that take part in every request, in the order the pages list them
SERVICES = ("assessment", "catalog", "reporting", "notification")
ERASURE_REASONS = ("no-longer-necessary", "objection", "unlawful-processing", "legal-obligation", "registered-in-error")
ACCESS_REASONS = ("data-subject-request", "guardian-request", "supervisory-authority", "internal-review")
#: the answers of a new erasure request, until they are checked and sent (half an hour)
DRAFT_COOKIE = "skolit_privacy_erasure"
DRAFT_SECONDS = 1800
LIST_LIMIT = 20
LOG_LIMIT = 50
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


def render(request: Request, template: str, status: int = 200, **extra: Any) -> Response:
    return render_page(request, template, status=status, erasure_reasons=ERASURE_REASONS, access_reasons=ACCESS_REASONS, **extra)


def _t(request: Request, key: str, **params: Any) -> str:
    return translate(request.state.lang, key, **params)


def _person_id(value: str) -> str | None:
    """A person id as typed (spaces, braces and capitals forgiven), or None when it is not one."""
    text = value.strip().strip("{}").strip()
    if not UUID_RE.match(text):
        return None
    return str(UUID(text))


def _confirmed(services: dict[str, Any]) -> int:
    return sum(1 for s in SERVICES if (services.get(s) or {}).get("status") == "confirmed")


def _erasure_view(item: dict[str, Any]) -> dict[str, Any]:
    services = item.get("services") or {}
    rows = []
    for name in SERVICES:
        part = services.get(name) or {"status": "pending"}
        counts = part.get("counts") or {}
        rows.append({"service": name, "status": part.get("status", "pending"), "erasedAt": part.get("erasedAt"),
                     "rows": sum(v for v in counts.values() if isinstance(v, int))})
    return {**item, "confirmed": _confirmed(services), "total": len(SERVICES), "rows": rows}


def _access_view(item: dict[str, Any]) -> dict[str, Any]:
    received = item.get("received") or []
    return {**item, "done": len([s for s in SERVICES if s in received]), "total": len(SERVICES),
            "rows": [{"service": s, "received": s in received} for s in SERVICES]}


# --- the menu ---------------------------------------------------------------------------------------


@router.get("/privacy")
async def overview(request: Request) -> Response:
    api = Api(request)
    access, erasures = await asyncio.gather(api.get("notification", "/privacy/access-requests", limit=LIST_LIMIT),
                                            api.get("notification", "/privacy/erasure-requests", limit=LIST_LIMIT))
    return render(request, "privacy/overview.html", access=[_access_view(i) for i in access.get("items", [])],
                  access_more=bool(access.get("next")), erasures=[_erasure_view(i) for i in erasures.get("items", [])],
                  erasures_more=bool(erasures.get("next")))


@provides("data_protection")
async def tasks(request: Request, me: dict[str, Any]) -> list[Task]:
    api = Api(request)
    access, erasures = await asyncio.gather(api.get("notification", "/privacy/access-requests", status="pending", limit=100),
                                            api.get("notification", "/privacy/erasure-requests", status="pending", limit=100))
    n_access, n_erasure = len(access.get("items", [])), len(erasures.get("items", []))
    found = [Task("privacy.task.overview", "/privacy", hint="privacy.task.overview_hint")]
    if n_access or n_erasure:
        found.insert(0, Task("privacy.task.in_progress", "/privacy", params=(("count", n_access + n_erasure), ("access", n_access),
                                                                              ("erasures", n_erasure)),
                             hint="privacy.task.in_progress_hint", due=False))
    return found


# --- erasure ----------------------------------------------------------------------------------------


def _erasure_form(request: Request, values: dict[str, Any], errors: dict[str, str] | None = None, *, status: int = 200,
                  kept: bool = False) -> Response:
    return render(request, "privacy/erasure_new.html", status=status, values=values, errors=errors or {}, kept=kept,
                  reasons=[(r, _t(request, f"privacy.erasure_reason.{r}"), _t(request, f"privacy.erasure_reason_hint.{r}"))
                           for r in ERASURE_REASONS])


def _check_erasure(request: Request, values: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    errors: dict[str, str] = {}
    person = str(values.get("personId") or "").strip()
    reason = str(values.get("reasonCode") or "")
    clean = {"personId": person, "reasonCode": reason}
    if not person:
        errors["personId"] = _t(request, "privacy.errors.person_missing")
    elif _person_id(person) is None:
        errors["personId"] = _t(request, "privacy.errors.person_invalid")
    else:
        clean["personId"] = _person_id(person) or person
    if reason not in ERASURE_REASONS:
        errors["reasonCode"] = _t(request, "privacy.errors.erasure_reason_missing")
    return clean, errors


def _draft(request: Request) -> dict[str, Any] | None:
    return sealer(request).open(DRAFT_COOKIE, request.cookies.get(DRAFT_COOKIE), max_age=DRAFT_SECONDS)


@router.get("/privacy/erasures/new")
async def erasure_new(request: Request) -> Response:
    kept = kept_form(request, request.url.path)
    if kept:
        return _erasure_form(request, dict(kept), kept=True)
    return _erasure_form(request, _draft(request) or {})


@router.post("/privacy/erasures/new")
async def erasure_new_post(request: Request, form: FormData = Depends(posted_form)) -> Response:
    values, errors = _check_erasure(request, fields(form))
    if errors:
        return _erasure_form(request, values, errors, status=422)
    response = RedirectResponse("/privacy/erasures/check", status_code=303)
    set_cookie(request, response, DRAFT_COOKIE, sealer(request).seal(DRAFT_COOKIE, values), max_age=DRAFT_SECONDS)
    return response


def _check_page(request: Request, draft: dict[str, Any], errors: dict[str, str] | None = None, status: int = 200) -> Response:
    return render(request, "privacy/erasure_check.html", status=status, draft=draft, errors=errors or {},
                  reason=_t(request, f"privacy.erasure_reason.{draft['reasonCode']}"))


@router.get("/privacy/erasures/check")
async def erasure_check(request: Request) -> Response:
    draft = _draft(request)
    if not draft:
        return RedirectResponse("/privacy/erasures/new", status_code=303)
    if current(request) is None:
        raise SignInAgain()
    return _check_page(request, draft)


@router.post("/privacy/erasures/check")
async def erasure_send(request: Request, form: FormData = Depends(posted_form)) -> Response:
    draft = _draft(request)
    if not draft:
        return RedirectResponse("/privacy/erasures/new", status_code=303)
    values, errors = _check_erasure(request, draft)
    if errors:
        return _erasure_form(request, values, errors, status=422)
    try:
        made = await Api(request).post("notification", "/privacy/erasure-requests", values)
    except ApiProblem as exc:
        if exc.status not in (409, 422):
            raise
        found = exc.field_errors()
        shown: dict[str, str] = {name: found[name] for name in ("personId", "reasonCode") if name in found} or {"personId": exc.detail}
        return _erasure_form(request, values, shown, status=422)
    response = RedirectResponse(f"/privacy/erasures/{made['id']}?sent={'new' if made.get('new', True) else 'existing'}", status_code=303)
    response.delete_cookie(DRAFT_COOKIE, path="/")
    return response


@router.get("/privacy/erasures/{erasure_id}")
async def erasure(request: Request, erasure_id: UUID, sent: str | None = None) -> Response:
    item = await Api(request).get("notification", f"/privacy/erasure-requests/{erasure_id}")
    return render(request, "privacy/erasure.html", item=_erasure_view(item), sent=sent if sent in ("new", "existing") else None)


# --- access requests (registerutdrag) ---------------------------------------------------------------


def _access_form(request: Request, values: dict[str, Any], errors: dict[str, str] | None = None, *, status: int = 200,
                 kept: bool = False) -> Response:
    return render(request, "privacy/access_new.html", status=status, values=values, errors=errors or {}, kept=kept,
                  reasons=[(r, _t(request, f"privacy.access_reason.{r}")) for r in ACCESS_REASONS])


@router.get("/privacy/access/new")
async def access_new(request: Request) -> Response:
    kept = kept_form(request, request.url.path)
    return _access_form(request, dict(kept) if kept else {}, kept=bool(kept))


@router.post("/privacy/access/new")
async def access_new_post(request: Request, form: FormData = Depends(posted_form)) -> Response:
    posted = fields(form)
    person = str(posted.get("personId") or "").strip()
    reason = str(posted.get("reasonCode") or "")
    values = {"personId": person, "reasonCode": reason}
    errors: dict[str, str] = {}
    if not person:
        errors["personId"] = _t(request, "privacy.errors.person_missing")
    elif _person_id(person) is None:
        errors["personId"] = _t(request, "privacy.errors.person_invalid")
    if reason not in ACCESS_REASONS:
        errors["reasonCode"] = _t(request, "privacy.errors.access_reason_missing")
    if errors:
        return _access_form(request, values, errors, status=422)
    try:
        made = await Api(request).post("notification", "/privacy/access-requests", {"personId": _person_id(person), "reasonCode": reason})
    except ApiProblem as exc:
        if exc.status not in (409, 422):
            raise
        found = exc.field_errors()
        shown: dict[str, str] = {name: found[name] for name in ("personId", "reasonCode") if name in found} or {"personId": exc.detail}
        return _access_form(request, values, shown, status=422)
    return RedirectResponse(f"/privacy/access/{made['id']}?sent=1", status_code=303)


async def _access_summary(api: Api, access_id: UUID) -> dict[str, Any]:
    """The request as the list of the officer's own requests gives it (its person as a reference, its state); else
    from the request itself. Not the request itself first: once ready, that answer is the export, and each read of it
    is logged as a read of the person's data, which merely looking at the progress is not."""
    listed = await api.get("notification", "/privacy/access-requests", limit=100)
    for item in listed.get("items", []):
        if item.get("id") == str(access_id):
            return dict(item)
    return await _access_state(api, access_id)


async def _access_state(api: Api, access_id: UUID) -> dict[str, Any]:
    try:
        r = await api.call("GET", "notification", f"/privacy/access-requests/{access_id}", raw=True)
    except ApiProblem as exc:
        if exc.status == 410:
            return {"id": str(access_id), "status": "expired", "person": None, "received": [], "pending": list(SERVICES)}
        raise
    body = r.json()
    if r.status_code == 202:
        return {**body, "person": None}
    return {"id": str(access_id), "status": "ready", "person": None, "reasonCode": body.get("reasonCode"), "requestedAt": body.get("requestedAt"),
            "completedAt": body.get("completedAt"), "expiresAt": body.get("expiresAt"), "received": list(SERVICES), "pending": []}


@router.get("/privacy/access/{access_id}")
async def access_request(request: Request, access_id: UUID, sent: str | None = None) -> Response:
    item = await _access_summary(Api(request), access_id)
    return render(request, "privacy/access.html", item=_access_view(item), sent=bool(sent))


@router.get("/privacy/access/{access_id}/export")
async def access_export(request: Request, access_id: UUID) -> Response:
    """The export as a JSON file: fetched with the officer's token (the read is logged by the service)."""
    try:
        r = await Api(request).call("GET", "notification", f"/privacy/access-requests/{access_id}", raw=True)
    except ApiProblem as exc:
        if exc.status == 410:
            return RedirectResponse(f"/privacy/access/{access_id}", status_code=303)
        raise
    if r.status_code != 200:
        return RedirectResponse(f"/privacy/access/{access_id}", status_code=303)
    return Response(r.content, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="registerutdrag-{access_id}.json"', "Cache-Control": "no-store"})


# --- the access log ---------------------------------------------------------------------------------


@router.get("/privacy/access-log")
async def access_log(request: Request, person: str | None = None, cursor: str | None = None) -> Response:
    errors: dict[str, str] = {}
    wanted = None
    if person and person.strip():
        wanted = _person_id(person)
        if wanted is None:
            errors["person"] = _t(request, "privacy.errors.person_invalid")
    if errors:
        return render(request, "privacy/access_log.html", status=422, errors=errors, values={"person": person}, entries=[],
                      next_href=None, filtered=True)
    try:
        page = await Api(request).get("notification", "/privacy/access-log", person=wanted, cursor=cursor, limit=LOG_LIMIT, reason="dpo-review")
    except ApiProblem as exc:
        if exc.status != 422:
            raise
        # a cursor no longer valid: the first page again
        return RedirectResponse("/privacy/access-log" + (f"?{urlencode({'person': wanted})}" if wanted else ""), status_code=303)
    after = page.get("next")
    next_href = "/privacy/access-log?" + urlencode({k: v for k, v in (("person", wanted), ("cursor", after)) if v}) if after else None
    return render(request, "privacy/access_log.html", entries=[_log_entry(request, e) for e in page.get("items", [])],
                  values={"person": person or ""}, next_href=next_href, filtered=bool(wanted), first=not cursor)


def _known(request: Request, key: str, fallback: str) -> str:
    """A code in words when the catalogue has it (a code the log gains later shows as it is)."""
    return _t(request, key) if key in catalogue() else fallback


def _log_entry(request: Request, entry: dict[str, Any]) -> dict[str, Any]:
    action, why = entry.get("action", ""), entry.get("why", "")
    people = entry.get("subjectPeople") or []
    subject = entry.get("subjectPerson")
    others = [p for p in people if not subject or p != subject]
    return {
        "at": entry.get("at"),
        "actor": entry.get("actorPerson"),
        "account": entry.get("actor", ""),
        "action": _known(request, f"privacy.log_action.{action}", action),
        "why": _known(request, f"privacy.log_why.{why}", why),
        "subject": subject,
        "others": len(others) if subject else len(people),
        "single": people[0] if not subject and len(people) == 1 else None,
    }
