"""Data protection in the web app, as the data-protection officer ("dataskydd") uses it: an access request
(registerutdrag) for a demo person followed until its export can be downloaded, an erasure request for a person
made for this test alone (a validation error first, then the check page with its warning, then the progress in
every service), the access log with its person filter, and the start page's task."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page

from devkit.city_cli import publish_envelopes
from devkit.demo.personas import persona
from shared.events.city import GuardianRelationAdded, PersonUpserted, SchoolType
from shared.events.envelope import new_envelope
from tests.support.browser import assert_accessible, assert_fits_phone, end_session, run_async, screenshot, sign_in_again
from tests.support.stack import Stack

POLL_SECONDS = 60


def _reload_until(page: Page, text: str, seconds: float = POLL_SECONDS) -> None:
    """Reloads the page (as a person would) until ``text`` is on it."""
    deadline = time.monotonic() + seconds
    while text not in page.locator("main").inner_text():
        assert time.monotonic() < deadline, f"{text!r} never showed on {page.url}:\n{page.locator('main').inner_text()}"
        page.wait_for_timeout(1000)
        page.reload()


def test_the_officer_asks_for_an_access_request_and_downloads_the_export(new_page: Callable[..., Page], web: str, tmp_path: Path) -> None:
    guardian = persona("vardnadshavare").person
    page = new_page("dataskydd")
    # the start page points to the area
    assert page.locator("a.task-link[href='/privacy']").count() >= 1
    page.click("nav.site-nav a[href='/privacy']")
    assert page.locator("h1").inner_text() == "Dataskydd"
    page.click("text=Begär ett registerutdrag")
    assert page.url.endswith("/privacy/access/new")
    assert_accessible(page, "the new access request form")
    assert_fits_phone(page, "the new access request form")

    page.fill("#field-personId", f" {str(guardian).upper()} ")  # as pasted: spaces and capitals are forgiven
    page.check("label:has-text('Personen har själv begärt det')")
    page.click("button:has-text('Begär registerutdrag')")
    assert "/privacy/access/" in page.url and "sent=1" in page.url
    assert page.locator("h1").inner_text() == "Registerutdraget är begärt"
    progress = page.locator("#parts-caption")
    assert progress.inner_text() == "Varje del av Skolit"
    assert page.locator("table tbody tr").count() == 4
    assert str(guardian) not in page.locator("main").inner_text()  # the person by name, never by id
    assert_accessible(page, "the access request's progress")
    assert_fits_phone(page, "the access request's progress")

    _reload_until(page, "Klart att hämta")
    assert page.locator("table tbody tr:has-text('Klar')").count() == 4
    href = page.locator("a:has-text('Hämta registerutdraget')").get_attribute("href")
    assert href and href.endswith("/export")
    answer = page.request.get(web + href)
    assert answer.status == 200
    assert "attachment" in answer.headers["content-disposition"]
    export = json.loads(answer.body())
    assert export["person"] == str(guardian)
    assert set(export["services"]) == {"assessment", "catalog", "reporting", "notification"}
    assert_accessible(page, "a ready access request")

    # the menu lists the request with the person's name and its state in words
    page.goto(web + "/privacy")
    table = page.locator("table:has(#access-caption)")
    first = table.locator("tbody tr").first
    assert "Klart att hämta" in first.inner_text()
    assert str(guardian) not in table.inner_text()
    assert first.locator("td").first.inner_text().strip() not in ("", "Okänd person")
    assert_accessible(page, "the data-protection menu")
    assert_fits_phone(page, "the data-protection menu")
    screenshot(page, "privacy", tmp_path)


def _throwaway_person(stack: Stack) -> uuid.UUID:
    """A guardian made for this test alone (never a persona other tests use), with a relation to a pupil."""
    person, pupil = uuid.uuid4(), uuid.uuid4()
    school = persona("larare").school_units[0]
    events = [
        PersonUpserted(id=person, givenName="Ture", familyName="Testsson"),
        PersonUpserted(id=pupil, givenName="Tova", familyName="Testsson"),
        GuardianRelationAdded(id=uuid.uuid4(), guardian=person, pupil=pupil, schoolUnit=school, schoolType=SchoolType.GR, schoolYear=4),
    ]
    run_async(publish_envelopes(stack.bootstrap, [new_envelope(e, "tests.privacy") for e in events]))
    return person


def test_the_officer_erases_a_person_after_checking_the_answers(new_page: Callable[..., Page], web: str, stack: Stack) -> None:
    person = _throwaway_person(stack)
    page = new_page("dataskydd")
    page.goto(web + "/privacy")
    page.click("text=Begär radering")
    assert page.url.endswith("/privacy/erasures/new")
    assert_accessible(page, "the erasure form")
    assert_fits_phone(page, "the erasure form")

    # nothing chosen and an id that is not one: the page again, with what to fix
    page.fill("#field-personId", "Ture Testsson")
    with page.expect_response(lambda r: r.url.endswith("/privacy/erasures/new") and r.request.method == "POST") as posted:
        page.click("button:has-text('Fortsätt')")
    assert posted.value.status == 422
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    links = summary.locator("a")
    assert links.count() == 2
    assert links.nth(0).get_attribute("href") == "#field-personId"
    assert "person-id" in links.nth(0).inner_text()
    assert links.nth(1).inner_text() == "Välj varför uppgifterna ska raderas"
    assert page.locator("#field-personId").input_value() == "Ture Testsson"  # what was typed stays
    assert page.title().startswith("Fel:")
    assert_accessible(page, "the erasure form with errors")

    page.fill("#field-personId", str(person))
    page.check("label:has-text('Personen registrerades av misstag')")
    page.click("button:has-text('Fortsätt')")
    assert page.url.endswith("/privacy/erasures/check")
    main = page.locator("main").inner_text()
    assert "går inte att ångra" in main
    assert str(person) in main and "Personen registrerades av misstag" in main
    assert_accessible(page, "the erasure check page")
    assert_fits_phone(page, "the erasure check page")

    # "change" goes back to the form with the answers in it
    page.click("text=Ändra skäl")
    assert page.locator("#field-personId").input_value() == str(person)
    page.click("button:has-text('Fortsätt')")
    page.click("button:has-text('Radera personens uppgifter')")
    assert "/privacy/erasures/" in page.url and "sent=new" in page.url
    assert page.locator("h1").inner_text() == "Raderingen är begärd"
    assert page.locator("table tbody tr").count() == 4
    assert str(person) not in page.locator("main").inner_text()
    assert_accessible(page, "the erasure's progress")
    assert_fits_phone(page, "the erasure's progress")

    _reload_until(page, "Alla delar av Skolit har raderat")
    assert page.locator("table tbody tr:has-text('Raderat')").count() == 4
    # the check page's answers are gone once sent
    page.goto(web + "/privacy/erasures/check")
    assert page.url.endswith("/privacy/erasures/new")
    page.goto(web + "/privacy")
    assert "Raderad" in page.locator("table:has(#erasure-caption) tbody tr").first.inner_text()


def test_the_officer_reads_the_access_log_and_filters_it_by_person(new_page: Callable[..., Page], web: str) -> None:
    page = new_page("dataskydd")
    page.goto(web + "/privacy")
    page.click("text=Se loggen över läsningar av personuppgifter")
    assert page.url.endswith("/privacy/access-log")
    page.reload()  # reading the log is logged too: now there is at least that
    rows = page.locator("table.access-log tbody tr")
    assert rows.count() >= 1
    own = page.locator("table.access-log tbody tr:has-text('Läste den här loggen')").first
    assert "Dan Persson" in own.inner_text() and "Granskning av dataskydd" in own.inner_text()
    assert_accessible(page, "the access log")
    assert_fits_phone(page, "the access log")

    page.fill("#field-person", "inte ett id")
    with page.expect_response(lambda r: "/privacy/access-log" in r.url) as answered:
        page.click("button:has-text('Visa')")
    assert answered.value.status == 422
    assert page.locator(".error-summary a[href='#field-person']").count() == 1
    assert_accessible(page, "the access log with an error")

    guardian = persona("vardnadshavare").person
    page.fill("#field-person", str(guardian))
    page.click("button:has-text('Visa')")
    assert "person=" in page.url
    main = page.locator("main").inner_text()
    assert "Läsningar av den valda personens uppgifter" in main or "Det finns inga läsningar att visa." in main
    if page.locator("table.access-log").count():
        assert str(guardian) not in page.locator("table.access-log").inner_text()
    page.click("text=Visa alla")
    assert page.url.endswith("/privacy/access-log")


def test_an_access_request_form_posted_after_the_session_ended_is_kept(new_page: Callable[..., Page], web: str) -> None:
    guardian = str(persona("vardnadshavare").person)
    page = new_page("dataskydd")
    page.goto(web + "/privacy/access/new")
    page.fill("#field-personId", guardian)
    page.check("label:has-text('Intern granskning')")
    end_session(page)
    with page.expect_response(lambda r: r.url.endswith("/privacy/access/new") and r.request.method == "POST") as posted:
        page.click("button:has-text('Begär registerutdrag')")
    assert posted.value.status == 303 and "/session-ended?next=" in posted.value.headers["location"]
    assert "skolit_kept" in {c["name"] for c in page.context.cookies()}
    assert page.locator("h1").inner_text() == "Du har blivit utloggad"
    assert_accessible(page, "the session-ended page")
    sign_in_again(page, web, "dataskydd")
    page.wait_for_url(web + "/privacy/access/new")
    assert page.locator("#field-personId").get_attribute("value") == guardian  # filled in by the server, not the browser
    assert page.locator("input[name='reasonCode'][value='internal-review']").get_attribute("checked") is not None
    assert "Vi har behållit det" in page.locator(".notice").inner_text()
    assert_accessible(page, "the access request form, kept")
