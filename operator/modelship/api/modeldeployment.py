"""ModelDeployment: serve a model and roll out new versions safely."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from modelship.api.analysis import Analysis, AnalysisGate, AnalysisRunStatus, Measurements
from modelship.api.base import KubeModel, Rule, ordered
from modelship.api.common import Conditions, NetworkPeer, SecretKeyRef
from modelship.api.notifications import NotificationList, notifications_rules
from modelship.api.rolloutstate import RolloutState
from modelship.api.strategy import CanaryStrategy, RollingStrategy, Strategy
from modelship.api.templates import PodTemplate
from modelship.api.types import (
    DNS1123_LABEL,
    Duration,
    IntOrPercent,
    LabelValue,
    ModelURI,
    ObjectName,
    Quantity,
    cel_matches,
)


class ModelFormat(StrEnum):
    SKLEARN = "sklearn"
    XGBOOST = "xgboost"
    LIGHTGBM = "lightgbm"
    ONNX = "onnx"
    CUSTOM = "custom"


class ProfileRef(KubeModel):
    """The ConfigMap holding the model's reference profile (from `modelship profile`)."""

    config_map: ObjectName
    """The ConfigMap's name."""
    key: Annotated[str, StringConstraints(pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)] = (
        "profile.json"
    )
    """The key holding the profile."""


class Model(KubeModel):
    """The model to serve. Changing it (or serving) starts a rollout."""

    rules = (
        Rule(
            cel="!has(self.modelClass) || (has(self.format) && self.format == 'custom')",
            message="model.modelClass applies only to format custom",
            field_path=".modelClass",
            check=lambda m: m.model_class is None or m.format == ModelFormat.CUSTOM,
        ),
    )

    name: LabelValue
    """The model's name; labels pods and metrics as `model`."""
    version: LabelValue
    """The model's version; labels pods and metrics as `version`."""
    uri: ModelURI
    """Where the model artifact lives: file://, http(s)://, s3://, gs:// or pvc://claim/path."""
    format: ModelFormat = ModelFormat.SKLEARN
    """The artifact's format: sklearn, xgboost, lightgbm, onnx or custom (needs serving.image)."""
    model_class: (
        Annotated[
            str,
            StringConstraints(
                pattern=r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$", max_length=253
            ),
        ]
        | None
    ) = None
    """Format custom: the class the server loads, `package.module:ClassName` (passed as
    MODELSHIP_MODEL_CLASS). Unset, the image must set MODELSHIP_MODEL_CLASS itself."""
    profile_ref: ProfileRef | None = None
    """The reference profile that drift monitoring compares live traffic against."""


class ResourceRequirements(KubeModel):
    """Compute resources of each serving container."""

    requests: dict[str, Quantity] | None = Field(default=None, max_length=16)
    """Minimum resources, e.g. {cpu: 500m, memory: 1Gi}."""
    limits: dict[str, Quantity] | None = Field(default=None, max_length=16)
    """Maximum resources."""


class Autoscaling(KubeModel):
    """A HorizontalPodAutoscaler for the stable revision."""

    rules = (
        Rule(
            # Out of range values are reported by their own bounds alone.
            cel="!has(self.minReplicas) || self.minReplicas > 1000 || self.maxReplicas < 1"
            " || self.minReplicas <= self.maxReplicas",
            message="minReplicas must not exceed maxReplicas",
            check=lambda a: ordered(a.min_replicas, a.max_replicas),
        ),
    )

    min_replicas: int = Field(default=1, ge=1, le=1000)
    """The fewest pods."""
    max_replicas: int = Field(ge=1, le=1000)
    """The most pods."""
    target_cpu_utilization_percentage: int = Field(
        default=80, ge=1, le=100, alias="targetCPUUtilizationPercentage"
    )
    """Average CPU utilisation, in percent of requests, the autoscaler aims for."""


class Serving(KubeModel):
    """How the model is served: image, pods, resources and scaling."""

    rules = (
        Rule(
            cel="!has(self.grpcPort) || self.grpcPort != (has(self.port) ? self.port : 8080)",
            message="serving.grpcPort must differ from serving.port",
            field_path=".grpcPort",
            check=lambda s: s.grpc_port is None or s.grpc_port != s.port,
        ),
        Rule(
            cel="!has(self.workers) || self.workers <= 1 || !has(self.grpcPort)",
            message="serving.workers above 1 serves REST only: unset serving.grpcPort or "
            "use one worker",
            field_path=".workers",
            check=lambda s: s.workers <= 1 or s.grpc_port is None,
        ),
    )

    image: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None
    """The model server image. Defaults to modelship's reference server."""
    replicas: int = Field(default=1, ge=0, le=1000)
    """Pods of the stable revision (ignored when autoscaling is set)."""
    port: int = Field(default=8080, ge=1, le=65535)
    """The port the server listens on (HTTP, Open Inference Protocol v2)."""
    grpc_port: int | None = Field(default=None, ge=1, le=65535)
    """Also serve the protocol's gRPC service (`inference.GRPCInferenceService`) on this port
    (8081 by convention): the server gets `MODELSHIP_GRPC_PORT`, the pods and Services a `grpc`
    port. Unset: REST only. The replicas router splits gRPC by pod count, per connection; the
    istio router splits and mirrors it by the same weights as HTTP; the gatewayAPI router's
    weights route HTTP only, so with it gRPC through the main Service reaches the stable
    revision."""
    workers: int = Field(default=1, ge=1, le=64)
    """Worker processes of the reference server in each pod, sharing its port (its metrics
    are merged across them): for pods given more than one CPU. The server gets
    `MODELSHIP_WORKERS`; an image of your own (`image`) may ignore it. Not with `grpcPort`."""
    resources: ResourceRequirements | None = None
    """Requests and limits of the server container."""
    template: PodTemplate | None = None
    """Pod template overrides (a partial PodTemplateSpec merged over the generated one): GPUs,
    tolerations, node selectors, extra env."""
    autoscaling: Autoscaling | None = None
    """Scale the stable revision with a HorizontalPodAutoscaler."""


class RollbackWindow(KubeModel):
    """After a promotion, keep analysing the new stable revision and keep the previous
    revision's pods, so a failure in the window returns traffic to them in seconds."""

    duration: Duration
    """How long after the promotion the window stays open (`10m`)."""
    previous_replicas: IntOrPercent = "100%"
    """Pods of the previous revision kept warm during the window: a count, or a percentage
    of the serving replicas (rounded up; at least 1, at most all). They receive no traffic
    until a rollback; 100% (the default) returns full capacity at once."""


class Rollback(KubeModel):
    """What happens when analysis fails, and how much history is kept."""

    automatic: bool = True
    """Return all traffic to the stable revision when analysis fails."""
    revision_history_limit: int = Field(default=10, ge=0, le=100)
    """Old revisions kept (their Deployments scaled to zero) for rollback."""
    window: RollbackWindow | None = None
    """A rollback window after each promotion (canary, blueGreen, shadow): the analysis's
    metrics without a judge keep measuring the new stable revision, and a failure (with
    `automatic`) returns all traffic to the previous revision, recorded in history as
    RolledBackAfterPromotion."""


class NetworkPolicySpec(KubeModel):
    """Restrict who may reach the model's pods (ingress on the serving port)."""

    allow_from: list[NetworkPeer] = Field(default_factory=list, max_length=32)
    """Peers allowed to call the model. The model's own pods are always admitted; nothing
    else is. With the gatewayAPI or istio router, or shadow mirroring, list the gateway's pods
    (the Istio ingress gateway's) here."""
    metrics_from: list[NetworkPeer] = Field(default_factory=list, max_length=32)
    """Peers allowed to scrape `/metrics`: your Prometheus. Analysis and DriftMonitors read
    these metrics; without a peer here they see no data (Inconclusive). Metrics share the
    serving port, so these peers reach the inference endpoint too (protect it with
    `authSecretRef`)."""


class Security(KubeModel):
    """Access control for the inference endpoint."""

    network_policy: NetworkPolicySpec | None = None
    """Create a NetworkPolicy admitting only these callers."""
    auth_secret_ref: SecretKeyRef | None = None
    """A Secret key holding the bearer token clients must send."""


def _undefined(gate: AnalysisGate | None, analysis: Analysis) -> list[str]:
    """The metrics a gate names that spec.analysis does not define, in order."""
    defined = {metric.name for metric in analysis.metrics}
    return [name for name in (gate.metrics or []) if name not in defined] if gate else []


def _gate_ok(gate: AnalysisGate | None, analysis: Analysis | None) -> bool:
    if gate is None:
        return True
    return analysis is not None and not _undefined(gate, analysis)


def _canary_gates_ok(canary: CanaryStrategy | None, analysis: Analysis | None) -> bool:
    return canary is None or all(_gate_ok(step.analysis, analysis) for step in canary.steps)


def _first_undefined_per_step(canary: CanaryStrategy | None, analysis: Analysis) -> list[str]:
    """The first undefined metric of each canary step that names one (as the CEL twin)."""
    steps = canary.steps if canary else []
    return [names[0] for step in steps if (names := _undefined(step.analysis, analysis))]


# CEL twins of the above. A name that is not a valid metric name (its pattern reports it) is
# left to that message.
_UNDEFINED_CEL = (
    f"({cel_matches('n', DNS1123_LABEL)} && !self.analysis.metrics.exists(m, m.name == n))"
)


def _gate_cel(gate: str) -> str:
    """CEL: the gate at `gate` (a path under self) needs spec.analysis and names its metrics."""
    return (
        f"!has({gate}) || (has(self.analysis) && (!has({gate}.metrics) ||"
        f" {gate}.metrics.all(n, !({_UNDEFINED_CEL}))))"
    )


def _steps_cel(canary: str) -> str:
    return f"!has({canary}) || {canary}.steps.all(s, {_gate_cel('s.analysis')})"


def _undefined_cel(gate: str) -> str:
    """CEL: the list of metrics the gate at `gate` names that spec.analysis does not define."""
    return f"(has({gate}) && has({gate}.metrics) ? {gate}.metrics.filter(n, {_UNDEFINED_CEL}) : [])"


def _steps_undefined_cel(canary: str) -> str:
    """CEL: the first undefined metric of each step of the canary at `canary` naming one."""
    return (
        f"(has({canary}) ? {canary}.steps.filter(s, has(s.analysis) && has(s.analysis.metrics)"
        f" && s.analysis.metrics.exists(n, {_UNDEFINED_CEL}))"
        f".map(s, s.analysis.metrics.filter(n, {_UNDEFINED_CEL})[0]) : [])"
    )


_GATE_MESSAGE = "needs spec.analysis, and every metric it names must be defined there"


def _gate_rule(subject: str, cel: str, undefined_cel: str, check: Any, undefined: Any) -> Rule:
    """A rule that the gates of one strategy need spec.analysis and name defined metrics.

    Its message names the first metric that is not defined (when spec.analysis is set; else
    the whole block is what is missing).
    """
    message = f"{subject} {_GATE_MESSAGE}"
    assert "'" not in message
    return Rule(
        cel=cel,
        message=message,
        check=check,
        message_expression=(
            f"has(self.analysis) ? '{message}: ' + ({undefined_cel})[0] + ' is not' : '{message}'"
        ),
        describe=lambda s: (
            f"{message}: {undefined(s)[0]} is not" if s.analysis is not None else message
        ),
    )


class ModelDeploymentSpec(KubeModel):
    """A model to serve and how to roll out its new versions."""

    rules = (
        Rule(
            cel="!has(self.model.format) || self.model.format != 'custom'"
            " || (has(self.serving) && has(self.serving.image))",
            message="model.format custom needs serving.image: the reference server cannot load it",
            check=lambda s: s.model.format != ModelFormat.CUSTOM or s.serving.image is not None,
        ),
        Rule(
            cel="!has(self.strategy) || !has(self.strategy.blueGreen) || !has(self.analysis)"
            " || self.analysis.metrics.all(m, !has(m.judge))",
            message="a judge compares live traffic of both revisions, which blueGreen does not "
            "split: use min, max or maxIncrease",
            check=lambda s: (
                s.strategy.blue_green is None
                or s.analysis is None
                or all(m.judge is None for m in s.analysis.metrics)
            ),
        ),
        Rule(
            cel="!has(self.rollback) || !has(self.rollback.window)"
            " || (has(self.strategy) && !has(self.strategy.rolling))",
            message="rollback.window needs strategy canary, blueGreen or shadow: a rolling "
            "update has no analysis to keep running",
            field_path=".rollback.window",
            check=lambda s: s.rollback.window is None or s.strategy.kind != "rolling",
        ),
        Rule(
            cel="!has(self.rollback) || !has(self.rollback.window)"
            " || (has(self.analysis) && self.analysis.metrics.exists(m, !has(m.judge)))",
            message="rollback.window needs an analysis metric without a judge: the window "
            "measures the new stable alone (a judge compares it with a revision that gets no "
            "traffic then)",
            field_path=".rollback.window",
            check=lambda s: (
                s.rollback.window is None
                or (s.analysis is not None and any(m.judge is None for m in s.analysis.metrics))
            ),
        ),
        _gate_rule(
            "each analysis step of strategy.canary",
            cel=f"!has(self.strategy) || {_steps_cel('self.strategy.canary')}",
            undefined_cel=_steps_undefined_cel("self.strategy.canary"),
            check=lambda s: _canary_gates_ok(s.strategy.canary, s.analysis),
            undefined=lambda s: _first_undefined_per_step(s.strategy.canary, s.analysis),
        ),
        _gate_rule(
            "blueGreen prePromotionAnalysis and postPromotionAnalysis",
            cel="!has(self.strategy) || !has(self.strategy.blueGreen) || "
            f"(({_gate_cel('self.strategy.blueGreen.prePromotionAnalysis')}) && "
            f"({_gate_cel('self.strategy.blueGreen.postPromotionAnalysis')}))",
            undefined_cel=_undefined_cel("self.strategy.blueGreen.prePromotionAnalysis")
            + " + "
            + _undefined_cel("self.strategy.blueGreen.postPromotionAnalysis"),
            check=lambda s: (
                s.strategy.blue_green is None
                or (
                    _gate_ok(s.strategy.blue_green.pre_promotion_analysis, s.analysis)
                    and _gate_ok(s.strategy.blue_green.post_promotion_analysis, s.analysis)
                )
            ),
            undefined=lambda s: (
                _undefined(s.strategy.blue_green.pre_promotion_analysis, s.analysis)
                + _undefined(s.strategy.blue_green.post_promotion_analysis, s.analysis)
            ),
        ),
        _gate_rule(
            "shadow analysis and the analysis steps of shadow.canary",
            cel="!has(self.strategy) || !has(self.strategy.shadow) || "
            f"(({_gate_cel('self.strategy.shadow.analysis')}) && "
            f"({_steps_cel('self.strategy.shadow.canary')}))",
            undefined_cel=_undefined_cel("self.strategy.shadow.analysis")
            + " + "
            + _steps_undefined_cel("self.strategy.shadow.canary"),
            check=lambda s: (
                s.strategy.shadow is None
                or (
                    _gate_ok(s.strategy.shadow.analysis, s.analysis)
                    and _canary_gates_ok(s.strategy.shadow.canary, s.analysis)
                )
            ),
            undefined=lambda s: (
                _undefined(s.strategy.shadow.analysis, s.analysis)
                + _first_undefined_per_step(s.strategy.shadow.canary, s.analysis)
            ),
        ),
        *notifications_rules("rollout", "ModelDeployment"),
    )

    model: Model
    """The model to serve."""
    serving: Serving = Field(default_factory=Serving)
    """How the model is served."""
    strategy: Strategy = Field(default_factory=lambda: Strategy(rolling=RollingStrategy()))
    """How new revisions replace old ones. Defaults to rolling."""
    analysis: Analysis | None = None
    """Metrics that gate rollouts. Required by analysis steps and promotion gates."""
    rollback: Rollback = Field(default_factory=Rollback)
    """Rollback behaviour and revision history."""
    security: Security | None = None
    """Access control for the inference endpoint."""
    notifications: NotificationList | None = None
    """Webhook and Slack receivers of this ModelDeployment's rollout events
    (docs/operating.md#notifications)."""


class ModelDeploymentPhase(StrEnum):
    PENDING = "Pending"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    HEALTHY = "Healthy"
    DEGRADED = "Degraded"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"


class RolloutOutcome(StrEnum):
    PROMOTED = "Promoted"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"
    SUPERSEDED = "Superseded"
    DROPPED = "Dropped"
    ROLLED_BACK_AFTER_PROMOTION = "RolledBackAfterPromotion"
    """It was promoted, then failed the analysis of its rollback window: traffic returned
    to the previous revision."""


Text = Annotated[str, StringConstraints(max_length=1024)]
Revision = Annotated[str, StringConstraints(max_length=63)]


class HistoryEntry(KubeModel):
    """One past rollout (the lineage of what was served, when, and why it ended)."""

    revision: Revision
    """The revision (a hash of what shapes the pods)."""
    model_version: Annotated[str, StringConstraints(max_length=63)]
    """The model version the revision served."""
    model_uri: Annotated[str, StringConstraints(max_length=1024)] = Field(
        default="", alias="modelURI"
    )
    """Where the model came from."""
    image: Annotated[str, StringConstraints(max_length=512)] = ""
    """The server image."""
    started_at: datetime
    """When the rollout started."""
    finished_at: datetime | None = None
    """When it ended."""
    outcome: RolloutOutcome
    """Promoted, RolledBack, Aborted, Superseded, Dropped or RolledBackAfterPromotion."""
    reason: Text = ""
    """Why it ended so."""
    measurements: Measurements | None = None
    """The measurements that decided it (the failing ones for a rollback)."""
    run: Annotated[str, StringConstraints(max_length=253)] | None = None
    """<policy>/<run>: the RetrainPolicy run that produced the model, when it came from one
    (`modelship lineage` follows it)."""


class ModelSource(StrEnum):
    SPEC = "Spec"
    RETRAIN_POLICY = "RetrainPolicy"


class ServedModel(KubeModel):
    """The model the ModelDeployment serves (or rolls out), and where it came from."""

    version: Annotated[str, StringConstraints(max_length=63)]
    """Its version."""
    uri: Annotated[str, StringConstraints(max_length=1024)] = ""
    """Its artifact."""
    source: ModelSource
    """Spec: spec.model. RetrainPolicy: the promotion a RetrainPolicy with promotionTarget
    policyStatus recorded in its status, over an unchanged spec.model."""
    run: Annotated[str, StringConstraints(max_length=253)] | None = None
    """<policy>/<run>: the RetrainPolicy run that produced it, when one did."""
    message: Text = ""
    """Why this model, for people."""


class ModelDeploymentStatus(KubeModel):
    """What the operator observed and did. Written only by the operator."""

    phase: ModelDeploymentPhase = ModelDeploymentPhase.PENDING
    """Pending, Progressing, Paused, Healthy, Degraded, RolledBack or Failed."""
    observed_generation: int | None = Field(default=None, ge=0)
    """The .metadata.generation this status reflects."""
    conditions: Conditions | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """Ready, Reconciling, Stalled and Progressing, as kstatus, Argo CD and Flux read them."""
    message: Text = ""
    """A summary for people."""
    stable_revision: Revision | None = None
    """The revision receiving production traffic."""
    canary_revision: Revision | None = None
    """The revision being rolled out (canary, preview or shadow), if any."""
    current_step: int | None = Field(default=None, ge=0)
    """Index of the canary step in progress, counted from 0 as Argo Rollouts'
    `currentStepIndex` (`rollout.step` gives it counted from 1, as `step/steps`)."""
    current_step_started_at: datetime | None = None
    """When the current step started (timed pauses count from here)."""
    canary_weight: int | None = Field(default=None, ge=0, le=100)
    """Percentage of traffic the canary receives (or mirrored, for shadow)."""
    paused_at: datetime | None = None
    """When the rollout paused, if it is paused."""
    replicas: int | None = Field(default=None, ge=0)
    """Pods of all revisions."""
    ready_replicas: int | None = Field(default=None, ge=0)
    """Ready pods of all revisions."""
    selector: Annotated[str, StringConstraints(max_length=1024)] | None = None
    """Label selector of the serving pods (for the scale subresource)."""
    analysis: AnalysisRunStatus | None = None
    """Counters of the current rollout's analysis."""
    measurements: Measurements | None = None
    """The last measurement of each analysis metric."""
    history: list[HistoryEntry] | None = Field(default=None, max_length=100)
    """Past rollouts, newest first, bounded by rollback.revisionHistoryLimit."""
    inference_url: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        default=None, alias="inferenceURL"
    )
    """The in-cluster URL of the Open Inference Protocol endpoint."""
    model: ServedModel | None = None
    """The model served or rolled out, and its source: spec.model, or a RetrainPolicy's
    promotion (docs/gitops.md)."""
    rollout: RolloutState | None = None
    """The rollout planner's bookkeeping (stage, held revision, handled controls), and the
    model version that serves and the step in progress as `kubectl get` prints them."""


__all__ = [
    "Autoscaling",
    "HistoryEntry",
    "Model",
    "ModelDeploymentPhase",
    "ModelDeploymentSpec",
    "ModelDeploymentStatus",
    "ModelFormat",
    "ModelSource",
    "NetworkPolicySpec",
    "ProfileRef",
    "ResourceRequirements",
    "Rollback",
    "RollbackWindow",
    "RolloutOutcome",
    "Security",
    "ServedModel",
    "Serving",
]
