"""The web app's settings, from the environment (SKOLIT_WEB_*)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from shared.settings import SERVICES

#: the development session key; taken only where SKOLIT_WEB_DEV is on (make run, the tests), never in production
DEV_SESSION_SECRET = "skolit-web-dev-session-key-not-for-production"
DEFAULT_PORTS = {"assessment": 8101, "catalog": 8102, "reporting": 8103, "notification": 8104}
CONNECTOR_PORT = 8105


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class WebSettings:
    port: int = 3000
    #: where people reach the app (message links, the OpenID redirect): http://localhost:3000 in make run
    base_url: str = "http://localhost:3000"
    #: each service's base URL, without /v1
    services: dict[str, str] = field(default_factory=dict)
    oidc_issuer: str = "http://127.0.0.1:8110"
    #: the issuer as the server reaches it, when that differs from what browsers use (a container network)
    oidc_internal_issuer: str | None = None
    client_id: str = "skolit-web"
    resource: str = "urn:skolit:api"
    session_secret: str = DEV_SESSION_SECRET
    #: development: the persona sign-in page, the development session key
    dev: bool = False
    #: JSON list of personas ({login, label, role}) the development sign-in page lists
    dev_personas: str | None = None
    #: how long a session lasts at most (the access token's own expiry ends it sooner)
    session_hours: int = 8
    #: the city's connector (connectors/), base URL without /v1: city admins' imports of the city's figures and launch logs
    connector_url: str = "http://127.0.0.1:8105"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def redirect_uri(self) -> str:
        return self.base_url.rstrip("/") + "/callback"

    @classmethod
    def from_env(cls) -> WebSettings:
        port = int(os.environ.get("SKOLIT_WEB_PORT", "3000"))
        dev = _flag("SKOLIT_WEB_DEV")
        secret = os.environ.get("SKOLIT_WEB_SESSION_SECRET") or ""
        if not secret:
            if not dev:
                raise SystemExit("SKOLIT_WEB_SESSION_SECRET is required (at least 32 characters); SKOLIT_WEB_DEV=true uses a development key")
            secret = DEV_SESSION_SECRET
        if len(secret) < 32:
            raise SystemExit("SKOLIT_WEB_SESSION_SECRET must be at least 32 characters")
        services = {name: os.environ.get(f"SKOLIT_WEB_{name.upper()}_URL") or f"http://127.0.0.1:{os.environ.get(f'SKOLIT_{name.upper()}_PORT', DEFAULT_PORTS[name])}"
                    for name in SERVICES}
        return cls(
            port=port,
            base_url=(os.environ.get("SKOLIT_WEB_BASE_URL") or f"http://localhost:{port}").rstrip("/"),
            services={k: v.rstrip("/") for k, v in services.items()},
            oidc_issuer=(os.environ.get("SKOLIT_WEB_OIDC_ISSUER") or os.environ.get("SKOLIT_JWT_ISSUER") or "http://127.0.0.1:8110").rstrip("/"),
            oidc_internal_issuer=(os.environ.get("SKOLIT_WEB_OIDC_INTERNAL_ISSUER") or "").rstrip("/") or None,
            client_id=os.environ.get("SKOLIT_WEB_CLIENT_ID", "skolit-web"),
            resource=os.environ.get("SKOLIT_WEB_RESOURCE", "urn:skolit:api"),
            session_secret=secret,
            dev=dev,
            dev_personas=os.environ.get("SKOLIT_WEB_DEV_PERSONAS") or None,
            session_hours=int(os.environ.get("SKOLIT_WEB_SESSION_HOURS", "8")),
            connector_url=(os.environ.get("SKOLIT_WEB_CONNECTOR_URL")
                           or f"http://127.0.0.1:{os.environ.get('SKOLIT_CONNECTOR_PORT', CONNECTOR_PORT)}").rstrip("/"),
        )
