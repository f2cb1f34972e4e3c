"""RetrainPolicies run real trainers: the real operator and Job controller on the local
cluster, the reference trainer run as a local process by the harness for each Job's pod, its
real exit code and termination message reported back, and the ModelDeployment rolled out to
what passed validation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.jobs import JobRunner
from modelship_testing.receiver import Receiver
from modelship_testing.retraining import EVALUATOR, Loop, container, job_template
from modelship_testing.serving import fraud_data
from modelship_testing.waiters import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("crds")]


def lineage(kubeconfig: str, namespace: str, output: str) -> str:
    """`modelship lineage md/fraud` as a user runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "modelship.cli", "lineage", "md/fraud", "-n", namespace,
         "-o", output],
        env={**os.environ, "KUBECONFIG": kubeconfig}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def spec_writers(md: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(manager, operation, time) of every managedFields entry that owns a field of spec."""
    return [
        (str(e.get("manager")), str(e.get("operation")), str(e.get("time")))
        for e in md["metadata"].get("managedFields") or []
        if "f:spec" in (e.get("fieldsV1") or {})
    ]


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
    assert {"RunStarted", "RunPromoting", "RunPromoted"} <= {r for _, r, _ in loop.events()}
    # Lineage: the history links the revision to its run, and the CLI follows the chain.
    assert status["history"][0]["run"] == "fraud-retrain/fraud-retrain-1"
    assert status["model"]["source"] == "Spec"  # promoted into the spec
    assert status["model"]["run"] == "fraud-retrain/fraud-retrain-1"
    chain = json.loads(lineage(str(loop.kubeconfig), loop.namespace, "json"))
    assert [(e["version"], e.get("serving", False)) for e in chain] == [("1-r1", True),
                                                                       ("1", False)]  # fmt: skip
    first = chain[0]
    assert (first["run"], first["trigger"], first["rollout"], first["runOutcome"]) == (
        "fraud-retrain/fraud-retrain-1", "manual", "Promoted", "Promoted",
    )  # fmt: skip
    assert first["metrics"] == run["metrics"]
    assert first["baselineMetrics"] == run["baselineMetrics"]
    assert first["validation"] == run["validation"]
    assert "rows" in first["data"]
    assert "from spec.model" in chain[1]["note"]
    table = lineage(str(loop.kubeconfig), loop.namespace, "table").splitlines()
    assert table[0].split()[:4] == ["VERSION", "SERVING", "ROLLOUT", "RUN"]
    assert table[1].split()[:4] == ["1-r1", "yes", "Promoted", "fraud-retrain/fraud-retrain-1"]


def test_gitops_safe_promotion_serves_the_new_model_and_never_writes_the_spec(
    loop: Loop, operator: OperatorFactory, job_runner: JobRunner
) -> None:
    loop.start(operator, target="policyStatus")
    created = loop.mds.get("fraud")
    loop.retrain()
    run = loop.ended("Promoted", timeout=180)
    assert run["promoted"] is True
    status = loop.mds.wait_phase("fraud", "Healthy")
    assert status["rollout"]["stableVersion"] == "1-r1"
    assert (status["model"]["version"], status["model"]["source"], status["model"]["run"]) == (
        "1-r1", "RetrainPolicy", "fraud-retrain/fraud-retrain-1",
    )  # fmt: skip
    assert status["model"]["uri"] == run["artifactURI"]
    assert status["history"][0]["run"] == "fraud-retrain/fraud-retrain-1"
    promoted = loop.status()["promoted"]
    assert (promoted["run"], promoted["version"], promoted["basedOn"]["version"]) == (
        "fraud-retrain-1", "1-r1", "1",
    )  # fmt: skip
    # The operator never wrote the spec: same spec, same generation, same spec owners.
    md = loop.mds.get("fraud")
    assert md["spec"] == created["spec"]
    assert md["metadata"]["generation"] == created["metadata"]["generation"] == 1
    assert spec_writers(md) == spec_writers(created)
    # The new model is served with its own profile, mounted from the operator's ConfigMap.
    deployments = loop.mds.apps.list_namespaced_deployment(
        loop.namespace, label_selector="modelship.io/model-deployment=fraud"
    ).items
    serving = [d for d in deployments if d.spec.replicas]
    assert [d.metadata.annotations["modelship.io/model-version"] for d in serving] == ["1-r1"]
    volumes = {v.name: v for v in serving[0].spec.template.spec.volumes or []}
    assert any(v.config_map and v.config_map.name == "fraud-1-r1-profile"
               for v in volumes.values())  # fmt: skip
    assert ("Normal", "ModelFromRetrainPolicy") in {(t, r) for t, r, _ in loop.events("fraud")}
    # A person changes spec.model in Git: the person wins, the promotion ends for good.
    loop.mds.patch("fraud", {"spec": {"model": {"version": "2"}}})
    status = loop.mds.wait_phase("fraud", "Healthy", timeout=90)
    assert status["rollout"]["stableVersion"] == "2"
    assert (status["model"]["version"], status["model"]["source"]) == ("2", "Spec")
    assert ("Normal", "ModelFromSpec") in {(t, r) for t, r, _ in loop.events("fraud")}
    ended = loop.wait(lambda s: (s.get("promoted") or {}).get("ended"),
                      "the policy to end its promotion")["promoted"]  # fmt: skip
    assert "spec.model changed to version 2" in ended["ended"]


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
    assert ("Warning", f"Run{outcome}") in {(t, r) for t, r, _ in loop.events()}
    assert loop.status().get("activeRun") is None
    assert loop.status()["rejectionsInARow"] == 1


def evaluation_job(held_out: str | None = None) -> dict[str, Any]:
    """validation.job: the reference evaluator, on `held_out` or the trainer's held-out rows."""
    job = job_template(container("evaluate", EVALUATOR, ["--target", "fraud"]))
    return {**job, "heldOutURI": held_out} if held_out else job


COMPARE = [{"metric": "accuracy", "direction": "higherIsBetter", "maxRegression": 0.05}]


def test_an_independent_evaluation_rejects_a_candidate_its_trainer_overclaims(
    loop: Loop, operator: OperatorFactory, job_runner: JobRunner, webhook: Receiver
) -> None:
    loop.deploy(operator)
    golden = loop.work / "golden.csv"
    fraud_data(rows=600, seed=29).to_csv(golden, index=False)
    validation = {"minMetrics": {"accuracy": 0.6}, "compare": COMPARE,
                  "job": evaluation_job(f"file://{golden}")}  # fmt: skip
    webhook.secret(loop.mds.api, loop.namespace, "retrain-hook", "/retrain")
    notifications = [
        {
            "name": "ml",
            "urlFrom": {"secretKeyRef": {"name": "retrain-hook"}},
            "events": ["retrain.started", "retrain.rejected", "retrain.promoted"],
        }
    ]
    loop.create_policy(loop.trainer("overclaim"), validation=validation,
                       notifications=notifications)  # fmt: skip
    loop.retrain()
    run = loop.ended("Rejected", timeout=180)
    evaluation = run["evaluation"]
    assert evaluation["jobName"] == "fraud-retrain-1-eval"
    assert evaluation["heldOutURI"] == f"file://{golden}"
    assert evaluation["trainerMetrics"]["accuracy"] == 1.0  # what the trainer claimed
    assert run["metrics"]["accuracy"] < run["baselineMetrics"]["accuracy"] - 0.05  # measured
    assert "accuracy" in run["message"]
    assert loop.mds.get("fraud")["spec"]["model"]["version"] == "1"
    assert loop.jobs() == ["fraud-retrain-1", "fraud-retrain-1-eval"]
    assert {"RunEvaluating", "RunRejected"} <= {r for _, r, _ in loop.events()}
    [evaluator] = job_runner.runs_for_job("fraud-retrain-1-eval")
    assert "on 600 rows of file://" in evaluator.log()  # the golden set, not the trainer's
    # The receiver heard the run start and its rejection, with the failing check.
    wait_for(
        lambda: webhook.events("/retrain") == ["retrain.started", "retrain.rejected"],
        timeout=30,
        describe=f"started, rejected; got {webhook.events('/retrain')}",
    )
    rejected = webhook.bodies("/retrain")[1]
    assert (rejected["kind"], rejected["severity"]) == ("RetrainPolicy", "Warning")
    assert rejected["message"].startswith("run fraud-retrain-1: ")
    assert "accuracy" in rejected["message"]


def test_an_honest_candidate_evaluated_on_its_trainers_held_out_rows_is_promoted(
    loop: Loop, operator: OperatorFactory
) -> None:
    loop.deploy(operator)
    validation = {"minMetrics": {"accuracy": 0.6}, "compare": COMPARE, "job": evaluation_job()}
    loop.create_policy(loop.trainer(), validation=validation)
    loop.retrain()
    run = loop.ended("Promoted", timeout=180)
    evaluation = run["evaluation"]
    assert evaluation["heldOutURI"] == run["artifactURI"] + "held-out.csv"
    assert run["metrics"] == pytest.approx(evaluation["trainerMetrics"])  # the same rows
    assert loop.mds.get("fraud")["spec"]["model"]["version"] == "1-r1"
