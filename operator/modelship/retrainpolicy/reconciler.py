"""The RetrainPolicy reconciler: read, plan (pure), apply, write status. Thin.

A pass validates the spec and its references (as every kind does), reads what the triggers
and the runs depend on (the monitors' status, the ModelDeployment, the policy's Jobs), lets
`modelship.retrain` decide, then applies in a restart-safe order: the promotion, the status
(a new run is recorded before its Job exists), then the Job.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.exceptions import ApiException

from modelship import metrics
from modelship.adapters.kubernetes import ChildRejectedError, KubernetesAdapter
from modelship.adapters.storage import StorageError, read_text
from modelship.api.resources import DRIFT_MONITOR, MODEL_DEPLOYMENT, RETRAIN_POLICY
from modelship.api.retrainpolicy import RetrainPolicySpec, RetrainPolicyStatus, RunOutcome
from modelship.api.validation import InvalidObjectError, parse_spec
from modelship.logging import object_logger
from modelship.planners.assessment import assess_retrain_policy
from modelship.planners.status import StatusPlan, Transition, plan_status
from modelship.retrain.gate import gate
from modelship.retrain.jobs import ServingModel, output_uri
from modelship.retrain.runs import PolicyInput, PolicyPlan, plan_policy
from modelship.retrain.status import policy_assessment
from modelship.runtime.status import write_status
from modelship.runtime.validated import ExistingIn, ValidatedReconciler

Body = Mapping[str, Any]


def serving_model(md: Mapping[str, Any]) -> ServingModel | None:
    """What the ModelDeployment's stable revision serves: version and URI from its history
    record (the spec may already name a newer version)."""
    status = md.get("status") or {}
    stable = status.get("stableRevision")
    if not stable:
        return None
    for entry in status.get("history") or []:
        if entry.get("revision") == stable:
            return ServingModel(str(md["spec"]["model"]["name"]), str(entry.get("modelVersion")),
                                str(entry.get("modelURI") or ""))  # fmt: skip
    model = md["spec"]["model"]
    version = (status.get("rollout") or {}).get("stableVersion") or model["version"]
    return ServingModel(str(model["name"]), str(version), str(model.get("uri") or ""))


def rollout_outcomes(md: Mapping[str, Any]) -> dict[str, str]:
    """Model version -> how its latest rollout ended; Serving for the stable one."""
    status = md.get("status") or {}
    out: dict[str, str] = {}
    for entry in reversed(status.get("history") or []):  # oldest first: the newest wins
        if entry.get("outcome"):
            out[str(entry.get("modelVersion"))] = str(entry["outcome"])
    stable = serving_model(md)
    if stable is not None and status.get("phase") == "Healthy":
        out[stable.version] = "Serving"
    return out


class RetrainPolicyReconciler(ValidatedReconciler):
    def __init__(self, adapter: KubernetesAdapter, existing: ExistingIn) -> None:
        super().__init__(RETRAIN_POLICY, assess_retrain_policy, adapter, existing)
        self.adapter = adapter

    def reconcile(
        self, body: Body, now: datetime | None = None, verify: bool = False
    ) -> float | None:
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        meta = body["metadata"]
        namespace = meta["namespace"]
        try:
            spec = parse_spec(RETRAIN_POLICY, body)
        except InvalidObjectError:
            return super().reconcile(body, now, verify)
        assert isinstance(spec, RetrainPolicySpec)
        if assess_retrain_policy(spec, self.existing(namespace)).phase == "Failed":
            return super().reconcile(body, now, verify)
        started = time.perf_counter()
        raw_status: Mapping[str, Any] = body.get("status") or {}
        status = RetrainPolicyStatus.model_validate(
            {k: v for k, v in raw_status.items() if k not in ("conditions",)}
        )
        inp = self._read(body, spec, status, now)
        plan = plan_policy(inp)
        if plan.read_results:
            plan = plan_policy(self._with_results(inp, plan))
        self._apply(body, spec, plan, now)
        metrics.RECONCILE_SECONDS.labels(RETRAIN_POLICY.kind).observe(time.perf_counter() - started)
        return plan.requeue_after

    def _read(self, body: Body, spec: RetrainPolicySpec, status: RetrainPolicyStatus,
              now: datetime) -> PolicyInput:  # fmt: skip
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        try:
            md = self.adapter.read(MODEL_DEPLOYMENT, namespace, spec.model_deployment_ref)
        except ApiException as err:
            if err.status != 404:
                raise
            md = {}
        monitors: dict[str, Mapping[str, Any]] = {}
        for trigger in (spec.triggers.drift, spec.triggers.performance):
            if trigger is not None and trigger.drift_monitor_ref not in monitors:
                try:
                    found = self.adapter.read(DRIFT_MONITOR, namespace, trigger.drift_monitor_ref)
                except ApiException as err:
                    if err.status != 404:
                        raise
                    found = {}
                monitors[trigger.drift_monitor_ref] = found
        return PolicyInput(
            spec=spec, status=status, policy=body, now=now, monitors=monitors,
            serving=serving_model(md) if md else None,
            rollouts=rollout_outcomes(md) if md else {},
            jobs=self.adapter.jobs(namespace, name), validate=gate,
        )  # fmt: skip

    def _with_results(self, inp: PolicyInput, plan: PolicyPlan) -> PolicyInput:
        """Read result.json at the output URI of runs whose Job left no termination message."""
        results: dict[str, str | None] = dict(inp.results)
        for run in inp.status.runs or []:
            if run.name in plan.read_results:
                uri = output_uri(inp.spec, run.new_version) + "result.json"
                try:
                    results[run.name] = read_text(uri)
                except StorageError:
                    results[run.name] = None
        return PolicyInput(**{**inp.__dict__, "results": results})

    def _apply(self, body: Body, spec: RetrainPolicySpec, plan: PolicyPlan,
               now: datetime) -> None:  # fmt: skip
        namespace = body["metadata"]["namespace"]
        log = object_logger(body, RETRAIN_POLICY.kind)
        if plan.promote is not None:
            promote = plan.promote
            model: dict[str, Any] = {"version": promote.version, "uri": promote.uri}
            if promote.profile_uri and promote.profile_config_map:
                try:
                    profile = read_text(promote.profile_uri)
                except StorageError as err:
                    log.warning("promoting without a new profile", error=str(err))
                else:
                    self.adapter.apply_config_map({
                        "apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": promote.profile_config_map, "namespace": namespace,
                                     "labels": {"modelship.io/run": promote.run}},
                        "data": {"profile.json": profile},
                    })  # fmt: skip
                    model["profileRef"] = {
                        "configMap": promote.profile_config_map,
                        "key": "profile.json",
                    }
            self.adapter.patch_model(namespace, spec.model_deployment_ref, model)
        generation = int(body["metadata"].get("generation") or 0)
        status = plan.status.model_copy(update={"observed_generation": generation})
        fields = status.model_dump(by_alias=True, mode="json", exclude_none=True)
        # A field that became empty (the active run ended) must be cleared, not left as it was.
        for name, info in RetrainPolicyStatus.model_fields.items():
            fields.setdefault(info.alias or name, None)
        fields.pop("conditions", None)
        fields.pop("phase", None)
        fields.pop("message", None)
        fields.pop("observedGeneration", None)
        assessment = policy_assessment(spec, status, fields)
        status_plan = plan_status(body.get("status"), assessment, generation, now)
        events = [Transition(kind, reason, message) for kind, reason, message in plan.events]
        combined = StatusPlan(status_plan.patch, (*status_plan.transitions, *events))
        write_status(self.adapter, self.own_writes, RETRAIN_POLICY, body, combined)
        if plan.create_job is not None:
            try:
                self.adapter.create_job(plan.create_job)
            except ChildRejectedError as err:
                log.warning("job refused", error=str(err))
                self._refused(body, plan, str(err), now)
        for job in plan.delete_jobs:
            self.adapter.delete_job(namespace, job)
        for kind, reason, message in plan.events:
            log.info("retrain event", type=kind, reason=reason, message=message)

    def _refused(self, body: Body, plan: PolicyPlan, message: str, now: datetime) -> None:
        """The API server refused the Job (a bad template): the run fails, visibly."""
        run = plan.status.active_run
        runs = [
            r.model_copy(update={"outcome": RunOutcome.FAILED, "finished_at": now,
                                 "message": message[:1024]}) if r.name == run else r
            for r in plan.status.runs or []
        ]  # fmt: skip
        status = {
            "activeRun": None,
            "runs": [r.model_dump(by_alias=True, mode="json", exclude_none=True) for r in runs],
        }
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        self.own_writes.record(key, self.adapter.patch_status(RETRAIN_POLICY, *key, status))
        self.adapter.post_event(body, Transition("Warning", "RunFailed", message[:1024]))


def retrain_policy_reconciler(
    adapter: KubernetesAdapter, existing: ExistingIn
) -> RetrainPolicyReconciler:
    return RetrainPolicyReconciler(adapter, existing)
