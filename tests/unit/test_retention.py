"""Retention rules and their configuration, without a database: what a SKOLIT_RETENTION_* variable does to
a class's cut-off, what a rule refuses to be built from, the SQL a rule runs, and that every service's rules,
docs/privacy.md and the README agree. The rules against real rows and a moved clock:
tests/integration/test_retention.py."""

from __future__ import annotations

import importlib
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from devkit import privacy_map as datamap
from shared import retention
from shared.clock import CITY_TZ
from shared.retention import NEVER, RetentionConfigError, Rule
from shared.settings import SERVICES

ROOT = Path(__file__).resolve().parents[2]
RULES = {s: importlib.import_module(f"services.{s}.privacy").PRIVACY.retention for s in SERVICES}


def rule(**changes: object) -> Rule:
    base: dict[str, object] = {"data_class": "deliveries", "table": "delivery", "due": "updated_at < $1", "default_days": 365,
                               "description": "x"}
    base.update(changes)
    return Rule(**base)  # type: ignore[arg-type]


# --- configuration ------------------------------------------------------------------------------

def test_the_variable_is_named_after_the_class() -> None:
    assert rule().variable == "SKOLIT_RETENTION_DELIVERIES_DAYS"
    assert rule(data_class="quiet-hours-bypasses").variable == "SKOLIT_RETENTION_QUIET_HOURS_BYPASSES_DAYS"
    assert retention.variable("audit-log") == "SKOLIT_RETENTION_AUDIT_LOG_DAYS"


def test_the_default_applies_unless_the_variable_says_otherwise() -> None:
    r = rule()
    assert r.days({}) == 365
    assert r.days({"SKOLIT_RETENTION_DELIVERIES_DAYS": ""}) == 365  # set but empty: the default
    assert r.days({"SKOLIT_RETENTION_DELIVERIES_DAYS": " 400 "}) == 400
    assert r.days({"SKOLIT_RETENTION_DELIVERIES_DAYS": "never"}) is None
    assert r.days({"SKOLIT_RETENTION_DELIVERIES_DAYS": "NEVER"}) is None
    assert r.days({"SKOLIT_RETENTION_OTHER_DAYS": "1"}) == 365  # another class's variable changes nothing here


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "a year", "365d"])
def test_a_wrong_value_is_refused_with_the_variable_named(value: str) -> None:
    with pytest.raises(RetentionConfigError, match="SKOLIT_RETENTION_DELIVERIES_DAYS"):
        rule().days({"SKOLIT_RETENTION_DELIVERIES_DAYS": value})


def test_a_wrong_value_stops_the_job_from_being_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKOLIT_RETENTION_OUTBOX_DAYS", "ninety")
    with pytest.raises(RetentionConfigError, match="SKOLIT_RETENTION_OUTBOX_DAYS"):
        retention.job("reporting", RULES["reporting"])
    monkeypatch.setenv("SKOLIT_RETENTION_OUTBOX_DAYS", NEVER)
    job = retention.job("reporting", RULES["reporting"])
    assert job.name == "retention" and job.every_seconds == retention.DAILY
    assert "outbox kept" in job.description and "inbox 30 days" in job.description


def test_the_cutoff_is_local_midnight_that_many_days_back() -> None:
    today = date(2027, 3, 31)  # summer time starts in Stockholm on 28 March 2027
    at = retention.cutoff(today, 365)
    assert at == datetime(2026, 3, 31, 0, 0, tzinfo=CITY_TZ)
    assert at.utcoffset() == timedelta(hours=2)
    winter = retention.cutoff(date(2027, 1, 10), 30)
    assert winter == datetime(2026, 12, 11, 0, 0, tzinfo=CITY_TZ) and winter.utcoffset() == timedelta(hours=1)


def test_a_changed_variable_changes_what_is_due() -> None:
    """A row last changed 200 days before the job's date: not due under the default of 365 days, due under 180."""
    today = date(2027, 6, 1)
    row_time = datetime.combine(today - timedelta(days=200), time(12), CITY_TZ)
    r = rule()
    default_cut = r.cutoff(today, {})
    shorter_cut = r.cutoff(today, {"SKOLIT_RETENTION_DELIVERIES_DAYS": "180"})
    assert default_cut is not None and shorter_cut is not None
    assert not row_time < default_cut  # kept by default
    assert row_time < shorter_cut  # due once the period is 180 days
    assert r.cutoff(today, {"SKOLIT_RETENTION_DELIVERIES_DAYS": "never"}) is None


# --- what a rule may be made of -----------------------------------------------------------------

@pytest.mark.parametrize(("changes", "message"), [
    ({"data_class": "Deliveries"}, "lower-case"),
    ({"data_class": "deliveries_old"}, "lower-case"),
    ({"table": "delivery; DROP TABLE x"}, "plain identifier"),
    ({"table": "notification.delivery"}, "plain identifier"),
    ({"due": "updated_at < now()"}, "must use \\$1"),
    ({"due": "updated_at < $1; DELETE FROM contact"}, "must use \\$1"),
    ({"due": "updated_at < $1 -- and more"}, "must use \\$1"),
    ({"due": "updated_at < $1 /* x */"}, "must use \\$1"),
    ({"due": "updated_at < $1 AND id = $2"}, "must use \\$1"),
    ({"default_days": 0}, "at least one day"),
])
def test_a_rule_refuses_what_would_make_its_sql_unsafe_or_wrong(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rule(**changes)


def test_the_statement_deletes_a_batch_of_due_rows_by_ctid() -> None:
    r = rule(due="state IN ('delivered') AND updated_at < $1")
    assert r.statement == ("DELETE FROM delivery WHERE ctid = ANY(ARRAY(SELECT ctid FROM delivery WHERE state IN ('delivered') "
                           "AND updated_at < $1 LIMIT $2))")


def test_rules_of_one_class_share_its_period() -> None:
    a, b = rule(table="pulse_tally"), rule(table="pulse_respondents")
    assert list(retention.classes([a, b])) == ["deliveries"]
    with pytest.raises(ValueError, match="one default"):
        retention.classes([a, rule(table="x", default_days=10)])


# --- the services' rules, the map and the README ------------------------------------------------

def test_every_service_has_rules_for_its_messaging_tables() -> None:
    for service, rules in RULES.items():
        classes = retention.classes(rules)
        assert {"inbox", "outbox"} <= set(classes), service
        retention.validate(rules, {})
    outbox = next(r for r in RULES["catalog"] if r.data_class == "outbox")
    assert "published_at IS NOT NULL" in outbox.due  # never an event not yet published


def test_the_classes_the_issue_names_are_there() -> None:
    classes = {s: set(retention.classes(r)) for s, r in RULES.items()}
    assert {"deliveries", "inbox-read", "digest-items", "messages", "broadcasts", "quiet-hours-bypasses",
            "personal-data-access"} <= classes["notification"]
    assert {"pulse", "audit-log"} <= classes["assessment"]
    assert {"closed-requests", "audit-log"} <= classes["catalog"]
    assert classes["reporting"] == {"inbox", "outbox", "idempotency"}


def test_children_go_before_their_parents() -> None:
    def order(service: str) -> list[str]:
        return [r.table for r in RULES[service]]

    n = order("notification")
    assert max(i for i, t in enumerate(n) if t == "delivery") < n.index("message") < n.index("broadcast")
    assert n.index("quiet_hours_bypass") < n.index("message")
    c = order("catalog")
    assert c.index("app_request_step") < c.index("app_request")


def test_every_rule_names_a_table_the_data_map_knows() -> None:
    mapped = datamap.personal_tables() | datamap.non_personal_tables()
    for service, rules in RULES.items():
        for r in rules:
            assert (service, r.table) in mapped, f"{service}.{r.table}"


def test_the_privacy_doc_and_the_readme_name_every_class_with_its_default() -> None:
    doc = (ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for service, rules in RULES.items():
        for r in retention.classes(rules).values():
            assert f"| {service} | `{r.data_class}` |" in doc and f"`{r.variable}` |" in doc, (service, r.data_class)
            assert f"| `{r.variable}` | {r.default_days} |" in readme, r.variable
