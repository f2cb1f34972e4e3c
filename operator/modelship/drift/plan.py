"""From an evaluation to the DriftMonitor's status, conditions and Events; and when to
evaluate next. Pure.

Status is written at most once per evaluation, and not at all when the evaluation changed
nothing but its time. Events mark transitions only: drift found, drift cleared, a feature
newly critical; never every evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from modelship.api.common import ConditionStatus, Severity
from modelship.api.driftmonitor import (
    DataQualityStatus,
    DatasetDriftStatus,
    DriftAction,
    DriftMonitorPhase,
    DriftMonitorSpec,
    EstimatedPerformanceStatus,
    FairnessStatus,
    FeatureDriftStatus,
    FeatureQualityStatus,
    PerformanceMetric,
    PerformanceStatus,
    PredictionDriftStatus,
    RejectedStatus,
)
from modelship.api.types import parse_duration
from modelship.drift.evaluate import Evaluation, ScoreResult, Verdict
from modelship.drift.performance import PerformanceResult
from modelship.drift.quality import QualityResult
from modelship.planners.notifications import drifted_before
from modelship.planners.status import (
    Assessment,
    ConditionType,
    DesiredCondition,
    StatusPlan,
    Transition,
    kube_time,
    plan_status,
    ready,
    stalled,
)

DEGRADED = "Degraded"
# Unknown verdicts only a person can clear: the reference profile is missing or unusable.
NEEDS_A_PERSON = frozenset({"NoProfile", "ProfileNotFound", "ProfileInvalid"})
# Scores are reported to 4 significant digits: finer changes are noise, not news.
DIGITS = 4


@dataclass(frozen=True)
class Reference:
    """The profile an evaluation compared with, and why it is that one."""

    config_map: str
    key: str
    revision: str
    model_version: str


def next_evaluation(
    last: datetime | None, observed_generation: int | None, generation: int,
    spec: DriftMonitorSpec, now: datetime,
) -> float:  # fmt: skip
    """Seconds until the next evaluation is due: now for a new or edited monitor."""
    if last is None or observed_generation != generation:
        return 0.0
    due = last + parse_duration(spec.interval)
    return max((due - now) / timedelta(seconds=1), 0.0)


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.{DIGITS}g}")


def _feature(f: ScoreResult) -> dict[str, Any]:
    return FeatureDriftStatus(
        name=f.name, method=f.method, score=_round(f.score), severity=f.severity,
        samples=round(f.samples), p_value=_round(f.p_value), reason=f.reason[:512] or None,
    ).model_dump(by_alias=True, mode="json", exclude_none=True)  # fmt: skip


def _quality(q: QualityResult) -> dict[str, Any]:
    features = [
        FeatureQualityStatus(
            name=f.name, missing=_round(f.missing), out_of_range=_round(f.out_of_range),
            unseen=_round(f.unseen), failed=f.failed_checks or None,
        )
        for f in q.features
        if f.failed or f.worst > 0
    ]  # fmt: skip
    rejected = [
        RejectedStatus(
            reason=r.reason[:63],
            share=_round(r.share) or 0.0,
            requests=round(r.requests),
            failed=r.failed,
        )
        for r in q.rejected
    ]
    return DataQualityStatus(
        degraded=q.degraded, rows=round(q.rows), requests=round(q.requests),
        features=features[:1000] or None, rejected=rejected or None, reason=q.reason[:1024] or None,
    ).model_dump(by_alias=True, mode="json", exclude_none=True)  # fmt: skip


def _performance(m: PerformanceResult) -> dict[str, Any]:
    estimated = None
    if m.estimated is not None:
        estimated = EstimatedPerformanceStatus(
            value=_round(m.estimated.value), samples=round(m.estimated.samples),
            reason=m.estimated.reason[:512] or None,
        )  # fmt: skip
    return PerformanceStatus(
        metric=PerformanceMetric(m.name), value=_round(m.value), basis=m.basis,
        samples=round(m.samples), degraded=m.in_range is False,
        positive_class=m.positive_class, estimated=estimated, reason=m.reason[:512] or None,
    ).model_dump(by_alias=True, mode="json", exclude_none=True)  # fmt: skip


def status_fields(evaluation: Evaluation, reference: Reference | None) -> dict[str, Any]:
    """The status fields an evaluation owns (lastEvaluationTime apart)."""
    e = evaluation
    fields: dict[str, Any] = {
        "samples": round(e.samples),
        "features": [_feature(f) for f in e.features] or None,
        "prediction": None,
        "datasetDrift": None,
        "dataQuality": _quality(e.quality) if e.quality is not None else None,
        "performance": None,
        "fairness": None,
        "reference": None,
    }
    if e.prediction is not None:
        p = e.prediction
        fields["prediction"] = PredictionDriftStatus(
            method=p.method, score=_round(p.score), severity=p.severity,
            reason=p.reason[:512] or None,
        ).model_dump(by_alias=True, mode="json", exclude_none=True)  # fmt: skip
    if e.dataset is not None:
        d = e.dataset
        fields["datasetDrift"] = DatasetDriftStatus(
            drifted=d.drifted, share=_round(d.share) or 0.0,
            drifted_features=d.drifted_features, features=d.features,
        ).model_dump(by_alias=True, mode="json")  # fmt: skip
    if e.performance is not None:
        fields["performance"] = _performance(e.performance)
    if e.fairness:
        fields["fairness"] = [
            FairnessStatus.model_validate(
                {"attribute": m.attribute, "metric": m.name, "value": _round(m.value),
                 "withinRange": m.in_range, "reason": m.reason[:512] or None}
            ).model_dump(by_alias=True, mode="json", exclude_none=True)
            for m in e.fairness
        ]  # fmt: skip
    if reference is not None:
        fields["reference"] = {
            "configMap": reference.config_map,
            "key": reference.key,
            "revision": reference.revision,
            "modelVersion": reference.model_version,
            "source": "profile",
        }
        b = e.baseline
        if b is not None:
            fields["reference"].update(
                {
                    "source": b.source,
                    "window": b.window,
                    "offset": b.offset,
                    "samples": round(b.samples),
                }
            )
            if b.reason:
                fields["reference"]["reason"] = b.reason[:1024]
    return fields


def _drifted_condition(e: Evaluation) -> DesiredCondition:
    return DesiredCondition(ConditionType.DRIFTED, ConditionStatus(e.verdict.value), e.reason,
                            e.message)  # fmt: skip


def _measured(e: Evaluation) -> bool:
    """Whether the evaluation measured anything (an `unknown()` one did not: Prometheus
    down, no profile): then the last measurements stand, they are not erased."""
    return bool(e.features or e.prediction or e.performance or e.fairness or e.quality)


def _degraded_condition(e: Evaluation) -> DesiredCondition:
    """True with reason OutOfRange (performance or fairness out of range, data quality too
    perhaps) or DataQuality (only data quality fails)."""
    if not _measured(e):
        return DesiredCondition(DEGRADED, ConditionStatus.UNKNOWN, e.reason, e.message)
    if e.degraded:
        quality_only = e.quality is not None and len(e.degraded) == 1 and e.quality.degraded
        reason = "DataQuality" if quality_only else "OutOfRange"
        return DesiredCondition(DEGRADED, ConditionStatus.TRUE, reason, "; ".join(e.degraded))
    return DesiredCondition(DEGRADED, ConditionStatus.FALSE, "InRange", "")


def assessment(spec: DriftMonitorSpec, e: Evaluation, fields: Mapping[str, Any]) -> Assessment:
    phase = (
        DriftMonitorPhase.DRIFTED if e.verdict is Verdict.DRIFTED else DriftMonitorPhase.MONITORING
    )
    summary = f"every {spec.interval} over {spec.window}: {e.message}"
    if e.reason in NEEDS_A_PERSON:
        # Only a change by a person (a profile, a profileRef) lets it evaluate again.
        return Assessment(
            DriftMonitorPhase.FAILED, e.reason, summary,
            (*stalled(e.reason, summary), _drifted_condition(e), _degraded_condition(e)),
            warning=True, extra=fields,
        )  # fmt: skip
    warn = e.verdict is Verdict.DRIFTED and DriftAction.EVENT in spec.actions.on_drift
    return Assessment(
        phase,
        e.reason,
        summary,
        (*ready("Evaluating", summary), _drifted_condition(e), _degraded_condition(e)),
        warning=warn,
        extra=fields,
    )


def waiting(message: str, reason: str = "WaitingForStableRevision") -> Assessment:
    """Before there is anything to evaluate (no revision serving yet): Pending, and Drifted
    Unknown, so no RetrainPolicy reads a verdict that was never made."""
    return Assessment(
        DriftMonitorPhase.PENDING,
        reason,
        message,
        (*ready(reason, message),
         DesiredCondition(ConditionType.DRIFTED, ConditionStatus.UNKNOWN, reason, message)),
    )  # fmt: skip


def _severities(features: Sequence[Mapping[str, Any]] | None) -> dict[str, str]:
    return {str(f.get("name")): str(f.get("severity")) for f in features or []}


def feature_transitions(
    previous: Sequence[Mapping[str, Any]] | None, e: Evaluation, spec: DriftMonitorSpec
) -> list[Transition]:
    """An Event for each feature newly critical (drift clearing is the phase's own Event)."""
    before = _severities(previous)
    newly = [
        f for f in e.features
        if f.severity is Severity.CRITICAL and before.get(f.name) != Severity.CRITICAL.value
    ]  # fmt: skip
    if not newly or e.verdict is Verdict.UNKNOWN:
        return []
    kind: Literal["Normal", "Warning"] = (
        "Warning" if DriftAction.EVENT in spec.actions.on_drift else "Normal"
    )
    listed = ", ".join(f"{f.name} {f.method} {f.score:.4g}" for f in newly[:10])
    return [Transition(kind, "FeatureDrift", f"critical drift: {listed}")]


def quality_transitions(previous: Mapping[str, Any] | None, e: Evaluation) -> list[Transition]:
    """A Warning when data-quality checks newly fail (naming them), a Normal Event when all
    pass again; nothing while they stay as they were or cannot be judged."""
    q = e.quality
    if q is None:
        return []
    before = previous or {}
    features, rejected = before.get("features") or [], before.get("rejected") or []
    failed_before = {
        *(f"{f.get('name')}/{check}" for f in features for check in f.get("failed") or []),
        *(f"rejected/{r.get('reason')}" for r in rejected if r.get("failed")),
    }
    newly = [phrase for key, phrase in q.failed() if key not in failed_before]
    if newly:
        return [
            Transition("Warning", "DataQualityDegraded", "data quality: " + ", ".join(newly[:10]))
        ]
    judged = bool(q.features) and q.requests >= 1
    if before.get("degraded") and not q.degraded and judged:
        return [Transition("Normal", "DataQualityRestored", "every data-quality check passes")]
    return []


def reference_transitions(
    previous: Mapping[str, Any] | None, reference: Reference | None, e: Evaluation
) -> list[Transition]:
    """An Event when the reference profile changes (a new model version serves), and when the
    baseline window becomes the reference or stops being it."""
    if not previous or reference is None:
        return []
    out = []
    before = (previous.get("configMap"), previous.get("key"), previous.get("modelVersion"))
    if before != (reference.config_map, reference.key, reference.model_version):
        out.append(Transition(
            "Normal", "ReferenceChanged",
            f"comparing with the profile of model version {reference.model_version or '?'} "
            f"(ConfigMap {reference.config_map}, revision {reference.revision}) instead of "
            f"version {before[2] or '?'} (ConfigMap {before[0]})",
        ))  # fmt: skip
    b = e.baseline
    was = previous.get("source") or "profile"
    if b is not None and _measured(e) and b.source != was:
        message = (
            f"comparing with live traffic of the {b.window} ending {b.offset} ago "
            f"({b.samples:g} predictions) instead of the profile"
            if b.source == "window"
            else f"comparing with the profile instead of the baseline window: {b.reason}"
        )
        out.append(Transition("Normal", "ReferenceChanged", message))
    return out


def cleared_transitions(
    previous: Mapping[str, Any], e: Evaluation, message: str, phase_changed: bool
) -> list[Transition]:
    """`NoDrift` when drift ends after a stretch of Unknown: the phase stays Monitoring from
    the Unknown to the verdict, so the status transition records nothing."""
    if phase_changed or e.verdict is not Verdict.NOT_DRIFTED or not drifted_before(previous):
        return []
    return [Transition("Normal", e.reason, message)]


def plan_evaluation(
    current: Mapping[str, Any] | None,
    spec: DriftMonitorSpec,
    e: Evaluation,
    reference: Reference | None,
    generation: int,
    now: datetime,
) -> StatusPlan:
    """The status of an evaluation: one write per evaluation, with its time (RetrainPolicies
    count evaluations by it); an evaluation that measured nothing keeps the last
    measurements."""
    current = current or {}
    fields = status_fields(e, reference) if _measured(e) else {"samples": round(e.samples)}
    assessed = assessment(spec, e, fields)
    plan = plan_status(current, assessed, generation, now)
    transitions = (
        *plan.transitions,
        *cleared_transitions(current, e, assessed.message, bool(plan.transitions)),
        *feature_transitions(current.get("features"), e, spec),
        *quality_transitions(current.get("dataQuality"), e),
        *reference_transitions(current.get("reference"), reference, e),
    )
    return StatusPlan({**plan.patch, "lastEvaluationTime": kube_time(now)}, transitions)
