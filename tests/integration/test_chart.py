"""The Helm chart renders, lints, and its objects are accepted by the real API server."""

from __future__ import annotations

import subprocess

import pytest
from modelship_testing.cluster import REPO, binary, kubectl

pytestmark = pytest.mark.cluster
CHART = REPO / "charts" / "modelship"


def helm(*args: str) -> str:
    result = subprocess.run(
        [str(binary("helm")), *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_chart_lints() -> None:
    assert "0 chart(s) failed" in helm("lint", str(CHART))


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
    rendered = helm(
        "template", "ms", str(CHART), "--namespace", namespace, "--kube-version", "1.36.0", *values
    )
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
