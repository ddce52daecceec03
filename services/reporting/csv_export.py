"""Every view as CSV as well as JSON: the same figures, with the method notes and the time the data
is from as leading "#" lines; ".." marks suppressed and "." missing, never an empty cell or a zero."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import Response

from services.reporting.domain import METHOD
from services.reporting.suppression import format_number


def cell(value: Any) -> str:
    """A figure (as_json dict), a number or None as the CSV conventions say."""
    if isinstance(value, Mapping):
        if value.get("status") == "suppressed":
            return ".."
        value = value.get("value")
    if value is None:
        return "."
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return format_number(value)
    return str(value)


def csv_response(columns: Sequence[str], rows: Sequence[Sequence[Any]], filename: str, notes: Mapping[str, str] = METHOD) -> Response:
    out = io.StringIO()
    for key, note in notes.items():
        out.write(f"# {key}: {note}\n")
    out.write(f"# data as of: {datetime.now(UTC).isoformat(timespec='seconds')}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[cell(v) for v in row] for row in rows])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def school_report_csv(body: Mapping[str, Any]) -> Response:
    rows = [["heading", h["id"], body["year"], h["level"], h["previousLevel"], h["change"]] for h in body["headings"]]
    rows += [["indicator", i["id"], body["year"], i["level"], i["previousLevel"], i["change"]] for i in body["indicators"]]
    rows += [["indicator-figure", i["code"], body["year"], i["value"], i["target"], i["meetsTarget"]] for i in body.get("indicatorFigures", [])]
    return csv_response(["kind", "id", "year", "level_or_value", "previous_or_target", "change_or_meets_target"], rows,
                        f"school-{body['schoolUnitId']}-{body['year']}.csv")


def overview_csv(body: Mapping[str, Any], filename: str) -> Response:
    rows = [[g["id"], g.get("displayName"), h, body["year"], fig, fig.get("previousValue"), fig.get("change")]
            for g in body["groups"] for h, fig in g["headings"].items()]
    return csv_response(["id", "name", "heading", "year", "value", "previous_year_value", "change"], rows, filename)
