"""docs/gitops.md's health tables, measured: the real operator drives each kind through its
states on the local cluster, each object is captured as the API server returns it, and
Argo CD's and kstatus's own code (modelship-health) judge it. A table that differs from the
docs fails the test; `make health-table` rewrites the docs and tests/health/ instead."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
import yaml
from kubernetes import client
from modelship.api import GROUP, KINDS_BY_NAME, VERSION
from modelship_testing.cluster import REPO
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.health import HealthTable
from modelship_testing.objects import LABEL_REVISION, ModelDeployments
from modelship_testing.prometheus import PrometheusHandle
from modelship_testing.serving import TrainedModel
from modelship_testing.stands import MONITOR, SHIFT, DriftStand, stand_for
from modelship_testing.waiters import diagnostic, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("crds")]

NOT_YET = "just created, no status yet"
STALE = "spec edited, not yet observed"
MODEL_DEPLOYMENT_STATES = [
    NOT_YET,
    STALE,
    "first revision's pods not ready yet",
    "serving, every pod ready",
    "canary waiting at `pause: {}`",
    "a stable pod stopped being ready",
    "a referenced ConfigMap missing",
    "canary aborted, stable serves",
    "pod template refused by the API server",
]
DRIFT_MONITOR_STATES = [
    NOT_YET,
    "its ModelDeployment serves no revision yet",
    "fewer predictions than `minSamples`",
    "in-distribution traffic",
    "drifted traffic",
    "its ModelDeployment missing",
    "its model has no profile",
]
RETRAIN_POLICY_STATES = [
    NOT_YET,
    "references resolve, watching triggers",
    "a referenced DriftMonitor missing",
    "a schedule only the operator rejects",
]
# Pods no node takes: they stay Pending, so the revision never becomes available.
UNSCHEDULABLE = {"replicas": 1, "template": {"spec": {"nodeSelector": {"no-such-node": "x"}}}}


class Objects:
    """Any modelship kind in one namespace, read as the API server returns it."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.namespace = namespace

    def create(self, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name},
                "spec": spec}  # fmt: skip
        return cast(
            dict[str, Any],
            self.custom.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, KINDS_BY_NAME[kind].plural, body
            ),
        )

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return cast(
            dict[str, Any],
            self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, KINDS_BY_NAME[kind].plural, name
            ),
        )

    def wait(
        self,
        kind: str,
        name: str,
        check: Callable[[dict[str, Any]], bool],
        describe: str,
        timeout: float = 60,
    ) -> dict[str, Any]:
        """The object once its status reflects its generation and `check(status)` holds."""

        def current() -> dict[str, Any] | None:
            body = self.get(kind, name)
            status = body.get("status") or {}
            observed = status.get("observedGeneration") == body["metadata"]["generation"]
            return body if observed and check(status) else None

        with diagnostic(f"{kind} {name}", lambda: str(self.get(kind, name).get("status"))):
            return wait_for(current, timeout=timeout, describe=f"{kind} {name}: {describe}")


class Scene:
    """One kind's health table, filled with objects of one namespace as they reach each state."""

    def __init__(self, objects: Objects, table: HealthTable) -> None:
        self.objects, self.table = objects, table

    def now(self, state: str, name: str) -> None:
        self.table.capture(state, self.objects.get(self.table.kind, name))

    def once(
        self, state: str, name: str, check: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        """Capture `name` as `state` once its status for its generation passes `check`."""
        found = self.objects.wait(self.table.kind, name, check, state, timeout)
        self.table.capture(state, found)
        return found


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status.get("conditions") or []}


def stalled(reason: str) -> Callable[[dict[str, Any]], bool]:
    def check(status: dict[str, Any]) -> bool:
        found = conditions(status).get("Stalled", {})
        return found.get("status") == "True" and found.get("reason") == reason

    return check


def ready_because(reason: str) -> Callable[[dict[str, Any]], bool]:
    def check(status: dict[str, Any]) -> bool:
        found = conditions(status).get("Ready", {})
        return found.get("status") == "True" and found.get("reason") == reason

    return check


def phase(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda status: status.get("phase") == name


def model(version: str = "1", **fields: Any) -> dict[str, Any]:
    return {"name": "fraud", "version": version, "uri": f"s3://models/fraud/{version}/", **fields}


def set_pod_ready(core: client.CoreV1Api, namespace: str, pod: str, ready: bool) -> None:
    """What a kubelet reports when a readiness probe fails or passes again (KWOK makes pods
    ready once, when they start, and leaves a running pod's conditions alone)."""
    value = "True" if ready else "False"
    body = {"status": {"conditions": [{"type": t, "status": value}
                                      for t in ("Ready", "ContainersReady")]}}  # fmt: skip
    core.patch_namespaced_pod_status(pod, namespace, body)


def test_model_deployment_health_in_each_state(
    k8s_api: client.ApiClient, namespace: str, operator: OperatorFactory
) -> None:
    objects, mds = Objects(k8s_api, namespace), ModelDeployments(k8s_api, namespace)
    kind = "ModelDeployment"
    scene = Scene(objects, HealthTable(kind, MODEL_DEPLOYMENT_STATES))
    canary = {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}
    mds.create("fraud", {"model": model(), "serving": {"replicas": 2}, "strategy": canary})
    scene.now(NOT_YET, "fraud")
    mds.create("unschedulable", {"model": model(), "serving": UNSCHEDULABLE})
    mds.create("missing-profile", {"model": model(profileRef={"configMap": "no-such-profile"}),
                                   "serving": {"replicas": 1}})  # fmt: skip
    refused = {"spec": {"containers": [{"name": "server", "ports": [{"containerPort": 99999}]}]}}
    mds.create("refused", {"model": model(), "serving": {"replicas": 1, "template": refused}})
    running = operator(namespaces=[namespace])

    scene.once("first revision's pods not ready yet", "unschedulable", phase("Progressing"))
    healthy = scene.once("serving, every pod ready", "fraud", phase("Healthy"))

    stable = healthy["status"]["stableRevision"]
    pods = mds.core.list_namespaced_pod(namespace, label_selector=f"{LABEL_REVISION}={stable}")
    pod = pods.items[0].metadata.name
    set_pod_ready(mds.core, namespace, pod, ready=False)
    scene.once("a stable pod stopped being ready", "fraud", phase("Degraded"))
    set_pod_ready(mds.core, namespace, pod, ready=True)
    objects.wait(kind, "fraud", phase("Healthy"), "Healthy again")

    running.stop()
    mds.patch("fraud", {"spec": {"rollback": {"revisionHistoryLimit": 3}}})
    scene.now(STALE, "fraud")
    running.start()
    objects.wait(kind, "fraud", phase("Healthy"), "Healthy at the new generation")

    mds.set_version("fraud", "2")
    at_step_1 = lambda s: phase("Paused")(s) and s.get("currentStep") == 1  # noqa: E731
    scene.once("canary waiting at `pause: {}`", "fraud", at_step_1)
    mds.annotate("fraud", "modelship.io/abort")
    scene.once("canary aborted, stable serves", "fraud", phase("RolledBack"))
    scene.once("a referenced ConfigMap missing", "missing-profile", stalled("ReferenceNotFound"))
    scene.once("pod template refused by the API server", "refused", phase("Failed"))

    scene.table.check_docs()


@pytest.fixture
def stand(
    k8s_api: client.ApiClient, namespace: str, model: TrainedModel, prometheus: PrometheusHandle
) -> Iterator[DriftStand]:
    yield from stand_for(k8s_api, namespace, model, prometheus)


@pytest.mark.prometheus
def test_drift_monitor_health_in_each_state(
    k8s_api: client.ApiClient, stand: DriftStand, operator: OperatorFactory
) -> None:
    objects = Objects(k8s_api, stand.namespace)
    kind = "DriftMonitor"
    scene = Scene(objects, HealthTable(kind, DRIFT_MONITOR_STATES))
    objects.create(kind, "early", MONITOR)
    scene.now(NOT_YET, "early")
    # A ModelDeployment missing its profile creates no revision.
    unserved = {"model": model(profileRef={"configMap": "no-such-profile"}), "serving": {}}
    stand.mds.create("unserved", unserved)
    objects.create(kind, "waiting", {**MONITOR, "modelDeploymentRef": "unserved"})
    stand.mds.create("no-profile", {"model": model(), "serving": {"replicas": 1}})
    objects.create(kind, "profileless", {**MONITOR, "modelDeploymentRef": "no-profile"})
    objects.create(kind, "orphan", {**MONITOR, "modelDeploymentRef": "no-such-model"})
    stand.start(operator)  # the operator, ModelDeployment fraud with its profile, traffic
    # Served like fraud, with fraud's profile, but nothing serves its revision: no predictions.
    stand.mds.create("quiet", {"model": model(profileRef={"configMap": "fraud-profile"}),
                               "serving": {"replicas": 1}})  # fmt: skip
    objects.create(kind, "quiet", {**MONITOR, "modelDeploymentRef": "quiet"})

    def evaluated(verdict: str) -> Callable[[dict[str, Any]], bool]:
        """An evaluation of a served revision's traffic (not a wait for one) said `verdict`."""
        return lambda s: (
            s.get("phase") in ("Monitoring", "Drifted")
            and (conditions(s).get("Drifted", {}).get("status") == verdict)
        )

    timeout = 8 * int(MONITOR["interval"].removesuffix("s"))
    scene.once(
        "its ModelDeployment serves no revision yet",
        "waiting",
        ready_because("WaitingForStableRevision"),
    )
    scene.once("its ModelDeployment missing", "orphan", stalled("ReferenceNotFound"))
    scene.once("its model has no profile", "profileless", stalled("NoProfile"), timeout=timeout)
    scene.once(
        "fewer predictions than `minSamples`", "quiet", evaluated("Unknown"), timeout=timeout
    )
    scene.once("in-distribution traffic", "fraud-drift", evaluated("False"), timeout=timeout)
    stand.traffic.shift = dict(SHIFT)
    scene.once("drifted traffic", "fraud-drift", evaluated("True"), timeout=timeout)
    scene.table.check_docs()


def test_retrain_policy_health_in_each_state(
    k8s_api: client.ApiClient, namespace: str, operator: OperatorFactory
) -> None:
    objects = Objects(k8s_api, namespace)
    kind = "RetrainPolicy"
    scene = Scene(objects, HealthTable(kind, RETRAIN_POLICY_STATES))
    example = yaml.safe_load((REPO / "examples" / "retrainpolicy.yaml").read_text())
    policy: dict[str, Any] = example["spec"]  # references fraud and fraud-drift
    objects.create("ModelDeployment", "fraud", {"model": model(), "serving": {"replicas": 1}})
    objects.create("DriftMonitor", "fraud-drift", MONITOR)
    objects.create(kind, "fraud-retrain", policy)
    scene.now(NOT_YET, "fraud-retrain")
    orphan = copy.deepcopy(policy)
    orphan["triggers"]["drift"]["driftMonitorRef"] = "no-such-monitor"
    objects.create(kind, "orphan", orphan)
    objects.create(kind, "bad-schedule", {**policy, "triggers": {"schedule": "0 25 * * *"}})
    operator(namespaces=[namespace])

    # Idle, written by the retrain planner's first pass (before it: Pending, Ready too).
    scene.once("references resolve, watching triggers", "fraud-retrain", phase("Idle"))
    scene.once("a referenced DriftMonitor missing", "orphan", stalled("ReferenceNotFound"))
    scene.once("a schedule only the operator rejects", "bad-schedule", stalled("InvalidSpec"))
    scene.table.check_docs()
