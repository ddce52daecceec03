"""Sessions in encrypted cookies: nothing about a session is kept on the server, so any replica serves any request.

The cookie holds the person's access token; it is encrypted and authenticated (Fernet: AES-128-CBC + HMAC-SHA256) under
a key derived from SKOLIT_WEB_SESSION_SECRET, HttpOnly (no script reads it), SameSite=Lax (not sent on cross-site
posts) and Secure behind https. No token is ever put in a URL or in the browser's storage.

Three cookies, each with one purpose:
- ``skolit_session``: who is signed in (person, name, access token, its expiry) and the CSRF secret;
- ``skolit_login``: the state, nonce, PKCE verifier and return path of a sign-in under way (ten minutes);
- ``skolit_kept``: a form posted after the session ended, kept until the person has signed in again (web/app.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "skolit_session"
LOGIN_COOKIE = "skolit_login"
KEPT_COOKIE = "skolit_kept"
LANG_COOKIE = "skolit_lang"
#: a browser keeps at most about 4 KB per cookie: a kept form larger than this is not kept (the autosave has it)
MAX_COOKIE = 3800


@dataclass
class Session:
    person: str
    name: str | None
    token: str
    expires: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires


class Sealer:
    """Encrypts and authenticates small JSON documents for cookies, with a purpose bound into each."""

    def __init__(self, secret: str) -> None:
        key = hashlib.sha256(("skolit-web-cookies:" + secret).encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, purpose: str, value: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps({"p": purpose, "v": value}, separators=(",", ":")).encode()).decode()

    def open(self, purpose: str, sealed: str | None, max_age: int | None = None) -> dict[str, Any] | None:
        if not sealed:
            return None
        try:
            raw = self._fernet.decrypt(sealed.encode(), ttl=max_age)
            doc = json.loads(raw)
        except (InvalidToken, ValueError):
            return None
        if not isinstance(doc, dict) or doc.get("p") != purpose or not isinstance(doc.get("v"), dict):
            return None
        return doc["v"]


def sealer(request: Request) -> Sealer:
    return request.app.state.sealer


def current(request: Request) -> Session | None:
    """The signed-in person's session, or None (no cookie, tampered, or the token expired)."""
    if "session" in vars(request.state)["_state"]:
        cached: Session | None = request.state.session
        return cached
    doc = sealer(request).open(SESSION_COOKIE, request.cookies.get(SESSION_COOKIE))
    session = None
    if doc is not None:
        try:
            session = Session(**doc)
        except TypeError:
            session = None
    if session is not None and session.expired:
        # kept aside: a form the page gave out before the session ended still carries this session's CSRF token, and
        # must pass that check to be kept for after the next sign-in (web/app.py) instead of being refused
        request.state.ended_session = session
        session = None
    request.state.session = session
    return session


def ended(request: Request) -> Session | None:
    """The session that just expired, if the cookie still holds one (its CSRF secret stays valid for keeping a form)."""
    current(request)
    return getattr(request.state, "ended_session", None)


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
    secure = request.app.state.settings.secure_cookies
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/")


#: how long the browser keeps the cookie after the session inside it ended: a form posted in that time still proves
#: it came from this site (the ended session's CSRF token) and is kept for after the next sign-in
ENDED_GRACE_SECONDS = 12 * 3600


def remember(request: Request, response: Response, session: Session) -> None:
    set_cookie(request, response, SESSION_COOKIE, sealer(request).seal(SESSION_COOKIE, asdict(session)),
               max_age=max(60, int(session.expires - time.time())) + ENDED_GRACE_SECONDS)


def forget(response: Response) -> None:
    for name in (SESSION_COOKIE, LOGIN_COOKIE, KEPT_COOKIE):
        response.delete_cookie(name, path="/")


def keep_form(request: Request, response: Response, path: str, fields: list[tuple[str, str]]) -> bool:
    """Keeps a form the person posted after their session ended, to fill it in again once they are back."""
    value = sealer(request).seal(KEPT_COOKIE, {"path": path, "fields": [[k, v] for k, v in fields if k != "csrf_token"]})
    if len(value) > MAX_COOKIE:
        return False
    set_cookie(request, response, KEPT_COOKIE, value, max_age=3600)
    return True


def kept_form(request: Request, path: str) -> list[tuple[str, str]] | None:
    doc = sealer(request).open(KEPT_COOKIE, request.cookies.get(KEPT_COOKIE), max_age=3600)
    if not doc or doc.get("path") != path:
        return None
    return [(str(k), str(v)) for k, v in doc.get("fields", [])]
