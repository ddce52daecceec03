"""The alert rules are valid Prometheus rules, and promtool's unit tests of them pass: every alert fires on a
series that should trigger it and stays quiet on a healthy one (deploy/prometheus/tests/*.yml)."""

from __future__ import annotations

import re
from collections import Counter

import yaml

from tests.support.prometheus import promtool, rule_files, rule_test_files


def alert_names() -> list[str]:
    names = []
    for path in rule_files():
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            names += [rule["alert"] for rule in group["rules"] if "alert" in rule]
    return names


def test_promtool_checks_the_rules() -> None:
    files = rule_files()
    assert files, "no rule files in deploy/prometheus/rules"
    result = promtool("check", "rules", *map(str, files))
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    found = sum(int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", result.stdout))
    assert found == len(alert_names()) and found > 0, result.stdout
    print(f"promtool check rules: {len(files)} file(s), {found} rules")


def test_promtool_unit_tests_pass() -> None:
    files = rule_test_files()
    assert files, "no promtool tests in deploy/prometheus/tests"
    result = promtool("test", "rules", *map(str, files))
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    groups = evaluations = 0
    for path in files:
        tests = yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
        groups += len(tests)
        evaluations += sum(len(t.get("alert_rule_test") or []) for t in tests)
    print(f"promtool test rules: {len(files)} file(s), {groups} test groups, {evaluations} alert evaluations, all passed")


def test_every_alert_is_tested_firing_and_quiet() -> None:
    """A rule without a test that makes it fire could be dead; one without a quiet case could always fire."""
    fires: Counter[str] = Counter()
    quiet: Counter[str] = Counter()
    for path in rule_test_files():
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for case in test.get("alert_rule_test") or []:
                (fires if case.get("exp_alerts") else quiet)[case["alertname"]] += 1
    names = alert_names()
    assert len(names) == len(set(names)), f"alert names repeat: {names}"
    assert not set(fires) - set(names), f"tests of alerts that do not exist: {sorted(set(fires) - set(names))}"
    missing_fire = [n for n in names if not fires[n]]
    missing_quiet = [n for n in names if not quiet[n]]
    assert not missing_fire, f"alerts no test makes fire: {missing_fire}"
    assert not missing_quiet, f"alerts no test checks quiet: {missing_quiet}"
    print(f"{len(names)} alerts, each tested firing ({sum(fires.values())} cases) and quiet ({sum(quiet.values())} cases)")
