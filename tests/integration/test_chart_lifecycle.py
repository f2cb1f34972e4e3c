"""`helm install`, `upgrade`, `test` and `uninstall` of the chart against the local API server.

KWOK runs no containers: the operator's pod becomes Running and Ready without a process in it,
so these tests prove what Helm and the API server do with the chart's objects, not what the
operator does (the operator suites, run as the chart's ServiceAccount, prove that).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from modelship_testing.chart import CHART, helm, run_helm
from modelship_testing.cluster import ClusterError, kubectl

pytestmark = pytest.mark.cluster
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "modeldeployment-rolling.yaml"


class Release:
    """One Helm release of the chart in a test namespace, uninstalled afterwards."""

    def __init__(self, kubeconfig: str, namespace: str) -> None:
        self.kubeconfig, self.namespace = kubeconfig, namespace
        self.name = f"life-{uuid.uuid4().hex[:6]}"
        self.fullname = f"{self.name}-modelship"

    def helm(self, *args: str) -> str:
        return helm(*args, "--namespace", self.namespace, kubeconfig=self.kubeconfig)

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        return kubectl(self.kubeconfig, *args, stdin=stdin)

    def get(self, kind: str, name: str, namespaced: bool = True) -> dict[str, Any] | None:
        where = ["-n", self.namespace] if namespaced else []
        try:
            found: dict[str, Any] = json.loads(
                self.kubectl("get", kind, name, *where, "-o", "json")
            )
        except ClusterError as err:
            if "NotFound" in str(err):
                return None
            raise
        return found

    def deployment_args(self) -> list[str]:
        deployment = self.get("deployment", self.fullname)
        assert deployment is not None
        args: list[str] = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        return args

    def env(self) -> dict[str, str]:
        deployment = self.get("deployment", self.fullname)
        assert deployment is not None
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        return {e["name"]: e.get("value", "") for e in env}


@pytest.fixture
def release(kubeconfig: str, namespace: str, crds: list[str]) -> Iterator[Release]:
    handle = Release(kubeconfig, namespace)
    yield handle
    run_helm("uninstall", handle.name, "--namespace", namespace, kubeconfig=kubeconfig)


def test_install_upgrade_and_uninstall_a_namespaced_release(
    release: Release, crds: list[str]
) -> None:
    ns = release.namespace
    watch = f"watchNamespaces={{{ns}}}"
    out = release.helm(
        "install", release.name, str(CHART), "--set", watch, "--wait", "--timeout", "120s"
    )
    assert "STATUS: deployed" in out
    assert f"It watches the namespaces {ns} (a Role in each), with 1 replica(s)." in out
    for kind, name in [
        ("deployment", release.fullname),
        ("serviceaccount", release.fullname),
        ("role", release.fullname),
        ("rolebinding", release.fullname),
        ("service", f"{release.fullname}-metrics"),
    ]:
        assert release.get(kind, name) is not None, (kind, name)
    for kind in ("clusterrole", "clusterrolebinding"):
        assert release.get(kind, f"{release.fullname}-discovery", namespaced=False) is not None
    assert release.get("clusterrole", release.fullname, namespaced=False) is None
    assert release.deployment_args() == ["operator", f"--namespace={ns}", "--standalone"]
    deployment = release.get("deployment", release.fullname)
    assert deployment is not None
    assert deployment["status"].get("availableReplicas") == 1

    # A user's object, which no uninstall may take with it.
    model = yaml.safe_load(EXAMPLE.read_text())
    model["metadata"] = {"name": "kept", "namespace": ns}
    release.kubectl("create", "-f", "-", stdin=json.dumps(model))

    out = release.helm(
        "upgrade", release.name, str(CHART), "--set", watch, "--set", "replicaCount=2",
        "--set", "log.level=debug", "--wait", "--timeout", "120s",
    )  # fmt: skip
    assert "REVISION: 2" in out
    assert release.deployment_args() == ["operator", f"--namespace={ns}", "--peering=modelship"]
    assert release.env()["MODELSHIP_LOG_LEVEL"] == "debug"
    deployment = release.get("deployment", release.fullname)
    assert deployment is not None
    assert deployment["spec"]["replicas"] == 2
    assert release.get("kopfpeering", "modelship") is not None
    role = release.get("role", release.fullname)
    assert role is not None
    assert {"apiGroups": ["kopf.dev"], "resources": ["kopfpeerings"],
            "verbs": ["list", "watch", "patch"]} in role["rules"]  # fmt: skip

    release.helm("uninstall", release.name, "--wait", "--timeout", "120s")
    for kind, name in [
        ("deployment", release.fullname),
        ("serviceaccount", release.fullname),
        ("role", release.fullname),
        ("rolebinding", release.fullname),
        ("service", f"{release.fullname}-metrics"),
        ("kopfpeering", "modelship"),
    ]:
        assert release.get(kind, name) is None, (kind, name)
    for kind in ("clusterrole", "clusterrolebinding"):
        assert release.get(kind, f"{release.fullname}-discovery", namespaced=False) is None
    # Helm never deletes a chart's crds/: the CRDs, and the objects in them, stay.
    for crd in crds:
        assert release.get("crd", crd, namespaced=False) is not None, crd
    assert release.get("modeldeployment", "kept") is not None


def test_install_and_uninstall_a_cluster_wide_release(release: Release) -> None:
    release.helm("install", release.name, str(CHART), "--wait", "--timeout", "120s")
    assert release.deployment_args() == ["operator", "--all-namespaces", "--standalone"]
    for kind in ("clusterrole", "clusterrolebinding"):
        assert release.get(kind, release.fullname, namespaced=False) is not None
    binding = release.get("clusterrolebinding", release.fullname, namespaced=False)
    assert binding is not None
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": release.fullname, "namespace": release.namespace}
    ]
    release.helm("uninstall", release.name, "--wait", "--timeout", "120s")
    for kind in ("clusterrole", "clusterrolebinding"):
        assert release.get(kind, release.fullname, namespaced=False) is None
    assert release.get("deployment", release.fullname) is None


def test_helm_test_creates_its_hook_pod(release: Release) -> None:
    """`helm test` creates the hook Pod as the chart defines it. KWOK runs no containers, so
    the Pod never finishes here and `helm test` times out: on a real cluster the Pod runs
    and passes or fails on the operator's answers (charts/modelship/README.md#helm-test)."""
    release.helm("install", release.name, str(CHART), "--wait", "--timeout", "120s")
    tested = run_helm(
        "test", release.name, "--namespace", release.namespace, "--timeout", "15s",
        kubeconfig=release.kubeconfig,
    )  # fmt: skip
    assert tested.returncode != 0, "helm test passed on a cluster that runs no containers"
    pod = release.get("pod", f"{release.fullname}-test")
    assert pod is not None, tested.stderr
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["nodeName"], "the hook Pod was not scheduled"
    assert pod["status"]["phase"] == "Running"  # as far as KWOK takes it
    container = pod["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/modelship/modelship:0.1.0"
    service = f"http://{release.fullname}-metrics.{release.namespace}.svc"
    assert f"{service}:8081/healthz" in container["args"][0]
    # Its Service answers on both ports it asks: kopf's /healthz and /metrics.
    svc = release.get("service", f"{release.fullname}-metrics")
    assert svc is not None
    assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == {"metrics": 8080, "health": 8081}
