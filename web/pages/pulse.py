"""The anonymous pulse (docs/decisions/0016-anonymous-pulse.md): the Rektor's page and the respondent's pages.

The Rektor (``/pulse``) sees how many invitations each group has and how many are used, creates single-use invitation
codes (a form, a check page, then the codes shown this once as printable slips) and reads the released results.

A respondent opens the link of an invitation, ``/pulse/{code}`` (the path the assessment service gives in
``PulseInvitations.path``), without signing in: a statement on anonymity, one question per screen, a check page, send,
thanks. The answers between screens are kept in a sealed (encrypted) cookie limited to the invitation's own path,
never in the URL, and deleted once sent. These pages call the service's anonymous endpoints without a token.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web import i18n
from web.api import Api, ApiProblem, ServiceUnavailable
from web.rendering import render
from web.security import fields, posted_form, visitor_form
from web.session import current, kept_form, sealer
from web.tasks import Task, provides

router = APIRouter()

CODE = re.compile(r"^[A-Za-z0-9]{4,64}$")
ANSWERS_COOKIE = "skolit_pulse"
BATCHES_COOKIE = "skolit_pulse_batches"
DONT_KNOW = "dont_know"
LEVELS = ("1", "2", "3", "4", "5")
#: as many invitations as one request may issue (domain.PULSE_MAX_INVITATIONS)
MAX_INVITATIONS = 1000


# --- finding the school's current assessment ------------------------------------------------------

@dataclass
class Current:
    school: dict[str, Any]
    schools: list[dict[str, Any]]
    campaign: dict[str, Any] | None
    standing: dict[str, Any] | None  # SchoolUnitStanding: assessmentId, status

    @property
    def assessment_id(self) -> str | None:
        return str(self.standing["assessmentId"]) if self.standing else None

    @property
    def open(self) -> bool:
        return bool(self.campaign and self.campaign.get("status") == "open" and self.standing and self.standing.get("status") != "submitted")


def _schools(me: dict[str, Any] | None) -> list[dict[str, Any]]:
    return list((me or {}).get("schoolUnits") or [])


async def _current(request: Request, school_id: str | None = None) -> Current | None:
    """The school unit (the one asked for, else the first) and its assessment in the newest round covering it, open first."""
    schools = _schools(request.state.me)
    if not schools:
        return None
    school = next((s for s in schools if str(s.get("id")) == school_id), schools[0])
    api = Api(request)
    rounds = await api.get("assessment", "/campaigns", limit=50)
    covering = [c for c in rounds.get("items", []) if str(school["id"]) in {str(s) for s in c.get("schoolUnitIds", [])}]
    campaign = next((c for c in covering if c.get("status") == "open"), covering[0] if covering else None)
    standing = None
    if campaign is not None:
        found = await api.get("assessment", f"/campaigns/{campaign['id']}/assessments", limit=200)
        standing = next((s for s in found.get("items", []) if str(s.get("schoolUnit", {}).get("id")) == str(school["id"])), None)
    return Current(school, schools, campaign, standing)


async def _results(request: Request, assessment_id: str) -> dict[str, Any]:
    return dict(await Api(request).get("assessment", f"/assessments/{assessment_id}/pulse", lang=request.state.lang))


def _school_query(current: Current) -> str:
    return f"?school={current.school['id']}" if len(current.schools) > 1 else ""


# --- the Rektor's pages -----------------------------------------------------------------------------

async def _scale(request: Request, version: Any) -> dict[int, str]:
    """The framework's level names (1 → "Ej påbörjad" …), to say a mean in words."""
    framework = await Api(request).get("assessment", f"/frameworks/{version}", lang=request.state.lang)
    return {int(s["level"]): str(s["label"]) for s in (framework.get("scale") or {}).get("levels", [])}


@router.get("/pulse")
async def overview(request: Request, school: str | None = None) -> Response:
    me = request.state.me or {}
    if current(request) is None or "principal" not in me.get("roles", []):
        # someone with a slip who typed the address: where to put the code (a Rektor signs in from here)
        return render(request, "pulse/enter_code.html")
    found = await _current(request, school)
    results: dict[str, Any] | None = None
    scale: dict[int, str] = {}
    if found is not None and found.assessment_id and found.campaign is not None:
        results, scale = await asyncio.gather(_results(request, found.assessment_id), _scale(request, found.campaign["frameworkVersion"]))
    return render(request, "pulse/overview.html", found=found, results=results, scale=scale, school_query=_school_query(found) if found else "")


@router.post("/pulse")
async def enter_code(request: Request, form: FormData = Depends(visitor_form)) -> Response:
    code = re.sub(r"[\s-]", "", str(form.get("code") or ""))
    if not CODE.match(code):
        key = "pulse.enter_code.error.missing" if not code else "pulse.enter_code.error.format"
        return render(request, "pulse/enter_code.html", status=422, errors={"code": _t(request)(key)}, values={"code": form.get("code") or ""})
    return RedirectResponse(f"/pulse/{code.lower()}", status_code=303)


async def _needs_open(request: Request, school: str | None) -> tuple[Current, dict[str, Any]]:
    found = await _current(request, school)
    if found is None or not found.assessment_id:
        raise ApiProblem("assessment", 404, {"detail": ""})
    results = await _results(request, found.assessment_id)
    return found, results


def _groups(results: dict[str, Any]) -> list[str]:
    return [g["group"] for g in results.get("groups", [])] or ["staff"]


def _check_invitation(values: dict[str, Any], groups: list[str], t: Any) -> tuple[dict[str, str], str | None, int | None]:
    errors: dict[str, str] = {}
    group = values.get("group") if len(groups) > 1 else groups[0]
    if group not in groups:
        errors["group"] = t("pulse.invite.error.group")
        group = None
    raw = str(values.get("count") or "").strip()
    count = None
    if not raw:
        errors["count"] = t("pulse.invite.error.count_missing")
    elif not raw.isdigit():
        errors["count"] = t("pulse.invite.error.count_number")
    elif not 1 <= int(raw) <= MAX_INVITATIONS:
        errors["count"] = t("pulse.invite.error.count_range", most=MAX_INVITATIONS)
    else:
        count = int(raw)
    return errors, group, count


def _t(request: Request) -> Any:
    lang = getattr(request.state, "lang", i18n.DEFAULT)

    def t(key: str, **params: Any) -> str:
        return i18n.translate(lang, key, **params)

    return t


@router.get("/pulse/invite")
async def invite(request: Request, school: str | None = None, group: str | None = None, count: str | None = None) -> Response:
    found, results = await _needs_open(request, school)
    if not found.open:
        return RedirectResponse(f"/pulse{_school_query(found)}", status_code=303)
    kept = kept_form(request, request.url.path)
    values: dict[str, Any] = {"group": group, "count": count}
    if kept:
        values.update(dict(kept))
    return render(request, "pulse/invite.html", found=found, groups=_groups(results), values=values, kept=bool(kept),
                  school_query=_school_query(found), most=MAX_INVITATIONS)


@router.post("/pulse/invite")
async def invite_posted(request: Request, school: str | None = None, form: FormData = Depends(posted_form)) -> Response:
    found, results = await _needs_open(request, school)
    values = fields(form)
    groups = _groups(results)
    errors, group, count = _check_invitation(values, groups, _t(request))
    if errors:
        return render(request, "pulse/invite.html", status=422, found=found, groups=groups, values=values, errors=errors, kept=False,
                      school_query=_school_query(found), most=MAX_INVITATIONS)
    query = f"group={group}&count={count}" + (f"&school={found.school['id']}" if len(found.schools) > 1 else "")
    return RedirectResponse(f"/pulse/invite/check?{query}", status_code=303)


def _batches(request: Request) -> list[str]:
    doc = sealer(request).open(BATCHES_COOKIE, request.cookies.get(BATCHES_COOKIE), max_age=24 * 3600)
    return [str(b) for b in (doc or {}).get("b", [])]


@router.get("/pulse/invite/check")
async def invite_check(request: Request, school: str | None = None, group: str | None = None, count: str | None = None) -> Response:
    found, results = await _needs_open(request, school)
    groups = _groups(results)
    errors, chosen, number = _check_invitation({"group": group, "count": count}, groups, _t(request))
    if not found.open or errors or chosen is None or number is None:
        return RedirectResponse(f"/pulse/invite{_school_query(found)}", status_code=303)
    return render(request, "pulse/invite_check.html", found=found, group=chosen, count=number, batch=secrets.token_urlsafe(12),
                  school_query=_school_query(found), several_groups=len(groups) > 1)


@router.post("/pulse/invite/check")
async def invite_create(request: Request, school: str | None = None, form: FormData = Depends(posted_form)) -> Response:
    """Creates the invitations and shows their codes on this answer, once: the service keeps only their hashes, and a
    thousand codes do not fit in a cookie to survive a redirect. A page posted twice (reload) creates nothing more."""
    found, results = await _needs_open(request, school)
    values = fields(form)
    groups = _groups(results)
    errors, group, count = _check_invitation(values, groups, _t(request))
    if errors or group is None or count is None:
        return render(request, "pulse/invite.html", status=422, found=found, groups=groups, values=values, errors=errors, kept=False,
                      school_query=_school_query(found), most=MAX_INVITATIONS)
    batch = str(values.get("batch") or "")
    used = _batches(request)
    if not batch or batch in used:
        return render(request, "pulse/codes_gone.html", status=409, found=found, school_query=_school_query(found))
    try:
        issued = await Api(request).post("assessment", f"/assessments/{found.assessment_id}/pulse/invitations", {"group": group, "count": count})
    except ApiProblem as exc:
        if exc.status not in (409, 422):
            raise
        problems = exc.field_errors()
        t = _t(request)
        message = {"group": t("pulse.invite.error.group"), "count": t("pulse.invite.error.count_range", most=MAX_INVITATIONS)}
        errors = {k: message[k] for k in problems if k in message} or {"count": t("pulse.invite.error.closed")}
        return render(request, "pulse/invite.html", status=exc.status, found=found, groups=groups, values=values, errors=errors, kept=False,
                      school_query=_school_query(found), most=MAX_INVITATIONS)
    base = str(request.base_url).rstrip("/")
    path = str(issued.get("path") or "/pulse/{code}")
    slips = [{"code": code, "link": base + path.replace("{code}", code)} for code in issued.get("codes", [])]
    response = render(request, "pulse/codes.html", found=found, issued=issued, slips=slips, group=group, school_query=_school_query(found))
    response.set_cookie(BATCHES_COOKIE, sealer(request).seal(BATCHES_COOKIE, {"b": [*used[-19:], batch]}), max_age=24 * 3600, httponly=True,
                        samesite="lax", secure=request.app.state.settings.secure_cookies, path="/pulse/invite")
    return response


@provides("principal")
async def tasks(request: Request, me: dict[str, Any]) -> list[Task]:
    if current(request) is None:
        return []
    found = await _current(request)
    if found is None or not found.assessment_id:
        return []
    results = await _results(request, found.assessment_id)
    invited = sum(int(g.get("invited") or 0) for g in results.get("groups", []))
    answered = sum(int(g.get("answered") or 0) for g in results.get("groups", []))
    if not found.open:
        return [Task("pulse.task.closed", "/pulse", (("answered", answered), ("invited", invited)))]
    if invited == 0:
        return [Task("pulse.task.invite", "/pulse", hint="pulse.task.invite_hint", due=True)]
    return [Task("pulse.task.progress", "/pulse", (("answered", answered), ("invited", invited)), hint="pulse.task.progress_hint")]


# --- the respondent's pages (no sign-in) -----------------------------------------------------------

class Unknown(Exception):
    pass


async def _questionnaire(request: Request, code: str) -> dict[str, Any]:
    """The questionnaire of an invitation, from the service's anonymous endpoint (no token: none is needed or sent)."""
    if not CODE.match(code):
        raise Unknown()
    http: httpx.AsyncClient = request.app.state.http
    url = f"{request.app.state.settings.services['assessment']}/v1/pulse/{code}"
    try:
        r = await http.get(url, params={"lang": request.state.lang}, headers={"Accept-Language": request.state.lang}, timeout=20)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable("assessment", type(exc).__name__) from None
    if r.status_code in (404, 422):
        raise Unknown()
    if r.status_code >= 400:
        raise ServiceUnavailable("assessment", f"status {r.status_code}")
    return dict(r.json())


def _unknown(request: Request) -> Response:
    return render(request, "pulse/unavailable.html", status=404, reason="unknown")


def _not_open(request: Request, q: dict[str, Any]) -> Response:
    return render(request, "pulse/unavailable.html", status=409 if q.get("used") else 410, reason="used" if q.get("used") else "closed")


def _cookie_key(code: str) -> str:
    return hashlib.sha256(code.strip().lower().encode()).hexdigest()[:24]


def _kept_answers(request: Request, code: str) -> dict[str, str]:
    doc = sealer(request).open(ANSWERS_COOKIE, request.cookies.get(ANSWERS_COOKIE), max_age=12 * 3600)
    if not doc or doc.get("k") != _cookie_key(code):
        return {}
    return {str(k): str(v) for k, v in (doc.get("a") or {}).items()}


def _keep_answers(request: Request, response: Response, code: str, answers: dict[str, str]) -> None:
    response.set_cookie(ANSWERS_COOKIE, sealer(request).seal(ANSWERS_COOKIE, {"k": _cookie_key(code), "a": answers}), max_age=12 * 3600,
                        httponly=True, samesite="lax", secure=request.app.state.settings.secure_cookies, path=f"/pulse/{code}")


def _answer_label(q: dict[str, Any], value: str | None, t: Any) -> str:
    if value == DONT_KNOW:
        return str(t("pulse.answer.dont_know"))
    label = next((s["label"] for s in q.get("scale", []) if str(s["level"]) == value), "")
    return str(t("pulse.answer.level", level=value, label=label, most=len(q.get("scale", [])) or 5))


async def _open_questionnaire(request: Request, code: str) -> Response | dict[str, Any]:
    """The questionnaire of an invitation that can still be answered, or the page that says why it cannot."""
    try:
        q = await _questionnaire(request, code)
    except Unknown:
        return _unknown(request)
    if not q.get("open"):
        return _not_open(request, q)
    return q


@router.get("/pulse/{code}")
async def respondent_start(request: Request, code: str) -> Response:
    q = await _open_questionnaire(request, code)
    if isinstance(q, Response):
        return q
    return render(request, "pulse/start.html", q=q, code=code, questions=len(q.get("headings", [])))


@router.get("/pulse/{code}/check")
async def respondent_check(request: Request, code: str) -> Response:
    q = await _open_questionnaire(request, code)
    if isinstance(q, Response):
        return q
    answers = _kept_answers(request, code)
    for n, heading in enumerate(q["headings"], start=1):
        if heading["id"] not in answers:
            return RedirectResponse(f"/pulse/{code}/{n}", status_code=303)
    return _render_check(request, q, code, answers)


def _render_check(request: Request, q: dict[str, Any], code: str, answers: dict[str, str], errors: dict[str, str] | None = None,
                  status: int = 200) -> Response:
    t = _t(request)
    rows = [(h["title"], _answer_label(q, answers.get(h["id"]), t), f"/pulse/{code}/{n}", t("pulse.check.change", title=h["title"]))
            for n, h in enumerate(q["headings"], start=1)]
    return render(request, "pulse/check.html", status=status, q=q, code=code, rows=rows, errors=errors or {}, back=f"/pulse/{code}/{len(rows)}")


@router.post("/pulse/{code}/check")
async def respondent_send(request: Request, code: str, form: FormData = Depends(visitor_form)) -> Response:
    q = await _open_questionnaire(request, code)
    if isinstance(q, Response):
        return q
    answers = _kept_answers(request, code)
    missing = next((n for n, h in enumerate(q["headings"], start=1) if h["id"] not in answers), None)
    if missing is not None:
        return RedirectResponse(f"/pulse/{code}/{missing}", status_code=303)
    levels = {k: int(v) for k, v in answers.items() if v in LEVELS}
    if not levels:
        return _render_check(request, q, code, answers, {"answers": _t(request)("pulse.check.error.none")}, status=422)
    http: httpx.AsyncClient = request.app.state.http
    try:
        r = await http.post(f"{request.app.state.settings.services['assessment']}/v1/pulse/{code}", json={"answers": levels},
                            headers={"Accept-Language": request.state.lang}, timeout=20)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable("assessment", type(exc).__name__) from None
    if r.status_code == 404:
        return _unknown(request)
    if r.status_code == 409:
        used = (r.json() or {}).get("field") == "code" or any(str(e.get("location", "")).endswith("code") for e in (r.json() or {}).get("errors") or [])
        return render(request, "pulse/unavailable.html", status=409, reason="used" if used else "closed")
    if r.status_code == 422:
        return _render_check(request, q, code, answers, {"answers": _t(request)("pulse.check.error.none")}, status=422)
    if r.status_code >= 400:
        raise ServiceUnavailable("assessment", f"status {r.status_code}")
    response = RedirectResponse(f"/pulse/{code}/thanks", status_code=303)
    response.delete_cookie(ANSWERS_COOKIE, path=f"/pulse/{code}")
    return response


@router.get("/pulse/{code}/thanks")
async def respondent_thanks(request: Request, code: str) -> Response:
    if not CODE.match(code):
        return _unknown(request)
    return render(request, "pulse/thanks.html")


def _question(q: dict[str, Any], n: str) -> tuple[int, dict[str, Any]] | None:
    if not n.isdigit() or not 1 <= int(n) <= len(q.get("headings", [])):
        return None
    return int(n), q["headings"][int(n) - 1]


def _render_question(request: Request, q: dict[str, Any], code: str, number: int, heading: dict[str, Any], selected: str | None,
                     errors: dict[str, str] | None = None, status: int = 200) -> Response:
    t = _t(request)
    total = len(q["headings"])
    options = [(str(s["level"]), _answer_label(q, str(s["level"]), t)) for s in q.get("scale", [])] + [(DONT_KNOW, t("pulse.answer.dont_know"))]
    back = f"/pulse/{code}/{number - 1}" if number > 1 else f"/pulse/{code}"
    return render(request, "pulse/question.html", status=status, q=q, code=code, number=number, total=total, heading=heading, options=options,
                  selected=selected, errors=errors or {}, back=back)


async def _open_question(request: Request, code: str, n: str) -> Response | tuple[dict[str, Any], int, dict[str, Any]]:
    """The questionnaire and its question ``n``, or the page that says why it cannot be answered."""
    q = await _open_questionnaire(request, code)
    if isinstance(q, Response):
        return q
    found = _question(q, n)
    if found is None:
        return _unknown(request)
    return q, *found


@router.get("/pulse/{code}/{n}")
async def respondent_question(request: Request, code: str, n: str) -> Response:
    opened = await _open_question(request, code, n)
    if isinstance(opened, Response):
        return opened
    q, number, heading = opened
    return _render_question(request, q, code, number, heading, _kept_answers(request, code).get(heading["id"]))


@router.post("/pulse/{code}/{n}")
async def respondent_answer(request: Request, code: str, n: str, form: FormData = Depends(visitor_form)) -> Response:
    opened = await _open_question(request, code, n)
    if isinstance(opened, Response):
        return opened
    q, number, heading = opened
    answer = str(form.get("answer") or "")
    if answer not in (*LEVELS, DONT_KNOW):
        return _render_question(request, q, code, number, heading, None, {"answer": _t(request)("pulse.answer.error.choose")}, status=422)
    answers = _kept_answers(request, code)
    answers[heading["id"]] = answer
    following = next((i for i, h in enumerate(q["headings"], start=1) if i > number and h["id"] not in answers), None)
    target = f"/pulse/{code}/{following}" if following is not None else f"/pulse/{code}/check"
    response = RedirectResponse(target, status_code=303)
    _keep_answers(request, response, code, answers)
    return response

