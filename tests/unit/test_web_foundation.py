"""The web app's own pieces without a browser: cookies that cannot be read or forged, sign-in return paths that stay
on the site, Swedish number and date formats, the security headers and the CSRF check."""

from __future__ import annotations

import time

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from starlette.datastructures import FormData
from starlette.requests import Request

from web import i18n
from web.api import Api
from web.app import create_app
from web.security import posted_form
from web.pages.core import safe_next
from web.session import KEPT_COOKIE, SESSION_COOKIE, Sealer, Session
from web.settings import DEV_SESSION_SECRET, WebSettings


def test_a_sealed_cookie_is_unreadable_bound_to_its_purpose_and_refuses_tampering() -> None:
    sealer = Sealer("a" * 40)
    sealed = sealer.seal("skolit_session", {"token": "eyJhbGciOi.secret"})
    assert "eyJ" not in sealed and "secret" not in sealed
    assert sealer.open("skolit_session", sealed) == {"token": "eyJhbGciOi.secret"}
    assert sealer.open("skolit_login", sealed) is None, "a session cookie is not a login cookie"
    assert sealer.open("skolit_session", sealed[:-4] + "AAAA") is None
    assert Sealer("b" * 40).open("skolit_session", sealed) is None, "another key opens nothing"


@pytest.mark.parametrize(("asked", "got"), [
    ("/assessments/1", "/assessments/1"), ("//evil.example/x", "/"), ("https://evil.example", "/"), ("/\\evil", "/"), (None, "/"),
])
def test_sign_in_returns_only_to_a_path_of_this_app(asked: str | None, got: str) -> None:
    assert safe_next(asked) == got


def test_numbers_and_dates_are_written_the_swedish_way() -> None:
    assert i18n.format_number("sv", 3.5) == "3,5"
    assert i18n.format_number("sv", 12345) == "12\u202f345"
    assert i18n.format_number("en", 12345.25, 2) == "12,345.25"
    assert i18n.format_number("sv", -1.5) == "\u22121,5"
    assert i18n.format_percent("sv", 0.42) == "42\u00a0%"
    assert i18n.format_date("sv", "2026-12-07") == "7 december 2026"
    assert i18n.format_date("en", "2026-12-07") == "7 December 2026"
    # 23:30 UTC on 31 December is already New Year's Day in Stockholm
    assert i18n.format_date("sv", "2026-12-31T23:30:00Z") == "1 januari 2027"


def test_a_missing_text_is_an_error_not_a_blank() -> None:
    with pytest.raises(i18n.MissingText):
        i18n.translate("sv", "no.such.key")


def _app() -> TestClient:
    return TestClient(create_app(WebSettings(dev=True, session_secret=DEV_SESSION_SECRET, services={})))


def test_every_page_carries_the_security_headers_and_a_post_without_the_csrf_token_is_refused() -> None:
    with _app() as client:
        r = client.get("/accessibility")
        assert r.status_code == 200
        assert "script-src 'self'" in r.headers["content-security-policy"] and "'unsafe-inline'" not in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
        visitor = client.cookies.get("skolit_csrf")
        assert visitor
        assert client.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
        r = client.post("/logout", data={"csrf_token": visitor}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/signed-out"


def test_an_expired_or_forged_session_counts_as_signed_out() -> None:
    sealer = Sealer(DEV_SESSION_SECRET)
    expired = Session(person="p", name="Rut", token="t", expires=time.time() - 10)
    with _app() as client:
        client.cookies.set(SESSION_COOKIE, sealer.seal(SESSION_COOKIE, expired.__dict__))
        assert "Logga in" in client.get("/").text
        client.cookies.set(SESSION_COOKIE, "forged")
        assert "Logga in" in client.get("/").text


def test_production_needs_its_own_session_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKOLIT_WEB_SESSION_SECRET", raising=False)
    monkeypatch.delenv("SKOLIT_WEB_DEV", raising=False)
    with pytest.raises(SystemExit, match="SKOLIT_WEB_SESSION_SECRET"):
        WebSettings.from_env()
    monkeypatch.setenv("SKOLIT_WEB_SESSION_SECRET", "short")
    with pytest.raises(SystemExit, match="32"):
        WebSettings.from_env()


def test_a_form_posted_after_the_session_ended_is_kept_for_after_signing_in() -> None:
    app = create_app(WebSettings(dev=True, session_secret=DEV_SESSION_SECRET, services={"assessment": "http://127.0.0.1:9"}))

    @app.post("/form-under-test")
    async def save(request: Request, form: FormData = Depends(posted_form)) -> dict[str, str]:
        await Api(request).post("assessment", "/anything", {"comment": form.get("comment")})
        return {"saved": "yes"}

    sealer = Sealer(DEV_SESSION_SECRET)
    ended_session = Session(person="p", name="Rut", token="t", expires=time.time() - 10, csrf="the-forms-token")
    with TestClient(app) as client:
        client.cookies.set(SESSION_COOKIE, sealer.seal(SESSION_COOKIE, ended_session.__dict__))
        r = client.post("/form-under-test", data={"csrf_token": "the-forms-token", "comment": "Mitt svar"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/session-ended?next=/form-under-test")
        kept = sealer.open(KEPT_COOKIE, r.cookies.get(KEPT_COOKIE))
        assert kept == {"path": "/form-under-test", "fields": [["comment", "Mitt svar"]]}
        # a forged token is still refused, session or not
        assert client.post("/form-under-test", data={"csrf_token": "forged", "comment": "x"}).status_code == 403
