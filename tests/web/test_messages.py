"""Messages: a district admin composes a broadcast (an error first, the audience preview, check your answers), sends it;
the guardian at Engelbrektsskolan finds it unread in the inbox, opens it and it is read; the sender sees the read count.
The guardian changes their message settings, sees their contact details, their devices and the apps of their child's school."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page

from devkit.demo.personas import TEACHER_SCHOOL
from tests.support.browser import assert_accessible, assert_fits_phone, screenshot
from tests.support.stack import Stack

SENDER = "omradesadmin"  # the Rektor persona's school (Matteusskolan) is not the guardian's: the district admin covers both
GUARDIAN = "vardnadshavare"


def _api(stack: Stack, login: str, service: str, path: str, **params: Any) -> Any:
    assert stack.oidc is not None
    headers = {"Authorization": "Bearer " + stack.oidc.token_for(login)}
    with httpx.Client(timeout=30) as http:
        r = http.get(f"{stack.services[service].url}/v1{path}", params=params, headers=headers)
        r.raise_for_status()
        return r.json()


def _number(text: str) -> int:
    return int(re.sub(r"\D", "", text) or 0)


def _check(page: Page, what: str) -> None:
    assert_accessible(page, what)
    assert_fits_phone(page, what)


def test_a_broadcast_reaches_the_guardian_who_reads_it(new_page: Callable[..., Page], web: str, tmp_path: Path) -> None:
    subject = f"Studiedag {uuid.uuid4().hex[:6]}"
    sender = new_page(SENDER)
    sender.goto(web + "/broadcasts")
    assert sender.locator("h1").inner_text() == "Utskick"
    _check(sender, "the broadcasts list")
    sender.click("text=Skriv ett nytt utskick")
    assert sender.url.endswith("/broadcasts/new")
    assert sender.locator("h1").inner_text() == "Skriv ett utskick"
    screenshot(sender, "messages-composer", tmp_path)
    _check(sender, "the composer")

    # a missing subject: the page again (422) with the error summary linked to the field, what was written kept
    sender.check("input[name='kind'][value='guardians']")
    school_field = sender.locator("#field-school")
    if sender.locator("select#field-school").count():
        sender.select_option("select#field-school", label=TEACHER_SCHOOL)
    else:
        school_field.get_by_label(TEACHER_SCHOOL, exact=True).check()
    sender.fill("#field-body", "Hej! På fredag är det studiedag och eleverna är lediga.")
    with sender.expect_navigation() as sent_form:
        sender.click("main button[type='submit']")
    assert sent_form.value is not None and sent_form.value.status == 422
    summary = sender.locator(".error-summary")
    assert summary.is_visible() and "Skriv en rubrik" in summary.inner_text()
    assert summary.locator("a").get_attribute("href") == "#field-subject"
    assert sender.title().startswith("Fel:")
    assert sender.locator("#field-body").input_value().startswith("Hej! På fredag")
    _check(sender, "the composer with an error")

    sender.fill("#field-subject", subject)
    sender.fill("#field-link", "/inbox")
    sender.click("main button[type='submit']")
    assert sender.url.endswith("/broadcasts/new/check")
    assert sender.locator("h1").inner_text() == "Kontrollera utskicket"
    reach = sender.locator(".notice-heading").inner_text()
    assert "Meddelandet når" in reach and _number(reach.split("(")[0]) >= 1, reach
    assert subject in sender.locator(".summary-list").inner_text()
    assert TEACHER_SCHOOL in sender.locator(".summary-list").inner_text()
    _check(sender, "the check page")
    sender.click("main button:has-text('Skicka')")
    assert re.search(r"/broadcasts/[0-9a-f-]{36}\?sent=1$", sender.url), sender.url
    assert "Utskicket är skickat" in sender.locator(".notice-success").inner_text()
    assert sender.locator("h1").inner_text() == subject
    broadcast_url = sender.url.split("?")[0]
    _check(sender, "the broadcast page")

    # the guardian: the message arrives (delivery goes through the broker: poll), unread in words
    guardian = new_page(GUARDIAN)
    item = guardian.locator(".message-item", has_text=subject)
    deadline = time.monotonic() + 60
    while True:
        guardian.goto(web + "/inbox")
        if item.count() or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert item.count() == 1, "the broadcast never reached the guardian's inbox"
    assert "Oläst" in item.inner_text()
    assert guardian.locator("h1").inner_text() == "Meddelanden"
    screenshot(guardian, "messages-inbox", tmp_path)
    _check(guardian, "the inbox")
    item.locator("a").click()
    assert guardian.locator("h1").inner_text() == subject
    assert "studiedag" in guardian.locator("main").inner_text()
    _check(guardian, "a message")
    guardian.goto(web + "/inbox")
    assert "Läst" in item.inner_text() and "Oläst" not in item.inner_text()
    guardian.click("a.language-switch")
    assert guardian.locator("h1").inner_text() == "Messages" and "Read" in item.inner_text()
    guardian.click("a.language-switch")

    # the sender sees it read
    deadline = time.monotonic() + 60
    while True:
        sender.goto(broadcast_url)
        if _number(sender.locator("#read-count").inner_text()) >= 1 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert _number(sender.locator("#read-count").inner_text()) >= 1
    assert sender.locator("h2", has_text="Vårdnadshavare som inte nåddes").count() == 1
    # the follow-up list names people (a protected identity in words): never an id
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-", sender.locator("main").inner_text())
    _check(sender, "the broadcast page with a read receipt")
    sender.goto(web + "/broadcasts")
    assert sender.locator("table", has_text=subject).count() == 1


def test_the_guardian_sets_how_messages_come_and_sees_their_details(new_page: Callable[..., Page], web: str, stack: Stack,
                                                                      tmp_path: Path) -> None:
    page = new_page(GUARDIAN)
    assert page.locator(".task-link", has_text="meddelande").count() == 1  # the start page's task
    page.goto(web + "/preferences")
    assert page.locator("h1").inner_text() == "Inställningar för meddelanden"
    screenshot(page, "messages-preferences", tmp_path)
    _check(page, "the preferences")
    before = page.locator("input[name='language']:checked").get_attribute("value")
    other = "en" if before == "sv" else "sv"

    # a time that is no time: the page again with the error
    page.check("input[name='quiet'][value='yes']")
    page.fill("#field-quiet_start", "25:00")
    with page.expect_navigation() as posted:
        page.click("main form button[type='submit']")
    assert posted.value is not None and posted.value.status == 422
    assert "Skriv tiden som tt:mm" in page.locator(".error-summary").inner_text()
    _check(page, "the preferences with an error")

    page.check(f"input[name='language'][value='{other}']")
    page.check("input[name='quiet'][value='yes']")
    page.fill("#field-quiet_start", "22:00")
    page.fill("#field-quiet_end", "06:30")
    page.check("input[name='broadcast--inapp'][value='instant']")
    page.click("main form button[type='submit']")
    assert page.url.endswith("/preferences?saved=1")
    assert "sparade" in page.locator(".notice-success").inner_text()
    page.reload()
    assert page.locator("input[name='language']:checked").get_attribute("value") == other
    assert page.locator("#field-quiet_start").input_value() == "22:00"
    assert page.locator("#field-quiet_end").input_value() == "06:30"
    stored = _api(stack, GUARDIAN, "notification", f"/persons/{_me(stack)}/preferences")
    assert stored["language"] == other and stored["quietHours"] == {"start": "22:00", "end": "06:30"}
    # back as it was (other tests read this guardian's messages)
    page.check(f"input[name='language'][value='{before}']")
    page.click("main form button[type='submit']")
    assert page.url.endswith("/preferences?saved=1")

    # contact details: what the service has for me
    contacts = _api(stack, GUARDIAN, "notification", "/me/contacts")
    page.goto(web + "/contact-details")
    assert page.locator("h1").inner_text() == "Dina kontaktuppgifter"
    main = page.locator("main").inner_text()
    for channel in ("email", "phone"):
        value = contacts[channel]["value"]
        assert (value in main) if value else ("Inget" in main)
    _check(page, "the contact details")
    page.goto(web + "/contact-details/email")
    page.fill("#field-value", "inte-en-adress")
    with page.expect_navigation() as posted:
        page.click("main form button[type='submit']")
    assert posted.value is not None and posted.value.status == 422
    assert "namn@exempel.se" in page.locator(".error-summary").inner_text()
    _check(page, "changing the e-mail address")

    # a new address: a code goes to it (the test stack's mail sink), a wrong code first, then the right one
    new_email = f"webbtest-{uuid.uuid4().hex[:8]}@example.se"
    page.fill("#field-value", new_email)
    page.click("main form button[type='submit']")
    assert page.url.endswith("/contact-details/email/confirm")
    assert new_email in page.locator("main").inner_text()
    _check(page, "the code page")
    assert stack.sinks is not None
    code = None
    deadline = time.monotonic() + 30
    while code is None and time.monotonic() < deadline:
        sent = stack.sinks.messages(channel="email", to=new_email)
        found = re.findall(r"\b(\d{6})\b", json.dumps(sent))
        code = found[0] if found else None
        if code is None:
            time.sleep(1)
    assert code is not None, "no code reached the new address"
    wrong = "000000" if code != "000000" else "111111"
    page.fill("#field-code", wrong)
    with page.expect_navigation() as posted:
        page.click("main form button[type='submit']")
    assert posted.value is not None and posted.value.status == 422
    assert "Koden stämmer inte" in page.locator(".error-summary").inner_text()
    _check(page, "the code page with an error")
    page.fill("#field-code", code)
    page.click("main form button[type='submit']")
    assert page.url.endswith("/contact-details?done=confirmed")
    assert "Klart" in page.locator(".notice-success").inner_text()
    assert new_email in page.locator("main").inner_text()
    assert _api(stack, GUARDIAN, "notification", "/me/contacts")["email"]["value"] == new_email

    page.goto(web + "/devices")
    assert page.locator("h1").inner_text() == "Dina enheter"
    assert page.locator("table tbody tr").count() == len(contacts["devices"])
    _check(page, "the devices")
    if contacts["devices"]:
        page.locator("table tbody tr a").first.click()
        assert page.locator("h1").inner_text() == "Vill du ta bort enheten?"
        _check(page, "removing a device")
        page.click("main a:has-text('Avbryt')")
        assert page.url.endswith("/devices")
    page.goto(web + "/contact-details/email/remove")
    assert new_email in page.locator("main").inner_text()
    _check(page, "removing the e-mail address")

    # the apps of the child's school, with what data each receives
    page.goto(web + "/school-apps")
    assert page.locator("h1").inner_text() == "Appar i skolan"
    assert page.locator("h2", has_text=TEACHER_SCHOOL).count() == 1
    school = next(s for s in _api(stack, GUARDIAN, "assessment", "/me")["schoolUnits"] if s["name"] == TEACHER_SCHOOL)
    apps = _api(stack, GUARDIAN, "catalog", f"/public/school-units/{school['id']}/apps", limit=200)["items"]
    section = page.locator("section.school-apps", has=page.locator("h2", has_text=TEACHER_SCHOOL))
    assert section.locator(".app-item").count() == len(apps)
    if apps:
        first = section.locator(".app-item").first
        assert "Uppgifter som appen får" in first.inner_text()
        assert apps[0]["name"] in first.inner_text()
    _check(page, "the school's apps")


def _me(stack: Stack) -> str:
    return str(_api(stack, GUARDIAN, "assessment", "/me")["person"]["id"])
