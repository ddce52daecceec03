"""A file of school figures → SchoolFiguresReported, one event per school unit and year.

CSV: the columns schoolUnitId and year, then any of the figures (SchoolFigures: wifiCoverage, devicesPerPupil, …),
and optionally name (the school unit's, for people reading the file: never checked or sent); an empty cell is a
figure not reported. JSON: ``[{"schoolUnitId": …, "year": …, "figures": {…}}]``. Every cell is
checked and every bad one named (report.py); a school unit and year twice in one file is refused (which row wins?).
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from pydantic import ValidationError

from connectors.imports import cells
from connectors.imports.report import Collector
from connectors.imports.table import Table, read_csv
from shared.events.city import FigureUnit, SchoolFigures, SchoolFiguresReported
from shared.events.envelope import event_uuid

FIGURES: tuple[str, ...] = tuple(SchoolFigures.model_fields)
KEY_COLUMNS = ("schoolUnitId", "year")
#: for the people who keep the file (the school unit's name): read past, never checked or sent
NOTE_COLUMNS = ("name",)
COLUMNS = {name.lower(): name for name in (*KEY_COLUMNS, *NOTE_COLUMNS, *FIGURES)}
#: what each unit's cells look like, added to a range error so the person sees how to write the figure
HINTS: dict[str, str] = {
    "share": "a share between 0 and 1, e.g. 0,97 or 97 %",
    "ratio": "a ratio between 0 and 10, e.g. 1,05",
    "yes-no": "ja or nej (yes/no, 1/0)",
    "count": "a whole number, 0 or more",
}


def unit_of(figure: str) -> FigureUnit:
    extra = SchoolFigures.model_fields[figure].json_schema_extra
    return cast(FigureUnit, extra["unit"]) if isinstance(extra, dict) else "ratio"


def _cell_value(figure: str, text: str) -> float | int | bool:
    unit = unit_of(figure)
    if unit == "yes-no":
        return cells.yes_no(text)
    if unit == "count":
        return cells.whole(text)
    return cells.number(text, percent=unit == "share")


def _check_figures(values: dict[str, Any], texts: dict[str, str], row: int, found: Collector) -> SchoolFigures | None:
    """The figures as the contract takes them; each failing one is reported under its column, with the cell's text."""
    try:
        return SchoolFigures.model_validate(values)
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else ""
            if name in FIGURES:
                found.add(row, name, f"{err['msg']} (got {texts.get(name, err.get('input'))!r}; {HINTS[unit_of(name)]})")
            else:
                found.add(row, name, str(err["msg"]).removeprefix("Value error, "))
        return None


def _year(text: str) -> int:
    year = cells.whole(text)
    if not 2000 <= year <= 2100:
        raise cells.CellValueError(f"{text!r} is not a year between 2000 and 2100")
    return year


def _dedupe(events: list[tuple[int, SchoolFiguresReported]], found: Collector, column: str) -> None:
    seen: dict[tuple[UUID, int], int] = {}
    for row, event in events:
        first = seen.setdefault((event.schoolUnitId, event.year), row)
        if first != row:
            found.add(row, column, f"school unit {event.schoolUnitId} and year {event.year} are on row {first} already")


def figures_from_table(table: Table) -> list[SchoolFiguresReported]:
    found = Collector("row", table.columns)
    for required in KEY_COLUMNS:
        if required not in table.columns:
            found.add(1, required, f"the column {required} is missing; the columns are: {', '.join(COLUMNS.values())}")
    if not any(c in FIGURES for c in table.columns):
        found.add(1, "", f"no figure column; add at least one of: {', '.join(FIGURES)}")
    if not table.rows:
        found.add(0, "", "the file has a header but no rows: nothing to import")
    found.raise_if_any()
    events: list[tuple[int, SchoolFiguresReported]] = []
    for row, cell in table.rows:
        key: dict[str, Any] = {}
        for column, parse in (("schoolUnitId", cells.uuid), ("year", _year)):
            if not cell[column]:
                found.add(row, column, f"{column} is empty")
                continue
            try:
                key[column] = parse(cell[column])
            except cells.CellValueError as exc:
                found.add(row, column, str(exc))
        values: dict[str, Any] = {}
        bad = False
        for figure in FIGURES:
            text = cell.get(figure, "")
            if not text:
                continue
            try:
                values[figure] = _cell_value(figure, text)
            except cells.CellValueError as exc:
                found.add(row, figure, f"{exc}; {HINTS[unit_of(figure)]}")
                bad = True
        if not values and not bad:
            found.add(row, "", "no figure on this row: fill in at least one of " + ", ".join(c for c in table.columns if c in FIGURES))
            continue
        figures = _check_figures(values, cell, row, found) if values else None
        if figures is not None and len(key) == 2 and not bad:
            events.append((row, SchoolFiguresReported(schoolUnitId=key["schoolUnitId"], year=key["year"], figures=figures)))
    _dedupe(events, found, "schoolUnitId")
    found.raise_if_any()
    return [e for _, e in events]


def figures_from_csv(text: str) -> list[SchoolFiguresReported]:
    return figures_from_table(read_csv(text, COLUMNS))


def figures_from_json(data: Any) -> list[SchoolFiguresReported]:
    """``[{"schoolUnitId", "year", "figures": {…}}]``, each item checked against the contract; errors by item and field."""
    found = Collector("item")
    if not isinstance(data, list):
        found.add(0, "", "the body must be a JSON array of {schoolUnitId, year, figures}")
        found.raise_if_any()
    events: list[tuple[int, SchoolFiguresReported]] = []
    for item_number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            found.add(item_number, "", "each item must be an object {schoolUnitId, year, figures}")
            continue
        try:
            events.append((item_number, SchoolFiguresReported.model_validate(item)))
        except ValidationError as exc:
            for err in exc.errors():
                loc = [str(p) for p in err["loc"]]
                if loc[:1] == ["figures"] and len(loc) == 2 and loc[1] in FIGURES:
                    found.add(item_number, ".".join(loc), f"{err['msg']} (got {err.get('input')!r}; {HINTS[unit_of(loc[1])]})")
                elif loc[:1] == ["figures"] and len(loc) == 2 and err["type"] == "extra_forbidden":
                    found.add(item_number, ".".join(loc), f"unknown figure {loc[1]!r}; the figures are: {', '.join(FIGURES)}")
                elif err["type"] == "extra_forbidden":
                    found.add(item_number, ".".join(loc), f"unknown field {loc[-1]!r}; an item has schoolUnitId, year and figures")
                else:
                    found.add(item_number, ".".join(loc), str(err["msg"]).removeprefix("Value error, "))
    if not events and not found.errors:
        found.add(0, "", "the array is empty: nothing to import")
    _dedupe(events, found, "schoolUnitId")
    found.raise_if_any()
    return [e for _, e in events]


def event_id(event: SchoolFiguresReported) -> str:
    """The same figures for the same school unit and year give the same id, so importing a file again is a no-op in
    every consumer's inbox; a changed figure gives a new id, and the newer event replaces the earlier figures."""
    return event_uuid(event.TYPE, event.schoolUnitId, event.year, event.figures.model_dump_json(exclude_none=True))
