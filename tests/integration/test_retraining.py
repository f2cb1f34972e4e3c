"""RetrainPolicies run real trainers: the real operator and Job controller on the local
cluster, the reference trainer run as a local process by the harness for each Job's pod, its
real exit code and termination message reported back, and the ModelDeployment rolled out to
what passed validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.jobs import JobRunner
from modelship_testing.objects import ModelDeployments
from modelship_testing.serving import TrainedModel, fraud_data
from modelship_testing.waiters import diagnostic, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("crds")]

GROUP, VERSION, PLURAL = "modelship.io", "v1alpha1", "retrainpolicies"
TRAINER = Path(__file__).resolve().parents[2] / "examples" / "trainer" / "train.py"


class Loop:
    """A served ModelDeployment and a RetrainPolicy whose Jobs run the reference trainer."""

    def __init__(self, api: client.ApiClient, namespace: str, model: TrainedModel,
                 work: Path) -> None:  # fmt: skip
        self.namespace, self.model, self.work = namespace, model, work
        self.mds = ModelDeployments(api, namespace)
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.batch = client.BatchV1Api(api)

    def start(self, operator: OperatorFactory, fault: str | None = None) -> None:
        self.core.create_namespaced_config_map(
            self.namespace,
            {"metadata": {"name": "fraud-profile"},
             "data": {"profile.json": self.model.profile_path.read_text()}},
        )  # fmt: skip
        data = self.work / "fresh.csv"
        fraud_data(rows=2000, seed=11).to_csv(data, index=False)
        operator(namespaces=[self.namespace])
        model = {"name": "fraud", "version": "1", "uri": f"file://{self.model.directory}/",
                 "profileRef": {"configMap": "fraud-profile"}}  # fmt: skip
        self.mds.create("fraud", {"model": model, "serving": {"replicas": 1}})
        self.mds.wait_phase("fraud", "Healthy")
        args = ["--data", str(data), "--target", "fraud", "--seed", "3"]
        if fault:
            args += ["--fault", fault]
        container = {"name": "train", "image": "modelship-trainer:dev",
                     "command": ["python", str(TRAINER)], "args": args}  # fmt: skip
        pod = {"metadata": {"labels": {"modelship.io/run-locally": "true"}},
               "spec": {"containers": [container]}}  # fmt: skip
        compare = [{"metric": "accuracy", "direction": "higherIsBetter", "maxRegression": 0.05}]
        spec = {
            "modelDeploymentRef": "fraud",
            "cooldown": "0s",
            "job": {"template": {"spec": {"template": pod}}},
            "output": {"uri": f"file://{self.work}/models/{{version}}/"},
            "validation": {"minMetrics": {"accuracy": 0.6}, "compare": compare},
            "promotion": "auto",
        }
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "RetrainPolicy",
                "metadata": {"name": "fraud-retrain"}, "spec": spec}  # fmt: skip
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, body)
        self.wait(lambda s: s.get("phase") == "Idle", "the policy to watch its triggers")

    def status(self) -> dict[str, Any]:
        found = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, "fraud-retrain"
        )
        return dict(found.get("status") or {})

    def wait(self, check: Any, describe: str, timeout: float = 90) -> dict[str, Any]:
        with diagnostic("RetrainPolicy status", lambda: str(self.status())):
            wait_for(lambda: check(self.status()), timeout=timeout, describe=describe)
        return self.status()

    def retrain(self, value: str = "1") -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, "fraud-retrain",
            {"metadata": {"annotations": {"modelship.io/retrain": value}}},
        )  # fmt: skip

    def ended(self, outcome: str, timeout: float = 120) -> dict[str, Any]:
        def done(status: dict[str, Any]) -> bool:
            runs = status.get("runs") or []
            return bool(runs) and runs[0].get("outcome") == outcome

        return self.wait(done, f"the run to end {outcome}", timeout)["runs"][0]

    def jobs(self) -> list[str]:
        listed = self.batch.list_namespaced_job(
            self.namespace, label_selector="modelship.io/retrain-policy=fraud-retrain"
        )
        return [j.metadata.name for j in listed.items]

    def events(self) -> list[tuple[str, str]]:
        listed = self.core.list_namespaced_event(
            self.namespace, field_selector="involvedObject.name=fraud-retrain"
        )
        return [(e.type, e.reason) for e in listed.items]


@pytest.fixture
def loop(k8s_api: client.ApiClient, namespace: str, model: TrainedModel, tmp_path: Path,
         job_runner: JobRunner) -> Loop:  # fmt: skip
    return Loop(k8s_api, namespace, model, tmp_path)


def test_a_manual_retrain_is_validated_promoted_and_serves_with_its_own_profile(
    loop: Loop, operator: OperatorFactory, job_runner: JobRunner
) -> None:
    loop.start(operator)
    loop.retrain()
    run = loop.ended("Promoted", timeout=180)
    assert (run["name"], run["trigger"], run["baseVersion"], run["newVersion"]) == (
        "fraud-retrain-1", "manual", "1", "1-r1",
    )  # fmt: skip
    assert set(run["metrics"]) >= {"accuracy", "f1"}
    assert set(run["baselineMetrics"]) >= {"accuracy", "f1"}  # the serving model, same rows
    assert run["promoted"] is True
    model = loop.mds.get("fraud")["spec"]["model"]
    assert model["version"] == "1-r1"
    assert model["uri"] == run["artifactURI"]
    assert model["profileRef"] == {"configMap": "fraud-1-r1-profile", "key": "profile.json"}
    profile = loop.core.read_namespaced_config_map("fraud-1-r1-profile", loop.namespace)
    assert '"features"' in profile.data["profile.json"]
    status = loop.mds.wait_phase("fraud", "Healthy")
    assert status["rollout"]["stableVersion"] == "1-r1"
    assert loop.jobs() == ["fraud-retrain-1"]  # exactly one Job
    assert {"RunStarted", "RunPromoting", "RunPromoted"} <= {r for _, r in loop.events()}


@pytest.mark.parametrize(
    ("fault", "outcome", "text"),
    [
        ("worse", "Rejected", "accuracy"),
        ("crash", "Failed", "the Job failed (exit code 1)"),
        ("malformed", "Failed", "the result is not JSON"),
    ],
)
def test_a_bad_run_is_recorded_and_never_deployed(
    loop: Loop, operator: OperatorFactory, fault: str, outcome: str, text: str
) -> None:
    loop.start(operator, fault=fault)
    loop.retrain()
    run = loop.ended(outcome)
    assert text in run["message"]
    assert run.get("promoted") is not True
    assert loop.mds.get("fraud")["spec"]["model"]["version"] == "1"
    assert (("Warning", f"Run{outcome}")) in loop.events()
    assert loop.status().get("activeRun") is None
    assert loop.status()["rejectionsInARow"] == 1
