"""A login portal's (or identity provider's) launch log → AppLaunchesCounted: one event per app, school unit and day.

Columns: appId, schoolUnitId, date, launches and, if the portal counts them, activeUsers; appName and schoolUnitName
may be there for people and are read past.

The rows are NOT summed into longer periods. Catalog and reporting keep one figure per app, school unit and period,
and a re-sent period replaces the earlier figure. Summed by week or month, a file that ends mid-period (a log exported
on the 15th) would send part of a period and the next file the rest, which would replace it: half a period lost.
Days never overlap however a city cuts its files, and a day's distinct users are what the portal counted (distinct
users do not add up). So a re-sent day replaces that day, and a day twice in one file is refused: no one can tell
which row is right (docs/decisions/0022).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from connectors.imports import cells
from connectors.imports.report import Collector
from connectors.imports.table import Table, read_csv
from shared.events.city import AppLaunchesCounted
from shared.events.envelope import event_uuid

REQUIRED = ("appId", "schoolUnitId", "date", "launches")
OPTIONAL = ("activeUsers",)
#: for the people who read the log (the app's and the school unit's names): read past, never checked or sent
NOTE_COLUMNS = ("appName", "schoolUnitName")
COLUMNS = {name.lower(): name for name in (*REQUIRED, *OPTIONAL, *NOTE_COLUMNS)}
EARLIEST = date(2000, 1, 1)


def launches_from_table(table: Table, today: date) -> list[AppLaunchesCounted]:
    """Every row checked (ids, a day not after ``today``, counts, activeUsers not above launches); all bad cells named."""
    found = Collector("row", table.columns)
    for required in REQUIRED:
        if required not in table.columns:
            found.add(1, required, f"the column {required} is missing; the columns are: {', '.join(COLUMNS.values())}")
    if not table.rows:
        found.add(0, "", "the file has a header but no rows: nothing to import")
    found.raise_if_any()
    events: list[AppLaunchesCounted] = []
    seen: dict[tuple[UUID, UUID, date], int] = {}
    for row, cell in table.rows:
        before = len(found.errors)
        values: dict[str, Any] = {}
        for column, parse in (("appId", cells.uuid), ("schoolUnitId", cells.uuid), ("date", cells.day), ("launches", cells.whole),
                              ("activeUsers", cells.whole)):
            text = cell.get(column, "")
            if not text:
                if column in REQUIRED:
                    found.add(row, column, f"{column} is empty")
                continue
            try:
                values[column] = parse(text)
            except cells.CellValueError as exc:
                found.add(row, column, str(exc))
        day = values.get("date")
        if day is not None and not EARLIEST <= day <= today:
            found.add(row, "date", f"{day} is {'in the future' if day > today else 'before 2000'}: a log counts days that have passed")
            values.pop("date")
        for column in ("launches", "activeUsers"):
            if values.get(column, 0) < 0:
                found.add(row, column, f"{column} cannot be negative (got {values.pop(column)})")
        if "launches" in values and values.get("activeUsers", 0) > values["launches"]:
            found.add(row, "activeUsers", f"{values['activeUsers']} users cannot have launched the app {values['launches']} times: "
                                          "each active user launched it at least once")
            values.pop("activeUsers")
        if len(found.errors) > before:
            continue
        first = seen.setdefault((values["appId"], values["schoolUnitId"], values["date"]), row)
        if first != row:
            found.add(row, "date", f"app {values['appId']} at school unit {values['schoolUnitId']} on {values['date']} is on row {first} already")
            continue
        events.append(AppLaunchesCounted(appId=values["appId"], schoolUnitId=values["schoolUnitId"], periodStart=values["date"],
                                         periodEnd=values["date"], launches=values["launches"], activeUsers=values.get("activeUsers")))
    found.raise_if_any()
    return events


def launches_from_csv(text: str, today: date) -> list[AppLaunchesCounted]:
    return launches_from_table(read_csv(text, COLUMNS), today)


def event_id(event: AppLaunchesCounted) -> str:
    """The same count for the same app, school unit and day gives the same id (a file imported twice is a no-op in
    every inbox); a corrected count gives a new id and replaces the day's figure."""
    return event_uuid(event.TYPE, event.appId, event.schoolUnitId, event.periodStart, event.periodEnd, event.launches, event.activeUsers)
