"""The chart's PodMonitor, ServiceMonitor and Grafana dashboard: rendered only when enabled,
aimed at the right objects, and relabelling serving pods as the analysis and DriftMonitor
queries select them.

There is no Prometheus Operator here, and Debian's Prometheus is built without Kubernetes
service discovery. So the PodMonitor's selector, port and relabelings are turned into the
scrape configuration the Prometheus Operator generates from them (keep by label presence and
port name, then the relabelings, field by field), the operator's real serving pods (and a
bystander) into the `__meta_kubernetes_pod_*` labels Kubernetes discovery gives each
container port, and a real Prometheus relabels them: the targets it keeps must be exactly the
serving pods, labelled so that the operator's own query selectors match them.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from modelship.analysis.queries import CANARY, Subject
from modelship.drift.queries import Target
from modelship_testing.chart import render
from modelship_testing.cluster import REPO, ClusterError, binary, free_port, kubectl
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.waiters import wait_for

pytestmark = pytest.mark.cluster
EXAMPLE = REPO / "examples" / "modeldeployment-rolling.yaml"
# PodMonitor relabeling fields and their names in a Prometheus relabel_config.
RELABEL_FIELDS = {
    "sourceLabels": "source_labels",
    "targetLabel": "target_label",
    "regex": "regex",
    "replacement": "replacement",
    "separator": "separator",
    "action": "action",
}


def _only(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [doc for doc in docs if doc["kind"] == kind]
    assert len(found) == 1, [doc["kind"] for doc in docs]
    return found[0]


def test_monitors_render_only_when_enabled() -> None:
    kinds = {doc["kind"] for doc in render("ms", "modelship")}
    assert not kinds & {"PodMonitor", "ServiceMonitor"}
    enabled = render(
        "ms",
        "modelship",
        "--set",
        "podMonitor.enabled=true",
        "--set",
        "serviceMonitor.enabled=true",
    )
    assert {"PodMonitor", "ServiceMonitor"} <= {doc["kind"] for doc in enabled}


def test_service_monitor_scrapes_the_operators_metrics_service() -> None:
    docs = render(
        "ms", "modelship", "--set", "serviceMonitor.enabled=true",
        "--set", "serviceMonitor.labels.release=kps",
    )  # fmt: skip
    monitor, service = _only(docs, "ServiceMonitor"), _only(docs, "Service")
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["modelship"]}
    ports = {port["name"]: port["port"] for port in service["spec"]["ports"]}
    [endpoint] = monitor["spec"]["endpoints"]
    assert ports.get(endpoint["port"]) == 8080
    assert endpoint["path"] == "/metrics"
    # Else the drift gauges' `namespace` becomes exported_namespace and no dashboard or alert
    # selecting a DriftMonitor's namespace finds them.
    assert endpoint["honorLabels"] is True


def test_grafana_dashboard_config_map_only_when_enabled_and_holds_the_dashboard() -> None:
    assert "ms-modelship-dashboard" not in {
        doc["metadata"]["name"] for doc in render("ms", "modelship") if doc["kind"] == "ConfigMap"
    }
    docs = render(
        "ms", "modelship", "--set", "grafanaDashboard.enabled=true",
        "--set", "grafanaDashboard.namespace=monitoring",
        "--set", "grafanaDashboard.annotations.grafana_folder=ml",
    )  # fmt: skip
    [config_map] = [doc for doc in docs if doc["kind"] == "ConfigMap"]
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "ml"}
    dashboard = json.loads((REPO / "deploy" / "grafana" / "modelship.json").read_text())
    assert json.loads(config_map["data"]["modelship.json"]) == dashboard


@pytest.mark.parametrize(
    ("values", "selector"),
    [
        ([], {"any": True}),
        (["--set", "watchNamespaces={ml,team-b}"], {"matchNames": ["ml", "team-b"]}),
        (
            ["--set", "watchNamespaces={ml}", "--set", "podMonitor.namespaces={serving}"],
            {"matchNames": ["serving"]},
        ),
    ],
)
def test_pod_monitor_watches_the_operators_namespaces(
    values: list[str], selector: dict[str, Any]
) -> None:
    docs = render("ms", "modelship", "--set", "podMonitor.enabled=true", *values)
    assert _only(docs, "PodMonitor")["spec"]["namespaceSelector"] == selector


def _sanitize(label: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", label)


def scrape_config(monitor: dict[str, Any], targets: Path) -> dict[str, Any]:
    """The scrape job the Prometheus Operator generates from a PodMonitor (the parts that
    choose targets and label them), reading targets from `targets` instead of the API server.
    Fails on any selector or field it does not translate."""
    spec = monitor["spec"]
    [endpoint] = spec["podMetricsEndpoints"]
    keep = []
    selector = spec["selector"]
    assert set(selector) <= {"matchExpressions", "matchLabels"}, selector
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "Exists", expression
        present = f"__meta_kubernetes_pod_labelpresent_{_sanitize(expression['key'])}"
        keep.append({"source_labels": [present], "regex": "true", "action": "keep"})
    for key, value in selector.get("matchLabels", {}).items():
        label = f"__meta_kubernetes_pod_label_{_sanitize(key)}"
        keep.append({"source_labels": [label], "regex": value, "action": "keep"})
    namespaces = "|".join(spec["namespaceSelector"]["matchNames"])
    keep.append(
        {"source_labels": ["__meta_kubernetes_namespace"], "regex": namespaces, "action": "keep"}
    )
    port = "__meta_kubernetes_pod_container_port_name"
    keep.append({"source_labels": [port], "regex": endpoint["port"], "action": "keep"})
    relabel = [{RELABEL_FIELDS[k]: v for k, v in r.items()} for r in endpoint["relabelings"]]
    return {
        "job_name": "podmonitor",
        "honor_labels": endpoint["honorLabels"],
        "metrics_path": endpoint["path"],
        "scrape_interval": endpoint["interval"],
        "file_sd_configs": [{"files": [str(targets)], "refresh_interval": "1s"}],
        "relabel_configs": keep + relabel,
    }


def discovered(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What Prometheus' Kubernetes discovery (role pod) finds: one target per container
    port, with its `__meta_kubernetes_*` labels."""
    groups = []
    for pod in pods:
        meta = pod["metadata"]
        labels = {
            "__meta_kubernetes_namespace": meta["namespace"],
            "__meta_kubernetes_pod_name": meta["name"],
            "__meta_kubernetes_pod_ip": pod["status"].get("podIP", ""),
        }
        for key, value in (meta.get("labels") or {}).items():
            labels[f"__meta_kubernetes_pod_label_{_sanitize(key)}"] = value
            labels[f"__meta_kubernetes_pod_labelpresent_{_sanitize(key)}"] = "true"
        for container in pod["spec"]["containers"]:
            for port in container.get("ports") or []:
                groups.append(
                    {
                        "targets": [f"{pod['status'].get('podIP')}:{port['containerPort']}"],
                        "labels": {
                            **labels,
                            "__meta_kubernetes_pod_container_name": container["name"],
                            "__meta_kubernetes_pod_container_port_name": port.get("name", ""),
                            "__meta_kubernetes_pod_container_port_number": str(
                                port["containerPort"]
                            ),
                        },
                    }
                )
    return groups


@contextmanager
def prometheus_with(job: dict[str, Any], folder: Path) -> Iterator[str]:
    """A Prometheus of this test's own, running one scrape job; its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    config.write_text(json.dumps({"scrape_configs": [job]}))
    port = free_port()
    with (folder / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(binary("prometheus")), f"--config.file={config}",
             f"--web.listen-address=127.0.0.1:{port}", f"--storage.tsdb.path={folder / 'data'}",
             "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: urllib.request.urlopen(f"{url}/-/ready", timeout=2).status == 200,
                 timeout=120, describe="Prometheus to be ready")  # fmt: skip
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def active_targets(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/v1/targets?state=active", timeout=5) as response:
        targets: list[dict[str, Any]] = json.load(response)["data"]["activeTargets"]
    return targets


def _matchers(selector: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="([^"]*)"', selector))


def test_pod_monitor_labels_serving_pods_as_the_queries_select_them(
    kubeconfig: str, namespace: str, crds: list[str], operator: OperatorFactory, tmp_path: Path
) -> None:
    operator(namespaces=[namespace])
    model = yaml.safe_load(EXAMPLE.read_text())
    model["metadata"]["namespace"] = namespace
    model["spec"].setdefault("serving", {})["replicas"] = 2
    kubectl(kubeconfig, "create", "-f", "-", stdin=json.dumps(model))
    # A pod that is not a model server, in the same namespace: never a target.
    kubectl(kubeconfig, "run", "bystander", "-n", namespace, "--image=example/web:1",
            "--port=80", "--labels=app=web")  # fmt: skip

    def stable_revision() -> str | None:
        md = json.loads(kubectl(kubeconfig, "get", "md", "iris", "-n", namespace, "-o", "json"))
        status = md.get("status") or {}
        return status.get("stableRevision") if status.get("phase") == "Healthy" else None

    revision = wait_for(stable_revision, timeout=120, describe="iris to be Healthy")
    docs = render("ms", "modelship", "--set", "podMonitor.enabled=true",
                  "--set", f"watchNamespaces={{{namespace}}}")  # fmt: skip
    # Every pod in the cluster, as Prometheus would discover them all: the PodMonitor keeps
    # those of its namespaces only.
    pods = json.loads(kubectl(kubeconfig, "get", "pods", "-A", "-o", "json"))["items"]
    serving = {
        p["metadata"]["name"]
        for p in pods
        if p["metadata"]["namespace"] == namespace and p["metadata"]["name"] != "bystander"
    }
    assert len(serving) == 2
    targets_file = tmp_path / "targets.json"
    targets_file.write_text(json.dumps(discovered(pods)))
    job = scrape_config(_only(docs, "PodMonitor"), targets_file)
    with prometheus_with(job, tmp_path / "prometheus") as url:
        targets = wait_for(
            lambda: (found := active_targets(url)) and len(found) >= len(serving) and found,
            timeout=60,
            describe="Prometheus to discover the serving pods",
        )
    found = {t["discoveredLabels"]["__meta_kubernetes_pod_name"] for t in targets}
    assert found == serving, targets
    rolling = Subject(namespace, "iris", revision, None, "1m").selector(CANARY)
    drift = Target(namespace, revision, "1h").selector
    for target in targets:
        labels = target["labels"]
        assert target["scrapeUrl"].endswith(":8080/metrics"), target["scrapeUrl"]
        for selector in (rolling, drift):
            assert _matchers(selector).items() <= labels.items(), (selector, labels)
        assert labels["model_deployment"] == "iris"


def _server_side_dry_run(kubeconfig: str, namespace: str, obj: dict[str, Any]) -> None:
    """What the API server says to creating `obj`: its CRD's schema, unknown fields refused."""
    body = {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}
    kubectl(kubeconfig, "apply", "--server-side", "--dry-run=server", "--validate=strict",
            "--field-manager=modelship-test", "-f", "-", stdin=json.dumps(body))  # fmt: skip


@pytest.mark.usefixtures("prometheus_operator_crds")
@pytest.mark.parametrize(
    "values",
    [[], ["--set", "watchNamespaces={ml,team-b}", "--set", "podMonitor.interval=30s",
          "--set", "serviceMonitor.labels.release=kps"]],
)  # fmt: skip
def test_monitors_and_rules_are_accepted_by_the_prometheus_operators_own_crds(
    kubeconfig: str, namespace: str, values: list[str]
) -> None:
    docs = render("ms", namespace, "--set", "podMonitor.enabled=true",
                  "--set", "serviceMonitor.enabled=true", *values)  # fmt: skip
    monitors = [doc for doc in docs if doc["kind"] in ("PodMonitor", "ServiceMonitor")]
    assert sorted(doc["kind"] for doc in monitors) == ["PodMonitor", "ServiceMonitor"]
    rule = yaml.safe_load(
        (REPO / "deploy" / "prometheus" / "modelship-prometheusrule.yaml").read_text()
    )
    for obj in [*monitors, rule]:
        _server_side_dry_run(kubeconfig, namespace, obj)
    # The CRDs do check: a relabeling action the Prometheus Operator does not know is refused.
    broken = json.loads(json.dumps(_only(monitors, "PodMonitor")))
    broken["spec"]["podMetricsEndpoints"][0]["relabelings"][0]["action"] = "bogus"
    with pytest.raises(ClusterError, match="relabelings"):
        _server_side_dry_run(kubeconfig, namespace, broken)
