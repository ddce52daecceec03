"""Reporting's school report cache: an answer is served only under the read models' version it was computed at; the
version's triggers cover every table the report reads; CSV from the cached JSON is the CSV from the figures."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from services.reporting import cache, store
from services.reporting.csv_export import json_answer, school_report_csv, written_json_answer
from services.reporting.report_cache import MAX_ENTRIES, ReportCache
from services.reporting.routes import school
from services.reporting.vocabulary import word

ROOT = Path(__file__).resolve().parents[2]
MIGRATION = ROOT / "services" / "reporting" / "migrations" / "0009_report_version.sql"


def test_an_answer_is_served_while_the_version_stays() -> None:
    answers = ReportCache(16)
    assert answers.get(1, ("school", None, "sv")) is None
    answers.put(1, ("school", None, "sv"), b"answer")
    assert answers.get(1, ("school", None, "sv")) == b"answer"
    assert answers.get(1, ("school", None, "en")) is None  # another language is another answer
    assert answers.get(1, ("school", 2025, "sv")) is None  # and another year asked for
    assert (answers.hits, answers.misses) == (1, 3)


def test_a_new_version_forgets_everything() -> None:
    answers = ReportCache(16)
    answers.get(1, "q")
    answers.put(1, "q", b"old")
    assert answers.get(2, "q") is None
    assert len(answers) == 0
    answers.put(1, "q", b"computed at 1")  # a request that read version 1 before the change finishes late
    assert answers.get(2, "q") is None


def test_a_late_request_at_an_older_version_neither_reads_nor_forgets() -> None:
    answers = ReportCache(16)
    answers.get(5, "q")
    answers.put(5, "q", b"at 5")
    assert answers.get(4, "q") is None  # read the version before 5 was seen: not served what 5 holds (it may be newer)
    answers.put(4, "q", b"at 4")
    assert answers.get(5, "q") == b"at 5"  # ... and what 5 holds is still there


def test_nothing_is_kept_before_a_version_is_known() -> None:
    answers = ReportCache(16)
    answers.put(1, "q", b"A")
    assert answers.get(1, "q") is None


def test_the_least_recently_used_answer_goes_first_and_the_cache_stays_bounded() -> None:
    answers = ReportCache(max_entries=2)
    answers.get(1, "a")
    answers.put(1, "a", b"A")
    answers.put(1, "b", b"B")
    assert answers.get(1, "a") == b"A"  # a is now the most recent
    answers.put(1, "c", b"C")
    assert answers.get(1, "b") is None and answers.get(1, "a") == b"A" and answers.get(1, "c") == b"C"
    big = ReportCache()
    assert big.max_entries == MAX_ENTRIES == 512
    big.get(1, 0)
    for i in range(2 * MAX_ENTRIES):
        big.put(1, i, b"x")
    assert len(big) == MAX_ENTRIES and big.get(1, 2 * MAX_ENTRIES - 1) == b"x" and big.get(1, 0) is None


def _tables_created() -> set[str]:
    sql = [p.read_text(encoding="utf-8") for p in (ROOT / "services" / "reporting" / "migrations").glob("*.sql")]
    sql += [p.read_text(encoding="utf-8") for p in (ROOT / "shared" / "city" / "migrations").glob("*.sql")]
    sql += [p.read_text(encoding="utf-8") for p in (ROOT / "shared" / "migrations").glob("*.sql")]
    return {m.lower() for text in sql for m in re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", text, re.IGNORECASE)}


def _store_calls(function: Any) -> set[str]:
    """The store functions ``function`` calls (``store.<name>(...)``)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    return {node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "store"}


def _sql_of(name: str) -> str:
    """The store function's source with the SQL constants it names."""
    source = inspect.getsource(getattr(store, name))
    constants = [str(getattr(store, c)) for c in set(re.findall(r"\b([A-Z][A-Z_]{3,})\b", source)) if isinstance(getattr(store, c, None), str)]
    return "\n".join([source, *constants])


def test_the_version_is_bumped_by_every_table_the_school_report_reads() -> None:
    """Read from the code: the store functions the report calls (itself, through the school levels' cache, and the
    version-and-school read), the tables their SQL names; each must have its trigger in migration 0009."""
    triggered = set(re.findall(r"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON (\w+)\s+FOR EACH STATEMENT EXECUTE FUNCTION bump_report_version",
                               MIGRATION.read_text(encoding="utf-8")))
    calls = _store_calls(school.school_report_body) | _store_calls(cache.school_levels) | _store_calls(school.school_report)
    calls |= _store_calls(school.readable_school_unit_at_version)
    assert {"reported_submissions", "school_metrics", "actions", "indicators", "school_levels", "report_version_and_school"} <= calls
    known = _tables_created()
    read = {t.lower() for name in calls for t in re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", _sql_of(name), re.IGNORECASE)} & known
    assert read - {"report_version"} <= triggered, f"tables the report reads without a trigger: {read - {'report_version'} - triggered}"
    assert triggered == {"organisation", "submission", "heading_level", "indicator_level", "pulse_level", "school_figure", "app_fact",
                         "app_launch", "indicator_definition", "action_state"}
    assert read - {"report_version"} == triggered  # and nothing watched that the report does not read


def _body() -> dict[str, Any]:
    school_id = uuid.uuid4()
    return {
        "schoolUnitId": str(school_id), "schoolUnit": {"id": school_id, "name": "=Skola", "schoolUnitCode": "12345678"}, "year": 2026,
        "previousYear": 2025, "frameworkVersion": 2, "submittedAt": datetime(2026, 3, 1, tzinfo=UTC).isoformat(), "reopened": True,
        "reopenedAt": datetime(2026, 3, 2, tzinfo=UTC).isoformat(),
        "headings": [{"id": "infrastruktur", "title": "Infrastruktur", "level": 3, "mean": 3.0, "missing": False, "notRelevant": False,
                      "previousLevel": 2, "change": 1},
                     {"id": "uppfoljning", "title": "Uppföljning", "level": None, "mean": None, "missing": True, "notRelevant": True,
                      "previousLevel": None, "change": None}],
        "indicators": [{"id": "INF-00", "level": 3, "missing": False, "notRelevant": False, "previousLevel": 2, "change": 1}],
        "pulse": [],
        "indicatorFigures": [{"code": "wifi-coverage", "name": "Wifi", "heading": "infrastruktur", "unit": "share", "direction": "higher",
                              "value": 0.675, "missing": False, "target": 0.95, "meetsTarget": False, "source": "city"},
                             {"code": "devices", "name": "Datorer", "heading": None, "unit": "ratio", "direction": "higher",
                              "value": 1.0, "missing": False, "target": 1.0, "meetsTarget": True, "source": "city"}],
        "actionPlan": {"byStatus": {"planned": 1}, "open": []}, "years": [2025, 2026], "districtMedians": {"infrastruktur": 2.5},
        "trend": [], "method": {"missing": "Uppgift saknas"},
    }


def _without_time(text: str, lang: str) -> list[str]:
    """The CSV's lines but the time it was written ("data as of")."""
    lines = text.splitlines()
    written = [line for line in lines if word("data_as_of", lang) in line]  # type: ignore[arg-type]
    assert len(written) == 1
    return [line for line in lines if line not in written]


def test_csv_from_the_cached_json_is_the_csv_from_the_figures() -> None:
    body = _body()
    written = bytes(json_answer(body).body)
    for lang in ("sv", "en"):
        for variant in ("standard", "excel-sv"):
            direct = school_report_csv(body, lang, variant)
            cached = school_report_csv(orjson.loads(written), lang, variant)
            assert _without_time(bytes(cached.body).decode(), lang) == _without_time(bytes(direct.body).decode(), lang)
            assert cached.headers == direct.headers


def test_a_cached_json_answer_is_the_answer_as_first_written() -> None:
    first = json_answer(_body())
    again = written_json_answer(bytes(first.body))
    assert bytes(again.body) == bytes(first.body)
    assert dict(again.headers) == dict(first.headers) and again.media_type == first.media_type
