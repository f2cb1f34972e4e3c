"""The whole loop on the local cluster: live traffic drifts, the DriftMonitor flags it, the
RetrainPolicy starts exactly one run of the reference trainer, the candidate is validated
against the serving model and promoted, the DriftMonitor switches to the new model's profile
and the drift clears. Real operator, Job controller, Prometheus, servers and trainer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.jobs import JobRunner
from modelship_testing.objects import ModelDeployments
from modelship_testing.prometheus import PrometheusHandle
from modelship_testing.receiver import Receiver
from modelship_testing.retraining import TRAINER, container, job_template
from modelship_testing.revisions import ServedRevisions
from modelship_testing.serving import TrainedModel, fraud_data
from modelship_testing.waiters import diagnostic, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.prometheus, pytest.mark.usefixtures("crds")]

GROUP, VERSION = "modelship.io", "v1alpha1"
SHIFT = {"amount": 150.0, "merchant_risk": 0.5}


class World:
    def __init__(self, api: client.ApiClient, namespace: str, prometheus: PrometheusHandle,
                 work: Path, revisions: ServedRevisions) -> None:  # fmt: skip
        self.namespace, self.prometheus, self.work = namespace, prometheus, work
        self.mds = ModelDeployments(api, namespace)
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.batch = client.BatchV1Api(api)
        self.revisions = revisions
        self.traffic = revisions.traffic

    def serve(self, revision: str, version: str, trained: TrainedModel) -> None:
        self.revisions.serve(revision, version, trained, only=True)

    def status(self, plural: str, name: str) -> dict[str, Any]:
        found = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, name
        )
        return dict(found.get("status") or {})

    def drifted(self) -> str | None:
        conditions = self.status("driftmonitors", "fraud-drift").get("conditions") or []
        return next((c["status"] for c in conditions if c["type"] == "Drifted"), None)

    def create(self, kind: str, plural: str, name: str, spec: dict[str, Any]) -> None:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name},
                "spec": spec}  # fmt: skip
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, body)

    def jobs(self) -> list[str]:
        listed = self.batch.list_namespaced_job(
            self.namespace, label_selector="modelship.io/retrain-policy=fraud-retrain"
        )
        return [j.metadata.name for j in listed.items]

    def diagnostics(self) -> str:
        return (
            f"monitor: {self.status('driftmonitors', 'fraud-drift')}\n"
            f"policy: {self.status('retrainpolicies', 'fraud-retrain')}\n"
            f"model deployment: {self.mds.status('fraud')}"
        )


@pytest.fixture
def world(k8s_api: client.ApiClient, namespace: str, prometheus: PrometheusHandle,
          tmp_path: Path, job_runner: JobRunner, revisions: ServedRevisions
          ) -> Iterator[World]:  # fmt: skip
    world = World(k8s_api, namespace, prometheus, tmp_path, revisions)
    with diagnostic("the loop", world.diagnostics):
        yield world


def test_drift_retrains_once_promotes_and_clears(
    world: World, operator: OperatorFactory, model: TrainedModel, webhook: Receiver,
    k8s_api: client.ApiClient,
) -> None:  # fmt: skip
    # The world the model was trained on, then the one it drifts to: the new data the
    # trainer will learn from.
    drifted = fraud_data(rows=3000, seed=21)
    for column, offset in SHIFT.items():
        drifted[column] = drifted[column] + offset
    data = world.work / "drifted.csv"
    drifted.to_csv(data, index=False)
    world.core.create_namespaced_config_map(
        world.namespace,
        {"metadata": {"name": "fraud-profile"},
         "data": {"profile.json": model.profile_path.read_text()}},
    )  # fmt: skip
    # The monitor and the policy notify a local receiver of each step of the loop.
    webhook.secret(k8s_api, world.namespace, "loop-hook", "/loop")
    notifications = [{"name": "loop", "urlFrom": {"secretKeyRef": {"name": "loop-hook"}}}]
    operator(namespaces=[world.namespace], env={"MODELSHIP_PROMETHEUS_URL": world.prometheus.url})
    spec_model = {"name": "fraud", "version": "1", "uri": f"file://{model.directory}/",
                  "profileRef": {"configMap": "fraud-profile"}}  # fmt: skip
    world.mds.create("fraud", {"model": spec_model, "serving": {"replicas": 1}})
    stable = world.mds.wait_phase("fraud", "Healthy")["stableRevision"]
    world.serve(stable, "1", model)
    world.traffic.start()
    world.create("DriftMonitor", "driftmonitors", "fraud-drift", {
        "modelDeploymentRef": "fraud", "interval": "10s", "window": "20s", "minSamples": 100,
        "actions": {"onDrift": ["event", "retrain"]}, "notifications": notifications,
    })  # fmt: skip
    trainer = container("train", TRAINER, ["--data", str(data), "--target", "fraud"])
    world.create("RetrainPolicy", "retrainpolicies", "fraud-retrain", {
        "modelDeploymentRef": "fraud",
        "triggers": {"drift": {"driftMonitorRef": "fraud-drift", "consecutiveEvaluations": 2}},
        "cooldown": "1h",
        "job": job_template(trainer),
        "output": {"uri": f"file://{world.work}/models/{{version}}/"},
        "validation": {"minMetrics": {"accuracy": 0.6}},
        "promotion": "auto", "notifications": notifications,
    })  # fmt: skip
    wait_for(lambda: world.drifted() == "False", timeout=60, describe="in-distribution traffic")
    assert world.jobs() == []

    world.traffic.shift = dict(SHIFT)
    wait_for(lambda: world.drifted() == "True", timeout=60, describe="drift flagged")
    wait_for(lambda: world.jobs(), timeout=60, describe="a retraining Job")
    policy = world.status("retrainpolicies", "fraud-retrain")
    run = policy["runs"][0]
    assert run["trigger"] == "drift"
    assert "amount" in run["evidence"]
    assert "merchant_risk" in run["evidence"]
    # The explanation: each score against the threshold it crossed, over the monitor's window.
    assert re.search(r"amount \w+ (p-value )?\S+ (>=|<=) (critical|warning) \S+", run["evidence"])
    assert "over the last " in run["evidence"]

    # The candidate is validated and written to the ModelDeployment; its rolling update
    # makes a new stable revision, which a server process stands in for.
    new = world.mds.wait(
        "fraud", lambda s: s.get("phase") == "Healthy" and s.get("stableRevision") != stable,
        "the retrained version to serve", timeout=120,
    )["stableRevision"]  # fmt: skip
    version = world.mds.get("fraud")["spec"]["model"]["version"]
    assert version == "1-r1"
    output = world.work / "models" / version
    world.serve(
        new, version, TrainedModel(output, output / "model.joblib", output / "profile.json")
    )

    def promoted() -> bool:
        runs = world.status("retrainpolicies", "fraud-retrain").get("runs") or []
        return bool(runs) and runs[0].get("outcome") == "Promoted"

    wait_for(promoted, timeout=60, describe="the run to follow its rollout to Promoted")

    # The monitor now compares the new model's traffic with the new model's profile.
    def cleared() -> bool:
        status = world.status("driftmonitors", "fraud-drift")
        reference = status.get("reference") or {}
        return reference.get("modelVersion") == version and world.drifted() == "False"

    wait_for(cleared, timeout=90, describe="the drift to clear against the new profile")
    assert world.jobs() == ["fraud-retrain-1"]  # exactly one run for the whole episode
    reasons = {
        e.reason
        for e in world.core.list_namespaced_event(
            world.namespace, field_selector="involvedObject.name=fraud-drift"
        ).items
    }
    assert "ReferenceChanged" in reasons

    # Each step of the loop reached the receiver, in order, the run once.
    loop = ["drift.raised", "retrain.started", "retrain.promoted", "drift.cleared"]
    wait_for(lambda: [e for e in webhook.events("/loop") if e in loop] == loop, timeout=30,
             describe=f"{loop} at the receiver, got {webhook.events('/loop')}")  # fmt: skip
    bodies = {b["event"]: b for b in webhook.bodies("/loop")}
    assert bodies["drift.raised"]["kind"] == "DriftMonitor"
    assert "amount" in bodies["drift.raised"]["message"]
    assert bodies["retrain.promoted"]["name"] == "fraud-retrain"
    assert "fraud-retrain-1" in bodies["retrain.started"]["message"]
