"""Hostile strings wherever people's text reaches a page: a person's name from the city's data, an app's name and
description in the programbank, a comment in the self-assessment, a search query. Each is shown as the text it is —
escaped, never run: no dialog opens, no element it spells out appears, and the page's own scripts are the only ones."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from playwright.sync_api import Page

from devkit.demo.personas import PASSWORD, persona
from shared.auth import mint
from shared.events.city import DutyAssigned
from shared.settings import DEV_JWT_SECRET
from tests.support.browser import run_async, sign_in
from tests.support.city import person
from tests.support.kafka import eventually, send, wire
from tests.support.oidc import User
from tests.support.stack import Stack

SCRIPT = "<script>window.__pwned=1;alert('x')</script>"
IMAGE = '"><img src=x id=pwned onerror="window.__pwned=2">'
TEMPLATE = "{{7*7}} ${7*7} {% raw %}"


def _untouched(page: Page, dialogs: list[str]) -> None:
    assert not dialogs, f"a dialog opened: {dialogs}"
    assert page.evaluate("() => window.__pwned === undefined")
    assert page.locator("#pwned").count() == 0
    sources = page.eval_on_selector_all("script", "els => els.map(e => e.getAttribute('src'))")
    assert sources == ["/static/skolit.js"], f"scripts on the page: {sources}"


def _watch(page: Page) -> list[str]:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return dialogs


def test_a_hostile_name_from_the_city_is_shown_as_text(new_page: Callable[..., Page], web: str, stack: Stack) -> None:
    assert stack.oidc is not None
    school = persona("larare").school_units[0]
    who = uuid.uuid4()
    run_async(send(stack.bootstrap, [
        wire(person(who, given=SCRIPT, family=IMAGE)),
        wire(DutyAssigned(id=uuid.uuid4(), person=who, dutyAt=school, dutyRole="Lärare")),
    ]))
    stack.oidc.add_users([User("elak", str(who), [], PASSWORD)])
    token = mint(DEV_JWT_SECRET, subject=str(who), roles=["teacher"], school_units=[str(school)])

    async def known() -> bool:
        import httpx

        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.get(f"{stack.services['assessment'].url}/v1/me", headers={"Authorization": f"Bearer {token}"})
            return r.status_code == 200 and (r.json()["person"]["name"] or "").startswith("<script>")

    run_async(eventually(known, timeout=60, what="the hostile name in the assessment service"))
    page = new_page()
    dialogs = _watch(page)
    sign_in(page, web, "elak")
    heading = page.locator("h1").inner_text()
    assert SCRIPT in heading and IMAGE in heading, heading
    assert SCRIPT in page.locator(".signed-in-as").inner_text()
    _untouched(page, dialogs)


def test_a_hostile_app_and_search_are_shown_as_text(new_page: Callable[..., Page], web: str, stack: Stack) -> None:
    it = persona("it")
    token = mint(DEV_JWT_SECRET, subject=str(it.person), roles=["it_admin"], districts=[str(d) for d in it.districts])

    async def create() -> str:
        import httpx

        async with httpx.AsyncClient(timeout=30) as http:
            r = await http.post(f"{stack.services['catalog'].url}/v1/apps", headers={"Authorization": f"Bearer {token}"}, json={
                "name": f"Elak {SCRIPT}", "supplier": IMAGE, "description": f"{TEMPLATE} {SCRIPT} {IMAGE}", "freeUse": True,
                "subjects": ["MA"], "grades": ["4"], "schoolTypes": ["GR"], "platforms": ["web"], "languages": ["sv"],
                "headings": ["digitalt-innehall"], "keywords": [SCRIPT],
            })
            assert r.status_code == 201, r.text
            return str(r.json()["id"])

    app_id = run_async(create())
    page = new_page("larare")
    dialogs = _watch(page)
    page.goto(f"{web}/apps/{app_id}")
    main = page.locator("main").inner_text()
    assert SCRIPT in main and "{{7*7}}" in main and "49" not in main.replace(app_id, "")
    _untouched(page, dialogs)
    page.goto(f"{web}/apps?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert page.locator("#q, input[name='q']").first.input_value() == "<script>alert(1)</script>"
    _untouched(page, dialogs)
