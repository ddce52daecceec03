"""The school's own pages: the report beside last year with its charts and their figures as tables, the history over
the years, and the action plan the Rektor keeps (add an action, follow it up)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page

from tests.support.browser import assert_accessible, assert_fits_phone, run_async, screenshot
from tests.support.stack import Stack


def _report_ready(page: Page, url: str, timeout: float = 120) -> None:
    """The reporting service learns of the demo's submissions from the broker: wait until it shows the report."""
    deadline = time.monotonic() + timeout
    page.goto(url)
    while page.locator("img.chart").count() < 2:
        assert time.monotonic() < deadline, f"no report at {url}: {page.locator('main').inner_text()[:300]}"
        time.sleep(2)
        page.reload()


def _api_report(stack: Stack, login: str, school: Any) -> dict[str, Any]:
    async def get() -> dict[str, Any]:
        import asyncio

        token = await asyncio.to_thread(stack.oidc.token_for, login)  # type: ignore[union-attr]
        async with httpx.AsyncClient(timeout=30) as http:
            r = await http.get(f"{stack.services['reporting'].url}/v1/school-units/{school}/report",
                               headers={"Authorization": f"Bearer {token}", "Accept-Language": "sv"})
            r.raise_for_status()
            body: dict[str, Any] = r.json()
            return body

    return run_async(get())


def test_the_rektor_adds_an_action_then_follows_it_up(new_page: Callable[..., Page], web: str, demo: dict[str, Any], tmp_path: Path) -> None:
    page = new_page("rektor")
    school = demo["rektor_school"]
    page.goto(web + "/action-plan")
    assert page.url == f"{web}/school-units/{school}/action-plan"
    assert page.locator("h1").inner_text() == "Handlingsplan"
    assert_accessible(page, "the action plan")
    assert_fits_phone(page, "the action plan")

    page.click("text=Lägg till en åtgärd")
    assert page.url.endswith(f"/school-units/{school}/action-plan/new")
    assert_accessible(page, "the new action form")
    assert_fits_phone(page, "the new action form")

    # a first try without an area and with too short a text: the page again, with the errors linked to their fields
    page.fill("#field-title", "Ny")
    page.fill("#field-owner", "Förstelärare i digitalisering")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("button:has-text('Lägg till åtgärden')")
    assert posted.value.status == 422
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    assert summary.locator("a[href='#field-heading']").inner_text() == "Välj vilket område åtgärden gäller"
    assert summary.locator("a[href='#field-title']").count() == 1
    assert summary.locator("a[href='#field-successCriterion']").count() == 1
    assert page.locator("#field-owner").input_value() == "Förstelärare i digitalisering"  # what was written stays
    assert page.title().startswith("Fel:")
    assert page.locator("#field-title").get_attribute("aria-invalid") == "true"
    assert "error-title" in (page.locator("#field-title").get_attribute("aria-describedby") or "")
    assert_accessible(page, "the new action form with errors")
    assert_fits_phone(page, "the new action form with errors")

    title = f"Kollegialt lärande om AI-verktyg {int(time.time())}"
    deadline = date.today() + timedelta(days=120)
    page.locator("#field-heading label").first.click()
    page.fill("#field-title", title)
    page.fill("#field-deadline", deadline.isoformat())
    page.fill("#field-successCriterion", "Alla lärare har deltagit i minst fyra träffar")
    page.click("button:has-text('Lägg till åtgärden')")
    assert page.url.endswith(f"/school-units/{school}/action-plan?done=added")
    assert "Åtgärden är tillagd" in page.locator(".notice").inner_text()
    row = page.locator("#open-caption").locator("xpath=..").locator("tr", has_text=title)
    assert row.count() == 1
    cells = row.locator("td")
    assert cells.nth(2).inner_text() == "Förstelärare i digitalisering"
    months = ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november", "december"]
    assert cells.nth(3).inner_text() == f"{deadline.day} {months[deadline.month - 1]} {deadline.year}"
    assert cells.nth(4).inner_text() == "Planerad"
    screenshot(page, "school-action-plan", tmp_path)

    # follow it up: nothing chosen is an error; then in progress, with a note
    row.locator("a").click()
    assert page.locator("h1").inner_text() == title
    assert_accessible(page, "an action")
    assert_fits_phone(page, "an action")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("button:has-text('Spara')")
    assert posted.value.status == 422
    assert page.locator(".error-summary a[href='#field-note']").inner_text() == "Välj en ny status eller skriv en anteckning"
    assert_accessible(page, "an action with an error")
    page.locator("label:has-text('Pågår')").click()
    page.fill("#field-note", "Första träffen är genomförd.")
    page.click("button:has-text('Spara')")
    assert page.url.endswith("action-plan?done=saved")
    assert "Ändringen är sparad" in page.locator(".notice").inner_text()
    row = page.locator("tr", has_text=title)
    assert row.locator("td").nth(4).inner_text() == "Pågår"
    row.locator("a").click()
    assert "Första träffen är genomförd." in page.locator(".school-notes").inner_text()
    assert "Status: Pågår" in page.locator(".school-notes").inner_text()
    assert page.locator("input[name='status'][value='in_progress']").is_checked()


def test_the_start_page_tells_the_rektor_of_actions_past_their_deadline(new_page: Callable[..., Page], web: str, demo: dict[str, Any],
                                                                       stack: Stack) -> None:
    school = demo["rektor_school"]

    async def add_late_action() -> None:
        import asyncio

        token = await asyncio.to_thread(stack.oidc.token_for, "rektor")  # type: ignore[union-attr]
        async with httpx.AsyncClient(timeout=30) as http:
            r = await http.post(f"{stack.services['assessment'].url}/v1/school-units/{school}/actions",
                                headers={"Authorization": f"Bearer {token}"},
                                json={"heading": "uppfoljning", "title": "Gå igenom förra årets resultat", "owner": "Rektor",
                                      "deadline": (date.today() - timedelta(days=3)).isoformat(), "successCriterion": "Genomgång gjord"})
            assert r.status_code == 201, r.text

    run_async(add_late_action())
    page = new_page("rektor")
    task = page.locator(".task-due", has_text="Åtgärder som passerat sitt datum på Matteusskolan")
    assert task.count() == 1
    assert "Att göra" in task.inner_text() or task.locator(".tag").count() == 1
    task.locator("a").click()
    assert page.url == f"{web}/school-units/{school}/action-plan"
    row = page.locator("tr", has_text="Gå igenom förra årets resultat")
    assert "Försenad" in row.inner_text()


def test_the_report_shows_both_charts_and_their_figures(new_page: Callable[..., Page], web: str, demo: dict[str, Any], stack: Stack,
                                                       tmp_path: Path) -> None:
    school = demo["teacher_school"]  # Engelbrektsskolan: submitted in the demo
    page = new_page("larare")
    assert page.locator(f"a[href='/school-units/{school}']", has_text="Se rapporten för Engelbrektsskolan").count() == 1  # start page
    page.goto(web + "/school-report")
    assert page.url == f"{web}/school-units/{school}"
    _report_ready(page, page.url)
    assert page.locator("h1").inner_text() == "Engelbrektsskolan"
    report = _api_report(stack, "larare", school)

    images = page.locator("img.chart")
    for i in range(2):
        image = images.nth(i)
        assert len(image.get_attribute("alt") or "") > 30
        assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", image.element_handle())
    radar = page.request.get(f"{web}/school-units/{school}/charts/radar.svg")
    assert radar.status == 200 and radar.headers["content-type"].startswith("image/svg+xml") and "<svg" in radar.text()

    # the radar's figures: level in words and numbers (decimal comma) per heading, as the API gives them
    levels = page.locator("#levels-caption").locator("xpath=..")
    rows = levels.locator("tbody tr")
    assert rows.count() == len(report["headings"]) == 5
    for i, heading in enumerate(report["headings"]):
        assert rows.nth(i).locator("th").inner_text() == heading["title"]
        cell = rows.nth(i).locator("td").first.inner_text()
        if heading["level"] is not None:
            assert cell.startswith(f"{heading['level']} – "), cell
            assert re.search(r"medelvärde \d,\d", cell), cell
    medians = report.get("districtMedians") or {}
    if any(m is not None for m in medians.values()):
        assert levels.locator("thead th", has_text="Områdets median").count() == 1
        for i, heading in enumerate(report["headings"]):
            if medians.get(heading["id"]) is not None:
                assert rows.nth(i).locator("td").last.inner_text() == f"{medians[heading['id']]:.1f}".replace(".", ",")
    # the trend's figures: a column per year
    trend = page.locator("#trend-caption").locator("xpath=..")
    assert trend.locator("thead th", has_text=str(report["year"])).count() == 1
    assert trend.locator("tbody tr").count() == 5
    assert_accessible(page, "the school's report")
    assert_fits_phone(page, "the school's report")
    screenshot(page, "school-report", tmp_path)

    page.click("text=Se historiken över åren")
    assert page.url.endswith(f"/school-units/{school}/history")
    assert page.locator("h1").inner_text() == "Självskattningar över åren"
    table = page.locator("table").first
    assert table.locator("tbody tr").count() == 5
    assert "Första självskattningen" in table.inner_text() or re.search(r"(Upp|Ner) \d|Samma", table.inner_text())
    assert_accessible(page, "the school's history")
    assert_fits_phone(page, "the school's history")

    # a teacher reads the plan but does not change it
    page.goto(f"{web}/school-units/{school}/action-plan")
    assert page.locator("text=Lägg till en åtgärd").count() == 0
    assert page.locator("h1").inner_text() == "Handlingsplan"
    assert_accessible(page, "the action plan, read by a teacher")


def test_a_district_admin_reads_a_schools_report_and_a_rektor_sees_their_own_school(new_page: Callable[..., Page], web: str,
                                                                                   demo: dict[str, Any]) -> None:
    page = new_page("omradesadmin")
    school = demo["teacher_school"]
    _report_ready(page, f"{web}/school-units/{school}")
    assert page.locator("a", has_text="Jämför med liknande skolor").get_attribute("href") == f"/school-units/{school}/similar"
    assert page.locator("#levels-caption").count() == 1
    page.click("a.language-switch")
    assert page.locator("h2", has_text="Level per area").count() == 1
    assert page.locator("img.chart").first.get_attribute("alt", timeout=5000).startswith("Radar chart")  # type: ignore[union-attr]

    rektor = new_page("rektor")
    rektor.goto(web + "/school-report")
    assert rektor.url == f"{web}/school-units/{demo['rektor_school']}"
    # the demo's draft, unless another area's tests submitted it (and maybe reopened it: then the report says so) meanwhile
    if rektor.locator("img.chart").count() == 0 and "Självskattning 20" not in rektor.locator("main").inner_text():
        assert "ingen inskickad självskattning" in rektor.locator("main").inner_text()
        assert rektor.locator("a", has_text="Se handlingsplanen").count() == 1
    assert_accessible(rektor, "a school without a report")
    assert_fits_phone(rektor, "a school without a report")
