"""The programbank's CSV import and export (services/catalog/csvio.py): text in, dicts out and back."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from services.catalog import csvio, domain
from services.catalog.csvio import RowError

REQUIRED_VALUES = {
    "name": "Räknestigen",
    "supplier": "Nordlärande AB",
    "description": "Övningar i taluppfattning",
    "subjects": "MA",
    "grades": "4;5;6",
    "schoolTypes": "GR",
    "platforms": "web",
    "languages": "sv",
    "headings": "digitalt-innehall",
}


def csv_text(delimiter: str = ",", columns: list[str] | None = None, rows: list[dict[str, str]] | None = None) -> str:
    columns = columns or list(csvio.REQUIRED)
    rows = [REQUIRED_VALUES] if rows is None else rows
    lines = [delimiter.join(columns)] + [delimiter.join(r.get(c, "") for c in columns) for r in rows]
    return "\n".join(lines) + "\n"


def row(**values: str) -> dict[str, str]:
    """A CSV row as read() yields it: every required column, plus the given ones."""
    return {**REQUIRED_VALUES, **values}


# --- read ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("delimiter", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_read_detects_the_delimiter(delimiter: str) -> None:
    # the grades value keeps its ";" list separator; with ";" as delimiter the list is written with "," instead
    values = dict(REQUIRED_VALUES, grades="4;5;6" if delimiter != ";" else "4", description="Tal och bråk")
    rows = list(csvio.read(csv_text(delimiter, rows=[values])))
    assert rows == [(2, values)]


def test_read_semicolon_file_keeps_commas_inside_values() -> None:
    values = dict(REQUIRED_VALUES, description="Tal, bråk och procent", grades="4")
    [(_, got)] = csvio.read(csv_text(";", rows=[values]))
    assert got["description"] == "Tal, bråk och procent"
    assert got["headings"] == "digitalt-innehall"


def test_read_trims_header_and_values() -> None:
    text = " name , supplier,description,subjects,grades,schoolTypes,platforms,languages,headings\n  A  ,B,C,MA,4,GR,web,sv,uppfoljning\n"
    [(_, got)] = csvio.read(text)
    assert got["name"] == "A"
    assert "name" in got


@pytest.mark.parametrize("column", ["name", "headings", "languages"])
def test_header_missing_a_required_column_names_it(column: str) -> None:
    columns = [c for c in csvio.REQUIRED if c != column]
    with pytest.raises(RowError, match=f"lacks the column\\(s\\) {column};"):
        list(csvio.read(csv_text(columns=columns)))


def test_header_with_unknown_column_names_it() -> None:
    columns = list(csvio.REQUIRED) + ["colour"]
    with pytest.raises(RowError, match="unknown column\\(s\\) colour"):
        list(csvio.read(csv_text(columns=columns)))


def test_empty_text_is_a_missing_header() -> None:
    with pytest.raises(RowError, match="lacks the column"):
        list(csvio.read(""))


def test_header_only_has_no_rows() -> None:
    assert list(csvio.read(csv_text(rows=[]))) == []


def test_all_optional_columns_are_accepted() -> None:
    text = csv_text(columns=list(csvio.COLUMNS))
    [(line, got)] = csvio.read(text)
    assert line == 2
    assert set(got) == set(csvio.COLUMNS)


def test_line_numbers_count_the_header_as_line_one() -> None:
    second = dict(REQUIRED_VALUES, name="Ordjakten")
    assert [line for line, _ in csvio.read(csv_text(rows=[REQUIRED_VALUES, second]))] == [2, 3]


def test_blank_lines_are_skipped_and_line_numbers_stay_true() -> None:
    header = ",".join(csvio.REQUIRED)
    first = ",".join(REQUIRED_VALUES[c] for c in csvio.REQUIRED)
    second = first.replace("Räknestigen", "Ordjakten")
    empty_cells = "," * (len(csvio.REQUIRED) - 1)
    text = f"{header}\n\n{first}\n\n{empty_cells}\n\n{second}\n\n"
    got = list(csvio.read(text))
    assert [(line, r["name"]) for line, r in got] == [(3, "Räknestigen"), (7, "Ordjakten")]


# The delimiter sniffer wants ~90 % of the lines to agree, so the ragged row comes after enough good ones.
GOOD_ROWS = [REQUIRED_VALUES] * 12


def test_row_with_more_values_than_columns_is_an_error() -> None:
    text = csv_text(rows=GOOD_ROWS) + ",".join(REQUIRED_VALUES[c] for c in csvio.REQUIRED) + ",extra\n"
    with pytest.raises(RowError, match="line 14: more values than columns"):
        list(csvio.read(text))


def test_short_row_reads_missing_values_as_empty() -> None:
    text = csv_text(rows=GOOD_ROWS) + "Ordjakten,Lärförlaget\n"
    rows = list(csvio.read(text))
    assert rows[-1] == (14, {**{c: "" for c in csvio.REQUIRED}, "name": "Ordjakten", "supplier": "Lärförlaget"})


# --- to_input ------------------------------------------------------------------------------------

def test_lists_are_split_on_semicolons_and_trimmed() -> None:
    got = csvio.to_input(row(grades=" 4 ; 5;;6 ", platforms="web; ios", keywords="tal ; bråk;"))
    assert got["grades"] == ["4", "5", "6"]
    assert got["platforms"] == ["web", "ios"]
    assert got["keywords"] == ["tal", "bråk"]


def test_plain_columns_stay_strings() -> None:
    got = csvio.to_input(row(url="https://example.se", costModel="per_pupil", description="A; B"))
    assert got["url"] == "https://example.se"
    assert got["costModel"] == "per_pupil"
    assert got["description"] == "A; B"


def test_empty_optional_values_are_left_out() -> None:
    got = csvio.to_input(row(url="", keywords="", dpaStatus="", minAge=""))
    assert "url" not in got
    assert "keywords" not in got
    assert got["dataProtection"] == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("ja", True), ("Ja", True), ("yes", True), ("true", True), ("TRUE", True), ("1", True),
     ("nej", False), ("NEJ", False), ("no", False), ("false", False), ("0", False), ("", False)],
)
def test_booleans(value: str, expected: bool) -> None:
    got = csvio.to_input(row(freeUse=value, transferOutsideEea=value))
    assert got["freeUse"] is expected
    assert got["dataProtection"]["transferOutsideEea"] is expected


@pytest.mark.parametrize("column", ["freeUse", "transferOutsideEea"])
@pytest.mark.parametrize("value", ["kanske", "y", "2", "sant"])
def test_bad_boolean_is_a_row_error_naming_the_column(column: str, value: str) -> None:
    with pytest.raises(RowError, match=f"^{column}: '{value}'"):
        csvio.to_input(row(**{column: value}))


def test_min_age_is_a_number() -> None:
    assert csvio.to_input(row(minAge="13"))["dataProtection"]["minAge"] == 13


@pytest.mark.parametrize("value", ["tretton", "13.5", "-1", "13 år"])
def test_min_age_not_a_whole_number_is_a_row_error(value: str) -> None:
    with pytest.raises(RowError, match="minAge"):
        csvio.to_input(row(minAge=value))


def test_sub_processors_are_parsed() -> None:
    got = csvio.to_input(row(subProcessors="Molntjänst Norden AB | SE | Drift och lagring; Big Cloud Inc|US"))
    assert got["dataProtection"]["subProcessors"] == [
        {"name": "Molntjänst Norden AB", "country": "SE", "purpose": "Drift och lagring"},
        {"name": "Big Cloud Inc", "country": "US", "purpose": ""},
    ]


def test_sub_processor_without_country_is_a_row_error() -> None:
    with pytest.raises(RowError, match="subProcessors: 'Big Cloud Inc'"):
        csvio.to_input(row(subProcessors="Molntjänst Norden AB|SE; Big Cloud Inc"))


def test_data_protection_columns_land_under_data_protection() -> None:
    got = csvio.to_input(row(
        dataCategories="identity; learning_activity", dpaStatus="signed", dpaSigned="2024-01-15", dpaExpires="2026-12-31",
        processingCountries="SE;IE", transferSafeguard="scc", dpiaRef="DPIA-7", minAge="10", freeUse="ja",
    ))
    assert got["dataProtection"] == {
        "dataCategories": ["identity", "learning_activity"], "dpaStatus": "signed", "dpaSigned": "2024-01-15",
        "dpaExpires": "2026-12-31", "processingCountries": ["SE", "IE"], "transferSafeguard": "scc", "dpiaRef": "DPIA-7", "minAge": 10,
    }
    assert not set(csvio.DATA_PROTECTION) & (set(got) - {"dataProtection"})
    assert got["freeUse"] is True


def test_to_input_of_a_read_row_validates() -> None:
    [(_, r)] = csvio.read(csv_text())
    a = domain.AppInput.model_validate(csvio.to_input(r))
    assert a.grades == ["4", "5", "6"]
    assert a.dataProtection.dpaStatus == "not_required"


# --- round trip ----------------------------------------------------------------------------------

FULL: dict[str, Any] = {
    "name": "Räknestigen",
    "supplier": "Nordlärande AB",
    "description": "Övningar i taluppfattning; för åk 4–6.\nMed nivåer, diagnoser och lärarvy",
    "url": "https://example.se/raknestigen?x=1",
    "kind": "commercial",
    "costModel": "per_pupil",
    "freeUse": False,
    "subjects": ["MA", "SVA"],
    "grades": ["4", "5", "6"],
    "schoolTypes": ["GR", "GRS"],
    "platforms": ["web", "ios"],
    "languages": ["sv", "en"],
    "accessibility": "Skärmläsarstöd, talsyntes",
    "headings": ["digitalt-innehall", "uppfoljning"],
    "keywords": ["tal", "bråk"],
    "status": "approved",
    "dataProtection": {
        "dataCategories": ["identity", "learning_activity"],
        "dpaStatus": "signed",
        "dpaSigned": "2024-01-15",
        "dpaExpires": "2026-12-31",
        "subProcessors": [
            {"name": "Molntjänst Norden AB", "country": "SE", "purpose": "Drift och lagring"},
            {"name": "Big Cloud Inc", "country": "US", "purpose": ""},
        ],
        "processingCountries": ["SE", "IE"],
        "transferOutsideEea": True,
        "transferSafeguard": "scc",
        "dpiaRef": "DPIA-2024-7",
        "minAge": 10,
    },
}

MINIMAL: dict[str, Any] = {
    "name": "Ordjakten",
    "supplier": "Lärförlaget",
    "description": "Ordspel",
    "subjects": ["SV"],
    "grades": ["F", "1"],
    "schoolTypes": ["FKLASS", "GR"],
    "platforms": ["web"],
    "languages": ["sv"],
    "headings": ["digitalt-innehall"],
    "freeUse": True,
    "status": "under_review",
}


def without_status(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "status"}


def round_trip(records: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    text = csvio.write([csvio.from_record(r) for r in records])
    return [(line, csvio.to_input(r)) for line, r in csvio.read(text)]


def test_from_record_exports_every_app_input_field() -> None:
    exported = set(csvio.COLUMNS)
    model_fields = set(domain.AppInput.model_fields) - {"dataProtection"} | set(domain.DataProtection.model_fields)
    assert model_fields <= exported


def test_from_record_writes_lists_booleans_and_sub_processors() -> None:
    r = csvio.from_record(FULL)
    assert r["grades"] == "4;5;6"
    assert r["freeUse"] == "nej"
    assert r["transferOutsideEea"] == "ja"
    assert r["subProcessors"] == "Molntjänst Norden AB|SE|Drift och lagring; Big Cloud Inc|US|"
    assert r["minAge"] == "10"
    assert r["url"] == "https://example.se/raknestigen?x=1"
    assert csvio.from_record(MINIMAL)["url"] == ""


def test_write_has_a_header_of_all_columns() -> None:
    assert csvio.write([]).splitlines() == [",".join(csvio.COLUMNS)]


@pytest.mark.parametrize("record", [FULL, MINIMAL], ids=["full", "minimal"])
def test_round_trip_gives_back_the_same_app(record: dict[str, Any]) -> None:
    [(_, back)] = round_trip([record])
    assert back.pop("status") == record["status"]
    before = domain.AppInput.model_validate(without_status(record))
    after = domain.AppInput.model_validate(back)
    assert after == before
    assert after.model_dump(mode="json") == before.model_dump(mode="json")


def test_round_trip_of_several_apps_keeps_order_and_values() -> None:
    records = [FULL, MINIMAL, dict(MINIMAL, name="Tredje", status="retired")]
    back = round_trip(records)
    assert [b["status"] for _, b in back] == ["approved", "under_review", "retired"]
    for (_, b), r in zip(back, records, strict=True):
        b.pop("status")
        assert domain.AppInput.model_validate(b) == domain.AppInput.model_validate(without_status(r))


def test_round_trip_of_a_validated_dump() -> None:
    # export works from the stored JSON, i.e. the model's own dump (enum and date values included)
    dumped = domain.AppInput.model_validate(without_status(FULL)).model_dump()
    dumped["status"] = "approved"
    [(_, back)] = round_trip([dumped])
    back.pop("status")
    assert domain.AppInput.model_validate(back) == domain.AppInput.model_validate(without_status(FULL))


def test_from_record_does_not_change_its_input() -> None:
    record = copy.deepcopy(FULL)
    csvio.from_record(record)
    assert record == FULL


def test_round_trip_of_quoted_word_without_comma() -> None:
    record = dict(MINIMAL, description='Säg "hej" till alla.')
    [(_, back)] = round_trip([record])
    assert back["description"] == 'Säg "hej" till alla.'


# csv.Sniffer once guessed doublequote=False for a quoted field with a comma and a quoted word, so an
# export did not import again; the reader now takes only the delimiter from the header.
@pytest.mark.parametrize("description", ['Ordspel, med "nivåer".', 'Spel, "ord, meningar" och mer'])
def test_round_trip_of_description_with_comma_and_quoted_word(description: str) -> None:
    [(_, back)] = round_trip([dict(MINIMAL, description=description)])
    assert back["description"] == description
