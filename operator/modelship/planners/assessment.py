"""Per-kind assessment: from a parsed spec (or its validation error) and what the operator
observed, to an `Assessment` that `plan_status` turns into status and Events. Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Set
from dataclasses import dataclass

from modelship.api.common import ConditionStatus
from modelship.api.driftmonitor import DriftMonitorPhase, DriftMonitorSpec
from modelship.api.modeldeployment import ModelDeploymentPhase, ModelDeploymentSpec
from modelship.api.retrainpolicy import PromotionTarget, RetrainPolicyPhase, RetrainPolicySpec
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
PROMOTION_TARGET_TAKEN = "PromotionTargetTaken"
NOT_ACTIONABLE = frozenset({REFERENCE_NOT_FOUND, PROMOTION_TARGET_TAKEN})
"""Reasons of a valid spec the operator cannot act on (yet)."""


def invalid(phase: str, error: InvalidObjectError) -> Assessment:
    message = f"invalid spec: {error}"
    return Assessment(phase, INVALID_SPEC, message, stalled(INVALID_SPEC, message), warning=True)


@dataclass(frozen=True)
class RolloutProgress:
    """What the rollout planner reports about a ModelDeployment (its plan's phase and
    message), as the reconciler passes it on."""

    phase: ModelDeploymentPhase
    reason: str
    message: str


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
    if progress is None:
        # Only the spec was checked (no rollout planned): it reads as accepted. The
        # reconciler always passes its plan's progress for a valid spec.
        model = spec.model
        message = f"model {model.name} version {model.version} is accepted"
        progress = RolloutProgress(ModelDeploymentPhase.HEALTHY, "Reconciled", message)
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


def child_refused(reason: str, message: str, missing_kind: bool) -> Assessment:
    """The API server refused a child, or the cluster lacks its kind: what the user (or the
    cluster) must change, in status and an Event; retried on the next spec change or
    resync, never in a loop."""
    if missing_kind:
        message += ": install it, or choose another traffic router"
    return Assessment(
        ModelDeploymentPhase.FAILED, reason, message, stalled(reason, message), warning=True
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
    promotion_owners: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """ModelDeployment -> the RetrainPolicy whose status promotions it serves (of those with
    promotionTarget policyStatus, the oldest: retrain.promoted.promotion_owner)."""


@dataclass(frozen=True)
class Reference:
    """One object another object names: the field that names it, its kind and name."""

    field: str
    kind: str
    name: str


def references(spec: DriftMonitorSpec | RetrainPolicySpec) -> list[Reference]:
    """Every object a DriftMonitor or RetrainPolicy refers to: the one reference graph
    between kinds (assessment and the wake-ups of referrers both read it)."""
    refs = [Reference("spec.modelDeploymentRef", "ModelDeployment", spec.model_deployment_ref)]
    if isinstance(spec, RetrainPolicySpec):
        for trigger in ("drift", "performance"):
            found = getattr(spec.triggers, trigger)
            if found is not None:
                refs.append(
                    Reference(
                        f"spec.triggers.{trigger}.driftMonitorRef",
                        "DriftMonitor",
                        found.drift_monitor_ref,
                    )
                )
    return refs


def _missing(refs: list[Reference], existing: Existing) -> str | None:
    """The first reference that does not resolve."""
    names = {
        "ModelDeployment": existing.model_deployments,
        "DriftMonitor": existing.drift_monitors,
    }
    for ref in refs:
        if ref.name not in names[ref.kind]:
            return f'{ref.field}: {ref.kind} "{ref.name}" does not exist in this namespace'
    return None


def _unresolved(phase: str, message: str) -> Assessment:
    """A reference that does not resolve is a spec the operator cannot act on: Failed and
    Stalled, like an invalid one, until the object appears (which re-plans at once)."""
    return Assessment(
        phase, REFERENCE_NOT_FOUND, message, stalled(REFERENCE_NOT_FOUND, message), warning=True
    )


def _not_evaluating(assessment: Assessment) -> Assessment:
    """A monitor that cannot evaluate owns its Drifted condition too: Unknown, so nothing
    (a RetrainPolicy) reads a verdict nobody is making any more."""
    drifted = DesiredCondition(
        ConditionType.DRIFTED, ConditionStatus.UNKNOWN, assessment.reason, assessment.message
    )
    return dataclasses.replace(assessment, conditions=(*assessment.conditions, drifted))


def assess_drift_monitor(
    spec: DriftMonitorSpec | InvalidObjectError, existing: Existing, name: str = ""
) -> Assessment:
    if isinstance(spec, InvalidObjectError):
        return _not_evaluating(invalid(DriftMonitorPhase.FAILED, spec))
    missing = _missing(references(spec), existing)
    if missing:
        return _not_evaluating(_unresolved(DriftMonitorPhase.FAILED, missing))
    # Valid and resolved: what it measured is the evaluation's to say (modelship.drift).
    message = f"waiting for the first evaluation of ModelDeployment {spec.model_deployment_ref}"
    return Assessment(
        DriftMonitorPhase.PENDING, "WaitingForEvaluation", message,
        ready("WaitingForEvaluation", message),
    )  # fmt: skip


def assess_retrain_policy(
    spec: RetrainPolicySpec | InvalidObjectError, existing: Existing, name: str = ""
) -> Assessment:
    """`name` is the policy's own: a second policy promoting into its status for the same
    ModelDeployment is rejected (which promotion would serve?)."""
    if isinstance(spec, InvalidObjectError):
        return invalid(RetrainPolicyPhase.FAILED, spec)
    missing = _missing(references(spec), existing)
    if missing:
        return _unresolved(RetrainPolicyPhase.FAILED, missing)
    md = spec.model_deployment_ref
    owner = existing.promotion_owners.get(md)
    if spec.promotion_target is PromotionTarget.POLICY_STATUS and owner not in (None, name):
        message = (
            f'spec.promotionTarget: ModelDeployment "{md}" already serves the promotions of '
            f'RetrainPolicy "{owner}" (promotionTarget policyStatus, the older one); only one '
            "policy may promote into its status per ModelDeployment: use promotionTarget spec, "
            "or delete one of them"
        )
        return Assessment(RetrainPolicyPhase.FAILED, PROMOTION_TARGET_TAKEN, message,
                          stalled(PROMOTION_TARGET_TAKEN, message), warning=True)  # fmt: skip
    # Valid and resolved: what it does is the retrain planner's to say (modelship.retrain).
    message = f"waiting for the first pass over ModelDeployment {spec.model_deployment_ref}"
    return Assessment(
        RetrainPolicyPhase.PENDING, "WaitingForFirstPass", message,
        ready("WaitingForFirstPass", message),
    )  # fmt: skip
