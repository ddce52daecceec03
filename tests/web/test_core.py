"""The pages everyone meets: the welcome page with the development sign-in, signing in through the city's OpenID
provider, the start page, the language switch, the error pages, signing out."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page

from devkit.demo.personas import personas
from tests.support.browser import assert_accessible, assert_fits_phone
from tests.support.stack import Stack

JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.")


def test_welcome_page_lists_the_personas_and_is_accessible(new_page: Callable[..., Page], web: str) -> None:
    page = new_page()
    response = page.goto(web + "/")
    assert response is not None and response.status == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.locator("html").get_attribute("lang") == "sv"
    links = page.locator(".persona-list a")
    assert links.count() == len(personas())
    assert_accessible(page, "the welcome page")
    assert_fits_phone(page, "the welcome page")


def test_every_persona_signs_in_through_the_provider_and_sees_a_start_page(new_page: Callable[..., Page], web: str, stack: Stack) -> None:
    for persona in personas():
        page = new_page(persona.login)
        assert page.url.rstrip("/") == web.rstrip("/"), (persona.login, page.url)
        heading = page.locator("h1").inner_text()
        assert heading.startswith("Hej"), (persona.login, heading)
        cookies = {c["name"]: c for c in page.context.cookies()}
        session = cookies["skolit_session"]
        assert session["httpOnly"] and session["sameSite"] == "Lax"
        # the access token is not readable in the cookie (encrypted), nor anywhere a script could reach it; a JWT's
        # shape, not its "eyJ" prefix alone, which an encrypted value's random base64 contains now and then
        assert not JWT_SHAPE.search(session["value"]), session["value"]
        assert page.evaluate("() => window.localStorage.length + window.sessionStorage.length") == 0
        assert_accessible(page, f"the start page of {persona.login}")
        assert_fits_phone(page, f"the start page of {persona.login}")


def test_language_switch_error_pages_and_sign_out(new_page: Callable[..., Page], web: str) -> None:
    page = new_page("larare")
    page.click("a.language-switch")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text().startswith("Hello")
    page.click("a.language-switch")
    assert page.locator("html").get_attribute("lang") == "sv"
    response = page.goto(web + "/no-such-page")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "Sidan finns inte"
    assert_accessible(page, "the 404 page")
    page.goto(web + "/accessibility")
    assert "Tillgänglighetsredogörelse" in page.locator("h1").inner_text()
    assert_accessible(page, "the accessibility statement")
    page.goto(web + "/")
    page.click("button:has-text('Logga ut')")
    assert page.url.endswith("/signed-out")
    assert "skolit_session" not in {c["name"] for c in page.context.cookies()}
    page.goto(web + "/")
    assert page.locator(".persona-list").count() == 1  # signed out: the welcome page again


def test_a_form_posted_without_its_csrf_token_is_refused(new_page: Callable[..., Page], web: str) -> None:
    page = new_page("larare")
    response = page.request.post(web + "/logout", form={"csrf_token": "not-the-one"})
    assert response.status == 403
    page.goto(web + "/")
    assert page.locator("h1").inner_text().startswith("Hej")  # still signed in
