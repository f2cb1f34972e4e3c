"""RetrainPolicies run real trainers: the real operator and Job controller on the local
cluster, the reference trainer run as a local process by the harness for each Job's pod, its
real exit code and termination message reported back, and the ModelDeployment rolled out to
what passed validation."""

from __future__ import annotations

import pytest
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.jobs import JobRunner
from modelship_testing.stands import RetrainLoop

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("crds")]


def test_a_manual_retrain_is_validated_promoted_and_serves_with_its_own_profile(
    loop: RetrainLoop, operator: OperatorFactory, job_runner: JobRunner
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
    loop: RetrainLoop, operator: OperatorFactory, fault: str, outcome: str, text: str
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
