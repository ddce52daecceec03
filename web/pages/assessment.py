"""The Rektor's self-assessment: the open round, the task list of one assessment, one heading per page (with
autosave), guidance, check your answers, submit and the confirmation. Teachers of the school read the same pages
without inputs; a submitted assessment, a closed round or a passed deadline shows them read-only too."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import JSONResponse, RedirectResponse, Response

from web.api import Api, ApiProblem, SignInAgain
from web.i18n import STOCKHOLM, translate
from web.rendering import render
from web.security import posted_form
from web.session import KEPT_COOKIE, kept_form
from web.tasks import Task, provides

router = APIRouter()

MAX_COMMENT = 4000
MAX_EVIDENCE = 20
#: published framework versions never change: one localized copy per (version, school types, language)
_FRAMEWORKS: dict[tuple[int, str, str], dict[str, Any]] = {}


# --- reading --------------------------------------------------------------------------------------

async def framework_for(api: Api, assessment: dict[str, Any]) -> dict[str, Any]:
    types = ",".join(sorted(assessment["schoolUnit"]["schoolTypes"]))
    lang = getattr(api.request.state, "lang", "sv")
    key = (int(assessment["frameworkVersion"]), types, lang)
    found = _FRAMEWORKS.get(key)
    if found is None:
        found = await api.get("assessment", f"/frameworks/{key[0]}", lang=lang, schoolTypes=types or None)
        found["headings"] = [h for h in found["headings"] if h["indicators"]]
        if len(_FRAMEWORKS) > 200:
            _FRAMEWORKS.clear()
        _FRAMEWORKS[key] = found
    return found


def _today() -> date:
    return datetime.now(STOCKHOLM).date()


def _state(assessment: dict[str, Any]) -> str:
    """draft, reopened, submitted or closed (the round closed or the deadline passed)."""
    if assessment["status"] == "submitted":
        return "submitted"
    deadline = date.fromisoformat(str(assessment["deadline"])[:10])
    if assessment["campaign"]["status"] != "open" or deadline < _today():
        return "closed"
    return "reopened" if assessment.get("submissions") else "draft"


def _editable(request: Request, assessment: dict[str, Any]) -> bool:
    me = request.state.me or {}
    return _state(assessment) in ("draft", "reopened") and "principal" in me.get("roles", [])


def _answers(assessment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["indicatorId"]: a for a in assessment["answers"] if a.get("level") is not None or a.get("notRelevant")}


def _progress(assessment: dict[str, Any], framework: dict[str, Any]) -> list[dict[str, Any]]:
    """Per heading: how many answered of how many, and how many required are missing."""
    answers = _answers(assessment)
    missing = set(assessment["missingRequired"])
    rows = []
    for heading in framework["headings"]:
        ids = [i["id"] for i in heading["indicators"]]
        answered = sum(1 for i in ids if i in answers)
        missing_here = sum(1 for i in ids if i in missing)
        status = "done" if answered == len(ids) else ("started" if answered else "not_started")
        rows.append({"heading": heading, "answered": answered, "total": len(ids), "missing": missing_here, "status": status})
    return rows


def _counts(assessment: dict[str, Any]) -> tuple[int, int]:
    return len(_answers(assessment)), len(assessment["indicators"])


async def _open_assessments(api: Api, me: dict[str, Any]) -> list[dict[str, Any]]:
    """The person's school units' assessments in the open rounds (newest round first)."""
    campaigns = await api.get("assessment", "/campaigns", limit=50)
    mine = {s["id"] for s in me.get("schoolUnits", [])}
    pairs = [(c["id"], s) for c in campaigns["items"] if c["status"] == "open" for s in c["schoolUnitIds"] if s in mine]

    async def one(campaign: str, school: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await api.get("assessment", f"/campaigns/{campaign}/school-units/{school}/assessment")
            return found
        except ApiProblem as exc:
            if exc.status in (403, 404):
                return None
            raise

    found = await asyncio.gather(*(one(c, s) for c, s in pairs))
    return [a for a in found if a is not None]


@provides("principal")
async def tasks(request: Request, me: dict[str, Any]) -> list[Task]:
    out = []
    for a in await _open_assessments(Api(request), me):
        state = _state(a)
        if state not in ("draft", "reopened"):
            continue
        answered, total = _counts(a)
        out.append(Task("assessment.task.title", f"/assessments/{a['id']}",
                        (("school", a["schoolUnit"].get("name") or ""), ("deadline", _date_text(request, a["deadline"])),
                         ("answered", answered), ("total", total)),
                        hint="assessment.task.hint", due=True))
    return out


def _date_text(request: Request, value: Any) -> str:
    from web.i18n import format_date

    return format_date(getattr(request.state, "lang", "sv"), value)


# --- the round and the overview -------------------------------------------------------------------

@router.get("/assessment")
async def overview(request: Request) -> Response:
    me = request.state.me
    if me is None:
        raise SignInAgain()
    api = Api(request)
    found = await _open_assessments(api, me)
    rows = [{"assessment": a, "state": _state(a), "counts": _counts(a)} for a in found]
    return render(request, "assessment/overview.html", rows=rows)


@router.get("/campaigns/{campaign_id}")
async def campaign(request: Request, campaign_id: UUID) -> Response:
    me = request.state.me
    if me is None:
        raise SignInAgain()
    roles = set(me.get("roles", []))
    if roles & {"district_admin", "city_admin"} and "principal" not in roles:
        return RedirectResponse(f"/rounds/{campaign_id}", status_code=303)
    standing = await Api(request).get("assessment", f"/campaigns/{campaign_id}/assessments", limit=50)
    items = standing["items"]
    if len(items) == 1:
        return RedirectResponse(f"/assessments/{items[0]['assessmentId']}", status_code=303)
    return render(request, "assessment/campaign.html", campaign=standing["campaign"], items=items)


# --- one assessment -------------------------------------------------------------------------------

async def _load(request: Request, assessment_id: UUID) -> tuple[Api, dict[str, Any], dict[str, Any]]:
    api = Api(request)
    assessment = await api.get("assessment", f"/assessments/{assessment_id}")
    framework = await framework_for(api, assessment)
    return api, assessment, framework


def _base(request: Request, assessment: dict[str, Any], framework: dict[str, Any]) -> dict[str, Any]:
    return {"assessment": assessment, "framework": framework, "state": _state(assessment), "editable": _editable(request, assessment),
            "answers": _answers(assessment), "levels": {s["level"]: s["label"] for s in framework["scale"]["levels"]},
            "not_relevant_label": framework["scale"]["notRelevant"], "missing": set(assessment["missingRequired"])}


@router.get("/assessments/{assessment_id}")
async def task_list(request: Request, assessment_id: UUID) -> Response:
    _, assessment, framework = await _load(request, assessment_id)
    answered, total = _counts(assessment)
    return render(request, "assessment/task_list.html", progress=_progress(assessment, framework), answered=answered, total=total,
                  **_base(request, assessment, framework))


def _heading(framework: dict[str, Any], heading_id: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    headings = framework["headings"]
    for n, h in enumerate(headings):
        if h["id"] == heading_id:
            return h, headings[n + 1] if n + 1 < len(headings) else None
    from starlette.exceptions import HTTPException

    raise HTTPException(404)


def _values_from_answers(heading: dict[str, Any], answers: dict[str, dict[str, Any]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for i in heading["indicators"]:
        a = answers.get(i["id"])
        if a is None:
            continue
        values[f"level-{i['id']}"] = "nr" if a.get("notRelevant") else str(a.get("level") or "")
        values[f"comment-{i['id']}"] = a.get("comment") or ""
        values[f"evidence-{i['id']}"] = "\n".join(a.get("evidence") or [])
    return values


@router.get("/assessments/{assessment_id}/headings/{heading_id}")
async def heading_page(request: Request, assessment_id: UUID, heading_id: str) -> Response:
    _, assessment, framework = await _load(request, assessment_id)
    heading, following = _heading(framework, heading_id)
    base = _base(request, assessment, framework)
    values = _values_from_answers(heading, base["answers"])
    kept = kept_form(request, request.url.path)
    if kept and base["editable"]:
        values.update({k: v for k, v in kept})
    return render(request, "assessment/heading.html", heading=heading, following=following, values=values, kept=bool(kept and base["editable"]),
                  **base)


def _t(request: Request, key: str, **params: Any) -> str:
    return translate(getattr(request.state, "lang", "sv"), key, **params)


def _read_heading_form(request: Request, heading: dict[str, Any], form: FormData, *, autosave: bool) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The answers the form gives for the heading's indicators, and what is wrong with them (field → message)."""
    answers: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for i in heading["indicators"]:
        iid = i["id"]
        chosen = str(form.get(f"level-{iid}") or "").strip()
        comment = str(form.get(f"comment-{iid}") or "").strip()
        evidence = [line.strip() for line in str(form.get(f"evidence-{iid}") or "").splitlines() if line.strip()]
        title = i["title"]
        if chosen not in ("", "nr", "1", "2", "3", "4", "5") or (chosen == "nr" and not i["allowNotRelevant"]):
            errors[f"level-{iid}"] = _t(request, "assessment.error.level_invalid", title=title)
            continue
        if len(comment) > MAX_COMMENT:
            errors[f"comment-{iid}"] = _t(request, "assessment.error.comment_too_long", title=title, most=MAX_COMMENT)
        if len(evidence) > MAX_EVIDENCE:
            errors[f"evidence-{iid}"] = _t(request, "assessment.error.evidence_too_many", title=title, most=MAX_EVIDENCE)
        else:
            for link in evidence:
                parsed = urlparse(link)
                if parsed.scheme not in ("http", "https") or not parsed.netloc or len(link) > 2000:
                    errors[f"evidence-{iid}"] = _t(request, "assessment.error.evidence_invalid", title=title)
                    break
        if not chosen:
            if (comment or evidence) and not autosave:
                errors.setdefault(f"level-{iid}", _t(request, "assessment.error.level_needed", title=title))
            continue  # an indicator not answered yet is left as it is (the check page shows what is missing)
        answers.append({"indicatorId": iid, "level": None if chosen == "nr" else int(chosen), "notRelevant": chosen == "nr",
                        "comment": comment or None, "evidence": evidence})
    return answers, errors


def _api_errors(request: Request, exc: ApiProblem, heading: dict[str, Any]) -> dict[str, str]:
    first = heading["indicators"][0]["id"] if heading["indicators"] else ""
    return {f"level-{first}": _t(request, "assessment.error.not_saved", detail=exc.detail)}


@router.post("/assessments/{assessment_id}/headings/{heading_id}")
async def save_heading(request: Request, assessment_id: UUID, heading_id: str, form: FormData = Depends(posted_form)) -> Response:
    autosave = request.headers.get("x-autosave") == "1"
    api, assessment, framework = await _load(request, assessment_id)
    heading, following = _heading(framework, heading_id)
    base = _base(request, assessment, framework)
    if not base["editable"]:
        if autosave:
            return JSONResponse({"saved": False, "errors": {"form": _t(request, "assessment.error.locked")}}, status_code=409)
        return RedirectResponse(request.url.path, status_code=303)
    answers, errors = _read_heading_form(request, heading, form, autosave=autosave)
    if autosave and errors:
        # what is valid is still saved as you go; the Save button shows the rest
        bad = {k.split("-", 1)[1] for k in errors}
        answers = [a for a in answers if a["indicatorId"] not in bad]
    if not errors or autosave:
        if answers:
            try:
                await api.put("assessment", f"/assessments/{assessment_id}/answers", {"answers": answers})
            except ApiProblem as exc:
                if exc.status not in (409, 422):
                    raise
                errors = _api_errors(request, exc, heading)
                if autosave:
                    return JSONResponse({"saved": False, "errors": errors}, status_code=422)
        if autosave:
            if errors:
                return JSONResponse({"saved": False, "errors": errors}, status_code=422)
            response: Response = JSONResponse({"saved": True})
            response.delete_cookie(KEPT_COOKIE, path="/")
            return response
        if not errors:
            target = f"/assessments/{assessment_id}/headings/{following['id']}" if following else f"/assessments/{assessment_id}/check"
            response = RedirectResponse(target, status_code=303)
            response.delete_cookie(KEPT_COOKIE, path="/")
            return response
    values = {k: v for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"}
    return render(request, "assessment/heading.html", status=422, heading=heading, following=following, values=values, errors=errors,
                  kept=False, **base)


@router.get("/assessments/{assessment_id}/guidance")
async def guidance(request: Request, assessment_id: UUID) -> Response:
    api = Api(request)
    assessment, guide = await asyncio.gather(api.get("assessment", f"/assessments/{assessment_id}"),
                                             api.get("assessment", f"/assessments/{assessment_id}/guidance"))
    return render(request, "assessment/guidance.html", assessment=assessment, guide=guide, state=_state(assessment))


@router.get("/assessments/{assessment_id}/check")
async def check(request: Request, assessment_id: UUID) -> Response:
    _, assessment, framework = await _load(request, assessment_id)
    return render(request, "assessment/check.html", progress=_progress(assessment, framework), **_base(request, assessment, framework))


@router.post("/assessments/{assessment_id}/check")
async def submit(request: Request, assessment_id: UUID, form: FormData = Depends(posted_form)) -> Response:
    api = Api(request)
    try:
        await api.post("assessment", f"/assessments/{assessment_id}/submit")
    except ApiProblem as exc:
        if exc.status not in (409, 422):
            raise
        _, assessment, framework = await _load(request, assessment_id)
        key = "assessment.error.missing" if exc.status == 422 else "assessment.error.not_submitted"
        return render(request, "assessment/check.html", status=422 if exc.status == 422 else 409, progress=_progress(assessment, framework),
                      errors={"submit": _t(request, key, detail=exc.detail)}, **_base(request, assessment, framework))
    return RedirectResponse(f"/assessments/{assessment_id}/submitted", status_code=303)


@router.get("/assessments/{assessment_id}/submitted")
async def submitted(request: Request, assessment_id: UUID) -> Response:
    assessment = await Api(request).get("assessment", f"/assessments/{assessment_id}")
    if assessment["status"] != "submitted":
        return RedirectResponse(f"/assessments/{assessment_id}", status_code=303)
    return render(request, "assessment/submitted.html", assessment=assessment)
