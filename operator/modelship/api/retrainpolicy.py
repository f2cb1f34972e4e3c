"""RetrainPolicy: retrain a model when it matters, and promote only what passes validation."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from modelship.api.base import KubeModel, Rule
from modelship.api.common import Conditions
from modelship.api.modeldeployment import Model
from modelship.api.notifications import NotificationList, notifications_rules
from modelship.api.templates import JobTemplate
from modelship.api.types import (
    MODEL_URI_PATTERN,
    Cron,
    Duration,
    ModelURI,
    ObjectName,
    cel_matches,
)

Text = Annotated[str, StringConstraints(max_length=1024)]

Thresholds = Annotated[dict[str, float], Field(max_length=32)]


class DriftTrigger(KubeModel):
    """Retrain when a DriftMonitor reports drift of at least `severity`."""

    drift_monitor_ref: ObjectName
    """The DriftMonitor (in this namespace)."""
    severity: Literal["warning", "critical"] = "critical"
    """The drift severity that triggers a run: critical needs the monitor's Drifted=True
    with a critical feature or prediction; warning also counts a warning one."""
    consecutive_evaluations: int = Field(default=2, ge=1, le=100)
    """Evaluations in a row that must show the drift before a run starts (storm control)."""


class PerformanceTrigger(KubeModel):
    """Retrain when a DriftMonitor reports degraded performance."""

    drift_monitor_ref: ObjectName
    """The DriftMonitor (in this namespace) whose performance check is watched."""
    consecutive_evaluations: int = Field(default=2, ge=1, le=100)
    """Evaluations in a row that must show degraded performance before a run starts."""


class Triggers(KubeModel):
    """When to retrain. A manual run is always possible: annotate the policy with
    modelship.io/retrain (what `kubectl modelship retrain` does)."""

    drift: DriftTrigger | None = None
    """On drift."""
    performance: PerformanceTrigger | None = None
    """On degraded performance."""
    schedule: Cron | None = None
    """On a cron schedule, in UTC, e.g. "0 3 * * 0" (Sundays at 03:00)."""


class JobSpec(KubeModel):
    """The training Job. The operator injects MODELSHIP_MODEL_NAME, MODELSHIP_BASE_VERSION,
    MODELSHIP_BASE_URI, MODELSHIP_BASE_PROFILE_URI, MODELSHIP_NEW_VERSION,
    MODELSHIP_OUTPUT_URI, MODELSHIP_TRIGGER, MODELSHIP_TRIGGER_REASON, MODELSHIP_RUN_ID,
    MODELSHIP_POLICY and MODELSHIP_TERMINATION_LOG into every container; the Job reports its
    metrics, artifact and profile as JSON in its termination message or in result.json at
    the output URI (docs/trainer.md)."""

    template: JobTemplate
    """A batch/v1 JobTemplateSpec ({metadata, spec})."""


OUTPUT_URI_PATTERN = MODEL_URI_PATTERN


class Output(KubeModel):
    """Where each run writes its model."""

    rules = (
        Rule(
            # A uri that fails its pattern is reported by it alone.
            cel=f"!{cel_matches('self.uri', OUTPUT_URI_PATTERN)}"
            " || self.uri.contains('{version}')",
            message="uri must contain {version}, so that each run writes to its own location",
            check=lambda o: "{version}" in o.uri,
        ),
    )

    uri: Annotated[str, StringConstraints(pattern=OUTPUT_URI_PATTERN, max_length=1024)]
    """The artifact location; {version} is replaced by the run's new version."""


MetricName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
"""A metric's name as the trainer reports it, e.g. accuracy or rmse."""

SliceName = Annotated[str, StringConstraints(min_length=1, max_length=253)]
"""A slice's name as the trainer reports it, e.g. gender=F."""


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higherIsBetter"
    LOWER_IS_BETTER = "lowerIsBetter"


class OnMissingBaseline(StrEnum):
    PASS = "pass"
    REJECT = "reject"


class SliceSelection(KubeModel):
    """The slices a comparison also applies to, each on its own. Empty ({}) selects every slice
    the candidate or the baseline reported."""

    names: list[SliceName] | None = Field(default=None, min_length=1, max_length=64)
    """Only these slices. A slice either side did not report is a failed check (the candidate)
    or a missing baseline (the baseline)."""


class Comparison(KubeModel):
    """Champion/challenger: the candidate must not be worse than the baseline (the serving
    model, measured by the Job on the same held-out data) by more than maxRegression."""

    metric: MetricName
    """The metric, as both the candidate's and the baseline's metrics name it."""
    direction: Direction
    """higherIsBetter (accuracy, auc, r2) or lowerIsBetter (rmse, log loss, latency)."""
    max_regression: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    """How much worse than the baseline the candidate may be: in the metric's own units, or
    with relative, as a fraction of the baseline's magnitude |baseline| (0.05 = 5%). 0 (the
    default): not worse at all."""
    relative: bool = False
    """maxRegression is a fraction of |baseline| rather than an amount. A baseline of 0 then
    allows no regression (5% of 0 is 0)."""
    slices: SliceSelection | None = None
    """Also compare per slice (e.g. per fairness group), each slice against the same slice of
    the baseline. Absent: the overall metric only."""


class EvaluationJob(KubeModel):
    """An evaluation Job independent of the trainer, so that a trainer never grades its own
    work: after the training Job succeeds, it measures the candidate and the serving model on
    held-out data, and validation judges its metrics instead of the trainer's. The operator
    injects MODELSHIP_CANDIDATE_URI, MODELSHIP_CANDIDATE_VERSION, MODELSHIP_BASE_URI,
    MODELSHIP_BASE_VERSION, MODELSHIP_HELD_OUT_URI, MODELSHIP_OUTPUT_URI, MODELSHIP_MODEL_NAME,
    MODELSHIP_RUN_ID, MODELSHIP_POLICY and MODELSHIP_TERMINATION_LOG into every container; the
    Job reports metrics and baselineMetrics as JSON in its termination message or in
    result.json at its output URI (docs/trainer.md)."""

    template: JobTemplate
    """A batch/v1 JobTemplateSpec ({metadata, spec})."""
    held_out_uri: ModelURI | None = Field(default=None, alias="heldOutURI")
    """The data to evaluate on (a file or folder). Default: the data.heldOutURI the trainer
    reports; set it so that the trainer does not choose the data it is judged on either."""


class Validation(KubeModel):
    """What a trained model must achieve to be promoted, from the metrics its Job reports:
    absolute bounds on the candidate, and comparisons with the serving model measured on the
    same held-out data (docs/validation.md). A metric named here that is missing from the
    report, or not a finite number, rejects the run."""

    rules = (
        Rule(
            cel="!has(self.minMetrics) || !has(self.maxMetrics) || self.minMetrics.all(k, "
            "!(k in self.maxMetrics) || self.minMetrics[k] <= self.maxMetrics[k])",
            message="minMetrics and maxMetrics: min must not exceed max for a metric in both",
            check=lambda v: all(
                name not in (v.max_metrics or {}) or low <= (v.max_metrics or {})[name]
                for name, low in (v.min_metrics or {}).items()
            ),
        ),
        Rule(
            cel=None,
            message="compare: metric names must be unique",
            check=lambda v: len({c.metric for c in v.compare or []}) == len(v.compare or []),
        ),
    )

    min_metrics: Thresholds | None = None
    """Metrics the candidate must reach, at least these values, e.g. {accuracy: 0.91}."""
    max_metrics: Thresholds | None = None
    """Metrics the candidate must stay within, at most these values, e.g. {rmse: 3.5}."""
    compare: list[Comparison] | None = Field(
        default=None,
        max_length=32,
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["metric"],
        },
    )
    """Champion/challenger checks against the baseline the Job reports (baselineMetrics), one
    per metric."""
    on_missing_baseline: OnMissingBaseline = OnMissingBaseline.REJECT
    """What a comparison does when the baseline lacks its metric (or slice), e.g. no
    baselineMetrics at all: reject (the default: a comparison that cannot be made never
    promotes) or pass (the absolute bounds still apply). The verdict says which happened."""
    job: EvaluationJob | None = None
    """An independent evaluation Job whose metrics (candidate and baseline, on held-out data)
    are judged instead of the trainer's. Absent: the trainer's own metrics are judged."""


class Concurrency(StrEnum):
    FORBID = "Forbid"
    REPLACE = "Replace"


class Promotion(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"
    NONE = "none"


class PromotionTarget(StrEnum):
    SPEC = "spec"
    POLICY_STATUS = "policyStatus"


class CircuitBreaker(KubeModel):
    """Stop triggering after repeated rejections: a person (or a spec change) must look."""

    max_rejections: int = Field(default=3, ge=1, le=100)
    """Runs in a row rejected by validation (or failed) that open the breaker. Annotate
    modelship.io/reset-breaker, or change the spec, to close it."""


class RetrainPolicySpec(KubeModel):
    """When to retrain a ModelDeployment's model, how, and what to do with the result."""

    rules = notifications_rules("retrain", "RetrainPolicy")

    model_deployment_ref: ObjectName
    """The ModelDeployment (in this namespace) whose model is retrained."""
    triggers: Triggers = Field(default_factory=Triggers)
    """When to retrain."""
    cooldown: Duration = "6h"
    """Minimum time between two runs' starts (manual runs excepted)."""
    concurrency: Concurrency = Concurrency.FORBID
    """Forbid: skip a trigger while a run is active; Replace: stop the active run and start anew."""
    job: JobSpec
    """The training Job."""
    output: Output
    """Where runs write their model."""
    validation: Validation | None = None
    """What a run must achieve to be promoted."""
    promotion: Promotion = Promotion.MANUAL
    """auto: a validated run is promoted, starting the ModelDeployment's gated rollout;
    manual: wait for an approval annotation; none: record only."""
    promotion_target: PromotionTarget = PromotionTarget.SPEC
    """Where a promotion is written. spec: into the ModelDeployment's spec.model (the only
    spec the operator edits; a GitOps tool must be told to ignore it). policyStatus: into
    this policy's status.promoted, never into the ModelDeployment, which serves it while its
    spec.model is the one the promotion was based on (GitOps-safe; one such policy per
    ModelDeployment)."""
    history_limit: int = Field(default=10, ge=1, le=100)
    """Runs kept in status (and their Jobs)."""
    circuit_breaker: CircuitBreaker = Field(default_factory=CircuitBreaker)
    """When to stop triggering after repeated rejections."""
    notifications: NotificationList | None = None
    """Webhook and Slack receivers of this policy's runs: started, rejected, failed,
    awaiting approval, promoted, rolled back (docs/operating.md#notifications)."""


class RetrainPolicyPhase(StrEnum):
    PENDING = "Pending"
    IDLE = "Idle"
    TRAINING = "Training"
    VALIDATING = "Validating"
    PROMOTING = "Promoting"
    COOLING_DOWN = "CoolingDown"
    FAILED = "Failed"


class TriggerKind(StrEnum):
    DRIFT = "drift"
    PERFORMANCE = "performance"
    SCHEDULE = "schedule"
    MANUAL = "manual"


class RunOutcome(StrEnum):
    RUNNING = "Running"
    """The Job is running."""
    EVALUATING = "Evaluating"
    """The training Job succeeded; the evaluation Job (validation.job) is measuring its model."""
    AWAITING_APPROVAL = "AwaitingApproval"
    """Validated; promotion manual: waiting for modelship.io/approve=<run>."""
    PROMOTING = "Promoting"
    """Validated and written to the ModelDeployment: its gated rollout is under way."""
    PROMOTED = "Promoted"
    """The rollout finished: the new version serves."""
    ROLLED_BACK = "RolledBack"
    """The rollout of the new version was rolled back (analysis failed) or superseded."""
    SUCCEEDED = "Succeeded"
    """Validated; promotion none: recorded only."""
    FAILED = "Failed"
    """The Job failed, or its result is missing or malformed."""
    REJECTED = "Rejected"
    """The Job succeeded but the model failed validation: never deployed."""
    CANCELLED = "Cancelled"
    """Replaced by a newer run (concurrency Replace), or its Job was deleted."""


class TriggerScore(KubeModel):
    """A drift score the trigger saw when it fired."""

    name: Annotated[str, StringConstraints(max_length=253)]
    """The feature (or prediction, for the prediction's drift)."""
    method: Annotated[str, StringConstraints(max_length=63)] = ""
    """The statistic, e.g. psi."""
    score: float | None = None
    """Its value at trigger time."""
    severity: Annotated[str, StringConstraints(max_length=16)] = ""
    """none, warning or critical."""


class RunEvaluation(KubeModel):
    """A run's independent evaluation (validation.job)."""

    job_name: ObjectName
    """The evaluation Job."""
    started_at: datetime
    """When it was started."""
    held_out_uri: Annotated[str, StringConstraints(max_length=1024)] = Field(alias="heldOutURI")
    """The data it evaluates on."""
    trainer_metrics: dict[str, float] | None = Field(default=None, max_length=64)
    """What the trainer reported for its candidate; the run's metrics are the evaluation's."""


class RetrainRun(KubeModel):
    """One retraining run: the lineage record of a model version."""

    name: ObjectName
    """The run's name (also its Job's)."""
    trigger: TriggerKind
    """drift, performance, schedule or manual."""
    reason: Text = ""
    """Why it was triggered."""
    job_name: ObjectName | None = None
    """The Job."""
    base_version: Annotated[str, StringConstraints(max_length=63)] = ""
    """The model version it started from."""
    new_version: Annotated[str, StringConstraints(max_length=63)] = ""
    """The version it produced."""
    artifact_uri: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        default=None, alias="artifactURI"
    )
    """Where the model was written."""
    started_at: datetime
    """When the run started."""
    finished_at: datetime | None = None
    """When it finished."""
    outcome: RunOutcome = RunOutcome.RUNNING
    """Running, Evaluating, AwaitingApproval, Promoting, Promoted, RolledBack, Succeeded
    (passed validation, recorded only), Failed (a Job failed), Rejected (failed validation)
    or Cancelled."""
    metrics: dict[str, float] | None = Field(default=None, max_length=64)
    """The candidate's metrics that validation judged: the evaluation Job's when
    validation.job is set, the trainer's otherwise."""
    baseline_metrics: dict[str, float] | None = Field(default=None, max_length=64)
    """The serving model's metrics on the same held-out data, from the same Job."""
    evaluation: RunEvaluation | None = None
    """The independent evaluation, when validation.job is set."""
    evidence: Text = ""
    """What the trigger saw: the drifted features and scores, the degraded metric."""
    trigger_scores: list[TriggerScore] | None = Field(default=None, max_length=16)
    """The drift scores the trigger fired on (features at its severity or worse, and the
    prediction), as the DriftMonitor reported them then."""
    profile_uri: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        default=None, alias="profileURI"
    )
    """The candidate's reference profile, as the Job reported it."""
    profile_config_map: ObjectName | None = None
    """The ConfigMap the operator created from that profile (promoted runs)."""
    validation: Text = ""
    """The validation verdict, with the failing checks."""
    data: Text = ""
    """The data the run trained on, as the trainer reported it (URI and rows)."""
    promoted: bool = False
    """Whether the new version was written to the ModelDeployment."""
    message: Text = ""
    """Details for people."""


class SignalStatus(KubeModel):
    """One trigger's signal: how many evaluations in a row showed it."""

    trigger: TriggerKind
    """drift or performance."""
    consecutive: int = Field(default=0, ge=0)
    """Evaluations in a row that showed it."""
    last_evaluation_time: datetime | None = None
    """The monitor evaluation last counted."""
    fired: bool = False
    """Whether this streak already started a run (a signal that stays true starts one)."""


class PromotedModel(KubeModel):
    """The model this policy promoted into its status (promotionTarget policyStatus)."""

    run: ObjectName
    """The run that produced it."""
    version: Annotated[str, StringConstraints(max_length=63)]
    """Its version."""
    uri: Annotated[str, StringConstraints(max_length=1024)]
    """Its artifact."""
    profile_config_map: ObjectName | None = None
    """The profile ConfigMap made from its profile (owned by the ModelDeployment)."""
    based_on: Model
    """The ModelDeployment's spec.model when it was promoted: the ModelDeployment serves this
    model while its spec.model stays so. A change of spec.model (a person, Git) ends it."""
    promoted_at: datetime
    """When it was promoted."""
    ended: Text = ""
    """Why it no longer serves, once it does not (spec.model changed): never again."""


class RetrainPolicyStatus(KubeModel):
    """The policy's runs and state. Written only by the operator."""

    phase: RetrainPolicyPhase = RetrainPolicyPhase.PENDING
    """Pending, Idle, Training, Validating, Promoting, CoolingDown or Failed."""
    observed_generation: int | None = Field(default=None, ge=0)
    """The .metadata.generation this status reflects."""
    conditions: Conditions | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """Ready, Reconciling and Stalled."""
    message: Text = ""
    """A summary for people."""
    active_run: ObjectName | None = None
    """The run in progress, if any."""
    last_run_time: datetime | None = None
    """When the last run started (the cooldown counts from here)."""
    next_schedule_time: datetime | None = None
    """When the schedule triggers next."""
    runs: list[RetrainRun] | None = Field(default=None, max_length=100)
    """Runs, newest first, bounded by historyLimit."""
    run_count: int = Field(default=0, ge=0)
    """Runs started so far: the next run's number (run names never repeat)."""
    signals: list[SignalStatus] | None = Field(default=None, max_length=8)
    """The triggers' signals as last seen (storm control counts consecutive evaluations)."""
    last_schedule_time: datetime | None = None
    """The last scheduled time acted on (a run, or a suppression)."""
    rejections_in_a_row: int = Field(default=0, ge=0)
    """Runs rejected or failed since the last one that passed."""
    breaker_open: bool = False
    """Whether the circuit breaker stopped triggering."""
    last_suppressed: Text = ""
    """The last trigger that did not start a run, why, and when it may."""
    promoted: PromotedModel | None = None
    """promotionTarget policyStatus: the model promoted last, which the ModelDeployment
    serves instead of its spec.model while that is unchanged since (docs/gitops.md)."""
    handled: dict[str, str] | None = Field(default=None, max_length=8)
    """Control annotation values already acted on (retrain, resetBreaker), so each acts once."""
