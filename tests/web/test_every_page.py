"""Every page each person can reach, checked the same way: for every demo persona, follow the links from the start
page (breadth first, within the app) and on each page run axe-core (WCAG 2.1 A/AA), check it fits a 360 px phone
without sideways scrolling, that it is in the person's language (lang="sv") with one h1, and that no page answers with
a server error. Pages that differ only by an id (one school's report, another's) are checked once per persona."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Page

from devkit.demo.personas import personas
from tests.support.browser import PHONE, axe_violations, horizontal_overflow

#: links that do something or leave the pages: signing out/in, the language switch, files and images
SKIP = re.compile(r"^/(logout|login|language|callback|static/)|\.(csv|svg|png|pdf|json)(\?|$)|/(export|download)")
ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b\d{4}\b|\b\d+\b")
#: pages per persona: enough for every kind of page the menu and the pages lead to
MOST = 30


def _shape(path: str) -> str:
    """The kind of page: ids and years replaced, the query's keys kept (a filter is another view, a value is not)."""
    parts = urlsplit(path)
    keys = sorted({kv.split("=")[0] for kv in parts.query.split("&") if kv})
    return ID.sub("{id}", parts.path) + ("?" + "&".join(keys) if keys else "")


@pytest.mark.parametrize("login", [p.login for p in personas()])
def test_every_page_a_person_reaches_is_accessible_and_fits_a_phone(new_page: Callable[..., Page], web: str, login: str) -> None:
    page = new_page(login, viewport=PHONE)
    queue: deque[str] = deque(["/"])
    seen_shapes: set[str] = set()
    checked: list[str] = []
    problems: list[str] = []
    while queue and len(checked) < MOST:
        path = queue.popleft()
        shape = _shape(path)
        if shape in seen_shapes:
            continue
        seen_shapes.add(shape)
        response = page.goto(web + path)
        assert response is not None
        if response.status >= 500:
            problems.append(f"{path}: status {response.status}")
            continue
        checked.append(path)
        if page.locator("html").get_attribute("lang") != "sv":
            problems.append(f"{path}: not lang=sv")
        if page.locator("h1").count() != 1:
            problems.append(f"{path}: {page.locator('h1').count()} h1 elements")
        overflow = horizontal_overflow(page)
        if overflow > 0:
            problems.append(f"{path}: {overflow} px too wide at 360 px")
        for violation in axe_violations(page):
            problems.append(f"{path}: axe {violation['id']} ({violation['impact']}): {violation['help']} at {violation['nodes'][:2]}")
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            target = urlsplit(urljoin(web + path, href))
            if target.netloc != urlsplit(web).netloc or target.fragment and not target.path:
                continue
            local = target.path + (f"?{target.query}" if target.query else "")
            if not SKIP.search(local) and _shape(local) not in seen_shapes:
                queue.append(local)
    assert len(checked) >= 3, f"{login} reached only {checked}"
    assert not problems, f"{login}: {len(problems)} problem(s) on {len(checked)} pages:\n" + "\n".join(problems)
