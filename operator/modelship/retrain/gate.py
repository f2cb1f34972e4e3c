"""The validation gate between a finished run and its promotion: the trainer's result
judged by `modelship.retrain.validation`. Pure."""

from __future__ import annotations

from modelship.api.retrainpolicy import RetrainPolicySpec
from modelship.retrain.result import TrainerResult
from modelship.retrain.runs import Verdict
from modelship.retrain.validation import validate


def gate(spec: RetrainPolicySpec, result: TrainerResult) -> Verdict:
    if spec.validation is None:
        return Verdict(True, "no validation configured")
    verdict = validate(
        spec.validation,
        result.metrics,
        result.baseline_metrics,
        candidate_slices=result.slices,
        baseline_slices=result.baseline_slices,
    )
    return Verdict(verdict.passed, verdict.reason)
