"""Per-kind assessment: phase and kstatus conditions from a spec and what exists."""

from __future__ import annotations

from typing import Any

import pytest
from modelship.api import KINDS_BY_NAME
from modelship.api.modeldeployment import ModelDeploymentPhase as Phase
from modelship.api.validation import InvalidObjectError, Problem, parse_spec
from modelship.planners.assessment import (
    Existing,
    RolloutProgress,
    assess_drift_monitor,
    assess_model_deployment,
    assess_retrain_policy,
)
from modelship.planners.status import Assessment

MD = {"model": {"name": "fraud", "version": "7", "uri": "s3://m/7/"}}
POD: dict[str, Any] = {"spec": {"containers": [{"name": "t"}]}}
JOB: dict[str, Any] = {"template": {"spec": {"template": POD}}}
RP = {
    "modelDeploymentRef": "fraud",
    "job": JOB,
    "output": {"uri": "s3://m/{version}/"},
    "triggers": {"drift": {"driftMonitorRef": "fraud-drift"}},
}
ERROR = InvalidObjectError([Problem("spec.strategy", "set exactly one of ...")])


def spec(kind: str, body: dict[str, Any]) -> Any:
    return parse_spec(KINDS_BY_NAME[kind], {"metadata": {"name": "x"}, "spec": body})


def kstatus(assessment: Assessment) -> dict[str, str]:
    wanted = ("Ready", "Reconciling", "Stalled")
    return {c.type: c.status.value for c in assessment.conditions if c.type in wanted}


def drifted(assessment: Assessment) -> str | None:
    return next((c.status.value for c in assessment.conditions if c.type == "Drifted"), None)


CURRENT = {"Ready": "True", "Reconciling": "False", "Stalled": "False"}
IN_PROGRESS = {"Ready": "False", "Reconciling": "True", "Stalled": "False"}
FAILED = {"Ready": "False", "Reconciling": "False", "Stalled": "True"}


def test_valid_model_deployment_is_ready() -> None:
    result = assess_model_deployment(spec("ModelDeployment", MD))
    assert (result.phase, result.reason, kstatus(result)) == ("Healthy", "Reconciled", CURRENT)
    assert "fraud version 7" in result.message
    assert not result.warning


def test_invalid_spec_is_stalled_with_the_problem() -> None:
    result = assess_model_deployment(ERROR)
    assert (result.phase, result.reason, kstatus(result)) == ("Failed", "InvalidSpec", FAILED)
    assert result.message == "invalid spec: spec.strategy: set exactly one of ..."
    assert result.warning


@pytest.mark.parametrize(
    ("phase", "expected", "warning"),
    [
        (Phase.PENDING, IN_PROGRESS, False),
        (Phase.PROGRESSING, IN_PROGRESS, False),
        (Phase.PAUSED, IN_PROGRESS, False),
        (Phase.DEGRADED, IN_PROGRESS, True),
        (Phase.HEALTHY, CURRENT, False),
        (Phase.ROLLED_BACK, FAILED, True),
        (Phase.FAILED, FAILED, True),
    ],
)
def test_rollout_phase_maps_to_kstatus(
    phase: Phase, expected: dict[str, str], warning: bool
) -> None:
    progress = RolloutProgress(phase, "Because", "words")
    result = assess_model_deployment(spec("ModelDeployment", MD), progress)
    assert (result.phase, kstatus(result), result.warning) == (phase, expected, warning)


def test_drift_monitor_is_stalled_until_its_model_deployment_exists() -> None:
    monitor = spec("DriftMonitor", {"modelDeploymentRef": "fraud"})
    waiting = assess_drift_monitor(monitor, Existing(model_deployments={"other"}))
    assert (waiting.phase, waiting.reason, kstatus(waiting)) == (
        "Failed",
        "ReferenceNotFound",
        FAILED,
    )
    assert waiting.message == (
        'spec.modelDeploymentRef: ModelDeployment "fraud" does not exist in this namespace'
    )
    assert drifted(waiting) == "Unknown"  # no verdict while nothing evaluates
    found = assess_drift_monitor(monitor, Existing(model_deployments={"fraud"}))
    assert (found.phase, kstatus(found)) == ("Pending", CURRENT)
    assert found.reason == "WaitingForEvaluation"


@pytest.mark.parametrize(
    ("existing", "missing"),
    [
        (Existing(), 'spec.modelDeploymentRef: ModelDeployment "fraud"'),
        (
            Existing(model_deployments={"fraud"}),
            'spec.triggers.drift.driftMonitorRef: DriftMonitor "fraud-drift"',
        ),
    ],
)
def test_retrain_policy_names_the_first_missing_reference(existing: Existing, missing: str) -> None:
    result = assess_retrain_policy(spec("RetrainPolicy", RP), existing)
    assert result.reason == "ReferenceNotFound"
    assert result.message.startswith(missing)


def test_retrain_policy_with_references_waits_for_its_first_pass() -> None:
    existing = Existing(model_deployments={"fraud"}, drift_monitors={"fraud-drift"})
    result = assess_retrain_policy(spec("RetrainPolicy", RP), existing)
    assert (result.phase, kstatus(result)) == ("Pending", CURRENT)
    assert result.reason == "WaitingForFirstPass"


@pytest.mark.parametrize(
    ("target", "owners", "reason"),
    [
        ("policyStatus", {}, "WaitingForFirstPass"),
        ("policyStatus", {"fraud": "fraud-retrain"}, "WaitingForFirstPass"),  # itself
        ("policyStatus", {"fraud": "older"}, "PromotionTargetTaken"),
        ("policyStatus", {"churn": "older"}, "WaitingForFirstPass"),  # another model
        ("spec", {"fraud": "older"}, "WaitingForFirstPass"),  # into the spec: no conflict
    ],
)
def test_a_second_policy_promoting_into_its_status_for_one_model_is_rejected(
    target: str, owners: dict[str, str], reason: str
) -> None:
    existing = Existing(model_deployments={"fraud"}, drift_monitors={"fraud-drift"},
                        promotion_owners=owners)  # fmt: skip
    policy = spec("RetrainPolicy", {**RP, "promotionTarget": target})
    result = assess_retrain_policy(policy, existing, "fraud-retrain")
    assert result.reason == reason
    if reason == "PromotionTargetTaken":
        assert (result.phase, result.warning) == ("Failed", True)
        assert 'already serves the promotions of RetrainPolicy "older"' in result.message
        assert "use promotionTarget spec" in result.message


def test_invalid_drift_monitor_and_policy_fail() -> None:
    assert assess_drift_monitor(ERROR, Existing()).phase == "Failed"
    assert assess_retrain_policy(ERROR, Existing()).phase == "Failed"


@pytest.mark.parametrize(
    ("phase", "status"),
    [
        (Phase.PROGRESSING, "True"),
        (Phase.PAUSED, "True"),
        (Phase.HEALTHY, "False"),
        (Phase.ROLLED_BACK, "False"),
        (Phase.DEGRADED, "False"),
    ],
)
def test_progressing_condition_follows_the_rollout(phase: Phase, status: str) -> None:
    from modelship.planners.assessment import rollout_progressing

    condition = rollout_progressing(RolloutProgress(phase, str(phase), "step 2/4"))
    assert (condition.type, condition.status.value) == ("Progressing", status)
    assert condition.message == ("step 2/4" if status == "True" else "")
