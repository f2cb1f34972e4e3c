"""The Helm chart in tests: render it, and act as its ServiceAccount.

`operator_identity` installs only the chart's RBAC (ServiceAccount, Roles and bindings, as
`helm template` renders them) into the cluster and returns a kubeconfig holding a token of
that ServiceAccount from the TokenRequest API, so an operator started with it has exactly the
permissions the chart grants: the API server authenticates the token and authorizes every
request against the chart's rules, as it does for the operator's pod.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from modelship_testing.cluster import AUDITED_NAMESPACE, REPO, binary, kubectl

CHART = REPO / "charts" / "modelship"
RBAC_KINDS = frozenset(
    {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
)
# How long a token asked for here lives: longer than any test session.
TOKEN_DURATION = "12h"


def run_helm(*args: str, kubeconfig: str | None = None) -> subprocess.CompletedProcess[str]:
    config = [f"--kubeconfig={kubeconfig}"] if kubeconfig else []
    return subprocess.run(
        [str(binary("helm")), *config, *args], capture_output=True, text=True, check=False
    )


def helm(*args: str, kubeconfig: str | None = None) -> str:
    """Run helm; fail with its stderr when it fails."""
    result = run_helm(*args, kubeconfig=kubeconfig)
    assert result.returncode == 0, f"helm {' '.join(args)}: {result.stderr}"
    return result.stdout


def render(release: str, namespace: str, *values: str) -> list[dict[str, Any]]:
    """The chart's objects, as `helm template` renders them."""
    out = helm("template", release, str(CHART), "--namespace", namespace, *values)
    return [doc for doc in yaml.safe_load_all(out) if doc]


def watch_values(namespaces: Iterable[str]) -> list[str]:
    listed = ",".join(namespaces)
    return ["--set", f"watchNamespaces={{{listed}}}"] if listed else []


@dataclass(frozen=True)
class ChartIdentity:
    """The chart's ServiceAccount of one release in AUDITED_NAMESPACE."""

    release: str
    namespace: str = AUDITED_NAMESPACE

    @property
    def service_account(self) -> str:
        return f"{self.release}-modelship"

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


def apply_rbac(
    kubeconfig: str, identity: ChartIdentity, namespaces: Iterable[str], values: Iterable[str] = ()
) -> None:
    """Create the release's ServiceAccount and the Roles and bindings the chart renders for
    `namespaces` (none: the cluster-wide ClusterRole) and any other `values`."""
    docs = render(identity.release, identity.namespace, *watch_values(namespaces), *values)
    rbac = [doc for doc in docs if doc["kind"] in RBAC_KINDS]
    release_namespace = {"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": identity.namespace}}  # fmt: skip
    kubectl(
        kubeconfig,
        "apply",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [release_namespace, *rbac]}),
    )


def remove_cluster_rbac(kubeconfig: str, release: str) -> None:
    """Delete a release's ClusterRoles and ClusterRoleBindings (its namespaced objects go
    with their namespace)."""
    kubectl(
        kubeconfig, "delete", "clusterrole,clusterrolebinding",
        "-l", f"app.kubernetes.io/instance={release}", "--ignore-not-found",
    )  # fmt: skip


def identity_kubeconfig(admin_kubeconfig: str, identity: ChartIdentity, path: Path) -> Path:
    """A kubeconfig for the same API server, authenticated as `identity` by a token from the
    TokenRequest API."""
    token = kubectl(
        admin_kubeconfig,
        "create",
        "token",
        identity.service_account,
        "--namespace",
        identity.namespace,
        f"--duration={TOKEN_DURATION}",
    ).strip()
    admin = yaml.safe_load(Path(admin_kubeconfig).read_text())
    cluster = admin["clusters"][0]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": identity.service_account, "user": {"token": token}}],
        "contexts": [
            {
                "name": identity.service_account,
                "context": {"cluster": cluster["name"], "user": identity.service_account},
            }
        ],
        "current-context": identity.service_account,
    }
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)
    return path


def operator_release(namespaces: Iterable[str], peering: bool) -> ChartIdentity:
    """The release whose ServiceAccount an operator of this shape acts as: one per shape
    (namespaced or not, peering or not), so a ClusterRole never widens what another shape may
    do. MODELSHIP_TEST_OPERATOR_RELEASE_PREFIX keeps one run's accounts apart from others'."""
    release = ("it-ns" if list(namespaces) else "it-all") + ("-peering" if peering else "")
    return ChartIdentity(os.environ.get("MODELSHIP_TEST_OPERATOR_RELEASE_PREFIX", "") + release)


def operator_identity(
    admin_kubeconfig: str, namespaces: Iterable[str], peering: bool, folder: Path
) -> Path:
    """Install the chart's RBAC for an operator watching `namespaces` (none: all of them),
    with kopf peering or without (the chart grants the peering rules only with more than one
    replica), and return a kubeconfig acting as its ServiceAccount."""
    watched = list(namespaces)
    identity = operator_release(watched, peering)
    replicas = ["--set", "replicaCount=2"] if peering else []
    apply_rbac(admin_kubeconfig, identity, watched, replicas)
    return identity_kubeconfig(
        admin_kubeconfig, identity, folder / f"kubeconfig-{identity.release}"
    )
