"""The anonymous pulse in the browser (docs/decisions/0016): the Rektor creates single-use invitations through the pages and
sees the printable codes once; a member of staff, not signed in, answers from an invitation link on a phone with the
keyboard alone and sees the thank-you page; the same link then says it was used; an invalid answer shows an error
summary; an unknown code says what to do."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page

from tests.support.browser import PHONE, assert_accessible, assert_fits_phone, screenshot, tab_to
from tests.support.stack import Stack


def _pulse_open(stack: Stack, school: str) -> None:
    """The Rektor's school has an open round with a draft (tests of other areas may have submitted it or closed the round):
    reopens it, or opens a round of its own, through the API."""
    a = stack.services["assessment"].url
    assert stack.oidc is not None
    rektor = {"Authorization": "Bearer " + stack.oidc.token_for("rektor")}
    with httpx.Client(timeout=30) as http:
        rounds = http.get(f"{a}/v1/campaigns", params={"limit": 50}, headers=rektor).json()["items"]
        open_round = next((c for c in rounds if c["status"] == "open" and school in c["schoolUnitIds"]), None)
        if open_round is None:
            admin = {"Authorization": "Bearer " + stack.oidc.token_for("stadsadmin")}
            r = http.post(f"{a}/v1/campaigns", headers=admin, json={
                "name": "Pulstest", "year": date.today().year, "deadline": (date.today() + timedelta(days=60)).isoformat(), "schoolUnitIds": [school]})
            assert r.status_code == 201, r.text
            open_round = r.json()
        assessment = http.get(f"{a}/v1/campaigns/{open_round['id']}/school-units/{school}/assessment", headers=rektor).json()
        if assessment["status"] == "submitted":
            district = {"Authorization": "Bearer " + stack.oidc.token_for("omradesadmin")}
            r = http.post(f"{a}/v1/assessments/{assessment['id']}/reopen", headers=district, json={"reason": "Pulsen i webbtesterna"})
            assert r.status_code == 200, r.text


def _count(page: Page, what: str, group: str = "staff") -> int:
    return int(re.sub(r"\D", "", page.locator(f"[data-pulse-{what}='{group}']").inner_text()) or 0)


def _create_invitations(page: Page, web: str, how_many: int, tmp_path: Path) -> list[str]:
    """Through the Rektor's pages: the form (an empty one first: the error summary), the check page, the codes."""
    page.goto(web + "/pulse")
    page.click("text=Skapa inbjudningar")
    page.wait_for_url("**/pulse/invite")
    assert page.locator("h1").inner_text() == "Skapa inbjudningar"
    if page.locator("input[name='group'][type='radio']").count():
        page.check("input[name='group'][value='staff']")
    page.click("main button[type='submit']")
    summary = page.locator(".error-summary")
    summary.wait_for(state="visible")
    assert "Skriv hur många inbjudningar du behöver" in summary.inner_text()
    assert page.title().startswith("Fel:")
    assert_accessible(page, "the invitation form with an error")
    page.fill("#field-count", str(how_many))
    page.click("main button[type='submit']")
    page.wait_for_url("**/pulse/invite/check?*")
    assert page.locator("h1").inner_text() == "Kontrollera innan du skapar inbjudningarna"
    assert str(how_many) in page.locator(".summary-list").inner_text()
    assert "visas bara den här gången" in page.locator("main").inner_text()
    assert_accessible(page, "the invitations check page")
    assert_fits_phone(page, "the invitations check page")
    posted = {name: page.input_value(f"main form input[name='{name}']") for name in ("csrf_token", "group", "count", "batch")}
    page.click("main button[type='submit']:has-text('Skapa inbjudningarna')")
    assert page.locator("h1").inner_text() == f"{how_many} inbjudningar är skapade"
    # the same check page posted again (a reload) creates nothing more, and says the codes cannot be shown again
    again = page.request.post(web + "/pulse/invite/check", form=posted)
    assert again.status == 409 and "Inbjudningarna är redan skapade" in again.text()
    links = [t.strip() for t in page.locator("[data-pulse-link]").all_inner_texts()]
    codes = [t.strip() for t in page.locator("[data-pulse-code]").all_inner_texts()]
    assert len(links) == len(codes) == how_many
    assert all(link.endswith("/pulse/" + code) for link, code in zip(links, codes, strict=True))
    assert_accessible(page, "the codes page")
    assert_fits_phone(page, "the codes page")
    screenshot(page, "pulse-codes", tmp_path)
    return links


def test_rektor_invites_and_staff_answer_the_pulse_anonymously_by_keyboard_on_a_phone(
        new_page: Callable[..., Page], web: str, stack: Stack, demo: dict[str, Any], tmp_path: Path) -> None:
    _pulse_open(stack, str(demo["rektor_school"]))
    rektor = new_page("rektor")
    rektor.goto(web + "/pulse")
    assert rektor.locator("h1").inner_text() == "Pulsen"
    assert "Matteusskolan" in rektor.locator(".lead").inner_text()
    invited_before, answered_before = _count(rektor, "invited"), _count(rektor, "answered")
    links = _create_invitations(rektor, web, 6, tmp_path)

    rektor.goto(web + "/pulse")
    assert _count(rektor, "invited") == invited_before + 6
    # fewer than five answered: nothing is shown, and the page says why in words
    if answered_before < 5:
        assert "minst 5 svar" in rektor.locator("[data-pulse-suppressed='staff']").inner_text()
    assert "Så delar du ut inbjudningarna" in rektor.locator("main").inner_text()
    assert_accessible(rektor, "the Rektor's pulse page")
    assert_fits_phone(rektor, "the Rektor's pulse page")
    # the start page tells the Rektor how the pulse goes
    rektor.goto(web + "/")
    assert rektor.locator(".task-link", has_text="Pulsen").count() == 1

    # a member of staff, not signed in, on a phone, with the keyboard alone
    staff = new_page(viewport=PHONE)
    response = staff.goto(links[0])
    assert response is not None and response.status == 200
    assert "skolit_session" not in {c["name"] for c in staff.context.cookies()}
    assert "Skolan ser inte vem som har svarat" in staff.locator(".pulse-anonymous").inner_text()
    assert_accessible(staff, "the pulse start page")
    assert_fits_phone(staff, "the pulse start page")
    tab_to(staff, "a.button-start")
    staff.keyboard.press("Enter")
    staff.wait_for_url("**/1")
    total = int(re.search(r"Fråga 1 av (\d+)", staff.locator(".pulse-progress").inner_text()).group(1))  # type: ignore[union-attr]
    assert total >= 3
    for n in range(1, total + 1):
        assert staff.locator(".pulse-progress").inner_text() == f"Fråga {n} av {total}"
        assert staff.locator("fieldset legend h1").count() == 1
        if n == 1:
            assert_accessible(staff, "a pulse question")
            assert_fits_phone(staff, "a pulse question")
            screenshot(staff, "pulse-question", tmp_path)
        tab_to(staff, "#field-answer-1")
        if n == total:
            staff.keyboard.press("ArrowUp")  # from the first level round to the last choice: "Vet inte"
        else:
            staff.keyboard.press("Space")
            for _ in range(n % 5):
                staff.keyboard.press("ArrowDown")
        tab_to(staff, "main button[type='submit']")
        staff.keyboard.press("Enter")
        staff.wait_for_url(f"**/{n + 1}" if n < total else "**/check")
    assert staff.locator("h1").inner_text() == "Kontrollera dina svar"
    check = staff.locator(".summary-list").inner_text()
    assert "Vet inte" in check
    assert "Påbörjad (2 av 5)" in staff.locator(".summary-row").first.inner_text()
    assert_accessible(staff, "the pulse check page")
    assert_fits_phone(staff, "the pulse check page")
    # change one answer from the check page, back to the check page
    tab_to(staff, ".summary-actions a")
    staff.keyboard.press("Enter")
    staff.wait_for_url("**/1")
    assert staff.locator("#field-answer-2").is_checked()
    tab_to(staff, "#field-answer-2")
    staff.keyboard.press("ArrowDown")
    tab_to(staff, "main button[type='submit']")
    staff.keyboard.press("Enter")
    staff.wait_for_url("**/check")
    assert "Delvis etablerad (3 av 5)" in staff.locator(".summary-row").first.inner_text()
    # the answers between the screens are in a sealed cookie of the invitation's path, never in the URL
    assert "?" not in staff.url
    kept = [c for c in staff.context.cookies() if c["name"] == "skolit_pulse"]
    assert kept and kept[0]["httpOnly"] and kept[0]["path"].startswith("/pulse/")
    tab_to(staff, "main form button[type='submit']")
    staff.keyboard.press("Enter")
    staff.wait_for_url("**/thanks")
    assert staff.locator("h1").inner_text() == "Tack för dina svar"
    assert not [c for c in staff.context.cookies() if c["name"] == "skolit_pulse"]
    assert_accessible(staff, "the pulse thank-you page")
    assert_fits_phone(staff, "the pulse thank-you page")

    # the same link again: used
    response = staff.goto(links[0])
    assert response is not None and response.status == 409
    assert staff.locator("h1").inner_text() == "Koden är redan använd"
    assert "be rektorn om en ny lapp" in staff.locator("main").inner_text()
    assert_accessible(staff, "the used-code page")
    assert_fits_phone(staff, "the used-code page")

    # the Rektor sees one more answered, and no more than that
    rektor.goto(web + "/pulse")
    assert _count(rektor, "answered") == answered_before + 1

    # four more answers (through the service, as four more phones would): five answers make the first release; the last
    # question, answered "Vet inte" above, has four answers and stays hidden
    a = stack.services["assessment"].url
    headings = [h["id"] for h in httpx.get(f"{a}/v1/pulse/{links[2].rsplit('/', 1)[1]}").json()["headings"]]
    for link in links[2:6]:
        r = httpx.post(f"{a}/v1/pulse/{link.rsplit('/', 1)[1]}", json={"answers": {h: 4 for h in headings[:-1]}}, timeout=30)
        assert r.status_code == 202, r.text
    rektor.goto(web + "/pulse")
    assert _count(rektor, "answered") == answered_before + 5
    if answered_before == 0:
        table = rektor.locator("table.pulse-results")
        assert table.locator("caption").text_content() == "Så ser personalen på skolan, jämfört med din bedömning"
        rows = table.locator("tbody tr")
        assert rows.count() == len(headings)
        assert re.search(r"\b5\b", rows.first.locator("td").first.inner_text())
        assert "av 5 (" in rows.first.inner_text()
        assert "för få har svarat på den här frågan" in rows.last.inner_text()
    assert_accessible(rektor, "the Rektor's pulse page with results")
    assert_fits_phone(rektor, "the Rektor's pulse page with results")
    screenshot(rektor, "pulse-overview", tmp_path)

    # another invitation, its code typed in at /pulse; going on without choosing shows the error summary, linked to the question
    other = new_page(viewport=PHONE)
    other.goto(web + "/pulse")
    assert other.locator("h1").inner_text() == "Svara på pulsen"
    other.click("main button[type='submit']")
    assert "Skriv koden från lappen" in other.locator(".error-summary").inner_text()
    assert_accessible(other, "the code page with an error")
    assert_fits_phone(other, "the code page with an error")
    other.fill("#field-code", " " + links[1].rsplit("/", 1)[1].upper() + " ")
    other.click("main button[type='submit']")
    other.wait_for_url(links[1])
    tab_to(other, "a.button-start")
    other.keyboard.press("Enter")
    other.wait_for_url("**/1")
    tab_to(other, "main button[type='submit']")
    with other.expect_response(lambda r: r.request.method == "POST") as posted:
        other.keyboard.press("Enter")
    assert posted.value.status == 422
    summary = other.locator(".error-summary")
    summary.wait_for(state="visible")
    assert "Välj hur långt skolan har kommit, eller Vet inte" in summary.inner_text()
    assert summary.locator("a").get_attribute("href") == "#field-answer"
    assert other.locator("#error-answer").is_visible()
    assert_accessible(other, "a pulse question with an error")
    assert_fits_phone(other, "a pulse question with an error")
    # in English too
    other.click("a.language-switch")
    assert other.locator("html").get_attribute("lang") == "en"
    assert other.locator(".pulse-progress").inner_text() == f"Question 1 of {total}"
    assert other.locator("label[for='field-answer-6']").inner_text() == "Do not know"


def test_an_unknown_code_says_what_to_do(new_page: Callable[..., Page], web: str) -> None:
    page = new_page(viewport=PHONE)
    response = page.goto(web + "/pulse/abcdefghjkmnpq")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "Koden finns inte"
    assert "Kontrollera att du har skrivit in länken" in page.locator("main").inner_text()
    assert_accessible(page, "the unknown-code page")
    assert_fits_phone(page, "the unknown-code page")
    response = page.goto(web + "/pulse/abcdefghjkmnpq/3")
    assert response is not None and response.status == 404
