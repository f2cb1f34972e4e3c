"""RetrainPolicies run real trainers: the real operator and Job controller on the local
cluster, the reference trainer run as a local process by the harness for each Job's pod, its
real exit code and termination message reported back, and the ModelDeployment rolled out to
what passed validation."""

from __future__ import annotations

from typing import Any

import pytest
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.jobs import JobRunner
from modelship_testing.retraining import EVALUATOR, Loop, container, job_template
from modelship_testing.serving import fraud_data

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("crds")]


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
    loop: Loop, operator: OperatorFactory, job_runner: JobRunner
) -> None:
    loop.deploy(operator)
    golden = loop.work / "golden.csv"
    fraud_data(rows=600, seed=29).to_csv(golden, index=False)
    validation = {"minMetrics": {"accuracy": 0.6}, "compare": COMPARE,
                  "job": evaluation_job(f"file://{golden}")}  # fmt: skip
    loop.create_policy(loop.trainer("overclaim"), validation=validation)
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
