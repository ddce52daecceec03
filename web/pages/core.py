"""The pages every person uses: the start page, signing in and out, the language, the accessibility statement."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from web.api import ApiProblem, ServiceUnavailable
from web.oidc import SignInError
from web.rendering import render
from web.security import visitor_form
from web.session import LANG_COOKIE, LOGIN_COOKIE, Session, current, forget, remember, sealer, set_cookie
from web.tasks import PROVIDERS, Task

router = APIRouter()
log = logging.getLogger("web.signin")


def safe_next(value: str | None) -> str:
    """Only a path of this app: never another site (an open redirect would make Skolit's sign-in a phishing aid)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


async def _tasks(request: Request, me: dict[str, Any]) -> list[Task]:
    roles = set(me.get("roles", []))
    wanted = [fn for who, fn in PROVIDERS if not who or roles & who]
    found = await asyncio.gather(*(fn(request, me) for fn in wanted), return_exceptions=True)
    tasks: list[Task] = []
    for result in found:
        if isinstance(result, (ServiceUnavailable, ApiProblem)):
            log.warning("a start-page task could not be had: %s", result)
        elif isinstance(result, BaseException):
            raise result
        else:
            tasks.extend(result)
    return sorted(tasks, key=lambda task: not task.due)


@router.get("/")
async def start(request: Request) -> Response:
    if current(request) is None or request.state.me is None:
        return render(request, "core/welcome.html", personas=_personas(request))
    return render(request, "core/start.html", tasks=await _tasks(request, request.state.me))


def _personas(request: Request) -> list[dict[str, str]]:
    settings = request.app.state.settings
    if not settings.dev or not settings.dev_personas:
        return []
    try:
        return list(json.loads(Path(settings.dev_personas).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return []


@router.get("/login")
async def login(request: Request, next: str | None = None, hint: str | None = None) -> Response:
    started = await request.app.state.provider.start(safe_next(next), login_hint=hint if request.app.state.settings.dev else None,
                                                      lang=request.state.lang)
    response = RedirectResponse(started.url, status_code=303)
    set_cookie(request, response, LOGIN_COOKIE, sealer(request).seal(LOGIN_COOKIE, started.state), max_age=600)
    return response


@router.get("/callback")
async def callback(request: Request, code: str | None = None, state: str | None = None, error: str | None = None) -> Response:
    pending = sealer(request).open(LOGIN_COOKIE, request.cookies.get(LOGIN_COOKIE), max_age=600)
    if error or not code or not state or pending is None:
        return render(request, "core/error.html", status=400, kind="sign_in", detail=error or "")
    try:
        signed_in = await request.app.state.provider.finish(pending, code, state)
    except SignInError as exc:
        log.warning("sign-in refused: %s", exc)
        return render(request, "core/error.html", status=400, kind="sign_in")
    response = RedirectResponse(safe_next(pending.get("next")), status_code=303)
    remember(request, response, Session(signed_in.person, signed_in.name, signed_in.token, signed_in.expires))
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, form: FormData = Depends(visitor_form)) -> Response:
    response = RedirectResponse("/signed-out", status_code=303)
    forget(response)
    return response


@router.get("/session-ended")
async def session_ended(request: Request, next: str | None = None) -> Response:
    """After a form was posted once the session had ended: what was written is kept; sign in again to go on. (A page of
    its own, not a redirect to the provider: the CSP's form-action allows a form's redirects to this site only.)"""
    return render(request, "core/session_ended.html", next_path=safe_next(next))


@router.get("/signed-out")
async def signed_out(request: Request) -> Response:
    return render(request, "core/signed_out.html")


@router.get("/language")
async def switch_language(request: Request, to: str = "sv", next: str | None = None) -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if to in ("sv", "en"):
        set_cookie(request, response, LANG_COOKIE, to, max_age=365 * 24 * 3600)
    return response


@router.get("/accessibility")
async def accessibility(request: Request) -> Response:
    return render(request, "core/accessibility.html")

