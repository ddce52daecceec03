"""What an import found wrong: every bad cell by row and column, and the one problem document that lists them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.problems import Problem

#: the answer lists at most this many cells (a file of 100,000 bad rows would otherwise answer with megabytes);
#: ``errorCount`` always says how many there are
MAX_LISTED = 1000


@dataclass(frozen=True)
class CellError:
    """One bad cell. ``row`` counts as a spreadsheet shows it (the header is row 1, the first data row 2) or, for JSON,
    the item of the array (the first is 1); 0 is the file as a whole. ``column`` is the column's (or JSON field's) name,
    empty when the whole row is at fault."""

    row: int
    column: str
    message: str

    def location(self, kind: str) -> str:
        part = "field" if kind == "item" else "column"
        if self.row == 0:
            return f"file, {part} {self.column}" if self.column else "file"
        where = f"{kind} {self.row}"
        return f"{where}, {part} {self.column}" if self.column else where

    def as_json(self, kind: str) -> dict[str, Any]:
        return {"location": self.location(kind), "row": self.row, "column": self.column, "message": self.message}


class ImportErrors(Exception):
    """The file is refused: every cell at fault, in row order. Nothing of it is published."""

    def __init__(self, errors: list[CellError], *, kind: str = "row", columns: Sequence[str] = ()) -> None:
        super().__init__(f"{len(errors)} invalid cell(s)")
        # in reading order: by row, then a row's cells in the file's column order (the rest as they were found)
        position = {name: i for i, name in enumerate(columns)}
        self.errors = sorted(errors, key=lambda e: (e.row, position.get(e.column, len(position))))
        #: "row" for CSV, "item" for a JSON array
        self.kind = kind

    def lines(self) -> list[str]:
        """One line per bad cell, for a person at a terminal (devkit/city_cli.py)."""
        return [f"{e.location(self.kind)}: {e.message}" for e in self.errors]

    def problem(self) -> Problem:
        listed = self.errors[:MAX_LISTED]
        detail = f"{len(self.errors)} invalid cell(s); nothing was imported. " + "; ".join(self.lines()[:3])
        if len(self.errors) > 3:
            detail += f"; … (all {len(self.errors)} in errors)" if len(self.errors) <= MAX_LISTED else f"; … (the first {MAX_LISTED} in errors)"
        first = listed[0].location(self.kind) if listed else None
        return Problem(422, "Invalid request", detail, type_="https://skolit.se/problems/invalid-import",
                       field=first, errorCount=len(self.errors), errors=[e.as_json(self.kind) for e in listed])


class Collector:
    """Gathers the errors of a whole file, so the answer names every bad cell and not just the first."""

    def __init__(self, kind: str = "row", columns: Sequence[str] = ()) -> None:
        self.kind = kind
        #: the file's columns in order, to list a row's errors in that order
        self.columns = list(columns)
        self.errors: list[CellError] = []

    def add(self, row: int, column: str, message: str) -> None:
        self.errors.append(CellError(row, column, message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ImportErrors(self.errors, kind=self.kind, columns=self.columns)
