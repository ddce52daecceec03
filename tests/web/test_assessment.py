"""The Rektor's self-assessment in the web app: the overview, the task list, one heading per page with autosave,
guidance, check your answers, submitting with the keyboard alone, validation and a session that ends mid-form.

The demo Rektor ("rektor") has a draft in the demo round; the last test submits it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page

from tests.support.browser import assert_accessible, assert_fits_phone, end_session, screenshot, sign_in_again, tab_to
from tests.support.stack import Stack


def _api(stack: Stack, path: str) -> Any:
    assert stack.oidc is not None
    token = stack.oidc.token_for("rektor")
    r = httpx.get(f"{stack.services['assessment'].url}/v1{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    r.raise_for_status()
    return r.json()


def _open_draft(page: Page, web: str) -> str:
    """From the menu's self-assessment page to the Rektor's draft; its path."""
    page.goto(web + "/assessment")
    assert page.locator("h1").inner_text() == "Självskattning"
    card = page.locator(".assessment-rounds .card").first
    assert "Matteusskolan" in card.inner_text()
    card.locator("a.button").click()
    page.wait_for_url("**/assessments/*")
    return page.url.removeprefix(web)


def test_overview_task_list_heading_guidance_and_check_pages(new_page: Callable[..., Page], web: str, tmp_path: Path) -> None:
    page = new_page("rektor")
    page.goto(web + "/assessment")
    assert "Sista dag att skicka in" in page.locator("main").inner_text()
    assert_accessible(page, "the self-assessment overview")
    assert_fits_phone(page, "the self-assessment overview")

    path = _open_draft(page, web)
    main = page.locator("main")
    assert "Matteusskolan" in main.inner_text()
    assert page.locator(".summary-list .tag").inner_text() in ("Utkast", "Öppnad igen")
    tasks = page.locator(".assessment-task")
    assert tasks.count() == 5
    assert "besvarade" in tasks.first.inner_text()
    assert_accessible(page, "the task list")
    assert_fits_phone(page, "the task list")

    page.click("a.assessment-task-link >> nth=0")
    assert page.locator("h1").inner_text() == "Infrastruktur för ökad tillgänglighet"
    assert page.locator("legend", has_text="Trådlöst nät i alla lokaler").count() == 1
    assert page.locator('input[name="level-INF-01"]').count() == 5  # five levels, no "not relevant" for this one
    assert page.locator('input[name="level-INF-04"]').count() == 6  # this one may be "not relevant"
    assert page.locator("form[data-autosave] [data-autosave-status]").count() == 1
    assert_accessible(page, "a heading page")
    assert_fits_phone(page, "a heading page")
    screenshot(page, "assessment-heading", tmp_path)

    page.goto(web + path + "/guidance")
    assert page.locator("h1").inner_text() == "Vägledning"
    assert page.locator("main h2").count() == 5
    assert "Nivå nu" in page.locator("main").inner_text()
    assert_accessible(page, "the guidance page")
    assert_fits_phone(page, "the guidance page")

    page.goto(web + path + "/check")
    assert page.locator("h1").inner_text() == "Kontrollera dina svar innan du skickar in"
    assert "obligatoriska frågor saknar svar" in page.locator(".notice").inner_text()
    assert page.locator(".tag", has_text="Saknas").count() > 0
    change = page.locator(".summary-actions a").first
    assert change.get_attribute("href", timeout=5000).startswith(path + "/headings/infrastruktur#field-level-")  # type: ignore[union-attr]
    assert_accessible(page, "the check page")
    assert_fits_phone(page, "the check page")
    screenshot(page, "assessment-check", tmp_path)

    page.goto(web + "/")  # the start page: the draft is the Rektor's task, with how far it has come
    # (other tests of the session may have opened more rounds for the school: each is a task of its own)
    task = page.locator(f'.task-list .task:has(a[href="{path}"])')
    assert task.count() == 1
    assert "Fyll i självskattningen för Matteusskolan" in task.inner_text() and "frågor" in task.inner_text()


def test_invalid_evidence_and_an_over_long_comment_show_the_error_summary(new_page: Callable[..., Page], web: str) -> None:
    page = new_page("rektor")
    path = _open_draft(page, web)
    page.goto(web + path + "/headings/infrastruktur")
    page.fill("#field-evidence-INF-01", "inte en länk")
    page.fill("#field-comment-INF-02", "x" * 4001)
    with page.expect_response(lambda r: r.request.method == "POST" and "x-autosave" not in r.request.headers) as posted:
        page.click("form[data-autosave] button[type=submit]")
    assert posted.value.status == 422
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    links = summary.locator("a")
    assert links.count() == 2
    hrefs = {links.nth(n).get_attribute("href") for n in range(2)}
    assert hrefs == {"#field-evidence-INF-01", "#field-comment-INF-02"}
    assert "https://" in summary.inner_text()
    assert page.locator("#field-evidence-INF-01").input_value() == "inte en länk"  # what was typed is kept
    assert page.locator("#field-evidence-INF-01").get_attribute("aria-invalid") == "true"
    assert page.title().startswith("Fel:")
    assert_accessible(page, "a heading page with errors")
    assert_fits_phone(page, "a heading page with errors")
    # nothing was saved: the page shows no such evidence when opened again
    page.goto(web + path + "/headings/infrastruktur")
    assert page.locator("#field-evidence-INF-01").input_value() == ""


def test_autosave_saves_a_chosen_level_without_pressing_save(new_page: Callable[..., Page], web: str, stack: Stack) -> None:
    page = new_page("rektor")
    path = _open_draft(page, web)
    page.goto(web + path + "/headings/uppfoljning")
    page.check("#field-level-UPP-05-2")
    status = page.locator("[data-autosave-status]")
    status.filter(has_text="Dina svar är sparade.").wait_for()
    answers = {a["indicatorId"]: a for a in _api(stack, path)["answers"]}
    assert answers["UPP-05"]["level"] == 2
    page.reload()
    assert page.locator("#field-level-UPP-05-2").is_checked()


def test_a_form_posted_after_the_session_ended_keeps_the_typed_comment(new_page: Callable[..., Page], web: str) -> None:
    page = new_page("rektor", java_script=False)
    path = _open_draft(page, web)
    heading = web + path + "/headings/uppfoljning"
    page.goto(heading)
    typed = "Vi följer upp elevernas resultat varje termin."
    page.fill("#field-comment-UPP-06", typed)
    end_session(page)
    page.click("form[data-autosave] button[type=submit]")
    page.wait_for_url("**/session-ended?**")  # the app says the session ended and offers to sign in again
    sign_in_again(page, web, "rektor")
    page.wait_for_url(heading)
    assert page.locator("#field-comment-UPP-06").input_value() == typed
    assert page.locator(".notice").count() >= 1  # "we kept what you wrote"


def test_the_rektor_fills_in_and_submits_with_the_keyboard_alone(new_page: Callable[..., Page], web: str, stack: Stack) -> None:
    page = new_page("rektor")
    # start page → the task
    tab_to(page, '.task-list a[href^="/assessments/"]')
    page.keyboard.press("Enter")
    page.wait_for_url("**/assessments/*")
    path = page.url.removeprefix(web)
    tab_to(page, "a.assessment-task-link")
    page.keyboard.press("Enter")
    for _ in range(5):
        page.wait_for_url("**/headings/*")
        unanswered = page.evaluate("""() => {
            const names = [...new Set([...document.querySelectorAll('input[type=radio]')].map(r => r.name))];
            return names.filter(n => !document.querySelector(`input[name="${n}"]:checked`));
        }""")
        for n, name in enumerate(unanswered):
            tab_to(page, f'input[name="{name}"]')  # the group's first radio: no radio chosen yet
            page.keyboard.press("Space")
            if n == 0:
                indicator = name.removeprefix("level-")
                tab_to(page, f"#field-comment-{indicator}")
                page.keyboard.type("Ifyllt med tangentbordet.")
        before = page.url
        tab_to(page, "form[data-autosave] button[type=submit]")
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: url != before)
        if page.url.endswith("/check"):
            break
    assert page.url.endswith("/check"), page.url
    assert page.locator(".tag", has_text="Saknas").count() == 0
    tab_to(page, 'form[action$="/check"] button[type=submit]')
    page.keyboard.press("Enter")
    page.wait_for_url("**/submitted")
    assert page.locator("h1").inner_text() == "Självskattningen är inskickad"
    assert page.locator('main a[href="/school-report"]').count() == 1
    assert_accessible(page, "the confirmation page")
    assert_fits_phone(page, "the confirmation page")
    assessment = _api(stack, path)
    assert assessment["status"] == "submitted"
    assert assessment["missingRequired"] == []
    # ... and the school's report follows: the confirmation's link, reloaded until reporting has applied the event
    tab_to(page, 'main a[href="/school-report"]')
    page.keyboard.press("Enter")
    page.wait_for_url("**/school-units/*")
    for _ in range(60):
        if page.locator('img.chart[src$="/charts/radar.svg"]').count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    assert page.locator('img.chart[src$="/charts/radar.svg"]').count() == 1, "the report did not show this year's self-assessment"
    assert str(date.today().year) in page.locator("main").inner_text()
    # read-only from now on: the heading page has no inputs
    page.goto(web + path + "/headings/infrastruktur")
    assert page.locator("input[type=radio]").count() == 0
    assert "Nivå" in page.locator("main").inner_text()
