"""The programbank as CSV: one app per row, lists separated by ";", sub-processors as
"name|country|purpose". Pure: text in, dicts out (and back), so import and export are tested
without a database."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from typing import Any

COLUMNS = (
    "name", "supplier", "description", "url", "kind", "costModel", "freeUse", "subjects", "grades", "schoolTypes", "platforms",
    "languages", "accessibility", "headings", "keywords", "status",
    "dataCategories", "dpaStatus", "dpaSigned", "dpaExpires", "subProcessors", "processingCountries", "transferOutsideEea",
    "transferSafeguard", "dpiaRef", "minAge",
)
REQUIRED = ("name", "supplier", "description", "subjects", "grades", "schoolTypes", "platforms", "languages", "headings")
LISTS = ("subjects", "grades", "schoolTypes", "platforms", "languages", "headings", "keywords", "dataCategories", "processingCountries")
BOOLEANS = {"ja": True, "yes": True, "true": True, "1": True, "nej": False, "no": False, "false": False, "0": False, "": False}
DATA_PROTECTION = ("dataCategories", "dpaStatus", "dpaSigned", "dpaExpires", "subProcessors", "processingCountries",
                   "transferOutsideEea", "transferSafeguard", "dpiaRef", "minAge")


class RowError(ValueError):
    pass


def _list(value: str) -> list[str]:
    return [v.strip() for v in value.split(";") if v.strip()]


def _bool(value: str, column: str) -> bool:
    key = value.strip().lower()
    if key not in BOOLEANS:
        raise RowError(f"{column}: {value!r} is not ja/nej (yes/no)")
    return BOOLEANS[key]


def _sub_processors(value: str) -> list[dict[str, str]]:
    out = []
    for part in _list(value):
        pieces = [p.strip() for p in part.split("|")]
        if len(pieces) < 2:
            raise RowError(f"subProcessors: {part!r} is not name|country|purpose")
        out.append({"name": pieces[0], "country": pieces[1], "purpose": pieces[2] if len(pieces) > 2 else ""})
    return out


def delimiter(text: str) -> str:
    """The header line's separator: whichever of comma, semicolon and tab it has most of (Excel in
    Sweden writes semicolons). csv.Sniffer is not used: it guesses quoting wrongly for a field that
    holds both a comma and a quoted word, and an export must always import again."""
    header = text.split("\n", 1)[0]
    return max((",", ";", "\t"), key=header.count)


def read(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number where the row starts, row) for each data row; the header needs the required columns."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter(text), doublequote=True, quotechar='"', strict=True)
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise RowError("the header lacks the column(s) " + ", ".join(missing) + "; expected: " + ", ".join(COLUMNS))
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise RowError("unknown column(s) " + ", ".join(unknown) + "; expected: " + ", ".join(COLUMNS))
    while True:
        start = reader.line_num + 1
        values = next(reader, None)
        if values is None:
            return
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            raise RowError(f"line {start}: more values than columns ({len(values)} for {len(header)})")
        values += [""] * (len(header) - len(values))
        yield start, {k: v.strip() for k, v in zip(header, values, strict=True)}


def to_input(row: Mapping[str, str]) -> dict[str, Any]:
    """A CSV row as the JSON an editor would send to POST /apps (validated by the same model)."""
    app: dict[str, Any] = {}
    dp: dict[str, Any] = {}
    for column, value in row.items():
        if value == "" and column not in ("freeUse", "transferOutsideEea"):
            continue
        target = dp if column in DATA_PROTECTION else app
        if column in LISTS:
            target[column] = _list(value)
        elif column in ("freeUse", "transferOutsideEea"):
            target[column] = _bool(value, column)
        elif column == "subProcessors":
            target[column] = _sub_processors(value)
        elif column == "minAge":
            if not value.isdigit():
                raise RowError(f"minAge: {value!r} is not a whole number")
            target[column] = int(value)
        else:
            target[column] = value
    app["dataProtection"] = dp
    return app


def from_record(app: Mapping[str, Any]) -> dict[str, str]:
    """An app (as AppInput JSON plus status) as a CSV row; ``to_input`` reads it back unchanged."""
    dp = app.get("dataProtection", {})
    row: dict[str, str] = {}
    for column in COLUMNS:
        value = dp.get(column) if column in DATA_PROTECTION else app.get(column)
        if column == "subProcessors":
            row[column] = "; ".join(f"{s['name']}|{s['country']}|{s.get('purpose', '')}" for s in value or [])
        elif isinstance(value, bool):
            row[column] = "ja" if value else "nej"
        elif isinstance(value, list):
            row[column] = ";".join(value)
        else:
            row[column] = "" if value is None else str(value)
    return row


def write(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
