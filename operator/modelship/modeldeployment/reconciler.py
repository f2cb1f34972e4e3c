"""Reconcile a ModelDeployment's rollout: read, plan, apply, patch status. Thin.

The decisions live in `modelship.rollout` (planner, manifests, controls) and
`modelship.planners` (assessment, status); the I/O in `modelship.adapters`. It runs in a
`runtime.worker` per ModelDeployment, woken on a change of the object or of one of its
Deployments, and when the plan's own clock says so (a timed pause ends, an analysis round is
due).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel

from modelship import metrics
from modelship.adapters.kubernetes import ChildRejectedError, KubernetesAdapter, MissingKindError
from modelship.api.analysis import AnalysisGate
from modelship.api.modeldeployment import (
    Model,
    ModelDeploymentSpec,
    ModelDeploymentStatus,
    ServedModel,
)
from modelship.api.resources import MODEL_DEPLOYMENT, RETRAIN_POLICY
from modelship.api.retrainpolicy import PromotionTarget, RetrainPolicySpec, RetrainPolicyStatus
from modelship.api.rolloutstate import RolloutState
from modelship.api.validation import InvalidObjectError, parse_spec
from modelship.logging import object_logger
from modelship.modeldeployment.analysis import AnalysisOutcome
from modelship.planners.assessment import (
    RolloutProgress,
    assess_model_deployment,
    child_refused,
    missing_references,
    rollout_progressing,
)
from modelship.planners.status import Assessment, plan_status
from modelship.retrain.promoted import ModelDecision, PolicyPromotion, decide_model
from modelship.rollout.controls import read_controls
from modelship.rollout.objects import ChildBuilder
from modelship.rollout.planner import plan_rollout
from modelship.rollout.references import combine, missing, pod_references, spec_references
from modelship.rollout.replicas import initial_replicas
from modelship.rollout.revision import revision_of
from modelship.rollout.types import RolloutInput, RolloutPlan
from modelship.rollout.window import analysis_subject
from modelship.runtime.echo import OwnWrites
from modelship.runtime.lenient import lenient
from modelship.runtime.worker import RESYNC_SECONDS, earliest

Body = Mapping[str, Any]
M = TypeVar("M", bound=BaseModel)
# A ModelDeployment waiting for a missing ConfigMap, Secret or claim looks again this often.
REFERENCE_RECHECK_SECONDS = 10.0
CHILD_KINDS = ("Service", "HorizontalPodAutoscaler", "NetworkPolicy", "HTTPRoute", "VirtualService")
PoliciesOf = Callable[[str, str], Sequence[str]]
"""(namespace, ModelDeployment) -> names of the RetrainPolicies that refer to it (an index)."""


def _no_policies(namespace: str, name: str) -> Sequence[str]:
    return ()


def policy_promotion(md_name: str, policy: Mapping[str, Any]) -> PolicyPromotion:
    """What a ModelDeployment reads of a RetrainPolicy object: whether it promotes into its
    status for this ModelDeployment, its promotion and its runs."""
    meta = policy.get("metadata") or {}
    try:
        spec = parse_spec(RETRAIN_POLICY, policy)
    except InvalidObjectError:
        spec = None
    into_status = (
        isinstance(spec, RetrainPolicySpec)
        and spec.model_deployment_ref == md_name
        and spec.promotion_target is PromotionTarget.POLICY_STATUS
    )
    status = lenient(RetrainPolicyStatus, policy.get("status") or {})
    return PolicyPromotion(
        name=str(meta.get("name")), created=str(meta.get("creationTimestamp") or ""),
        into_status=into_status, promoted=status.promoted, runs=tuple(status.runs or ()),
    )  # fmt: skip


# Status fields the rollout owns, as (python name, wire name).
ROLLOUT_FIELDS = (
    ("stable_revision", "stableRevision"),
    ("canary_revision", "canaryRevision"),
    ("current_step", "currentStep"),
    ("current_step_started_at", "currentStepStartedAt"),
    ("canary_weight", "canaryWeight"),
    ("paused_at", "pausedAt"),
    ("replicas", "replicas"),
    ("ready_replicas", "readyReplicas"),
    ("history", "history"),
)


class GateEvaluator(Protocol):
    """The seam to analysis: measure if due, and give verdicts for the wanted gates."""

    def evaluate(
        self,
        md: Body,
        spec: ModelDeploymentSpec,
        status: ModelDeploymentStatus,
        gates: Mapping[str, AnalysisGate],
        rollout_started_at: datetime | None,
        now: datetime,
    ) -> AnalysisOutcome: ...


def rollout_status_fields(
    plan: RolloutPlan, builder: ChildBuilder, outcome: AnalysisOutcome
) -> dict[str, Any]:
    dumped = plan.status.model_dump(by_alias=True, mode="json", exclude_none=True)
    extra: dict[str, Any] = {wire: dumped.get(wire) for _, wire in ROLLOUT_FIELDS}
    extra["inferenceURL"] = builder.inference_url()
    extra["selector"] = f"modelship.io/model-deployment={builder.name}"
    extra["rollout"] = plan.state.model_dump(by_alias=True, mode="json", exclude_none=True)
    if plan.status.model is not None:
        extra["model"] = plan.status.model.to_kube()
    if outcome.run is not None:
        extra["analysis"] = outcome.run.model_dump(by_alias=True, mode="json", exclude_none=True)
    if outcome.measurements is not None:
        extra["measurements"] = [
            m.model_dump(by_alias=True, mode="json", exclude_none=True)
            for m in outcome.measurements
        ]
    return extra


class RolloutReconciler:
    def __init__(
        self,
        adapter: KubernetesAdapter,
        evaluator: GateEvaluator,
        default_image: str,
        policies: PoliciesOf = _no_policies,
    ) -> None:
        self.adapter = adapter
        self.evaluator = evaluator
        self.default_image = default_image
        self.policies = policies
        self.own_writes = OwnWrites()

    def _decide_model(
        self, namespace: str, name: str, model: Model, previous: ServedModel | None
    ) -> ModelDecision:
        """spec.model, or the promotion a RetrainPolicy recorded in its status over it."""
        read = []
        for policy in self.policies(namespace, name):
            try:
                read.append(policy_promotion(name, self.adapter.read(RETRAIN_POLICY, namespace,
                                                                     policy)))  # fmt: skip
            except ApiException as err:
                if err.status != 404:
                    raise
        return decide_model(model, read, previous)

    def reconcile(
        self, body: Body, now: datetime | None = None, verify: bool = False
    ) -> float | None:
        """One pass; returns seconds until the plan wants another look (None: only on change).

        `verify` re-reads every child instead of trusting what this process remembers (the
        periodic resync)."""
        started = time.perf_counter()
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        meta = body["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        body = self.own_writes.current(
            body, lambda: self.adapter.read(MODEL_DEPLOYMENT, namespace, name)
        )
        meta = body["metadata"]
        generation = int(meta.get("generation") or 0)
        log = object_logger(body, MODEL_DEPLOYMENT.kind)
        raw_status: Mapping[str, Any] = body.get("status") or {}
        try:
            spec = parse_spec(MODEL_DEPLOYMENT, body)
            assert isinstance(spec, ModelDeploymentSpec)
        except InvalidObjectError as err:
            self._stall(body, assess_model_deployment(err), now)
            log.warning("invalid spec", error=str(err))
            return None
        assert isinstance(spec, ModelDeploymentSpec)

        if verify:
            self.adapter.forget(namespace, name)
        elif raw_status.get("observedGeneration") is None:
            self.adapter.remember_new(namespace, name)
        status = lenient(ModelDeploymentStatus, raw_status)
        # The model to serve (spec.model or a policy's promotion) shapes the revision.
        decision = self._decide_model(namespace, name, spec.model, status.model)
        spec = spec.model_copy(update={"model": decision.model})
        status = status.model_copy(update={"model": decision.served})
        spec_revision = revision_of(spec, self.default_image, name)
        builder = ChildBuilder(body, spec, self.default_image)
        absent = self._missing_references(builder, spec_revision)
        if absent:
            # Pods that need them would never start on a kubelet: create nothing new, keep
            # what serves, and look again shortly.
            self._stall(body, missing_references(absent, REFERENCE_RECHECK_SECONDS), now)
            log.warning("missing references", missing=absent)
            return REFERENCE_RECHECK_SECONDS
        state = lenient(RolloutState, raw_status.get("rollout") or {})
        control, handled = read_controls(meta.get("annotations") or {}, state.handled)
        state = state.model_copy(update={"handled": handled})
        revisions = self.adapter.revisions(namespace, name)
        autoscaled = (
            self.adapter.autoscaled_replicas(namespace, name) if spec.serving.autoscaling else None
        )
        inp = RolloutInput(
            image=spec.serving.image or self.default_image,
            spec=spec,
            status=status,
            state=state,
            spec_revision=spec_revision,
            revisions=revisions,
            now=now,
            control=control,
            autoscaled_replicas=autoscaled,
        )
        # The planner is pure and cheap: a first pass finds the gates the rollout stands at,
        # the analysis measures (when a round is due) and answers for those, and the second
        # pass decides with the verdicts, in the same reconcile as the measurement.
        first = plan_rollout(inp)
        outcome = AnalysisOutcome()
        if first.gates:
            analysed, started_at = analysis_subject(first)
            outcome = self.evaluator.evaluate(body, spec, analysed, first.gates, started_at, now)
        plan = (
            plan_rollout(dataclasses.replace(inp, gates=outcome.verdicts))
            if outcome.verdicts
            else first
        )
        requeue = earliest(plan.requeue_after, outcome.next_round_in if plan.gates else None)
        try:
            self._apply(plan, builder, spec_revision, revisions, verify)
        except ChildRejectedError as err:
            # What the user (or the cluster) must change, in status and an Event; retried
            # on the next spec change or resync, never in a loop.
            assessment = child_refused(err.reason, str(err), isinstance(err, MissingKindError))
            self._stall(body, assessment, now)
            log.warning("child refused", error=assessment.message)
            return RESYNC_SECONDS

        progress = RolloutProgress(plan.status.phase, str(plan.status.phase), plan.status.message)
        assessment = assess_model_deployment(spec, progress)
        assessment = dataclasses.replace(
            assessment,
            conditions=(*assessment.conditions, rollout_progressing(progress)),
            extra=rollout_status_fields(plan, builder, outcome),
        )
        status_plan = plan_status(raw_status, assessment, generation, now)
        if status_plan.patch:
            self._write_status(namespace, name, status_plan.patch)
            metrics.STATUS_WRITES.labels(MODEL_DEPLOYMENT.kind).inc()
        for event in (*decision.events, *plan.events):
            metrics.ROLLOUT_EVENTS.labels(event.reason).inc()
            self.adapter.post_event(body, event)
            log.info("rollout event", reason=event.reason, message=event.message)
        metrics.RECONCILE_SECONDS.labels(MODEL_DEPLOYMENT.kind).observe(
            time.perf_counter() - started
        )
        metrics.RECONCILES.labels(MODEL_DEPLOYMENT.kind, str(plan.status.phase)).inc()
        if status_plan.patch:
            log.info(
                "status changed",
                phase=str(plan.status.phase),
                message=plan.status.message,
                fields=sorted(status_plan.patch),
            )
        return requeue

    def own_write(self, namespace: str, name: str, resource_version: str | None) -> bool:
        """Whether this version of the object is the echo of this process's own status
        write: nothing in it asks for another pass."""
        return self.own_writes.is_echo((namespace, name), resource_version)

    def forget(self, namespace: str, name: str) -> None:
        self.own_writes.forget((namespace, name))
        self.adapter.forget(namespace, name)

    def _write_status(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        written = self.adapter.patch_status(MODEL_DEPLOYMENT, namespace, name, patch)
        self.own_writes.record((namespace, name), written)

    def _stall(self, body: Body, assessment: Assessment, now: datetime) -> None:
        """Report a ModelDeployment the operator cannot act on (Stalled), once."""
        meta = body["metadata"]
        raw_status: Mapping[str, Any] = body.get("status") or {}
        status_plan = plan_status(raw_status, assessment, int(meta.get("generation") or 0), now)
        if status_plan.patch:
            self._write_status(meta["namespace"], meta["name"], status_plan.patch)
            for transition in status_plan.transitions:
                self.adapter.post_event(body, transition)

    def _missing_references(self, builder: ChildBuilder, revision: str) -> list[str]:
        pod = builder.deployment(revision, None)["spec"]["template"]["spec"]
        refs = combine(spec_references(builder.spec), pod_references(pod))
        namespace = builder.namespace
        return missing(refs, lambda kind, name: self.adapter.data_keys(namespace, kind, name))

    def _apply(
        self,
        plan: RolloutPlan,
        builder: ChildBuilder,
        spec_revision: str,
        revisions: Mapping[str, Any],
        verify: bool = False,
    ) -> None:
        namespace = builder.namespace
        serving = builder.spec.serving
        children = builder.children(plan, spec_revision)
        self.adapter.require_kinds(m["kind"] for m in children)
        for revision, replicas in plan.replicas.items():
            observed = revisions.get(revision)
            if observed is None:
                if revision == spec_revision:
                    minimum = serving.autoscaling.min_replicas if serving.autoscaling else None
                    count = initial_replicas(replicas, minimum)
                    self.adapter.create_deployment(builder.deployment(revision, count))
                continue
            if replicas is not None and observed.replicas != replicas:
                self.adapter.scale_deployment(
                    namespace, builder.deployment_name(revision), replicas
                )
        for revision in plan.delete:
            self.adapter.delete_deployment(namespace, builder.deployment_name(revision))
        for manifest in children:
            self.adapter.ensure(manifest, verify)
        self.adapter.remove_stale(namespace, builder.name, children, CHILD_KINDS, verify)
