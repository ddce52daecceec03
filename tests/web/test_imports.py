"""City admins import the city's figures through the web app (web/pages/imports.py → the connector's
POST /v1/imports/…): choose what and the file, the connector checks it (dry run, nothing published), check your answers,
confirm, the counts. A bad file is listed cell by cell (row and column) and nothing is imported; the connector being
down is said on the page; a teacher gets no such page. Through the browser, with the keyboard, checked with axe.

The session stack does not start the connector: the web app is told to find it on ``stack.connector_port``
(tests/support/stack.py web_env), and this module starts it there only once the "not reachable" case has been seen."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from playwright.sync_api import Page

from connectors.imports import figures
from connectors.imports.table import decode
from devkit.process import ServiceProcess
from shared.db import provision
from shared.settings import CONNECTOR
from tests.support.browser import assert_accessible, assert_fits_phone, run_async, tab_to
from tests.support.stack import ROOT, Stack

EXAMPLE = ROOT / "docs" / "examples" / "school-figures.csv"
UNIT = "6564f0c0-20f5-5ed5-9b80-5f7a55d55403"


@pytest.fixture(scope="module")
def connector(stack: Stack, web: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The connector (imports only: no SS 12000 API set) on the port the web app was started to call."""
    assert stack.connector_port, "the stack gives the web app a connector port (Stack.web_env)"
    run_async(provision(stack.admin_url, (CONNECTOR,)))
    port = stack.connector_port
    process = ServiceProcess(CONNECTOR, port, stack.env_for(CONNECTOR) | {"SKOLIT_CONNECTOR_PORT": str(port)},
                             tmp_path_factory.mktemp("connector") / "connector.log", argv=[sys.executable, "-m", "connectors.ss12000"])
    process.start()
    try:
        process.wait_until(lambda c: c.get("/healthz").status_code == 200, "serving", 60)
        yield process
    finally:
        process.stop()


def _in_outbox(stack: Stack, ids: list[str]) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(stack.admin_url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM connector.outbox WHERE id = ANY($1::uuid[])", ids))
        finally:
            await conn.close()

    return run_async(count())


def _choose_and_send(page: Page, web: str, file: Path) -> None:
    """The import page with the keyboard: the radio for school figures, the file, the submit button."""
    page.goto(web + "/imports")
    tab_to(page, "#field-kind-1")
    page.keyboard.press("Space")
    assert page.locator("#field-kind-1").is_checked()
    page.set_input_files("#field-file", str(file))  # a file chooser is the operating system's: set, not typed
    tab_to(page, "main form button[type='submit']")
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_a_teacher_gets_no_import_page(new_page: Callable[..., Page], web: str) -> None:
    page = new_page("larare")
    assert page.locator("nav.site-nav a[href='/imports']").count() == 0
    response = page.goto(web + "/imports")
    assert response is not None and response.status == 403
    assert page.locator("input[type='file']").count() == 0


def test_a_city_admin_checks_and_imports_the_school_figures(new_page: Callable[..., Page], web: str, stack: Stack,
                                                             request: pytest.FixtureRequest) -> None:
    page = new_page("stadsadmin")
    page.click("nav.site-nav a[href='/imports']")
    assert page.locator("h1").inner_text() == "Importera stadens uppgifter"
    assert "docs/examples/school-figures.csv" in page.locator("main").inner_text()
    assert_accessible(page, "the import page")
    assert_fits_phone(page, "the import page")

    # the connector not started yet: the page says so, nothing else happens
    _choose_and_send(page, web, EXAMPLE)
    assert page.locator(".notice-error").inner_text().startswith("Stadens koppling svarar inte")
    assert page.locator("h1").inner_text() == "Importera stadens uppgifter"
    assert_accessible(page, "the import page, connector unreachable")

    request.getfixturevalue("connector")
    ids = [figures.event_id(e) for e in figures.figures_from_csv(decode(EXAMPLE.read_bytes()))]
    assert len(ids) == 6
    before = _in_outbox(stack, ids)

    # the check: the connector's dry run counted the file and published nothing
    _choose_and_send(page, web, EXAMPLE)
    assert page.locator("h1").inner_text() == "Kontrollera innan du importerar"
    summary = page.locator(".summary-list").inner_text()
    assert "Skolornas nyckeltal" in summary and "school-figures.csv" in summary
    assert re.search(r"Rader\s+6\b", summary) and re.search(r"Uppgifter att publicera\s+6\b", summary), summary
    assert "?" not in page.url  # the file is in the page's form, never in the URL
    assert _in_outbox(stack, ids) == before
    assert_accessible(page, "the check page")
    assert_fits_phone(page, "the check page")

    # confirm: the import itself, and its counts
    tab_to(page, "form[action='/imports/confirm'] button[type='submit']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url("**/imports/done")
    assert page.locator("h1").inner_text() == "Uppgifterna är importerade"
    counts = page.locator("#import-counts").inner_text()
    assert counts == f"{6 - before} nya uppgifter publicerades av 6 i filen (6 rader).", counts
    assert _in_outbox(stack, ids) == 6
    assert_accessible(page, "the confirmation page")

    # the same file again: nothing new, and the page says so
    _choose_and_send(page, web, EXAMPLE)
    tab_to(page, "form[action='/imports/confirm'] button[type='submit']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url("**/imports/done")
    assert page.locator("#import-counts").inner_text() == "0 nya uppgifter publicerades av 6 i filen (6 rader)."
    assert page.locator("#import-already").inner_text() == "Allt i filen var redan importerat: inget nytt publicerades."


def test_a_bad_file_lists_every_bad_cell_and_imports_nothing(new_page: Callable[..., Page], web: str, stack: Stack,
                                                             connector: ServiceProcess, tmp_path: Path) -> None:
    bad = tmp_path / "nyckeltal.csv"
    bad.write_text("schoolUnitId;year;wifiCoverage;pupils\n"
                   f"{UNIT};2031;0,9;400\n"
                   f"{UNIT.replace('6564', '7564')};2031;0,8;många\n"
                   f"{UNIT.replace('6564', '8564')};2031;7;300\n", encoding="utf-8")
    page = new_page("stadsadmin")
    _choose_and_send(page, web, bad)
    assert page.locator("h1").inner_text() == "Filen kan inte importeras"
    listed = page.locator(".error-summary li").all_inner_texts()
    assert len(listed) == 2, listed
    assert listed[0].startswith("Rad 3, kolumn pupils: ")
    assert listed[1].startswith("Rad 4, kolumn wifiCoverage: ")
    assert page.locator(".error-summary h2").inner_text() == "2 fel i filen"
    assert page.locator("form[action='/imports/confirm']").count() == 0  # nothing to confirm
    assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
    assert_accessible(page, "the refused file")
    assert_fits_phone(page, "the refused file")
    # the good row was not published either (all or nothing)
    good = [figures.event_id(e) for e in figures.figures_from_csv(f"schoolUnitId;year;wifiCoverage;pupils\n{UNIT};2031;0,9;400\n")]
    assert _in_outbox(stack, good) == 0
    # back to choose another file, with the keyboard
    tab_to(page, "main a[href='/imports']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("input[type='file']").count() == 1
