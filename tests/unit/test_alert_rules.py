"""The example alert rules (deploy/prometheus): valid for Prometheus (`promtool check rules`),
firing exactly as their unit tests expect (`promtool test rules`), and the PrometheusRule
holding the same groups as the plain rule file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is not installed: run `make system-deps` (Debian package prometheus)")
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=60)


def test_rule_file_is_valid() -> None:
    checked = run("check", "rules", str(RULES / "modelship-rules.yaml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 8 rules found" in checked.stdout


def test_alerts_fire_as_their_unit_tests_expect() -> None:
    tests = sorted((RULES / "tests").glob("*.yaml"))
    assert tests
    tested = run("test", "rules", *map(str, tests))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_unit_test() -> None:
    rules = yaml.safe_load((RULES / "modelship-rules.yaml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tested = {
        case["alertname"]
        for path in (RULES / "tests").glob("*.yaml")
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case["exp_alerts"]
    }
    assert alerts == tested


def test_prometheus_rule_holds_the_rule_files_groups() -> None:
    plain = yaml.safe_load((RULES / "modelship-rules.yaml").read_text())
    wrapped = yaml.safe_load((RULES / "modelship-prometheusrule.yaml").read_text())
    assert wrapped["apiVersion"] == "monitoring.coreos.com/v1"
    assert wrapped["kind"] == "PrometheusRule"
    assert wrapped["spec"]["groups"] == plain["groups"]
