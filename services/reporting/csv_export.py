"""Every view as CSV as well as JSON: the same figures, with the method notes and the time the data
is from as leading "#" lines; ".." marks suppressed and "." missing, never an empty cell or a zero.
Header row and notes are in the reader's language (services/reporting/vocabulary.py); codes are not translated."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import Response

from services.reporting.suppression import format_number
from services.reporting.vocabulary import CSV_HEADERS, METHOD, heading_titles, word
from shared.i18n import Language

MEDIA_TYPE = "text/csv; charset=utf-8"


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


def csv_response(columns: Sequence[str], rows: Sequence[Sequence[Any]], filename: str, lang: Language = "sv") -> Response:
    """The CSV answer: the method notes and the time the data is from as leading "#" lines, then the header row in the
    reader's language and the rows (codes and figures, the same in every language)."""
    out = io.StringIO()
    for key, note in METHOD[lang].items():
        out.write(f"# {key}: {note}\n")
    out.write(f"# {word('data_as_of', lang)}: {datetime.now(UTC).isoformat(timespec='seconds')}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[cell(v) for v in row] for row in rows])
    return Response(out.getvalue(), media_type=MEDIA_TYPE, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def school_report_csv(body: Mapping[str, Any], lang: Language = "sv") -> Response:
    rows = [["heading", h["id"], body["year"], h["level"], h["previousLevel"], h["change"]] for h in body["headings"]]
    rows += [["indicator", i["id"], body["year"], i["level"], i["previousLevel"], i["change"]] for i in body["indicators"]]
    rows += [["indicator-figure", i["code"], body["year"], i["value"], i["target"], i["meetsTarget"]] for i in body.get("indicatorFigures", [])]
    return csv_response(CSV_HEADERS[lang]["school"], rows, f"school-{body['schoolUnitId']}-{body['year']}.csv", lang)


def overview_csv(body: Mapping[str, Any], filename: str, lang: Language = "sv") -> Response:
    titles = heading_titles(lang)
    rows = [[g["id"], g.get("displayName"), h, titles.get(h), body["year"], fig, fig.get("previousValue"), fig.get("change")]
            for g in body["groups"] for h, fig in g["headings"].items()]
    return csv_response(CSV_HEADERS[lang]["overview"], rows, filename, lang)
