"""Messages: the inbox, what and how a person is told (preferences), their own contact details and push devices, the
apps at a guardian's school and what data each receives, and broadcasts (compose, preview the audience, check, send,
follow delivery, read receipts and the guardians no channel reached)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
import zlib
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web.api import Api, ApiProblem
from web.rendering import render
from web.security import fields, posted_form
from web.session import current, kept_form, sealer, set_cookie
from web.tasks import Task, provides

router = APIRouter()

INBOX_PAGE = 20
#: how far the message page looks through the inbox for one message (the API has no single-message read)
INBOX_SCAN = 1000
CHANNELS = ("inapp", "push", "email", "sms")
MODES = ("instant", "digest", "off")
#: the message types a guardian can be sent (the rest are about staff work)
GUARDIAN_TYPES = ("broadcast", "critical")
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
CODE = re.compile(r"^\d{4,8}$")
DRAFT_COOKIE = "skolit_broadcast_draft"
DRAFT_MAX = 3800
SUBJECT_MAX = 150
BODY_MAX = 5000
LINK_MAX = 500
UNREACHED_REASON = "delivery-problem"


def _person_id(request: Request) -> str:
    session = current(request)
    me = getattr(request.state, "me", None) or {}
    if session is not None:
        return session.person
    return str((me.get("person") or {}).get("id") or "")


def _roles(request: Request) -> set[str]:
    me = getattr(request.state, "me", None) or {}
    return set(me.get("roles", []))


def _t(request: Request, key: str, **params: Any) -> str:
    from web import i18n

    return i18n.translate(getattr(request.state, "lang", "sv"), key, **params)


def _paragraphs(body: str) -> list[list[tuple[str, str]]]:
    """A message's text as paragraphs of lines; a line that is a link of its own becomes one (``("link", href)``)."""
    out: list[list[tuple[str, str]]] = []
    for chunk in re.split(r"\n\s*\n", body.strip()):
        lines: list[tuple[str, str]] = []
        for line in chunk.splitlines():
            line = line.strip()
            if not line:
                continue
            is_link = (line.startswith("https://") or (line.startswith("/") and not line.startswith("//"))) and " " not in line
            lines.append(("link" if is_link else "text", line))
        if lines:
            out.append(lines)
    return out


# --- start page ----------------------------------------------------------------------------------


@provides()
async def tasks(request: Request, me: dict[str, Any]) -> list[Task]:
    inbox = await Api(request).get("notification", f"/persons/{_person_id(request)}/messages", limit=1)
    unread = int(inbox.get("unread") or 0)
    if unread:
        if unread == 1:
            return [Task("messages.task.unread_one", "/inbox", due=True)]
        return [Task("messages.task.unread", "/inbox", params=(("count", unread),), due=True)]
    return [Task("messages.task.none_unread", "/inbox")]


# --- inbox ---------------------------------------------------------------------------------------


@router.get("/inbox")
async def inbox(request: Request, cursor: str | None = None) -> Response:
    page = await Api(request).get("notification", f"/persons/{_person_id(request)}/messages", limit=INBOX_PAGE, cursor=cursor)
    nxt = page.get("next")
    return render(request, "messages/inbox.html", inbox=page, items=page.get("items", []), first=not cursor,
                  next_href=f"/inbox?cursor={nxt}" if nxt else None)


@router.get("/inbox/{message_id}")
async def message(request: Request, message_id: uuid.UUID) -> Response:
    api = Api(request)
    person = _person_id(request)
    # opening a message is reading it: marked read as the API does it (an unknown message is a 404 page)
    _, page = await asyncio.gather(api.post("notification", f"/persons/{person}/messages/{message_id}/read"),
                                   api.get("notification", f"/persons/{person}/messages", limit=200))
    found = None
    cursor: str | None = None
    seen = 0
    while found is None and seen < INBOX_SCAN:
        if cursor:
            page = await api.get("notification", f"/persons/{person}/messages", limit=200, cursor=cursor)
        items = page.get("items", [])
        seen += len(items)
        found = next((m for m in items if m.get("id") == str(message_id)), None)
        cursor = page.get("next")
        if not cursor:
            break
    if found is None:
        return render(request, "core/error.html", status=404, kind="not_found", detail="")
    found = {**found, "read": True}
    return render(request, "messages/message.html", message=found, paragraphs=_paragraphs(str(found.get("body") or "")))


# --- preferences ---------------------------------------------------------------------------------


def _shown_types(request: Request, prefs: dict[str, Any]) -> list[dict[str, Any]]:
    roles = _roles(request)
    staff = bool(roles - {"guardian"})
    return [m for m in prefs.get("messageTypes", []) if staff or m.get("messageType") in GUARDIAN_TYPES]


def _preference_values(prefs: dict[str, Any]) -> dict[str, Any]:
    quiet = prefs.get("quietHours")
    values: dict[str, Any] = {"language": prefs.get("language") or "sv", "quiet": "yes" if quiet else "no",
                              "quiet_start": quiet.get("start") if quiet else "21:00", "quiet_end": quiet.get("end") if quiet else "07:00"}
    for kind in prefs.get("messageTypes", []):
        for channel, mode in (kind.get("channels") or {}).items():
            values[f"{kind['messageType']}--{channel}"] = mode
    return values


def _render_preferences(request: Request, prefs: dict[str, Any], *, values: dict[str, Any], errors: dict[str, str] | None = None,
                        status: int = 200, saved: bool = False, kept: bool = False) -> Response:
    return render(request, "messages/preferences.html", status=status, prefs=prefs, types=_shown_types(request, prefs),
                  channels=CHANNELS, modes=MODES, values=values, errors=errors or {}, saved=saved, kept=kept)


@router.get("/preferences")
async def preferences(request: Request, saved: int = 0) -> Response:
    prefs = await Api(request).get("notification", f"/persons/{_person_id(request)}/preferences")
    values = _preference_values(prefs)
    kept = kept_form(request, request.url.path)
    if kept:
        values.update(dict(kept))
    return _render_preferences(request, prefs, values=values, saved=bool(saved), kept=bool(kept))


@router.post("/preferences")
async def save_preferences(request: Request, form: FormData = Depends(posted_form)) -> Response:
    api = Api(request)
    path = f"/persons/{_person_id(request)}/preferences"
    prefs = await api.get("notification", path)
    before = _preference_values(prefs)
    posted = fields(form)
    values = {**before, **{k: v for k, v in posted.items() if isinstance(v, str)}}
    errors: dict[str, str] = {}
    change: dict[str, Any] = {}
    if values.get("language") not in ("sv", "en"):
        errors["language"] = _t(request, "messages.prefs.error.language")
    else:
        change["language"] = values["language"]
    if values.get("quiet") == "yes":
        start, end = str(values.get("quiet_start", "")).strip(), str(values.get("quiet_end", "")).strip()
        values["quiet_start"], values["quiet_end"] = start, end
        if not TIME.match(start):
            errors["quiet_start"] = _t(request, "messages.prefs.error.time")
        if not TIME.match(end):
            errors["quiet_end"] = _t(request, "messages.prefs.error.time")
        elif start == end:
            errors["quiet_end"] = _t(request, "messages.prefs.error.same_time")
        if not errors.get("quiet_start") and not errors.get("quiet_end"):
            change["quietHours"] = {"start": start, "end": end}
    elif values.get("quiet") == "no":
        change["quietHours"] = None
    else:
        errors["quiet"] = _t(request, "messages.prefs.error.quiet")
    choices: list[dict[str, str]] = []
    names: list[str] = []
    for kind in _shown_types(request, prefs):
        if kind.get("critical"):
            continue
        for channel in CHANNELS:
            name = f"{kind['messageType']}--{channel}"
            mode = values.get(name)
            if mode not in MODES:
                errors[name] = _t(request, "messages.prefs.error.mode")
            elif mode != before.get(name):
                choices.append({"messageType": kind["messageType"], "channel": channel, "mode": str(mode)})
                names.append(name)
    if choices:
        change["choices"] = choices
    if not errors:
        try:
            await api.put("notification", path, change)
        except ApiProblem as exc:
            if exc.status != 422:
                raise
            errors = _preference_errors(request, exc, names)
        else:
            return RedirectResponse("/preferences?saved=1", status_code=303)
    return _render_preferences(request, prefs, values=values, errors=errors, status=422)


def _preference_errors(request: Request, exc: ApiProblem, names: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for field, message in exc.field_errors().items():
        match = re.match(r"^choices\.(\d+)", field)
        if match and int(match.group(1)) < len(names):
            name = names[int(match.group(1))]
            text = "messages.prefs.error.digest_unreachable" if "digest" in message else "messages.prefs.error.still_reached"
            found[name] = _t(request, text)
        elif field.startswith("choices") and names:
            found[names[0]] = _t(request, "messages.prefs.error.still_reached")
        elif field.startswith("quietHours"):
            found["quiet_end"] = _t(request, "messages.prefs.error.same_time")
        elif field == "language":
            found["language"] = _t(request, "messages.prefs.error.language")
    return found or {"language": _t(request, "messages.prefs.error.refused")}


# --- contact details and devices -----------------------------------------------------------------

CONTACT_CHANNELS = ("email", "phone")


def _channel(channel: str) -> str:
    if channel not in CONTACT_CHANNELS:
        from starlette.exceptions import HTTPException

        raise HTTPException(404)
    return channel


@router.get("/contact-details")
async def contact_details(request: Request, done: str | None = None) -> Response:
    contacts = await Api(request).get("notification", "/me/contacts")
    return render(request, "messages/contacts.html", contacts=contacts, done=done if done in ("sent", "confirmed", "removed") else None)


def _render_change(request: Request, channel: str, *, value: str = "", errors: dict[str, str] | None = None, status: int = 200,
                   kept: bool = False) -> Response:
    return render(request, "messages/contact_change.html", status=status, channel=channel, values={"value": value},
                  errors=errors or {}, kept=kept)


@router.get("/contact-details/{channel}")
async def change_contact(request: Request, channel: str) -> Response:
    _channel(channel)
    kept = kept_form(request, request.url.path)
    value = dict(kept).get("value", "") if kept else ""
    return _render_change(request, channel, value=value, kept=bool(kept))


@router.post("/contact-details/{channel}")
async def send_contact_code(request: Request, channel: str, form: FormData = Depends(posted_form)) -> Response:
    _channel(channel)
    value = re.sub(r"[\s\-()]", "", str(form.get("value") or "")) if channel == "phone" else str(form.get("value") or "").strip()
    if channel == "phone" and value.startswith("0") and len(value) > 1:
        value = "+46" + value[1:]  # a Swedish number as people write it: 070… is +4670…
    pattern = EMAIL if channel == "email" else PHONE
    if not value:
        return _render_change(request, channel, value=value, errors={"value": _t(request, f"messages.contacts.error.{channel}_missing")}, status=422)
    if not pattern.match(value):
        return _render_change(request, channel, value=value, errors={"value": _t(request, f"messages.contacts.error.{channel}_format")}, status=422)
    try:
        await Api(request).put("notification", f"/me/contacts/{channel}", {channel: value})
    except ApiProblem as exc:
        if exc.status == 429:
            return _render_change(request, channel, value=value, errors={"value": _t(request, "messages.contacts.error.too_many")}, status=422)
        if exc.status != 422:
            raise
        return _render_change(request, channel, value=value, errors={"value": _t(request, f"messages.contacts.error.{channel}_format")}, status=422)
    return RedirectResponse(f"/contact-details/{channel}/confirm", status_code=303)


def _render_confirm(request: Request, channel: str, contacts: dict[str, Any], *, errors: dict[str, str] | None = None,
                    status: int = 200) -> Response:
    return render(request, "messages/contact_confirm.html", status=status, channel=channel, own=contacts.get(channel) or {},
                  errors=errors or {}, values={})


@router.get("/contact-details/{channel}/confirm")
async def confirm_contact(request: Request, channel: str) -> Response:
    _channel(channel)
    contacts = await Api(request).get("notification", "/me/contacts")
    if not (contacts.get(channel) or {}).get("pending"):
        return RedirectResponse("/contact-details", status_code=303)
    return _render_confirm(request, channel, contacts)


@router.post("/contact-details/{channel}/confirm")
async def confirm_contact_code(request: Request, channel: str, form: FormData = Depends(posted_form)) -> Response:
    _channel(channel)
    api = Api(request)
    code = re.sub(r"\s", "", str(form.get("code") or ""))
    error = None
    if not code:
        error = "messages.contacts.error.code_missing"
    elif not CODE.match(code):
        error = "messages.contacts.error.code_format"
    else:
        try:
            await api.post("notification", f"/me/contacts/{channel}/confirm", {"code": code})
        except ApiProblem as exc:
            if exc.status == 409:
                error = "messages.contacts.error.code_expired"
            elif exc.status == 422:
                error = "messages.contacts.error.code_wrong"
            else:
                raise
        else:
            return RedirectResponse("/contact-details?done=confirmed", status_code=303)
    contacts = await api.get("notification", "/me/contacts")
    return _render_confirm(request, channel, contacts, errors={"code": _t(request, error)}, status=422)


@router.get("/contact-details/{channel}/remove")
async def remove_contact(request: Request, channel: str) -> Response:
    _channel(channel)
    contacts = await Api(request).get("notification", "/me/contacts")
    return render(request, "messages/contact_remove.html", channel=channel, own=contacts.get(channel) or {})


@router.post("/contact-details/{channel}/remove")
async def remove_contact_now(request: Request, channel: str, form: FormData = Depends(posted_form)) -> Response:
    _channel(channel)
    await Api(request).delete("notification", f"/me/contacts/{channel}")
    return RedirectResponse("/contact-details?done=removed", status_code=303)


@router.get("/devices")
async def devices(request: Request, removed: int = 0) -> Response:
    items = await Api(request).all_pages("notification", "/me/devices", limit=100, most=200)
    return render(request, "messages/devices.html", devices=items, removed=bool(removed))


async def _device(request: Request, device_id: uuid.UUID) -> dict[str, Any]:
    items = await Api(request).all_pages("notification", "/me/devices", limit=100, most=200)
    found = next((d for d in items if d.get("id") == str(device_id)), None)
    if found is None:
        from starlette.exceptions import HTTPException

        raise HTTPException(404)
    return found


@router.get("/devices/{device_id}/remove")
async def remove_device(request: Request, device_id: uuid.UUID) -> Response:
    return render(request, "messages/device_remove.html", device=await _device(request, device_id))


@router.post("/devices/{device_id}/remove")
async def remove_device_now(request: Request, device_id: uuid.UUID, form: FormData = Depends(posted_form)) -> Response:
    await Api(request).delete("notification", f"/me/devices/{device_id}")
    return RedirectResponse("/devices?removed=1", status_code=303)


# --- the apps at my child's school ---------------------------------------------------------------


@router.get("/school-apps")
async def school_apps(request: Request) -> Response:
    me = getattr(request.state, "me", None) or {}
    schools = [s for s in me.get("schoolUnits", []) if s.get("id")]
    api = Api(request)
    lists = await asyncio.gather(*(api.all_pages("catalog", f"/public/school-units/{s['id']}/apps", limit=100, most=500) for s in schools))
    return render(request, "messages/school_apps.html", schools=list(zip(schools, lists, strict=True)))


# --- broadcasts ----------------------------------------------------------------------------------


async def _my_schools(api: Api) -> list[dict[str, Any]]:
    schools = await api.all_pages("notification", "/school-units", limit=200, most=2000)
    return sorted(schools, key=lambda s: str(s.get("name") or ""))


@router.get("/broadcasts")
async def broadcasts(request: Request, cursor: str | None = None) -> Response:
    page = await Api(request).get("notification", "/broadcasts", limit=20, cursor=cursor)
    nxt = page.get("next")
    return render(request, "messages/broadcasts.html", page=page, items=page.get("items", []),
                  next_href=f"/broadcasts?cursor={nxt}" if nxt else None)


def _seal_draft(request: Request, draft: dict[str, Any]) -> str:
    packed = base64.urlsafe_b64encode(zlib.compress(json.dumps(draft).encode(), 9)).decode()
    return sealer(request).seal(DRAFT_COOKIE, {"z": packed})


def _open_draft(request: Request) -> dict[str, Any] | None:
    doc = sealer(request).open(DRAFT_COOKIE, request.cookies.get(DRAFT_COOKIE), max_age=6 * 3600)
    if not doc or not isinstance(doc.get("z"), str):
        return None
    try:
        draft = json.loads(zlib.decompress(base64.urlsafe_b64decode(doc["z"])))
    except (ValueError, zlib.error):
        return None
    return draft if isinstance(draft, dict) else None


def _draft_from(values: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(values.get("id") or uuid.uuid4()), "kind": str(values.get("kind") or ""), "school": str(values.get("school") or ""),
            "subject": str(values.get("subject") or "").strip(), "body": str(values.get("body") or "").strip(),
            "link": str(values.get("link") or "").strip(), "critical": "yes" if values.get("critical") == "yes" else ""}


def _check_draft(request: Request, draft: dict[str, Any], schools: list[dict[str, Any]]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if draft["kind"] not in ("guardians", "staff"):
        errors["kind"] = _t(request, "messages.compose.error.kind")
    if draft["school"] != "all" and draft["school"] not in {str(s.get("id")) for s in schools}:
        errors["school"] = _t(request, "messages.compose.error.school")
    if not draft["subject"]:
        errors["subject"] = _t(request, "messages.compose.error.subject_missing")
    elif len(draft["subject"]) > SUBJECT_MAX:
        errors["subject"] = _t(request, "messages.compose.error.subject_long", most=SUBJECT_MAX)
    if not draft["body"]:
        errors["body"] = _t(request, "messages.compose.error.body_missing")
    elif len(draft["body"]) > BODY_MAX:
        errors["body"] = _t(request, "messages.compose.error.body_long", most=BODY_MAX)
    link = draft["link"]
    if link and (len(link) > LINK_MAX or not (link.startswith("https://") or (link.startswith("/") and not link.startswith("//")))
                 or re.search(r"\s", link)):
        errors["link"] = _t(request, "messages.compose.error.link")
    return errors


def _audience(draft: dict[str, Any]) -> dict[str, Any]:
    return {"kind": draft["kind"], "schoolUnitIds": [] if draft["school"] == "all" else [draft["school"]]}


def _render_compose(request: Request, schools: list[dict[str, Any]], values: dict[str, Any], *, errors: dict[str, str] | None = None,
                    status: int = 200, kept: bool = False) -> Response:
    return render(request, "messages/compose.html", status=status, schools=schools, values=values, errors=errors or {}, kept=kept,
                  subject_max=SUBJECT_MAX, body_max=BODY_MAX)


@router.get("/broadcasts/new")
async def compose(request: Request) -> Response:
    schools = await _my_schools(Api(request))
    values: dict[str, Any] = _open_draft(request) or {"kind": "guardians", "school": str(schools[0]["id"]) if len(schools) == 1 else "all"}
    kept = kept_form(request, request.url.path)
    if kept:
        values = {**values, **dict(kept)}
    return _render_compose(request, schools, values, kept=bool(kept))


async def _render_check(request: Request, api: Api, draft: dict[str, Any], schools: list[dict[str, Any]]) -> Response:
    preview = await api.post("notification", "/broadcasts/audience", _audience(draft))
    names = {str(s.get("id")): s.get("name") for s in schools}
    per_school = sorted(((names.get(k) or k, n) for k, n in (preview.get("perSchoolUnit") or {}).items()), key=lambda kv: str(kv[0]))
    return render(request, "messages/check.html", draft=draft, preview=preview, per_school=per_school,
                  school_name=names.get(draft["school"]) if draft["school"] != "all" else None)


@router.post("/broadcasts/new")
async def compose_post(request: Request, form: FormData = Depends(posted_form)) -> Response:
    api = Api(request)
    schools = await _my_schools(api)
    previous = _open_draft(request) or {}
    draft = _draft_from({**fields(form), "id": previous.get("id")})
    errors = _check_draft(request, draft, schools)
    if errors:
        return _render_compose(request, schools, draft, errors=errors, status=422)
    sealed = _seal_draft(request, draft)
    if len(sealed) > DRAFT_MAX:  # too long for a cookie: the check page carries the draft in its own form
        return await _render_check(request, api, draft, schools)
    response = RedirectResponse("/broadcasts/new/check", status_code=303)
    set_cookie(request, response, DRAFT_COOKIE, sealed, max_age=6 * 3600)
    return response


@router.get("/broadcasts/new/check")
async def check(request: Request) -> Response:
    draft = _open_draft(request)
    if draft is None:
        return RedirectResponse("/broadcasts/new", status_code=303)
    api = Api(request)
    return await _render_check(request, api, draft, await _my_schools(api))


@router.post("/broadcasts/new/check")
async def send(request: Request, form: FormData = Depends(posted_form)) -> Response:
    api = Api(request)
    schools = await _my_schools(api)
    posted = fields(form)
    try:
        uuid.UUID(str(posted.get("id")))
    except ValueError:
        posted["id"] = None
    draft = _draft_from(posted)
    errors = _check_draft(request, draft, schools)
    if not errors:
        body: dict[str, Any] = {"id": draft["id"], "audience": _audience(draft), "subject": draft["subject"], "body": draft["body"],
                                "critical": draft["critical"] == "yes"}
        if draft["link"]:
            body["link"] = draft["link"]
        try:
            sent = await api.post("notification", "/broadcasts", body)
        except ApiProblem as exc:
            if exc.status not in (409, 422):
                raise
            errors = _send_errors(request, exc)
        else:
            response = RedirectResponse(f"/broadcasts/{sent['id']}?sent=1", status_code=303)
            response.delete_cookie(DRAFT_COOKIE, path="/")
            return response
    return _render_compose(request, schools, draft, errors=errors, status=422)


def _send_errors(request: Request, exc: ApiProblem) -> dict[str, str]:
    found: dict[str, str] = {}
    for field in exc.field_errors():
        if field.startswith("audience"):
            found["school"] = _t(request, "messages.compose.error.school")
        elif field in ("subject", "body", "link"):
            found[field] = _t(request, f"messages.compose.error.{field}_refused")
    return found or {"subject": _t(request, "messages.compose.error.refused")}


def _days_since(moment: Any) -> int:
    """The worklist's window (``?days=``, 1–366) that still holds a broadcast sent at ``moment``."""
    try:
        sent = datetime.fromisoformat(str(moment).replace("Z", "+00:00"))
    except ValueError:
        return 30
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    return max(1, min(366, (datetime.now(UTC) - sent).days + 2))


@router.get("/broadcasts/{broadcast_id}")
async def broadcast(request: Request, broadcast_id: uuid.UUID, sent: int = 0) -> Response:
    api = Api(request)
    summary, schools = await asyncio.gather(api.get("notification", f"/broadcasts/{broadcast_id}"), _my_schools(api))
    names = {str(s.get("id")): s.get("name") for s in schools}
    audience = summary.get("audience") or {}
    unit_ids = [str(u) for u in audience.get("schoolUnitIds") or []] or list(names)
    unreached: list[dict[str, Any]] = []
    if audience.get("kind") == "guardians" and unit_ids:
        days = _days_since(summary.get("createdAt"))
        pages = await asyncio.gather(*(api.get("notification", f"/school-units/{unit}/unreached", reason=UNREACHED_REASON,
                                               broadcastId=str(broadcast_id), days=days, limit=200) for unit in unit_ids[:50]),
                                     return_exceptions=True)
        for unit, page in zip(unit_ids, pages, strict=False):
            if isinstance(page, ApiProblem) and page.status in (403, 404):
                continue
            if isinstance(page, BaseException):
                raise page
            for item in page.get("items", []):
                mine = [m for m in item.get("messages", []) if m.get("broadcastId") in (None, str(broadcast_id))]
                if mine:
                    unreached.append({"person": item.get("person"), "school": names.get(unit), "messages": mine})
    return render(request, "messages/broadcast.html", summary=summary, sent=bool(sent), unreached=unreached,
                  school_names=[names.get(u) or "" for u in (audience.get("schoolUnitIds") or [])])
