"""Headers every answer carries, and the CSRF check every posted form passes.

The Content-Security-Policy allows scripts, styles and images from the app itself only: no inline script, no inline
style, nothing from elsewhere, no framing. Every form carries ``csrf_token`` (the session's secret, or for a visitor
who is not signed in — the pulse — a random value in its own cookie); a post without the right one is refused
(403) before anything happens. JavaScript posts send it in ``X-CSRF-Token``.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from web.api import SignInAgain
from web.session import current, ended, set_cookie

ANON_CSRF_COOKIE = "skolit_csrf"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class CsrfRefused(Exception):
    pass


def csrf_value(request: Request) -> tuple[str, bool]:
    """The value forms must echo; True when a new visitor cookie has to be set."""
    session = current(request) or ended(request)
    if session is not None:
        return session.csrf, False
    existing = request.cookies.get(ANON_CSRF_COOKIE)
    if existing and len(existing) >= 20:
        return existing, False
    return secrets.token_urlsafe(24), True


def remember_visitor(request: Request, response: Response, value: str) -> None:
    set_cookie(request, response, ANON_CSRF_COOKIE, value, max_age=None)


async def visitor_form(request: Request) -> FormData:
    """The posted form after its CSRF check, signed in or not (the pulse, signing out)."""
    form = await request.form()
    request.state.posted_fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    sent = form.get("csrf_token") or request.headers.get("x-csrf-token") or ""
    if not isinstance(sent, str) or not secrets.compare_digest(sent, request.state.csrf):
        raise CsrfRefused()
    return form


async def posted_form(request: Request) -> FormData:
    """The posted form of a signed-in person after its CSRF check (the dependency of every such POST handler). Posted
    after the session ended (its token is still the ended session's), it is kept and the person sent to sign in again
    (web/app.py) — before the handler does anything with it."""
    form = await visitor_form(request)
    if current(request) is None:
        raise SignInAgain()
    return form


def fields(form: FormData) -> dict[str, Any]:
    """The form as a dict: a repeated name (checkboxes) gives a list."""
    out: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key == "csrf_token" or not isinstance(value, str):
            continue
        if key in out:
            out[key] = [*out[key], value] if isinstance(out[key], list) else [out[key], value]
        else:
            out[key] = value
    return out
