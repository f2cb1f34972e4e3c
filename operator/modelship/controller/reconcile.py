"""One reconcile pass for DriftMonitors and RetrainPolicies: read, plan, apply.

The decisions are in `modelship.planners`. ModelDeployments go through the rollout driver
(`controller.rollouts`), which uses the same assessment and status planner around its rollout
plan.

Each pass re-validates the spec with the API models, assesses the object against what the
operator observed, plans the status (only what differs) and hands the result to the adapter.
An invalid object is reported as Stalled and the pass ends normally: kopf does not retry it,
and the next spec change (a new generation) is handled as usual.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from modelship.api.driftmonitor import DriftMonitorSpec
from modelship.api.resources import DRIFT_MONITOR, RETRAIN_POLICY, Kind
from modelship.api.retrainpolicy import RetrainPolicySpec
from modelship.api.validation import InvalidObjectError, parse_spec
from modelship.controller import kube, metrics
from modelship.logging import object_logger
from modelship.planners.assessment import (
    Existing,
    assess_drift_monitor,
    assess_retrain_policy,
)
from modelship.planners.status import Assessment, StatusPlan, plan_status

Body = Mapping[str, Any]
T = TypeVar("T")
Assessor = Callable[[Body, Existing], Assessment]


def _parse(kind: Kind, body: Body, model: type[T]) -> T | InvalidObjectError:
    try:
        spec = parse_spec(kind, body)
    except InvalidObjectError as err:
        return err
    assert isinstance(spec, model)
    return spec


def _assess_drift_monitor(body: Body, existing: Existing) -> Assessment:
    return assess_drift_monitor(_parse(DRIFT_MONITOR, body, DriftMonitorSpec), existing)


def _assess_retrain_policy(body: Body, existing: Existing) -> Assessment:
    return assess_retrain_policy(_parse(RETRAIN_POLICY, body, RetrainPolicySpec), existing)


ASSESSORS: dict[str, Assessor] = {
    DRIFT_MONITOR.kind: _assess_drift_monitor,
    RETRAIN_POLICY.kind: _assess_retrain_policy,
}


def reconcile(
    kind: Kind,
    body: Body,
    patch: MutableMapping[str, Any],
    existing: Existing,
    now: datetime | None = None,
    trigger: str = "change",
) -> StatusPlan:
    """Plan this object's status and queue the changes; returns the plan (for tests/logs)."""
    started = time.perf_counter()
    log = object_logger(body, kind.kind)
    generation = int(body.get("metadata", {}).get("generation") or 0)
    assessment = ASSESSORS[kind.kind](body, existing)
    plan = plan_status(body.get("status"), assessment, generation, now or datetime.now(UTC))
    metrics.RECONCILE_SECONDS.labels(kind.kind).observe(time.perf_counter() - started)
    metrics.RECONCILES.labels(kind.kind, str(assessment.phase)).inc()

    kube.apply_status(patch, plan)
    kube.record_events(body, plan)
    if plan.changes:
        metrics.STATUS_WRITES.labels(kind.kind).inc()
        log.info(
            "status changed",
            trigger=trigger,
            phase=str(assessment.phase),
            reason=assessment.reason,
            message=assessment.message,
            fields=sorted(plan.patch),
        )
    else:
        log.debug("status unchanged", trigger=trigger, phase=str(assessment.phase))
    return plan
