"""Every PromQL query of the Grafana dashboard (deploy/grafana/modelship.json) against the real
Prometheus: accepted (no parse error), and returning data for the serving and operator series,
while Prometheus scrapes a real operator (its --metrics-port) and a real `modelship serve`
process with live traffic, watched by a DriftMonitor (`DriftStand`)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from modelship_testing.cluster import REPO, free_port
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.stands import DriftStand
from modelship_testing.waiters import diagnostic, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.prometheus, pytest.mark.usefixtures("crds")]

DASHBOARD = REPO / "deploy" / "grafana" / "modelship.json"
# Grafana's interval variables, as the dashboard's default time range would set them.
GRAFANA_VARIABLES = {"__rate_interval": "30s", "__range": "5m", "__interval": "15s"}
# Series this stand does not produce (no canary rollout to analyse, no RetrainPolicy, no
# fairness attribute in the fraud profile): their queries are checked for acceptance only.
# Every other query must return data.
NOT_PRODUCED_NAMES = (
    "modelship_analysis_measurements_total",
    "modelship_retrain_events_total",
    "modelship_prometheus_queries_total",
    "modelship_drift_fairness",
)
NOT_PRODUCED = re.compile("|".join(rf"\b{name}\b" for name in NOT_PRODUCED_NAMES))
LABEL_VALUES = re.compile(r"^label_values\((?P<expr>.+),\s*(?P<label>\w+)\)$")


def dashboard_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expr) of every panel target, rows' nested panels included."""
    found: list[tuple[str, str]] = []
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            found += [(inner["title"], target["expr"]) for target in inner.get("targets", [])]
    return found


def variable_queries(dashboard: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Query variable name -> (PromQL of its label_values(), the label it lists)."""
    found: dict[str, tuple[str, str]] = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = LABEL_VALUES.match(variable["query"]["query"])
        assert match, f"variable {variable['name']}: not label_values(expr, label)"
        found[variable["name"]] = (match["expr"], match["label"])
    return found


def substitute(expr: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match["name"]
        assert name in values, f"unknown template variable ${name} in {expr}"
        return values[name]

    return re.sub(r"\$\{?(?P<name>\w+)\}?", value, expr)


def query(url: str, expr: str) -> tuple[int, dict[str, Any]]:
    """An instant query: (HTTP status, body); a parse error is a 400 with its error."""
    request = f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def send_invalid(url: str) -> int:
    request = urllib.request.Request(url, data=b"not json", method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_the_dashboard_file_is_the_charts_copy() -> None:
    chart_copy = REPO / "charts" / "modelship" / "files" / "grafana" / "modelship.json"
    assert json.loads(chart_copy.read_text()) == json.loads(DASHBOARD.read_text())


def test_every_dashboard_query_is_accepted_and_the_scraped_ones_return_data(
    stand: DriftStand, operator: OperatorFactory, namespace: str
) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    metrics_port = free_port()
    operator_job = f"{namespace}-modelship-metrics"
    stand.traffic.feedback = "truth"  # realised and estimated performance
    stand.start(
        operator,
        operator_args=["--metrics-port", str(metrics_port)],
        dataQuality={"minSamples": 100},
        performance={"metric": "accuracy", "min": 0.5, "minSamples": 50, "window": "30s"},
    )
    # No `namespace` target label: the drift gauges carry the DriftMonitor's own.
    stand.prometheus.add_target(operator_job, f"127.0.0.1:{metrics_port}")
    try:
        stand.prometheus.wait_for_target_up(operator_job)
        assert stand.server is not None
        for _ in range(20):  # rejected requests, for the rejected-request panels
            assert send_invalid(f"{stand.server.url}/v2/models/fraud/infer") == 400
        stand.wait_drifted("False", timeout=90)
        chosen = {"namespace": namespace, "model": "fraud", "monitor": "fraud-drift",
                  "operator_job": operator_job, **GRAFANA_VARIABLES}  # fmt: skip
        url = stand.prometheus.url

        variables = variable_queries(dashboard)
        assert set(variables) == {"operator_job", "namespace", "model", "monitor"}
        for name, (expr, label) in variables.items():
            promql = f"count by ({label}) ({substitute(expr, chosen)})"

            def lists_the_stand(promql: str = promql, label: str = label,
                                name: str = name) -> bool:  # fmt: skip
                status, body = query(url, promql)
                assert status == 200, body
                return chosen[name] in {r["metric"].get(label) for r in body["data"]["result"]}

            wait_for(lists_the_stand, timeout=60, describe=f"variable ${name} to list the stand")

        queries = [(title, substitute(expr, chosen))
                   for title, expr in dashboard_queries(dashboard)]  # fmt: skip
        assert len(queries) >= 30
        for title, promql in queries:
            status, body = query(url, promql)
            assert (status, body.get("status")) == (200, "success"), f"{title}: {promql}: {body}"
        scraped = [(t, q) for t, q in queries if not NOT_PRODUCED.search(q)]

        def empty() -> list[str]:
            return [f"{title}: {promql}" for title, promql in scraped
                    if not query(url, promql)[1]["data"]["result"]]  # fmt: skip

        with diagnostic("dashboard queries without data", lambda: "\n".join(empty())):
            wait_for(lambda: not empty(), timeout=90, interval=2,
                     describe="every scraped dashboard query to return data")  # fmt: skip
        assert len(scraped) >= 20
    finally:
        stand.prometheus.remove_target(operator_job)
