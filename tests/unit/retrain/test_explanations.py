"""Why a run started and why a candidate was rejected, in one line for its status entry, its
Event and `kubectl modelship get`: the drifted features with score against threshold over the
monitor's window; the failing metric with candidate, baseline and the bound."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from modelship.api.retrainpolicy import DriftTrigger, Triggers, Validation
from modelship.retrain.triggers import drift_seen, monitor_signals
from modelship.retrain.validation import validate

SPEC: dict[str, Any] = {
    "modelDeploymentRef": "fraud",
    "window": "30m",
    "features": {
        "default": {"method": "psi", "warning": 0.1, "critical": 0.25},
        "overrides": [{"name": "country", "method": "chi2", "critical": 0.01}],
    },
    "prediction": {"method": "jensenShannon", "warning": 0.05, "critical": 0.1},
    "actions": {"onDrift": ["event", "retrain"]},
}


def status(*features: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "lastEvaluationTime": "2026-01-01T12:00:00+00:00",
        "samples": 2400,
        "conditions": [{"type": "Drifted", "status": "True", "reason": "DatasetDrift"}],
        "features": list(features),
        **fields,
    }


AMOUNT = {"name": "amount", "method": "psi", "score": 0.31, "severity": "critical"}
COUNTRY = {"name": "country", "method": "chi2", "score": 0.001, "severity": "critical"}
AGE = {"name": "age", "method": "psi", "score": 0.12, "severity": "warning"}


@pytest.mark.parametrize(
    ("severity", "monitor", "spec", "evidence"),
    [
        ("critical", status(AMOUNT, COUNTRY, AGE), SPEC,
         "DatasetDrift: amount psi 0.31 >= critical 0.25, country chi2 p-value 0.001 <= "
         "critical 0.01; over the last 30m window (2400 predictions)"),
        ("warning", status(AGE), SPEC,
         "DatasetDrift: age psi 0.12 >= warning 0.1; over the last 30m window (2400 predictions)"),
        ("critical", status(prediction={"method": "jensenShannon", "score": 0.2,
                                        "severity": "critical"}), SPEC,
         "DatasetDrift: prediction jensenShannon 0.2 >= critical 0.1; over the last 30m window "
         "(2400 predictions)"),
        # A monitor spec the policy cannot read: the scores are still said.
        ("critical", status(AMOUNT), {"window": 5},
         "DatasetDrift: amount psi 0.31; over the monitor's window (2400 predictions)"),
    ],
)  # fmt: skip
def test_drift_evidence_names_features_scores_thresholds_and_window(
    severity: str, monitor: dict[str, Any], spec: dict[str, Any], evidence: str
) -> None:
    trigger = DriftTrigger(drift_monitor_ref="fraud-drift", severity=severity)
    assert drift_seen(trigger, monitor, spec) == (True, evidence)


def test_the_drift_request_carries_the_explanation() -> None:
    triggers = Triggers(drift=DriftTrigger(drift_monitor_ref="fraud-drift",
                                           consecutive_evaluations=1))  # fmt: skip
    monitors = {"fraud-drift": {"spec": SPEC, "status": status(AMOUNT)}}
    signals = monitor_signals(triggers, monitors, [])
    [request] = signals.requests
    assert request.evidence.startswith("DatasetDrift: amount psi 0.31 >= critical 0.25")
    assert "over the last 30m window" in request.evidence
    assert datetime.fromisoformat(request.key) == datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_a_rejection_names_candidate_baseline_and_the_required_minimum() -> None:
    verdict = validate(
        Validation(min_metrics={"accuracy": 0.91}), {"accuracy": 0.88}, {"accuracy": 0.9}
    )
    assert not verdict.passed
    assert verdict.reason == "rejected: accuracy 0.88 < min 0.91 (baseline 0.9)"
    assert verdict.checks[0].baseline == 0.9
    # Without a reported baseline there is none to say.
    alone = validate(Validation(max_metrics={"rmse": 3.5}), {"rmse": 3.6}, None)
    assert alone.reason == "rejected: rmse 3.6 > max 3.5"
