"""The web app's browser tests: the test stack (services, provider, web app as processes) with the demo city in it,
and Debian's Chromium driven by Playwright. Each test opens its own browser context, signed in as a demo persona."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.support.browser import DESKTOP, launch, sign_in
from tests.support.demo import load_demo
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def demo(stack: Stack) -> dict[str, Any]:
    return asyncio.run(load_demo(stack))


@pytest.fixture(scope="session")
def web(stack: Stack, demo: dict[str, Any]) -> str:
    assert stack.web is not None
    return stack.web.url


@pytest.fixture(scope="session")
def playwright(web: str) -> Iterator[Playwright]:
    # After the stack and the demo (``web``): Playwright's synchronous API runs an event loop in this thread from
    # here on, so asyncio.run is no longer possible in it (tests/support/browser.py run_async uses a thread).
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = launch(playwright)
    yield b
    b.close()


@pytest.fixture
def new_page(browser: Browser, web: str) -> Iterator[Callable[..., Page]]:
    """``new_page("rektor")``: a fresh browser context signed in as that persona (``None``: not signed in), Swedish."""
    contexts: list[BrowserContext] = []

    def make(login: str | None = None, *, viewport: dict[str, int] | None = None, java_script: bool = True) -> Page:
        context = browser.new_context(viewport=viewport or DESKTOP, locale="sv-SE", java_script_enabled=java_script)
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        if login:
            sign_in(page, web, login)
        return page

    yield make
    for context in contexts:
        context.close()
