"""Every view as CSV as well as JSON: the same figures, with the method notes and the time the data
is from as leading "#" lines; ".." marks suppressed and "." missing, never an empty cell or a zero.
Header row and notes are in the reader's language (services/reporting/vocabulary.py); codes are not translated.

Every CSV starts with a UTF-8 byte-order mark, so that Excel reads it as UTF-8 (å, ä, ö) and not as the
Windows code page. Two variants (docs/api.md, Formats):

- ``standard`` (the default): comma separator, decimal point; the "#" lines as they are.
- ``excel-sv``: what Swedish Excel opens into columns by double-click: semicolon separator and decimal comma
  (``3,25``); each "#" line is one cell, so a note's own commas and semicolons do not split it.

Which one is answered: ``?format=csv`` or ``Accept: text/csv`` (preferred over JSON) give CSV; ``?csv=excel-sv``
(or ``Accept: text/csv; variant=excel-sv``) gives the Swedish variant, and implies CSV.
Text a person or the city wrote (a school's name) never starts a cell with ``= + - @``: such a cell gets a leading
apostrophe, so a spreadsheet shows it as text instead of running it as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import Response

from services.reporting.suppression import format_number
from services.reporting.vocabulary import CSV_HEADERS, METHOD, heading_titles, word
from shared.i18n import Language
from shared.json_response import json_response
from shared.problems import rejected

MEDIA_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff"
Variant = Literal["standard", "excel-sv"]
VARIANTS: dict[str, tuple[str, str]] = {"standard": (",", "."), "excel-sv": (";", ",")}  # (separator, decimal mark)
#: the first characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Export:
    """How a view is answered: JSON, or CSV in one of the variants."""

    csv: bool
    variant: Variant = "standard"


def _accept(header: str) -> tuple[float, float, str | None]:
    """From an Accept header: the weight of text/csv, the weight of JSON, and the CSV variant asked for there."""
    best: dict[str, tuple[int, float]] = {}  # media range → (specificity, q) for csv and json
    variant: str | None = None
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        params = dict((k.strip().lower(), v.strip().strip('"')) for k, _, v in (f.partition("=") for f in fields[1:]))
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 0.0
        for kind, exact, family in (("csv", "text/csv", "text/*"), ("json", "application/json", "application/*")):
            specificity = 3 if media == exact else 2 if media == family else 1 if media == "*/*" else 0
            if specificity and specificity > best.get(kind, (0, 0.0))[0]:
                best[kind] = (specificity, q)
        if media == "text/csv" and "variant" in params:
            variant = params["variant"]
    return best.get("csv", (0, 0.0))[1], best.get("json", (0, 0.0))[1], variant


def negotiate(request: Request, format: Literal["json", "csv"] | None, variant: Variant | None) -> Export:
    """``?format=`` and ``?csv=`` win over Accept; without either, CSV where Accept prefers text/csv to JSON."""
    if format == "json":
        if variant is not None:
            raise rejected(422, "a CSV variant was asked for with format=json; leave format out or give format=csv", "query.csv")
        return Export(False)
    csv_weight, json_weight, accepted_variant = _accept(request.headers.get("accept", ""))
    if format == "csv" or variant is not None or (csv_weight > 0 and csv_weight > json_weight):
        # an Accept variant we do not know is not an error: content negotiation falls back to the standard variant
        chosen = variant or (accepted_variant if accepted_variant in VARIANTS else "standard")
        return Export(True, chosen)  # type: ignore[arg-type]
    return Export(False)


async def export(
    request: Request,
    format: Annotated[Literal["json", "csv"] | None, Query(
        description="json or csv; without it, `Accept: text/csv` (preferred over application/json) gives CSV and anything else JSON")] = None,
    csv: Annotated[Variant | None, Query(
        description="the CSV variant, and CSV without format=csv: `standard` (comma, decimal point) or `excel-sv` (semicolon, "
                    "decimal comma: for Swedish Excel); every CSV starts with a UTF-8 byte-order mark")] = None,
) -> Export:
    """The dependency of every view answered as JSON or CSV."""
    return negotiate(request, format, csv)


def json_answer(body: Any) -> Response:
    """A view's JSON answer; it varies with Accept (which may ask for CSV) and Accept-Language."""
    response = json_response(body)
    response.headers["Vary"] = "Accept, Accept-Language"
    return response


def written_json_answer(content: bytes) -> Response:
    """A view's JSON answer written before (json_answer's body, kept by a cache), with json_answer's headers."""
    return Response(content, media_type="application/json", headers={"Vary": "Accept, Accept-Language"})


def cell(value: Any, decimal: str = ".") -> str:
    """A figure (as_json dict), a number or None as the CSV conventions say; numbers with the variant's decimal mark."""
    if isinstance(value, Mapping):
        if value.get("status") == "suppressed":
            return ".."
        value = value.get("value")
    if value is None:
        return "."
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return format_number(value).replace(".", decimal)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return str(value)


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], lang: Language = "sv", variant: Variant = "standard",
           notes: Sequence[str] = ()) -> str:
    """The CSV text: byte-order mark, the method notes (and ``notes``) and the time the data is from as "#" lines,
    the header row in the reader's language, then the rows."""
    separator, decimal = VARIANTS[variant]
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, delimiter=separator, lineterminator="\n")
    lines = [f"# {key}: {note}" for key, note in METHOD[lang].items()] + [f"# {note}" for note in notes]
    lines.append(f"# {word('data_as_of', lang)}: {datetime.now(UTC).isoformat(timespec='seconds')}")
    for line in lines:
        if variant == "standard":
            out.write(line + "\n")
        else:
            writer.writerow([line])
    writer.writerow(columns)
    writer.writerows([[cell(v, decimal) for v in row] for row in rows])
    return out.getvalue()


def csv_response(columns: Sequence[str], rows: Sequence[Sequence[Any]], filename: str, lang: Language = "sv",
                 variant: Variant = "standard", notes: Sequence[str] = ()) -> Response:
    """The CSV answer (``render``), as an attachment."""
    name = filename if variant == "standard" else filename.replace(".csv", f"-{variant}.csv")
    return Response(render(columns, rows, lang, variant, notes).encode("utf-8"), media_type=MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Content-Language": lang, "Vary": "Accept, Accept-Language"})


def school_report_csv(body: Mapping[str, Any], lang: Language = "sv", variant: Variant = "standard") -> Response:
    def level(row: Mapping[str, Any]) -> Any:
        return NOT_RELEVANT if row.get("notRelevant") else row["level"]

    rows = [["heading", h["id"], body["year"], level(h), h["previousLevel"], h["change"]] for h in body["headings"]]
    rows += [["indicator", i["id"], body["year"], level(i), i["previousLevel"], i["change"]] for i in body["indicators"]]
    rows += [["indicator-figure", i["code"], body["year"], i["value"], i["target"], i["meetsTarget"]] for i in body.get("indicatorFigures", [])]
    notes = [f"{word('reopened', lang)}: {body['reopenedAt']}"] if body.get("reopened") else []
    return csv_response(CSV_HEADERS[lang]["school"], rows, f"school-{body['schoolUnitId']}-{body['year']}.csv", lang, variant, notes)


#: the level cell of a heading or indicator the school answered "not relevant": a code, the same in every language
NOT_RELEVANT = "not-relevant"

Kind = Literal["city", "district", "school"]


def overview_csv(body: Mapping[str, Any], filename: str, lang: Language = "sv", variant: Variant = "standard") -> Response:
    """Groups (each with its ``kind``: city, district or school) × headings."""
    titles = heading_titles(lang)
    rows = [[g["kind"], g["id"], g.get("displayName"), h, titles.get(h), body["year"], fig, fig.get("previousValue"), fig.get("change")]
            for g in body["groups"] for h, fig in g["headings"].items()]
    return csv_response(CSV_HEADERS[lang]["overview"], rows, filename, lang, variant)
