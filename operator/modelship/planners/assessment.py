"""Per-kind assessment: from a parsed spec (or its validation error) and what the operator
observed, to an `Assessment` that `plan_status` turns into status and Events. Pure.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from modelship.api.common import ConditionStatus
from modelship.api.driftmonitor import DriftMonitorPhase, DriftMonitorSpec
from modelship.api.modeldeployment import ModelDeploymentPhase, ModelDeploymentSpec
from modelship.api.retrainpolicy import RetrainPolicyPhase, RetrainPolicySpec
from modelship.api.validation import InvalidObjectError
from modelship.planners.status import (
    Assessment,
    ConditionType,
    DesiredCondition,
    ready,
    reconciling,
    stalled,
)

INVALID_SPEC = "InvalidSpec"
REFERENCE_NOT_FOUND = "ReferenceNotFound"


def invalid(phase: str, error: InvalidObjectError) -> Assessment:
    message = f"invalid spec: {error}"
    return Assessment(phase, INVALID_SPEC, message, stalled(INVALID_SPEC, message), warning=True)


@dataclass(frozen=True)
class RolloutProgress:
    """What the rollout planner reports about a ModelDeployment.

    The rollout planner (serving workloads and strategies) will produce this; until then a
    valid ModelDeployment is taken as converged, with nothing to roll out.
    """

    phase: ModelDeploymentPhase
    reason: str
    message: str


def converged(spec: ModelDeploymentSpec) -> RolloutProgress:
    model = spec.model
    return RolloutProgress(
        ModelDeploymentPhase.HEALTHY,
        "Reconciled",
        f"model {model.name} version {model.version} is accepted",
    )


# How each rollout phase reads in kstatus terms.
_IN_PROGRESS = {
    ModelDeploymentPhase.PENDING,
    ModelDeploymentPhase.PROGRESSING,
    ModelDeploymentPhase.PAUSED,
    ModelDeploymentPhase.DEGRADED,
}
_NEEDS_A_PERSON = {ModelDeploymentPhase.ROLLED_BACK, ModelDeploymentPhase.FAILED}


def assess_model_deployment(
    spec: ModelDeploymentSpec | InvalidObjectError, progress: RolloutProgress | None = None
) -> Assessment:
    if isinstance(spec, InvalidObjectError):
        return invalid(ModelDeploymentPhase.FAILED, spec)
    progress = progress or converged(spec)
    phase, reason, message = progress.phase, progress.reason, progress.message
    if phase in _NEEDS_A_PERSON:
        return Assessment(phase, reason, message, stalled(reason, message), warning=True)
    if phase in _IN_PROGRESS:
        return Assessment(
            phase,
            reason,
            message,
            reconciling(reason, message),
            warning=phase == ModelDeploymentPhase.DEGRADED,
        )
    return Assessment(phase, reason, message, ready(reason, message))


def missing_references(messages: list[str], recheck_seconds: float) -> Assessment:
    """A ModelDeployment whose pods or analysis need objects that do not exist: nothing new
    is created until they do (what already serves keeps serving)."""
    message = (
        f"waiting for {'; '.join(messages)}: no new pods are created until it exists "
        f"(checked again every {recheck_seconds:g}s)"
    )
    return Assessment(
        ModelDeploymentPhase.DEGRADED,
        REFERENCE_NOT_FOUND,
        message,
        stalled(REFERENCE_NOT_FOUND, message),
        warning=True,
    )


def rollout_progressing(progress: RolloutProgress) -> DesiredCondition:
    """The `Progressing` condition (Argo CD and people read it; kstatus does not): True
    while a rollout moves or waits at a pause, False once it has settled."""
    moving = progress.phase in (ModelDeploymentPhase.PROGRESSING, ModelDeploymentPhase.PAUSED)
    return DesiredCondition(
        ConditionType.PROGRESSING,
        ConditionStatus.TRUE if moving else ConditionStatus.FALSE,
        str(progress.phase),
        progress.message if moving else "",
    )


@dataclass(frozen=True)
class Existing:
    """Names of objects that exist in the object's namespace, by kind."""

    model_deployments: Set[str] = frozenset()
    drift_monitors: Set[str] = frozenset()


def _missing(refs: list[tuple[str, str, str, Set[str]]]) -> str | None:
    """The first reference (field, kind, name, existing names) that does not resolve."""
    for field, kind, name, existing in refs:
        if name not in existing:
            return f'{field}: {kind} "{name}" does not exist in this namespace'
    return None


def _unresolved(phase: str, message: str) -> Assessment:
    """A reference that does not resolve is a spec the operator cannot act on: Failed and
    Stalled, like an invalid one, until the object appears (which re-plans at once)."""
    return Assessment(
        phase, REFERENCE_NOT_FOUND, message, stalled(REFERENCE_NOT_FOUND, message), warning=True
    )


def assess_drift_monitor(
    spec: DriftMonitorSpec | InvalidObjectError, existing: Existing
) -> Assessment:
    if isinstance(spec, InvalidObjectError):
        return invalid(DriftMonitorPhase.FAILED, spec)
    missing = _missing(
        [
            (
                "spec.modelDeploymentRef",
                "ModelDeployment",
                spec.model_deployment_ref,
                existing.model_deployments,
            )
        ]
    )
    if missing:
        return _unresolved(DriftMonitorPhase.FAILED, missing)
    message = f"monitoring ModelDeployment {spec.model_deployment_ref} every {spec.interval}"
    return Assessment(
        DriftMonitorPhase.MONITORING, "Monitoring", message, ready("Monitoring", message)
    )


def assess_retrain_policy(
    spec: RetrainPolicySpec | InvalidObjectError, existing: Existing
) -> Assessment:
    if isinstance(spec, InvalidObjectError):
        return invalid(RetrainPolicyPhase.FAILED, spec)
    refs = [
        (
            "spec.modelDeploymentRef",
            "ModelDeployment",
            spec.model_deployment_ref,
            existing.model_deployments,
        )
    ]
    triggers = spec.triggers
    if triggers.drift:
        refs.append(
            (
                "spec.triggers.drift.driftMonitorRef",
                "DriftMonitor",
                triggers.drift.drift_monitor_ref,
                existing.drift_monitors,
            )
        )
    if triggers.performance:
        refs.append(
            (
                "spec.triggers.performance.driftMonitorRef",
                "DriftMonitor",
                triggers.performance.drift_monitor_ref,
                existing.drift_monitors,
            )
        )
    missing = _missing(refs)
    if missing:
        return _unresolved(RetrainPolicyPhase.FAILED, missing)
    message = f"armed for ModelDeployment {spec.model_deployment_ref}, promotion {spec.promotion}"
    return Assessment(RetrainPolicyPhase.IDLE, "Armed", message, ready("Armed", message))
