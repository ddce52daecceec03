"""The programbank and requests: a teacher searches (words, filters, live search), reads an app's page (may my school
use it, its data protection), requests it through the check page; the data-protection function finds it in the
review queue, asks a question the teacher answers from the start page, and rejects it with a reason the teacher then
reads. The IT admin's licences and the agreement register."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.support.browser import assert_accessible, assert_fits_phone, run_async, screenshot
from tests.support.stack import Stack

OPEN = ("submitted", "acknowledged", "needs_info")


def _api(stack: Stack, login: str, path: str, **params: Any) -> Any:
    async def get() -> Any:
        token = await asyncio.to_thread(stack.oidc.token_for, login)  # type: ignore[union-attr]
        async with httpx.AsyncClient(timeout=30) as http:
            r = await http.get(f"{stack.services['catalog'].url}/v1{path}", params=params, headers={"Authorization": f"Bearer {token}"})
            r.raise_for_status()
            return r.json()

    return run_async(get())


def _requestable(stack: Stack) -> dict[str, Any]:
    """An app the teacher's school may not use and has no open request for (what a teacher would ask for)."""
    hits = _api(stack, "larare", "/apps", limit=500)["items"]
    asked = {r.get("appId") for r in _api(stack, "larare", "/requests", limit=500)["items"] if r["state"] in OPEN}
    for hit in hits:
        if hit.get("usableHere") is False and hit["id"] not in asked and not hit["status"].get("retires"):
            return hit
    raise AssertionError("no app for the teacher to request")


def _count(page: Page) -> str:
    return page.locator("#results .catalog-count").inner_text()


def test_teacher_searches_the_programbank_with_words_filters_and_live_search(new_page: Callable[..., Page], web: str, tmp_path: Path) -> None:
    page = new_page("larare")
    page.goto(web + "/apps")
    assert page.locator("h1").inner_text() == "Programbanken"
    everything = _count(page)
    assert "appar hittades" in everything
    assert page.locator(".catalog-hit").count() > 0
    # each hit says in words whether the teacher's school may use it
    assert page.locator(".catalog-hit .tag", has_text=re.compile("Får (inte )?användas")).count() > 0
    assert_accessible(page, "the programbank search")
    assert_fits_phone(page, "the programbank search")
    screenshot(page, "catalog-search", tmp_path)

    # a word and a filter, without script: the form is submitted and the results change
    page.fill("#field-q", "matematik")
    page.click("button:has-text('Sök')")
    page.wait_for_url(re.compile(r"q=matematik"))
    with_word = _count(page)
    assert with_word != everything
    names = page.locator(".catalog-hit-name").all_inner_texts()
    page.locator("summary", has_text="Filtrera resultatet").click()
    page.locator("input[name='usable'][value='only']").check()
    page.click("button:has-text('Sök')")
    page.wait_for_url(re.compile(r"usable=only"))
    assert page.locator("#field-usable-1").is_checked()
    filtered = page.locator(".catalog-hit-name").all_inner_texts()
    assert filtered != names or _count(page) != with_word
    assert page.locator(".catalog-hit .tag", has_text="Får inte användas").count() == 0
    assert_accessible(page, "the search with a filter")

    # "Visa fler" pages on
    page.goto(web + "/apps")
    more = page.locator("nav.pagination a", has_text="Visa fler")
    if more.count():
        first = page.locator(".catalog-hit-name").first.inner_text()
        more.click()
        assert page.locator(".catalog-hit-name").first.inner_text() != first

    # nothing found: the page says so and what to try
    page.goto(web + "/apps?q=qqzzxxyy")
    assert page.locator("#results h2").inner_text() == "Inga appar hittades"
    assert page.get_by_text("kontrollera stavningen").is_visible()
    assert_accessible(page, "the search with no results")

    # live search: typing updates the results without submitting the form
    page.goto(web + "/apps")
    url_before = page.url
    before = _count(page)
    page.locator("#field-q").press_sequentially("matematik", delay=20)
    expect(page.locator("#results .catalog-count")).not_to_have_text(before, timeout=10_000)
    assert page.locator("#results .catalog-count").inner_text() == with_word
    assert page.url != url_before and "q=matematik" in page.url  # the address follows, the page was not reloaded
    assert page.locator("#field-q").input_value() == "matematik"


def test_teacher_requests_an_app_and_the_data_protection_function_asks_and_rejects(new_page: Callable[..., Page], web: str, stack: Stack,
                                                                                   tmp_path: Path) -> None:
    app = _requestable(stack)
    teacher = new_page("larare")
    teacher.goto(f"{web}/apps/{app['id']}")
    assert teacher.locator("h1").inner_text() == app["name"]
    assert teacher.get_by_text("Din skola får inte använda appen just nu.").is_visible()
    assert teacher.locator(".catalog-because").inner_text().startswith("Skäl: ")
    assert teacher.locator("h2", has_text="Dataskydd").is_visible()
    assert teacher.get_by_text(re.compile(r"Personuppgiftsbiträdesavtal: ")).is_visible()
    assert teacher.get_by_text(re.compile(r"Appen får (inga personuppgifter|de här personuppgifterna)")).is_visible()
    assert_accessible(teacher, "an app's page")
    assert_fits_phone(teacher, "an app's page")
    screenshot(teacher, "catalog-app", tmp_path)

    teacher.click("a:has-text('Önska appen för din skola')")
    assert teacher.locator("h1").inner_text() == "Önska en app"
    # nothing filled in: the error summary, linked to the field
    with teacher.expect_response(lambda r: r.request.method == "POST") as posted:
        teacher.click("button:has-text('Fortsätt')")
    assert posted.value.status == 422
    summary = teacher.locator(".error-summary")
    assert summary.is_visible()
    link = summary.locator("a", has_text="Skriv vad ni ska använda appen till")
    assert link.get_attribute("href") == "#field-purpose"
    assert teacher.locator("#error-purpose").is_visible()
    assert_accessible(teacher, "the request form with an error")
    assert_fits_phone(teacher, "the request form with an error")
    teacher.fill("#field-purpose", "Färdighetsträning i årskurs 5.")
    teacher.fill("#field-pupils", "28")
    teacher.click("button:has-text('Fortsätt')")
    teacher.wait_for_url(f"{web}/requests/new/check")
    assert teacher.locator("h1").inner_text() == "Kontrollera ditt önskemål"
    assert teacher.locator(".summary-list").get_by_text(app["name"]).is_visible()
    assert teacher.locator(".summary-list").get_by_text("Färdighetsträning i årskurs 5.").is_visible()
    assert_accessible(teacher, "the check page")
    assert_fits_phone(teacher, "the check page")
    teacher.click("button:has-text('Skicka önskemålet')")
    teacher.wait_for_url(re.compile(r"/requests/[0-9a-f-]{36}\?sent=1$"))
    request_id = re.search(r"/requests/([0-9a-f-]{36})", teacher.url).group(1)  # type: ignore[union-attr]
    assert teacher.locator("h1").inner_text() == "Ditt önskemål är skickat"
    assert teacher.locator(".catalog-state .tag").inner_text() == "Skickat"
    assert_accessible(teacher, "the confirmation")
    teacher.goto(web + "/requests")
    assert teacher.locator(f"a[href='/requests/{request_id}']").is_visible()
    assert_accessible(teacher, "my requests")
    assert_fits_phone(teacher, "my requests")

    # the data-protection function finds it in the queue and asks a question
    reviewer = new_page("dataskydd")
    reviewer.goto(web + "/review")
    row = reviewer.locator("tr", has=reviewer.locator(f"a[href='/requests/{request_id}']"))
    assert row.get_by_text("Skickat").is_visible()
    assert_accessible(reviewer, "the review queue")
    assert_fits_phone(reviewer, "the review queue")
    screenshot(reviewer, "catalog-review", tmp_path)
    row.locator("a").first.click()
    assert reviewer.locator("h1").inner_text() == f"Önskemål: {app['name']}"
    reviewer.get_by_role("radio", name="Ställ en fråga").check()
    reviewer.click("button:has-text('Fortsätt')")  # a question needs its text
    assert reviewer.locator(".error-summary a", has_text="Skriv din fråga").get_attribute("href") == "#field-note"
    assert_accessible(reviewer, "the decision form with an error")
    reviewer.get_by_role("radio", name="Ställ en fråga").check()
    reviewer.fill("#field-note", "Vilka årskurser gäller det?")
    reviewer.click("button:has-text('Fortsätt')")
    reviewer.wait_for_url(f"{web}/requests/{request_id}/check")
    assert reviewer.locator("h1").inner_text() == "Kontrollera ditt beslut"
    assert_accessible(reviewer, "the decision check page")
    assert_fits_phone(reviewer, "the decision check page")
    reviewer.click("button:has-text('Skicka frågan')")
    reviewer.wait_for_url(re.compile(rf"/requests/{request_id}\?done=ask_info"))
    assert reviewer.get_by_text("Din fråga är skickad.").is_visible()

    # the teacher sees it on the start page and answers
    teacher.goto(web + "/")
    task = teacher.locator(".task-link", has_text="väntar på ditt svar")
    assert task.is_visible()
    task.click()
    teacher.goto(f"{web}/requests/{request_id}")
    assert teacher.get_by_text("Vilka årskurser gäller det?").first.is_visible()
    teacher.fill("#field-answer", "Årskurs 5, två klasser.")
    assert_accessible(teacher, "the answer form")
    teacher.click("button:has-text('Skicka svar')")
    teacher.wait_for_url(re.compile(r"done=provide_info"))
    assert teacher.get_by_text("Ditt svar är skickat.").is_visible()

    # the reviewer rejects with a reason, checking first
    reviewer.goto(f"{web}/requests/{request_id}")
    assert reviewer.locator(".catalog-history").get_by_text("Årskurs 5, två klasser.").is_visible()
    reviewer.get_by_role("radio", name="Avslå").check()
    reviewer.fill("#field-note", "Leverantören har inget personuppgiftsbiträdesavtal med staden.")
    reviewer.click("button:has-text('Fortsätt')")
    reviewer.wait_for_url(f"{web}/requests/{request_id}/check")
    reviewer.click("button:has-text('Avslå önskemålet')")
    reviewer.wait_for_url(re.compile(r"done=reject"))
    assert reviewer.get_by_text("Önskemålet är avslaget.").first.is_visible()

    # the teacher reads the answer
    teacher.goto(f"{web}/requests/{request_id}")
    assert teacher.locator(".catalog-state .tag").inner_text() == "Avslaget"
    assert teacher.get_by_text("Leverantören har inget personuppgiftsbiträdesavtal med staden.").first.is_visible()
    history = teacher.locator(".catalog-history li")
    assert history.count() == 4
    assert history.nth(3).get_by_text("Avslaget").is_visible()
    assert_accessible(teacher, "a decided request")
    assert_fits_phone(teacher, "a decided request")


def test_it_admin_sees_licences_agreements_and_tasks(new_page: Callable[..., Page], web: str) -> None:
    page = new_page("it")
    assert page.locator(".task-link", has_text=re.compile(r"önskemål att granska|avtal går ut")).count() >= 1
    page.goto(web + "/dpa")
    assert page.locator("h1").inner_text() == "Personuppgiftsbiträdesavtal"
    first_flag = page.locator("tbody tr").first.locator(".tag").inner_text()
    assert first_flag in ("Har gått ut", "Går ut snart")  # what needs action comes first, said in words
    assert page.locator("tbody .tag", has_text="Går ut snart").count() >= 1
    assert_accessible(page, "the agreement register")
    assert_fits_phone(page, "the agreement register")

    page.goto(web + "/licences")
    assert page.locator("h1").inner_text() == "Licenser"
    assert page.locator("tbody tr").count() > 0
    assert page.locator("tbody .tag", has_text="Går ut om").count() >= 1  # licences ending soon are flagged
    assert_accessible(page, "the licences")
    assert_fits_phone(page, "the licences")

    page.locator("tbody tr").first.locator("a").first.click()
    assert page.locator("h2", has_text="Licenser").is_visible()
    page.click("a:has-text('Se alla licenser för appen')")
    assert page.locator("h1").inner_text().startswith("Licenser för ")
    assert page.locator("tbody tr").count() >= 1
    assert_accessible(page, "an app's licences")
    assert_fits_phone(page, "an app's licences")

    page.goto(web + "/review")
    assert page.locator("h1").inner_text() == "Önskemål att granska"
    assert_accessible(page, "the IT admin's review queue")
    # an IT admin may give the school a licence with an approval: the date is checked, then shown before deciding
    page.locator("tbody tr a").first.click()
    page.get_by_role("radio", name="Godkänn").check()
    page.fill("#field-licence_expires", "2001-01-01")
    page.click("button:has-text('Fortsätt')")
    assert page.locator(".error-summary a", has_text="Skriv ett datum efter i dag").get_attribute("href") == "#field-licence_expires"
    assert page.locator("#field-licence_expires").input_value() == "2001-01-01"
    assert_accessible(page, "the decision form with a licence error")
    page.get_by_role("radio", name="Godkänn").check()
    page.fill("#field-licence_expires", "2099-06-30")
    page.click("button:has-text('Fortsätt')")
    assert page.locator("h1").inner_text() == "Kontrollera ditt beslut"
    assert page.locator(".summary-list").get_by_text("Hela skolan, från i dag till 30 juni 2099").is_visible()


def test_teacher_asks_for_a_new_app_and_an_approval_the_data_protection_does_not_support_is_explained(new_page: Callable[..., Page],
                                                                                                      web: str) -> None:
    teacher = new_page("larare")
    teacher.goto(web + "/requests/new")
    assert teacher.locator("h1").inner_text() == "Önska en app"
    teacher.fill("#field-purpose", "Att öva glosor i engelska.")
    teacher.click("button:has-text('Fortsätt')")
    assert teacher.locator(".error-summary a", has_text="Skriv appens namn").get_attribute("href") == "#field-new_app_name"
    assert teacher.locator("#field-purpose").input_value() == "Att öva glosor i engelska."  # what was written is kept
    teacher.fill("#field-new_app_name", "Glosfabriken Test")
    teacher.fill("#field-new_app_supplier", "Ordverkstan AB")
    teacher.click("button:has-text('Fortsätt')")
    teacher.wait_for_url(f"{web}/requests/new/check")
    assert teacher.locator(".summary-list").get_by_text("Glosfabriken Test").is_visible()
    assert teacher.locator(".summary-list").get_by_text("Ordverkstan AB").is_visible()
    teacher.click("button:has-text('Skicka önskemålet')")
    teacher.wait_for_url(re.compile(r"\?sent=1$"))
    request_path = teacher.url.split(web, 1)[1].split("?")[0]

    reviewer = new_page("dataskydd")
    reviewer.goto(web + request_path)
    assert reviewer.locator(".summary-list").get_by_text("Ordverkstan AB").is_visible()
    reviewer.get_by_role("radio", name="Godkänn").check()
    reviewer.fill("#field-conditions", "Bara med pseudonyma konton.")
    reviewer.click("button:has-text('Fortsätt')")
    reviewer.wait_for_url(f"{web}{request_path}/check")
    assert reviewer.locator(".summary-list").get_by_text("Bara med pseudonyma konton.").is_visible()
    reviewer.click("button:has-text('Godkänn önskemålet')")
    # a new app has no recorded data protection yet: the service refuses the approval and says why, in words
    alert = reviewer.locator(".notice-error")
    assert alert.get_by_text("Appen kan inte godkännas just nu").is_visible()
    assert alert.locator("li").count() >= 1
    assert_accessible(reviewer, "a refused approval")
    assert_fits_phone(reviewer, "a refused approval")
    reviewer.goto(web + request_path)
    assert reviewer.locator(".catalog-state .tag").inner_text() == "Granskas"
