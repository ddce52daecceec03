"""Reporting's exports for Swedish Excel (byte-order mark, the excel-sv variant, content negotiation), its signed
links to the annual report, and "not relevant" reported as such."""

from __future__ import annotations

import csv
import io
import time
import uuid

import pytest
from starlette.requests import Request

from services.reporting import csv_export, domain, links
from services.reporting.csv_export import Export, negotiate, render
from shared.problems import Problem

KEY = b"k" * 32


def request(accept: str | None = None) -> Request:
    headers = [(b"accept", accept.encode())] if accept is not None else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""})


# -- content negotiation -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("accept", "wanted"), [
    (None, Export(False)),
    ("application/json", Export(False)),
    ("text/csv", Export(True)),
    ("text/csv; charset=utf-8", Export(True)),
    ("text/csv, application/json;q=0.5", Export(True)),
    ("application/json, text/csv;q=0.5", Export(False)),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", Export(False)),  # a browser: JSON
    ("*/*", Export(False)),
    ("text/*", Export(True)),
    ("text/csv;q=0", Export(False)),
    ("text/csv; variant=excel-sv", Export(True, "excel-sv")),
    ("text/csv; variant=klingon", Export(True)),  # an unknown variant in Accept falls back, it is not an error
])
def test_accept_chooses_csv_only_where_it_is_preferred(accept: str | None, wanted: Export) -> None:
    assert negotiate(request(accept), None, None) == wanted


def test_the_query_wins_over_accept() -> None:
    assert negotiate(request("text/csv"), "json", None) == Export(False)
    assert negotiate(request("application/json"), "csv", None) == Export(True)
    assert negotiate(request(), None, "excel-sv") == Export(True, "excel-sv")  # the variant implies CSV
    assert negotiate(request("text/csv; variant=excel-sv"), "csv", "standard") == Export(True, "standard")


def test_a_variant_with_format_json_is_a_422_naming_the_field() -> None:
    with pytest.raises(Problem) as caught:
        negotiate(request(), "json", "excel-sv")
    assert caught.value.status == 422 and "query.csv" in str(caught.value.__dict__)


# -- the CSV text ------------------------------------------------------------------------------------------------

ROWS = [["district", "d1", "Område; Söder", 2026, {"value": 3.25, "status": "shown"}, 2.5, -0.75],
        ["school", "s1", "=HYPERLINK(\"x\")", 2026, {"value": None, "status": "suppressed"}, None, 1]]
COLUMNS = ["typ", "id", "namn", "år", "värde", "föregående", "förändring"]


def parse(text: str, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def test_the_standard_variant_has_a_bom_commas_and_decimal_points() -> None:
    text = render(COLUMNS, ROWS)
    assert text.startswith("\ufeff# levels: ")
    lines = text[1:].splitlines()
    data = [line for line in lines if not line.startswith("#")]
    rows = parse("\n".join(data), ",")
    assert rows[0] == COLUMNS
    assert rows[1] == ["district", "d1", "Område; Söder", "2026", "3.25", "2.5", "-0.75"]
    assert rows[2] == ["school", "s1", "'=HYPERLINK(\"x\")", "2026", "..", ".", "1"]  # a formula is written as text


def test_the_excel_sv_variant_has_semicolons_decimal_commas_and_notes_in_one_cell() -> None:
    text = render(COLUMNS, ROWS, "sv", "excel-sv", notes=["återöppnad; visas"])
    assert text.startswith("\ufeff")
    rows = parse(text[1:], ";")
    notes = [r for r in rows if r and r[0].startswith("#")]
    assert all(len(r) == 1 for r in notes) and len(notes) == 8  # six method notes, ours, the time
    assert ["# återöppnad; visas"] in notes
    data = [r for r in rows if r and not r[0].startswith("#")]
    assert data[0] == COLUMNS
    assert data[1] == ["district", "d1", "Område; Söder", "2026", "3,25", "2,5", "-0,75"]
    assert data[2][4:] == ["..", ".", "1"]


def test_the_answer_is_utf8_with_the_bom_bytes_and_a_named_file() -> None:
    response = csv_export.csv_response(COLUMNS, ROWS, "city-2026.csv", "sv", "excel-sv")
    assert response.body.startswith(b"\xef\xbb\xbf")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="city-2026-excel-sv.csv"' in response.headers["content-disposition"]
    assert "Accept" in response.headers["vary"]


def test_a_school_report_marks_not_relevant_and_a_reopening() -> None:
    body = {"schoolUnitId": "s", "year": 2026, "reopened": True, "reopenedAt": "2026-03-02T00:00:00+00:00",
            "headings": [{"id": "infrastruktur", "level": None, "notRelevant": True, "previousLevel": 2, "change": None}],
            "indicators": [{"id": "INF-01", "level": None, "notRelevant": False, "previousLevel": None, "change": None}]}
    text = csv_export.school_report_csv(body).body.decode("utf-8-sig")
    assert "heading,infrastruktur,2026,not-relevant,2,." in text.splitlines()
    assert "indicator,INF-01,2026,.,.,." in text.splitlines()  # missing stays "."
    assert "# återöppnad för ändring" in text


# -- not relevant ------------------------------------------------------------------------------------------------

def test_not_relevant_is_neither_a_level_nor_missing() -> None:
    rows = domain.compare({"a": domain.Level(None, None, True), "b": domain.Level(None), "c": domain.Level(3)},
                          {"a": domain.Level(2)}, ["a", "b", "c", "d"])
    by = {r["id"]: r for r in rows}
    assert by["a"]["notRelevant"] and not by["a"]["missing"] and by["a"]["level"] is None and by["a"]["change"] is None
    assert by["b"]["missing"] and not by["b"]["notRelevant"]
    assert by["d"]["missing"] and not by["d"]["notRelevant"]  # not answered at all
    assert not by["c"]["missing"] and not by["c"]["notRelevant"]


def test_a_heading_is_not_relevant_only_when_all_its_indicators_are() -> None:
    assert domain.heading_not_relevant(None, answered=0, not_relevant=2, indicators=2)
    assert not domain.heading_not_relevant(None, answered=0, not_relevant=1, indicators=2)  # one unanswered: missing
    assert not domain.heading_not_relevant(3, answered=1, not_relevant=1, indicators=2)
    assert not domain.heading_not_relevant(None, answered=0, not_relevant=0, indicators=0)


# -- signed links ------------------------------------------------------------------------------------------------

def test_a_signed_link_opens_its_year_and_scope_until_it_expires() -> None:
    district = uuid.uuid4()
    now = time.time()
    token = links.sign(KEY, links.Link(2026, district, int(now) + 60))
    assert links.read(KEY, token, year=2026, now=now) == links.Link(2026, district, int(now) + 60)
    city = links.sign(KEY, links.Link(2026, None, int(now) + 60))
    assert links.read(KEY, city, year=2026, now=now).district is None
    with pytest.raises(links.Refused, match="expired"):
        links.read(KEY, token, year=2026, now=now + 61)
    with pytest.raises(links.Refused, match="not 2025"):
        links.read(KEY, token, year=2025, now=now)
    with pytest.raises(links.Refused, match="signature"):
        links.read(b"x" * 32, token, year=2026, now=now)


def test_a_changed_scope_or_expiry_breaks_the_signature() -> None:
    now = int(time.time())
    token = links.sign(KEY, links.Link(2026, uuid.uuid4(), now + 60))
    payload, mac = token.split(".")
    for forged in (links._b64(f"v1:2026:city:{now + 60}".encode()), links._b64(f"v1:2026:{uuid.uuid4()}:{now + 10**6}".encode())):
        with pytest.raises(links.Refused, match="signature"):
            links.read(KEY, f"{forged}.{mac}", year=2026, now=now)


@pytest.mark.parametrize("token", ["", "abc", "a.b", "." , "x" * 300, links._b64(b"v1:2026:nope:1") + ".AAAA", links._b64(b"v9:2026:city:1") + ".AAAA"])
def test_what_is_not_a_token_is_malformed(token: str) -> None:
    with pytest.raises(links.Malformed):
        links.read(KEY, token, year=2026, now=time.time())
