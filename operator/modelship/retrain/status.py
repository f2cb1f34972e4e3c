"""A RetrainPolicy's phase, message and conditions from its planned status. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modelship.api.retrainpolicy import (
    RetrainPolicyPhase,
    RetrainPolicySpec,
    RetrainPolicyStatus,
    RunOutcome,
)
from modelship.api.types import parse_duration
from modelship.planners.status import Assessment, ready, stalled

CIRCUIT_BREAKER_OPEN = "CircuitBreakerOpen"


def policy_assessment(
    spec: RetrainPolicySpec,
    status: RetrainPolicyStatus,
    fields: Mapping[str, Any],
    now: datetime,
) -> Assessment:
    active = next((r for r in status.runs or [] if r.name == status.active_run), None)
    last = status.runs[0] if status.runs else None
    if status.breaker_open:
        message = (
            f"{status.rejections_in_a_row} runs in a row failed or were rejected: triggers "
            "stopped; annotate modelship.io/reset-breaker or change the spec"
        )
        return Assessment(RetrainPolicyPhase.FAILED, CIRCUIT_BREAKER_OPEN, message,
                          stalled(CIRCUIT_BREAKER_OPEN, message), warning=True,
                          extra=fields)  # fmt: skip
    if active is not None:
        phase = {
            RunOutcome.RUNNING: RetrainPolicyPhase.TRAINING,
            RunOutcome.EVALUATING: RetrainPolicyPhase.VALIDATING,
            RunOutcome.AWAITING_APPROVAL: RetrainPolicyPhase.VALIDATING,
            RunOutcome.PROMOTING: RetrainPolicyPhase.PROMOTING,
        }.get(active.outcome, RetrainPolicyPhase.TRAINING)
        message = f"run {active.name} ({active.trigger}): {active.message}"
        reason = str(phase)
    else:
        cooldown = parse_duration(spec.cooldown)
        cooling = status.last_run_time is not None and now < status.last_run_time + cooldown
        phase = RetrainPolicyPhase.COOLING_DOWN if cooling else RetrainPolicyPhase.IDLE
        reason = "CoolingDown" if cooling else "Watching"
        message = f"watching the triggers of ModelDeployment {spec.model_deployment_ref}"
        if cooling and status.last_run_time is not None:
            message += f"; cooling down until {(status.last_run_time + cooldown).isoformat()}"
        if last is not None:
            message += f"; last run {last.name}: {last.outcome}"
    return Assessment(phase, reason, message[:1024], ready(reason, message[:1024]), extra=fields)
