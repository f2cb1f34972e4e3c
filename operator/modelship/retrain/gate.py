"""The validation gate between a finished run and its promotion. Pure."""

from __future__ import annotations

import math

from modelship.api.retrainpolicy import RetrainPolicySpec
from modelship.retrain.result import TrainerResult
from modelship.retrain.runs import Verdict


def gate(spec: RetrainPolicySpec, result: TrainerResult) -> Verdict:
    """minMetrics / maxMetrics on the candidate's metrics; a named metric the trainer did not
    report rejects the run."""
    validation = spec.validation
    if validation is None:
        return Verdict(True, "no validation configured")
    failing: list[str] = []
    for name, low in (validation.min_metrics or {}).items():
        value = result.metrics.get(name)
        if value is None or not math.isfinite(value):
            failing.append(f"{name} not reported")
        elif value < low:
            failing.append(f"{name} {value:.4g} < min {low:g}")
    for name, high in (validation.max_metrics or {}).items():
        value = result.metrics.get(name)
        if value is None or not math.isfinite(value):
            failing.append(f"{name} not reported")
        elif value > high:
            failing.append(f"{name} {value:.4g} > max {high:g}")
    if failing:
        return Verdict(False, "; ".join(failing))
    return Verdict(True, "every check passed")
