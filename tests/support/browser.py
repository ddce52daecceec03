"""A real browser for the web app's tests: Debian's Chromium driven by Playwright (never a downloaded browser), with
axe-core (devkit/browser, from npm) for the accessibility scan, a phone-width check and screenshots.

``sign_in(page, base, "rektor")`` goes the whole way a person goes: the app's sign-in link, the city's OpenID
provider's login form and consent step (devkit/oidc, a real process), back to the app with a session cookie.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, Page, Playwright

from devkit.demo.personas import PASSWORD
from devkit.process import ROOT

CHROMIUM = os.environ.get("SKOLIT_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "devkit" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
PICTURES = ROOT / "docs" / "pictures"
#: WCAG 2.1 A and AA: what Swedish law (DOS-lagen, EN 301 549) asks of a municipality's web services
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
T = TypeVar("T")
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine to its end from a browser test: in a thread of its own, because Playwright's synchronous API
    keeps an event loop running in the test's thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def launch(playwright: Playwright) -> Browser:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is needed for the web app's browser tests and is not at {CHROMIUM}: run `bash devkit/chromium.sh` "
                    "(apt-get install chromium), or set SKOLIT_CHROMIUM", pytrace=False)
    if not AXE.exists():
        pytest.fail(f"axe-core is missing ({AXE}): run `make install` (npm ci --prefix devkit/browser)", pytrace=False)
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])


def sign_in(page: Page, base: str, login: str, password: str = PASSWORD, *, next_path: str = "/") -> None:
    """Signs ``login`` in through the app's sign-in link and the provider's own pages; ends on ``next_path``."""
    page.goto(f"{base}/login?hint={login}&next={next_path}")
    page.fill('input[name="login"]', login)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    if page.locator("form[action$='/confirm'] button").count():
        page.click("form[action$='/confirm'] button")
    page.wait_for_url(f"{base}/**")
    assert page.url.startswith(base), page.url


def end_session(page: Page) -> None:
    """Lets the signed-in session in the page's cookie end, as an hour after signing in: the same cookie (the browser
    keeps it a while after the session inside it ended, web/session.py), its expiry moved into the past."""
    from web.session import SESSION_COOKIE, Sealer
    from web.settings import DEV_SESSION_SECRET

    sealer = Sealer(DEV_SESSION_SECRET)  # the test stack's web app runs with the development key
    cookie = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    session = sealer.open(SESSION_COOKIE, cookie["value"].strip('"'))  # quoted by the server: the value ends in "="
    assert session is not None
    session["expires"] = time.time() - 5
    page.context.add_cookies([{**cookie, "value": f'"{sealer.seal(SESSION_COOKIE, session)}"'}])  # type: ignore[typeddict-item]


def sign_in_again(page: Page, base: str, login: str, password: str = PASSWORD) -> None:
    """From the "you have been signed out" page: its sign-in link, the provider's pages (the login form only if the
    provider has forgotten the person), back to the page the form was on."""
    page.click("a[href^='/login']")
    page.wait_for_url(lambda url: not url.startswith(base + "/session-ended") and not url.startswith(base + "/login"))
    if page.url.startswith(base):
        return
    if page.locator('input[name="password"]').count():
        page.fill('input[name="login"]', login)
        page.fill('input[name="password"]', password)
        page.click('button[type="submit"]')
        page.wait_for_load_state()
    if not page.url.startswith(base) and page.locator("form[action$='/confirm'] button").count():
        page.click("form[action$='/confirm'] button")
    page.wait_for_url(f"{base}/**")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now. Evaluated through the DevTools protocol, so the
    app's Content-Security-Policy (scripts from the app only) stays on."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(
        """async (tags) => {
          const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
          return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                         nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + (n.failureSummary || ''))}));
        }""",
        WCAG_TAGS,
    )
    return found


def assert_accessible(page: Page, what: str = "") -> None:
    violations = axe_violations(page)
    assert not violations, f"axe-core on {what or page.url}:\n" + json.dumps(violations, indent=1, ensure_ascii=False)


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0: no sideways scrolling)."""
    return int(page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth"))


def assert_fits_phone(page: Page, what: str = "") -> None:
    """At 360 px wide the page needs no horizontal scrolling (tables may scroll inside their own region)."""
    before = page.viewport_size
    page.set_viewport_size(PHONE)
    try:
        overflow = horizontal_overflow(page)
        assert overflow <= 0, f"{what or page.url} is {overflow} px too wide at 360 px"
    finally:
        if before:
            page.set_viewport_size(before)


def screenshot(page: Page, name: str, workdir: Path) -> list[Path]:
    """The page at desktop and phone width. Into docs/pictures/ when SKOLIT_UPDATE_PICTURES is set (the README links
    them), else into the test's own folder: the tests take them either way."""
    folder = PICTURES if os.environ.get("SKOLIT_UPDATE_PICTURES") else workdir / "pictures"
    folder.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    taken = []
    try:
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            path = folder / f"web-{name}-{label}.png"
            page.screenshot(path=str(path), full_page=True)
            taken.append(path)
    finally:
        if before:
            page.set_viewport_size(before)
    return taken


def tab_to(page: Page, selector: str, most: int = 200) -> None:
    """Presses Tab until the element matching ``selector`` has the focus (keyboard only: no clicks)."""
    for _ in range(most):
        if page.evaluate("(s) => { const e = document.querySelector(s); return !!e && e === document.activeElement; }", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never got the focus after {most} presses of Tab")
