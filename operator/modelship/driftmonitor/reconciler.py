"""The DriftMonitor reconciler: read, evaluate (pure), write status. Thin.

A pass validates the spec and its reference (as every kind does), then, when an evaluation
is due, reads the watched ModelDeployment's stable revision, the profile its pods mount, and
one Prometheus query over the window; `modelship.drift` decides the rest. The next
evaluation is the delay it returns to its worker: timers, not polling loops.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from modelship import metrics
from modelship.adapters.prometheus import PrometheusConnections, PrometheusUnavailableError
from modelship.api.driftmonitor import DriftMonitorSpec
from modelship.api.resources import DRIFT_MONITOR, MODEL_DEPLOYMENT, Kind
from modelship.api.types import parse_duration
from modelship.drift.evaluate import Evaluation, Verdict, evaluate, unknown
from modelship.drift.observed import parse_vector
from modelship.drift.plan import Reference, next_evaluation, plan_evaluation, waiting
from modelship.drift.quality import QualityResult
from modelship.drift.queries import Target, evaluation_query
from modelship.logging import object_logger
from modelship.planners.assessment import assess_drift_monitor
from modelship.planners.status import StatusPlan, Transition, plan_status
from modelship.profile.schema import Profile
from modelship.rollout.types import RevisionObserved
from modelship.runtime.status import write_status
from modelship.runtime.validated import ExistingIn, ValidatedReconciler

Body = Mapping[str, Any]
# A monitor whose ModelDeployment serves nothing yet looks again this often.
WAITING_RECHECK_SECONDS = 10.0


class DriftAdapter(Protocol):
    """What the reconciler reads and writes through the Kubernetes adapter."""

    def read(self, resource: Kind, namespace: str, name: str) -> dict[str, Any]: ...

    def revisions(self, namespace: str, md_name: str) -> dict[str, RevisionObserved]: ...

    def config_map(self, namespace: str, name: str) -> dict[str, str] | None: ...

    def patch_status(
        self, resource: Kind, namespace: str, name: str, status: Mapping[str, Any]
    ) -> str: ...

    def post_event(self, obj: Mapping[str, Any], event: Transition) -> None: ...


class DriftMonitorReconciler(ValidatedReconciler):
    def __init__(
        self, adapter: DriftAdapter, connections: PrometheusConnections, existing: ExistingIn
    ) -> None:
        super().__init__(DRIFT_MONITOR, assess_drift_monitor, adapter, existing)
        self.adapter = adapter
        self.connections = connections
        self._evaluated: dict[tuple[str, str], tuple[datetime, int]] = {}
        """(namespace, name) -> (time, generation) of this process's last evaluation."""
        self._profiles: dict[tuple[str, str, str], tuple[str, Profile]] = {}
        """(namespace, ConfigMap, key) -> (its text, the parsed profile)."""

    def reconcile(
        self, body: Body, now: datetime | None = None, verify: bool = False
    ) -> float | None:
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        meta = body["metadata"]
        key = (meta["namespace"], meta["name"])
        # Never plan on a status older than the one this process wrote last.
        body = self.own_writes.current(body, lambda: self.adapter.read(DRIFT_MONITOR, *key))
        meta = body["metadata"]
        generation = int(meta.get("generation") or 0)
        spec = self.actionable(body)
        if spec is None:
            return super().reconcile(body, now, verify)
        assert isinstance(spec, DriftMonitorSpec)
        status: Mapping[str, Any] = body.get("status") or {}
        delay = self._due_in(key, status, generation, spec, now)
        if delay > 0:
            return delay
        started = time.perf_counter()
        plan, evaluation = self._evaluate(body, spec, generation, now)
        write_status(self.adapter, self.own_writes, DRIFT_MONITOR, body, plan)
        interval = parse_duration(spec.interval).total_seconds()
        if evaluation is None:  # nothing to evaluate yet: look again soon
            return min(interval, WAITING_RECHECK_SECONDS)
        self._evaluated[key] = (now, generation)
        self._publish(key, evaluation)
        elapsed = time.perf_counter() - started
        metrics.RECONCILE_SECONDS.labels(DRIFT_MONITOR.kind).observe(elapsed)
        log = object_logger(body, DRIFT_MONITOR.kind)
        log.info(
            "drift evaluation",
            verdict=str(evaluation.verdict),
            reason=evaluation.reason,
            samples=evaluation.samples,
            critical=evaluation.critical_features,
            seconds=round(elapsed, 4),
            wrote=sorted(plan.patch),
        )
        return interval

    def forget(self, namespace: str, name: str) -> None:
        super().forget(namespace, name)
        self._evaluated.pop((namespace, name), None)
        _clear_gauges(namespace, name)

    def _due_in(
        self, key: tuple[str, str], status: Mapping[str, Any], generation: int,
        spec: DriftMonitorSpec, now: datetime,
    ) -> float:  # fmt: skip
        """Seconds until the next evaluation: from this process's memory, else the status."""
        remembered = self._evaluated.get(key)
        if remembered is not None:
            last, seen = remembered
            return next_evaluation(last, seen, generation, spec, now)
        stamp = status.get("lastEvaluationTime")
        observed = status.get("observedGeneration")
        return next_evaluation(
            datetime.fromisoformat(stamp) if stamp else None, observed, generation, spec, now
        )

    def _evaluate(
        self, body: Body, spec: DriftMonitorSpec, generation: int, now: datetime
    ) -> tuple[StatusPlan, Evaluation | None]:
        namespace = body["metadata"]["namespace"]
        status = body.get("status")
        md_name = spec.model_deployment_ref
        try:
            md = self.adapter.read(MODEL_DEPLOYMENT, namespace, md_name)
        except ApiException as err:
            if err.status != 404:
                raise
            return self._failed_reference(body, now), None
        stable = str((md.get("status") or {}).get("stableRevision") or "")
        if not stable:
            message = f"ModelDeployment {md_name} serves no stable revision yet"
            return plan_status(status, waiting(message), generation, now), None
        observed = self.adapter.revisions(namespace, md_name).get(stable)
        reference, evaluation = self._reference(namespace, md_name, stable, observed)
        if evaluation is None:
            assert reference is not None
            profile = self._profile(namespace, reference)
            if isinstance(profile, Evaluation):
                evaluation = profile
            else:
                window = spec.performance.window if spec.performance else None
                ref = spec.reference
                baseline = (ref.window, ref.offset) if ref is not None else None
                target = Target(namespace, stable, spec.window, window, baseline)
                evaluation = self._measure(spec, profile, target)
        metrics.DRIFT_EVALUATIONS.labels(str(evaluation.verdict)).inc()
        plan = plan_evaluation(status, spec, evaluation, reference, generation, now)
        return plan, evaluation

    def _failed_reference(self, body: Body, now: datetime) -> StatusPlan:
        """The ModelDeployment vanished between the index and the read: the usual Failed."""
        return self.plan(body, now)

    def _reference(
        self, namespace: str, md_name: str, stable: str, observed: RevisionObserved | None
    ) -> tuple[Reference | None, Evaluation | None]:
        """The profile the stable revision's pods mount: the reference follows the version
        that serves, so a new model is never compared with an old model's profile."""
        if observed is None or observed.profile is None:
            return None, unknown(
                "NoProfile",
                f"revision {stable} of ModelDeployment {md_name} mounts no reference profile "
                "(spec.model.profileRef): nothing to compare its traffic with",
            )
        config_map, key = observed.profile
        return Reference(config_map, key, stable, observed.model_version), None

    def _profile(self, namespace: str, reference: Reference) -> Profile | Evaluation:
        data = self.adapter.config_map(namespace, reference.config_map)
        if data is None or reference.key not in data:
            what = "does not exist" if data is None else f"has no key {reference.key}"
            return unknown("ProfileNotFound", f"profile ConfigMap {reference.config_map} {what}")
        text = data[reference.key]
        cache_key = (namespace, reference.config_map, reference.key)
        cached = self._profiles.get(cache_key)
        if cached is not None and cached[0] == text:
            return cached[1]
        try:
            profile = Profile.model_validate_json(text)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            return unknown(
                "ProfileInvalid",
                f"profile ConfigMap {reference.config_map} key {reference.key} is not a "
                f"modelship profile: {where}: {first.get('msg')}",
            )
        self._profiles[cache_key] = (text, profile)
        return profile

    def _measure(self, spec: DriftMonitorSpec, profile: Profile, target: Target) -> Evaluation:
        try:
            client = self.connections.client(spec.prometheus, target.namespace)
            result = client.query(evaluation_query(target))
            metrics.PROMETHEUS_QUERIES.labels("ok").inc()
        except PrometheusUnavailableError as err:
            metrics.PROMETHEUS_QUERIES.labels("error").inc()
            return unknown("PrometheusUnavailable", f"Prometheus did not answer: {err}")
        try:
            return evaluate(spec, profile, parse_vector(result))
        except (KeyError, TypeError, ValueError) as err:
            return unknown("UnexpectedAnswer", f"unexpected answer from Prometheus: {err!r}")

    def _publish(self, key: tuple[str, str], e: Evaluation) -> None:
        namespace, name = key
        _clear_gauges(namespace, name)
        drifted = {Verdict.DRIFTED: 1, Verdict.NOT_DRIFTED: 0, Verdict.UNKNOWN: -1}
        metrics.DRIFTED.labels(namespace, name).set(drifted[e.verdict])
        for f in e.features:
            metrics.DRIFT_SEVERITY.labels(namespace, name, f.name).set(f.severity.rank)
            if f.score is not None:
                metrics.DRIFT_SCORE.labels(namespace, name, f.name, str(f.method)).set(f.score)
        if e.dataset is not None:
            metrics.DRIFT_DATASET_SHARE.labels(namespace, name).set(e.dataset.share)
        if e.performance is not None:
            realised, estimated = e.performance.realised.value, e.performance.estimated
            if realised is not None:
                metrics.DRIFT_PERFORMANCE.labels(namespace, name, e.performance.name).set(realised)
            if estimated is not None and estimated.value is not None:
                metrics.DRIFT_PERFORMANCE_ESTIMATED.labels(namespace, name, e.performance.name).set(
                    estimated.value
                )
        for m in e.fairness:
            if m.value is not None:
                metrics.DRIFT_FAIRNESS.labels(namespace, name, m.attribute, m.name).set(m.value)
        if e.quality is not None:
            _publish_quality(namespace, name, e.quality)


def _publish_quality(namespace: str, name: str, q: QualityResult) -> None:
    metrics.DRIFT_DATA_QUALITY_FAILED.labels(namespace, name).set(int(q.degraded))
    for f in q.features:
        for check, share in (("missing", f.missing), ("outOfRange", f.out_of_range),
                             ("unseen", f.unseen)):  # fmt: skip
            if share is not None:
                metrics.DRIFT_DATA_QUALITY.labels(namespace, name, f.name, check).set(share)
    for r in q.rejected:
        metrics.DRIFT_REJECTED.labels(namespace, name, r.reason).set(r.share)


def _clear_gauges(namespace: str, name: str) -> None:
    """Drop a monitor's gauge series (before republishing, or once it is deleted)."""
    for gauge in (
        metrics.DRIFT_SCORE, metrics.DRIFT_SEVERITY, metrics.DRIFT_DATASET_SHARE,
        metrics.DRIFTED, metrics.DRIFT_PERFORMANCE, metrics.DRIFT_PERFORMANCE_ESTIMATED,
        metrics.DRIFT_FAIRNESS,
        metrics.DRIFT_DATA_QUALITY, metrics.DRIFT_REJECTED, metrics.DRIFT_DATA_QUALITY_FAILED,
    ):  # fmt: skip
        for labels in list(gauge._metrics):
            if labels[:2] == (namespace, name):
                gauge.remove(*labels)


def drift_monitor_reconciler(
    adapter: DriftAdapter, connections: PrometheusConnections, existing: ExistingIn
) -> DriftMonitorReconciler:
    return DriftMonitorReconciler(adapter, connections, existing)
