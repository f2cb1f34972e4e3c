"""The RetrainPolicy reconciler: read, plan (pure), apply, write status. Thin.

A pass validates the spec and its references (as every kind does), reads what the triggers
and the runs depend on (the monitors' status, the ModelDeployment, the policy's Jobs), lets
`modelship.retrain` decide, then applies in a restart-safe order: the promotion, the status
(a new run is recorded before its Job exists), then the Job.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.exceptions import ApiException

from modelship import metrics
from modelship.adapters.kubernetes import ChildRejectedError, KubernetesAdapter
from modelship.adapters.storage import StorageError, read_text
from modelship.api.resources import API_VERSION, DRIFT_MONITOR, MODEL_DEPLOYMENT, RETRAIN_POLICY
from modelship.api.retrainpolicy import RetrainPolicySpec, RetrainPolicyStatus
from modelship.logging import object_logger
from modelship.planners.assessment import assess_retrain_policy
from modelship.planners.status import StatusPlan, Transition, plan_status
from modelship.retrain.gate import gate
from modelship.retrain.jobs import LABEL_RUN
from modelship.retrain.runs import PolicyInput, PolicyPlan, fail_active, plan_policy
from modelship.retrain.serving import rollout_outcomes, serving_model, spec_model
from modelship.retrain.status import policy_assessment
from modelship.runtime.lenient import lenient
from modelship.runtime.status import write_status
from modelship.runtime.validated import ExistingIn, ValidatedReconciler

Body = Mapping[str, Any]


class RetrainPolicyReconciler(ValidatedReconciler):
    def __init__(self, adapter: KubernetesAdapter, existing: ExistingIn) -> None:
        super().__init__(RETRAIN_POLICY, assess_retrain_policy, adapter, existing)
        self.adapter = adapter

    def reconcile(
        self, body: Body, now: datetime | None = None, verify: bool = False
    ) -> float | None:
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        meta = body["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        # Never plan on a status older than the one this process wrote last.
        body = self.own_writes.current(
            body, lambda: self.adapter.read(RETRAIN_POLICY, namespace, name)
        )
        spec = self.actionable(body)
        if spec is None:
            return super().reconcile(body, now, verify)
        assert isinstance(spec, RetrainPolicySpec)
        started = time.perf_counter()
        status = lenient(RetrainPolicyStatus, body.get("status") or {})
        md = self._model_deployment(namespace, spec.model_deployment_ref)
        inp = self._read(body, spec, status, md, now)
        plan = plan_policy(inp)
        if plan.read_results:
            plan = plan_policy(self._with_results(inp, plan))
        self._apply(body, spec, plan, md, now)
        metrics.RECONCILE_SECONDS.labels(RETRAIN_POLICY.kind).observe(time.perf_counter() - started)
        return plan.requeue_after

    def _model_deployment(self, namespace: str, name: str) -> dict[str, Any]:
        try:
            return self.adapter.read(MODEL_DEPLOYMENT, namespace, name)
        except ApiException as err:
            if err.status != 404:
                raise
            return {}

    def _read(self, body: Body, spec: RetrainPolicySpec, status: RetrainPolicyStatus,
              md: Mapping[str, Any], now: datetime) -> PolicyInput:  # fmt: skip
        meta = body["metadata"]
        monitors: dict[str, Mapping[str, Any]] = {}
        for trigger in (spec.triggers.drift, spec.triggers.performance):
            if trigger is not None and trigger.drift_monitor_ref not in monitors:
                try:
                    found = self.adapter.read(DRIFT_MONITOR, meta["namespace"],
                                              trigger.drift_monitor_ref)  # fmt: skip
                except ApiException as err:
                    if err.status != 404:
                        raise
                    found = {}
                monitors[trigger.drift_monitor_ref] = found
        return PolicyInput(
            spec=spec, status=status, policy=body, now=now, monitors=monitors,
            serving=serving_model(md) if md else None,
            rollouts=rollout_outcomes(md) if md else {},
            jobs=self.adapter.jobs(meta["namespace"], meta["name"], meta.get("uid")),
            validate=gate, spec_model=spec_model(md),
        )  # fmt: skip

    def _with_results(self, inp: PolicyInput, plan: PolicyPlan) -> PolicyInput:
        """Read the result.json files of Jobs that left no termination message."""
        results: dict[str, str | None] = dict(inp.results)
        for uri in plan.read_results:
            try:
                results[uri] = read_text(uri)
            except StorageError:
                results[uri] = None
        return dataclasses.replace(inp, results=results)

    def _promote(self, namespace: str, spec: RetrainPolicySpec, plan: PolicyPlan,
                 md: Mapping[str, Any]) -> None:  # fmt: skip
        """Write the candidate's profile (owned by the ModelDeployment) and, promoting into
        the spec, the candidate to the ModelDeployment; raises when a write is refused or the
        profile cannot be read."""
        promote = plan.promote
        assert promote is not None
        model: dict[str, Any] = {"version": promote.version, "uri": promote.uri}
        if promote.profile_uri and promote.profile_config_map:
            profile = read_text(promote.profile_uri)
            md_meta = md.get("metadata") or {}
            owner = [{"apiVersion": API_VERSION, "kind": "ModelDeployment",
                      "name": spec.model_deployment_ref, "uid": md_meta.get("uid")}]  # fmt: skip
            self.adapter.apply_config_map({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": promote.profile_config_map, "namespace": namespace,
                             "labels": {LABEL_RUN: promote.run},
                             "ownerReferences": owner if md_meta.get("uid") else []},
                "data": {"profile.json": profile},
            })  # fmt: skip
            model["profileRef"] = {"configMap": promote.profile_config_map, "key": "profile.json"}
        if promote.into_spec:  # else the plan's status holds it (promotionTarget policyStatus)
            self.adapter.patch_model(namespace, spec.model_deployment_ref, model)

    def _apply(self, body: Body, spec: RetrainPolicySpec, plan: PolicyPlan,
               md: Mapping[str, Any], now: datetime) -> None:  # fmt: skip
        """Apply in a restart-safe order: the promotion, the status (a new run is recorded
        before its Job exists), then the Job. A refused write fails the run, in status."""
        namespace = body["metadata"]["namespace"]
        log = object_logger(body, RETRAIN_POLICY.kind)
        if plan.promote is not None:
            try:
                self._promote(namespace, spec, plan, md)
            except (ChildRejectedError, StorageError) as err:
                log.warning("promotion failed", error=str(err))
                fail_active(plan, f"promotion failed: {err}", now)
        current = self._write(body, spec, plan, body.get("status") or {}, now)
        if plan.create_job is not None:
            try:
                self.adapter.create_job(plan.create_job)
            except ChildRejectedError as err:
                log.warning("job refused", error=str(err))
                plan.events = []
                fail_active(plan, str(err), now)
                self._write(body, spec, plan, current, now)
        for job in plan.delete_jobs:
            self.adapter.delete_job(namespace, job)

    def _write(self, body: Body, spec: RetrainPolicySpec, plan: PolicyPlan,
               current: Mapping[str, Any], now: datetime) -> dict[str, Any]:  # fmt: skip
        """Plan the status against `current` and write it with the plan's Events; returns
        the status as written."""
        generation = int(body["metadata"].get("generation") or 0)
        status = plan.status.model_copy(update={"observed_generation": generation})
        fields = status.model_dump(by_alias=True, mode="json", exclude_none=True)
        # A field that became empty (the active run ended) must be cleared, not left as it was.
        for name, info in RetrainPolicyStatus.model_fields.items():
            fields.setdefault(info.alias or name, None)
        for owned in ("conditions", "phase", "message", "observedGeneration"):
            fields.pop(owned, None)
        assessment = policy_assessment(spec, status, fields, now)
        status_plan = plan_status(current, assessment, generation, now)
        events = [Transition(kind, reason, message) for kind, reason, message in plan.events]
        combined = StatusPlan(status_plan.patch, (*status_plan.transitions, *events))
        write_status(self.adapter, self.own_writes, RETRAIN_POLICY, {**body, "status": current},
                     combined)  # fmt: skip
        log = object_logger(body, RETRAIN_POLICY.kind)
        for kind, reason, message in plan.events:
            log.info("retrain event", type=kind, reason=reason, message=message)
            metrics.RETRAIN_EVENTS.labels(reason).inc()
        written = {**current, **status_plan.patch}
        return {k: v for k, v in written.items() if v is not None}


def retrain_policy_reconciler(
    adapter: KubernetesAdapter, existing: ExistingIn
) -> RetrainPolicyReconciler:
    return RetrainPolicyReconciler(adapter, existing)
