"""The SS 12000 connector's settings (the city's API and how often to sync), from the environment.

The process's own settings (database, Kafka, port 8105, tokens) are ``shared.settings.Settings.from_env("connector")``
like every Skolit service's; these are the SS 12000 side. Without ``SKOLIT_SS12000_URL`` the process still serves
(the imports, its health and metrics) and says the sync is not configured.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from shared.settings import CONNECTOR

SERVICE = CONNECTOR
#: the CloudEvents source of what the connector publishes
SOURCE = "city.ss12000"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _number(name: str, default: float, low: float, high: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}: {raw!r} is not a number") from None
    if not low <= value <= high:
        raise ValueError(f"{name}: {value:g} is not between {low:g} and {high:g}")
    return value


@dataclass(frozen=True)
class Ss12000Settings:
    #: the API's base URL, e.g. https://ss12000.city.example/v2 (SKOLIT_SS12000_URL); None: the sync is not configured
    url: str | None = None
    #: the OAuth2 token endpoint (SKOLIT_SS12000_TOKEN_URL; default <url>/token)
    token_url: str | None = None
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    #: optional OAuth2 scope (SKOLIT_SS12000_SCOPE)
    scope: str | None = None
    #: entities asked for per page (SKOLIT_SS12000_PAGE_SIZE)
    page_size: int = 500
    #: the periodic sync, the safety net beside the webhooks (SKOLIT_SS12000_SYNC_SECONDS)
    sync_seconds: float = 900.0
    #: this process's public base URL as the city's API reaches it (SKOLIT_SS12000_WEBHOOK_URL): a subscription is made
    #: with target <webhook_url>/webhooks/ss12000/<secret>; None: no webhooks, the periodic sync only
    webhook_url: str | None = None
    #: an incremental sync asks for what was modified since the last high-water mark minus this much, so an entity
    #: written with a slightly older timestamp than one already seen is not missed (fingerprints drop the repeats)
    overlap_seconds: float = 60.0
    #: a webhook call starts an incremental sync this long after it, so a burst of calls makes one sync
    debounce_seconds: float = 2.0
    #: attempts of one request on 429, 5xx and network errors before the sync gives up (and the next one retries)
    max_attempts: int = 8
    #: the cap of one backoff wait, seconds
    backoff_cap_seconds: float = 30.0
    #: how long one request may take, seconds
    request_timeout_seconds: float = 30.0

    @property
    def configured(self) -> bool:
        return self.url is not None

    @property
    def token_endpoint(self) -> str:
        assert self.url is not None
        return self.token_url or self.url.rstrip("/") + "/token"

    @classmethod
    def from_env(cls) -> Ss12000Settings:
        url = _env("SKOLIT_SS12000_URL")
        secret = _env("SKOLIT_SS12000_CLIENT_SECRET")
        secret_file = _env("SKOLIT_SS12000_CLIENT_SECRET_FILE")
        if secret is None and secret_file:
            secret = Path(secret_file).read_text(encoding="utf-8").strip()
        settings = cls(
            url=url.rstrip("/") if url else None,
            token_url=_env("SKOLIT_SS12000_TOKEN_URL"),
            client_id=_env("SKOLIT_SS12000_CLIENT_ID", "") or "",
            client_secret=secret or "",
            scope=_env("SKOLIT_SS12000_SCOPE"),
            page_size=int(_number("SKOLIT_SS12000_PAGE_SIZE", 500, 1, 10_000)),
            sync_seconds=_number("SKOLIT_SS12000_SYNC_SECONDS", 900, 1, 7 * 86400),
            webhook_url=(_env("SKOLIT_SS12000_WEBHOOK_URL") or "").rstrip("/") or None,
            overlap_seconds=_number("SKOLIT_SS12000_OVERLAP_SECONDS", 60, 0, 86400),
            debounce_seconds=_number("SKOLIT_SS12000_DEBOUNCE_SECONDS", 2, 0, 600),
            max_attempts=int(_number("SKOLIT_SS12000_MAX_ATTEMPTS", 8, 1, 100)),
            backoff_cap_seconds=_number("SKOLIT_SS12000_BACKOFF_CAP_SECONDS", 30, 0.01, 3600),
            request_timeout_seconds=_number("SKOLIT_SS12000_REQUEST_TIMEOUT_SECONDS", 30, 0.1, 600),
        )
        if settings.configured and not (settings.client_id and settings.client_secret):
            raise ValueError("SKOLIT_SS12000_URL is set: SKOLIT_SS12000_CLIENT_ID and SKOLIT_SS12000_CLIENT_SECRET "
                             "(or SKOLIT_SS12000_CLIENT_SECRET_FILE) are needed too")
        return settings
