"""Every metric and label the alert rules, their promtool tests, the Grafana dashboard and the runbook name is one
the services really export, and every alert carries a summary, a description and a runbook link that resolves.

The truth is prometheus_client's registry after importing shared.metrics and each service's app module: what
/metrics serves. Names are as Prometheus stores them after a scrape with deploy/prometheus/prometheus.yml:
counters end in _total, histograms have _bucket (with `le`), _sum and _count; the target adds `job`, `instance`
and `service`, and a metric's own label of the same name is kept as `exported_<name>`.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
import yaml

from shared.settings import SERVICES
from shared.topics import all_topic_names

ROOT = Path(__file__).resolve().parents[2]
RULE_FILES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
RULE_TEST_FILES = sorted((ROOT / "deploy" / "prometheus" / "tests").glob("*.yml"))
DASHBOARDS = sorted((ROOT / "deploy" / "grafana").glob("*.json"))
RUNBOOK = ROOT / "docs" / "runbook.md"
DOCS = [p for p in (RUNBOOK, ROOT / "docs" / "scaling.md") if p.exists()]
RUNBOOK_URL = "https://github.com/skolit/skolit/blob/main/docs/runbook.md#"
SEVERITIES = {"critical", "warning"}

# Labels Prometheus attaches from the scrape config (job, instance) and the target labels of prometheus.yml (`process`
# on notification's work process only).
TARGET_LABELS = {"job", "instance", "service", "process"}
# PromQL's own words: aggregations, operators, modifiers and functions (Prometheus 2.x). Anything else outside
# braces, strings and durations is a metric name.
PROMQL_WORDS = set("""
sum min max avg group stddev stdvar count count_values bottomk topk quantile
by without on ignoring group_left group_right and or unless bool offset atan2 inf nan
abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month day_of_week day_of_year
days_in_month delta deriv exp floor histogram_count histogram_sum histogram_fraction histogram_quantile
holt_winters hour idelta increase irate label_join label_replace ln log2 log10 minute month predict_linear
rate resets round scalar sgn sort sort_desc sqrt time timestamp vector year avg_over_time min_over_time
max_over_time sum_over_time count_over_time quantile_over_time stddev_over_time stdvar_over_time
last_over_time present_over_time acos acosh asin asinh atan atanh cos cosh sin sinh tan tanh deg rad pi
""".split())
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}


# ---------------------------------------------------------------------------------------------- what is exported


@cache
def exported() -> dict[str, frozenset[str]]:
    """Every sample name /metrics can serve, with the label names it can carry (as the service exports them)."""
    import shared.metrics  # noqa: F401  (registers the metrics)

    for service in SERVICES:
        importlib.import_module(f"services.{service}.app")
    importlib.import_module("connectors.ss12000.app")
    from prometheus_client import REGISTRY

    # A labelled metric has no samples until its first .labels() call, so its label names come from the
    # collector itself (_labelnames: private, but the only place they are before anything was counted).
    declared = {c._name: tuple(c._labelnames) for c in list(REGISTRY._collector_to_names) if hasattr(c, "_labelnames")}  # noqa: SLF001
    names: dict[str, frozenset[str]] = {}
    for family in REGISTRY.collect():
        labels = set(declared.get(family.name, ()))
        for sample in family.samples:
            labels |= set(sample.labels)
        for suffix in SUFFIXES.get(family.type, ("",)):
            extra = {"le"} if suffix == "_bucket" else {"quantile"} if family.type == "summary" and not suffix else set()
            names[family.name + suffix] = frozenset(labels | extra)
    names["up"] = frozenset()  # Prometheus' own, per target
    return names


def stored_labels(metric: str) -> set[str]:
    """The label names a scraped series of ``metric`` can have in Prometheus."""
    own = exported()[metric]
    return set(own - TARGET_LABELS) | TARGET_LABELS | {f"exported_{label}" for label in own & TARGET_LABELS}


@cache
def scrape_job() -> str:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    return next(job["job_name"] for job in config["scrape_configs"] if job["job_name"] == "skolit")


@cache
def known_values() -> dict[str, set[str]]:
    """Label values the code defines, for the labels rules select on with `=`: a misspelt value matches nothing."""
    jobs = set()
    for service in SERVICES:
        jobs |= {job.name for job in importlib.import_module(f"services.{service}.app").SPEC.jobs}
    return {
        "service": {*SERVICES, "connector"},
        "exported_service": set(SERVICES),
        "exported_job": jobs,
        "topic": {name for name, _ in all_topic_names()},
        "job": {scrape_job()},
    }


# ---------------------------------------------------------------------------------------------- reading PromQL


@dataclass
class Problems:
    where: str
    found: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.found.append(f"{self.where}: {message}")


SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^{}]*)\}")
MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
IDENTIFIER = re.compile(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*")


def check_promql(expr: str, problems: Problems) -> set[str]:
    """Report unknown metrics, labels and values in one PromQL expression; returns the metric names it uses."""
    # Grafana's variables: inside strings they stay text; as a range they become a duration.
    text = re.sub(r"\$\{?__rate_interval\}?|\$\{?__interval\}?|\$\{?__range\}?", "1m", expr)
    text = re.sub(r"\$\{?[A-Za-z_]+\}?", "VAR", text)
    metrics: set[str] = set()
    selectors: list[tuple[str | None, str]] = []

    def take_selector(m: re.Match[str]) -> str:
        selectors.append((m.group(1), m.group(2)))
        return f" {m.group(1) or ''} "

    text = SELECTOR.sub(take_selector, text)
    text = re.sub(r'"(?:[^"\\]|\\.)*"', " ", text)  # strings left outside selectors (label_replace, ...)
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries' durations
    grouping: set[str] = set()

    def take_grouping(m: re.Match[str]) -> str:
        grouping.update(label.strip() for label in m.group(2).split(",") if label.strip())
        return f" {m.group(1)} "

    text = GROUPING.sub(take_grouping, text)
    for word in IDENTIFIER.findall(text):
        if word.lower() in PROMQL_WORDS:
            continue
        metrics.add(word)
    for name, body in selectors:
        matchers = MATCHER.findall(body)
        if not name:  # {__name__="..."}
            names = [v for label, op, v in matchers if label == "__name__" and op == "="]
            if not names:
                problems.add(f"selector without a metric name: {{{body}}}")
                continue
            name = names[0]
        metrics.add(name)
        if name not in exported():
            continue  # reported below, once
        allowed = stored_labels(name)
        for label, op, value in matchers:
            if label == "__name__":
                continue
            if label not in allowed:
                problems.add(f"{name} has no label {label!r} (it has {sorted(allowed)})")
            elif op == "=" and label in known_values() and value not in known_values()[label] and "VAR" not in value:
                problems.add(f"{name}{{{label}={value!r}}} matches nothing: {label} is one of {sorted(known_values()[label])}")
    for metric in sorted(metrics):
        if metric not in exported():
            problems.add(f"unknown metric {metric!r}")
    in_expr = set().union(*(stored_labels(m) for m in metrics if m in exported())) if metrics else set()
    for label in sorted(grouping - in_expr):
        problems.add(f"grouping by {label!r}, which none of {sorted(metrics)} has")
    return metrics


def check_series(series: str, problems: Problems) -> None:
    """A promtool input series: `name{label="value", ...}` as Prometheus would store it."""
    m = re.fullmatch(r"\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{(.*)\})?\s*", series)
    if not m:
        problems.add(f"cannot read series {series!r}")
        return
    name, body = m.group(1), m.group(2) or ""
    if name not in exported():
        problems.add(f"unknown metric {name!r}")
        return
    for label, _, value in MATCHER.findall(body):
        if label not in stored_labels(name):
            problems.add(f"{name} has no label {label!r}")
        elif label in known_values() and value not in known_values()[label]:
            problems.add(f"{name}{{{label}={value!r}}}: {label} is one of {sorted(known_values()[label])}")


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a document's headings (lower case, punctuation dropped, spaces to hyphens)."""
    anchors: set[str] = set()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not re.match(r"#{1,6} ", line):
            continue
        slug = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in anchors:
            n += 1
            candidate = f"{slug}-{n}"
        anchors.add(candidate)
    return anchors


def alert_rules() -> list[tuple[Path, dict]]:
    rules = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            rules += [(path, rule) for rule in group["rules"]]
    return rules


# ---------------------------------------------------------------------------------------------- the checks


def test_the_files_to_check_exist() -> None:
    assert RULE_FILES and RULE_TEST_FILES and DASHBOARDS and RUNBOOK.exists()
    assert "skolit_events_consumed_total" in exported() and "skolit_http_request_duration_seconds_bucket" in exported()


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rule_expressions_use_exported_metrics_and_labels(path: Path) -> None:
    problems = Problems(path.name)
    used: set[str] = set()
    for _, rule in [(p, r) for p, r in alert_rules() if p == path]:
        problems.where = f"{path.name} {rule.get('alert') or rule.get('record')}"
        used |= check_promql(rule["expr"], problems)
    assert not problems.found, "\n".join(problems.found)
    print(f"{path.name}: {len(used)} metrics, all exported: {sorted(used)}")


@pytest.mark.parametrize("path", RULE_TEST_FILES, ids=lambda p: p.name)
def test_promtool_test_series_use_exported_metrics_and_labels(path: Path) -> None:
    problems = Problems(path.name)
    count = 0
    for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
        for series in test.get("input_series") or []:
            check_series(series["series"], problems)
            count += 1
        for case in test.get("promql_expr_test") or []:
            check_promql(case["expr"], problems)
    assert not problems.found, "\n".join(problems.found)
    print(f"{path.name}: {count} input series checked")


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_queries_use_exported_metrics_and_labels(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    problems = Problems(path.name)
    exprs = []
    panels = [p for top in dashboard["panels"] for p in (top.get("panels", []) if top.get("type") == "row" else [top])]
    for panel in panels:
        exprs += [t["expr"] for t in panel.get("targets", [])]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        if variable.get("type") == "query" and query:
            inner = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query)
            assert inner, f"variable {variable['name']}: {query}"
            check_promql(f"count by ({inner.group(2)}) ({inner.group(1)})", problems)
    assert exprs, "no panel queries"
    for expr in exprs:
        check_promql(expr, problems)
    assert not problems.found, "\n".join(problems.found)
    print(f"{path.name}: {len(exprs)} panel queries checked")


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_docs_name_only_exported_metrics(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    problems = Problems(path.name)
    blocks = re.findall(r"```promql\n(.*?)```", text, flags=re.S)
    for block in blocks:
        for line in block.splitlines():
            if line.strip():
                check_promql(line, problems)
    # Every skolit_* word anywhere (prose, SQL, tables) too; the services' database roles are skolit_<service>.
    roles = {f"skolit_{service}" for service in SERVICES}
    for word in sorted(set(re.findall(r"\bskolit_[a-z0-9_]+\b", text)) - roles):
        if word not in exported():
            problems.add(f"unknown metric {word!r}")
    assert not problems.found, "\n".join(problems.found)
    print(f"{path.name}: {len(blocks)} PromQL blocks checked")


def test_every_alert_has_severity_summary_description_and_a_runbook_section() -> None:
    anchors = github_anchors(RUNBOOK.read_text(encoding="utf-8"))
    problems = Problems("alerts")
    alerts = [rule for _, rule in alert_rules() if "alert" in rule]
    assert alerts
    for rule in alerts:
        name = rule["alert"]
        if (rule.get("labels") or {}).get("severity") not in SEVERITIES:
            problems.add(f"{name}: labels.severity must be one of {sorted(SEVERITIES)}")
        notes = rule.get("annotations") or {}
        for key in ("summary", "description", "runbook_url"):
            if not str(notes.get(key, "")).strip():
                problems.add(f"{name}: no annotations.{key}")
        url = str(notes.get("runbook_url", ""))
        if not url.startswith(RUNBOOK_URL):
            problems.add(f"{name}: runbook_url {url!r} is not a section of docs/runbook.md ({RUNBOOK_URL}<anchor>)")
        elif url.removeprefix(RUNBOOK_URL) not in anchors:
            problems.add(f"{name}: docs/runbook.md has no heading for #{url.removeprefix(RUNBOOK_URL)}")
        if name not in RUNBOOK.read_text(encoding="utf-8"):
            problems.add(f"{name}: docs/runbook.md does not name the alert")
    assert not problems.found, "\n".join(problems.found)
    print(f"{len(alerts)} alerts, each with severity, summary, description and a runbook section")


def test_runbook_links_within_the_document_resolve() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    anchors = github_anchors(text)
    broken = [a for a in re.findall(r"\]\(#([^)]+)\)", text) if a not in anchors]
    assert not broken, f"links to missing sections: {broken}"


# ---------------------------------------------------------------------------------------------- the checker itself


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("sum(rate(skolit_events_consumed[5m]))", "unknown metric 'skolit_events_consumed'"),  # a counter without _total
        ("rate(skolit_events_dead_letterd_total[5m]) > 0", "unknown metric 'skolit_events_dead_letterd_total'"),
        ('skolit_job_runs_total{job="dpa-expiry"}', "matches nothing"),  # the job's name is exported_job
        ('skolit_job_last_success_timestamp_seconds{exported_job="dpa-expire"}', "matches nothing"),
        ('skolit_notification_deliveries_total{outcome="bounced"}', "has no label 'outcome'"),
        ("sum by (state) (skolit_events_failed_total)", "grouping by 'state'"),
        ("histogram_quantile(0.99, sum by (le) (rate(skolit_http_request_duration_seconds[5m])))", "unknown metric"),
    ],
)
def test_the_checker_catches_typos(expr: str, expected: str) -> None:
    problems = Problems("typo")
    check_promql(expr, problems)
    assert any(expected in p for p in problems.found), problems.found


def test_the_checker_accepts_what_prometheus_stores() -> None:
    problems = Problems("ok")
    check_promql('histogram_quantile(0.99, sum by (service, le) (rate(skolit_http_request_duration_seconds_bucket{route!="/metrics"}[5m])))', problems)
    check_promql('time() - skolit_job_last_success_timestamp_seconds{service="catalog", exported_job="dpa-expiry"} > 3 * 3600', problems)
    check_promql('up{job="skolit"} == 0 or absent(up{job="skolit", service="catalog"})', problems)
    check_promql('sum by (channel, state) (rate(skolit_notification_deliveries_total[$__rate_interval]))', problems)
    assert not problems.found, problems.found
