"""The Helm chart renders, lints, and its objects are accepted by the real API server."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from modelship_testing.cluster import REPO, binary, kubectl
from modelship_testing.health import ARGOCD_CM, render_argocd_cm

pytestmark = pytest.mark.cluster
CHART = REPO / "charts" / "modelship"


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary("helm")), *args], capture_output=True, text=True, check=False)


def helm(*args: str) -> str:
    result = run_helm(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_chart_lints() -> None:
    assert "0 chart(s) failed" in helm("lint", str(CHART))


def test_chart_renders_without_a_kube_version() -> None:
    """Offline, Helm assumes its built-in default (v1.20.0 for a Helm built from source, as
    this one is): the chart must render anyway."""
    rendered = helm("template", "ms", str(CHART))
    assert "kind: Deployment" in rendered


@pytest.mark.parametrize("version", ["1.29.0", "1.36.3", "v1.31.4-gke.1200"])
def test_chart_renders_for_supported_kubernetes(version: str) -> None:
    assert "kind: Deployment" in helm("template", "ms", str(CHART), "--kube-version", version)


@pytest.mark.parametrize("version", ["1.25.0", "1.28.9", "v1.28.3-eks-1"])
def test_chart_refuses_kubernetes_older_than_1_29(version: str) -> None:
    refused = run_helm("template", "ms", str(CHART), "--kube-version", version)
    assert refused.returncode != 0
    assert "modelship needs Kubernetes 1.29 or newer" in refused.stderr


def granted(rendered: str, kind: str) -> dict[str, set[str]]:
    """The verbs a rendered chart's `kind` (ClusterRole or Role) grants on each core-group
    resource, over all its rules."""
    verbs: dict[str, set[str]] = {}
    for doc in yaml.safe_load_all(rendered):
        if not doc or doc.get("kind") != kind or doc["metadata"]["name"].endswith("-discovery"):
            continue
        for rule in doc["rules"]:
            if "" in rule.get("apiGroups", []):
                for resource in rule["resources"]:
                    verbs.setdefault(resource, set()).update(rule["verbs"])
    return verbs


@pytest.mark.parametrize(
    ("values", "kind"),
    [([], "ClusterRole"), (["--set", "watchNamespaces={team-a}"], "Role")],
    ids=["cluster-wide", "namespaced"],
)
def test_rbac_lets_the_operator_read_what_the_pods_reference(values: list[str], kind: str) -> None:
    """Before creating a revision the operator reads every ConfigMap, Secret, claim and
    ServiceAccount its pods name; without the rule it cannot tell a missing one."""
    verbs = granted(helm("template", "ms", str(CHART), *values), kind)
    for resource in ("configmaps", "secrets", "persistentvolumeclaims", "serviceaccounts"):
        assert "get" in verbs.get(resource, set()), (resource, verbs)


@pytest.mark.parametrize(
    "values",
    [
        [],  # cluster-wide, one replica
        ["--set", "replicaCount=2"],  # peering
        ["--set", "watchNamespaces={team-a,team-b}", "--set", "replicaCount=2"],
    ],
    ids=["cluster-wide", "peering", "namespaced"],
)
def test_rendered_chart_is_accepted_by_the_api_server(
    kubeconfig: str, namespace: str, crds: list[str], values: list[str]
) -> None:
    rendered = helm("template", "ms", str(CHART), "--namespace", namespace, *values)
    if "watchNamespaces" in " ".join(values):
        # The per-namespace Roles and peerings land in the test's namespace.
        rendered = rendered.replace("namespace: team-a", f"namespace: {namespace}").replace(
            "namespace: team-b", f"namespace: {namespace}"
        )
    out = kubectl(kubeconfig, "apply", "--dry-run=server", "-f", "-", stdin=rendered)
    kinds = {line.split("/")[0] for line in out.splitlines() if "/" in line}
    assert "deployment.apps" in kinds
    assert "serviceaccount" in kinds
    assert any(k.startswith("clusterrole") or k.startswith("role") for k in kinds)


def test_deployed_argocd_cm_is_what_the_chart_renders() -> None:
    """deploy/argocd/argocd-cm.yaml holds the chart's health script for each kind, as
    `make argocd-cm` renders it."""
    assert ARGOCD_CM.read_text() == render_argocd_cm(), "stale: run `make argocd-cm`"
    data = yaml.safe_load(ARGOCD_CM.read_text())["data"]
    script = (CHART / "files" / "argocd" / "health.lua").read_text()
    kinds = ("ModelDeployment", "DriftMonitor", "RetrainPolicy")
    assert data == {f"resource.customizations.health.modelship.io_{k}": script for k in kinds}
