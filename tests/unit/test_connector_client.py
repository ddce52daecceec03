"""The SS 12000 client (connectors/ss12000/client.py) against an httpx.MockTransport: the token (cached, renewed
before expiry and on a 401), pageToken paging with the filter on the first page only, and backoff on 429/5xx and
network errors (Retry-After honoured, capped, counted)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from connectors.ss12000.client import AuthFailed, Refused, Ss12000Client, Unavailable, backoff, retry_after
from connectors.ss12000.settings import Ss12000Settings

URL = "https://ss12000.stad.example/v2"
SETTINGS = Ss12000Settings(url=URL, client_id="skolit", client_secret="hemligt", page_size=2, max_attempts=4, backoff_cap_seconds=8)


class Api:
    """A scripted SS 12000 API: a token endpoint and handlers per path; records every request."""

    def __init__(self, lists: Callable[[httpx.Request], httpx.Response], *, expires_in: int = 300) -> None:
        self.lists = lists
        self.expires_in = expires_in
        self.requests: list[httpx.Request] = []
        self.tokens = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/token"):
            assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"skolit:hemligt").decode()
            assert b"grant_type=client_credentials" in request.content
            self.tokens += 1
            return httpx.Response(200, json={"access_token": f"t{self.tokens}", "token_type": "Bearer", "expires_in": self.expires_in})
        return self.lists(request)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def client_for(api: Api, clock: Clock | None = None, **settings: Any) -> Ss12000Client:
    clock = clock or Clock()
    s = Ss12000Settings(**{**SETTINGS.__dict__, **settings})
    return Ss12000Client(s, transport=httpx.MockTransport(api), sleep=clock.sleep, clock=clock)


def errors(resource: str, kind: str) -> float:
    return REGISTRY.get_sample_value("skolit_connector_errors_total", {"resource": resource, "kind": kind}) or 0.0


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_paging_follows_the_page_token_and_sends_the_filter_only_on_the_first_page() -> None:
    pages = {None: (["a", "b"], "p2"), "p2": (["c", "d"], "p3"), "p3": (["e"], None)}

    def lists(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer t1"
        token = request.url.params.get("pageToken")
        if token is not None:
            assert "meta.modified.after" not in request.url.params  # the token carries the filter (a filter with it is a 400)
        else:
            assert request.url.params["meta.modified.after"] == "2026-11-01T00:00:00Z"
        assert request.url.params["limit"] == "2"
        ids, nxt = pages[token]
        return httpx.Response(200, json={"data": [{"id": i} for i in ids], "pageToken": nxt})

    api = Api(lists)
    client = client_for(api)

    async def read_all() -> list[str]:
        seen, token = [], None
        while True:
            page = await client.page("persons", page_token=token, modified_after=datetime(2026, 11, 1, tzinfo=UTC))
            seen += [d["id"] for d in page.data]
            if page.next_token is None:
                return seen
            token = page.next_token

    assert run(read_all()) == ["a", "b", "c", "d", "e"]
    assert api.tokens == 1  # cached across pages


def test_the_reference_apis_organisations_key_is_read_too() -> None:
    api = Api(lambda r: httpx.Response(200, json={"organisations": [{"id": "x"}], "pageToken": None}))
    assert run(client_for(api).page("organisations")).data == [{"id": "x"}]


def test_the_token_is_renewed_before_it_expires() -> None:
    clock = Clock()
    api = Api(lambda r: httpx.Response(200, json={"data": [], "pageToken": None}), expires_in=300)
    client = client_for(api, clock)
    run(client.page("persons"))
    clock.now += 200  # within its life
    run(client.page("persons"))
    assert api.tokens == 1
    clock.now += 75  # 275 s: less than a tenth of its life (30 s) left
    run(client.page("persons"))
    assert api.tokens == 2


def test_a_401_takes_a_new_token_once_and_a_second_401_fails() -> None:
    def lists(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer t1":
            return httpx.Response(401, json={"code": "unauthorized", "message": "token expired"})
        return httpx.Response(200, json={"data": [{"id": "a"}], "pageToken": None})

    api = Api(lists)
    before = errors("persons", "auth")
    assert run(client_for(api).page("persons")).data == [{"id": "a"}]
    assert api.tokens == 2 and errors("persons", "auth") == before + 1

    always = Api(lambda r: httpx.Response(401, json={"code": "unauthorized", "message": "no"}))
    with pytest.raises(AuthFailed):
        run(client_for(always).page("persons"))
    assert always.tokens == 2


def test_refused_credentials_are_an_auth_failure_not_retried() -> None:
    def token_refused(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client"})

    with pytest.raises(AuthFailed):
        run(Ss12000Client(SETTINGS, transport=httpx.MockTransport(token_refused)).page("persons"))


def test_429_waits_as_long_as_retry_after_says_and_500_and_network_errors_back_off() -> None:
    script = iter([
        httpx.Response(429, headers={"Retry-After": "3"}, json={"code": "tooManyRequests", "message": "slow down"}),
        httpx.Response(500, json={"code": "internal", "message": "oops"}),
        "network",
        httpx.Response(200, json={"data": [{"id": "a"}], "pageToken": None}),
    ])

    def lists(request: httpx.Request) -> httpx.Response:
        step = next(script)
        if step == "network":
            raise httpx.ConnectError("connection refused", request=request)
        assert isinstance(step, httpx.Response)
        return step

    clock = Clock()
    counted = {k: errors("duties", k) for k in ("rate-limited", "server", "network")}
    assert run(client_for(Api(lists), clock).page("duties")).data == [{"id": "a"}]
    assert len(clock.slept) == 3
    assert 3 <= clock.slept[0] <= 3 + 0.5 / 4  # Retry-After, a little jitter after it
    assert all(0 <= s <= 8 for s in clock.slept[1:])
    assert {k: errors("duties", k) - v for k, v in counted.items()} == {"rate-limited": 1, "server": 1, "network": 1}


def test_it_gives_up_after_max_attempts() -> None:
    api = Api(lambda r: httpx.Response(503, json={"code": "unavailable", "message": "maintenance"}))
    clock = Clock()
    with pytest.raises(Unavailable, match="on each of 4 attempts"):
        run(client_for(api, clock).page("organisations"))
    assert len(clock.slept) == 3 and len([r for r in api.requests if r.url.path.endswith("/organisations")]) == 4


def test_other_4xx_are_not_retried() -> None:
    api = Api(lambda r: httpx.Response(400, json={"code": "badRequest", "message": "pageToken and filter"}))
    clock = Clock()
    with pytest.raises(Refused) as caught:
        run(client_for(api, clock).page("persons", page_token="x"))
    assert caught.value.status == 400 and clock.slept == []


def test_deleted_entities_and_subscriptions() -> None:
    def lists(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/deletedEntities"):
            assert request.url.params.get_list("entities") == ["Person", "Duty"]
            assert request.url.params["after"] == "2026-12-01T10:00:00Z"
            return httpx.Response(200, json={"data": {"persons": ["p1"], "duties": ["d1", "d2"]}, "pageToken": None})
        if request.method == "POST":
            assert json.loads(request.content) == {"name": "skolit", "target": "https://skolit.example/webhooks/ss12000/s",
                                                   "resourceTypes": [{"resource": "Person"}]}
            return httpx.Response(201, json={"id": "sub-1"})
        return httpx.Response(404 if request.url.path.endswith("/gone") else 204)

    client = client_for(Api(lists))
    page = run(client.deleted(datetime(2026, 12, 1, 10, tzinfo=UTC), ["persons", "duties"]))
    assert page.ids == {"persons": ["p1"], "duties": ["d1", "d2"]} and page.next_token is None
    assert run(client.subscribe("skolit", "https://skolit.example/webhooks/ss12000/s", ["persons"])) == "sub-1"
    assert run(client.unsubscribe("sub-1")) is True
    assert run(client.unsubscribe("gone")) is False


def test_retry_after_and_backoff() -> None:
    assert retry_after("7") == 7.0
    assert retry_after("Wed, 02 Dec 2026 10:00:05 GMT", now=datetime(2026, 12, 2, 10, 0, tzinfo=UTC)) == 5.0
    assert retry_after("soon") is None and retry_after(None) is None
    assert backoff(1, rng=lambda lo, hi: hi) == 0.5 and backoff(4, rng=lambda lo, hi: hi) == 4.0
    assert backoff(20, cap=30, rng=lambda lo, hi: hi) == 30
    assert backoff(3, rng=lambda lo, hi: lo) == 0.0
