"""The chart's RBAC is sufficient and least-privilege.

Statically: no wildcard, Secrets only `get`, and docs/operator.md#rbac's table and
`kubectl auth can-i --list` listings are what the chart renders and the API server answers.
Live: the operator, run as the chart's ServiceAccount through the operator suites, is refused
nothing, and uses every rule the chart grants (but those the suites do not reach, listed
below with the code that needs them); without the finalizers rules its children are refused.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from modelship_testing.audit import Permission, permissions, requests
from modelship_testing.chart import (
    ChartIdentity,
    apply_rbac,
    identity_kubeconfig,
    operator_release,
    remove_cluster_rbac,
    render,
    watch_values,
)
from modelship_testing.cluster import REPO, ClusterError, LocalCluster, kubectl
from modelship_testing.fixtures import (
    EXTERNAL,
    OPERATOR_IDENTITY,
    SESSION_STARTED,
    OperatorFactory,
    passed_in_session,
)
from modelship_testing.waiters import wait_for

pytestmark = pytest.mark.cluster
DOCS = REPO / "docs" / "operator.md"
EXAMPLES = REPO / "examples"
OPERATOR_SUITES = (
    "test_rollouts.py",
    "test_drift.py",
    "test_retraining.py",
    "test_operator.py",
    "test_peering.py",
)
# Granted, used by the operator, but not reached by the operator suites: each with the code
# that makes the request. Anything else granted and unused fails the audit test.
UNEXERCISED: dict[Permission, str] = {
    ("apps", "deployments", "delete"): "reconciler: a revision past revisionHistoryLimit",
    ("", "services", "delete"): "adapter remove_stale: a Service the plan dropped",
    ("autoscaling", "horizontalpodautoscalers", "patch"): "adapter ensure: its spec changed",
    ("autoscaling", "horizontalpodautoscalers", "delete"): "remove_stale: autoscaling removed",
    ("networking.k8s.io", "networkpolicies", "patch"): "ensure: security.networkPolicy changed",
    ("networking.k8s.io", "networkpolicies", "delete"): "remove_stale: networkPolicy removed",
    ("gateway.networking.k8s.io", "httproutes", "delete"): "remove_stale: gatewayAPI dropped",
    ("networking.istio.io", "virtualservices", "delete"): "remove_stale: istio router dropped",
    ("policy", "poddisruptionbudgets", "patch"): "ensure: a PDB rendered otherwise",
    ("", "configmaps", "patch"): "adapter apply_config_map: the run's profile exists",
    ("batch", "jobs", "delete"): "retrain/runs.py: concurrency Replace, historyLimit",
    ("", "persistentvolumeclaims", "get"): "adapter data_keys: a claim the pods mount",
    ("", "serviceaccounts", "get"): "data_keys: the pod template's serviceAccountName",
    # Checked by admission, never requested (test_owner_references_need_the_finalizers_rule).
    ("modelship.io", "modeldeployments/finalizers", "update"): "blockOwnerDeletion",
    ("modelship.io", "retrainpolicies/finalizers", "update"): "blockOwnerDeletion",
}


@dataclass(frozen=True)
class Shape:
    """One way to install the chart, as its RBAC differs."""

    namespaced: bool
    peering: bool

    def values(self, namespaces: list[str]) -> list[str]:
        replicas = ["--set", "replicaCount=2"] if self.peering else []
        return [*watch_values(namespaces if self.namespaced else []), *replicas]


SHAPES = [Shape(n, p) for n in (False, True) for p in (False, True)]
SHAPE_IDS = [
    f"{'namespaced' if s.namespaced else 'cluster-wide'}{'-peering' * s.peering}" for s in SHAPES
]


def rendered_rules(shape: Shape) -> tuple[set[Permission], set[Permission]]:
    """(rules granted in a watched namespace, rules granted cluster-wide) as rendered."""
    docs = render("ms", "modelship", *shape.values(["ml"]))
    roles = [doc for doc in docs if doc["kind"] in ("Role", "ClusterRole")]
    namespaced = {p for doc in roles if doc["kind"] == "Role" for p in permissions(doc["rules"])}
    cluster = {
        p for doc in roles if doc["kind"] == "ClusterRole" for p in permissions(doc["rules"])
    }
    return namespaced, cluster


def all_rules(shape: Shape) -> list[dict[str, Any]]:
    docs = render("ms", "modelship", *shape.values(["ml"]))
    return [rule for doc in docs if doc["kind"] in ("Role", "ClusterRole") for rule in doc["rules"]]


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_no_wildcards_and_secrets_are_only_read_by_name(shape: Shape) -> None:
    rules = all_rules(shape)
    for rule in rules:
        for field in ("apiGroups", "resources", "verbs"):
            assert not any("*" in item for item in rule.get(field, [])), rule
        assert not set(rule["verbs"]) & {"escalate", "bind", "impersonate", "deletecollection"}
        if "update" in rule["verbs"]:
            assert all(r.endswith("/finalizers") for r in rule["resources"]), rule
    granted = permissions(rules)
    assert {verb for group, resource, verb in granted if resource == "secrets"} == {"get"}


# --- the docs' table ----------------------------------------------------------------------


def documented(shape: Shape) -> tuple[set[Permission], set[Permission]]:
    """What docs/operator.md's RBAC table says `shape` grants, as rendered_rules does."""
    section = DOCS.read_text().split("## RBAC\n", 1)[1].split("\n## ", 1)[0]
    namespaced: set[Permission] = set()
    cluster: set[Permission] = set()
    rows = re.findall(r"^\| (core|`[^`]+`) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|", section, re.M)
    assert rows, "no RBAC table in docs/operator.md"
    for group, resources, verbs, where in rows:
        if ("with `watchNamespaces`" in where and not shape.namespaced) or (
            "without `watchNamespaces`" in where and shape.namespaced
        ):
            continue
        if "`replicaCount` > 1" in where and not shape.peering:
            continue
        granted = {
            ("" if group == "core" else group.strip("`"), resource.strip(), verb.strip())
            for resource in resources.split(",")
            for verb in verbs.split(",")
        }
        scope = where.split(",")[0].strip()
        assert scope in ("watched namespaces", "cluster"), where
        (namespaced if scope == "watched namespaces" else cluster).update(granted)
    if not shape.namespaced:  # one ClusterRole holds both
        return set(), namespaced | cluster
    return namespaced, cluster


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_docs_rbac_table_is_what_the_chart_grants(shape: Shape) -> None:
    assert documented(shape) == rendered_rules(shape)


# --- what the API server grants -----------------------------------------------------------


def documented_can_i(mode: str) -> str:
    found = re.search(rf"<!-- can-i: {mode} -->\n```text\n(.*?)```", DOCS.read_text(), re.S)
    assert found, f"no can-i listing for {mode} in docs/operator.md"
    return found.group(1)


@pytest.mark.parametrize("mode", ["namespaced", "cluster-wide"])
def test_docs_can_i_listing_is_what_the_api_server_answers(
    kubeconfig: str, namespace: str, crds: list[str], mode: str
) -> None:
    identity = ChartIdentity(f"cani-{uuid.uuid4().hex[:6]}", namespace=namespace)
    apply_rbac(kubeconfig, identity, [namespace] if mode == "namespaced" else [])
    try:
        listed = kubectl(kubeconfig, "auth", "can-i", "--list", f"--as={identity.username}",
                         "-n", namespace)  # fmt: skip
    finally:
        remove_cluster_rbac(kubeconfig, identity.release)
    assert listed == documented_can_i(mode), (
        f"docs/operator.md is stale; the API server says:\n{listed}"
    )


# --- owner references ---------------------------------------------------------------------


def _example(name: str, namespace: str) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    body["metadata"]["namespace"] = namespace
    return body


@pytest.mark.parametrize(
    ("owner_kind", "example"),
    [("ModelDeployment", "modeldeployment-rolling.yaml"), ("RetrainPolicy", "retrainpolicy.yaml")],
)
def test_owner_references_need_the_finalizers_rule(
    kubeconfig: str, namespace: str, crds: list[str], tmp_path: Path, owner_kind: str, example: str
) -> None:
    """The operator's children and Jobs block their owner's deletion. With the
    OwnerReferencesPermissionEnforcement plugin on, the chart's rules let it create them, and
    the same rules without `update` on the owner's finalizers do not."""
    owner = json.loads(kubectl(kubeconfig, "create", "-o", "json", "-f", "-",
                               stdin=json.dumps(_example(example, namespace))))  # fmt: skip
    child = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "child",
            "namespace": namespace,
            "ownerReferences": [
                {
                    "apiVersion": owner["apiVersion"],
                    "kind": owner_kind,
                    "name": owner["metadata"]["name"],
                    "uid": owner["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "data": {"k": "v"},
    }
    release = f"owner-{uuid.uuid4().hex[:6]}"
    chart, trimmed = ChartIdentity(release, namespace), ChartIdentity(f"{release}-t", namespace)
    try:
        apply_rbac(kubeconfig, chart, [namespace])
        apply_rbac(kubeconfig, trimmed, [namespace])
        role = json.loads(kubectl(kubeconfig, "get", "role", trimmed.service_account, "-n",
                                  namespace, "-o", "json"))  # fmt: skip
        role["rules"] = [r for r in role["rules"] if not r["resources"][0].endswith("/finalizers")]
        kubectl(kubeconfig, "apply", "-f", "-", stdin=json.dumps(role))
        as_trimmed = str(identity_kubeconfig(kubeconfig, trimmed, tmp_path / "trimmed"))
        with pytest.raises(ClusterError, match="cannot set blockOwnerDeletion"):
            kubectl(as_trimmed, "create", "-f", "-", stdin=json.dumps(child))
        as_chart = str(identity_kubeconfig(kubeconfig, chart, tmp_path / "chart"))
        kubectl(as_chart, "create", "-f", "-", stdin=json.dumps(child))
    finally:
        remove_cluster_rbac(kubeconfig, chart.release)
        remove_cluster_rbac(kubeconfig, trimmed.release)


# --- the operator, as the chart's ServiceAccount -------------------------------------------


@pytest.fixture
def audited(local_cluster: LocalCluster) -> LocalCluster:
    if EXTERNAL:
        pytest.skip("reads the local API server's audit log")
    if not local_cluster.apiserver_audits():
        pytest.fail(local_cluster.audit_outdated_message())
    return local_cluster


def test_a_cluster_wide_operator_is_refused_nothing(
    audited: LocalCluster, kubeconfig: str, namespace: str, crds: list[str],
    operator: OperatorFactory,
) -> None:  # fmt: skip
    """Watching every namespace, kopf follows no namespaces: the ClusterRole grants none."""
    if OPERATOR_IDENTITY != "chart":
        pytest.skip("MODELSHIP_TEST_OPERATOR_IDENTITY=admin")
    since = datetime.now(UTC)
    identity = operator_release([], peering=False)
    operator(namespaces=None)
    kubectl(kubeconfig, "create", "-f", "-",
            stdin=json.dumps(_example("modeldeployment-rolling.yaml", namespace)))  # fmt: skip

    def healthy() -> bool:
        md = json.loads(kubectl(kubeconfig, "get", "md", "-n", namespace, "-o", "json"))
        return any((m.get("status") or {}).get("phase") == "Healthy" for m in md["items"])

    wait_for(healthy, timeout=120, describe="the ModelDeployment to become Healthy")
    seen = [r for r in requests(audited.audit_log, since) if r.user == identity.username]
    assert seen, "the audit log recorded nothing of the operator"
    assert not [r for r in seen if not r.authorized]
    assert not [r for r in seen if r.permission[1] == "namespaces"]


def _run_operator_suites(prefix: str) -> None:
    """The operator suites in a pytest of their own, the operator acting as the chart's
    ServiceAccounts of releases named with `prefix`."""
    folder = Path(__file__).parent
    env = {
        **os.environ,
        "MODELSHIP_TEST_OPERATOR_IDENTITY": "chart",
        "MODELSHIP_TEST_OPERATOR_RELEASE_PREFIX": prefix,
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         *(str(folder / name) for name in OPERATOR_SUITES)],
        env=env, cwd=REPO, capture_output=True, text=True, check=False, timeout=3600,
    )  # fmt: skip
    assert run.returncode == 0, f"the operator suites failed:\n{run.stdout[-4000:]}"


@pytest.fixture
def operator_suites_audit(
    request: pytest.FixtureRequest, audited: LocalCluster, kubeconfig: str
) -> Iterator[tuple[str, datetime]]:
    """(release prefix, since when) of the audit records of the operator suites run as the
    chart: this session's, when it ran and passed them all; else a run of its own."""
    if OPERATOR_IDENTITY == "chart" and passed_in_session(request.session, OPERATOR_SUITES):
        yield os.environ.get("MODELSHIP_TEST_OPERATOR_RELEASE_PREFIX", ""), SESSION_STARTED
        return
    prefix, since = f"audit{uuid.uuid4().hex[:6]}-", datetime.now(UTC)
    try:
        _run_operator_suites(prefix)
        yield prefix, since
    finally:
        for release in ("it-ns", "it-ns-peering", "it-all", "it-all-peering"):
            identity = ChartIdentity(prefix + release)
            remove_cluster_rbac(kubeconfig, identity.release)
            kubectl(kubeconfig, "delete", "serviceaccount", identity.service_account,
                    "-n", identity.namespace, "--ignore-not-found")  # fmt: skip


@pytest.mark.slow
@pytest.mark.after_operator_suites
def test_the_operator_suites_use_every_rule_and_are_refused_nothing(
    audited: LocalCluster, operator_suites_audit: tuple[str, datetime]
) -> None:
    prefix, since = operator_suites_audit
    plain, peering = ChartIdentity(f"{prefix}it-ns"), ChartIdentity(f"{prefix}it-ns-peering")

    used: dict[str, set[Permission]] = {plain.username: set(), peering.username: set()}
    refused = []
    for seen in requests(audited.audit_log, since):
        if seen.user in used:
            used[seen.user].add(seen.permission)
            if not seen.authorized:
                refused.append(seen)
    assert not refused, f"the chart's RBAC refused the operator: {refused}"

    namespaced, cluster = rendered_rules(Shape(namespaced=True, peering=False))
    granted = namespaced | cluster
    assert used[plain.username] <= granted  # refused nothing, so this must hold
    unused = granted - used[plain.username] - set(UNEXERCISED)
    assert not unused, f"granted, never used by the operator suites: {sorted(unused)}"

    with_peering = set().union(*rendered_rules(Shape(namespaced=True, peering=True)))
    assert with_peering - granted <= used[peering.username], "peering rules unused"
