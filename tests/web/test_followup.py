"""Rounds and follow-up for district and city administrators: the heat map and CSV exports of a district admin, a
city admin opening (and closing) a round through the check page, the overviews, trends, similar schools and the
annual report: each through the browser, accessible and fitting a phone."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import Page

from tests.support.browser import assert_accessible, assert_fits_phone, screenshot

HEADINGS_SV = ("Infrastruktur", "Digital kompetens")
LEVEL_TEXTS = {"1", "2", "3", "4", "5", "Saknas"}


def _check(page: Page, what: str) -> None:
    assert_accessible(page, what)
    assert_fits_phone(page, what)


def test_district_admin_sees_the_overview_and_the_heat_map_with_levels_in_words(new_page: Callable[..., Page], web: str, tmp_path: Path) -> None:
    page = new_page("omradesadmin")
    year = date.today().year
    page.click("nav.site-nav a[href='/overview']")
    assert "Norra innerstaden" in page.locator("h1").inner_text()
    assert "skolor har skickat in" in page.locator(".lead").inner_text()
    table = page.locator("table#district-caption, table:has(caption#district-caption)")
    assert table.count() == 1
    rows = table.locator("tbody tr")
    assert rows.count() == 5
    assert any(h in rows.first.inner_text() for h in HEADINGS_SV) or rows.count() == 5
    _check(page, "the district overview")
    screenshot(page, "followup-overview", tmp_path)

    page.click("a:has-text('Värmekarta')")
    assert page.locator("h1").inner_text() == f"Värmekarta {year}"
    cells = page.locator("table.heatmap tbody td.heat")
    assert cells.count() >= 9 * 5
    texts = {c.strip() for c in cells.all_inner_texts()}
    assert texts <= LEVEL_TEXTS, texts
    assert texts & {"1", "2", "3", "4", "5"}, texts  # submitted schools show their level as a number
    assert page.locator("table.heatmap tbody th:has-text('Engelbrektsskolan')").count() == 1
    _check(page, "the heat map")
    screenshot(page, "followup-heatmap", tmp_path)
    # sorting is a link: by a heading's level, and back by name
    page.click("table.heatmap thead th:nth-child(2) a")
    assert "sort=" in page.url and "sort=name" not in page.url
    assert page.locator("table.heatmap thead th[aria-sort='descending']").count() == 1
    page.click("table.heatmap thead th:first-child a")
    names = page.locator("table.heatmap tbody th").all_inner_texts()
    assert names == sorted(names)

    # a submitted school beside similar schools: no ranking, no other school named
    page.click("table.heatmap tbody th a:has-text('Engelbrektsskolan')")
    assert "Engelbrektsskolan" in page.locator("h1").inner_text()
    assert "ingen rangordning" in page.locator(".notice").inner_text()
    assert page.locator("table tbody tr").count() == 5
    _check(page, "similar schools")


def test_district_admin_downloads_a_csv_export(new_page: Callable[..., Page], web: str) -> None:
    page = new_page("omradesadmin")
    page.goto(web + "/exports")
    assert page.locator("h1").inner_text() == "Ladda ner siffror"
    _check(page, "the exports page")
    link = page.locator(".export-list > li > a").first
    assert "Norra innerstaden" in link.inner_text()
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    header = next(csv.reader(io.StringIO(lines[0])))
    assert header[:3] == ["typ", "id", "namn"], header
    rows = list(csv.reader(io.StringIO("\n".join(lines[1:]))))
    assert any(r[0] in ("school", "skola") and r[2] == "Engelbrektsskolan" for r in rows), rows[:5]
    # the browser never held a token: the file came from the app's own address
    assert download.url.startswith(web + "/exports/")


def test_city_admin_opens_a_round_through_the_check_page_and_closes_it(new_page: Callable[..., Page], web: str, tmp_path: Path) -> None:
    page = new_page("stadsadmin")
    page.click("nav.site-nav a[href='/rounds']")
    assert page.locator("h1").inner_text() == "Omgångar"
    assert page.locator("table tbody tr").count() >= 1  # the demo round
    assert "skolor" in page.locator("table tbody tr").first.inner_text()
    _check(page, "the rounds")

    page.click("a:has-text('Öppna en ny omgång')")
    _check(page, "the new round form")
    # nothing filled in: the page comes back with what is wrong, linked to the fields
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/rounds/new")) as posted:
        page.click("main button[type=submit]")
    assert posted.value.status == 422
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    assert "Skriv ett namn på omgången" in summary.inner_text()
    assert summary.locator("a[href='#field-name']").count() == 1
    assert page.locator("title").inner_text().startswith("Fel:")
    _check(page, "the new round form with errors")

    name = f"Testomgång {uuid.uuid4().hex[:6]}"
    deadline = date.today() + timedelta(days=30)
    page.fill("#field-name", name)
    page.fill("#field-year", str(date.today().year))
    page.fill("#field-deadline", deadline.isoformat())
    page.check("label:has-text('Vuxenutbildning Globen')")
    page.click("main button[type=submit]")
    assert page.url.endswith("/rounds/new/check")
    assert page.locator("h1").inner_text() == "Kontrollera innan du öppnar omgången"
    summary_text = page.locator(".summary-list").inner_text()
    assert name in summary_text and "1 skolor" in summary_text
    _check(page, "the check page")

    page.click("main form[action='/rounds/new/check'] button")
    assert page.url.endswith("/opened")
    assert page.locator("h1").inner_text() == "Omgången är öppnad"
    assert name in page.locator("main").inner_text()
    _check(page, "the confirmation")

    page.goto(web + "/rounds")
    row = page.locator("table tbody tr", has_text=name)
    assert row.count() == 1
    assert "0 av 1 skolor" in row.inner_text() and "Öppen" in row.inner_text()
    row.locator("a").click()
    assert page.locator("h1").inner_text() == name
    standing = page.locator("table tbody tr", has_text="Vuxenutbildning Globen")
    assert "Inte påbörjad" in standing.inner_text() and "Söderort" in standing.inner_text()
    _check(page, "a round's progress")

    page.click("a:has-text('Stäng omgången')")
    assert page.locator("h1").inner_text() == f"Stäng {name}"
    _check(page, "closing a round")
    page.click("button:has-text('Ja, stäng omgången')")
    assert "Omgången är stängd" in page.locator(".notice").inner_text()
    assert "Stängd" in page.locator("main").inner_text()
    assert page.locator("a:has-text('Stäng omgången')").count() == 0


def test_city_overview_trends_and_a_district_table(new_page: Callable[..., Page], web: str) -> None:
    page = new_page("stadsadmin")
    year = date.today().year
    page.click("nav.site-nav a[href='/overview']")
    assert page.locator("h1").inner_text() == f"Uppföljning för staden {year}"
    assert page.locator("table:has(caption#city-caption) tbody tr").count() == 5
    districts = page.locator("table:has(caption#districts-caption) tbody tr")
    # the demo city's four (other tests of the session may have added districts of their own)
    for name in ("Norra innerstaden", "Södra innerstaden", "Västerort", "Söderort"):
        assert districts.filter(has_text=name).count() == 1, name
    # Söderort has too few submitted schools: its figures are hidden and said so in words
    assert "Dold (för få skolor)" in page.locator("table:has(caption#districts-caption)").inner_text()
    _check(page, "the city overview")

    page.click("a:has-text('Utveckling över åren')")
    assert page.locator("h1").inner_text() == "Utveckling över åren"
    trends = page.locator("table:has(caption#trends-caption)")
    assert str(year) in trends.locator("thead").inner_text()
    assert trends.locator("tbody tr").count() == 6
    _check(page, "the trends")

    page.goto(web + "/overview")
    page.click("table:has(caption#districts-caption) a:has-text('Västerort')")
    assert page.url.split("?")[0].endswith("/overview") and "/districts/" in page.url
    assert "Västerort" in page.locator("h1").inner_text()
    assert page.locator("table:has(caption#district-caption) tbody tr").count() == 5
    _check(page, "a district's overview for the city admin")

    # the demo round's progress, cut to one district
    page.goto(web + "/rounds")
    page.locator("table tbody tr a", has_text="(demo)").first.click()
    everyone = page.locator("table tbody tr").count()
    page.select_option("#field-district", label="Söderort")
    page.click("form.followup-filter button")
    assert "district=" in page.url
    rows = page.locator("table tbody tr")
    assert 0 < rows.count() < everyone
    assert all("Söderort" in text for text in rows.all_inner_texts())
    _check(page, "a round's progress for one district")


def test_annual_report_and_its_signed_link(new_page: Callable[..., Page], web: str) -> None:
    page = new_page("omradesadmin")
    year = date.today().year
    page.goto(f"{web}/annual-report/{year}")
    assert page.locator("h1").inner_text() == f"Årsrapport {year}"
    report = page.locator(".annual-report")
    assert "Norra innerstaden" in report.inner_text()
    assert report.locator("table").count() >= 1
    _check(page, "the annual report")
    page.click("button:has-text('Skapa en länk att dela')")
    notice = page.locator(".notice-success")
    assert "Länken är skapad" in notice.inner_text()
    href = notice.locator("a").get_attribute("href") or ""
    assert "sig=" in href and f"/annual-report/{year}" in href
    _check(page, "the annual report with its link")


def test_district_admin_reopen_page_asks_for_a_reason(new_page: Callable[..., Page], web: str) -> None:
    page = new_page("omradesadmin")
    page.click("nav.site-nav a[href='/rounds']")
    page.locator("table tbody tr a", has_text="(demo)").first.click()
    assert page.locator("table tbody tr", has_text="Engelbrektsskolan").locator(".tag").inner_text() == "Inskickad"
    # the demo's draft at Matteusskolan: started, unless another area's tests submitted (or reopened) it meanwhile
    assert any(state in page.locator("table tbody tr", has_text="Matteusskolan").first.inner_text() for state in ("Påbörjad", "Inskickad", "Öppnad igen"))
    _check(page, "the demo round's progress")
    page.locator("table tbody tr", has_text="Engelbrektsskolan").locator("a:has-text('Öppna igen')").click()
    assert "Engelbrektsskolan" in page.locator("h1").inner_text()
    _check(page, "the reopen form")
    # no reason: nothing is reopened, the page says what is missing
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("main button[type=submit]")
    assert posted.value.status == 422
    assert "Skriv varför" in page.locator(".error-summary").inner_text()
    _check(page, "the reopen form with errors")


def test_start_page_shows_the_open_round_as_a_task(new_page: Callable[..., Page], web: str) -> None:
    page = new_page("omradesadmin")
    task = page.locator(".task", has_text="(demo)")
    assert task.count() >= 1
    assert "skolor har skickat in, sista dag" in task.first.inner_text()


def test_an_unknown_round_is_a_404_and_the_heat_map_speaks_english(new_page: Callable[..., Page], web: str) -> None:
    page = new_page("omradesadmin")
    response = page.goto(web + "/rounds/not-a-round")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "Sidan finns inte"
    page.goto(web + "/overview/heatmap")
    page.click("a.language-switch")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == f"Heat map {date.today().year}"
    assert {c.strip() for c in page.locator("table.heatmap tbody td.heat").all_inner_texts()} <= {"1", "2", "3", "4", "5", "Missing"}
    assert_accessible(page, "the heat map in English")
