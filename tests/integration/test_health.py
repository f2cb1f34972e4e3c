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
from modelship_testing.drift_stand import MONITOR, SHIFT, DriftStand, stand_for
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.health import HealthTable
from modelship_testing.objects import LABEL_REVISION, ModelDeployments
from modelship_testing.prometheus import PrometheusHandle
from modelship_testing.serving import TrainedModel
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
    table = HealthTable("ModelDeployment", MODEL_DEPLOYMENT_STATES)
    kind = "ModelDeployment"
    canary = {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}
    mds.create("fraud", {"model": model(), "serving": {"replicas": 2}, "strategy": canary})
    table.capture(NOT_YET, objects.get(kind, "fraud"))
    mds.create("unschedulable", {"model": model(), "serving": UNSCHEDULABLE})
    mds.create("missing-profile", {"model": model(profileRef={"configMap": "no-such-profile"}),
                                   "serving": {"replicas": 1}})  # fmt: skip
    refused = {"spec": {"containers": [{"name": "server", "ports": [{"containerPort": 99999}]}]}}
    mds.create("refused", {"model": model(), "serving": {"replicas": 1, "template": refused}})
    running = operator(namespaces=[namespace])

    table.capture(
        "first revision's pods not ready yet",
        objects.wait(kind, "unschedulable", phase("Progressing"), "Progressing"),
    )
    healthy = objects.wait(kind, "fraud", phase("Healthy"), "Healthy")
    table.capture("serving, every pod ready", healthy)

    stable = healthy["status"]["stableRevision"]
    pods = mds.core.list_namespaced_pod(namespace, label_selector=f"{LABEL_REVISION}={stable}")
    pod = pods.items[0].metadata.name
    set_pod_ready(mds.core, namespace, pod, ready=False)
    table.capture(
        "a stable pod stopped being ready",
        objects.wait(kind, "fraud", phase("Degraded"), "Degraded on the unready pod"),
    )
    set_pod_ready(mds.core, namespace, pod, ready=True)
    objects.wait(kind, "fraud", phase("Healthy"), "Healthy again")

    running.stop()
    mds.patch("fraud", {"spec": {"rollback": {"revisionHistoryLimit": 3}}})
    table.capture(STALE, objects.get(kind, "fraud"))
    running.start()
    objects.wait(kind, "fraud", phase("Healthy"), "Healthy at the new generation")

    mds.set_version("fraud", "2")
    table.capture(
        "canary waiting at `pause: {}`",
        objects.wait(kind, "fraud", lambda s: phase("Paused")(s) and s.get("currentStep") == 1,
                     "Paused at step 1"),
    )  # fmt: skip
    mds.annotate("fraud", "modelship.io/abort")
    table.capture(
        "canary aborted, stable serves",
        objects.wait(kind, "fraud", phase("RolledBack"), "RolledBack"),
    )
    table.capture(
        "a referenced ConfigMap missing",
        objects.wait(kind, "missing-profile", stalled("ReferenceNotFound"), "ReferenceNotFound"),
    )
    table.capture(
        "pod template refused by the API server",
        objects.wait(kind, "refused", phase("Failed"), "Failed on the refused Deployment"),
    )

    table.check_docs()


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
    table = HealthTable("DriftMonitor", DRIFT_MONITOR_STATES)
    kind = "DriftMonitor"
    objects.create(kind, "early", MONITOR)
    table.capture(NOT_YET, objects.get(kind, "early"))
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
    table.capture(
        "its ModelDeployment serves no revision yet",
        objects.wait(kind, "waiting", ready_because("WaitingForStableRevision"), "waiting"),
    )
    table.capture(
        "its ModelDeployment missing",
        objects.wait(kind, "orphan", stalled("ReferenceNotFound"), "ReferenceNotFound"),
    )
    table.capture(
        "its model has no profile",
        objects.wait(kind, "profileless", stalled("NoProfile"), "NoProfile", timeout=timeout),
    )
    table.capture(
        "fewer predictions than `minSamples`",
        objects.wait(kind, "quiet", evaluated("Unknown"), "Drifted=Unknown", timeout=timeout),
    )
    table.capture(
        "in-distribution traffic",
        objects.wait(kind, "fraud-drift", evaluated("False"), "Drifted=False", timeout=timeout),
    )
    stand.traffic.shift = dict(SHIFT)
    table.capture(
        "drifted traffic",
        objects.wait(kind, "fraud-drift", evaluated("True"), "Drifted=True", timeout=timeout),
    )
    table.check_docs()


def test_retrain_policy_health_in_each_state(
    k8s_api: client.ApiClient, namespace: str, operator: OperatorFactory
) -> None:
    objects = Objects(k8s_api, namespace)
    table = HealthTable("RetrainPolicy", RETRAIN_POLICY_STATES)
    kind = "RetrainPolicy"
    example = yaml.safe_load((REPO / "examples" / "retrainpolicy.yaml").read_text())
    policy: dict[str, Any] = example["spec"]  # references fraud and fraud-drift
    objects.create("ModelDeployment", "fraud", {"model": model(), "serving": {"replicas": 1}})
    objects.create("DriftMonitor", "fraud-drift", MONITOR)
    objects.create(kind, "fraud-retrain", policy)
    table.capture(NOT_YET, objects.get(kind, "fraud-retrain"))
    orphan = copy.deepcopy(policy)
    orphan["triggers"]["drift"]["driftMonitorRef"] = "no-such-monitor"
    objects.create(kind, "orphan", orphan)
    objects.create(kind, "bad-schedule", {**policy, "triggers": {"schedule": "0 25 * * *"}})
    operator(namespaces=[namespace])

    # Idle, written by the retrain planner's first pass (before it: Pending, Ready too).
    table.capture(
        "references resolve, watching triggers",
        objects.wait(kind, "fraud-retrain", phase("Idle"), "Idle"),
    )
    table.capture(
        "a referenced DriftMonitor missing",
        objects.wait(kind, "orphan", stalled("ReferenceNotFound"), "ReferenceNotFound"),
    )
    table.capture(
        "a schedule only the operator rejects",
        objects.wait(kind, "bad-schedule", stalled("InvalidSpec"), "InvalidSpec"),
    )
    table.check_docs()
