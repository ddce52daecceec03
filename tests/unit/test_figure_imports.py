"""The typed school figures (SchoolFigures, v2 of SchoolFiguresReported) and the imports of figures and launch logs
(connectors/imports): parsing as cities write files, every bad cell named, one event per day, deterministic ids,
and the HTTP routes' answers that need no database (401, 403, 415, 413, 422, dry run)."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from connectors.imports import cells, figures, launches, routes, table
from connectors.imports.report import MAX_LISTED, CellError, ImportErrors
from devkit import city_cli
from shared import problems
from shared.auth import Role, Verifier, mint
from shared.events.city import AppLaunchesCounted, SchoolFigures, SchoolFiguresReported
from shared.events.envelope import decode, encode
from shared.events.registry import model_for

ROOT = Path(__file__).resolve().parents[2]
SCHOOL = "6564f0c0-20f5-5ed5-9b80-5f7a55d55403"  # Engelbrektsskolan of the demo city
OTHER = "9fa37281-5ed5-5eb5-9402-2e1a9f7b6723"  # Matteusskolan
APP = "0b1f4c52-3d7e-5a8b-9c60-2e4f7a1d8b93"
TODAY = date(2026, 12, 7)


def errors_of(call: Any, *args: Any) -> list[tuple[int, str]]:
    with pytest.raises(ImportErrors) as caught:
        call(*args)
    return [(e.row, e.column) for e in caught.value.errors]


# -- the contract ------------------------------------------------------------------------------------------------------


def test_figures_are_named_and_typed_with_units_and_ranges() -> None:
    assert SchoolFiguresReported.TYPE == "se.skolit.city.school-figures-reported.v2"
    assert model_for("se.skolit.city.school-figures-reported.v1") is None  # v1 is gone: the registry maps v2 only
    assert model_for(SchoolFiguresReported.TYPE) is SchoolFiguresReported
    ok = SchoolFigures(wifiCoverage=1, devicesPerPupil=10, byodAllowed=False, teachersTrainedShare=0, pupils=0)
    assert ok.metrics() == {"wifiCoverage": 1.0, "devicesPerPupil": 10.0, "byodAllowed": 0.0, "teachersTrainedShare": 0.0, "pupils": 0.0}
    assert SchoolFigures(byodAllowed=True).metrics() == {"byodAllowed": 1.0}
    for wrong in ({"wifiCoverage": 1.01}, {"teachersTrainedShare": -0.1}, {"devicesPerPupil": 10.5}, {"devicesPerTeacher": -1},
                  {"pupils": -1}, {"staff": 12.5}, {"teachers": 199001011234}):
        with pytest.raises(ValidationError) as caught:
            SchoolFigures.model_validate(wrong)
        assert [e["loc"] for e in caught.value.errors()] == [(next(iter(wrong)),)]
    with pytest.raises(ValidationError, match="extra"):
        SchoolFigures.model_validate({"wifiCoverage": 0.5, "interactiveDisplays": 0.3})  # an unknown name is refused, not stored
    for empty in ({}, {"pupils": None}):
        with pytest.raises(ValidationError, match="at least one figure"):
            SchoolFigures.model_validate(empty)
    with pytest.raises(ValidationError):
        SchoolFiguresReported.model_validate({"schoolUnitId": SCHOOL, "year": 2026, "figures": {}})


def test_every_figure_documents_its_unit_and_the_city_indicators_name_figures() -> None:
    schema = SchoolFigures.model_json_schema()["properties"]
    assert {name: p["unit"] for name, p in schema.items()} == {
        "wifiCoverage": "share", "devicesPerPupil": "ratio", "devicesPerTeacher": "ratio", "byodAllowed": "yes-no",
        "teachersTrainedShare": "share", "pupils": "count", "teachers": "count", "staff": "count"}
    assert all(p["description"] and p["examples"] for p in schema.values())
    indicators = json.loads((ROOT / "services" / "reporting" / "indicators.json").read_text(encoding="utf-8"))
    city = {i["metric"]: i["unit"] for i in indicators if i["source"] == "city"}
    assert city and all(schema[metric]["unit"] == unit for metric, unit in city.items())  # same name, same unit
    documented = (ROOT / "docs" / "figures.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in documented for name in schema)


def test_v2_travels_and_decodes_with_its_typed_figures() -> None:
    event = SchoolFiguresReported(schoolUnitId=uuid.UUID(SCHOOL), year=2026, figures=SchoolFigures(wifiCoverage=0.97, byodAllowed=True))
    from shared.events.envelope import new_envelope

    wire = encode(new_envelope(event, "city.imports"))
    assert json.loads(wire.value) == {"schoolUnitId": SCHOOL, "year": 2026, "figures": {"wifiCoverage": 0.97, "byodAllowed": True}}
    back = decode({k: v.decode() for k, v in wire.headers}, wire.value)
    assert back.data == event


# -- cells and tables --------------------------------------------------------------------------------------------------


def test_cells_as_swedish_excel_writes_them() -> None:
    assert cells.number("0,97") == cells.number("0.97") == 0.97
    assert cells.number("1\u00a0234,5") == cells.number("1 234.5") == 1234.5
    assert cells.number("\u22123") == -3
    assert cells.number("97 %", percent=True) == pytest.approx(0.97)
    assert cells.whole("412,0") == 412 and cells.whole("1\u202f204") == 1204
    assert cells.yes_no("Ja") is True and cells.yes_no("nej") is False and cells.yes_no("1") is True and cells.yes_no("FALSE") is False
    for call, text in ((cells.number, "0,9,7"), (cells.number, "abc"), (cells.number, "nan"), (cells.whole, "41,2"),
                       (cells.yes_no, "kanske"), (cells.uuid, "12"), (cells.day, "5/10/2026")):
        with pytest.raises(cells.CellValueError):
            call(text)
    with pytest.raises(cells.CellValueError, match="percentage"):
        cells.number("97 %")


def test_a_file_that_is_not_utf8_or_too_large_is_refused_as_a_whole() -> None:
    assert errors_of(table.decode, "schoolUnitId;år\n".encode("cp1252")) == [(0, "")]
    assert table.decode("\ufeffa;b".encode()) == "a;b"
    with pytest.raises(ImportErrors, match="invalid"):
        table.decode(b"x" * (table.MAX_BYTES + 1))


# -- school figures ----------------------------------------------------------------------------------------------------


def test_a_comma_separated_file_gives_one_event_per_school_and_year() -> None:
    text = ("schoolUnitId,year,wifiCoverage,devicesPerPupil,devicesPerTeacher,byodAllowed,teachersTrainedShare,pupils,teachers,staff\n"
            f"{SCHOOL},2026,0.97,1.0,1.05,no,0.64,412,31,48\n"
            f"{SCHOOL},2025,0.9,,,,,398,,\n"
            f"{OTHER},2026,,,,yes,,,,\n")
    events = figures.figures_from_csv(text)
    assert [(str(e.schoolUnitId), e.year, e.figures.metrics()) for e in events] == [
        (SCHOOL, 2026, {"wifiCoverage": 0.97, "devicesPerPupil": 1.0, "devicesPerTeacher": 1.05, "byodAllowed": 0.0,
                        "teachersTrainedShare": 0.64, "pupils": 412.0, "teachers": 31.0, "staff": 48.0}),
        (SCHOOL, 2025, {"wifiCoverage": 0.9, "pupils": 398.0}),  # an empty cell is a figure not reported
        (OTHER, 2026, {"byodAllowed": 1.0}),
    ]


def test_swedish_excel_csv_utf8_reads_as_it_is() -> None:
    """Semicolons, decimal commas, the byte-order mark, CRLF, a no-break space between thousands, a percentage, ja/nej,
    a name column for people, the empty columns and ;;; rows Excel leaves, and headers in another case."""
    raw = ("\ufeffName;SchoolUnitId;Year;WifiCoverage;devicesPerPupil;byodAllowed;teachersTrainedShare;pupils;;\r\n"
           f"Engelbrektsskolan;{SCHOOL};2026;0,97;1,1;nej;64 %;1\u00a0204;;\r\n"
           ";;;;;;;;;\r\n"
           f"\"Matteusskolan; F-6\";{OTHER};2026;0,88;0,9;ja;0,5;389;;\r\n").encode()
    events = figures.figures_from_csv(table.decode(raw))
    assert [(str(e.schoolUnitId), e.figures.metrics()) for e in events] == [
        (SCHOOL, {"wifiCoverage": 0.97, "devicesPerPupil": 1.1, "byodAllowed": 0.0, "teachersTrainedShare": 0.64, "pupils": 1204.0}),
        (OTHER, {"wifiCoverage": 0.88, "devicesPerPupil": 0.9, "byodAllowed": 1.0, "teachersTrainedShare": 0.5, "pupils": 389.0}),
    ]
    tabbed = f"schoolUnitId\tyear\twifiCoverage\n{SCHOOL}\t2026\t0,5\n"
    assert figures.figures_from_csv(tabbed)[0].figures.wifiCoverage == 0.5


def test_the_report_names_every_bad_cell_by_row_and_column_not_just_the_first() -> None:
    text = ("schoolUnitId;year;wifiCoverage;devicesPerPupil;byodAllowed;pupils\n"
            f"{SCHOOL};2026;0,97;1,0;nej;412\n"             # row 2: fine
            "not-an-id;1999;1,2;11;kanske;41,5\n"           # row 3: six bad cells
            f"{OTHER};2026;;;;\n"                          # row 4: no figure at all
            f"{SCHOOL};2026;0,5;;;\n"                      # row 5: the school and year of row 2 again
            f"{OTHER};;97;;;-3\n")                         # row 6: year empty, 97 is not a share, a negative count
    with pytest.raises(ImportErrors) as caught:
        figures.figures_from_csv(text)
    found = caught.value
    assert [(e.row, e.column) for e in found.errors] == [
        (3, "schoolUnitId"), (3, "year"), (3, "wifiCoverage"), (3, "devicesPerPupil"), (3, "byodAllowed"), (3, "pupils"),
        (4, ""), (5, "schoolUnitId"), (6, "year"), (6, "wifiCoverage"), (6, "pupils")]
    messages = {(e.row, e.column): e.message for e in found.errors}
    assert "'1,2'" in messages[(3, "wifiCoverage")] and "between 0 and 1" in messages[(3, "wifiCoverage")]
    assert "row 2" in messages[(5, "schoolUnitId")]
    problem = found.problem()
    assert problem.status == 422 and problem.extra["errorCount"] == 11 and problem.extra["field"] == "row 3, column schoolUnitId"
    assert problem.extra["errors"][0] == {"location": "row 3, column schoolUnitId", "row": 3, "column": "schoolUnitId",
                                          "message": messages[(3, "schoolUnitId")]}


def test_the_header_is_checked_before_the_rows() -> None:
    assert errors_of(figures.figures_from_csv, f"schoolUnitId;wifi;pupils;pupils\n{SCHOOL};1;2;3\n") == [
        (1, "wifi"), (1, "pupils")]  # unknown, and twice
    assert errors_of(figures.figures_from_csv, f"schoolUnitId;pupils\n{SCHOOL};1\n") == [(1, "year")]
    assert errors_of(figures.figures_from_csv, f"schoolUnitId;year;name\n{SCHOOL};2026;Engelbrektsskolan\n") == [(1, "")]
    assert errors_of(figures.figures_from_csv, "schoolUnitId;year;pupils\n") == [(0, "")]
    assert errors_of(figures.figures_from_csv, f"schoolUnitId;year;pupils\n{SCHOOL};2026;4;5\n") == [(2, "")]  # a cell past the header


def test_a_file_over_the_row_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table, "MAX_ROWS", 3)
    rows = "".join(f"{SCHOOL};{year};4\n" for year in range(2020, 2024))
    assert errors_of(figures.figures_from_csv, "schoolUnitId;year;pupils\n" + rows) == [(5, "")]
    assert len(figures.figures_from_csv("schoolUnitId;year;pupils\n" + rows.split("\n", 1)[1])) == 3


def test_the_report_lists_at_most_a_thousand_cells_but_counts_them_all() -> None:
    bad = [CellError(r, "pupils", "x") for r in range(2, 2 + MAX_LISTED + 5)]
    problem = ImportErrors(bad).problem()
    assert problem.extra["errorCount"] == MAX_LISTED + 5 and len(problem.extra["errors"]) == MAX_LISTED


def test_json_items_are_checked_against_the_contract_by_item_and_field() -> None:
    events = figures.figures_from_json([{"schoolUnitId": SCHOOL, "year": 2026, "figures": {"wifiCoverage": 0.97, "byodAllowed": False}}])
    assert events[0].figures.metrics() == {"wifiCoverage": 0.97, "byodAllowed": 0.0}
    with pytest.raises(ImportErrors) as caught:
        figures.figures_from_json([
            {"schoolUnitId": SCHOOL, "year": 2026, "figures": {"wifiCoverage": 3, "interactiveDisplays": 1}},
            "not an object",
            {"schoolUnitId": OTHER, "year": 2026, "figures": {}},
            {"schoolUnitId": OTHER, "year": 2025, "figures": {"pupils": 4}},
            {"schoolUnitId": OTHER, "year": 2025, "figures": {"pupils": 5}},
        ])
    assert [(e.row, e.column) for e in caught.value.errors] == [
        (1, "figures.wifiCoverage"), (1, "figures.interactiveDisplays"), (2, ""), (3, "figures"), (5, "schoolUnitId")]
    assert caught.value.lines()[0].startswith("item 1, field figures.wifiCoverage:")
    assert errors_of(figures.figures_from_json, {"schoolUnitId": SCHOOL}) == [(0, "")]
    assert errors_of(figures.figures_from_json, []) == [(0, "")]


def test_figure_ids_are_the_content_so_a_file_imported_again_has_the_same_ids() -> None:
    a = figures.figures_from_csv(f"schoolUnitId;year;wifiCoverage;pupils\n{SCHOOL};2026;0,97;412\n")
    again = figures.figures_from_csv(f"pupils,year,schoolUnitId,wifiCoverage\n412,2026,{SCHOOL},0.97\n")  # columns in another order
    changed = figures.figures_from_csv(f"schoolUnitId;year;wifiCoverage;pupils\n{SCHOOL};2026;0,98;412\n")
    other_year = figures.figures_from_csv(f"schoolUnitId;year;wifiCoverage;pupils\n{SCHOOL};2025;0,97;412\n")
    assert figures.event_id(a[0]) == figures.event_id(again[0])
    assert len({figures.event_id(e[0]) for e in (a, changed, other_year)}) == 3
    uuid.UUID(figures.event_id(a[0]))


# -- launch logs -------------------------------------------------------------------------------------------------------


def test_a_launch_log_gives_one_event_per_app_school_and_day() -> None:
    text = ("appId;schoolUnitId;date;launches;activeUsers\n"
            f"{APP};{SCHOOL};2026-10-05;312;118\n"
            f"{APP};{SCHOOL};2026-10-06;290;\n"
            f"{APP};{OTHER};2026-10-05;12;3\n")
    events = launches.launches_from_csv(text, TODAY)
    # not summed over days: each day is its own period, so a day sent again replaces that day and nothing else
    assert [(str(e.schoolUnitId), e.periodStart, e.periodEnd, e.launches, e.activeUsers) for e in events] == [
        (SCHOOL, date(2026, 10, 5), date(2026, 10, 5), 312, 118),
        (SCHOOL, date(2026, 10, 6), date(2026, 10, 6), 290, None),
        (OTHER, date(2026, 10, 5), date(2026, 10, 5), 12, 3),
    ]
    assert all(isinstance(e, AppLaunchesCounted) and str(e.appId) == APP for e in events)


def test_a_launch_log_names_every_bad_cell() -> None:
    text = ("appName;appId;schoolUnitId;date;launches;activeUsers\n"
            f"Skolplus;{APP};{SCHOOL};2026-10-05;312;118\n"
            f"Skolplus;{APP};{SCHOOL};2026-10-05;3;1\n"          # row 3: the same app, school and day as row 2
            "Skolplus;x;y;5/10/2026;-1;2\n"                      # row 4: four bad cells
            f"Skolplus;{APP};{SCHOOL};2027-01-01;5;9\n"          # row 5: a day to come; more users than launches
            f"Skolplus;{APP};{SCHOOL};;;\n")                     # row 6: date and launches empty
    with pytest.raises(ImportErrors) as caught:
        launches.launches_from_csv(text, TODAY)
    assert [(e.row, e.column) for e in caught.value.errors] == [
        (3, "date"), (4, "appId"), (4, "schoolUnitId"), (4, "date"), (4, "launches"), (5, "date"), (5, "activeUsers"),
        (6, "date"), (6, "launches")]
    assert "row 2" in caught.value.errors[0].message
    assert errors_of(launches.launches_from_csv, f"appId;schoolUnitId;launches\n{APP};{SCHOOL};3\n", TODAY) == [(1, "date")]


def test_launch_ids_are_the_content() -> None:
    line = f"{APP};{SCHOOL};2026-10-05;312;118"
    first = launches.launches_from_csv(f"appId;schoolUnitId;date;launches;activeUsers\n{line}\n", TODAY)[0]
    again = launches.launches_from_csv(f"appId;schoolUnitId;date;launches;activeUsers\n{line}\n", TODAY)[0]
    corrected = launches.launches_from_csv(f"appId;schoolUnitId;date;launches;activeUsers\n{line[:-7]}315;118\n", TODAY)[0]
    assert launches.event_id(first) == launches.event_id(again) != launches.event_id(corrected)


# -- the CLI's CSV path ------------------------------------------------------------------------------------------------


def test_the_cli_publishes_the_example_files_with_the_imports_ids(tmp_path: Path) -> None:
    envelopes = city_cli.read_file(ROOT / "docs" / "examples" / "school-figures.csv", SchoolFiguresReported.TYPE)
    assert envelopes and all(isinstance(e.data, SchoolFiguresReported) for e in envelopes)
    assert [e.id for e in envelopes] == [figures.event_id(e.data) for e in envelopes]  # type: ignore[arg-type]
    logged = city_cli.read_file(ROOT / "docs" / "examples" / "app-launches.csv", AppLaunchesCounted.TYPE)
    assert logged and all(e.data.periodStart == e.data.periodEnd for e in logged)  # type: ignore[attr-defined]
    assert [e.id for e in logged] == [launches.event_id(e.data) for e in logged]  # type: ignore[arg-type]
    # the contract's own columns still work for a launch count over a period
    contract = tmp_path / "periods.csv"
    contract.write_text(f"appId,schoolUnitId,periodStart,periodEnd,launches\n{APP},{SCHOOL},2026-09-01,2026-09-30,1200\n", encoding="utf-8")
    assert city_cli.read_file(contract, AppLaunchesCounted.TYPE)[0].data.periodEnd == date(2026, 9, 30)  # type: ignore[attr-defined]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"schoolUnitId;year;wifiCoverage;pupils\n{SCHOOL};2026;1,5;x\n", encoding="utf-8")
    with pytest.raises(city_cli.InputError) as caught:
        city_cli.read_file(bad, SchoolFiguresReported.TYPE)
    assert "row 2, column wifiCoverage" in str(caught.value) and "row 2, column pupils" in str(caught.value)
    assert city_cli.main(["publish", "--dry-run", "--file", str(bad), "--type", SchoolFiguresReported.TYPE]) == 2


# -- the routes, as far as they go without a database ------------------------------------------------------------------

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


@pytest.fixture
def client() -> httpx.AsyncClient:
    app = FastAPI()
    app.state.verifier = Verifier(secret=SECRET)
    app.state.pool = None  # nothing below reaches it: every answer here comes before a transaction
    problems.install(app)
    app.include_router(routes.router)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://connector")


def bearer(role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(SECRET, subject='someone', roles=[role])}"}


async def test_only_a_city_admin_imports(client: httpx.AsyncClient) -> None:
    body = f"schoolUnitId;year;pupils\n{SCHOOL};2026;4\n"
    for path in ("/imports/school-figures", "/imports/app-launches"):
        assert (await client.post(path, content=body, headers={"Content-Type": "text/csv"})).status_code == 401
        for role in (Role.DISTRICT_ADMIN, Role.IT_ADMIN, Role.PRINCIPAL):
            answer = await client.post(path, content=body, headers={"Content-Type": "text/csv", **bearer(role)})
            assert answer.status_code == 403 and answer.headers["content-type"] == problems.MEDIA_TYPE


async def test_the_routes_answer_problems_and_check_without_publishing_on_a_dry_run(client: httpx.AsyncClient) -> None:
    admin = bearer(Role.CITY_ADMIN)
    wrong_type = await client.post("/imports/school-figures", content=b"<x/>", headers={"Content-Type": "application/xml", **admin})
    assert wrong_type.status_code == 415
    not_json = await client.post("/imports/school-figures", content=b"[{", headers={"Content-Type": "application/json", **admin})
    assert not_json.status_code == 400
    too_large = await client.post("/imports/app-launches", content=b"x" * (table.MAX_BYTES + 1), headers={"Content-Type": "text/csv", **admin})
    assert too_large.status_code == 413
    bad = await client.post("/imports/school-figures", content=f"schoolUnitId;year;wifiCoverage;pupils\n{SCHOOL};2026;2;x\n{SCHOOL};2025;0,5;4\n",
                            headers={"Content-Type": "text/csv; charset=utf-8", **admin})
    assert bad.status_code == 422 and bad.headers["content-type"] == problems.MEDIA_TYPE
    assert [(e["row"], e["column"]) for e in bad.json()["errors"]] == [(2, "wifiCoverage"), (2, "pupils")]
    checked = await client.post("/imports/school-figures?dryRun=true", json=[{"schoolUnitId": SCHOOL, "year": 2026, "figures": {"pupils": 4}}],
                                headers=admin)
    assert checked.status_code == 200 and checked.json() == {"rows": 1, "events": 1, "published": 0, "alreadyImported": None, "dryRun": True}
    log = f"appId;schoolUnitId;date;launches\n{APP};{SCHOOL};2026-10-05;3\n{APP};{SCHOOL};2026-10-06;4\n"
    checked = await client.post("/imports/app-launches?dryRun=true", content=log, headers={"Content-Type": "text/csv", **admin})
    assert checked.status_code == 200 and checked.json()["events"] == 2


def test_the_demo_city_sends_typed_figures_under_the_same_ids_each_time() -> None:
    from devkit.demo.reporting import demo_figures

    first, again = demo_figures(TODAY), demo_figures(TODAY)
    assert first and [e.id for e in first] == [e.id for e in again] and len({e.id for e in first}) == len(first)
    assert all(e.type == SchoolFiguresReported.TYPE and e.data.figures.pupils for e in first)  # type: ignore[attr-defined]
