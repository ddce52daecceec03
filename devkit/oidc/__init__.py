"""The city's OpenID provider for development and tests: devkit/oidc/provider.mjs (panva's oidc-provider, a real
Node.js process), and a client that signs a person in the way the web app does — authorization code flow with PKCE
over HTTP, through the provider's own login form and consent step — and returns the JWT access token the services
verify against the provider's JWKS. Used by the test stack (tests/support/oidc.py), `make run` (devkit/devstack.py)
and `python -m devkit.token_cli --sign-in`."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from devkit.embedded import free_port

OIDC_DIR = Path(__file__).resolve().parent
CLIENT_ID = "skolit-web"
REDIRECT_URI = "http://127.0.0.1:8765/callback"  # never served: the code is read from the redirect itself
AUDIENCE = "skolit"
#: resource indicators of devkit/oidc/provider.mjs: the same API, access tokens signed with either key
RESOURCES = {"RS256": "urn:skolit:api", "ES256": "urn:skolit:api:es256"}
#: the IdP groups that give the administrative roles (SKOLIT_OIDC_ROLE_GROUPS)
ROLE_GROUPS = {"city_admin": "skolit-stadsadmin", "district_admin": "skolit-omradesadmin", "it_admin": "skolit-it",
               "data_protection": "skolit-dataskydd"}
PASSWORD = "skolit-dev-password"


class SignInFailed(RuntimeError):
    pass


@dataclass
class User:
    login: str
    sub: str
    groups: list[str] = field(default_factory=list)
    password: str = PASSWORD
    name: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"sub": self.sub, "password": self.password, "groups": self.groups, **({"name": self.name} if self.name else {})}


def node() -> str:
    found = shutil.which("node")
    if found is None:
        raise RuntimeError("node (Node.js >= 20) is needed for the OpenID provider: devkit/oidc")
    return found


def ensure_installed() -> None:
    """`make install` runs `npm ci --prefix devkit/oidc`; a checkout that skipped it gets it here."""
    if (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    subprocess.run(["npm", "ci", "--prefix", str(OIDC_DIR), "--no-audit", "--no-fund", "--silent"], check=True, timeout=300)


class OidcProvider:
    """devkit/oidc/provider.mjs as a child process on 127.0.0.1, with its users file in ``workdir`` (read at every
    sign-in, so ``add_users`` registers people while it runs) and its log in ``workdir/oidc.log``."""

    def __init__(self, workdir: Path, users: list[User] | None = None, port: int | None = None, *,
                 redirect_uris: tuple[str, ...] = (REDIRECT_URI,)) -> None:
        self.workdir = workdir
        self.redirect_uris = redirect_uris
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.users: dict[str, User] = {u.login: u for u in users or []}
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self._lock = threading.Lock()

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    def env(self) -> dict[str, str]:
        """What a service needs to take this provider's tokens (with the group → role mapping)."""
        return {
            "SKOLIT_JWT_JWKS_URL": self.jwks_url,
            "SKOLIT_JWT_ISSUER": self.issuer,
            "SKOLIT_JWT_AUDIENCE": AUDIENCE,
            "SKOLIT_OIDC_PERSON_CLAIM": "sub",
            "SKOLIT_OIDC_GROUPS_CLAIM": "groups",
            "SKOLIT_OIDC_ROLE_GROUPS": ",".join(f"{role}={group}" for role, group in ROLE_GROUPS.items()),
        }

    def _write_users(self) -> Path:
        """Written to a temporary file and renamed: the provider never reads half a file."""
        path = self.workdir / "oidc-users.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({login: u.as_json() for login, u in self.users.items()}, indent=1), encoding="utf-8")
        tmp.replace(path)
        return path

    def start(self) -> OidcProvider:
        ensure_installed()
        users = self._write_users()
        self._log = open(self.workdir / "oidc.log", "ab")  # noqa: SIM115 - the child writes to it until stop()
        log = self._log
        self.proc = subprocess.Popen(
            [node(), str(OIDC_DIR / "provider.mjs"), "--issuer", self.issuer, "--port", str(self.port), "--users", str(users),
             *(a for uri in self.redirect_uris for a in ("--redirect-uri", uri))],
            stdout=log, stderr=subprocess.STDOUT, cwd=OIDC_DIR, env={**os.environ, "NODE_ENV": "development"},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the OpenID provider exited ({self.proc.returncode}); see {self.workdir / 'oidc.log'}")
            try:
                if httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the OpenID provider did not start; see {self.workdir / 'oidc.log'}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def add_users(self, users: list[User]) -> None:
        """Registers people while the provider runs (it reads its users file at every sign-in)."""
        with self._lock:
            self.users.update({u.login: u for u in users})
            self._write_users()

    # --- signing in ------------------------------------------------------------------------------------------

    def token_for(self, login: str, *, alg: str = "RS256", password: str | None = None) -> str:
        """The access token the provider issues to ``login`` after a full authorization code flow with PKCE."""
        user = self.users.get(login)
        return sign_in(self.issuer, login, password if password is not None else (user.password if user else PASSWORD), alg=alg)

    def auth(self, login: str, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": "Bearer " + self.token_for(login, **kwargs)}


def sign_in(issuer: str, login: str, password: str, *, alg: str = "RS256", redirect_uri: str = REDIRECT_URI) -> str:
    """Signs ``login`` in at the provider as the web app would — authorization request with PKCE, the login form, the
    consent step, the code exchanged at the token endpoint — and returns the access token (a JWT for Skolit's API)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    with httpx.Client(base_url=issuer, follow_redirects=False, timeout=30) as http:
        r = http.get("/auth", params={
            "client_id": CLIENT_ID, "response_type": "code", "redirect_uri": redirect_uri, "scope": "openid groups api",
            "resource": RESOURCES[alg], "state": state, "code_challenge": challenge, "code_challenge_method": "S256",
            "prompt": "login consent",
        })
        code = None
        for _ in range(12):
            if r.status_code not in (302, 303):
                raise SignInFailed(f"{login}: the provider answered {r.status_code}: {r.text[:300]}")
            location = urljoin(str(r.url), r.headers["location"])
            if location.startswith(redirect_uri):
                query = parse_qs(urlsplit(location).query)
                if "error" in query:
                    raise SignInFailed(f"{login}: {query['error'][0]}: {query.get('error_description', [''])[0]}")
                if query.get("state") != [state]:
                    raise SignInFailed(f"{login}: the state came back changed")
                code = query["code"][0]
                break
            path = urlsplit(location).path
            if path.startswith("/interaction/"):
                page = http.get(path)
                if page.status_code != 200:
                    raise SignInFailed(f"{login}: interaction page {page.status_code}: {page.text[:300]}")
                if 'name="password"' in page.text:
                    r = http.post(f"{path}/login", data={"login": login, "password": password})
                else:
                    r = http.post(f"{path}/confirm")
            else:
                r = http.get(location)
        if code is None:
            raise SignInFailed(f"{login}: no authorization code after the interactions")
        tokens = http.post("/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "client_id": CLIENT_ID,
            "code_verifier": verifier, "resource": RESOURCES[alg],
        })
        if tokens.status_code != 200:
            raise SignInFailed(f"{login}: token endpoint {tokens.status_code}: {tokens.text[:300]}")
        return str(tokens.json()["access_token"])
