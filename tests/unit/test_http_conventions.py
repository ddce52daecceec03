"""CORS and the version prefix, on a service app made in process (no database: nothing here reaches a route's body)."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from services.catalog.app import SPEC
from shared.app import create_app
from shared.http.pages import decode_cursor, encode_cursor
from shared.problems import Problem
from shared.settings import Settings

WEB = "http://localhost:3000"


def client(*origins: str) -> TestClient:
    settings = dataclasses.replace(Settings.from_env("catalog"), cors_origins=origins)
    return TestClient(create_app(SPEC, settings), raise_server_exceptions=False)


def preflight(c: TestClient, origin: str, path: str = "/v1/apps") -> object:
    return c.options(path, headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                    "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"})


def test_a_preflight_from_an_allowed_origin_succeeds_with_the_headers_a_browser_needs() -> None:
    r = preflight(client(WEB), WEB)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == WEB
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "idempotency-key" in r.headers["access-control-allow-headers"].lower()


def test_a_preflight_from_another_origin_is_refused_with_a_problem() -> None:
    r = preflight(client(WEB), "https://evil.example")
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == "header.Origin"
    assert "access-control-allow-origin" not in r.headers


def test_no_origin_is_allowed_unless_configured() -> None:
    r = preflight(client(), WEB)
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers


def test_a_simple_request_from_an_allowed_origin_can_read_the_answer() -> None:
    r = client(WEB).get("/v1/apps", headers={"Origin": WEB})
    assert r.status_code == 401  # no token: still readable by the browser app, to show the sign-in
    assert r.headers["access-control-allow-origin"] == WEB
    assert r.headers["content-type"].startswith("application/problem+json")


def test_the_versioned_path_is_the_documented_one_and_the_bare_path_is_a_deprecated_alias() -> None:
    c = client()
    versioned, bare = c.get("/v1/apps"), c.get("/apps")
    assert versioned.status_code == bare.status_code == 401
    assert "deprecation" not in versioned.headers
    assert bare.headers["deprecation"] == "true" and '</v1/apps>; rel="successor-version"' in bare.headers["link"]
    assert c.get("/v2/apps").status_code == 404
    assert c.get("/healthz").headers.get("deprecation") is None
    assert c.get("/openapi.json").json()["servers"][0]["url"] == "/v1"


def test_a_cursor_round_trips_and_a_made_up_one_is_refused_naming_the_field() -> None:
    assert decode_cursor(encode_cursor(150)) == 150
    for bad in ("abc", encode_cursor(-1), "eDox", "!!"):
        with pytest.raises(Problem) as caught:
            decode_cursor(bad)
        assert caught.value.extra["field"] == "query.cursor"


def test_a_method_not_served_names_every_method_the_path_serves() -> None:
    r = client().delete("/v1/apps")
    assert r.status_code == 405 and r.headers["content-type"].startswith("application/problem+json")
    assert set(r.headers["allow"].split(", ")) >= {"GET", "POST"}


def test_the_alias_link_of_a_path_with_a_nul_byte_is_still_a_valid_header() -> None:
    r = client().get("/apps/%00")
    assert r.status_code in (401, 404, 422)
    assert r.headers["link"] == '</v1/apps/%00>; rel="successor-version"'


def test_a_versioned_path_keeps_its_percent_encoding_and_a_newline_never_reaches_a_header() -> None:
    c = client()
    for path in ("/v1/apps/%0A", "/apps/%0D%0Ax"):
        r = c.get(path)
        assert r.status_code in (401, 404, 422), path


def test_a_date_in_a_request_is_a_day_a_person_could_mean() -> None:
    from datetime import date

    from pydantic import BaseModel, ValidationError

    from shared.http.dates import PlausibleDate, latest

    class Body(BaseModel):
        day: PlausibleDate

    assert Body(day="2027-01-31").day == date(2027, 1, 31)  # type: ignore[arg-type]
    for slip in (0, 1700000000, "0116-07-20", "1970-01-01", "2027-13-01", "31/01/2027", f"{latest().year + 1}-01-01"):
        with pytest.raises(ValidationError):
            Body(day=slip)  # type: ignore[arg-type]
