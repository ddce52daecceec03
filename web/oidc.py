"""Signing in with the city's OpenID Connect provider: authorization code flow with PKCE (S256), state and nonce.

The web app is a public client (``skolit-web``, no client secret, as the city registers it). It asks for an access
token for Skolit's API (the resource indicator ``urn:skolit:api``) and keeps it in the session cookie; the services
verify it against the provider's keys and derive the person's roles from the city's data. The code is exchanged
over the back channel, so the tokens never pass through the browser's address bar.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import jwt

from web.settings import WebSettings


class SignInError(RuntimeError):
    """The provider refused or the answer did not fit the sign-in under way; ``reason`` is safe to log."""


@dataclass(frozen=True)
class Started:
    url: str
    state: dict[str, str]


@dataclass(frozen=True)
class SignedIn:
    person: str
    name: str | None
    token: str
    expires: float


def _internal(settings: WebSettings, url: str) -> str:
    """The provider's endpoint as this server reaches it (the browser may use another host name for the same provider)."""
    if not settings.oidc_internal_issuer or not url.startswith(settings.oidc_issuer):
        return url
    return settings.oidc_internal_issuer + url[len(settings.oidc_issuer):]


class Provider:
    def __init__(self, settings: WebSettings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self._metadata: dict[str, Any] | None = None
        self._fetched = 0.0

    async def metadata(self) -> dict[str, Any]:
        # Discovery once an hour: the endpoints rarely change, and the provider may be down when the app starts.
        if self._metadata is None or time.monotonic() - self._fetched > 3600:
            url = _internal(self.settings, self.settings.oidc_issuer + "/.well-known/openid-configuration")
            r = await self.http.get(url, timeout=10)
            r.raise_for_status()
            self._metadata = r.json()
            self._fetched = time.monotonic()
        return self._metadata

    async def start(self, return_to: str, login_hint: str | None = None, lang: str = "sv") -> Started:
        meta = await self.metadata()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        params = {
            "client_id": self.settings.client_id, "response_type": "code", "redirect_uri": self.settings.redirect_uri,
            "scope": "openid profile groups api", "resource": self.settings.resource, "state": state, "nonce": nonce,
            "code_challenge": challenge, "code_challenge_method": "S256", "ui_locales": lang,
        }
        if login_hint:
            params["login_hint"] = login_hint
        parts = urlsplit(meta["authorization_endpoint"])
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(params), ""))
        return Started(url, {"state": state, "nonce": nonce, "verifier": verifier, "next": return_to})

    async def finish(self, pending: dict[str, str], code: str, state: str) -> SignedIn:
        if not secrets.compare_digest(pending.get("state", ""), state):
            raise SignInError("the state came back changed")
        meta = await self.metadata()
        r = await self.http.post(_internal(self.settings, meta["token_endpoint"]), timeout=15, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": self.settings.redirect_uri,
            "client_id": self.settings.client_id, "code_verifier": pending["verifier"], "resource": self.settings.resource,
        })
        if r.status_code != 200:
            raise SignInError(f"the token endpoint answered {r.status_code}: {r.text[:200]}")
        tokens = r.json()
        access = tokens.get("access_token")
        if not isinstance(access, str):
            raise SignInError("no access token")
        # Received straight from the token endpoint over the back channel (OpenID Connect Core 3.1.3.7): the signatures
        # are the services' to check on every call; here the claims are read to check the nonce and to name the person.
        id_claims = jwt.decode(tokens["id_token"], options={"verify_signature": False}) if tokens.get("id_token") else {}
        if id_claims and id_claims.get("nonce") != pending.get("nonce"):
            raise SignInError("the nonce came back changed")
        claims = jwt.decode(access, options={"verify_signature": False})
        person = str(claims.get("sub") or id_claims.get("sub") or "")
        if not person:
            raise SignInError("the token names no person")
        expires = float(claims.get("exp") or time.time() + int(tokens.get("expires_in", 3600)))
        expires = min(expires, time.time() + self.settings.session_hours * 3600)
        name = claims.get("name") or id_claims.get("name")
        return SignedIn(person, str(name) if name else None, access, expires)
