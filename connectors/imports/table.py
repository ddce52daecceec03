"""Reading a CSV file as a city exports it: comma, semicolon or tab separated, UTF-8 with or without the byte-order
mark Excel writes; Swedish Excel's "CSV UTF-8" (semicolons, decimal comma) as it is. Cells are parsed in cells.py."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from connectors.imports.report import CellError, ImportErrors

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000
DELIMITERS = (";", "\t", ",")


@dataclass(frozen=True)
class Table:
    """The header's column names (trimmed) and the data rows: (row number as a spreadsheet shows it, cells by column)."""

    columns: list[str]
    rows: list[tuple[int, dict[str, str]]]


def decode(raw: bytes) -> str:
    """UTF-8, the byte-order mark dropped; anything else is refused with what to do about it."""
    if len(raw) > MAX_BYTES:
        raise ImportErrors([CellError(0, "", f"the file is over {MAX_BYTES // 1024 // 1024} MB; split it")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportErrors([CellError(0, "", f"the file is not UTF-8 text (byte {exc.start}); in Excel, save it as \"CSV UTF-8\"")]) from None


def _delimiter(header_line: str) -> str:
    """The separator is the one the header uses most (the header holds names, never a decimal comma)."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(text: str, columns: dict[str, str]) -> Table:
    """Reads the header and rows. ``columns`` maps each known column, lower-cased, to its name: header names are
    matched ignoring case and surrounding spaces; an unknown or repeated column is an error of row 1. Blank rows (Excel
    leaves ``;;;`` lines) are skipped; a row with more cells than the header is an error."""
    text = text.lstrip("\ufeff")
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    errors: list[CellError] = []
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise ImportErrors([CellError(1, "", "the file is empty: the first row must name the columns")])
        names: list[str] = []
        for raw_name in header:
            name = columns.get(raw_name.strip().lower())
            if not raw_name.strip():
                names.append("")  # Excel writes empty columns after the last one; they must stay empty (below)
            elif name is None:
                errors.append(CellError(1, raw_name.strip(), f"unknown column {raw_name.strip()!r}; the columns are: {', '.join(columns.values())}"))
                names.append("")
            elif name in names:
                errors.append(CellError(1, name, f"the column {name} appears twice"))
                names.append("")
            else:
                names.append(name)
        rows: list[tuple[int, dict[str, str]]] = []
        for row_number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise ImportErrors([*errors, CellError(row_number, "", f"the file has more than {MAX_ROWS:,} rows; split it")])
            stray = [i + 1 for i, c in enumerate(cells) if c.strip() and (i >= len(names) or not header[i].strip())]
            if stray:
                errors.append(CellError(row_number, "", f"a value in column {stray[0]}, which the header does not name"))
                continue
            rows.append((row_number, {name: cells[i].strip() if i < len(cells) else "" for i, name in enumerate(names) if name}))
    except csv.Error as exc:
        raise ImportErrors([*errors, CellError(reader.line_num, "", f"the CSV cannot be read: {exc}")]) from None
    if errors:
        raise ImportErrors(errors)
    return Table([n for n in names if n], rows)
