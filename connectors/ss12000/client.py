"""An HTTP client of the city's SS 12000 API: OAuth2 client credentials, ``pageToken`` paging, backoff.

- The access token is cached and taken again before it expires (a tenth of its life early, at most a minute) and
  once when a request answers 401 (the server may have forgotten it).
- 429 (its ``Retry-After`` honoured), 5xx and network errors are retried with exponential backoff and full jitter,
  capped per wait and in attempts; each failed attempt is counted in ``skolit_connector_errors_total``. Other 4xx are
  the connector's own fault and are not retried.
- A list answers ``{"data": [...], "pageToken": ...}``; the reference API's ``{"organisations": [...]}`` is taken too.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from connectors.ss12000 import metrics
from connectors.ss12000.settings import Ss12000Settings

log = logging.getLogger(__name__)

#: the list endpoints the connector reads, by the resource names of its sync state
RESOURCES = ("organisations", "persons", "placements", "duties")
#: /deletedEntities' ``entities`` values (SS 12000 EndPointsEnum) per resource, and the keys of its answer
ENDPOINT_OF = {"organisations": "Organisation", "persons": "Person", "placements": "Placement", "duties": "Duty"}


class Ss12000Error(Exception):
    """The API could not be read: after the retries, or an answer retrying cannot change."""


class Unavailable(Ss12000Error):
    """429, 5xx or network errors on every attempt."""


class AuthFailed(Ss12000Error):
    """The token endpoint refused the client's credentials, or the API refused a fresh token."""


class Refused(Ss12000Error):
    """A 4xx other than 401/429: the request is wrong and retrying changes nothing."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


@dataclass(frozen=True)
class Page:
    data: list[dict[str, Any]]
    next_token: str | None


@dataclass(frozen=True)
class DeletedPage:
    ids: dict[str, list[str]]  # by resource name (organisations, persons, ...)
    next_token: str | None


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header in seconds: delay-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def backoff(attempt: int, *, base: float = 0.5, cap: float = 30.0, rng: Callable[[float, float], float] = random.uniform) -> float:
    """Full jitter: a wait drawn from [0, min(cap, base·2^(attempt-1))], so clients that failed together retry apart."""
    return rng(0.0, min(cap, base * 2 ** (attempt - 1)))


class Ss12000Client:
    def __init__(self, settings: Ss12000Settings, *, transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, clock: Callable[[], float] = time.monotonic,
                 backoff_base: float = 0.5) -> None:
        if settings.url is None:
            raise ValueError("SKOLIT_SS12000_URL is not set")
        self.settings = settings
        self.base_url = settings.url.rstrip("/")
        self.http = httpx.AsyncClient(transport=transport, timeout=settings.request_timeout_seconds,
                                      headers={"Accept": "application/json", "User-Agent": "skolit-connector"})
        self._sleep = sleep
        self._clock = clock
        self._backoff_base = backoff_base
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        #: tokens taken so far (the tests read it)
        self.tokens_taken = 0

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- the token ----------------------------------------------------------------------------------------------

    async def token(self) -> str:
        async with self._token_lock:
            if self._token is None or self._clock() >= self._token_expires:
                await self._take_token()
            assert self._token is not None
            return self._token

    def forget_token(self, token: str) -> None:
        if self._token == token:
            self._token = None

    async def _take_token(self) -> None:
        form = {"grant_type": "client_credentials"}
        if self.settings.scope:
            form["scope"] = self.settings.scope
        response = await self._send("token", "POST", self.settings.token_endpoint, data=form,
                                    auth=httpx.BasicAuth(self.settings.client_id, self.settings.client_secret), authorised=False)
        if response.status_code in (400, 401, 403):
            metrics.ERRORS.labels("token", "auth").inc()
            raise AuthFailed(f"the token endpoint refused the client credentials ({response.status_code}: {_message(response)})")
        if response.status_code >= 400:
            raise Refused(response.status_code, _message(response))
        body = response.json()
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthFailed("the token endpoint answered without an access_token")
        lifetime = float(body.get("expires_in") or 300)
        self._token = token
        # renewed early: a tenth of its life, at most a minute, so a page never goes out with a token about to lapse
        self._token_expires = self._clock() + lifetime - min(60.0, lifetime / 10)
        self.tokens_taken += 1

    # -- requests -----------------------------------------------------------------------------------------------

    async def _send(self, resource: str, method: str, url: str, *, authorised: bool = True, **kwargs: Any) -> httpx.Response:
        """One request with the retries: 429/5xx/network errors back off and try again; a 401 takes a new token once.
        Returns the final response (a 4xx the caller judges) or raises Unavailable."""
        refreshed = False
        attempt = 0
        base_headers = dict(kwargs.pop("headers", None) or {})
        while True:
            attempt += 1
            headers = dict(base_headers)
            token = ""
            if authorised:
                token = await self.token()
                headers["Authorization"] = f"Bearer {token}"
            try:
                response = await self.http.request(method, url, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                kind, wait, reason = "network", None, f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 401 and authorised:
                    metrics.ERRORS.labels(resource, "auth").inc()
                    if refreshed:
                        raise AuthFailed(f"{method} {url}: 401 with a fresh token ({_message(response)})")
                    self.forget_token(token)
                    refreshed = True
                    attempt -= 1  # a new token is not a retry of a failure
                    continue
                if response.status_code == 429:
                    kind, wait, reason = "rate-limited", retry_after(response.headers.get("Retry-After")), "429"
                elif response.status_code >= 500:
                    kind, wait, reason = "server", None, f"{response.status_code}"
                else:
                    if 400 <= response.status_code and authorised:
                        metrics.ERRORS.labels(resource, "client").inc()
                    return response
            metrics.ERRORS.labels(resource, kind).inc()
            if attempt >= self.settings.max_attempts:
                raise Unavailable(f"{method} {url}: {reason} on each of {attempt} attempts")
            delay = backoff(attempt, base=self._backoff_base, cap=self.settings.backoff_cap_seconds)
            if wait is not None:  # the server said when: no sooner, a little jitter after, never beyond the cap
                delay = min(wait + delay / 4, max(self.settings.backoff_cap_seconds, wait))
            log.info("SS 12000 %s %s: %s (attempt %d of %d); waiting %.1f s", method, url, reason, attempt, self.settings.max_attempts, delay)
            await self._sleep(delay)

    async def _get(self, resource: str, path: str, params: Sequence[tuple[str, str]]) -> Any:
        response = await self._send(resource, "GET", self.base_url + path, params=list(params))
        if response.status_code >= 400:
            raise Refused(response.status_code, _message(response))
        return response.json()

    async def page(self, resource: str, *, page_token: str | None = None, modified_after: datetime | None = None) -> Page:
        """One page of a list. The first page carries the filter; the next ones only the token (which carries it)."""
        params: list[tuple[str, str]] = [("limit", str(self.settings.page_size))]
        if page_token is not None:
            params.append(("pageToken", page_token))
        elif modified_after is not None:
            params.append(("meta.modified.after", rfc3339(modified_after)))
        body = await self._get(resource, f"/{resource}", params)
        data = body.get("data")
        if data is None:
            data = body.get(resource)  # the reference API's organisations list
        if not isinstance(data, list):
            raise Ss12000Error(f"GET /{resource}: the answer has no data list")
        return Page([d for d in data if isinstance(d, dict)], body.get("pageToken") or None)

    async def deleted(self, after: datetime, resources: Sequence[str], *, page_token: str | None = None) -> DeletedPage:
        params: list[tuple[str, str]] = [("limit", str(self.settings.page_size))]
        if page_token is not None:
            params.append(("pageToken", page_token))
        else:
            params.append(("after", rfc3339(after)))
            params += [("entities", ENDPOINT_OF[r]) for r in resources]
        body = await self._get("deletedEntities", "/deletedEntities", params)
        data = body.get("data") or {}
        if not isinstance(data, dict):
            raise Ss12000Error("GET /deletedEntities: the answer's data is not an object")
        return DeletedPage({r: [str(i) for i in data.get(r) or []] for r in resources}, body.get("pageToken") or None)

    async def subscribe(self, name: str, target: str, resources: Sequence[str]) -> str:
        body = {"name": name, "target": target, "resourceTypes": [{"resource": ENDPOINT_OF[r]} for r in resources]}
        response = await self._send("subscriptions", "POST", self.base_url + "/subscriptions", json=body)
        if response.status_code >= 400:
            raise Refused(response.status_code, _message(response))
        subscription_id = response.json().get("id")
        if not subscription_id:
            raise Ss12000Error("POST /subscriptions: the answer has no id")
        return str(subscription_id)

    async def unsubscribe(self, subscription_id: str) -> bool:
        """True when it was there to delete; a 404 is a subscription already gone."""
        response = await self._send("subscriptions", "DELETE", f"{self.base_url}/subscriptions/{subscription_id}")
        if response.status_code == 404:
            return False
        if response.status_code >= 400:
            raise Refused(response.status_code, _message(response))
        return True


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _message(response: httpx.Response) -> str:
    """The SS 12000 Error's message, cut short (it is the server's text, for the log)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("code") or body)[:200]
    return str(body)[:200]
